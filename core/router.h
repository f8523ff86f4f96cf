/* The router: one queue of submitted messages, drained on a later loop turn
 * (so deliver -> submit -> deliver never recurses), the agent registry, the
 * table of requests in flight, and the held queues of absent agents.
 *
 * A message from agent S is a reply when a request with its correlation_id
 * was delivered to S and is not finished: it goes back to the requester
 * (through the route's translator, if any), final unless its type is one of
 * the route's interim types. Anything else is a request, routed by the
 * first matching route; it must get exactly one final reply: the
 * destination's, or an error reply from the core (no_route, timeout,
 * upstream_unavailable, internal_error). */
#ifndef AB_CORE_ROUTER_H
#define AB_CORE_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agentbus/types.h>

struct event_base;
struct route_table;
struct ab_instance;

struct router_settings {
	uint64_t hold_window_ms; /* how long messages wait for an absent agent */
	size_t hold_max;         /* how many may wait for one agent */
};

/* Request latency (routing to final reply) histogram bounds, in seconds. */
#define ROUTER_LATENCY_BUCKETS 14
extern const double router_latency_bounds[ROUTER_LATENCY_BUCKETS];

struct router_stats {
	uint64_t submitted, requests, replies, no_route, timeouts, unavailable, held, expired,
		dropped, late, cancelled;
	uint64_t latency[ROUTER_LATENCY_BUCKETS + 1]; /* per bucket; the last: above all bounds */
	double latency_sum;
	size_t in_flight, agents;
};

struct router;

struct router *router_new(struct event_base *base, const char *broker_agent_id);
void router_free(struct router *r);

void router_configure(struct router *r, const struct router_settings *s);

/* Use this table for new requests (takes a reference; in-flight requests
 * keep theirs). */
void router_set_routes(struct router *r, struct route_table *table);

/* See services.h for the contracts of these. */
int router_submit(struct router *r, struct ab_instance *from, const char *source, ab_msg *msg);
int router_register(struct router *r, struct ab_instance *owner, const char *id, void *ctx);
int router_unregister(struct router *r, struct ab_instance *owner, const char *id);
void *router_agent_context(const struct router *r, const struct ab_instance *owner, const char *id);

/* Unregister every agent of an instance (it is being destroyed). */
void router_unregister_all(struct router *r, struct ab_instance *owner);

/* Answer every request in flight with this error (the broker is stopping). */
void router_fail_all(struct router *r, const char *error_type, const char *why);

/* Forget every request in flight, without replies (the broker is freed). */
void router_drop_pending(struct router *r);

void router_stats(const struct router *r, struct router_stats *out);

/* The count of messages submitted so far, as it grows: the loop's sign
 * that messages are flowing (core/loop.h). */
const uint64_t *router_messages_in(const struct router *r);

const char *router_broker_agent_id(const struct router *r);

/* Translation services (services.h); t is the router's struct ab_translation. */
ab_msg *router_translation_input(ab_translation *t);
bool router_translation_is_reply(ab_translation *t);
ab_msg *router_translation_request(ab_translation *t);
const ab_route *router_translation_route(ab_translation *t);
void *router_translation_route_state(ab_translation *t);
int router_translation_forward(ab_translation *t, ab_msg *msg);
unsigned router_translation_step(ab_translation *t);
int router_translation_reply(ab_translation *t, ab_msg *msg);
int router_translation_fail(ab_translation *t, const char *error_type, const char *message);

#endif
