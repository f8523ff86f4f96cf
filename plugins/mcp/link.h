/* How the client reaches its server: a child process on stdio (child.c),
 * Streamable HTTP (http_link.c) or a WebSocket (ws_link.c). mcp.c speaks JSON-RPC over either
 * through these ops, and hears back through the same events. */
#ifndef AB_MCP_LINK_H
#define AB_MCP_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct upstream;

struct link_events {
	/* One JSON-RPC message; related: the id of our request it came in the
	 * answer to (on that request's HTTP event stream), or 0 when the link
	 * cannot tell. */
	void (*line)(struct upstream *u, const char *line, size_t len, int64_t related);
	void (*up)(struct upstream *u);                    /* ready for initialize */
	void (*down)(struct upstream *u, const char *why); /* stopped serving; it comes up again by itself */
};

struct link_ops {
	const char *transport; /* for /health: "stdio", "http", "ws" */
	void (*start)(void *link);
	/* One JSON-RPC message. False when it cannot be sent now. */
	bool (*send)(void *link, const char *data, size_t len);
	/* The session failed though the link works: start over after a backoff. */
	void (*restart)(void *link);
	/* Stop for good. True when stopped() will be called once done, false
	 * when there is nothing to wait for. */
	bool (*stop)(void *link, void (*stopped)(struct upstream *u));
	void (*free)(void *link);
};

extern const struct link_ops child_link_ops;
extern const struct link_ops http_link_ops;
extern const struct link_ops ws_link_ops;

#endif
