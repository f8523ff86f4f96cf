/* A strict, bounded HTTP/1.1 request-head parser, zero-copy (the results
 * point into the caller's buffer). Pure, no I/O: unit-tested and fuzzed. */
#ifndef AB_WS_HTTP_PARSE_H
#define AB_WS_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADERS 64

struct http_span {
	const char *at;
	size_t len;
};

struct http_header {
	struct http_span name, value; /* value without surrounding blanks */
};

struct http_request {
	struct http_span method, target;
	int minor; /* HTTP/1.<minor> */
	struct http_header headers[HTTP_MAX_HEADERS];
	size_t n_headers;
	size_t head_len; /* bytes up to and including the blank line */
};

/* Parse the request head at the start of buf. Returns 1 when it is complete
 * (*out filled), 0 when more bytes are needed, or the HTTP status to refuse
 * it with: 400 (malformed: bad request line, bare LF, folded or malformed
 * header), 431 (the head exceeds max_head bytes, or too many headers), 505
 * (not HTTP/1.x). */
int http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *out);

/* A response head, as a client reads it (the WebSocket upgrade's answer):
 * the same results and refusals, with the status code in *status and
 * method and target left empty. */
int http_parse_response(const char *buf, size_t len, size_t max_head, struct http_request *out, int *status);

/* The first header with this name (case-insensitive), or NULL. */
const struct http_header *http_header(const struct http_request *req, const char *name);

/* Does any header of this name list this token (comma-separated, case-
 * insensitive), as "Connection: keep-alive, Upgrade" lists "upgrade"? */
bool http_header_has_token(const struct http_request *req, const char *name, const char *token);

/* The request target's path: up to its '?', if it has a query. */
struct http_span http_request_path(const struct http_request *req);

/* Does the span equal text, ignoring ASCII case? */
bool http_span_equals(struct http_span s, const char *text);

#endif
