# agentbus-sqlite-mcp: the bundled MCP server over SQLite (issue: the
# embedded default upstream), installed as its own program.
bin_PROGRAMS = tools/sqlite-mcp/agentbus-sqlite-mcp
tools_sqlite_mcp_agentbus_sqlite_mcp_SOURCES = \
	tools/sqlite-mcp/main.c \
	tools/sqlite-mcp/input.c tools/sqlite-mcp/input.h \
	tools/sqlite-mcp/jsonrpc.c tools/sqlite-mcp/jsonrpc.h \
	tools/sqlite-mcp/tools.c tools/sqlite-mcp/tools.h \
	tools/sqlite-mcp/demo.c tools/sqlite-mcp/demo.h \
	core/jsonparse.c core/jsonparse.h core/jsontree.c core/jsontree.h
tools_sqlite_mcp_agentbus_sqlite_mcp_CFLAGS = $(AM_CFLAGS) $(YAJL_CFLAGS) $(SQLITE_CFLAGS)
tools_sqlite_mcp_agentbus_sqlite_mcp_LDADD = $(YAJL_LIBS) $(SQLITE_LIBS)
