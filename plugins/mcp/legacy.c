#include "build-config.h"

#include "legacy.h"
#include "json.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The dialect's request_id is a string; the client's ids are integers (its
 * own, per session), so an all-digit request_id is the integer it stands
 * for, and any other is a string id. */
#define MAX_REQUEST_ID 64

static char *gen_finish(ab_json *g)
{
	const char *buf;
	size_t len;
	char *out = NULL;
	if ((buf = ab_json_output(g, &len)) != NULL)
		out = strndup(buf, len);
	ab_json_free(g);
	return out;
}

int legacy_init(struct legacy *lg, const char *tools_json, legacy_gen_tree gen_tree)
{
	memset(lg, 0, sizeof *lg);
	lg->gen_tree = gen_tree;
	if (!tools_json)
		return 0;
	yajl_val tools = yajl_tree_parse(tools_json, NULL, 0);
	int rc = YAJL_IS_ARRAY(tools) ? 0 : -1;
	size_t n = rc == 0 ? tools->u.array.len : 0;
	lg->tools = n ? calloc(n, sizeof *lg->tools) : NULL;
	if (n && !lg->tools)
		rc = -1;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		yajl_val name = tools->u.array.values[i];
		if (!YAJL_IS_STRING(name) || !(lg->tools[lg->n_tools] = strdup(name->u.string)))
			rc = -1;
		else
			lg->n_tools++;
	}
	yajl_tree_free(tools);
	if (rc < 0)
		legacy_free(lg);
	return rc;
}

void legacy_reset(struct legacy *lg)
{
	lg->n_pings = 0;
}

void legacy_free(struct legacy *lg)
{
	for (size_t i = 0; i < lg->n_tools; i++)
		free(lg->tools[i]);
	free(lg->tools);
	free(lg->pings);
	lg->tools = NULL;
	lg->pings = NULL;
	lg->n_tools = lg->n_pings = 0;
}

/* ---- towards the server ------------------------------------------------------------- */

/* {"jsonrpc":"2.0","id":ID, then the caller's "result" or "error". */
static ab_json *begin_answer(struct legacy *lg, yajl_val id)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "jsonrpc");
	ab_json_str(g, "2.0");
	ab_json_str(g, "id");
	lg->gen_tree(g, id);
	return g;
}

/* "error":{"code","message","data":{"error_type"}}}: the end of an answer. */
static char *finish_error(ab_json *g, int code, const char *message, const char *error_type)
{
	ab_json_str(g, "error");
	ab_json_map_open(g);
	ab_json_str(g, "code");
	ab_json_integer(g, code);
	ab_json_str(g, "message");
	ab_json_str(g, message);
	if (error_type) {
		ab_json_str(g, "data");
		ab_json_map_open(g);
		ab_json_str(g, "error_type");
		ab_json_str(g, error_type);
		ab_json_map_close(g);
	}
	ab_json_map_close(g);
	ab_json_map_close(g);
	return gen_finish(g);
}

/* initialize: the dialect has none (its event handshake, done by then,
 * stands for it). We agree to the version the client asks for. */
static char *initialize_answer(struct legacy *lg, yajl_val id, yajl_val params)
{
	const char *version = tree_string(params, "protocolVersion");
	ab_json *g = begin_answer(lg, id);
	ab_json_str(g, "result");
	ab_json_map_open(g);
	ab_json_str(g, "protocolVersion");
	ab_json_str(g, version ? version : "2025-03-26");
	ab_json_str(g, "capabilities");
	ab_json_map_open(g);
	ab_json_str(g, "tools");
	ab_json_map_open(g);
	ab_json_map_close(g);
	ab_json_map_close(g);
	ab_json_str(g, "serverInfo");
	ab_json_map_open(g);
	ab_json_str(g, "name");
	ab_json_str(g, "legacy WebSocket MCP server");
	ab_json_str(g, "version");
	ab_json_str(g, "unknown");
	ab_json_map_close(g);
	ab_json_map_close(g);
	ab_json_map_close(g);
	return gen_finish(g);
}

static char *tools_answer(struct legacy *lg, yajl_val id)
{
	ab_json *g = begin_answer(lg, id);
	ab_json_str(g, "result");
	ab_json_map_open(g);
	ab_json_str(g, "tools");
	ab_json_array_open(g);
	for (size_t i = 0; i < lg->n_tools; i++) {
		ab_json_map_open(g);
		ab_json_str(g, "name");
		ab_json_str(g, lg->tools[i]);
		ab_json_str(g, "inputSchema");
		ab_json_map_open(g);
		ab_json_str(g, "type");
		ab_json_str(g, "object");
		ab_json_map_close(g);
		ab_json_map_close(g);
	}
	ab_json_array_close(g);
	ab_json_map_close(g);
	ab_json_map_close(g);
	return gen_finish(g);
}

static char *request_envelope(struct legacy *lg, yajl_val id, const char *tool, yajl_val arguments)
{
	char request_id[MAX_REQUEST_ID];
	if (YAJL_IS_INTEGER(id))
		snprintf(request_id, sizeof request_id, "%lld", YAJL_GET_INTEGER(id));
	else
		snprintf(request_id, sizeof request_id, "%s", id->u.string);
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, "request");
	ab_json_str(g, "request_id");
	ab_json_str(g, request_id);
	ab_json_str(g, "method");
	ab_json_str(g, tool);
	ab_json_str(g, "params");
	if (YAJL_IS_OBJECT(arguments)) {
		lg->gen_tree(g, arguments);
	} else {
		ab_json_map_open(g);
		ab_json_map_close(g);
	}
	ab_json_map_close(g);
	return gen_finish(g);
}

static bool remember_ping(struct legacy *lg, int64_t id)
{
	int64_t *grown = realloc(lg->pings, (lg->n_pings + 1) * sizeof *grown);
	if (!grown)
		return false;
	lg->pings = grown;
	lg->pings[lg->n_pings++] = id;
	return true;
}

bool legacy_from_client(struct legacy *lg, const char *msg, size_t len, char **envelope, char **answer)
{
	*envelope = *answer = NULL;
	char *text = strndup(msg, len);
	yajl_val rpc = text ? yajl_tree_parse(text, NULL, 0) : NULL;
	free(text);
	const char *method = tree_string(rpc, "method");
	yajl_val id = tree_member(rpc, "id");
	bool request = method && (YAJL_IS_INTEGER(id) || (YAJL_IS_STRING(id) && strlen(id->u.string) < MAX_REQUEST_ID));
	if (!request) {
		/* Notifications (initialized, cancelled) and answers: the dialect
		 * has no place for them. */
		yajl_tree_free(rpc);
		return true;
	}
	yajl_val params = tree_member(rpc, "params");
	if (strcmp(method, "initialize") == 0) {
		*answer = initialize_answer(lg, id, params);
	} else if (strcmp(method, "tools/list") == 0) {
		*answer = tools_answer(lg, id);
	} else if (strcmp(method, "ping") == 0 && YAJL_IS_INTEGER(id) && remember_ping(lg, YAJL_GET_INTEGER(id))) {
		*envelope = strdup("{\"type\":\"ping\"}");
	} else if (strcmp(method, "tools/call") == 0 && tree_string(params, "name")) {
		*envelope = request_envelope(lg, id, tree_string(params, "name"), tree_member(params, "arguments"));
	} else if (strcmp(method, "tools/call") == 0) {
		*answer = finish_error(begin_answer(lg, id), -32602, "tools/call needs a tool name", NULL);
	} else {
		*answer = finish_error(begin_answer(lg, id), -32601, "the legacy WebSocket dialect offers tools only", NULL);
	}
	yajl_tree_free(rpc);
	return *envelope || *answer;
}

/* ---- from the server ---------------------------------------------------------------- */

/* The client's id a request_id stands for (see MAX_REQUEST_ID). */
static void gen_id(ab_json *g, const char *request_id)
{
	char *end;
	errno = 0;
	long long n = strtoll(request_id, &end, 10);
	const char *digits = request_id + (*request_id == '-');
	if (*digits >= '0' && *digits <= '9' && !*end && errno == 0)
		ab_json_integer(g, n);
	else
		ab_json_str(g, request_id);
}

/* {"jsonrpc":"2.0","id":<the id request_id stands for>, then the rest. */
static ab_json *begin_reply(const char *request_id)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "jsonrpc");
	ab_json_str(g, "2.0");
	ab_json_str(g, "id");
	gen_id(g, request_id);
	return g;
}

static char *tool_result(struct legacy *lg, const char *request_id, yajl_val payload)
{
	ab_json *text = ab_json_new();
	lg->gen_tree(text, payload);
	char *payload_text = gen_finish(text);
	yajl_val success = tree_member(payload, "success");
	bool failed = YAJL_IS_FALSE(success);
	const char *error = failed ? tree_string(payload, "error") : NULL;

	ab_json *g = begin_reply(request_id);
	ab_json_str(g, "result");
	ab_json_map_open(g);
	ab_json_str(g, "content");
	ab_json_array_open(g);
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, "text");
	ab_json_str(g, "text");
	ab_json_str(g, error ? error : payload_text ? payload_text : "null");
	ab_json_map_close(g);
	ab_json_array_close(g);
	if (YAJL_IS_OBJECT(payload)) {
		ab_json_str(g, "structuredContent");
		lg->gen_tree(g, payload);
	}
	ab_json_str(g, "isError");
	ab_json_bool(g, failed);
	ab_json_map_close(g);
	ab_json_map_close(g);
	free(payload_text);
	return gen_finish(g);
}

static char *error_reply(const char *request_id, yajl_val envelope)
{
	const char *error_type = tree_string(envelope, "error_type");
	const char *message = tree_string(envelope, "error");
	/* The dialect's methods are tools: an unknown one is MCP's unknown
	 * tool, invalid params (-32602). */
	bool unknown = error_type && strcmp(error_type, "unknown_method") == 0;
	return finish_error(begin_reply(request_id), unknown ? -32602 : -32603,
	                    message ? message : "the server reported an error", error_type);
}

static char *pong_answer(struct legacy *lg)
{
	int64_t id = lg->pings[0];
	memmove(lg->pings, lg->pings + 1, (--lg->n_pings) * sizeof *lg->pings);
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "jsonrpc");
	ab_json_str(g, "2.0");
	ab_json_str(g, "id");
	ab_json_integer(g, id);
	ab_json_str(g, "result");
	ab_json_map_open(g);
	ab_json_map_close(g);
	ab_json_map_close(g);
	return gen_finish(g);
}

char *legacy_from_server(struct legacy *lg, const char *msg, size_t len, const char **why)
{
	*why = NULL;
	char *text = strndup(msg, len);
	yajl_val env = text ? yajl_tree_parse(text, NULL, 0) : NULL;
	free(text);
	const char *type = tree_string(env, "type");
	const char *request_id = tree_string(env, "request_id");
	char *out = NULL;
	bool replying = true;
	if (!type) {
		*why = "a message that is no envelope of the legacy dialect";
	} else if (strcmp(type, "response") == 0 && request_id) {
		out = tool_result(lg, request_id, tree_member(env, "payload"));
	} else if (strcmp(type, "error") == 0 && request_id) {
		out = error_reply(request_id, env);
	} else if (strcmp(type, "error") == 0) {
		*why = "an error for no request";
	} else if (strcmp(type, "pong") == 0 && lg->n_pings) {
		out = pong_answer(lg);
	} else if (strcmp(type, "event") == 0 || strcmp(type, "pong") == 0) {
		/* events (server_heartbeat, ...) and a pong for no ping of ours */
		replying = false;
	} else {
		*why = "a message of a type the legacy dialect does not have here";
	}
	/* yajl's parse is lenient about UTF-8; the writer is not */
	if (replying && !out && !*why)
		*why = "a reply that could not be written (text that is not UTF-8, or out of memory)";
	yajl_tree_free(env);
	return out;
}
