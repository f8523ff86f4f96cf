/* An in-process transport for router tests: it records every delivery and
 * can be told to refuse the next one or to answer requests from inside
 * deliver (to prove the router never re-enters). */
#ifndef AB_TEST_FAKE_TRANSPORT_H
#define AB_TEST_FAKE_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/plugins.h"

#define FAKE_MAX 64

struct fake_delivery {
	char *agent;
	unsigned flags;
	char *type;
	char *cid;
	char *json;
};

struct fake {
	struct ab_instance inst;
	struct fake_delivery got[FAKE_MAX];
	size_t n;
	int refuse_next;        /* deliver returns -1 this many times */
	struct router *echo_to; /* when set, answer each request inside deliver */
	struct router *unregister_on_deliver; /* when set, unregister the agent and refuse */
	unsigned unregister_flags;            /* ... on deliveries with these flags */
	const char *unregister_id;            /* ... this agent (default: the one delivered to) */
	struct ab_instance *unregister_owner; /* ... owned by this instance */
	int depth;              /* deliver calls in progress */
	int max_depth;          /* the deepest nesting seen */
};

void fake_init(struct fake *f, const char *name);
void fake_clear(struct fake *f);

/* The delivery number i as a yajl string member (NULL when absent). */
const char *fake_field(const struct fake *f, size_t i, const char *key);

/* error.error_type and error.message of delivery i, or NULL. */
const char *fake_error_type(const struct fake *f, size_t i);
const char *fake_error_message(const struct fake *f, size_t i);

#endif
