/* A client speaking MCP JSON-RPC itself over the WebSocket (on the
 * listener's jsonrpc_path, as supergateway's WebSocket mode offers): no
 * frontend protocol, no greeting, no session to resume. Each connection is
 * the agent frontend_rpc_<connection id>. A request becomes the routed
 * message {"type":"jsonrpc","correlation_id":<its id, typed: "n:17",
 * "s:abc">,"message":<the request>}; a translator (jsonrpc_mcp) carries it
 * to an upstream and answers with a "jsonrpc" (final) or
 * "jsonrpc_notification" (interim) message whose "message" goes to the
 * client as it is. The broker's own error replies (no route, timeout, an
 * upstream gone) become JSON-RPC errors for the request's id;
 * notifications/cancelled cancels the request, and it gets no response,
 * as the specification asks. */
#ifndef AB_WS_RPC_PEER_H
#define AB_WS_RPC_PEER_H

#include <stddef.h>

#include <agentbus/types.h>

#include "websocket.h"

struct conn;
struct listener;
struct rpc_peer;

/* Registered as an agent at once. NULL (logged) when it cannot be. */
struct rpc_peer *rpc_peer_open(struct listener *l, struct conn *c);

/* A text message arrived (over the connection's rate when limited). */
void rpc_peer_on_text(struct rpc_peer *p, const char *data, size_t len, bool limited);

/* The connection is going away: the agent goes, and its requests with it. */
void rpc_peer_close(struct rpc_peer *p);

/* The broker delivers msg to this peer's agent. */
int rpc_peer_deliver(struct rpc_peer *p, ab_msg *msg, unsigned flags);

#endif
