#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include "core/log.h"
#include "core/timefmt.h"

static enum log_sink log_sink = LOG_SINK_STDERR;
static enum ab_log_level log_max_level = AB_LOG_INFO;
static bool log_to_journal;

static const char *const level_names[] = {
	[AB_LOG_ERROR] = "error", [AB_LOG_WARNING] = "warning", [AB_LOG_NOTICE] = "notice",
	[AB_LOG_INFO] = "info",   [AB_LOG_DEBUG] = "debug",
};

void log_setup(enum log_sink sink, enum ab_log_level max_level)
{
	log_sink = sink;
	log_max_level = max_level;
	/* systemd connects stderr to the journal and says so in JOURNAL_STREAM;
	 * the journal then reads the level from a "<N>" prefix. */
	log_to_journal = getenv("JOURNAL_STREAM") != NULL;
	if (sink == LOG_SINK_SYSLOG)
		openlog("agentbusd", LOG_PID, LOG_DAEMON);
}

void log_set_level(enum ab_log_level max_level)
{
	log_max_level = max_level;
}

bool log_enabled(enum ab_log_level level)
{
	return level <= log_max_level;
}

int log_level_parse(const char *name, enum ab_log_level *level)
{
	for (int i = AB_LOG_ERROR; i <= AB_LOG_DEBUG; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			*level = (enum ab_log_level)i;
			return 0;
		}
	}
	return -1;
}

void log_vmsg(enum ab_log_level level, const char *origin, const char *fmt, va_list ap)
{
	if (level < AB_LOG_ERROR)
		level = AB_LOG_ERROR;
	if (level > AB_LOG_DEBUG)
		level = AB_LOG_DEBUG;
	if (!log_enabled(level))
		return;

	char text[2048];
	vsnprintf(text, sizeof text, fmt, ap);

	if (log_sink == LOG_SINK_SYSLOG) {
		syslog((int)level, "[%s] %s", origin, text);
		return;
	}
	if (log_to_journal) {
		fprintf(stderr, "<%d>[%s] %s\n", (int)level, origin, text);
		return;
	}
	char stamp[TIMEFMT_ISO_LEN];
	timefmt_iso8601_now(stamp);
	fprintf(stderr, "%s %-7s [%s] %s\n", stamp, level_names[level], origin, text);
}

void log_msg(enum ab_log_level level, const char *origin, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, origin, fmt, ap);
	va_end(ap);
}
