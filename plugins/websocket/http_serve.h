/* The plain HTTP side of the WebSocket listener: GET /health, /ready and
 * /metrics (rendered by the core from every plugin's report), and the web
 * console's static files. Answers keep the connection open when the
 * request allows it, and name an allowed browser Origin (CORS). */
#ifndef AB_WS_HTTP_SERVE_H
#define AB_WS_HTTP_SERVE_H

#include <stdbool.h>

#include "http_parse.h"

struct conn;

/* Answer req if it is one of ours. Returns false when no such path exists
 * (the caller answers 404). */
bool http_serve(struct conn *c, const struct http_request *req);

/* Answer with a status, content type and body; then the next request, or
 * close (conn_http_answered). */
void http_respond(struct conn *c, int status, const char *content_type, const char *body,
                  size_t len);

/* 204 to an allowed origin's preflight (CORS): the methods and headers
 * docs/protocol.md lists. */
void http_preflight(struct conn *c);

/* An error status with {"detail": why}. */
void http_error(struct conn *c, int status, const char *why);

#endif
