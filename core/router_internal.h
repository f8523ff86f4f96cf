/* The router's insides, shared by its three files: router.c (dispatch,
 * agents, routing decisions), requests.c (a request's life from routing to
 * its one final reply) and translation.c (running translators).
 *
 * The one rule that keeps plugin callbacks safe: a plugin may do anything
 * while the router calls it (submit, unregister, ...), so after every
 * plugin call the router re-checks what it holds. A finished request is
 * taken out of every structure at once but freed only after the dispatch
 * turn (reap), so a pointer to it stays valid and `finished` tells. */
#ifndef AB_CORE_ROUTER_INTERNAL_H
#define AB_CORE_ROUTER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <event2/event.h>

#include "core/agents.h"
#include "core/router.h"

struct ab_route;
struct route_table;
struct hashmap;

/* A request between its routing and its final reply. */
struct pending {
	uint64_t id;
	uint64_t created_ms; /* monotonic, for the latency histogram */
	struct router *router;
	char *key;                 /* destination "\x1f" delivered correlation id, once forwarded */
	char *asked_key;           /* requester "\x1f" its correlation id (for cancel) */
	const char *delivered_cid; /* in key, after the separator */
	char *requester;           /* agent id */
	char *destination;         /* agent id; NULL while a pattern has no live match */
	ab_msg *request;           /* as the requester sent it */
	struct ab_route *route;
	struct route_table *table; /* keeps route alive */
	struct event *timer;
	struct pending *prev, *next; /* in the destination's inflight list */
	struct agent *inflight_at;   /* the destination, once delivered */
	struct held *held;           /* while waiting for an absent destination */
	struct agent *held_at;
	struct waiting *waiting;     /* while no agent matches the route's pattern */
	unsigned forwards; /* legs sent to the destination (a translator may ask again) */
	/* Exclusive routes: the destination this request owns or waits for;
	 * while it waits, what to forward and its place in the router's queue
	 * (or, its turn come, in the ready list). */
	struct agent *exclusive_at;
	ab_msg *exclusive_msg;
	struct pending *exclusive_prev, *exclusive_next;
	bool finished;
	struct pending *dead_next; /* on the router's list to reap */
};

/* A request whose route names a destination pattern no live agent matches
 * yet: it waits for one to register, like a held message. */
struct waiting {
	struct waiting *prev, *next;
	struct pending *pending;
	ab_msg *msg; /* what to forward (translated) */
	uint64_t expires_ms;
};

/* A request that ended without its destination's final reply: a reply that
 * comes later is dropped, not taken for a new message. */
struct tombstone {
	struct tombstone *next;
	char *key;
	uint64_t expires_ms;
};

struct job {
	struct job *next;
	ab_msg *msg;    /* a submitted message, or NULL for a flush */
	char *agent_id; /* flush: an agent that registered */
};

struct router {
	struct event_base *base;
	struct event *dispatch;
	bool dispatching;
	struct job *jobs, **jobs_tail;
	struct agents *agents;
	struct hashmap *pending; /* key -> struct pending */
	struct hashmap *asked;   /* asked_key -> struct pending */
	struct pending *dead;    /* finished, to free after this turn */
	struct waiting *waiting_head, *waiting_tail;
	size_t n_waiting;
	struct event *waiting_timer;
	struct pending *exclusive_head, *exclusive_tail; /* waiting for their destination, in order */
	struct pending *exclusive_ready;                 /* their turn came: forward on this turn */
	size_t n_exclusive;                              /* in both */
	struct hashmap *tombstones; /* key -> struct tombstone */
	struct tombstone *tomb_head, *tomb_tail;
	struct route_table *routes;
	struct router_settings settings;
	struct router_stats stats;
	char *broker_agent_id;
	uint64_t next_id;
	char cid_prefix[16]; /* for correlation ids the core assigns */
	char **sweep;        /* agent ids to drop if idle, after this turn */
	size_t n_sweep, cap_sweep;
};

/* router.c */
void router_wake(struct router *r);
void router_sweep_later(struct router *r, const char *id);
void router_queue_flush(struct router *r, const char *id);
int router_deliver(struct router *r, struct agent *a, ab_msg *msg, unsigned flags);

/* requests.c */
/* "agent_id\x1fcid", the key of the pending and asked tables (malloc'd;
 * NULL without memory). */
char *request_key(const char *agent_id, const char *cid);
struct pending *request_new(struct router *r, ab_msg *msg, struct ab_route *route);
void request_forward(struct pending *p, ab_msg *msg);
/* The destination answered a leg and the translator asks it the next
 * (select the database, then list its tables). */
void request_forward_next(struct pending *p, ab_msg *msg);
void request_deliver(struct pending *p, ab_msg *msg); /* to its resolved destination */
void request_answer(struct pending *p, ab_msg *reply, bool final);
void request_fail(struct pending *p, const char *error_type, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void request_finish(struct pending *p);
/* The requester cancelled it: the destination is told, the request ends
 * with a cancelled error. */
void request_cancel(struct pending *p);
void requests_reap(struct router *r);
/* Forward the exclusive requests whose turn came (dispatch, before reap). */
void requests_start_ready(struct router *r);
bool request_is_interim(const struct pending *p, const char *type);
void requests_resolve_waiting(struct router *r, const char *agent_id);
bool requests_is_tombstoned(struct router *r, const char *key);
void requests_purge_tombstones(struct router *r);
void requests_free_tombstones(struct router *r);
bool router_hold(struct router *r, struct agent *a, ab_msg *msg, unsigned flags,
                 struct pending *p);
void router_deliver_reply(struct router *r, const char *requester, ab_msg *msg, unsigned flags);

/* translation.c */
void translation_run(struct pending *p, ab_msg *input, bool is_reply);

#endif
