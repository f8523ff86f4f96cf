#include "build-config.h"

#include <string.h>
#include <time.h>

#include "core/timefmt.h"

void timefmt_iso8601_now(char out[TIMEFMT_ISO_LEN])
{
	/* Every message sent is stamped: the date and time are formatted once
	 * a second (the broker has one thread), the milliseconds each time. */
	static time_t cached_second = -1;
	static char cached[TIMEFMT_ISO_LEN];
	static size_t cached_len;
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != cached_second) {
		struct tm tm;
		gmtime_r(&now.tv_sec, &tm);
		/* Room is left for ".mmmZ" and the NUL: strftime writes nothing
		 * for a year past 9999, and the stamp is only the milliseconds. */
		cached_len = strftime(cached, TIMEFMT_ISO_LEN - 5, "%Y-%m-%dT%H:%M:%S", &tm);
		cached_second = now.tv_sec;
	}
	unsigned ms = (unsigned)(now.tv_nsec / 1000000L) % 1000u;
	memcpy(out, cached, cached_len);
	char *at = out + cached_len;
	*at++ = '.';
	*at++ = (char)('0' + ms / 100);
	*at++ = (char)('0' + ms / 10 % 10);
	*at++ = (char)('0' + ms % 10);
	*at++ = 'Z';
	*at = '\0';
}

uint64_t timefmt_monotonic_us(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000000u + (uint64_t)now.tv_nsec / 1000u;
}

uint64_t timefmt_monotonic_ms(void)
{
	return timefmt_monotonic_us() / 1000u;
}
