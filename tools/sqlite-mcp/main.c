/* agentbus-sqlite-mcp: an MCP server on stdio over SQLite files, with the
 * TiDB MCP server's tools (tools.h), so the broker's default config works
 * on a machine with no database server. Protocol versions 2025-11-25,
 * 2025-06-18 and 2025-03-26. Logs go to stderr (the broker's log). */
#include "build-config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input.h"
#include "jsonrpc.h"
#include "tools.h"

static const char *const versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", NULL };

static struct input input;

/* The request a tool is running for, while SQLite asks whether to go on. */
struct running {
	yajl_val id;
	bool cancelled;
};

/* SQLite's progress handler: stop when the client cancelled the request
 * (it will not read the answer, and a long query would hold up the rest). */
static int still_wanted(void *arg)
{
	struct running *r = arg;
	if (!r->cancelled && input_cancelled(&input, r->id))
		r->cancelled = true;
	return r->cancelled;
}

static const char *tree_string(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val s = v ? yajl_tree_get(v, path, yajl_t_string) : NULL;
	return s ? YAJL_GET_STRING(s) : NULL;
}

static yajl_val tree_member(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

static void initialize(yajl_val id, yajl_val params)
{
	/* The client's version when we speak it, else our newest (the client
	 * then decides whether to go on). */
	const char *asked = tree_string(params, "protocolVersion");
	const char *version = versions[0];
	for (size_t i = 0; asked && versions[i]; i++) {
		if (strcmp(asked, versions[i]) == 0)
			version = versions[i];
	}
	ab_json *g = rpc_result_begin(id);
	ab_json_map_open(g);
	ab_json_pair(g, "protocolVersion", version);
	ab_json_str(g, "capabilities");
	ab_json_map_open(g);
	ab_json_str(g, "tools");
	ab_json_map_open(g);
	ab_json_str(g, "listChanged");
	ab_json_bool(g, 0);
	ab_json_map_close(g);
	ab_json_map_close(g);
	ab_json_str(g, "serverInfo");
	ab_json_map_open(g);
	ab_json_pair(g, "name", "agentbus-sqlite-mcp");
	ab_json_pair(g, "version", PACKAGE_VERSION);
	ab_json_map_close(g);
	ab_json_pair(g, "instructions", "SQLite databases; use show_databases, switch_database, show_tables, "
	                           "db_query (read-only) and db_execute (one transaction).");
	ab_json_map_close(g);
	rpc_send(stdout, g);
}

static void handle(struct catalog *c, yajl_val msg)
{
	yajl_val id = tree_member(msg, "id");
	const char *method = tree_string(msg, "method");
	const char *version = tree_string(msg, "jsonrpc");
	if (!YAJL_IS_OBJECT(msg) || !version || strcmp(version, "2.0") != 0 ||
	    (!method && !tree_member(msg, "result") && !tree_member(msg, "error"))) {
		rpc_error(stdout, id, RPC_INVALID_REQUEST, "not a JSON-RPC 2.0 message");
		return;
	}
	if (!method || !id)
		return; /* a response, or a notification (initialized, cancelled): nothing to answer */
	yajl_val params = tree_member(msg, "params");
	if (strcmp(method, "initialize") == 0) {
		initialize(id, params);
	} else if (strcmp(method, "ping") == 0) {
		ab_json *g = rpc_result_begin(id);
		ab_json_map_open(g);
		ab_json_map_close(g);
		rpc_send(stdout, g);
	} else if (strcmp(method, "tools/list") == 0) {
		ab_json *g = rpc_result_begin(id);
		tools_list(g);
		rpc_send(stdout, g);
	} else if (strcmp(method, "tools/call") == 0) {
		const char *name = tree_string(params, "name");
		ab_json *g = rpc_result_begin(id);
		struct running running = { id, false };
		sqlite3_progress_handler(c->db, 10000, still_wanted, &running);
		int rc = name ? tools_call(c, name, tree_member(params, "arguments"), g) : -1;
		sqlite3_progress_handler(c->db, 0, NULL, NULL);
		if (running.cancelled) { /* no answer to a cancelled request */
			ab_json_free(g);
			fprintf(stderr, "agentbus-sqlite-mcp: request cancelled: the statement was interrupted\n");
			return;
		}
		if (rc < 0) {
			ab_json_free(g);
			char text[160];
			snprintf(text, sizeof text, "Unknown tool: %s", name ? name : "(none)");
			rpc_error(stdout, id, RPC_INVALID_PARAMS, text);
			return;
		}
		rpc_send(stdout, g);
	} else {
		rpc_error(stdout, id, RPC_METHOD_NOT_FOUND, "method not found");
	}
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "data-dir", required_argument, NULL, 'd' },
		{ "database", required_argument, NULL, 'b' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = getenv("AGENTBUS_SQLITE_DIR");
	const char *database = "demo";
	for (int ch; (ch = getopt_long(argc, argv, "d:b:h", longopts, NULL)) != -1;) {
		if (ch == 'd')
			dir = optarg;
		else if (ch == 'b')
			database = optarg;
		else {
			fprintf(ch == 'h' ? stdout : stderr,
			        "Usage: agentbus-sqlite-mcp --data-dir DIR [--database NAME]\n"
			        "An MCP server on stdio over the SQLite files DIR/NAME.db (the demo ones\n"
			        "are made in an empty DIR). DIR defaults to $AGENTBUS_SQLITE_DIR.\n");
			return ch == 'h' ? 0 : 2;
		}
	}
	if (!dir) {
		fprintf(stderr, "agentbus-sqlite-mcp: give --data-dir DIR (or AGENTBUS_SQLITE_DIR)\n");
		return 2;
	}
	struct catalog c;
	if (catalog_open(&c, dir, database) < 0)
		return 1;
	fprintf(stderr, "agentbus-sqlite-mcp: serving %s/%s.db\n", dir, database);
	char *line;
	while ((line = input_next_line(&input))) {
		if (!*line)
			continue;
		char error[128];
		yajl_val msg = yajl_tree_parse(line, error, sizeof error);
		if (!msg)
			rpc_error(stdout, NULL, RPC_PARSE_ERROR, "parse error");
		else
			handle(&c, msg);
		yajl_tree_free(msg);
	}
	input_free(&input);
	catalog_close(&c);
	return 0;
}
