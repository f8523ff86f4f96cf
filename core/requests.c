/* A request's life: routed (request_new), forwarded to its destination with
 * a correlation id unique there, held while the destination is absent, and
 * finished by exactly one final reply: the destination's, or an error reply
 * the core makes (timeout, upstream_unavailable, ...). */
#include "build-config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>

#include "core/hashmap.h"
#include "core/log.h"
#include "core/msg.h"
#include "core/pattern.h"
#include "core/plugins.h"
#include "core/replies.h"
#include "core/router_internal.h"
#include "core/routes.h"
#include "core/timefmt.h"

/* How long a request that ended without its reply is remembered, so a late
 * reply is dropped instead of routed as something new. */
#define TOMBSTONE_MS 60000

static void set_timer(struct event *ev, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg);

char *request_key(const char *agent_id, const char *cid)
{
	size_t a = strlen(agent_id), c = strlen(cid);
	char *key = malloc(a + 1 + c + 1);
	if (key) {
		memcpy(key, agent_id, a);
		key[a] = '\x1f';
		memcpy(key + a + 1, cid, c + 1);
	}
	return key;
}

struct pending *request_new(struct router *r, ab_msg *msg, struct ab_route *route)
{
	struct pending *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->id = ++r->next_id;
	p->created_ms = timefmt_monotonic_ms();
	p->router = r;
	p->route = route;
	p->table = routes_ref(r->routes);
	p->request = msg_ref(msg);
	p->requester = strdup(msg_source(msg));
	p->timer = evtimer_new(r->base, timeout_cb, p);
	p->asked_key = request_key(msg_source(msg), msg_correlation_id(msg));
	if (!p->requester || !p->timer || !p->asked_key) {
		p->finished = true;
		p->dead_next = r->dead;
		r->dead = p;
		return NULL;
	}
	set_timer(p->timer, (uint64_t)route->timeout_ms);
	if (!hashmap_get(r->asked, p->asked_key)) /* the first of two alike is the one cancelled */
		hashmap_put(r->asked, p->asked_key, p);
	return p;
}

static void free_pending(struct pending *p)
{
	if (p->timer)
		event_free(p->timer);
	msg_unref(p->request);
	routes_unref(p->table);
	free(p->key);
	free(p->asked_key);
	free(p->requester);
	free(p->destination);
	free(p);
}

void requests_reap(struct router *r)
{
	while (r->dead) {
		struct pending *p = r->dead;
		r->dead = p->dead_next;
		free_pending(p);
	}
}

/* ---- taking a request out of everything ---------------------------------------- */

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
	router_sweep_later(p->router, a->id);
}

static void unlink_held(struct pending *p)
{
	if (!p->held)
		return;
	agents_unhold(p->held_at, p->held);
	msg_unref(p->held->msg);
	free(p->held);
	p->held = NULL;
	router_sweep_later(p->router, p->held_at->id);
	p->held_at = NULL;
}

static void unlink_waiting(struct pending *p)
{
	struct waiting *w = p->waiting;
	if (!w)
		return;
	struct router *r = p->router;
	if (w->prev)
		w->prev->next = w->next;
	else
		r->waiting_head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		r->waiting_tail = w->prev;
	r->n_waiting--;
	msg_unref(w->msg);
	free(w);
	p->waiting = NULL;
}

/* ---- exclusive routes: one request at a time per destination ---------------------- */

static void exclusive_unlink(struct pending *p)
{
	struct router *r = p->router;
	if (p->exclusive_prev)
		p->exclusive_prev->exclusive_next = p->exclusive_next;
	else
		r->exclusive_head = p->exclusive_next;
	if (p->exclusive_next)
		p->exclusive_next->exclusive_prev = p->exclusive_prev;
	else
		r->exclusive_tail = p->exclusive_prev;
	p->exclusive_prev = p->exclusive_next = NULL;
}

/* May p's first leg go to its destination now? If another exclusive
 * request holds it, p waits in the queue with msg, and false. */
static bool exclusive_enter(struct pending *p, ab_msg *msg)
{
	struct router *r = p->router;
	struct agent *a = agents_get_or_add(r->agents, p->destination);
	if (!a)
		return true; /* without memory, no order to keep */
	p->exclusive_at = a;
	if (!a->exclusive_owner || a->exclusive_owner == p) {
		a->exclusive_owner = p;
		return true;
	}
	p->exclusive_msg = msg_ref(msg);
	p->exclusive_prev = r->exclusive_tail;
	if (r->exclusive_tail)
		r->exclusive_tail->exclusive_next = p;
	else
		r->exclusive_head = p;
	r->exclusive_tail = p;
	r->n_exclusive++;
	return false;
}

/* p is done: the next request waiting for its destination gets its turn. */
static void exclusive_leave(struct pending *p)
{
	struct agent *a = p->exclusive_at;
	if (!a)
		return;
	struct router *r = p->router;
	p->exclusive_at = NULL;
	if (a->exclusive_owner != p) { /* it was still waiting */
		exclusive_unlink(p);
		msg_unref(p->exclusive_msg);
		p->exclusive_msg = NULL;
		r->n_exclusive--;
		return;
	}
	if (p->exclusive_msg) { /* its turn came, but it ends before it went: off the ready list */
		struct pending **link = &r->exclusive_ready;
		while (*link && *link != p)
			link = &(*link)->exclusive_next;
		if (*link)
			*link = p->exclusive_next;
		p->exclusive_next = NULL;
		msg_unref(p->exclusive_msg);
		p->exclusive_msg = NULL;
		r->n_exclusive--;
	}
	a->exclusive_owner = NULL;
	struct pending *next = r->exclusive_head;
	while (next && next->exclusive_at != a)
		next = next->exclusive_next;
	if (next) {
		exclusive_unlink(next);
		a->exclusive_owner = next;
		next->exclusive_next = r->exclusive_ready; /* its order among others does not matter */
		r->exclusive_ready = next;
		router_wake(r);
	}
	router_sweep_later(r, a->id);
}

void requests_start_ready(struct router *r)
{
	while (r->exclusive_ready) {
		struct pending *p = r->exclusive_ready;
		r->exclusive_ready = p->exclusive_next;
		p->exclusive_next = NULL;
		r->n_exclusive--;
		ab_msg *msg = p->exclusive_msg;
		p->exclusive_msg = NULL;
		request_forward(p, msg); /* the owner now: it goes */
		msg_unref(msg);
	}
}

/* Out of every structure now; freed after this dispatch turn. */
void request_finish(struct pending *p)
{
	if (p->finished)
		return;
	struct router *r = p->router;
	p->finished = true;
	if (p->key && hashmap_get(r->pending, p->key) == p)
		hashmap_remove(r->pending, p->key);
	if (p->asked_key && hashmap_get(r->asked, p->asked_key) == p)
		hashmap_remove(r->asked, p->asked_key);
	unlink_inflight(p);
	unlink_held(p);
	unlink_waiting(p);
	exclusive_leave(p);
	if (p->timer)
		event_del(p->timer);
	p->dead_next = r->dead;
	r->dead = p;
	router_wake(r);
}

/* ---- late replies --------------------------------------------------------------- */

static void tombstone(struct router *r, const char *key)
{
	if (hashmap_get(r->tombstones, key))
		return;
	struct tombstone *t = calloc(1, sizeof *t);
	if (!t || !(t->key = strdup(key)) || hashmap_put(r->tombstones, t->key, t) < 0) {
		if (t)
			free(t->key);
		free(t);
		return;
	}
	t->expires_ms = timefmt_monotonic_ms() + TOMBSTONE_MS;
	if (r->tomb_tail)
		r->tomb_tail->next = t;
	else
		r->tomb_head = t;
	r->tomb_tail = t;
}

bool requests_is_tombstoned(struct router *r, const char *key)
{
	return hashmap_get(r->tombstones, key) != NULL;
}

void requests_purge_tombstones(struct router *r)
{
	uint64_t now = timefmt_monotonic_ms();
	while (r->tomb_head && r->tomb_head->expires_ms <= now) {
		struct tombstone *t = r->tomb_head;
		r->tomb_head = t->next;
		if (!r->tomb_head)
			r->tomb_tail = NULL;
		hashmap_remove(r->tombstones, t->key);
		free(t->key);
		free(t);
	}
}

void requests_free_tombstones(struct router *r)
{
	while (r->tomb_head) {
		struct tombstone *t = r->tomb_head;
		r->tomb_head = t->next;
		free(t->key);
		free(t);
	}
	r->tomb_tail = NULL;
}

/* ---- answering ------------------------------------------------------------------ */

bool request_is_interim(const struct pending *p, const char *type)
{
	return p->route->interim.count > 0 && pattern_list_match(&p->route->interim, type);
}

/* The reply as the requester must see it: with its request's correlation id,
 * whatever the destination wrote (the one correlation rule, in one place). */
static ab_msg *with_request_cid(ab_msg *reply, const struct pending *p)
{
	const char *want = msg_correlation_id(p->request);
	const char *have = msg_correlation_id(reply);
	ab_msg *out = have && strcmp(have, want) == 0 ? msg_ref(reply) : msg_with_correlation_id(reply, want);
	if (out && !msg_source(out))
		msg_mark_submitted(out, msg_source(reply) ? msg_source(reply) : p->router->broker_agent_id);
	return out;
}

const double router_latency_bounds[ROUTER_LATENCY_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};

static void observe_latency(struct router *r, uint64_t ms)
{
	double seconds = (double)ms / 1000.0;
	size_t i = 0;
	while (i < ROUTER_LATENCY_BUCKETS && seconds > router_latency_bounds[i])
		i++;
	r->stats.latency[i]++;
	r->stats.latency_sum += seconds;
}

void request_answer(struct pending *p, ab_msg *reply, bool final)
{
	if (p->finished)
		return;
	struct router *r = p->router;
	ab_msg *stamped = with_request_cid(reply, p);
	if (!stamped) {
		log_msg(AB_LOG_ERROR, "router", "out of memory answering %s", p->requester);
		request_finish(p);
		return;
	}
	r->stats.replies++;
	uint64_t now = timefmt_monotonic_ms();
	if (final)
		observe_latency(r, now - p->created_ms);
	else if (p->route->max_timeout_ms > 0) {
		/* A sign of progress: the timeout starts again, within the maximum. */
		uint64_t deadline = now + (uint64_t)p->route->timeout_ms;
		uint64_t limit = p->created_ms + (uint64_t)p->route->max_timeout_ms;
		uint64_t until = deadline < limit ? deadline : limit;
		set_timer(p->timer, until > now ? until - now : 0);
	}
	/* Finished before the delivery: whatever the requester's transport does
	 * meanwhile cannot answer it a second time. */
	if (final)
		request_finish(p);
	router_deliver_reply(r, p->requester, stamped,
	                     final ? AB_DELIVER_REPLY : AB_DELIVER_REPLY | AB_DELIVER_INTERIM);
	msg_unref(stamped);
}

void request_fail(struct pending *p, const char *error_type, const char *fmt, ...)
{
	if (p->finished)
		return;
	char text[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);
	/* It was delivered and will not be answered now: a reply that still
	 * comes is late, not new. */
	if (p->key && p->inflight_at)
		tombstone(p->router, p->key);
	ab_msg *reply = replies_error(p->request, NULL, p->route->error_reply_type, error_type, text);
	if (!reply) {
		log_msg(AB_LOG_ERROR, "router", "out of memory failing a request of %s", p->requester);
		request_finish(p);
		return;
	}
	request_answer(p, reply, true);
	msg_unref(reply);
}

/* Tell a live destination that a request it holds is abandoned. */
static void notify_cancel(struct pending *p, const char *reason)
{
	struct agent *a = p->inflight_at;
	if (!a || !a->owner)
		return;
	ab_json *g = ab_json_new();
	if (!g)
		return;
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, "cancel");
	ab_json_str(g, "correlation_id");
	ab_json_str(g, p->delivered_cid);
	ab_json_str(g, "reason");
	ab_json_str(g, reason);
	ab_json_map_close(g);
	ab_msg *notice = msg_build_written(g, NULL);
	ab_json_free(g);
	if (!notice)
		return;
	msg_mark_submitted(notice, p->router->broker_agent_id);
	router_deliver(p->router, a, notice, AB_DELIVER_CANCEL);
	msg_unref(notice);
}

void request_cancel(struct pending *p)
{
	p->router->stats.cancelled++;
	notify_cancel(p, "cancelled");
	request_fail(p, AB_ERR_CANCELLED, "cancelled by the requester");
}

static void timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pending *p = arg;
	p->router->stats.timeouts++;
	notify_cancel(p, "timeout");
	request_fail(p, AB_ERR_TIMEOUT, "no reply from %s within %" PRId64 " ms",
	             p->destination ? p->destination : "any agent", p->route->timeout_ms);
}

/* ---- delivering ------------------------------------------------------------------- */

void request_deliver(struct pending *p, ab_msg *msg)
{
	struct router *r = p->router;
	struct agent *a = agents_get_or_add(r->agents, p->destination);
	if (!a) {
		request_fail(p, AB_ERR_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (!a->owner) {
		if (!router_hold(r, a, msg, AB_DELIVER_REQUEST, p)) {
			r->stats.unavailable++;
			request_fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "%s is not connected and its queue is full",
			             p->destination);
		}
		return;
	}
	/* Linked first: the destination may answer, or vanish, before deliver
	 * returns. */
	p->inflight_at = a;
	p->prev = NULL;
	p->next = a->inflight;
	if (a->inflight)
		a->inflight->prev = p;
	a->inflight = p;
	if (router_deliver(r, a, msg, AB_DELIVER_REQUEST) < 0 && !p->finished) {
		r->stats.unavailable++;
		request_fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "%s could not take the request", p->destination);
	}
}

static void waiting_expired_cb(evutil_socket_t fd, short what, void *arg);

/* No live agent matches the route's destination pattern: wait for one. */
static void wait_for_destination(struct pending *p, ab_msg *msg)
{
	struct router *r = p->router;
	struct waiting *w = r->n_waiting < r->settings.hold_max ? calloc(1, sizeof *w) : NULL;
	if (!w) {
		r->stats.unavailable++;
		request_fail(p, AB_ERR_UPSTREAM_UNAVAILABLE, "no agent matching '%s' is connected",
		             p->route->destination.items[0].text);
		return;
	}
	w->pending = p;
	w->msg = msg_ref(msg);
	w->expires_ms = timefmt_monotonic_ms() + r->settings.hold_window_ms;
	w->prev = r->waiting_tail;
	if (r->waiting_tail)
		r->waiting_tail->next = w;
	else
		r->waiting_head = w;
	r->waiting_tail = w;
	r->n_waiting++;
	p->waiting = w;
	r->stats.held++;
	if (!r->waiting_timer)
		r->waiting_timer = evtimer_new(r->base, waiting_expired_cb, r);
	if (r->waiting_timer && !evtimer_pending(r->waiting_timer, NULL))
		set_timer(r->waiting_timer, r->settings.hold_window_ms);
}

static void waiting_expired_cb(evutil_socket_t fd, short what, void *arg)
{
	struct router *r = arg;
	uint64_t now = timefmt_monotonic_ms();
	while (r->waiting_head && r->waiting_head->expires_ms <= now) {
		struct pending *p = r->waiting_head->pending;
		r->stats.expired++;
		r->stats.unavailable++;
		request_fail(p, AB_ERR_UPSTREAM_UNAVAILABLE,
		             "no agent matching '%s' connected within the hold window",
		             p->route->destination.items[0].text);
	}
	if (r->waiting_head)
		set_timer(r->waiting_timer, r->waiting_head->expires_ms - now);
}

/* An agent registered: the waiting requests whose pattern it matches go to
 * it, in order. */
void requests_resolve_waiting(struct router *r, const char *agent_id)
{
	for (;;) {
		/* From the head each time: a forward may change the list. */
		struct waiting *w = r->waiting_head;
		while (w && !pattern_list_match(&w->pending->route->destination, agent_id))
			w = w->next;
		if (!w)
			return;
		struct pending *p = w->pending;
		ab_msg *msg = msg_ref(w->msg);
		unlink_waiting(p);
		p->destination = strdup(agent_id);
		if (p->destination)
			request_forward(p, msg);
		else
			request_fail(p, AB_ERR_INTERNAL_ERROR, "out of memory");
		msg_unref(msg);
	}
}

/* Give the request its delivered correlation id (unique per destination),
 * enter it in the table and deliver it. */
void request_forward(struct pending *p, ab_msg *msg)
{
	if (p->finished)
		return;
	if (!p->destination) {
		wait_for_destination(p, msg);
		return;
	}
	if (p->route->exclusive && p->forwards == 0 && !exclusive_enter(p, msg))
		return; /* its turn comes when the one before it ends */
	struct router *r = p->router;
	const char *cid = msg_correlation_id(p->request);
	char *key = NULL;
	if (p->forwards == 0)
		key = request_key(p->destination, cid);
	if (p->forwards > 0 || (key && hashmap_get(r->pending, key))) {
		/* Another requester used the same id with this destination, or
		 * this is a later leg: a reply to an earlier one must not pass
		 * for its answer. */
		char unique[64]; /* {cid_prefix}-{id}.{forwards}, without snprintf's cost */
		size_t n = strlen(r->cid_prefix);
		memcpy(unique, r->cid_prefix, n);
		unique[n++] = '-';
		n += ab_json_udigits(unique + n, p->id);
		unique[n++] = '.';
		n += ab_json_udigits(unique + n, p->forwards);
		unique[n] = '\0';
		free(key);
		key = request_key(p->destination, unique);
	}
	if (!key || hashmap_put(r->pending, key, p) < 0) {
		free(key);
		request_fail(p, AB_ERR_INTERNAL_ERROR, "out of memory");
		return;
	}
	p->key = key;
	p->delivered_cid = strchr(key, '\x1f') + 1;
	const char *have = msg_correlation_id(msg);
	ab_msg *out = have && strcmp(have, p->delivered_cid) == 0
	                      ? msg_ref(msg)
	                      : msg_with_correlation_id(msg, p->delivered_cid);
	if (!out) {
		request_fail(p, AB_ERR_INTERNAL_ERROR, "out of memory");
		return;
	}
	if (!msg_source(out))
		msg_mark_submitted(out, p->requester);
	p->forwards++;
	request_deliver(p, out);
	msg_unref(out);
}

void request_forward_next(struct pending *p, ab_msg *msg)
{
	if (p->finished)
		return;
	struct router *r = p->router;
	if (p->key && hashmap_get(r->pending, p->key) == p)
		hashmap_remove(r->pending, p->key);
	if (p->key)
		tombstone(r, p->key); /* anything more on the answered leg is late */
	free(p->key);
	p->key = NULL;
	p->delivered_cid = NULL;
	unlink_inflight(p);
	request_forward(p, msg);
}
