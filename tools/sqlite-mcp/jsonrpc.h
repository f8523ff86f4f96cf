/* JSON-RPC 2.0 over newline-delimited stdio, the MCP stdio transport, for
 * the bundled SQLite MCP server: read one message per line, write replies
 * and errors. Ids keep their JSON type (string or number). */
#ifndef AB_SQLITE_MCP_JSONRPC_H
#define AB_SQLITE_MCP_JSONRPC_H

#include <stdio.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

/* JSON-RPC error codes. */
#define RPC_PARSE_ERROR -32700
#define RPC_INVALID_REQUEST -32600
#define RPC_METHOD_NOT_FOUND -32601
#define RPC_INVALID_PARAMS -32602
#define RPC_INTERNAL_ERROR -32603

/* Start a reply to the request with this id: the caller writes the result
 * value into the returned generator, then calls rpc_send. */
ab_json *rpc_result_begin(yajl_val id);
void rpc_send(FILE *out, ab_json *g); /* closes the message, writes a line, frees g */

/* An error reply (id may be NULL: then "id": null). */
void rpc_error(FILE *out, yajl_val id, int code, const char *message);

#endif
