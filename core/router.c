#include "build-config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <agentbus/plugin.h>

#include "core/agents.h"
#include "core/hashmap.h"
#include "core/log.h"
#include "core/msg.h"
#include "core/plugins.h"
#include "core/replies.h"
#include "core/router.h"
#include "core/routes.h"
#include "core/timefmt.h"

/* A request between its routing and its final reply. */
struct pending {
	uint64_t id;
	char *key;         /* destination "\x1f" delivered correlation id */
	char *requester;   /* agent id */
	char *destination; /* agent id */
	ab_msg *request;   /* as the requester sent it */
	struct ab_route *route;
	struct route_table *table; /* keeps route alive */
	struct event *timer;
	struct router *router;
	struct pending *prev, *next; /* in the destination's inflight list */
	struct agent *inflight_at;   /* the destination, once delivered */
	struct held *held;           /* while waiting for an absent destination */
	struct agent *held_at;
};

/* Work for the next loop turn. */
struct job {
	struct job *next;
	ab_msg *msg;    /* a submitted message, or NULL for a flush */
	char *agent_id; /* flush: the agent whose held queue to deliver */
};

struct ab_translation {
	ab_msg *input;
	ab_msg *request;
	bool is_reply;
	struct ab_route *route;
	ab_msg *forward;
	ab_msg **replies;
	size_t n_replies;
	const char *fail_type;
	char fail_message[256];
};

struct router {
	struct event_base *base;
	struct event *dispatch;
	struct job *jobs, **jobs_tail;
	struct agents *agents;
	struct hashmap *pending; /* key -> struct pending */
	struct route_table *routes;
	struct router_settings settings;
	struct router_stats stats;
	char *broker_agent_id;
	uint64_t next_id;
	char cid_prefix[16]; /* for correlation ids the core assigns */
	char **sweep;        /* agent ids to drop if idle, after this turn */
	size_t n_sweep, cap_sweep;
	bool dispatching;
};

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
	r->broker_agent_id = strdup(broker_agent_id);
	r->dispatch = event_new(base, -1, 0, dispatch_cb, r);
	r->settings = (struct router_settings){ .hold_window_ms = 10000, .hold_max = 1000 };
	uint32_t salt;
	evutil_secure_rng_get_bytes(&salt, sizeof salt);
	snprintf(r->cid_prefix, sizeof r->cid_prefix, "ab-%08" PRIx32, salt);
	if (!r->agents || !r->pending || !r->broker_agent_id || !r->dispatch) {
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
	out->in_flight = hashmap_count(r->pending);
	out->agents = agents_count(r->agents);
}

/* Make the dispatcher run. From inside it (a plugin submitting while it is
 * being delivered to), on the next loop turn, after the loop has polled for
 * I/O: so two agents answering each other cannot starve everyone else. */
static void wake(struct router *r)
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
	wake(r);
}

/* Drop the agent's entry after this turn if it is absent and idle; never
 * now, since a plugin may be inside a call that still uses it. */
static void sweep_later(struct router *r, const char *id)
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
	wake(r);
}

/* ---- requests in flight -------------------------------------------------- */

static void unlink_inflight(struct pending *p)
{
	struct agent *a = p->inflight_at;
	if (!a)
		return;
	if (p->prev)
		p->prev->next = p->next;
	else
		a->inflight = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
	p->inflight_at = NULL;
	sweep_later(p->router, a->id);
}

static void unlink_held(struct pending *p)
{
	if (!p->held)
		return;
	agents_unhold(p->held_at, p->held);
	msg_unref(p->held->msg);
	free(p->held);
	p->held = NULL;
	sweep_later(p->router, p->held_at->id);
	p->held_at = NULL;
}

/* Take p out of every structure, so nothing a plugin does next can reach it. */
static void detach_pending(struct pending *p)
{
	if (p->key && hashmap_get(p->router->pending, p->key) == p)
		hashmap_remove(p->router->pending, p->key);
	unlink_inflight(p);
	unlink_held(p);
	if (p->timer)
		event_del(p->timer);
}

static void free_pending(struct pending *p)
{
	if (p->timer)
		event_free(p->timer);
	msg_unref(p->request);
	routes_unref(p->table);
	free(p->key);
	free(p->requester);
	free(p->destination);
	free(p);
}

static bool is_interim(const struct ab_route *route, const char *type)
{
	return route->interim.count > 0 && pattern_list_match(&route->interim, type);
}

/* Queue msg for absent agent a until it registers or the hold window ends.
 * Returns false when its queue is full (or without memory). */
static bool hold(struct router *r, struct agent *a, ab_msg *msg, unsigned flags,
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
	if (!evtimer_pending(a->hold_timer, NULL)) {
		struct timeval tv = { (time_t)(r->settings.hold_window_ms / 1000),
			              (suseconds_t)(r->settings.hold_window_ms % 1000) * 1000 };
		evtimer_add(a->hold_timer, &tv);
	}
	return true;
}

/* Hand a reply to the requester, or hold it while the requester is absent. */
static void deliver_reply(struct router *r, const char *requester, ab_msg *msg, unsigned flags)
{
	struct agent *a = agents_get(r->agents, requester);
	if (a && a->owner) {
		struct ab_instance *inst = a->owner;
		if (inst->ops.deliver(inst->state, a->ctx, requester, msg, flags) < 0) {
			r->stats.dropped++;
			log_msg(AB_LOG_WARNING, "router", "%s refused a '%s' reply for %s", inst->name,
			        msg_type(msg), requester);
		}
		return;
	}
	a = agents_get_or_add(r->agents, requester);
	if (!a || !hold(r, a, msg, flags, NULL)) {
		r->stats.dropped++;
		log_msg(AB_LOG_WARNING, "router", "dropped a '%s' reply for absent %s: its queue is full",
		        msg_type(msg), requester);
	}
}

/* Stamp the request's correlation id on a reply that lacks or changed it:
 * the one correlation rule holds whatever the destination wrote. */
static ab_msg *with_request_cid(ab_msg *reply, const struct pending *p)
{
	const char *want = msg_correlation_id(p->request);
	const char *have = msg_correlation_id(reply);
	if (have && strcmp(have, want) == 0)
		return msg_ref(reply);
	return msg_with_correlation_id(reply, want);
}

/* Send p's requester one reply; a final one finishes p. */
static void answer(struct pending *p, ab_msg *reply, bool final)
{
	struct router *r = p->router;
	ab_msg *stamped = with_request_cid(reply, p);
	if (!stamped) {
		log_msg(AB_LOG_ERROR, "router", "out of memory answering %s", p->requester);
		stamped = msg_ref(reply);
	}
	if (!msg_source(stamped))
		msg_mark_submitted(stamped, msg_source(reply) ? msg_source(reply) : r->broker_agent_id);
	r->stats.replies++;
	if (final) {
		detach_pending(p);
		deliver_reply(r, p->requester, stamped, AB_DELIVER_REPLY);
		free_pending(p);
	} else {
		deliver_reply(r, p->requester, stamped, AB_DELIVER_REPLY | AB_DELIVER_INTERIM);
	}
	msg_unref(stamped);
}

static void fail(struct pending *p, const char *error_type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Finish p with an error reply of its route's error type. */
static void fail(struct pending *p, const char *error_type, const char *fmt, ...)
{
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	ab_msg *reply = replies_error(p->request, NULL, p->route->error_reply_type, error_type, text);
	if (!reply) {
		log_msg(AB_LOG_ERROR, "router", "out of memory failing a request of %s", p->requester);
		detach_pending(p);
		free_pending(p);
		return;
	}
	answer(p, reply, true);
	msg_unref(reply);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	p->router->stats.timeouts++;
	fail(p, AB_ERR_TIMEOUT, "no reply from %s within %" PRId64 " ms", p->destination,
	     p->route->timeout_ms);
}

/* Look p up again by id: a plugin call may have finished it. */
static bool still_pending(struct router *r, const char *key, uint64_t id)
{
	struct pending *p = hashmap_get(r->pending, key);
	return p && p->id == id;
}

/* ---- delivering requests --------------------------------------------------- */

/* Deliver p's (translated) message to its destination, or hold it. */
static void deliver_request(struct router *r, struct pending *p, ab_msg *msg)
{
	struct agent *a = agents_get_or_add(r->agents, p->destination);
	if (!a) {
		fail(p, AB_ERR_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (!a->owner) {
		if (!hold(r, a, msg, AB_DELIVER_REQUEST, p)) {
			r->stats.unavailable++;
			fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "%s is not connected and its queue is full",
			     p->destination);
		}
		return;
	}
	/* Link first: the plugin may answer or vanish before deliver returns. */
	p->inflight_at = a;
	p->prev = NULL;
	p->next = a->inflight;
	if (a->inflight)
		a->inflight->prev = p;
	a->inflight = p;

	struct ab_instance *inst = a->owner;
	uint64_t id = p->id;
	char *key = strdup(p->key);
	int rc = inst->ops.deliver(inst->state, a->ctx, p->destination, msg, AB_DELIVER_REQUEST);
	if (rc < 0 && key && still_pending(r, key, id)) {
		r->stats.unavailable++;
		fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "%s could not take the request", p->destination);
	}
	free(key);
}

/* Give the request its delivered correlation id (unique per destination),
 * enter it in the table and deliver it. */
static void forward(struct router *r, struct pending *p, ab_msg *msg)
{
	const char *cid = msg_correlation_id(p->request);
	char *key = NULL;
	char unique[64] = "";
	if (asprintf(&key, "%s\x1f%s", p->destination, cid) < 0)
		key = NULL;
	if (key && hashmap_get(r->pending, key)) {
		/* Another requester used the same id with this destination. */
		free(key);
		snprintf(unique, sizeof unique, "%s-%" PRIu64, r->cid_prefix, p->id);
		if (asprintf(&key, "%s\x1f%s", p->destination, unique) < 0)
			key = NULL;
		cid = unique;
	}
	if (!key || hashmap_put(r->pending, key, p) < 0) {
		free(key);
		fail(p, AB_ERR_INTERNAL_ERROR, "out of memory");
		return;
	}
	p->key = key;
	const char *have = msg_correlation_id(msg);
	ab_msg *out = have && strcmp(have, cid) == 0 ? msg_ref(msg) : msg_with_correlation_id(msg, cid);
	if (!out) {
		fail(p, AB_ERR_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (!msg_source(out))
		msg_mark_submitted(out, p->requester);
	deliver_request(r, p, out);
	msg_unref(out);
}

/* ---- translation ------------------------------------------------------------ */

ab_msg *router_translation_input(ab_translation *t)
{
	return t->input;
}

bool router_translation_is_reply(ab_translation *t)
{
	return t->is_reply;
}

ab_msg *router_translation_request(ab_translation *t)
{
	return t->request;
}

const ab_route *router_translation_route(ab_translation *t)
{
	return t->route;
}

void *router_translation_route_state(ab_translation *t)
{
	return t->route->translator_state;
}

int router_translation_forward(ab_translation *t, ab_msg *msg)
{
	if (t->is_reply || t->forward)
		return -EINVAL;
	t->forward = msg_ref(msg);
	return 0;
}

int router_translation_reply(ab_translation *t, ab_msg *msg)
{
	ab_msg **grown = realloc(t->replies, (t->n_replies + 1) * sizeof *grown);
	if (!grown)
		return -ENOMEM;
	t->replies = grown;
	t->replies[t->n_replies++] = msg_ref(msg);
	return 0;
}

int router_translation_fail(ab_translation *t, const char *error_type, const char *message)
{
	t->fail_type = error_type ? error_type : AB_ERR_INTERNAL_ERROR;
	snprintf(t->fail_message, sizeof t->fail_message, "%s", message ? message : "");
	return 0;
}

static void translation_clear(ab_translation *t)
{
	msg_unref(t->forward);
	for (size_t i = 0; i < t->n_replies; i++)
		msg_unref(t->replies[i]);
	free(t->replies);
}

/* Run p's translator on input; then carry out what it asked for. */
static void translate(struct router *r, struct pending *p, ab_msg *input, bool is_reply)
{
	struct ab_instance *tr = p->route->translator;
	ab_translation t = { .input = input, .request = p->request, .is_reply = is_reply,
		             .route = p->route };
	int rc = tr->ops.translate(tr->state, &t);
	if (rc < 0 && !t.fail_type)
		router_translation_fail(&t, AB_ERR_INTERNAL_ERROR, "");
	if (t.fail_type) {
		if (!*t.fail_message)
			snprintf(t.fail_message, sizeof t.fail_message, "translator %s failed on '%s'",
			         tr->name, msg_type(input));
		fail(p, t.fail_type, "%s", t.fail_message);
		translation_clear(&t);
		return;
	}
	/* Replies first (a "started" notice precedes the forwarded request's
	 * answer); a final one finishes the request. */
	bool finished = false;
	for (size_t i = 0; i < t.n_replies && !finished; i++) {
		finished = !is_interim(p->route, msg_type(t.replies[i]));
		if (!msg_source(t.replies[i]))
			msg_mark_submitted(t.replies[i], is_reply ? p->destination : r->broker_agent_id);
		answer(p, t.replies[i], finished);
	}
	if (!finished && !is_reply) {
		if (t.forward)
			forward(r, p, t.forward);
		else if (t.n_replies == 0)
			fail(p, AB_ERR_INTERNAL_ERROR, "translator %s neither forwarded nor answered '%s'",
			     tr->name, msg_type(input));
	}
	translation_clear(&t);
}

/* ---- dispatch ------------------------------------------------------------------ */

/* The destination a route names: its literal agent id, or for a pattern the
 * agent chosen last while it is live, else the first live match. */
static bool matches_destination(const struct agent *a, void *arg)
{
	return pattern_list_match(arg, a->id);
}

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
	/* None live: wait for the one that served last, if any. */
	return route->last_destination;
}

static void route_request(struct router *r, ab_msg *msg)
{
	const char *source = msg_source(msg);
	struct ab_route *route = r->routes ? routes_match(r->routes, source, msg_type(msg)) : NULL;
	r->stats.requests++;
	if (!route) {
		r->stats.no_route++;
		char text[320];
		snprintf(text, sizeof text, "no route for type '%s' from %s", msg_type(msg), source);
		ab_msg *reply = replies_error(msg, NULL, "error", AB_ERR_NO_ROUTE, text);
		if (reply) {
			msg_mark_submitted(reply, r->broker_agent_id);
			deliver_reply(r, source, reply, AB_DELIVER_REPLY);
			msg_unref(reply);
		}
		return;
	}
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		return;
	p->id = ++r->next_id;
	p->router = r;
	p->route = route;
	p->table = routes_ref(r->routes);
	p->request = msg_ref(msg);
	p->requester = strdup(source);
	const char *dest = resolve_destination(r, route);
	p->destination = strdup(dest ? dest : "");
	p->timer = evtimer_new(r->base, timeout_cb, p);
	if (!p->requester || !p->destination || !p->timer) {
		free_pending(p);
		return;
	}
	struct timeval tv = { (time_t)(route->timeout_ms / 1000),
		              (suseconds_t)(route->timeout_ms % 1000) * 1000 };
	evtimer_add(p->timer, &tv);
	if (!dest) {
		r->stats.unavailable++;
		fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "no agent matching '%s' is connected",
		     route->destination.items[0].text);
		return;
	}
	if (route->translator)
		translate(r, p, msg, false);
	else
		forward(r, p, msg);
}

static void route_message(struct router *r, ab_msg *msg)
{
	const char *source = msg_source(msg);
	const char *cid = msg_correlation_id(msg);
	char *key = NULL;
	if (asprintf(&key, "%s\x1f%s", source, cid) < 0)
		return;
	struct pending *p = hashmap_get(r->pending, key);
	free(key);
	if (!p) {
		route_request(r, msg);
		return;
	}
	if (p->route->translator)
		translate(r, p, msg, true);
	else
		answer(p, msg, !is_interim(p->route, msg_type(msg)));
}

/* A registered agent gets what was held for it, in order. */
static void flush(struct router *r, const char *id)
{
	struct agent *a = agents_get(r->agents, id);
	if (!a)
		return;
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
			deliver_request(r, p, msg);
		} else {
			struct ab_instance *inst = a->owner;
			if (inst->ops.deliver(inst->state, a->ctx, id, msg, flags) < 0)
				r->stats.dropped++;
		}
		msg_unref(msg);
		a = agents_get(r->agents, id); /* the delivery may have changed it */
	}
	if (a && !a->held_head && a->hold_timer)
		evtimer_del(a->hold_timer);
	sweep_later(r, id);
}

static void dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router *r = arg;
	/* Take the queue as it stands: what this turn submits runs next turn. */
	r->dispatching = true;
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
			fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "%s did not connect within the hold window",
			     p->destination);
		} else {
			agents_unhold(a, h);
			log_msg(AB_LOG_WARNING, "router", "dropped a '%s' message for %s: not back within the hold window",
			        msg_type(h->msg), a->id);
			msg_unref(h->msg);
			free(h);
		}
	}
	if (a->held_head) {
		uint64_t wait = a->held_head->expires_ms - now;
		struct timeval tv = { (time_t)(wait / 1000), (suseconds_t)(wait % 1000) * 1000 };
		evtimer_add(a->hold_timer, &tv);
	} else {
		sweep_later(r, a->id);
	}
}

/* ---- the services --------------------------------------------------------------- */

int router_submit(struct router *r, struct ab_instance *from, const char *source, ab_msg *msg)
{
	struct agent *a = agents_get(r->agents, source);
	if (!a || a->owner != from)
		return -EPERM;
	ab_msg *own;
	if (!msg_correlation_id(msg)) {
		char cid[64];
		snprintf(cid, sizeof cid, "%s-%" PRIu64, r->cid_prefix, ++r->next_id);
		own = msg_with_correlation_id(msg, cid);
		if (!own)
			return -ENOMEM;
	} else {
		own = msg_ref(msg);
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
	if (a->held_head && !a->flush_queued) {
		struct job *job = calloc(1, sizeof *job);
		if (!job || !(job->agent_id = strdup(id))) {
			free(job);
			return -ENOMEM;
		}
		a->flush_queued = true;
		queue_job(r, job);
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
	/* What it was asked and did not answer will never be answered. */
	while (a->inflight) {
		struct pending *p = a->inflight;
		r->stats.unavailable++;
		fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "%s went away before answering", id);
	}
	sweep_later(r, id);
	return 0;
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

void router_drop_pending(struct router *r)
{
	struct pending_list list = { calloc(hashmap_count(r->pending) + 1, sizeof *list.items), 0 };
	if (!list.items)
		return;
	hashmap_foreach(r->pending, collect_pending, &list);
	for (size_t i = 0; i < list.count; i++) {
		detach_pending(list.items[i]);
		free_pending(list.items[i]);
	}
	free(list.items);
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
