/* query_mcp: translates the frontend protocol's requests into MCP tool calls
 * and the results back into its replies (docs/protocol.md), per route:
 *
 *   [route:query]
 *   source = frontend_*
 *   type = query
 *   destination = sqlite_mcp_*
 *   translator = query_mcp
 *   tool = db_query
 *   arguments = {"sql_stmt": "$.query"}
 *   shape = query                  ; query | databases | database_select | database_context
 *   reply_type = query_response
 *   error_reply = query_error
 *   interim = query_processing_started, query_progress
 *
 * "$.field" in arguments stands for the request's field (services->
 * gen_template; a field the request lacks is left out). Results
 * are read from structuredContent {"result": ...} or, failing that, from
 * the first text content as JSON. Pure: no I/O; what it remembers (each
 * session_id's database, each request's start) is in its state. */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <agentbus/plugin.h>
#include <agentbus/services.h>
#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

enum shape { SHAPE_QUERY, SHAPE_DATABASES, SHAPE_SELECT, SHAPE_CONTEXT, SHAPE_TOOLS };

static const struct ab_option route_options[] = {
	{ "method", AB_OPT_ENUM, "tools/call", 0, 0, 0, "tools/call|tools/list",
	  "the MCP method: call a tool, or list the tools (shape = tools)" },
	{ "tool", AB_OPT_STRING, NULL, 0, 0, 0, NULL, "the MCP tool to call (tools/call)" },
	{ "arguments", AB_OPT_JSON, "{}", 0, 0, 0, NULL,
	  "the tool's arguments: a JSON object template; \"$.field\" stands for the request's field" },
	{ "shape", AB_OPT_ENUM, "query", 0, 0, 0, "query|databases|database_select|database_context|tools",
	  "how the result becomes the reply" },
	{ "then_tool", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "database_select: the tool listing the selected database's tables (show_tables), "
	  "called after the switch for the reply's tables and table_count" },
	{ "session_tool", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "on an upstream session shared by all: the tool that selects a database (switch_database), "
	  "called first whenever the request's session_id has selected one" },
	{ "default_database", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "with session_tool: the database for requests whose session selected none (unset: the "
	  "upstream's current one)" },
	{ "session_arguments", AB_OPT_JSON, "{\"db_name\": \"$.database\"}", 0, 0, 0, NULL,
	  "session_tool's arguments: \"$.database\" is the session's database" },
	{ "rows", AB_OPT_STRING, "$", 0, 0, 0, NULL,
	  "where the tool's value keeps the rows (or databases, or tables): \"$\" is the value itself, "
	  "\"$.data\" its member data" },
	{ "reply_type", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL, "the reply's type" },
	{ "started_type", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "an interim reply sent at once (query_processing_started)" },
	{ "progress_type", AB_OPT_STRING, "query_progress", 0, 0, 0, NULL,
	  "the type MCP progress becomes" },
	AB_OPTION_END,
};

/* What one session selected (session state is keyed by session_id). */
struct selection {
	struct selection *next;
	char *session_id, *database;
	char selected_at[AB_TIMESTAMP_LEN];
};

/* When a request went out, for processing_time_ms, and whether its first
 * leg re-selects its session's database. Keyed by request_key. */
struct started {
	struct started *next;
	char *key;
	struct timespec at;
	bool reselected;
};

struct translator {
	ab_instance *self;
	const struct ab_services *svc;
	struct selection *selections;
	struct started *started;
};

struct route_state {
	bool list_tools; /* method = tools/list */
	char *tool, *then_tool, *session_tool, *default_database, *reply_type, *started_type, *progress_type;
	char *rows; /* the reference to the rows in the tool's value */
	enum shape shape;
	yajl_val arguments;         /* the template */
	yajl_val session_arguments; /* session_tool's, over {"database": the session's} */
};

/* ---- small helpers ------------------------------------------------------------ */

static yajl_val member(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

static const char *member_string(yajl_val v, const char *key)
{
	yajl_val m = member(v, key);
	return m && YAJL_IS_STRING(m) ? YAJL_GET_STRING(m) : NULL;
}

static ab_msg *build(struct translator *tr, ab_json *g)
{
	ab_msg *msg = tr->svc->msg_build(g, NULL);
	ab_json_free(g);
	return msg;
}

static const struct selection *selection_of(struct translator *tr, const char *session_id)
{
	for (struct selection *s = tr->selections; session_id && s; s = s->next) {
		if (strcmp(s->session_id, session_id) == 0)
			return s;
	}
	return NULL;
}

/* Anyone may select for a new session_id (the HTTP API makes one per
 * select without one): the newest MAX_SELECTIONS are kept. */
#define MAX_SELECTIONS 10000

static void forget_oldest_selections(struct translator *tr)
{
	size_t n = 0;
	for (struct selection **link = &tr->selections; *link; n++) {
		if (n + 1 < MAX_SELECTIONS) {
			link = &(*link)->next;
			continue;
		}
		struct selection *old = *link;
		*link = old->next;
		free(old->session_id);
		free(old->database);
		free(old);
	}
}

static void select_database(struct translator *tr, const char *session_id, const char *database)
{
	struct selection *s = (struct selection *)selection_of(tr, session_id);
	if (!s) {
		forget_oldest_selections(tr);
		s = calloc(1, sizeof *s);
		if (!s || !(s->session_id = strdup(session_id))) {
			free(s);
			return;
		}
		s->next = tr->selections;
		tr->selections = s;
	}
	free(s->database);
	s->database = strdup(database);
	tr->svc->timestamp(s->selected_at);
}

/* Requests the core ended without a reply passing here (a timeout, a
 * cancel) leave their entry: the list is kept to this many, newest first. */
#define MAX_STARTED 4096

/* A request in flight is known by its requester and correlation id: two
 * frontends may well both send correlation_id "1". */
#define REQUEST_KEY_LEN 400
static void request_key(const struct ab_services *svc, ab_msg *request, char out[REQUEST_KEY_LEN])
{
	/* source, 0x1f, correlation id: cut to fit, as snprintf would */
	const char *source = svc->msg_source(request), *cid = svc->msg_correlation_id(request);
	size_t source_len = strnlen(source, REQUEST_KEY_LEN - 2);
	size_t cid_len = strnlen(cid, REQUEST_KEY_LEN - 2 - source_len);
	memcpy(out, source, source_len);
	out[source_len] = '\x1f';
	memcpy(out + source_len + 1, cid, cid_len);
	out[source_len + 1 + cid_len] = '\0';
}

static double take_elapsed(struct translator *tr, const char *key);

static void mark_started(struct translator *tr, const char *key, bool reselected)
{
	take_elapsed(tr, key); /* a requester's id used again after its request ended */
	size_t n = 0;
	for (struct started **link = &tr->started; *link; n++) {
		if (n >= MAX_STARTED) {
			struct started *old = *link;
			*link = old->next;
			free(old->key);
			free(old);
		} else {
			link = &(*link)->next;
		}
	}
	struct started *s = calloc(1, sizeof *s);
	if (!s || !(s->key = strdup(key))) {
		free(s);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &s->at);
	s->reselected = reselected;
	s->next = tr->started;
	tr->started = s;
}

static bool was_reselected(const struct translator *tr, const char *key)
{
	for (const struct started *s = tr->started; s; s = s->next) {
		if (strcmp(s->key, key) == 0)
			return s->reselected;
	}
	return false;
}

/* Milliseconds since the request went out (and forget it); -1 if unknown. */
static double take_elapsed(struct translator *tr, const char *key)
{
	for (struct started **link = &tr->started; *link; link = &(*link)->next) {
		struct started *s = *link;
		if (strcmp(s->key, key) != 0)
			continue;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		double ms = (double)(now.tv_sec - s->at.tv_sec) * 1e3 + (double)(now.tv_nsec - s->at.tv_nsec) / 1e6;
		*link = s->next;
		free(s->key);
		free(s);
		return ms;
	}
	return -1;
}

/* Answer (an interim reply) with a message of this type holding the
 * members named in keys (NULL-terminated) that `from` has. */
static void reply_with(struct translator *tr, ab_translation *t, const char *type, yajl_val from,
                       const char *const *keys)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, type);
	for (size_t i = 0; keys[i]; i++) {
		yajl_val v = member(from, keys[i]);
		if (v) {
			ab_json_str(g, keys[i]);
			tr->svc->gen_tree(g, v);
		}
	}
	ab_json_map_close(g);
	ab_msg *out = build(tr, g);
	if (out)
		tr->svc->translation_reply(t, out);
	tr->svc->msg_unref(out);
}

/* ---- the request: a tools/call ---------------------------------------------------- */

/* Forward an mcp_request: tools/call of `tool` with the arguments template
 * filled from `from`, or tools/list when tool is NULL. */
/* The database a request works in: the one a database_select names, else
 * the one its session selected, else the route's default_database. */
static const char *session_database(struct translator *tr, const struct route_state *rs, yajl_val request)
{
	if (rs->shape == SHAPE_SELECT)
		return member_string(request, "database_name");
	const struct selection *sel = selection_of(tr, member_string(request, "session_id"));
	return sel ? sel->database : rs->default_database;
}

static int forward_call(struct translator *tr, ab_translation *t, const char *tool, yajl_val arguments,
                        yajl_val from)
{
	const struct ab_services *svc = tr->svc;
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, "mcp_request");
	ab_json_str(g, "method");
	ab_json_str(g, tool ? "tools/call" : "tools/list");
	ab_json_str(g, "params");
	ab_json_map_open(g);
	if (tool) {
		ab_json_str(g, "name");
		ab_json_str(g, tool);
		ab_json_str(g, "arguments");
		if (arguments) {
			svc->gen_template(g, arguments, from);
		} else {
			ab_json_map_open(g);
			ab_json_map_close(g);
		}
	}
	ab_json_map_close(g);
	/* The frontend session it is for, and the database it works in: an
	 * upstream in isolated mode gives each its own MCP session, and may
	 * start that session's server on the database (session_env). */
	yajl_val request = svc->msg_tree(svc->translation_request(t));
	const char *session = member_string(request, "session_id");
	const char *database = session_database(tr, svc->translation_route_state(t), request);
	if (session) {
		ab_json_str(g, "session");
		ab_json_str(g, session);
	}
	if (session && database) {
		ab_json_str(g, "session_database");
		ab_json_str(g, database);
	}
	ab_json_map_close(g);
	ab_msg *call = build(tr, g);
	if (!call)
		return -1;
	int rc = svc->translation_forward(t, call);
	svc->msg_unref(call);
	return rc;
}

static int translate_request(struct translator *tr, const struct route_state *rs, ab_translation *t)
{
	const struct ab_services *svc = tr->svc;
	ab_msg *in = svc->translation_input(t);
	yajl_val request = svc->msg_tree(in);
	const char *name = member_string(request, "database_name");
	if (rs->shape == SHAPE_SELECT && (!name || !name[strspn(name, " \t")]))
		return svc->translation_fail(t, AB_ERR_INVALID_MESSAGE, "database_select needs a database_name");
	if (rs->started_type) {
		static const char *const echoed[] = { "query", "session_id", "query_id", NULL };
		reply_with(tr, t, rs->started_type, request, echoed);
	}
	/* On an upstream session shared by every frontend, the database is
	 * whichever was switched to last: put this session's back first. */
	const struct selection *sel = rs->session_tool ? selection_of(tr, member_string(request, "session_id")) : NULL;
	/* A session that selected nothing gets the default, not whatever
	 * another session switched the shared upstream to last. */
	const char *database = sel ? sel->database : rs->session_tool ? rs->default_database : NULL;
	if (database) {
		ab_json *g = ab_json_new();
		ab_json_map_open(g);
		ab_json_pair(g, "database", database);
		ab_json_map_close(g);
		size_t len;
		const char *text = ab_json_output(g, &len); /* NUL-terminated */
		yajl_val root = text ? yajl_tree_parse(text, NULL, 0) : NULL;
		ab_json_free(g);
		int rc = root ? forward_call(tr, t, rs->session_tool, rs->session_arguments, root) : -1;
		yajl_tree_free(root);
		if (rc < 0)
			return -1;
	} else if (forward_call(tr, t, rs->list_tools ? NULL : rs->tool, rs->arguments, request) < 0) {
		return -1;
	}
	char key[REQUEST_KEY_LEN];
	request_key(svc, in, key);
	mark_started(tr, key, database != NULL);
	return 0;
}

/* ---- the reply ------------------------------------------------------------------- */

/* The tool's value: structuredContent.result, else the first text content
 * parsed as JSON (the caller frees *owned). */
static yajl_val tool_value(yajl_val result, yajl_val *owned)
{
	*owned = NULL;
	yajl_val structured = member(result, "structuredContent");
	if (structured) {
		yajl_val inner = member(structured, "result");
		return inner ? inner : structured;
	}
	yajl_val content = member(result, "content");
	for (size_t i = 0; content && YAJL_IS_ARRAY(content) && i < content->u.array.len; i++) {
		yajl_val item = content->u.array.values[i];
		const char *type = member_string(item, "type"), *text = member_string(item, "text");
		if (type && strcmp(type, "text") == 0 && text) {
			*owned = yajl_tree_parse(text, NULL, 0);
			return *owned;
		}
	}
	return NULL;
}

static const char *error_text(yajl_val result)
{
	yajl_val content = member(result, "content");
	if (content && YAJL_IS_ARRAY(content) && content->u.array.len)
		return member_string(content->u.array.values[0], "text");
	return NULL;
}

static void gen_query_reply(struct translator *tr, ab_json *g, yajl_val rows, yajl_val request,
                            const char *cid, const char *key)
{
	const struct ab_services *svc = tr->svc;
	yajl_val qid = member(request, "query_id");
	char fallback[96];
	if (!qid)
		snprintf(fallback, sizeof fallback, "q-%s", cid);
	ab_json_str(g, "query_id");
	if (qid)
		svc->gen_tree(g, qid);
	else
		ab_json_str(g, fallback);
	ab_json_str(g, "response");
	ab_json_map_open(g);
	ab_json_str(g, "query_id");
	if (qid)
		svc->gen_tree(g, qid);
	else
		ab_json_str(g, fallback);
	/* Deployed frontends read response.data: the same rows as result.data. */
	ab_json_str(g, "data");
	svc->gen_tree(g, rows);
	ab_json_str(g, "result");
	ab_json_map_open(g);
	ab_json_str(g, "data");
	svc->gen_tree(g, rows);
	ab_json_str(g, "columns");
	ab_json_array_open(g);
	yajl_val first = rows && YAJL_IS_ARRAY(rows) && rows->u.array.len ? rows->u.array.values[0] : NULL;
	for (size_t i = 0; first && YAJL_IS_OBJECT(first) && i < first->u.object.len; i++)
		ab_json_str(g, first->u.object.keys[i]);
	ab_json_array_close(g);
	ab_json_str(g, "row_count");
	ab_json_integer(g, rows && YAJL_IS_ARRAY(rows) ? (long long)rows->u.array.len : 0);
	ab_json_str(g, "sql_query");
	yajl_val sql = member(request, "query");
	svc->gen_tree(g, sql);
	ab_json_str(g, "processing_time_ms");
	/* milliseconds to a tenth, "%.1f" by hand */
	double ms = take_elapsed(tr, key);
	long long tenths = ms > 0 && ms < 1e12 ? (long long)(ms * 10.0 + 0.5) : 0;
	char number[24];
	size_t n = ab_json_digits(number, tenths / 10);
	number[n++] = '.';
	number[n++] = (char)('0' + tenths % 10);
	ab_json_raw(g, number, n);
	ab_json_map_close(g);
	ab_json_map_close(g);
}

static void gen_databases_reply(ab_json *g, yajl_val rows)
{
	ab_json_str(g, "databases");
	ab_json_array_open(g);
	for (size_t i = 0; rows && YAJL_IS_ARRAY(rows) && i < rows->u.array.len; i++) {
		yajl_val row = rows->u.array.values[i];
		/* SHOW DATABASES rows ({"Database": name}), rows with a name, or
		 * plain names. */
		const char *name = YAJL_IS_STRING(row)             ? YAJL_GET_STRING(row)
		                 : member_string(row, "Database") ? member_string(row, "Database")
		                                                  : member_string(row, "name");
		if (!name)
			continue;
		ab_json_map_open(g);
		ab_json_str(g, "name");
		ab_json_str(g, name);
		static const char *const extra[] = { "charset", "collation" };
		for (size_t k = 0; k < 2; k++) {
			ab_json_str(g, extra[k]);
			const char *v = YAJL_IS_OBJECT(row) ? member_string(row, extra[k]) : NULL;
			if (v)
				ab_json_str(g, v);
			else
				ab_json_null(g); /* the server does not say */
		}
		ab_json_str(g, "accessible");
		ab_json_bool(g, 1);
		ab_json_map_close(g);
	}
	ab_json_array_close(g);
}

/* A table in a tool's list: a name, or a row with a name. */
static const char *table_name(yajl_val t)
{
	return YAJL_IS_STRING(t) ? YAJL_GET_STRING(t) : member_string(t, "name");
}

/* How many of a list's entries are tables (have a name). */
static size_t named_tables(yajl_val tables)
{
	size_t n = 0;
	for (size_t i = 0; tables && YAJL_IS_ARRAY(tables) && i < tables->u.array.len; i++)
		n += table_name(tables->u.array.values[i]) != NULL;
	return n;
}

/* tables: the then_tool's list (names, or rows with a name), or NULL when
 * the route lists none. */
static void gen_select_reply(struct translator *tr, ab_json *g, yajl_val request, yajl_val tables)
{
	const char *db = member_string(request, "database_name");
	const char *session = member_string(request, "session_id");
	if (db && session)
		select_database(tr, session, db);
	ab_json_str(g, "response");
	ab_json_map_open(g);
	ab_json_str(g, "success");
	ab_json_bool(g, 1);
	ab_json_str(g, "database_name");
	if (db)
		ab_json_str(g, db);
	else
		ab_json_null(g);
	ab_json_str(g, "session_id");
	if (session)
		ab_json_str(g, session);
	else
		ab_json_null(g);
	bool listed = tables && YAJL_IS_ARRAY(tables);
	ab_json_str(g, "table_count");
	if (listed)
		ab_json_integer(g, (long long)named_tables(tables));
	else
		ab_json_null(g);
	ab_json_str(g, "schema_initialized");
	ab_json_bool(g, listed);
	ab_json_str(g, "tables");
	ab_json_array_open(g);
	for (size_t i = 0; listed && i < tables->u.array.len; i++) {
		yajl_val t = tables->u.array.values[i];
		const char *name = table_name(t);
		const char *type = YAJL_IS_OBJECT(t) ? member_string(t, "type") : NULL;
		if (!name)
			continue;
		ab_json_map_open(g);
		ab_json_str(g, "name");
		ab_json_str(g, name);
		ab_json_str(g, "type");
		ab_json_str(g, type ? type : "table");
		ab_json_map_close(g);
	}
	ab_json_array_close(g);
	ab_json_str(g, "message");
	char text[160];
	snprintf(text, sizeof text, "Switched to database '%s'", db ? db : "");
	ab_json_str(g, text);
	ab_json_map_close(g);
}

static void gen_context_reply(struct translator *tr, ab_json *g, yajl_val tables, yajl_val request)
{
	const char *session = member_string(request, "session_id");
	const struct selection *sel = selection_of(tr, session);
	ab_json_str(g, "context_available");
	ab_json_bool(g, sel != NULL);
	ab_json_str(g, "database_context");
	if (!sel) {
		ab_json_null(g); /* this session selected nothing */
	} else {
		ab_json_map_open(g);
		ab_json_str(g, "database_name");
		ab_json_str(g, sel->database);
		ab_json_str(g, "schema_initialized");
		ab_json_bool(g, 1);
		ab_json_str(g, "total_tables");
		ab_json_integer(g, (long long)named_tables(tables));
		ab_json_str(g, "table_names");
		ab_json_array_open(g);
		for (size_t i = 0; tables && YAJL_IS_ARRAY(tables) && i < tables->u.array.len; i++) {
			const char *name = table_name(tables->u.array.values[i]);
			if (name)
				ab_json_str(g, name);
		}
		ab_json_array_close(g);
		ab_json_str(g, "selected_at");
		ab_json_str(g, sel->selected_at);
		ab_json_str(g, "session_id");
		ab_json_str(g, sel->session_id);
		ab_json_map_close(g);
	}
	ab_json_str(g, "session_id");
	if (session)
		ab_json_str(g, session);
	else
		ab_json_null(g);
}

static int translate_reply(struct translator *tr, const struct route_state *rs, ab_translation *t)
{
	const struct ab_services *svc = tr->svc;
	ab_msg *in = svc->translation_input(t);
	ab_msg *req = svc->translation_request(t);
	const char *type = svc->msg_type(in);
	yajl_val reply = svc->msg_tree(in), request = svc->msg_tree(req);
	const char *cid = svc->msg_correlation_id(req);
	char key[REQUEST_KEY_LEN];
	request_key(svc, req, key);
	if (strcmp(type, "mcp_progress") == 0) {
		static const char *const keys[] = { "progress", "total", "message", NULL };
		reply_with(tr, t, rs->progress_type, reply, keys);
		return 0;
	}
	if (strcmp(type, "mcp_error") == 0) {
		take_elapsed(tr, key);
		yajl_val error = member(reply, "error");
		const char *kind = member_string(error, "error_type"), *text = member_string(error, "message");
		return svc->translation_fail(t, kind ? kind : AB_ERR_UPSTREAM_ERROR, text ? text : "upstream error");
	}
	yajl_val result = member(reply, "result");
	yajl_val is_error = member(result, "isError");
	if (is_error && YAJL_IS_TRUE(is_error)) {
		take_elapsed(tr, key);
		const char *text = error_text(result);
		return svc->translation_fail(t, AB_ERR_TOOL_ERROR, text ? text : "the tool failed");
	}
	/* The legs: [the session's database back,] the tool, [then_tool]. */
	unsigned step = svc->translation_step(t), main_step = was_reselected(tr, key) ? 2 : 1;
	if (step < main_step) /* the session's database is back: now the call */
		return forward_call(tr, t, rs->list_tools ? NULL : rs->tool, rs->arguments, request);
	if (rs->shape == SHAPE_SELECT && rs->then_tool && step == main_step)
		return forward_call(tr, t, rs->then_tool, NULL, NULL); /* switched: now its tables */
	yajl_val owned;
	yajl_val value = svc->tree_path(tool_value(result, &owned), rs->rows);
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, rs->reply_type);
	switch (rs->shape) {
	case SHAPE_QUERY:
		gen_query_reply(tr, g, value, request, cid, key);
		break;
	case SHAPE_DATABASES:
		take_elapsed(tr, key);
		gen_databases_reply(g, value);
		break;
	case SHAPE_SELECT:
		take_elapsed(tr, key);
		/* The tables: then_tool's list, or the tool's own when it gives one
		 * (an SQL server's listing of the tables it is connected to). */
		gen_select_reply(tr, g, request, value);
		break;
	case SHAPE_CONTEXT:
		take_elapsed(tr, key);
		gen_context_reply(tr, g, value, request);
		break;
	case SHAPE_TOOLS:
		/* {"agents": [{"agent_id": the upstream, "tools": [...]}]} */
		take_elapsed(tr, key);
		ab_json_str(g, "agents");
		ab_json_array_open(g);
		ab_json_map_open(g);
		ab_json_str(g, "agent_id");
		ab_json_str(g, svc->msg_source(in));
		ab_json_str(g, "tools");
		svc->gen_tree(g, member(result, "tools"));
		ab_json_map_close(g);
		ab_json_array_close(g);
		break;
	}
	ab_json_map_close(g);
	yajl_tree_free(owned);
	ab_msg *out = build(tr, g);
	if (!out)
		return -1;
	svc->translation_reply(t, out);
	svc->msg_unref(out);
	return 0;
}

/* ---- the plugin ------------------------------------------------------------------------ */

static int query_mcp_translate(void *state, ab_translation *t)
{
	struct translator *tr = state;
	const struct route_state *rs = tr->svc->translation_route_state(t);
	return tr->svc->translation_is_reply(t) ? translate_reply(tr, rs, t) : translate_request(tr, rs, t);
}

static void free_route(struct route_state *rs)
{
	free(rs->tool);
	free(rs->then_tool);
	free(rs->session_tool);
	free(rs->default_database);
	yajl_tree_free(rs->session_arguments);
	free(rs->reply_type);
	free(rs->started_type);
	free(rs->progress_type);
	free(rs->rows);
	yajl_tree_free(rs->arguments);
	free(rs);
}

static int query_mcp_route_attach(void *state, const ab_route *route, void **route_state)
{
	struct translator *tr = state;
	const struct ab_services *svc = tr->svc;
	struct route_state *rs = calloc(1, sizeof *rs);
	if (!rs)
		return -1;
	const char *started = svc->route_string(route, "started_type");
	const char *tool = svc->route_string(route, "tool");
	rs->list_tools = svc->route_int(route, "method") == 1;
	if (!rs->list_tools && !tool) {
		svc->log(tr->self, AB_LOG_ERROR, "[route:%s] tool: required with method = tools/call",
		         svc->route_name(route));
		free(rs);
		return -1;
	}
	rs->tool = tool ? strdup(tool) : NULL;
	const char *then_tool = svc->route_string(route, "then_tool");
	rs->then_tool = then_tool ? strdup(then_tool) : NULL;
	const char *session_tool = svc->route_string(route, "session_tool");
	rs->session_tool = session_tool ? strdup(session_tool) : NULL;
	const char *default_database = svc->route_string(route, "default_database");
	rs->default_database = default_database ? strdup(default_database) : NULL;
	rs->session_arguments = yajl_tree_parse(svc->route_string(route, "session_arguments"), NULL, 0);
	rs->reply_type = strdup(svc->route_string(route, "reply_type"));
	rs->started_type = started ? strdup(started) : NULL;
	rs->progress_type = strdup(svc->route_string(route, "progress_type"));
	rs->rows = strdup(svc->route_string(route, "rows"));
	rs->shape = (enum shape)svc->route_int(route, "shape");
	char error[128] = "";
	rs->arguments = yajl_tree_parse(svc->route_string(route, "arguments"), error, sizeof error);
	if (!rs->arguments || !YAJL_IS_OBJECT(rs->arguments)) {
		char *nl = strchr(error, '\n');
		if (nl)
			*nl = '\0';
		svc->log(tr->self, AB_LOG_ERROR, "[route:%s] arguments: not a JSON object%s%s", svc->route_name(route),
		         *error ? ": " : "", error);
		free_route(rs);
		return -1;
	}
	if (rs->rows[0] != '$' || (rs->rows[1] && rs->rows[1] != '.')) {
		svc->log(tr->self, AB_LOG_ERROR, "[route:%s] rows: give \"$\" or a path such as \"$.data\"",
		         svc->route_name(route));
		free_route(rs);
		return -1;
	}
	*route_state = rs;
	return 0;
}

static void query_mcp_route_detach(void *state, void *route_state)
{
	free_route(route_state);
}

static int query_mcp_init(ab_instance *self, const struct ab_services *svc, void **state)
{
	struct translator *tr = calloc(1, sizeof *tr);
	if (!tr)
		return -1;
	tr->self = self;
	tr->svc = svc;
	*state = tr;
	return 0;
}

static void query_mcp_destroy(void *state)
{
	struct translator *tr = state;
	while (tr->selections) {
		struct selection *s = tr->selections;
		tr->selections = s->next;
		free(s->session_id);
		free(s->database);
		free(s);
	}
	while (tr->started) {
		struct started *s = tr->started;
		tr->started = s->next;
		free(s->key);
		free(s);
	}
	free(tr);
}

AB_PLUGIN_DEFINE(AB_PLUGIN_TRANSLATOR, "query_mcp", PACKAGE_VERSION,
                 "frontend requests to MCP tool calls and back", NULL, route_options,
                 .init = query_mcp_init, .destroy = query_mcp_destroy,
                 .translate = query_mcp_translate, .route_attach = query_mcp_route_attach,
                 .route_detach = query_mcp_route_detach);
