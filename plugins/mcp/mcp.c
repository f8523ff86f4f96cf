/* The MCP client transport (mcp.h): the plugin's options and lifecycle, the
 * MCP session over a link (link.h: a child's stdio, or Streamable HTTP):
 * initialize, ping, requests and their replies, progress, cancellation,
 * the tools cache, and the agent it registers once ready. */
#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

#include "child.h"
#include "http_link.h"
#include "json.h"
#include "server_asks.h"
#include "sessions.h"
#include "ws_link.h"

/* Newest first: initialize asks for the first; the server may answer any. */
static const char *const protocol_versions[] = { "2025-11-25", "2025-06-18", "2025-03-26", NULL };

static const struct ab_option mcp_options[] = {
	{ "url", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL,
	  "the MCP server: stdio:COMMAND ARGS, http(s)://HOST[:PORT]/PATH (Streamable HTTP) or "
	  "ws(s)://HOST[:PORT]/PATH (WebSocket)" },
	{ "transport", AB_OPT_ENUM, "auto", 0, 0, 0, "auto|stdio|http|ws",
	  "auto: from the url's scheme; ws with an http(s):// url reaches ws(s):// at the same place" },
	{ "ws_handshake", AB_OPT_ENUM, "event", 0, 0, 0, "event|none",
	  "ws: the event handshake (agent_connected, then connection_acknowledged) before MCP, or none" },
	{ "ws_dialect", AB_OPT_ENUM, "jsonrpc", 0, 0, 0, "jsonrpc|legacy",
	  "ws: MCP JSON-RPC, or the legacy request/response envelope of older TiDB WebSocket servers" },
	{ "legacy_tools", AB_OPT_JSON, NULL, 0, 0, 0, NULL,
	  "ws legacy dialect: the tools the server has, which tools/list then gives, e.g. "
	  "[\"execute_query\",\"discover_databases\"]" },
	{ "agent_type", AB_OPT_STRING, "mcp", 0, 0, 0, NULL,
	  "the first part of the upstream's agent id, e.g. tidb_mcp" },
	{ "tls_ca", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "https, wss: the PEM CA certificates to trust for the server (unset: the system's)" },
	{ "ping_interval", AB_OPT_DURATION, "30s", 0, 0, 86400000, NULL,
	  "ping an idle server this often; one that has not answered by the next ping is "
	  "restarted (0: no pings)" },
	{ "env", AB_OPT_JSON, NULL, 0, 0, 0, NULL,
	  "stdio: variables the server gets besides the broker's environment, e.g. "
	  "{\"MYSQL_DB\": \"shop\"}" },
	{ "session_env", AB_OPT_JSON, NULL, 0, 0, 0, NULL,
	  "isolated stdio: variables for each session's server from its frontend session, "
	  "\"$.database\" the database it works in, e.g. {\"MYSQL_DB\": \"$.database\"}: a session "
	  "that selects another database gets a server started on it" },
	{ "session_mode", AB_OPT_ENUM, "shared", 0, 0, 0, "shared|isolated",
	  "shared: one MCP session for every frontend; isolated: one per frontend session_id (a child "
	  "process for stdio, an Mcp-Session-Id for HTTP), made on demand" },
	{ "max_sessions", AB_OPT_INT, "16", 0, 1, 100000, NULL,
	  "isolated: at most this many sessions; past it the one idle longest is closed" },
	{ "session_idle", AB_OPT_DURATION, "5m", 0, 1000, 86400000, NULL,
	  "isolated: a session with nothing in flight for this long is closed" },
	{ "required", AB_OPT_BOOL, "true", AB_OPT_RELOADABLE, 0, 0, NULL,
	  "the broker is degraded (and /ready 503) while this upstream is not ready" },
	AB_OPTION_END,
};

/* ---- JSON-RPC out ------------------------------------------------------------- */

static ab_json *rpc_begin(int64_t id, const char *method)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "jsonrpc");
	ab_json_str(g, "2.0");
	if (id) {
		ab_json_str(g, "id");
		ab_json_integer(g, id);
	}
	if (method) {
		ab_json_str(g, "method");
		ab_json_str(g, method);
	}
	return g;
}

static bool rpc_send(struct upstream *u, ab_json *g)
{
	ab_json_map_close(g);
	size_t len;
	const char *buf = ab_json_output(g, &len);
	bool sent = buf && u->link_ops->send(u->link, buf, len);
	ab_json_free(g);
	return sent;
}

static void send_initialize(struct upstream *u)
{
	u->initialize_id = ++u->next_id;
	ab_json *g = rpc_begin(u->initialize_id, "initialize");
	ab_json_str(g, "params");
	ab_json_map_open(g);
	ab_json_str(g, "protocolVersion");
	ab_json_str(g, protocol_versions[0]);
	ab_json_str(g, "capabilities");
	ab_json_map_open(g);
	/* elicitation and sampling are handed on to the frontend whose request
	 * they come with (those that can answer: the passthrough's clients),
	 * and refused when none can; roots are the broker's own: none. */
	static const char *const relayed[] = { "elicitation", "sampling", "roots" };
	for (size_t i = 0; i < 3; i++) {
		ab_json_str(g, relayed[i]);
		ab_json_map_open(g);
		ab_json_map_close(g);
	}
	ab_json_map_close(g);
	ab_json_str(g, "clientInfo");
	ab_json_map_open(g);
	ab_json_str(g, "name");
	ab_json_str(g, "agentbus");
	ab_json_str(g, "version");
	ab_json_str(g, u->svc->broker_version);
	ab_json_map_close(g);
	ab_json_map_close(g);
	rpc_send(u, g);
}

/* Ask for the tools (a page after cursor, or the first). */
static void fetch_tools(struct upstream *u, const char *cursor)
{
	u->tools.request_id = ++u->next_id;
	ab_json *g = rpc_begin(u->tools.request_id, "tools/list");
	if (cursor) {
		ab_json_str(g, "params");
		ab_json_map_open(g);
		ab_json_str(g, "cursor");
		ab_json_str(g, cursor);
		ab_json_map_close(g);
	}
	rpc_send(u, g);
}

/* ---- replies to the broker ---------------------------------------------------------- */

static void submit(struct upstream *u, ab_json *g)
{
	ab_json_map_close(g);
	ab_msg *msg = u->svc->msg_build(g, NULL);
	struct upstream *o = u->owner ? u->owner : u; /* a pool session answers as its upstream */
	if (msg && o->registered)
		u->svc->submit(u->self, o->agent_id, msg);
	u->svc->msg_unref(msg);
	ab_json_free(g);
}

static ab_json *reply_begin(const char *type, const char *cid)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, type);
	ab_json_str(g, "correlation_id");
	ab_json_str(g, cid);
	return g;
}

static void reply_error(struct upstream *u, const char *cid, const char *error_type,
                        const char *message, yajl_val code)
{
	ab_json *g = reply_begin("mcp_error", cid);
	ab_json_str(g, "error");
	ab_json_map_open(g);
	ab_json_str(g, "error_type");
	ab_json_str(g, error_type);
	ab_json_str(g, "message");
	ab_json_str(g, message);
	if (code) {
		ab_json_str(g, "code");
		u->svc->gen_tree(g, code);
	}
	ab_json_map_close(g);
	submit(u, g);
}

/* ---- calls in flight ------------------------------------------------------------- */

static struct mcp_call *take_call(struct upstream *u, int64_t id)
{
	for (struct mcp_call **link = &u->calls; *link; link = &(*link)->next) {
		if ((*link)->id == id) {
			struct mcp_call *call = *link;
			*link = call->next;
			return call;
		}
	}
	return NULL;
}

static struct mcp_call *find_call_by_cid(struct upstream *u, const char *cid)
{
	for (struct mcp_call *c = u->calls; c; c = c->next) {
		if (strcmp(c->correlation_id, cid) == 0)
			return c;
	}
	return NULL;
}

static void free_call(struct mcp_call *call)
{
	free(call->correlation_id);
	free(call->requester);
	free(call);
}

/* The call is over (answered, cancelled): so are the server's requests
 * that came with it. */
static void end_call(struct upstream *u, struct mcp_call *call)
{
	server_asks_end_call(u, call->id);
	free_call(call);
}

static void send_cancelled(struct upstream *u, int64_t id, const char *reason)
{
	ab_json *g = rpc_begin(0, "notifications/cancelled");
	ab_json_str(g, "params");
	ab_json_map_open(g);
	ab_json_str(g, "requestId");
	ab_json_integer(g, id);
	ab_json_str(g, "reason");
	ab_json_str(g, reason);
	ab_json_map_close(g);
	rpc_send(u, g);
}

void mcp_abandon_calls(struct upstream *u, const char *reason)
{
	while (u->calls) {
		struct mcp_call *call = u->calls;
		u->calls = call->next;
		send_cancelled(u, call->id, reason);
		end_call(u, call);
	}
}

void mcp_reply_error(struct upstream *u, const char *cid, const char *error_type, const char *message)
{
	reply_error(u, cid, error_type, message, NULL);
}

static void drop_calls(struct upstream *u)
{
	while (u->calls) {
		struct mcp_call *call = u->calls;
		u->calls = call->next;
		free_call(call);
	}
}

/* ---- the session's state ------------------------------------------------------------ */

static void set_down(struct upstream *u, enum upstream_state state, const char *why)
{
	u->state = state;
	if (why) { /* cut at a whole character: it goes into /health's JSON */
		snprintf(u->last_error, sizeof u->last_error, "%s", why);
		u->last_error[ab_json_utf8_whole_length(u->last_error)] = '\0';
	}
	if (u->registered) {
		/* The broker answers what this agent had in flight, and holds what
		 * comes for it meanwhile. */
		u->registered = false;
		u->svc->agent_unregister(u->self, u->agent_id);
		/* That answered its isolated sessions' requests too. */
		for (struct upstream *s = u->sessions; s; s = s->next_session) {
			mcp_abandon_calls(s, "the upstream went away");
			for (size_t i = 0; i < s->n_waiting; i++)
				u->svc->msg_unref(s->waiting[i]);
			s->n_waiting = 0;
		}
	}
	if (u->owner) { /* the agent lives on: a pool session answers for itself */
		char text[320];
		snprintf(text, sizeof text, "the isolated session's server went away%s%s", why ? ": " : "", why ? why : "");
		for (struct mcp_call *c = u->calls; c; c = c->next)
			mcp_reply_error(u, c->correlation_id, AB_ERR_UPSTREAM_UNAVAILABLE, text);
		for (size_t i = 0; i < u->n_waiting; i++) {
			mcp_reply_error(u, u->svc->msg_correlation_id(u->waiting[i]), AB_ERR_UPSTREAM_UNAVAILABLE, text);
			u->svc->msg_unref(u->waiting[i]);
		}
		u->n_waiting = 0;
	}
	drop_calls(u);
	server_asks_drop(u);
	u->initialize_id = 0;
	u->protocol_version[0] = '\0'; /* the next session negotiates its own */
	yajl_tree_free(u->hello);
	u->hello = NULL;
	u->ping_id = 0;
	tool_cache_clear(&u->tools);
}

static void initialized(struct upstream *u, yajl_val result)
{
	const char *version = tree_string(result, "protocolVersion");
	bool known = false;
	for (size_t i = 0; version && protocol_versions[i]; i++)
		known |= strcmp(version, protocol_versions[i]) == 0;
	u->initialize_id = 0;
	if (!known) {
		char why[160];
		snprintf(why, sizeof why, "the server speaks protocol version %s, which this client does not",
		         version ? version : "(none)");
		up_log(u, AB_LOG_ERROR, "%s", why);
		set_down(u, UP_DOWN, why);
		u->link_ops->restart(u->link); /* and try again after the backoff */
		return;
	}
	snprintf(u->protocol_version, sizeof u->protocol_version, "%s", version);
	ab_json *copy = ab_json_new();
	u->svc->gen_tree(copy, result);
	size_t len;
	const char *text = ab_json_output(copy, &len); /* NUL-terminated */
	u->hello = text ? yajl_tree_parse(text, NULL, 0) : NULL;
	ab_json_free(copy);
	rpc_send(u, rpc_begin(0, "notifications/initialized"));
	if (u->owner) {
		u->state = UP_READY;
		u->last_error[0] = '\0';
		if (u->init_deadline)
			u->svc->timer_cancel(u->init_deadline);
		u->init_deadline = NULL;
		up_log(u, AB_LOG_INFO, "isolated session for %s ready (protocol %s)", u->session_key, version);
		ab_msg **waiting = u->waiting;
		size_t n = u->n_waiting;
		u->waiting = NULL;
		u->n_waiting = 0;
		for (size_t i = 0; i < n; i++) {
			mcp_session_deliver(u, waiting[i]);
			u->svc->msg_unref(waiting[i]);
		}
		free(waiting);
		return;
	}
	int rc = u->svc->agent_register(u->self, u->agent_id, u);
	if (rc < 0) {
		up_log(u, AB_LOG_ERROR, "cannot register agent %s", u->agent_id);
		set_down(u, UP_DOWN, "agent id taken");
		return;
	}
	u->registered = true;
	u->state = UP_READY;
	u->last_error[0] = '\0';
	const char *changed[] = { "capabilities", "tools", "listChanged", NULL };
	yajl_val lists = yajl_tree_get(result, changed, yajl_t_true);
	u->lists_changes = lists != NULL;
	up_log(u, AB_LOG_NOTICE, "ready as %s (protocol %s)", u->agent_id, version);
	fetch_tools(u, NULL);
}

/* The members of a line from the server that the client reads. */
enum { L_ID, L_METHOD, L_PARAMS, L_RESULT, L_ERROR, L_COUNT };
static const char *const line_names[L_COUNT] = { "id", "method", "params", "result", "error" };
struct line_members {
	struct ab_json_span m[L_COUNT];
};

/* A member's tree (NULL when it is absent), for the few that are read. */
static yajl_val tree_of(struct upstream *u, struct ab_json_span s)
{
	return s.at ? u->svc->tree_parse(s.at, s.len) : NULL;
}

static bool own_request(const struct upstream *u, int64_t id)
{
	return (u->initialize_id && id == u->initialize_id) || (u->ping_id && id == u->ping_id) ||
	       (u->tools.request_id && id == u->tools.request_id);
}

/* The answer to what the client asked the server itself. */
static void on_own_response(struct upstream *u, yajl_val result, yajl_val error, int64_t id)
{
	if (u->initialize_id && id == u->initialize_id) {
		if (result) {
			initialized(u, result);
		} else {
			const char *text = tree_string(error, "message");
			up_log(u, AB_LOG_ERROR, "initialize failed: %s", text ? text : "(no message)");
			set_down(u, UP_DOWN, "initialize failed");
			u->link_ops->restart(u->link);
		}
		return;
	}
	if (u->ping_id && id == u->ping_id) {
		u->ping_id = 0; /* alive (an error answer is an answer too) */
		return;
	}
	if (u->tools.request_id && id == u->tools.request_id) {
		u->tools.request_id = 0;
		const char *cursor = result ? tool_cache_add_page(&u->tools, result, u->svc->gen_tree) : NULL;
		if (cursor)
			fetch_tools(u, cursor);
		else if (u->tools.count >= 0)
			up_log(u, AB_LOG_INFO, "%lld tools%s", (long long)u->tools.count,
			       u->lists_changes ? " (the server announces changes)" : "");
	}
}

/* The response to our request id: a call's result goes on as its bytes,
 * with no tree; what the client itself asked (initialize, ping, the tool
 * list) is read as a tree. */
static void on_response(struct upstream *u, const struct line_members *lm, int64_t id)
{
	if (own_request(u, id)) {
		yajl_val result = tree_of(u, lm->m[L_RESULT]), error = tree_of(u, lm->m[L_ERROR]);
		on_own_response(u, result, error, id);
		u->svc->tree_free(result);
		u->svc->tree_free(error);
		return;
	}
	struct mcp_call *call = take_call(u, id);
	if (!call)
		return; /* cancelled, or never ours */
	struct ab_json_span result = lm->m[L_RESULT];
	if (result.at) {
		ab_json *g = reply_begin("mcp_response", call->correlation_id);
		ab_json_str(g, "result");
		ab_json_raw(g, result.at, result.len);
		submit(u, g);
	} else {
		yajl_val error = tree_of(u, lm->m[L_ERROR]);
		const char *text = tree_string(error, "message");
		reply_error(u, call->correlation_id, AB_ERR_UPSTREAM_ERROR, text ? text : "error",
		            tree_member(error, "code"));
		u->svc->tree_free(error);
	}
	end_call(u, call);
}

static void on_progress(struct upstream *u, yajl_val params)
{
	yajl_val token = tree_member(params, "progressToken");
	if (!token || !YAJL_IS_INTEGER(token))
		return;
	for (struct mcp_call *c = u->calls; c; c = c->next) {
		if (c->id != YAJL_GET_INTEGER(token))
			continue;
		ab_json *g = reply_begin("mcp_progress", c->correlation_id);
		static const char *const keys[] = { "progress", "total", "message" };
		for (size_t i = 0; i < 3; i++) {
			yajl_val v = tree_member(params, keys[i]);
			if (v) {
				ab_json_str(g, keys[i]);
				u->svc->gen_tree(g, v);
			}
		}
		submit(u, g);
		return;
	}
}

/* {"jsonrpc":"2.0","id":, for the caller to write the id and the rest. */
static ab_json *answer_begin(void)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "jsonrpc");
	ab_json_str(g, "2.0");
	ab_json_str(g, "id");
	return g;
}

static void send_error_answer(struct upstream *u, ab_json *g, int code, const char *message)
{
	ab_json_str(g, "error");
	ab_json_map_open(g);
	ab_json_str(g, "code");
	ab_json_integer(g, code);
	ab_json_str(g, "message");
	ab_json_str(g, message);
	ab_json_map_close(g);
	rpc_send(u, g);
}

void mcp_refuse_server_request(struct upstream *u, const struct server_ask *ask, int code, const char *message)
{
	ab_json *g = answer_begin();
	server_ask_gen_id(g, ask);
	send_error_answer(u, g, code, message);
}

/* Who answers a request of the server's: the call it came with (on that
 * call's event stream), or when the link cannot tell (stdio), the only
 * call in flight; and only a requester that said it can (ANSWERS_*).
 * NULL: nobody. */
static struct mcp_call *asker(struct upstream *u, int64_t related, unsigned needed)
{
	struct mcp_call *call = NULL;
	if (related) {
		for (struct mcp_call *c = u->calls; c && !call; c = c->next)
			call = c->id == related ? c : NULL;
	} else if (u->calls && !u->calls->next) {
		call = u->calls;
	}
	return call && (call->answers & needed) ? call : NULL;
}

/* A request from the server: ping and roots/list are answered here (the
 * broker, the client, has no roots to offer); elicitation and sampling go
 * to the frontend whose request they came with, as an interim
 * mcp_server_request; anything else, or with nobody to answer, gets an
 * error, so the server is never left waiting. */
static void on_server_request(struct upstream *u, yajl_val id, const char *method, yajl_val params,
                              int64_t related)
{
	bool roots = strcmp(method, "roots/list") == 0;
	if (strcmp(method, "ping") == 0 || roots) {
		ab_json *g = answer_begin();
		u->svc->gen_tree(g, id);
		ab_json_str(g, "result");
		ab_json_map_open(g);
		if (roots) {
			ab_json_str(g, "roots");
			ab_json_array_open(g);
			ab_json_array_close(g);
		}
		ab_json_map_close(g);
		rpc_send(u, g);
		return;
	}
	unsigned needed = strcmp(method, "elicitation/create") == 0       ? ANSWERS_ELICITATION
	                : strcmp(method, "sampling/createMessage") == 0 ? ANSWERS_SAMPLING
	                                                                : 0;
	bool relayed = needed != 0;
	struct mcp_call *call = relayed ? asker(u, related, needed) : NULL;
	char key[SERVER_ASK_KEY_LEN];
	if (call && server_ask_open(u, id, call, key)) {
		ab_json *g = reply_begin("mcp_server_request", call->correlation_id);
		ab_json_str(g, "request");
		ab_json_map_open(g);
		ab_json_str(g, "jsonrpc");
		ab_json_str(g, "2.0");
		ab_json_str(g, "id");
		ab_json_str(g, key);
		ab_json_str(g, "method");
		ab_json_str(g, method);
		if (params) {
			ab_json_str(g, "params");
			u->svc->gen_tree(g, params);
		}
		ab_json_map_close(g);
		submit(u, g);
		return;
	}
	if (relayed)
		up_log(u, AB_LOG_INFO, "the server's %s: no frontend in flight can answer it", method);
	ab_json *g = answer_begin();
	u->svc->gen_tree(g, id);
	/* Declared but unanswerable now: an internal error, not "no such method". */
	send_error_answer(u, g, relayed ? -32603 : -32601,
	                  relayed ? "no client here can answer this now" : "not supported by this client");
}

/* A frontend's answer to a request of the server's: to the server, under
 * the server's own id. */
static void on_server_response(struct upstream *u, const char *cid, const char *from, yajl_val answer)
{
	/* Only the frontend asked may answer. */
	struct server_ask *ask = server_ask_take(u, tree_string(answer, "request_id"), from);
	if (!ask) {
		reply_error(u, cid, AB_ERR_INVALID_MESSAGE, "no request of the server's waits for this answer", NULL);
		return;
	}
	ab_json *g = answer_begin();
	server_ask_gen_id(g, ask);
	yajl_val result = tree_member(answer, "result"), error = tree_member(answer, "error");
	ab_json_str(g, error ? "error" : "result");
	if (error || result) {
		u->svc->gen_tree(g, error ? error : result);
	} else {
		ab_json_map_open(g);
		ab_json_map_close(g);
	}
	rpc_send(u, g);
	server_ask_free(ask);
	ab_json *ack = reply_begin("mcp_response", cid);
	ab_json_str(ack, "result");
	ab_json_map_open(ack);
	ab_json_map_close(ack);
	submit(u, ack);
}

/* One message from the server. Checked whole, then read member by member:
 * a response (the hot path) needs no tree of the line at all. */
static void on_line(struct upstream *u, const char *line, size_t len, int64_t related)
{
	struct line_members lm;
	if (!u->svc->json_spans(line, len, line_names, L_COUNT, lm.m)) {
		up_log(u, AB_LOG_WARNING, "a line from the server is not a JSON-RPC message");
		return;
	}
	yajl_val id = tree_of(u, lm.m[L_ID]), method_tree = tree_of(u, lm.m[L_METHOD]);
	const char *method = YAJL_IS_STRING(method_tree) ? YAJL_GET_STRING(method_tree) : NULL;
	yajl_val params = method ? tree_of(u, lm.m[L_PARAMS]) : NULL;
	if (method && id)
		on_server_request(u, id, method, params, related);
	else if (method && strcmp(method, "notifications/progress") == 0)
		on_progress(u, params);
	else if (method && strcmp(method, "notifications/tools/list_changed") == 0 && !u->owner) {
		up_log(u, AB_LOG_INFO, "the server's tools changed: listing them again");
		tool_cache_clear(&u->tools);
		fetch_tools(u, NULL);
	} else if (method && strcmp(method, "notifications/message") == 0)
		up_log(u, AB_LOG_INFO, "server says: %s", line);
	else if (id && YAJL_IS_INTEGER(id))
		on_response(u, &lm, YAJL_GET_INTEGER(id));
	u->svc->tree_free(id);
	u->svc->tree_free(method_tree);
	u->svc->tree_free(params);
}

static void on_link_up(struct upstream *u)
{
	u->state = UP_CONNECTING;
	send_initialize(u);
}

static void on_link_down(struct upstream *u, const char *why)
{
	up_log(u, AB_LOG_WARNING, "%s", why);
	set_down(u, u->stopping ? UP_DOWN : UP_CONNECTING, why);
}

static const struct link_events link_events = {
	.line = on_line,
	.up = on_link_up,
	.down = on_link_down,
};

/* ---- requests from the broker ---------------------------------------------------------- */

/* params with _meta.progressToken set to our id (so progress maps back). */
static void gen_params(struct upstream *u, ab_json *g, yajl_val params, int64_t id)
{
	ab_json_map_open(g);
	yajl_val meta = NULL;
	for (size_t i = 0; params && YAJL_IS_OBJECT(params) && i < params->u.object.len; i++) {
		if (strcmp(params->u.object.keys[i], "_meta") == 0) {
			meta = params->u.object.values[i];
			continue;
		}
		ab_json_str(g, params->u.object.keys[i]);
		u->svc->gen_tree(g, params->u.object.values[i]);
	}
	ab_json_str(g, "_meta");
	ab_json_map_open(g);
	for (size_t i = 0; meta && YAJL_IS_OBJECT(meta) && i < meta->u.object.len; i++) {
		if (strcmp(meta->u.object.keys[i], "progressToken") == 0)
			continue;
		ab_json_str(g, meta->u.object.keys[i]);
		u->svc->gen_tree(g, meta->u.object.values[i]);
	}
	ab_json_str(g, "progressToken");
	ab_json_integer(g, id);
	ab_json_map_close(g);
	ab_json_map_close(g);
}

/* The same for params without a _meta of their own (most calls): their
 * bytes, with {"_meta":{"progressToken":ID}, put in front, and no tree
 * walked. False when params have a _meta (gen_params merges it). */
static bool gen_params_raw(struct upstream *u, ab_json *g, struct ab_json_span params, int64_t id)
{
	static const char *const meta_name[] = { "_meta" };
	struct ab_json_span meta;
	if (!params.at || !u->svc->json_spans(params.at, params.len, meta_name, 1, &meta) || meta.at)
		return false; /* absent, not an object, or with a _meta */
	const char *raw = params.at;
	size_t raw_len = params.len;
	static const char token[] = "{\"_meta\":{\"progressToken\":";
	char head[sizeof token + 21];
	memcpy(head, token, sizeof token - 1);
	size_t head_len = sizeof token - 1;
	head_len += ab_json_digits(head + head_len, (long long)id);
	head[head_len++] = '}';
	/* What follows raw's '{': its members and '}', or blanks and '}'. */
	const char *rest = raw + 1;
	size_t rest_len = raw_len - 1;
	while (rest_len && strchr(" \t\n\r", *rest)) {
		rest++;
		rest_len--;
	}
	bool members = rest_len && *rest != '}';
	char *text = malloc(head_len + 1 + rest_len);
	if (!text)
		return false;
	memcpy(text, head, head_len);
	size_t at = head_len;
	if (members)
		text[at++] = ',';
	memcpy(text + at, rest, rest_len);
	ab_json_raw(g, text, at + rest_len);
	free(text);
	return true;
}

static void cancel(struct upstream *u, ab_msg *msg)
{
	const char *cid = u->svc->msg_correlation_id(msg);
	struct mcp_call *call = cid ? find_call_by_cid(u, cid) : NULL;
	if (!call)
		return;
	const char *reason = tree_string(u->svc->msg_tree(msg), "reason");
	send_cancelled(u, call->id, reason ? reason : "cancelled");
	u->svc->log(u->self, AB_LOG_INFO, "request %lld abandoned (%s): notifications/cancelled sent",
	            (long long)call->id, reason ? reason : "cancelled");
	end_call(u, take_call(u, call->id));
}

/* The session holding the server's request key, the owner's or a pool's. */
/* The upstream's own session, then each isolated one: for (s = u; s; s = next_of(u, s)). */
static struct upstream *next_of(struct upstream *u, struct upstream *s)
{
	return s == u ? u->sessions : s->next_session;
}

static struct upstream *asked_by(struct upstream *u, const char *key)
{
	for (struct upstream *s = u; s; s = next_of(u, s)) {
		for (struct server_ask *a = s->asks; key && a; a = a->next) {
			if (strcmp(a->key, key) == 0)
				return s;
		}
	}
	return u;
}

static int serve(struct upstream *u, ab_msg *msg);

static int mcp_deliver(void *state, void *agent_ctx, const char *agent_id, ab_msg *msg,
                       unsigned flags)
{
	struct upstream *u = state;
	const struct ab_services *svc = u->svc;
	if (flags & AB_DELIVER_CANCEL) {
		for (struct upstream *s = u; s; s = next_of(u, s))
			cancel(s, msg);
		sessions_cancel_waiting(u, svc->msg_correlation_id(msg));
		return 0;
	}
	if (!(flags & AB_DELIVER_REQUEST) || u->state != UP_READY)
		return flags & AB_DELIVER_REQUEST ? -1 : 0;
	if (strcmp(svc->msg_type(msg), "mcp_server_response") == 0) {
		yajl_val tree = svc->msg_tree(msg);
		on_server_response(asked_by(u, tree_string(tree, "request_id")), svc->msg_correlation_id(msg),
		                   svc->msg_source(msg), tree);
		return 0;
	}
	if (u->isolated) {
		/* A frontend session's calls go to its own MCP session; the
		 * lifecycle and the tool list are the upstream's. */
		yajl_val tree = svc->msg_tree(msg);
		const char *method = tree_string(tree, "method"), *session = tree_string(tree, "session");
		if (session && method && strcmp(method, "initialize") != 0 && strcmp(method, "tools/list") != 0)
			return sessions_deliver(u, session, u->by_database ? tree_string(tree, "session_database") : NULL,
			                        msg);
	}
	return serve(u, msg);
}

void mcp_session_deliver(struct upstream *u, ab_msg *msg)
{
	if (serve(u, msg) < 0)
		mcp_reply_error(u, u->svc->msg_correlation_id(msg), AB_ERR_UPSTREAM_UNAVAILABLE,
		                "the isolated session cannot send");
}

/* What of the server's requests the requester can answer: the names in
 * client_answers (jsonrpc_mcp copies them from its client's initialize). */
static unsigned answers_of(yajl_val list)
{
	unsigned answers = 0;
	for (size_t i = 0; YAJL_IS_ARRAY(list) && i < list->u.array.len; i++) {
		const char *name = YAJL_IS_STRING(list->u.array.values[i]) ? list->u.array.values[i]->u.string : "";
		answers |= strcmp(name, "elicitation") == 0 ? ANSWERS_ELICITATION
		         : strcmp(name, "sampling") == 0    ? ANSWERS_SAMPLING
		                                            : 0;
	}
	return answers;
}

/* The members of an mcp_request that serve reads. */
enum { R_METHOD, R_PARAMS, R_ANSWERS, R_COUNT };
static const char *const request_names[R_COUNT] = { "method", "params", "client_answers" };

/* Serve a request on session u, reading the message member by member: its
 * params go on as their bytes. Negative when it cannot be sent. */
static int serve(struct upstream *u, ab_msg *msg)
{
	const struct ab_services *svc = u->svc;
	const char *cid = svc->msg_correlation_id(msg);
	size_t len;
	const char *json = svc->msg_json(msg, &len);
	struct ab_json_span m[R_COUNT];
	svc->json_spans(json, len, request_names, R_COUNT, m); /* a message: an object, checked already */
	yajl_val method_tree = tree_of(u, m[R_METHOD]);
	const char *method = YAJL_IS_STRING(method_tree) ? YAJL_GET_STRING(method_tree) : NULL;
	int rc = 0;
	if (strcmp(svc->msg_type(msg), "mcp_request") != 0 || !method) {
		reply_error(u, cid, AB_ERR_INVALID_MESSAGE, "this upstream takes mcp_request messages with a method", NULL);
		goto done;
	}
	if (strcmp(method, "initialize") == 0 && u->hello) {
		/* The session is ours and initialized already: a client that
		 * initializes (a JSON-RPC passthrough) gets the server's answer. */
		ab_json *g = reply_begin("mcp_response", cid);
		ab_json_str(g, "result");
		svc->gen_tree(g, u->hello);
		submit(u, g);
		goto done;
	}
	if (strcmp(method, "tools/list") == 0 && u->tools.result) {
		yajl_val params = tree_of(u, m[R_PARAMS]);
		bool paged = tree_member(params, "cursor") != NULL;
		svc->tree_free(params);
		if (!paged) { /* known already: every page, in one answer */
			ab_json *g = reply_begin("mcp_response", cid);
			ab_json_str(g, "result");
			svc->gen_tree(g, u->tools.result);
			submit(u, g);
			goto done;
		}
	}
	struct mcp_call *call = calloc(1, sizeof *call);
	if (!call || !(call->correlation_id = strdup(cid)) || !(call->requester = strdup(svc->msg_source(msg)))) {
		if (call)
			free_call(call);
		rc = -1;
		goto done;
	}
	call->id = ++u->next_id;
	if (m[R_ANSWERS].at) {
		yajl_val answers = tree_of(u, m[R_ANSWERS]);
		call->answers = answers_of(answers);
		svc->tree_free(answers);
	}
	call->next = u->calls;
	u->calls = call;
	ab_json *g = rpc_begin(call->id, method);
	ab_json_str(g, "params");
	if (!gen_params_raw(u, g, m[R_PARAMS], call->id)) {
		yajl_val params = tree_of(u, m[R_PARAMS]);
		gen_params(u, g, params, call->id);
		svc->tree_free(params);
	}
	if (!rpc_send(u, g)) {
		free_call(take_call(u, call->id));
		rc = -1; /* the broker answers upstream_unavailable */
	}
done:
	svc->tree_free(method_tree);
	return rc;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

/* {agent_type}_{first 8 hex of md5(agent_type "_" url)}: stable across
 * restarts, and across brokers that reach the same upstream. */
static void make_agent_id(struct upstream *u)
{
	unsigned char md5[EVP_MAX_MD_SIZE];
	unsigned int md5_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_md5(), NULL);
	EVP_DigestUpdate(ctx, u->agent_type, strlen(u->agent_type));
	EVP_DigestUpdate(ctx, "_", 1);
	EVP_DigestUpdate(ctx, u->url, strlen(u->url));
	EVP_DigestFinal_ex(ctx, md5, &md5_len);
	EVP_MD_CTX_free(ctx);
	snprintf(u->agent_id, sizeof u->agent_id, "%s_%02x%02x%02x%02x", u->agent_type, md5[0], md5[1],
	         md5[2], md5[3]);
}

static bool has_scheme(const char *url, const char *scheme)
{
	size_t n = strlen(scheme);
	return strncmp(url, scheme, n) == 0 && strncmp(url + n, "://", 3) == 0;
}

/* The URL the link uses: transport = ws turns http(s):// into ws(s)://
 * (PROTOCOL.md, "Upstream side"). NULL after logging a mismatch. */
static char *resolve_url(struct upstream *u, const char *url, const char *transport)
{
	bool http = has_scheme(url, "http") || has_scheme(url, "https");
	bool ws = has_scheme(url, "ws") || has_scheme(url, "wss");
	bool stdio = strncmp(url, "stdio:", 6) == 0;
	if (strcmp(transport, "ws") == 0 && http) {
		char *converted = NULL;
		if (asprintf(&converted, "ws%s", url + 4) < 0) /* "http..." -> "ws..." */
			return NULL;
		return converted;
	}
	bool fits = strcmp(transport, "auto") == 0 ? http || ws || stdio
	          : strcmp(transport, "ws") == 0   ? ws
	          : strcmp(transport, "http") == 0 ? http
	                                           : stdio;
	if (!fits) {
		up_log(u, AB_LOG_ERROR, "url: '%s' is not %s", url,
		       strcmp(transport, "auto") == 0 ? "stdio:COMMAND, http(s):// or ws(s)://"
		                                      : strcmp(transport, "ws") == 0 ? "a ws(s):// or http(s):// URL"
		                                      : strcmp(transport, "http") == 0 ? "an http(s):// URL"
		                                                                     : "stdio:COMMAND");
		return NULL;
	}
	return strdup(url);
}

static int network_link(struct upstream *u, const char *url)
{
	const struct ab_services *svc = u->svc;
	char why[200];
	if (has_scheme(url, "ws") || has_scheme(url, "wss")) {
		struct ws_link_options opt = {
			.ca_file = svc->config_string(u->self, "tls_ca"),
			.event_handshake = strcmp(svc->config_string(u->self, "ws_handshake"), "event") == 0,
			.legacy_dialect = strcmp(svc->config_string(u->self, "ws_dialect"), "legacy") == 0,
			.legacy_tools = svc->config_string(u->self, "legacy_tools"),
		};
		u->link_ops = &ws_link_ops;
		u->link = ws_link_new(u, url, &opt, &link_events, why, sizeof why);
	} else {
		u->link_ops = &http_link_ops;
		u->link = http_link_new(u, url, svc->config_string(u->self, "tls_ca"), &link_events, why, sizeof why);
	}
	if (!u->link)
		up_log(u, AB_LOG_ERROR, "url: '%s': %s", url, why);
	return u->link ? 0 : -1;
}

/* Add the variables of option key ({"NAME": "value" or "$.ref", ...}) to
 * list (of *n); references are filled from root. Negative after logging. */
static int add_env(struct upstream *u, const char *key, yajl_val root, char ***list, size_t *n)
{
	const char *text = u->svc->config_string(u->self, key);
	yajl_val env = text ? yajl_tree_parse(text, NULL, 0) : NULL;
	if (text && !YAJL_IS_OBJECT(env)) {
		up_log(u, AB_LOG_ERROR, "%s: give a JSON object of names and string values", key);
		yajl_tree_free(env);
		return -1;
	}
	size_t add = env ? env->u.object.len : 0;
	char **grown = realloc(*list, (*n + add + 1) * sizeof *grown);
	int rc = grown ? 0 : -1;
	if (grown)
		*list = grown;
	for (size_t i = 0; rc == 0 && i < add; i++) {
		const char *name = env->u.object.keys[i];
		yajl_val v = env->u.object.values[i];
		bool reference = YAJL_IS_STRING(v) && v->u.string[0] == '$';
		yajl_val filled = reference ? u->svc->tree_path(root, v->u.string) : v;
		const char *value = YAJL_IS_STRING(filled) ? filled->u.string : NULL;
		if (reference && !value) {
			up_log(u, AB_LOG_ERROR, "%s: '%s' names nothing (the session has \"$.database\")", key, v->u.string);
			rc = -1;
		} else if (!value || !*name || strchr(name, '=')) {
			up_log(u, AB_LOG_ERROR, "%s: '%s' needs a name without '=' and a string value", key, name);
			rc = -1;
		} else if (asprintf(&(*list)[*n], "%s=%s", name, value) < 0) {
			rc = -1;
		} else {
			(*n)++;
		}
	}
	if (*list)
		(*list)[*n] = NULL;
	yajl_tree_free(env);
	return rc;
}

/* The child's variables: env, and for an isolated session session_env
 * filled from {"database": the session's}. */
static int child_env(struct upstream *u, struct child *c)
{
	char **list = NULL;
	size_t n = 0;
	int rc = add_env(u, "env", NULL, &list, &n);
	if (rc == 0 && u->owner && u->session_database) {
		ab_json *g = ab_json_new();
		ab_json_map_open(g);
		ab_json_pair(g, "database", u->session_database);
		ab_json_map_close(g);
		size_t len;
		const char *json = ab_json_output(g, &len); /* NUL-terminated */
		yajl_val root = json ? yajl_tree_parse(json, NULL, 0) : NULL;
		ab_json_free(g);
		rc = root ? add_env(u, "session_env", root, &list, &n) : -1;
		yajl_tree_free(root);
	}
	if (rc < 0)
		child_free_argv(list);
	else
		child_set_env(c, list);
	return rc;
}

/* u->url is the resolved url, or for stdio the command line. */
int mcp_open_link(struct upstream *u)
{
	if (!u->stdio)
		return network_link(u, u->url);
	char **argv = child_split_command(u->url);
	if (!argv) {
		up_log(u, AB_LOG_ERROR, "url: 'stdio:%s' has no command (or an unclosed quote)", u->url);
		return -1;
	}
	u->link_ops = &child_link_ops;
	u->link = child_new(u, argv, &link_events);
	if (!u->link) {
		child_free_argv(argv);
		return -1;
	}
	return child_env(u, u->link);
}

static int mcp_init(ab_instance *self, const struct ab_services *svc, void **state)
{
	struct upstream *u = calloc(1, sizeof *u);
	if (!u)
		return -1;
	tool_cache_init(&u->tools);
	u->self = self;
	u->svc = svc;
	*state = u;
	snprintf(u->agent_type, sizeof u->agent_type, "%s", svc->config_string(self, "agent_type"));
	u->required = svc->config_bool(self, "required");
	u->ping_interval_ms = (uint64_t)svc->config_int(self, "ping_interval");
	u->isolated = strcmp(svc->config_string(self, "session_mode"), "isolated") == 0;
	u->max_sessions = (size_t)svc->config_int(self, "max_sessions");
	u->by_database = svc->config_string(self, "session_env") != NULL;
	u->session_idle_ms = (uint64_t)svc->config_int(self, "session_idle");
	char *url = resolve_url(u, svc->config_string(self, "url"), svc->config_string(self, "transport"));
	if (!url)
		return -1;
	bool stdio = strncmp(url, "stdio:", 6) == 0;
	u->url = stdio ? strdup(url + 6) : url;
	if (stdio)
		free(url);
	if (!u->url)
		return -1;
	u->stdio = stdio;
	make_agent_id(u);
	if (u->by_database && !(u->isolated && stdio)) {
		up_log(u, AB_LOG_ERROR, "session_env: only for session_mode = isolated with a stdio: url");
		return -1;
	}
	return mcp_open_link(u);
}

/* Our ping, every ping_interval while the session is ready and idle (a
 * server busy with a request may answer nothing else meanwhile). */
static void on_ping_timer(void *arg)
{
	struct upstream *u = arg;
	if (u->state != UP_READY)
		return;
	if (u->ping_id) {
		up_log(u, AB_LOG_WARNING, "the server did not answer a ping within %llu ms: restarting it",
		       (unsigned long long)u->ping_interval_ms);
		set_down(u, UP_CONNECTING, "no answer to ping");
		u->link_ops->restart(u->link);
		return;
	}
	if (u->calls)
		return; /* the broker's requests have their own deadlines */
	u->ping_id = ++u->next_id;
	rpc_send(u, rpc_begin(u->ping_id, "ping"));
}

static int mcp_start(void *state)
{
	struct upstream *u = state;
	u->state = UP_CONNECTING;
	u->link_ops->start(u->link);
	if (u->ping_interval_ms)
		u->ping_timer = u->svc->timer_start(u->self, u->ping_interval_ms, true, on_ping_timer, u);
	if (u->isolated)
		u->sweep_timer = u->svc->timer_start(u->self, SESSION_SWEEP_MS, true, sessions_sweep, u);
	return 0;
}

static int mcp_reload(void *state, enum ab_reload_phase phase)
{
	struct upstream *u = state;
	if (phase == AB_RELOAD_COMMIT)
		u->required = u->svc->config_bool(u->self, "required");
	return 0;
}

/* A link is done stopping: a pool session's is freed with it; the
 * broker hears the upstream has stopped once its own link and every
 * pool session's have. */
void mcp_link_stopped(struct upstream *u)
{
	struct upstream *o = u->owner ? u->owner : u;
	if (u->owner)
		sessions_retire(u); /* freed on the next turn: the link is still on the stack */
	else
		u->link_stopped = true;
	if (o->stopping && o->link_stopped && !o->sessions)
		o->svc->stopped(o->self);
}

static int mcp_stop(void *state)
{
	struct upstream *u = state;
	u->stopping = true;
	if (u->ping_timer)
		u->svc->timer_cancel(u->ping_timer);
	u->ping_timer = NULL;
	if (u->sweep_timer)
		u->svc->timer_cancel(u->sweep_timer);
	u->sweep_timer = NULL;
	sessions_stop_all(u);
	/* The link first: HTTP's goodbye still carries the session's version. */
	u->link_stopped = !u->link_ops->stop(u->link, mcp_link_stopped);
	set_down(u, UP_DOWN, "the broker is stopping");
	return u->link_stopped && !u->sessions ? AB_STOPPED : AB_DRAINING;
}

void mcp_release(struct upstream *u)
{
	if (u->link)
		u->link_ops->free(u->link);
	u->link = NULL;
	drop_calls(u);
	server_asks_drop(u);
	for (size_t i = 0; i < u->n_waiting; i++)
		u->svc->msg_unref(u->waiting[i]);
	free(u->waiting);
	tool_cache_clear(&u->tools);
	yajl_tree_free(u->hello);
	free(u->session_key);
	free(u->session_database);
	free(u->url);
}

static void mcp_destroy(void *state)
{
	struct upstream *u = state;
	sessions_free_all(u);
	mcp_release(u);
	free(u);
}

static void mcp_report(void *state, ab_report *report)
{
	struct upstream *u = state;
	static const char *const names[] = { "connecting", "ready", "down" };
	u->svc->report_upstream(report, u->agent_id, u->link_ops->transport, names[u->state], u->required,
	                        u->last_error[0] ? u->last_error : NULL, u->tools.count);
}

AB_PLUGIN_DEFINE(AB_PLUGIN_TRANSPORT, "mcp", PACKAGE_VERSION, "a Model Context Protocol client",
                 mcp_options, NULL, .init = mcp_init, .start = mcp_start, .reload = mcp_reload,
                 .stop = mcp_stop, .destroy = mcp_destroy, .deliver = mcp_deliver,
                 .report = mcp_report);
