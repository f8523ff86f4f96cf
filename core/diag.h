/* Diagnostics: the list of "file:line: message" errors a config load or check
 * collects, so that --check-config prints every problem at once, not just the
 * first. */
#ifndef AB_CORE_DIAG_H
#define AB_CORE_DIAG_H

#include <stddef.h>

struct diag {
	char **lines;
	size_t count, capacity;
};

/* Record an error at file:line (line 0: the file as a whole). */
void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Log every line at error level, in order. */
void diag_log(const struct diag *d);

void diag_clear(struct diag *d);

#endif
