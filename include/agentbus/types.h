/*
 * agentbus plugin SDK: the opaque types and the enums shared by the plugin
 * contract (plugin.h) and the services table (services.h).
 *
 * Every struct a plugin can see is ABI; the ones here are opaque on purpose,
 * so the core may change them without breaking a compiled plugin.
 */
#ifndef AGENTBUS_TYPES_H
#define AGENTBUS_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One loaded plugin configured by one [plugin:NAME] section. A module may be
 * instantiated more than once (two MCP upstreams, say); each instance has its
 * own state and its own handle. */
typedef struct ab_instance ab_instance;

/* A message: the raw JSON bytes plus the routing fields the core extracted
 * once. Reference counted; immutable once created. */
typedef struct ab_msg ab_msg;

/* A compiled [route:NAME] section, as a translator sees it. */
typedef struct ab_route ab_route;

/* One translation in progress (see ops.translate in plugin.h). Valid only
 * for the duration of the translate call. */
typedef struct ab_translation ab_translation;

/* A health and metrics report being written (see ops.report). */
typedef struct ab_report ab_report;

enum ab_metric_type {
	AB_METRIC_COUNTER = 1, /* only goes up (a _total) */
	AB_METRIC_GAUGE,       /* a current value */
};

/* A one-shot or repeating timer on the broker's loop. */
typedef struct ab_timer ab_timer;

enum ab_plugin_kind {
	AB_PLUGIN_TRANSPORT = 1,  /* owns sockets/processes, registers agents */
	AB_PLUGIN_TRANSLATOR = 2, /* pure function from one message to another */
};

enum ab_log_level { /* syslog's numbering, so journald prefixes are direct */
	AB_LOG_ERROR = 3,
	AB_LOG_WARNING = 4,
	AB_LOG_NOTICE = 5,
	AB_LOG_INFO = 6,
	AB_LOG_DEBUG = 7,
};

/* The types an option in a plugin's schema may have. The core parses and
 * validates the value at config load, so the getters cannot fail. */
enum ab_option_type {
	AB_OPT_STRING = 1,
	AB_OPT_INT,      /* decimal integer, bounded by min/max */
	AB_OPT_BOOL,     /* true/false, yes/no, on/off, 1/0 */
	AB_OPT_DURATION, /* "250ms", "10s", "5m", "1h"; a bare number is seconds; read as ms */
	AB_OPT_SIZE,     /* "512", "64K", "16M", "1G" (powers of 1024); read as bytes */
	AB_OPT_ENUM,     /* one of the '|'-separated words in choices */
	AB_OPT_JSON,     /* a JSON value on one line, e.g. a template for services->gen_template */
};

/* Option flags. */
#define AB_OPT_REQUIRED 0x1u   /* the section must set it */
#define AB_OPT_RELOADABLE 0x2u /* SIGHUP applies a change (else: restart needed) */

/* The error_type values of the wire protocol (docs/protocol.md). */
#define AB_ERR_INVALID_JSON "invalid_json"
#define AB_ERR_INVALID_MESSAGE "invalid_message"
#define AB_ERR_HANDSHAKE_REQUIRED "handshake_required"
#define AB_ERR_UNAUTHORIZED "unauthorized"
#define AB_ERR_FORBIDDEN "forbidden"
#define AB_ERR_NO_ROUTE "no_route"
#define AB_ERR_UPSTREAM_UNAVAILABLE "upstream_unavailable"
#define AB_ERR_UPSTREAM_ERROR "upstream_error"
#define AB_ERR_TOOL_ERROR "tool_error"
#define AB_ERR_TIMEOUT "timeout"
#define AB_ERR_CANCELLED "cancelled"
#define AB_ERR_RATE_LIMITED "rate_limited"
#define AB_ERR_MESSAGE_TOO_LARGE "message_too_large"
#define AB_ERR_INTERNAL_ERROR "internal_error"

/* The length of a protocol timestamp with its NUL (services->timestamp). */
#define AB_TIMESTAMP_LEN 25

/* A member's value as its bytes in a JSON text (services->json_spans);
 * at is NULL when the member is absent. */
struct ab_json_span {
	const char *at;
	size_t len;
};

/* Why msg_parse refused some bytes: error_type is one of the AB_ERR_*
 * strings above (static storage), message says what was wrong. */
struct ab_parse_error {
	const char *error_type;
	char message[192];
};

#ifdef __cplusplus
}
#endif

#endif /* AGENTBUS_TYPES_H */
