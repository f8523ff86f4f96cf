#include "build-config.h"

#include <stdbool.h>

#include <event2/event.h>

#include "core/loop.h"
#include "core/timefmt.h"

/* One turn; false when the loop is to end. */
static bool turn(struct event_base *base, int flags)
{
	return event_base_loop(base, flags) == 0 && !event_base_got_exit(base) && !event_base_got_break(base);
}

/* Poll without sleeping until *busy_poll_us pass with no message. */
static bool poll_busily(struct event_base *base, const uint64_t *messages, const int64_t *busy_poll_us)
{
	uint64_t seen = *messages, last_message = timefmt_monotonic_us();
	for (;;) {
		if (!turn(base, EVLOOP_NONBLOCK))
			return false;
		uint64_t now = timefmt_monotonic_us();
		if (*messages != seen) {
			seen = *messages;
			last_message = now;
		} else if (*busy_poll_us <= 0 || now - last_message >= (uint64_t)*busy_poll_us) {
			return true;
		}
	}
}

void loop_run(struct event_base *base, const uint64_t *messages, const int64_t *busy_poll_us)
{
	uint64_t seen = *messages;
	while (turn(base, EVLOOP_ONCE)) {
		if (*messages != seen && *busy_poll_us > 0 && !poll_busily(base, messages, busy_poll_us))
			return;
		seen = *messages;
	}
}
