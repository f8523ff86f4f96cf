#include "http_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>

#include "conn.h"
#include "http_access.h"
#include "http_serve.h"

const struct ab_option api_route_options[] = {
	{ "method", AB_OPT_ENUM, NULL, AB_OPT_REQUIRED, 0, 0, "GET|POST|PUT|PATCH|DELETE",
	  "the HTTP method" },
	{ "path", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL,
	  "the path: literal segments and {name} parameters, e.g. /api/database/context/{session_id}" },
	{ "type", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL, "the type of the message sent" },
	{ "message", AB_OPT_JSON, "{}", 0, 0, 0, NULL,
	  "the message's other fields: a template over {\"body\": the JSON body, \"path\": the parameters}" },
	{ "generate", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "message fields given a fresh id when the request has none, e.g. session_id" },
	{ "response", AB_OPT_JSON, "\"$.reply\"", 0, 0, 0, NULL,
	  "the body of a success: a template over {\"reply\": the final reply, \"message\": what was sent}" },
	{ "error_response", AB_OPT_JSON, "{\"detail\": \"$.reply.error.message\", \"error\": \"$.reply.error\"}",
	  0, 0, 0, NULL, "the body of an error reply: a template over the same" },
	{ "timeout", AB_OPT_DURATION, "120s", 0, 1, 86400000, NULL,
	  "the longest a request waits for its reply (then 504); the broker's route deadline "
	  "normally answers first" },
	{ "error_status", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "statuses for error types over the defaults, e.g. tool_error:200, timeout:504" },
	AB_OPTION_END,
};

/* The status of an error reply by its error_type, unless a route says
 * otherwise (docs/configuration.md lists them). */
static const struct api_status default_statuses[] = {
	{ AB_ERR_INVALID_JSON, 400 },       { AB_ERR_INVALID_MESSAGE, 400 },
	{ AB_ERR_HANDSHAKE_REQUIRED, 400 }, { AB_ERR_UNAUTHORIZED, 401 },
	{ AB_ERR_FORBIDDEN, 403 },          { AB_ERR_NO_ROUTE, 404 },
	{ AB_ERR_CANCELLED, 409 },          { AB_ERR_MESSAGE_TOO_LARGE, 413 },
	{ AB_ERR_TOOL_ERROR, 422 },         { AB_ERR_RATE_LIMITED, 429 },
	{ AB_ERR_INTERNAL_ERROR, 500 },     { AB_ERR_UPSTREAM_ERROR, 502 },
	{ AB_ERR_UPSTREAM_UNAVAILABLE, 503 }, { AB_ERR_TIMEOUT, 504 },
};

/* ---- loading ------------------------------------------------------------------- */

static void free_route(struct api_route *r)
{
	free(r->name);
	free(r->method);
	for (size_t i = 0; i < r->n_segments; i++)
		free(r->segments[i]);
	free(r->segments);
	free(r->type);
	yajl_tree_free(r->message);
	yajl_tree_free(r->response);
	yajl_tree_free(r->error_response);
	for (size_t i = 0; i < r->n_generate; i++)
		free(r->generate[i]);
	free(r->generate);
	free(r->statuses);
}

void api_routes_unref(struct api_routes *t)
{
	if (!t || --t->refs)
		return;
	for (size_t i = 0; i < t->count; i++)
		free_route(&t->items[i]);
	free(t->items);
	free(t);
}

/* Append a copy of [at, at+len) to *list. */
static int push(char ***list, size_t *n, const char *at, size_t len)
{
	char **grown = realloc(*list, (*n + 1) * sizeof *grown);
	if (!grown)
		return -1;
	*list = grown;
	if (!(grown[*n] = strndup(at, len)))
		return -1;
	(*n)++;
	return 0;
}

static bool param_segment(const char *seg)
{
	size_t len = strlen(seg);
	return len > 2 && seg[0] == '{' && seg[len - 1] == '}';
}

/* "/api/x/{id}" into segments; NULL, or what is wrong with it. */
static const char *split_path(struct api_route *r, const char *path)
{
	if (path[0] != '/')
		return "must begin with '/'";
	for (const char *at = path + 1;;) {
		const char *slash = strchr(at, '/');
		size_t len = slash ? (size_t)(slash - at) : strlen(at);
		if (len == 0)
			return "has an empty segment";
		if (push(&r->segments, &r->n_segments, at, len) < 0)
			return "out of memory";
		const char *seg = r->segments[r->n_segments - 1];
		size_t plain = strspn(seg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-");
		if (plain != len && !(param_segment(seg) &&
		                      strspn(seg + 1, "abcdefghijklmnopqrstuvwxyz_") == len - 2))
			return "segments are [A-Za-z0-9_.-] or a {parameter} of [a-z_]";
		if (!slash)
			return NULL;
		at = slash + 1;
	}
}

/* "tool_error:200, timeout:504"; NULL, or what is wrong with it. */
static const char *parse_statuses(struct api_route *r, const char *text)
{
	for (const char *at = text; at && *at;) {
		at += strspn(at, " ,");
		if (!*at)
			break;
		const char *colon = strchr(at, ':');
		size_t len = colon ? (size_t)(colon - at) : 0;
		char *end = NULL;
		long status = colon ? strtol(colon + 1, &end, 10) : 0;
		if (!colon || len == 0 || len >= sizeof r->statuses->error_type || status < 200 ||
		    status > 599 || (*end && *end != ',' && *end != ' '))
			return "is not a list of error_type:status (200..599)";
		struct api_status *grown = realloc(r->statuses, (r->n_statuses + 1) * sizeof *grown);
		if (!grown)
			return "out of memory";
		r->statuses = grown;
		struct api_status *s = &r->statuses[r->n_statuses++];
		memcpy(s->error_type, at, len);
		s->error_type[len] = '\0';
		s->status = (int)status;
		at = end;
	}
	return NULL;
}

static yajl_val parse_json(const char *text)
{
	return yajl_tree_parse(text, NULL, 0); /* checked at config load (AB_OPT_JSON) */
}

/* Section i into r; NULL, or "key: what is wrong". */
static const char *load_route(struct listener *l, size_t i, struct api_route *r, char *why, size_t cap)
{
	const struct ab_services *svc = l->svc;
	static const char *const methods[] = { "GET", "POST", "PUT", "PATCH", "DELETE" };
	r->name = strdup(svc->section_name(l->self, i));
	r->method = strdup(methods[svc->section_int(l->self, i, "method")]);
	r->type = strdup(svc->section_string(l->self, i, "type"));
	r->message = parse_json(svc->section_string(l->self, i, "message"));
	r->response = parse_json(svc->section_string(l->self, i, "response"));
	r->error_response = parse_json(svc->section_string(l->self, i, "error_response"));
	if (!r->name || !r->method || !r->type || !r->message || !r->response || !r->error_response)
		return "out of memory";
	const char *wrong = split_path(r, svc->section_string(l->self, i, "path"));
	if (wrong) {
		snprintf(why, cap, "path: %s", wrong);
		return why;
	}
	if (!YAJL_IS_OBJECT(r->message))
		return "message: must be a JSON object";
	for (size_t k = 0; k < r->message->u.object.len; k++) {
		const char *key = r->message->u.object.keys[k];
		if (strcmp(key, "type") == 0 || strcmp(key, "correlation_id") == 0)
			return "message: type and correlation_id are the broker's to set";
	}
	r->timeout_ms = svc->section_int(l->self, i, "timeout");
	const char *generate = svc->section_string(l->self, i, "generate");
	for (const char *at = generate; at && *at;) {
		at += strspn(at, " ,");
		size_t len = strcspn(at, " ,");
		if (len && push(&r->generate, &r->n_generate, at, len) < 0)
			return "out of memory";
		at += len;
	}
	const char *statuses = svc->section_string(l->self, i, "error_status");
	if (statuses && (wrong = parse_statuses(r, statuses))) {
		snprintf(why, cap, "error_status: %s", wrong);
		return why;
	}
	return NULL;
}

struct api_routes *api_routes_load(struct listener *l)
{
	const struct ab_services *svc = l->svc;
	size_t n = svc->section_count(l->self);
	struct api_routes *t = calloc(1, sizeof *t);
	if (!t || !(t->items = calloc(n ? n : 1, sizeof *t->items))) {
		free(t);
		return NULL;
	}
	t->refs = 1;
	for (size_t i = 0; i < n; i++) {
		char why[160];
		const char *wrong = load_route(l, i, &t->items[t->count++], why, sizeof why);
		if (wrong) {
			ws_log(l, AB_LOG_ERROR, "[http_route:%s] %s", svc->section_name(l->self, i), wrong);
			api_routes_unref(t);
			return NULL;
		}
	}
	return t;
}

/* ---- matching ----------------------------------------------------------------- */

#define MAX_PARAMS 8

struct params {
	const char *names[MAX_PARAMS];
	char values[MAX_PARAMS][130];
	size_t count;
};

/* Does path fit r's segments? Fills the parameters (%XX-decoded; they must
 * be ids, [A-Za-z0-9_.:-], to go into a message unquestioned). */
static bool path_matches(const struct api_route *r, struct http_span path, struct params *p)
{
	p->count = 0;
	const char *at = path.at + 1, *end = path.at + path.len;
	if (path.len == 0 || path.at[0] != '/')
		return false;
	for (size_t i = 0; i < r->n_segments; i++) {
		if (at > end)
			return false;
		const char *slash = memchr(at, '/', (size_t)(end - at));
		const char *stop = slash ? slash : end;
		struct http_span seg = { at, (size_t)(stop - at) };
		if (param_segment(r->segments[i])) {
			if (seg.len == 0 || p->count == MAX_PARAMS)
				return false;
			char *value = p->values[p->count];
			if (!percent_decode(&seg, value, sizeof p->values[0]) ||
			    strspn(value, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") !=
			            seg.len)
				return false;
			p->names[p->count++] = r->segments[i];
		} else if (seg.len != strlen(r->segments[i]) ||
		           memcmp(seg.at, r->segments[i], seg.len) != 0) {
			return false;
		}
		if (!slash)
			return i + 1 == r->n_segments;
		at = slash + 1;
	}
	return false;
}

bool api_path_known(const struct api_routes *t, struct http_span path)
{
	struct params p;
	for (size_t i = 0; t && i < t->count; i++) {
		if (path_matches(&t->items[i], path, &p))
			return true;
	}
	return false;
}

/* ---- the call ------------------------------------------------------------------ */

/* What g holds, parsed back into a tree (the caller frees it). */
static yajl_val tree_of(ab_json *g)
{
	size_t len;
	const char *text = ab_json_output(g, &len); /* NUL-terminated */
	return text ? yajl_tree_parse(text, NULL, 0) : NULL;
}

static yajl_val member(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

/* yajl's tree parser has no depth limit (and frees recursively): bodies
 * are checked first. The broker's own limit, [broker] max_json_depth,
 * applies to the message built from the body. */
#define MAX_BODY_DEPTH 64

/* Do [ and { outside strings nest deeper than max? */
static bool json_too_deep(const char *text, size_t len, int max)
{
	int depth = 0;
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char ch = text[i];
		if (in_string) {
			if (ch == '\\')
				i++;
			else if (ch == '"')
				in_string = false;
		} else if (ch == '"') {
			in_string = true;
		} else if (ch == '[' || ch == '{') {
			if (++depth > max)
				return true;
		} else if (ch == ']' || ch == '}') {
			depth--;
		}
	}
	return false;
}

/* The message for the request: the route's type, its template filled from
 * {"body": ..., "path": {...}}, and fresh ids where asked. NULL with the
 * reason in why when the body is not a JSON object (or no memory). */
static ab_msg *build_message(struct listener *l, const struct api_route *r, const struct params *p,
                             const char *body, size_t body_len, char *why, size_t cap)
{
	const struct ab_services *svc = l->svc;
	yajl_val parsed = NULL;
	if (json_too_deep(body, body_len, MAX_BODY_DEPTH)) {
		snprintf(why, cap, "the body nests deeper than %d levels", MAX_BODY_DEPTH);
		return NULL;
	}
	if (body_len) {
		/* The strict parse: what comes from a client is checked in full here
		 * (UTF-8 too), once; the messages made of it are written. */
		parsed = svc->tree_parse(body, body_len);
		if (!parsed || !YAJL_IS_OBJECT(parsed)) {
			svc->tree_free(parsed);
			snprintf(why, cap, "%s", parsed ? "the body must be a JSON object" : "the body is not valid JSON");
			return NULL;
		}
	}
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "body");
	if (parsed) {
		svc->gen_tree(g, parsed);
	} else {
		ab_json_map_open(g);
		ab_json_map_close(g);
	}
	ab_json_str(g, "path");
	ab_json_map_open(g);
	for (size_t i = 0; i < p->count; i++) {
		/* "{session_id}" names the parameter session_id */
		ab_json_string(g, p->names[i] + 1, strlen(p->names[i]) - 2);
		ab_json_str(g, p->values[i]);
	}
	ab_json_map_close(g);
	ab_json_map_close(g);
	svc->tree_free(parsed);
	yajl_val root = tree_of(g);
	ab_json_free(g);
	if (!root) { /* the writer refused it: a path parameter that is not UTF-8 */
		snprintf(why, cap, "the path is not UTF-8 (or memory ran out)");
		return NULL;
	}

	g = ab_json_new();
	svc->gen_template(g, r->message, root);
	yajl_val filled = tree_of(g);
	ab_json_free(g);
	yajl_tree_free(root);
	if (!filled) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}

	g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, r->type);
	char cid[33]; /* ours, so a cancel can name the request */
	random_hex(cid, 16);
	ab_json_str(g, "correlation_id");
	ab_json_str(g, cid);
	for (size_t i = 0; filled && YAJL_IS_OBJECT(filled) && i < filled->u.object.len; i++) {
		ab_json_str(g, filled->u.object.keys[i]);
		svc->gen_tree(g, filled->u.object.values[i]);
	}
	for (size_t i = 0; i < r->n_generate; i++) {
		if (member(filled, r->generate[i]))
			continue;
		char id[33];
		random_hex(id, 16);
		ab_json_str(g, r->generate[i]);
		ab_json_str(g, id);
	}
	ab_json_map_close(g);
	yajl_tree_free(filled);
	size_t len;
	const char *buf = ab_json_output(g, &len);
	struct ab_parse_error err = { .message = "out of memory" };
	ab_msg *msg = buf ? svc->msg_parse(buf, len, &err) : NULL;
	ab_json_free(g);
	if (!msg)
		snprintf(why, cap, "%s", err.message);
	return msg;
}

static void free_call(struct api_call *call)
{
	call->l->svc->agent_unregister(call->l->self, call->agent_id);
	call->l->svc->msg_unref(call->sent);
	api_routes_unref(call->table);
	free(call);
}

static bool start_call(struct conn *c, struct api_routes *t, const struct api_route *r,
                       const struct params *p, const char *body, size_t body_len)
{
	struct listener *l = c->listener;
	const struct ab_services *svc = l->svc;
	char why[200];
	ab_msg *msg = build_message(l, r, p, body, body_len, why, sizeof why);
	if (!msg) {
		http_error(c, 400, why);
		return true;
	}
	struct api_call *call = calloc(1, sizeof *call);
	if (!call) {
		svc->msg_unref(msg);
		http_error(c, 500, "out of memory");
		return true;
	}
	call->kind = AGENT_HTTP_CALL;
	call->conn = c;
	call->l = l;
	call->route = r;
	call->table = t;
	t->refs++;
	call->sent = msg;
	/* The frontend_ prefix: the routes that serve frontends serve this too. */
	snprintf(call->agent_id, sizeof call->agent_id, "frontend_http_%s_%llu", c->id,
	         (unsigned long long)++l->counters.http_api_calls);
	if (svc->agent_register(l->self, call->agent_id, call) < 0) {
		call->agent_id[0] = '\0';
		free_call(call);
		http_error(c, 500, "cannot register the request's agent");
		return true;
	}
	if (svc->submit(l->self, call->agent_id, msg) < 0) {
		free_call(call);
		http_error(c, 500, "cannot submit the request");
		return true;
	}
	conn_http_wait(c, call, (uint64_t)r->timeout_ms);
	return true;
}

bool api_handle(struct conn *c, const struct http_request *req, struct http_span path,
                const char *body, size_t body_len)
{
	struct api_routes *t = c->listener->api;
	struct params p;
	for (size_t i = 0; t && i < t->count; i++) {
		const struct api_route *r = &t->items[i];
		bool method = req->method.len == strlen(r->method) &&
		              memcmp(req->method.at, r->method, req->method.len) == 0; /* case matters */
		if (method && path_matches(r, path, &p))
			return start_call(c, t, r, &p, body, body_len);
	}
	return false;
}

/* ---- the answer ------------------------------------------------------------------ */

static int status_of(const struct api_route *r, const char *error_type)
{
	for (size_t i = 0; i < r->n_statuses; i++) {
		if (strcmp(r->statuses[i].error_type, error_type) == 0)
			return r->statuses[i].status;
	}
	for (size_t i = 0; i < sizeof default_statuses / sizeof *default_statuses; i++) {
		if (strcmp(default_statuses[i].error_type, error_type) == 0)
			return default_statuses[i].status;
	}
	return 500;
}

static void answer(struct api_call *call, ab_msg *reply)
{
	const struct ab_services *svc = call->l->svc;
	yajl_val tree = svc->msg_tree(reply);
	yajl_val error = member(tree, "error");
	yajl_val error_type = error && YAJL_IS_OBJECT(error) ? member(error, "error_type") : NULL;
	bool failed = error_type && YAJL_IS_STRING(error_type);
	int status = failed ? status_of(call->route, YAJL_GET_STRING(error_type)) : 200;

	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "reply");
	svc->gen_tree(g, tree);
	ab_json_str(g, "message");
	svc->gen_tree(g, svc->msg_tree(call->sent));
	ab_json_map_close(g);
	yajl_val root = tree_of(g);
	ab_json_free(g);

	g = ab_json_new();
	svc->gen_template(g, failed ? call->route->error_response : call->route->response, root);
	yajl_tree_free(root);
	size_t len;
	const char *buf = ab_json_output(g, &len);
	struct conn *c = call->conn;
	call->conn = NULL;
	c->call = NULL;
	if (buf)
		http_respond(c, status, "application/json", buf, len);
	else
		http_respond(c, 500, "text/plain", "out of memory\n", 14);
	ab_json_free(g);
}

int api_call_deliver(struct api_call *call, ab_msg *msg, unsigned flags)
{
	if (flags & AB_DELIVER_INTERIM)
		return 0; /* an HTTP response is the final reply alone */
	if (!(flags & AB_DELIVER_REPLY))
		return -1; /* nobody sends requests to a request's agent */
	if (call->conn)
		answer(call, msg);
	free_call(call);
	return 0;
}

void api_call_abandon(struct api_call *call)
{
	/* Nobody will read the answer: tell the broker to stop the work. */
	const struct ab_services *svc = call->l->svc;
	const char *cid = svc->msg_correlation_id(call->sent);
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, "cancel");
	ab_json_str(g, "correlation_id");
	ab_json_str(g, cid);
	ab_json_map_close(g);
	ab_msg *cancel = svc->msg_build(g, NULL);
	ab_json_free(g);
	if (cancel)
		svc->submit(call->l->self, call->agent_id, cancel);
	svc->msg_unref(cancel);
	call->conn = NULL;
	free_call(call);
}
