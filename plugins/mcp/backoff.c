#include "build-config.h"

#include "backoff.h"

#include <event2/util.h>

#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 30000

uint64_t backoff_next(struct backoff *b)
{
	uint64_t step = b->ms ? b->ms : BACKOFF_MIN_MS;
	b->ms = step * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : step * 2;
	uint32_t jitter;
	evutil_secure_rng_get_bytes(&jitter, sizeof jitter);
	uint64_t wait = step + jitter % (step / 2 + 1);
	return wait > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : wait;
}
