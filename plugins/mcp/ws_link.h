/* MCP over a WebSocket (ws://, wss://), as a client on the broker's loop:
 * the RFC 6455 upgrade (the server's Sec-WebSocket-Accept checked, no
 * extensions), masked text frames out, the server's frames read by the
 * same codec the frontend side uses (unmasked ones only). Then, with
 * handshake "event", the event handshake the TiDB WebSocket servers expect
 * (agent_connected, answered by connection_acknowledged); then one
 * JSON-RPC message per text message, or with dialect "legacy" the older
 * request/response envelope (legacy.h). A server it cannot reach, or that
 * closes, is tried again with backoff; at shutdown it is sent a close
 * frame (1001). Its link ops are ws_link_ops. */
#ifndef AB_MCP_WS_LINK_H
#define AB_MCP_WS_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "link.h"

struct ws_link;

struct ws_link_options {
	const char *ca_file;      /* wss://: the CAs to verify with; NULL: the system's */
	bool event_handshake;     /* agent_connected / connection_acknowledged first */
	bool legacy_dialect;      /* the request/response envelope, not JSON-RPC */
	const char *legacy_tools; /* legacy: a JSON array of the tool names tools/list gives */
};

/* NULL with the reason in why for a URL or options it cannot use. */
struct ws_link *ws_link_new(struct upstream *u, const char *url, const struct ws_link_options *opt,
                            const struct link_events *ev, char *why, size_t why_len);

#endif
