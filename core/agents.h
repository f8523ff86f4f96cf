/* The agent registry: agent id -> the instance that reaches it, in a hash
 * table. An entry also exists for an agent that is absent (not yet
 * registered, or gone briefly) while messages are held for it; it is
 * dropped when it is absent, holds nothing and has nothing in flight. */
#ifndef AB_CORE_AGENTS_H
#define AB_CORE_AGENTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agentbus/types.h>

struct ab_instance;
struct pending;
struct event;

/* A message waiting for an absent agent. */
struct held {
	struct held *prev, *next;
	ab_msg *msg;
	unsigned flags;           /* AB_DELIVER_* it will be delivered with */
	struct pending *pending;  /* the request it is (REQUEST), else NULL */
	uint64_t expires_ms;      /* monotonic */
};

struct router;

struct agent {
	char *id;
	struct router *router;     /* set while it holds messages (for its hold timer) */
	struct ab_instance *owner; /* NULL while absent */
	void *ctx;
	struct held *held_head, *held_tail;
	size_t held_count;
	struct event *hold_timer;
	struct pending *inflight; /* requests delivered to it, awaiting replies */
	struct pending *exclusive_owner; /* the request on an exclusive route it serves now */
	bool flush_queued;
};

struct agents;

struct agents *agents_new(void);
void agents_free(struct agents *a); /* frees every entry; held messages are released */

struct agent *agents_get(const struct agents *a, const char *id);

/* The entry for id, made (absent) if there is none. NULL without memory. */
struct agent *agents_get_or_add(struct agents *a, const char *id);

/* Drop the entry if it is absent and idle. Returns true when it was freed. */
bool agents_release_if_idle(struct agents *a, struct agent *agent);

/* Calls fn for every present agent whose id matches, until fn returns true;
 * returns that agent or NULL. Cost: linear in the agents (used only when a
 * route's cached pattern destination is gone). */
struct agent *agents_find(const struct agents *a, bool (*fn)(const struct agent *agent, void *arg),
                          void *arg);

size_t agents_count(const struct agents *a);

/* Append to / unlink from an agent's held queue (which owns the held entry
 * and one reference to its message). */
void agents_hold(struct agent *agent, struct held *h);
void agents_unhold(struct agent *agent, struct held *h);

/* Valid agent id: [A-Za-z0-9_.:-]{1,128}. */
bool agents_valid_id(const char *id);

#endif
