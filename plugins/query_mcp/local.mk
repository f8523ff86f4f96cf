# The query translator: frontend requests to MCP tool calls and back.
plugin_LTLIBRARIES += plugins/query_mcp/query_mcp.la
plugins_query_mcp_query_mcp_la_SOURCES = plugins/query_mcp/query_mcp.c
plugins_query_mcp_query_mcp_la_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS)
plugins_query_mcp_query_mcp_la_LDFLAGS = $(MODULE_FLAGS)
plugins_query_mcp_query_mcp_la_LIBADD = $(YAJL_LIBS)
