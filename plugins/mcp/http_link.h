/* The Streamable HTTP transport of MCP (specification 2025-11-25, "Streamable
 * HTTP") on libevent's HTTP client, on the broker's own loop: each JSON-RPC
 * message is a POST to the server's endpoint with Accept: application/json,
 * text/event-stream; the answer is one JSON message, an SSE stream of them
 * (sse.c), or 202 for a notification or a response. The session id the
 * server gives (Mcp-Session-Id) and the negotiated MCP-Protocol-Version go
 * on every later request; a 404 (or 400) to a session's request means the
 * session is gone: the link goes down and up again, and the client
 * initializes anew. A server it cannot reach is retried with backoff. At shutdown the
 * session is ended with DELETE. https:// verifies the server (TLS 1.2+).
 * Its link ops are http_link_ops. */
#ifndef AB_MCP_HTTP_LINK_H
#define AB_MCP_HTTP_LINK_H

#include <stddef.h>

#include "link.h"

struct http_link;

/* https:// checks the server's certificate against ca_file (NULL: the
 * system's CAs) and the URL's host. NULL with the reason in why for a URL
 * it cannot use. */
struct http_link *http_link_new(struct upstream *u, const char *url, const char *ca_file,
                                const struct link_events *ev, char *why, size_t why_len);

#endif
