#include "build-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/diag.h"
#include "core/log.h"

void diag_add(struct diag *d, const char *file, int line, const char *fmt, ...)
{
	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof text, fmt, ap);
	va_end(ap);

	char *entry = NULL;
	int n = line > 0 ? asprintf(&entry, "%s:%d: %s", file, line, text)
	                 : asprintf(&entry, "%s: %s", file, text);
	if (n < 0)
		return;
	if (d->count == d->capacity) {
		size_t capacity = d->capacity ? d->capacity * 2 : 8;
		char **lines = realloc(d->lines, capacity * sizeof *lines);
		if (!lines) {
			free(entry);
			return;
		}
		d->lines = lines;
		d->capacity = capacity;
	}
	d->lines[d->count++] = entry;
}

void diag_log(const struct diag *d)
{
	for (size_t i = 0; i < d->count; i++)
		log_msg(AB_LOG_ERROR, "config", "%s", d->lines[i]);
}

void diag_clear(struct diag *d)
{
	for (size_t i = 0; i < d->count; i++)
		free(d->lines[i]);
	free(d->lines);
	*d = (struct diag){ 0 };
}
