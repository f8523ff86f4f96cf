#include "build-config.h"

#include <stdbool.h>
#include <time.h>

#include <event2/event.h>

#include "core/loop.h"
#include "core/write_batch.h"

static int64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (int64_t)t.tv_sec * 1000000 + t.tv_nsec / 1000;
}

/* One turn; false when the loop is to end. */
static bool turn(struct event_base *base, int flags)
{
	return event_base_loop(base, flags) == 0 && !event_base_got_exit(base) && !event_base_got_break(base);
}

/* Poll without sleeping until budget_us pass with no write. */
static bool poll_busily(struct event_base *base, const struct write_batch *writes, int64_t budget_us)
{
	uint64_t flushes = write_batch_flushes(writes);
	int64_t last_write = now_us();
	for (;;) {
		if (!turn(base, EVLOOP_NONBLOCK))
			return false;
		int64_t now = now_us();
		if (write_batch_flushes(writes) != flushes) {
			flushes = write_batch_flushes(writes);
			last_write = now;
		} else if (now - last_write >= budget_us) {
			return true;
		}
	}
}

void loop_run(struct event_base *base, const struct write_batch *writes, const int64_t *busy_poll_us)
{
	uint64_t flushes = write_batch_flushes(writes);
	while (turn(base, EVLOOP_ONCE)) {
		bool wrote = write_batch_flushes(writes) != flushes;
		if (wrote && *busy_poll_us > 0 && !poll_busily(base, writes, *busy_poll_us))
			return;
		flushes = write_batch_flushes(writes);
	}
}
