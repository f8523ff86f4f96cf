/* The legacy WebSocket dialect of the MCP servers deployed before
 * agentbus (the TiDB WebSocket server): after the event handshake, each
 * request is {"type":"request","request_id","method":TOOL,"params":ARGS},
 * answered by {"type":"response","request_id","payload":RESULT} or
 * {"type":"error","error_type","error","request_id"}; {"type":"ping"} is
 * answered by {"type":"pong"}; the server may send {"type":"event",...}.
 *
 * The WebSocket link speaks it on the client's behalf, so everything above
 * the link (the lifecycle, the tool cache, the translators) sees an MCP
 * server: tools/call becomes a request for the tool, its payload comes back
 * as a tools/call result (the payload as JSON text and as
 * structuredContent; isError when the payload says "success": false);
 * initialize and tools/list, which the dialect lacks, are answered here
 * (tools/list from the configured tool names). A pure codec: no I/O, so it
 * is unit-tested and fuzzed on its own. */
#ifndef AB_MCP_LEGACY_H
#define AB_MCP_LEGACY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

typedef void (*legacy_gen_tree)(ab_json *g, yajl_val value);

struct legacy {
	char **tools; /* the names tools/list answers with */
	size_t n_tools;
	int64_t *pings; /* our JSON-RPC pings awaiting a pong, oldest first */
	size_t n_pings;
	legacy_gen_tree gen_tree;
};

/* tools_json: a JSON array of tool names, or NULL for none. 0, or -1 when
 * it is not such an array. */
int legacy_init(struct legacy *lg, const char *tools_json, legacy_gen_tree gen_tree);
void legacy_free(struct legacy *lg);

/* A new connection: pongs on it answer none of the old one's pings. */
void legacy_reset(struct legacy *lg);

/* A JSON-RPC message the client sends. Sets *envelope to what goes to the
 * server, or *answer to the JSON-RPC answer the dialect gives itself, or
 * neither (a notification or response the server has no use for). Both
 * are allocated, NUL-terminated, the caller's to free. False when a
 * request got neither (out of memory): it cannot be sent. */
bool legacy_from_client(struct legacy *lg, const char *msg, size_t len, char **envelope, char **answer);

/* A message from the server. Returns the JSON-RPC message it means for the
 * client (allocated, NUL-terminated), or NULL when it means nothing to it
 * (an event, a stray pong or response); *why then says what it was, for the
 * log, or is NULL for what is routinely ignored. */
char *legacy_from_server(struct legacy *lg, const char *msg, size_t len, const char **why);

#endif
