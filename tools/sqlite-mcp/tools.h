/* The tools of the bundled SQLite MCP server, with the TiDB MCP server's
 * names and arguments (so one translator config serves both): a data
 * folder of SQLite files is the "cluster", each NAME.db a database.
 *   show_databases            [{"Database": NAME}, ...]
 *   switch_database(db_name)  null; this session's queries use NAME from now on
 *   show_tables               [TABLE, ...] of the current database
 *   db_query(sql_stmt)        [{COLUMN: VALUE, ...}, ...]; one read-only statement
 *   db_execute(sql_stmts)     [{"rowcount", "success", "message"}, ...]; a string or
 *                             an array of them, all in one transaction */
#ifndef AB_SQLITE_MCP_TOOLS_H
#define AB_SQLITE_MCP_TOOLS_H

#include <sqlite3.h>
#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

struct catalog {
	char *dir;
	char current[65]; /* the database in use */
	sqlite3 *db;
};

/* Open the folder (made, with the demo databases, when it has none) and
 * the default database. Returns 0, or -1 with the reason on stderr. */
int catalog_open(struct catalog *c, const char *dir, const char *database);
void catalog_close(struct catalog *c);

/* Write the tools/list result. */
void tools_list(ab_json *g);

/* Write the tools/call result of tool `name`. Returns 0, or -1 for a tool
 * that does not exist (a JSON-RPC error, not a tool error). */
int tools_call(struct catalog *c, const char *name, yajl_val arguments, ab_json *g);

#endif
