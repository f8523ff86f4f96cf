/* The router: the queue of submitted messages, drained on a later loop
 * turn; the agent registry and its held queues; the routing decision for
 * each message (a reply to a request in flight, or a new message matched
 * against the routes). A request's life is requests.c's. */
#include "build-config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/plugin.h>

#include "core/hashmap.h"
#include "core/log.h"
#include "core/msg.h"
#include "core/plugins.h"
#include "core/replies.h"
#include "core/router_internal.h"
#include "core/routes.h"
#include "core/timefmt.h"

static void dispatch_cb(evutil_socket_t fd, short what, void *arg);
static void hold_expired_cb(evutil_socket_t fd, short what, void *arg);

struct router *router_new(struct event_base *base, const char *broker_agent_id)
{
	struct router *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	r->base = base;
	r->jobs_tail = &r->jobs;
	r->agents = agents_new();
	r->pending = hashmap_new();
	r->asked = hashmap_new();
	r->tombstones = hashmap_new();
	r->broker_agent_id = strdup(broker_agent_id);
	r->dispatch = event_new(base, -1, 0, dispatch_cb, r);
	r->settings = (struct router_settings){ .hold_window_ms = 10000, .hold_max = 1000 };
	uint32_t salt;
	evutil_secure_rng_get_bytes(&salt, sizeof salt);
	snprintf(r->cid_prefix, sizeof r->cid_prefix, "ab-%08" PRIx32, salt);
	if (!r->agents || !r->pending || !r->asked || !r->tombstones || !r->broker_agent_id ||
	    !r->dispatch) {
		router_free(r);
		return NULL;
	}
	return r;
}

void router_configure(struct router *r, const struct router_settings *s)
{
	r->settings = *s;
}

void router_set_routes(struct router *r, struct route_table *table)
{
	struct route_table *old = r->routes;
	r->routes = table ? routes_ref(table) : NULL;
	routes_unref(old);
}

const char *router_broker_agent_id(const struct router *r)
{
	return r->broker_agent_id;
}

void router_stats(const struct router *r, struct router_stats *out)
{
	*out = r->stats;
	out->in_flight = hashmap_count(r->pending) + r->n_waiting + r->n_exclusive;
	out->agents = agents_count(r->agents);
}

const uint64_t *router_messages_in(const struct router *r)
{
	return &r->stats.submitted;
}

/* Make the dispatcher run. From inside it (a plugin submitting while it is
 * being delivered to), on the next loop turn, after the loop has polled for
 * I/O: so two agents answering each other cannot starve everyone else. */
void router_wake(struct router *r)
{
	if (r->dispatching) {
		static const struct timeval next_turn = { 0, 0 };
		event_add(r->dispatch, &next_turn);
	} else {
		event_active(r->dispatch, 0, 0);
	}
}

static void queue_job(struct router *r, struct job *job)
{
	job->next = NULL;
	*r->jobs_tail = job;
	r->jobs_tail = &job->next;
	router_wake(r);
}

void router_queue_flush(struct router *r, const char *id)
{
	struct job *job = calloc(1, sizeof *job);
	if (!job || !(job->agent_id = strdup(id))) {
		free(job);
		log_msg(AB_LOG_ERROR, "router", "out of memory: %s's queue waits for the next registration", id);
		return;
	}
	queue_job(r, job);
}

/* Drop the agent's entry after this turn if it is absent and idle; never
 * now, since a plugin may be inside a call that still uses it. */
void router_sweep_later(struct router *r, const char *id)
{
	if (r->n_sweep == r->cap_sweep) {
		size_t cap = r->cap_sweep ? r->cap_sweep * 2 : 16;
		char **grown = realloc(r->sweep, cap * sizeof *grown);
		if (!grown)
			return; /* the entry stays: a little memory, nothing lost */
		r->sweep = grown;
		r->cap_sweep = cap;
	}
	char *copy = strdup(id);
	if (copy)
		r->sweep[r->n_sweep++] = copy;
	router_wake(r);
}

/* Hand msg to a live agent. The id passed to the plugin is the agent
 * entry's own, which outlives the call whatever the plugin does. */
int router_deliver(struct router *r, struct agent *a, ab_msg *msg, unsigned flags)
{
	struct ab_instance *inst = a->owner;
	int rc = inst->ops.deliver(inst->state, a->ctx, a->id, msg, flags);
	if (rc < 0)
		log_msg(AB_LOG_INFO, "router", "%s refused a '%s' for %s", inst->name, msg_type(msg), a->id);
	return rc;
}

/* ---- held messages ------------------------------------------------------------ */

static void arm_hold_timer(struct router *r, struct agent *a, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(a->hold_timer, &tv);
}

bool router_hold(struct router *r, struct agent *a, ab_msg *msg, unsigned flags,
                 struct pending *p)
{
	if (a->held_count >= r->settings.hold_max)
		return false;
	struct held *h = calloc(1, sizeof *h);
	if (!h)
		return false;
	if (!a->hold_timer && !(a->hold_timer = evtimer_new(r->base, hold_expired_cb, a))) {
		free(h);
		return false;
	}
	h->msg = msg_ref(msg);
	h->flags = flags;
	h->pending = p;
	h->expires_ms = timefmt_monotonic_ms() + r->settings.hold_window_ms;
	agents_hold(a, h);
	a->router = r;
	if (p) {
		p->held = h;
		p->held_at = a;
	}
	r->stats.held++;
	if (!evtimer_pending(a->hold_timer, NULL))
		arm_hold_timer(r, a, r->settings.hold_window_ms);
	return true;
}

void router_deliver_reply(struct router *r, const char *requester, ab_msg *msg, unsigned flags)
{
	struct agent *a = agents_get(r->agents, requester);
	if (a && a->owner) {
		if (router_deliver(r, a, msg, flags) < 0)
			r->stats.dropped++;
		return;
	}
	a = agents_get_or_add(r->agents, requester);
	if (!a || !router_hold(r, a, msg, flags, NULL)) {
		r->stats.dropped++;
		log_msg(AB_LOG_WARNING, "router", "dropped a '%s' reply for absent %s: its queue is full",
		        msg_type(msg), requester);
	}
}

static void hold_expired_cb(evutil_socket_t fd, short what, void *arg)
{
	struct agent *a = arg;
	struct router *r = a->router;
	uint64_t now = timefmt_monotonic_ms();
	while (a->held_head && a->held_head->expires_ms <= now) {
		struct held *h = a->held_head;
		r->stats.expired++;
		if (h->pending) {
			struct pending *p = h->pending;
			r->stats.unavailable++;
			request_fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "%s did not connect within the hold window",
			             p->destination);
		} else {
			agents_unhold(a, h);
			r->stats.dropped++;
			log_msg(AB_LOG_WARNING, "router", "dropped a '%s' message for %s: not back within the hold window",
			        msg_type(h->msg), a->id);
			msg_unref(h->msg);
			free(h);
		}
	}
	if (a->held_head)
		arm_hold_timer(r, a, a->held_head->expires_ms - now);
	else
		router_sweep_later(r, a->id);
}

/* A registered agent gets what was held for it, in order, and the requests
 * waiting for an agent matching their route's pattern. */
static void flush(struct router *r, const char *id)
{
	struct agent *a = agents_get(r->agents, id);
	if (a)
		a->flush_queued = false;
	while (a && a->owner && a->held_head) {
		struct held *h = a->held_head;
		agents_unhold(a, h);
		ab_msg *msg = h->msg;
		struct pending *p = h->pending;
		unsigned flags = h->flags;
		free(h);
		if (p) {
			p->held = NULL;
			p->held_at = NULL;
			request_deliver(p, msg);
		} else if (router_deliver(r, a, msg, flags) < 0) {
			r->stats.dropped++;
		}
		msg_unref(msg);
		a = agents_get(r->agents, id); /* the delivery may have changed it */
	}
	if (a && !a->held_head && a->hold_timer)
		evtimer_del(a->hold_timer);
	if (a && a->owner)
		requests_resolve_waiting(r, id);
	router_sweep_later(r, id);
}

/* ---- routing --------------------------------------------------------------------- */

static bool matches_destination(const struct agent *a, void *arg)
{
	return pattern_list_match(arg, a->id);
}

/* The destination a route names: its literal agent id, or for a pattern the
 * agent chosen last while it is live, else the first live match. NULL when
 * no live agent matches and none ever did (the request waits for one). */
static const char *resolve_destination(struct router *r, struct ab_route *route)
{
	const char *exact = pattern_list_exact(&route->destination);
	if (exact)
		return exact;
	if (route->last_destination) {
		struct agent *a = agents_get(r->agents, route->last_destination);
		if (a && a->owner)
			return route->last_destination;
	}
	struct agent *found = agents_find(r->agents, matches_destination, &route->destination);
	if (found) {
		char *copy = strdup(found->id);
		if (copy) {
			free(route->last_destination);
			route->last_destination = copy;
		}
		return found->id;
	}
	return route->last_destination; /* wait for the one that served last */
}

static void answer_no_route(struct router *r, ab_msg *msg)
{
	r->stats.no_route++;
	char text[320];
	snprintf(text, sizeof text, "no route for type '%s' from %s", msg_type(msg), msg_source(msg));
	ab_msg *reply = replies_error(msg, NULL, "error", AB_ERR_NO_ROUTE, text);
	if (reply) {
		msg_mark_submitted(reply, r->broker_agent_id);
		router_deliver_reply(r, msg_source(msg), reply, AB_DELIVER_REPLY);
		msg_unref(reply);
	}
}

/* A oneway message: delivered (or held), not tracked. */
static void route_oneway(struct router *r, struct ab_route *route, ab_msg *msg)
{
	const char *dest = resolve_destination(r, route);
	struct agent *a = dest ? agents_get_or_add(r->agents, dest) : NULL;
	if (a && a->owner) {
		if (router_deliver(r, a, msg, AB_DELIVER_ONEWAY) < 0)
			r->stats.dropped++;
		return;
	}
	if (!a || !router_hold(r, a, msg, AB_DELIVER_ONEWAY, NULL)) {
		r->stats.dropped++;
		log_msg(AB_LOG_WARNING, "router", "dropped a oneway '%s' from %s: no agent for '%s'",
		        msg_type(msg), msg_source(msg), route->destination.items[0].text);
	}
}

static void route_request(struct router *r, ab_msg *msg)
{
	struct ab_route *route =
		r->routes ? routes_match(r->routes, msg_source(msg), msg_type(msg)) : NULL;
	if (!route) {
		answer_no_route(r, msg);
		return;
	}
	if (route->oneway) {
		route_oneway(r, route, msg);
		return;
	}
	r->stats.requests++;
	struct pending *p = request_new(r, msg, route);
	if (!p)
		return;
	const char *dest = resolve_destination(r, route);
	if (dest && !(p->destination = strdup(dest))) {
		request_fail(p, AB_ERR_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (route->translator)
		translation_run(p, msg, false);
	else
		request_forward(p, msg);
}

/* {"type":"cancel","correlation_id":C} from a requester ends its request C
 * (docs/protocol.md); a cancel for nothing in flight is answered so. */
static void route_cancel(struct router *r, ab_msg *msg)
{
	char *key = request_key(msg_source(msg), msg_correlation_id(msg));
	if (!key)
		return;
	struct pending *p = hashmap_get(r->asked, key);
	free(key);
	if (p) {
		request_cancel(p);
		return;
	}
	ab_msg *reply = replies_error(msg, NULL, "error", AB_ERR_INVALID_MESSAGE,
	                              "no request with that correlation_id is in flight");
	if (reply) {
		msg_mark_submitted(reply, r->broker_agent_id);
		router_deliver_reply(r, msg_source(msg), reply, AB_DELIVER_REPLY);
		msg_unref(reply);
	}
}

static void route_message(struct router *r, ab_msg *msg)
{
	if (strcmp(msg_type(msg), "cancel") == 0) {
		route_cancel(r, msg);
		return;
	}
	char *key = request_key(msg_source(msg), msg_correlation_id(msg));
	if (!key)
		return;
	struct pending *p = hashmap_get(r->pending, key);
	bool late = !p && requests_is_tombstoned(r, key);
	free(key);
	if (p) {
		if (p->route->translator)
			translation_run(p, msg, true);
		else
			request_answer(p, msg, !request_is_interim(p, msg_type(msg)));
	} else if (late) {
		r->stats.late++;
		log_msg(AB_LOG_DEBUG, "router", "dropped a late '%s' from %s (%s): its request already ended",
		        msg_type(msg), msg_source(msg), msg_correlation_id(msg));
	} else {
		route_request(r, msg);
	}
}

static void dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router *r = arg;
	r->dispatching = true;
	requests_purge_tombstones(r);
	/* Take the queue as it stands: what this turn submits runs next turn. */
	struct job *jobs = r->jobs;
	r->jobs = NULL;
	r->jobs_tail = &r->jobs;
	while (jobs) {
		struct job *job = jobs;
		jobs = job->next;
		if (job->msg) {
			route_message(r, job->msg);
			msg_unref(job->msg);
		} else {
			flush(r, job->agent_id);
			free(job->agent_id);
		}
		free(job);
	}
	requests_start_ready(r);
	requests_reap(r);
	char **sweep = r->sweep;
	size_t n = r->n_sweep;
	r->sweep = NULL;
	r->n_sweep = r->cap_sweep = 0;
	for (size_t i = 0; i < n; i++) {
		struct agent *a = agents_get(r->agents, sweep[i]);
		if (a)
			agents_release_if_idle(r->agents, a);
		free(sweep[i]);
	}
	free(sweep);
	r->dispatching = false;
}

/* ---- the services ------------------------------------------------------------------ */

int router_submit(struct router *r, struct ab_instance *from, const char *source, ab_msg *msg)
{
	struct agent *a = agents_get(r->agents, source);
	if (!a || a->owner != from)
		return -EPERM;
	ab_msg *own;
	if (msg_correlation_id(msg)) {
		own = msg_ref(msg);
	} else {
		/* The id is spliced into a copy; the caller's message counts as
		 * submitted all the same. */
		char cid[64];
		snprintf(cid, sizeof cid, "%s-%" PRIu64, r->cid_prefix, ++r->next_id);
		if (!msg_mark_submitted(msg, source))
			return -EALREADY;
		own = msg_with_correlation_id(msg, cid);
		if (!own)
			return -ENOMEM;
	}
	if (!msg_mark_submitted(own, source)) {
		msg_unref(own);
		return -EALREADY;
	}
	struct job *job = calloc(1, sizeof *job);
	if (!job) {
		msg_unref(own);
		return -ENOMEM;
	}
	job->msg = own;
	r->stats.submitted++;
	queue_job(r, job);
	return 0;
}

int router_register(struct router *r, struct ab_instance *owner, const char *id, void *ctx)
{
	if (!agents_valid_id(id))
		return -EINVAL;
	struct agent *a = agents_get_or_add(r->agents, id);
	if (!a)
		return -ENOMEM;
	if (a->owner && a->owner != owner)
		return -EEXIST;
	a->owner = owner;
	a->ctx = ctx;
	if ((a->held_head || r->waiting_head) && !a->flush_queued) {
		a->flush_queued = true;
		router_queue_flush(r, id);
	}
	return 0;
}

int router_unregister(struct router *r, struct ab_instance *owner, const char *id)
{
	struct agent *a = agents_get(r->agents, id);
	if (!a || a->owner != owner)
		return -ENOENT;
	a->owner = NULL;
	a->ctx = NULL;
	/* What it was asked and did not answer will never be answered. Each
	 * failure unlinks its request before it delivers, so this ends. */
	while (a->inflight) {
		r->stats.unavailable++;
		request_fail(a->inflight, AB_ERR_UPSTREAM_UNAVAILABLE, "%s went away before answering",
		             a->id);
	}
	router_sweep_later(r, a->id);
	return 0;
}

void *router_agent_context(const struct router *r, const struct ab_instance *owner, const char *id)
{
	const struct agent *a = agents_get(r->agents, id);
	return a && a->owner == owner ? a->ctx : NULL;
}

struct owned {
	struct ab_instance *owner;
	char **ids;
	size_t count;
};

/* An agents_find visitor that never stops: it collects the owner's ids. */
static bool collect_owned(const struct agent *a, void *arg)
{
	struct owned *o = arg;
	if (a->owner != o->owner)
		return false;
	char **grown = realloc(o->ids, (o->count + 1) * sizeof *grown);
	if (!grown)
		return false;
	o->ids = grown;
	o->ids[o->count++] = strdup(a->id);
	return false;
}

void router_unregister_all(struct router *r, struct ab_instance *owner)
{
	struct owned o = { .owner = owner };
	agents_find(r->agents, collect_owned, &o);
	for (size_t i = 0; i < o.count; i++) {
		if (o.ids[i])
			router_unregister(r, owner, o.ids[i]);
		free(o.ids[i]);
	}
	free(o.ids);
}

struct pending_list {
	struct pending **items;
	size_t count;
};

static void collect_pending(const char *key, void *value, void *arg)
{
	struct pending_list *list = arg;
	list->items[list->count++] = value;
}

/* Every request in flight, whether forwarded, waiting for a destination or
 * waiting its turn at one. */
static struct pending_list all_pending(struct router *r)
{
	struct pending_list list = { calloc(hashmap_count(r->pending) + r->n_waiting + r->n_exclusive + 1,
		                            sizeof *list.items), 0 };
	if (!list.items)
		return list;
	hashmap_foreach(r->pending, collect_pending, &list);
	for (struct waiting *w = r->waiting_head; w; w = w->next)
		list.items[list.count++] = w->pending;
	struct pending *const lists[] = { r->exclusive_head, r->exclusive_ready };
	for (size_t i = 0; i < 2; i++) {
		for (struct pending *p = lists[i]; p; p = p->exclusive_next)
			list.items[list.count++] = p;
	}
	return list;
}

void router_fail_all(struct router *r, const char *error_type, const char *why)
{
	struct pending_list list = all_pending(r);
	for (size_t i = 0; i < list.count; i++)
		request_fail(list.items[i], error_type, "%s", why);
	free(list.items);
}

void router_drop_pending(struct router *r)
{
	struct pending_list list = all_pending(r);
	for (size_t i = 0; i < list.count; i++)
		request_finish(list.items[i]);
	free(list.items);
	requests_reap(r);
}

void router_free(struct router *r)
{
	if (!r)
		return;
	for (struct job *job = r->jobs, *next; job; job = next) {
		next = job->next;
		msg_unref(job->msg);
		free(job->agent_id);
		free(job);
	}
	if (r->pending) {
		router_drop_pending(r);
		hashmap_free(r->pending);
	}
	hashmap_free(r->asked);
	requests_reap(r);
	if (r->waiting_timer)
		event_free(r->waiting_timer);
	requests_free_tombstones(r);
	hashmap_free(r->tombstones);
	agents_free(r->agents);
	routes_unref(r->routes);
	for (size_t i = 0; i < r->n_sweep; i++)
		free(r->sweep[i]);
	free(r->sweep);
	if (r->dispatch)
		event_free(r->dispatch);
	free(r->broker_agent_id);
	free(r);
}
