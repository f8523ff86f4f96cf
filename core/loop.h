/* The daemon's event loop, with optional busy polling.
 *
 * A relay's round trip at a low request rate is mostly wakeups: the broker
 * sleeps in epoll_wait, a client's request wakes it, it writes the request
 * upstream and sleeps again, and the upstream's answer wakes it once more.
 * On a virtual machine each wakeup across CPUs costs tens of microseconds.
 * With busy polling on, after a loop turn that wrote (write_batch), the
 * loop keeps polling without sleeping until busy_poll_us microseconds
 * pass with no further write, so the answer to what it wrote, and the next
 * request after the answer, are read without a wakeup: lower latency, for
 * CPU time spent polling. Under load there is no idle time to poll in; at
 * rest the loop sleeps as before. */
#ifndef AB_CORE_LOOP_H
#define AB_CORE_LOOP_H

#include <stdint.h>

struct event_base;
struct write_batch;

/* Run base until event_base_loopexit or event_base_loopbreak, or until it
 * has no events left. *busy_poll_us is read at every turn (a reload may
 * change it); 0 sleeps whenever nothing is ready, as event_base_dispatch. */
void loop_run(struct event_base *base, const struct write_batch *writes, const int64_t *busy_poll_us);

#endif
