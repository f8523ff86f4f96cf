/* A Server-Sent Events reader (the text/event-stream of Streamable HTTP):
 * bytes in, events out. Pure, no I/O: unit-tested and fuzzable. Lines end
 * with LF, CRLF or CR; "data:" lines join with LF; an event is dispatched
 * at a blank line, when it has data, with its "event:" type; "id:" and
 * "retry:" are kept for resumption. */
#ifndef AB_MCP_SSE_H
#define AB_MCP_SSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sse {
	char *line; /* the line being read */
	size_t line_len, line_cap;
	char *data; /* the event being gathered */
	size_t data_len, data_cap;
	bool has_data;
	char type[32];      /* the event's "event:" field; "" when it has none */
	bool type_too_long; /* a type no MCP event has: reported as "?" */
	bool after_cr;      /* a CR ended the last line: a LF right after it is part of it */
	bool line_too_long; /* the line being read is past any event's size */
	bool skipping;      /* the event being read was dropped: skip to its blank line */
	unsigned bom_seen;  /* bytes of a leading byte order mark seen (3: done looking) */
	char last_id[256];  /* the last event id seen (for Last-Event-ID) */
	int64_t retry_ms;   /* the server's retry, or -1 */
	size_t max_event;   /* larger events are dropped (and counted) */
	uint64_t dropped;
};

void sse_init(struct sse *s, size_t max_event);
void sse_free(struct sse *s);

/* One event: its type ("message" when it named none), and its data,
 * NUL-terminated at len. */
typedef void (*sse_event_cb)(void *arg, const char *type, const char *data, size_t len);

/* Feed bytes; on_event for each complete event with data. */
void sse_feed(struct sse *s, const char *bytes, size_t len, sse_event_cb on_event, void *arg);

#endif
