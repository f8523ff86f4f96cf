/* The daemon's event loop, with optional busy polling.
 *
 * A relay's round trip at a low request rate is mostly wakeups: the broker
 * sleeps in epoll_wait, a client's request wakes it, it sends the request
 * upstream and sleeps again, and the upstream's answer wakes it once more.
 * On a virtual machine each wakeup across CPUs costs tens of microseconds.
 * With busy polling on, after a loop turn in which a message came in, the
 * loop keeps polling without sleeping until busy_poll_us microseconds pass
 * with no further message, so the answer to what it sent on, and the next
 * request after the answer, are read without a wakeup: lower latency, for
 * CPU time spent polling. While messages come less than busy_poll_us
 * apart, the loop does not sleep at all; at rest it sleeps as before. */
#ifndef AB_CORE_LOOP_H
#define AB_CORE_LOOP_H

#include <stdint.h>

struct event_base;

/* Run base until event_base_loopexit or event_base_loopbreak, or until it
 * has no events left. *messages counts the messages that came in (the
 * router's); *busy_poll_us is read at every turn, so a reload changes it
 * even in the middle of a poll; 0 sleeps whenever nothing is ready, as
 * event_base_dispatch does. */
void loop_run(struct event_base *base, const uint64_t *messages, const int64_t *busy_poll_us);

#endif
