/* Wall-clock and monotonic time in the forms the protocol and the loop use. */
#ifndef AB_CORE_TIMEFMT_H
#define AB_CORE_TIMEFMT_H

#include <stdint.h>

#include <agentbus/types.h>

/* "2026-11-25T17:20:50.123Z" plus the NUL. */
#define TIMEFMT_ISO_LEN AB_TIMESTAMP_LEN

/* Write the current UTC time as ISO 8601 with milliseconds. */
void timefmt_iso8601_now(char out[TIMEFMT_ISO_LEN]);

/* Milliseconds on the monotonic clock (for ages and deadlines). */
uint64_t timefmt_monotonic_ms(void);

/* Microseconds on the same clock (the busy poll's budget, systemd's
 * MONOTONIC_USEC). */
uint64_t timefmt_monotonic_us(void);

#endif
