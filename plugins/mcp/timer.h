/* Arming a libevent timer in milliseconds, as every link does. */
#ifndef AB_MCP_TIMER_H
#define AB_MCP_TIMER_H

#include <stdint.h>

#include <event2/event.h>

static inline void timer_arm_ms(struct event *ev, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(ev, &tv);
}

#endif
