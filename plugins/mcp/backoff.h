/* How long a link waits before it tries its server again: from 250 ms,
 * doubling while the server keeps failing, with up to half of it again as
 * jitter so a fleet of brokers does not retry in step; never over 30 s. */
#ifndef AB_MCP_BACKOFF_H
#define AB_MCP_BACKOFF_H

#include <stdint.h>

struct backoff {
	uint64_t ms; /* the next step without jitter; 0: the first */
};

/* The server answered: the next wait starts from the first step again. */
static inline void backoff_reset(struct backoff *b)
{
	b->ms = 0;
}

/* The wait for this failure, in ms; the step after it doubles. */
uint64_t backoff_next(struct backoff *b);

#endif
