/* Logging: one line per event, tagged with where it comes from (the core or a
 * plugin instance's name). Foreground output goes to stderr, with `<N>`
 * syslog-level prefixes when stderr is the journal (systemd sets
 * JOURNAL_STREAM); a daemonized broker logs to syslog. */
#ifndef AB_CORE_LOG_H
#define AB_CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#include <agentbus/types.h>

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_SYSLOG,
};

void log_setup(enum log_sink sink, enum ab_log_level max_level);
void log_set_level(enum ab_log_level max_level);
bool log_enabled(enum ab_log_level level);

/* Parse "error", "warning", "notice", "info" or "debug". Returns 0 or -1. */
int log_level_parse(const char *name, enum ab_log_level *level);

void log_msg(enum ab_log_level level, const char *origin, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void log_vmsg(enum ab_log_level level, const char *origin, const char *fmt, va_list ap);

#define log_error(...) log_msg(AB_LOG_ERROR, "core", __VA_ARGS__)
#define log_warning(...) log_msg(AB_LOG_WARNING, "core", __VA_ARGS__)
#define log_notice(...) log_msg(AB_LOG_NOTICE, "core", __VA_ARGS__)
#define log_info(...) log_msg(AB_LOG_INFO, "core", __VA_ARGS__)
#define log_debug(...) log_msg(AB_LOG_DEBUG, "core", __VA_ARGS__)

#endif
