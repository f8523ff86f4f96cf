/* Who may use the listener, read from a request head: the Origin rule for
 * browsers, and the token a request carries. Pure: unit-tested. */
#ifndef AB_WS_HTTP_ACCESS_H
#define AB_WS_HTTP_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "http_parse.h"

/* A browser's Origin must be in allowed_origins (comma-separated, or *), or
 * be this server itself reached by address or as localhost (a name could
 * be a DNS-rebinding attacker's). Requests without an Origin (not
 * browsers) pass. */
bool origin_allowed(const char *allowed_origins, const struct http_request *req);

/* The token of "Authorization: Bearer T", or (browsers cannot set headers
 * on a WebSocket) of an access_token query parameter, %XX-decoded into
 * decoded. False when there is none (or it does not fit). */
bool request_token(const struct http_request *req, struct http_span *token, char *decoded,
                   size_t decoded_cap);

/* %XX-decode value into buf ('+' stays: a literal in tokens), and point
 * value at it. False when it does not fit. */
bool percent_decode(struct http_span *value, char *buf, size_t cap);

#endif
