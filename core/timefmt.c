#include "build-config.h"

#include <stdio.h>
#include <time.h>

#include "core/timefmt.h"

void timefmt_iso8601_now(char out[TIMEFMT_ISO_LEN])
{
	struct timespec now;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	/* strftime bounds every field; only the milliseconds are ours. */
	size_t n = strftime(out, TIMEFMT_ISO_LEN, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, TIMEFMT_ISO_LEN - n, ".%03uZ", (unsigned)(now.tv_nsec / 1000000L) % 1000u);
}

uint64_t timefmt_monotonic_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}
