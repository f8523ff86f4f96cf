#include "build-config.h"

#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <ctype.h>
#include <string.h>
#include <sys/stat.h>

#include "demo.h"
#include "jsonrpc.h"
#include "tools.h"

static bool valid_name(const char *name)
{
	size_t len = strlen(name);
	return len > 0 && len <= 64 &&
	       strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

static int open_database(struct catalog *c, const char *name, char *err, size_t err_len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.db", c->dir, name);
	struct stat st;
	if (!valid_name(name) || stat(path, &st) < 0) {
		snprintf(err, err_len, "Unknown database '%s'", name);
		return -1;
	}
	sqlite3 *db = NULL;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
		snprintf(err, err_len, "cannot open database '%s': %s", name, db ? sqlite3_errmsg(db) : "");
		sqlite3_close(db);
		return -1;
	}
	sqlite3_busy_timeout(db, 5000);
	sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0); /* one database per connection: no ATTACH */
	sqlite3_close(c->db);
	c->db = db;
	snprintf(c->current, sizeof c->current, "%s", name);
	return 0;
}

int catalog_open(struct catalog *c, const char *dir, const char *database)
{
	memset(c, 0, sizeof *c);
	c->dir = strdup(dir);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		fprintf(stderr, "agentbus-sqlite-mcp: cannot make %s: %s\n", dir, strerror(errno));
		return -1;
	}
	if (demo_create_if_empty(dir) < 0)
		return -1;
	char err[256];
	if (open_database(c, database, err, sizeof err) < 0) {
		fprintf(stderr, "agentbus-sqlite-mcp: %s in %s\n", err, dir);
		return -1;
	}
	return 0;
}

void catalog_close(struct catalog *c)
{
	sqlite3_close(c->db);
	free(c->dir);
}

/* ---- tools/list ------------------------------------------------------------- */

static void schema(ab_json *g, const char *prop, const char *type, const char *description)
{
	ab_json_str(g, "inputSchema");
	ab_json_map_open(g);
	ab_json_pair(g, "type", "object");
	ab_json_str(g, "properties");
	ab_json_map_open(g);
	if (prop) {
		ab_json_str(g, prop);
		ab_json_map_open(g);
		if (strcmp(type, "string|array") == 0) {
			ab_json_str(g, "anyOf");
			ab_json_array_open(g);
			ab_json_map_open(g);
			ab_json_pair(g, "type", "string");
			ab_json_map_close(g);
			ab_json_map_open(g);
			ab_json_pair(g, "type", "array");
			ab_json_str(g, "items");
			ab_json_map_open(g);
			ab_json_pair(g, "type", "string");
			ab_json_map_close(g);
			ab_json_map_close(g);
			ab_json_array_close(g);
		} else {
			ab_json_pair(g, "type", type);
		}
		ab_json_pair(g, "description", description);
		ab_json_map_close(g);
	}
	ab_json_map_close(g);
	if (prop) {
		ab_json_str(g, "required");
		ab_json_array_open(g);
		ab_json_str(g, prop);
		ab_json_array_close(g);
	}
	ab_json_map_close(g);
}

static void tool(ab_json *g, const char *name, const char *description, const char *prop,
                 const char *type, const char *prop_description, bool read_only)
{
	ab_json_map_open(g);
	ab_json_pair(g, "name", name);
	ab_json_pair(g, "description", description);
	schema(g, prop, type, prop_description);
	ab_json_str(g, "annotations");
	ab_json_map_open(g);
	ab_json_str(g, "readOnlyHint");
	ab_json_bool(g, read_only);
	ab_json_map_close(g);
	ab_json_map_close(g);
}

void tools_list(ab_json *g)
{
	ab_json_map_open(g);
	ab_json_str(g, "tools");
	ab_json_array_open(g);
	tool(g, "show_databases", "Show all databases", NULL, NULL, NULL, true);
	tool(g, "switch_database", "Switch this session to a database", "db_name", "string",
	     "the database to use", false);
	tool(g, "show_tables", "Show all tables in the current database", NULL, NULL, NULL, true);
	tool(g, "db_query", "Run one read-only SQL statement (SELECT, EXPLAIN, ...) and return its rows",
	     "sql_stmt", "string", "the statement", true);
	tool(g, "db_execute", "Run SQL statements that change data, all in one transaction",
	     "sql_stmts", "string|array", "a statement, or an array of them", false);
	ab_json_array_close(g);
	ab_json_map_close(g);
}

/* ---- results ---------------------------------------------------------------------- */

static void tool_error(ab_json *g, const char *message)
{
	ab_json_map_open(g);
	ab_json_str(g, "content");
	ab_json_array_open(g);
	ab_json_map_open(g);
	ab_json_pair(g, "type", "text");
	ab_json_pair(g, "text", message);
	ab_json_map_close(g);
	ab_json_array_close(g);
	ab_json_str(g, "isError");
	ab_json_bool(g, 1);
	ab_json_map_close(g);
}

/* The CallToolResult for a value built in `value`: the JSON as text content
 * and, parsed back, as structuredContent {"result": value}. */
static void success(ab_json *g, ab_json *value)
{
	size_t len;
	const char *text = ab_json_output(value, &len);
	if (!text) {
		tool_error(g, "the result could not be written (out of memory)");
		return;
	}
	ab_json_map_open(g);
	ab_json_str(g, "content");
	ab_json_array_open(g);
	ab_json_map_open(g);
	ab_json_pair(g, "type", "text");
	ab_json_pair(g, "text", text);
	ab_json_map_close(g);
	ab_json_array_close(g);
	ab_json_str(g, "structuredContent");
	ab_json_map_open(g);
	ab_json_str(g, "result");
	ab_json_raw(g, text, len); /* the same value, as its bytes */
	ab_json_map_close(g);
	ab_json_str(g, "isError");
	ab_json_bool(g, 0);
	ab_json_map_close(g);
}


static const char *string_arg(yajl_val args, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = args ? yajl_tree_get(args, path, yajl_t_string) : NULL;
	return v ? YAJL_GET_STRING(v) : NULL;
}

static void hex_value(ab_json *g, const unsigned char *bytes, size_t n)
{
	char *hex = malloc(n * 2 + 1);
	for (size_t k = 0; hex && k < n; k++)
		snprintf(hex + 2 * k, 3, "%02x", bytes[k]);
	if (hex) {
		hex[2 * n] = '\0';
		ab_json_str(g, hex);
	} else {
		ab_json_null(g);
	}
	free(hex);
}

static void column_value(ab_json *g, sqlite3_stmt *stmt, int i)
{
	switch (sqlite3_column_type(stmt, i)) {
	case SQLITE_INTEGER:
		ab_json_integer(g, sqlite3_column_int64(stmt, i));
		break;
	case SQLITE_FLOAT:
		ab_json_double(g, sqlite3_column_double(stmt, i));
		break;
	case SQLITE_TEXT: {
		/* SQLite keeps whatever bytes it was given as TEXT: what is not
		 * UTF-8 goes as hex, like a BLOB, since JSON cannot carry it. */
		const char *text = (const char *)sqlite3_column_text(stmt, i);
		size_t n = (size_t)sqlite3_column_bytes(stmt, i);
		if (ab_json_utf8_valid(text, n))
			ab_json_string(g, text, n);
		else
			hex_value(g, (const unsigned char *)text, n);
		break;
	}
	case SQLITE_BLOB:
		/* As hex: JSON has no bytes. */
		hex_value(g, sqlite3_column_blob(stmt, i), (size_t)sqlite3_column_bytes(stmt, i));
		break;
	default:
		ab_json_null(g);
	}
}

/* ---- the tools ----------------------------------------------------------------------- */

static void show_databases(struct catalog *c, ab_json *g)
{
	struct dirent **names = NULL;
	int n = scandir(c->dir, &names, NULL, alphasort);
	ab_json *v = ab_json_new();
	ab_json_array_open(v);
	for (int i = 0; i < n; i++) {
		size_t len = strlen(names[i]->d_name);
		if (len > 3 && strcmp(names[i]->d_name + len - 3, ".db") == 0) {
			names[i]->d_name[len - 3] = '\0';
			if (valid_name(names[i]->d_name)) {
				ab_json_map_open(v);
				ab_json_pair(v, "Database", names[i]->d_name);
				ab_json_map_close(v);
			}
		}
		free(names[i]);
	}
	free(names);
	ab_json_array_close(v);
	success(g, v);
	ab_json_free(v);
}

static void switch_database(struct catalog *c, yajl_val args, ab_json *g)
{
	const char *name = string_arg(args, "db_name");
	char err[256];
	if (!name) {
		tool_error(g, "switch_database needs db_name");
		return;
	}
	if (open_database(c, name, err, sizeof err) < 0) {
		tool_error(g, err);
		return;
	}
	ab_json *v = ab_json_new();
	ab_json_null(v);
	success(g, v);
	ab_json_free(v);
}

static void show_tables(struct catalog *c, ab_json *g)
{
	sqlite3_stmt *stmt;
	sqlite3_prepare_v2(c->db, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
	                   -1, &stmt, NULL);
	ab_json *v = ab_json_new();
	ab_json_array_open(v);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		ab_json_str(v, (const char *)sqlite3_column_text(stmt, 0));
	sqlite3_finalize(stmt);
	ab_json_array_close(v);
	success(g, v);
	ab_json_free(v);
}

static bool only_blanks(const char *s)
{
	return s[strspn(s, " \t\r\n;")] == '\0';
}

/* db_query's guard: SQLite calls ATTACH, BEGIN, SAVEPOINT and many
 * PRAGMAs "read-only", but they reach other files, hold locks or change the
 * connection: refused, along with anything that writes. */
static int read_only_authorizer(void *arg, int action, const char *a, const char *b,
                                const char *db, const char *trigger)
{
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_FUNCTION:
	case SQLITE_RECURSIVE:
		return SQLITE_OK;
	default:
		return SQLITE_DENY;
	}
}

/* Does the statement begin (after blanks and comments) with a word that
 * only reads: SELECT, WITH, VALUES or EXPLAIN? (REINDEX, for one, passes
 * both SQLite's read-only verdict and the authorizer.) */
static bool starts_as_query(const char *sql)
{
	for (;;) {
		sql += strspn(sql, " \t\r\n");
		if (strncmp(sql, "--", 2) == 0) {
			sql += strcspn(sql, "\n");
		} else if (strncmp(sql, "/*", 2) == 0) {
			const char *end = strstr(sql + 2, "*/");
			if (!end)
				return false;
			sql = end + 2;
		} else {
			break;
		}
	}
	static const char *const words[] = { "SELECT", "WITH", "VALUES", "EXPLAIN" };
	for (size_t i = 0; i < 4; i++) {
		size_t n = strlen(words[i]);
		if (strncasecmp(sql, words[i], n) == 0 && !isalnum((unsigned char)sql[n]) && sql[n] != '_')
			return true;
	}
	return false;
}

static void db_query(struct catalog *c, yajl_val args, ab_json *g)
{
	const char *sql = string_arg(args, "sql_stmt");
	if (!sql) {
		tool_error(g, "db_query needs sql_stmt");
		return;
	}
	if (!starts_as_query(sql)) {
		tool_error(g, "db_query runs read-only statements only: use db_execute to change data");
		return;
	}
	sqlite3_stmt *stmt = NULL;
	const char *tail = NULL;
	sqlite3_set_authorizer(c->db, read_only_authorizer, NULL);
	int prepared = sqlite3_prepare_v2(c->db, sql, -1, &stmt, &tail);
	sqlite3_set_authorizer(c->db, NULL, NULL);
	if (prepared == SQLITE_AUTH) {
		tool_error(g, "db_query runs read-only statements only: use db_execute to change data");
		sqlite3_finalize(stmt);
		return;
	}
	if (prepared != SQLITE_OK || !stmt) {
		tool_error(g, sqlite3_errmsg(c->db));
		sqlite3_finalize(stmt);
		return;
	}
	if (!only_blanks(tail)) {
		tool_error(g, "db_query runs one statement at a time");
		sqlite3_finalize(stmt);
		return;
	}
	/* Read-only is enforced by SQLite's own verdict on the statement. */
	if (!sqlite3_stmt_readonly(stmt)) {
		tool_error(g, "db_query runs read-only statements only: use db_execute to change data");
		sqlite3_finalize(stmt);
		return;
	}
	ab_json *v = ab_json_new();
	ab_json_array_open(v);
	int rc, columns = sqlite3_column_count(stmt);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		ab_json_map_open(v);
		for (int i = 0; i < columns; i++) {
			ab_json_str(v, sqlite3_column_name(stmt, i));
			column_value(v, stmt, i);
		}
		ab_json_map_close(v);
	}
	ab_json_array_close(v);
	if (rc != SQLITE_DONE)
		tool_error(g, sqlite3_errmsg(c->db));
	else
		success(g, v);
	ab_json_free(v);
	sqlite3_finalize(stmt);
}

/* Run every statement in sql; append a result for each to v. Returns 0, or
 * -1 with the error in err. */
static int execute_all(struct catalog *c, const char *sql, ab_json *v, char *err, size_t err_len)
{
	while (!only_blanks(sql)) {
		sqlite3_stmt *stmt = NULL;
		const char *tail = NULL;
		if (sqlite3_prepare_v2(c->db, sql, -1, &stmt, &tail) != SQLITE_OK) {
			snprintf(err, err_len, "%s", sqlite3_errmsg(c->db));
			return -1;
		}
		if (!stmt)
			break;
		int rc;
		while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
			;
		sqlite3_finalize(stmt);
		if (rc != SQLITE_DONE) {
			snprintf(err, err_len, "%s", sqlite3_errmsg(c->db));
			return -1;
		}
		ab_json_map_open(v);
		ab_json_str(v, "rowcount");
		ab_json_integer(v, sqlite3_changes(c->db));
		ab_json_str(v, "success");
		ab_json_bool(v, 1);
		ab_json_str(v, "message");
		ab_json_null(v);
		ab_json_map_close(v);
		sql = tail;
	}
	return 0;
}

static void db_execute(struct catalog *c, yajl_val args, ab_json *g)
{
	const char *path[] = { "sql_stmts", NULL };
	yajl_val stmts = args ? yajl_tree_get(args, path, yajl_t_any) : NULL;
	if (!stmts || !(YAJL_IS_STRING(stmts) || YAJL_IS_ARRAY(stmts))) {
		tool_error(g, "db_execute needs sql_stmts: a string or an array of strings");
		return;
	}
	ab_json *v = ab_json_new();
	ab_json_array_open(v);
	char err[512] = "";
	int rc = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL) == SQLITE_OK ? 0 : -1;
	if (rc < 0)
		snprintf(err, sizeof err, "%s", sqlite3_errmsg(c->db));
	if (YAJL_IS_STRING(stmts)) {
		if (rc == 0)
			rc = execute_all(c, YAJL_GET_STRING(stmts), v, err, sizeof err);
	} else {
		for (size_t i = 0; rc == 0 && i < stmts->u.array.len; i++) {
			const char *sql = YAJL_GET_STRING(stmts->u.array.values[i]);
			if (!sql) {
				snprintf(err, sizeof err, "sql_stmts[%zu] is not a string", i);
				rc = -1;
			} else {
				rc = execute_all(c, sql, v, err, sizeof err);
			}
		}
	}
	if (rc == 0 && sqlite3_exec(c->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, sizeof err, "%s", sqlite3_errmsg(c->db));
		rc = -1;
	}
	ab_json_array_close(v);
	if (rc < 0) {
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL); /* all or nothing */
		char message[600];
		snprintf(message, sizeof message, "rolled back: %s", err);
		tool_error(g, message);
	} else {
		success(g, v);
	}
	ab_json_free(v);
}

int tools_call(struct catalog *c, const char *name, yajl_val arguments, ab_json *g)
{
	if (strcmp(name, "show_databases") == 0)
		show_databases(c, g);
	else if (strcmp(name, "switch_database") == 0)
		switch_database(c, arguments, g);
	else if (strcmp(name, "show_tables") == 0)
		show_tables(c, g);
	else if (strcmp(name, "db_query") == 0)
		db_query(c, arguments, g);
	else if (strcmp(name, "db_execute") == 0)
		db_execute(c, arguments, g);
	else
		return -1;
	return 0;
}
