# The JSON-RPC passthrough translator: MCP clients to an upstream's session.
plugin_LTLIBRARIES += plugins/jsonrpc_mcp/jsonrpc_mcp.la
plugins_jsonrpc_mcp_jsonrpc_mcp_la_SOURCES = plugins/jsonrpc_mcp/jsonrpc_mcp.c
plugins_jsonrpc_mcp_jsonrpc_mcp_la_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS)
plugins_jsonrpc_mcp_jsonrpc_mcp_la_LDFLAGS = $(MODULE_FLAGS)
plugins_jsonrpc_mcp_jsonrpc_mcp_la_LIBADD = $(YAJL_LIBS)
