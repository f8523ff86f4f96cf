# The MCP client transport: one upstream MCP server per instance.
plugin_LTLIBRARIES += plugins/mcp/mcp.la
plugins_mcp_mcp_la_SOURCES = \
	plugins/mcp/mcp.c plugins/mcp/mcp.h \
	plugins/mcp/child.c plugins/mcp/child.h \
	plugins/mcp/tool_cache.c plugins/mcp/tool_cache.h \
	plugins/mcp/link.h plugins/mcp/http_link.c plugins/mcp/http_link.h \
	plugins/mcp/sse.c plugins/mcp/sse.h \
	plugins/mcp/backoff.c plugins/mcp/backoff.h \
	plugins/mcp/client_tls.c plugins/mcp/client_tls.h \
	plugins/mcp/endpoint.c plugins/mcp/endpoint.h \
	plugins/mcp/legacy.c plugins/mcp/legacy.h \
	plugins/mcp/ws_link.c plugins/mcp/ws_link.h \
	plugins/mcp/server_asks.c plugins/mcp/server_asks.h \
	plugins/mcp/sessions.c plugins/mcp/sessions.h \
	plugins/mcp/json.h plugins/mcp/timer.h
plugins_mcp_mcp_la_CFLAGS = $(AM_CFLAGS) -I$(srcdir)/plugins/websocket $(LIBEVENT_CFLAGS) $(YAJL_CFLAGS) $(OPENSSL_CFLAGS)
plugins_mcp_mcp_la_LDFLAGS = $(MODULE_FLAGS)
plugins_mcp_mcp_la_LIBADD = plugins/websocket/libwscodec.la $(LIBEVENT_LIBS) $(YAJL_LIBS) $(OPENSSL_LIBS)
