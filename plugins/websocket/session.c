#include "websocket.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/util.h>
#include <agentbus/json.h>

#include "conn.h"
#include "session.h"
#include "auth.h"
#include "replay.h"
#include "stamp.h"

#define PROTOCOL_VERSION 1

static const char *const server_capabilities[] = {
	"query_processing", "database_management", "real_time_updates", "heartbeat",
	"session_resume",
};

/* ---- building our own messages ---------------------------------------------- */

/* Write one stamped message to the connection, keeping count of what is
 * certainly out: everything before a message that finds the output queue
 * empty has left it (confirmed_seq), so a dropped queue loses only what
 * came after. */
static void deliver_now(struct session *s, const char *data, size_t len, uint64_t seq)
{
	if (seq && conn_output_empty(s->conn))
		s->confirmed_seq = s->sent_seq;
	if (conn_send_text(s->conn, data, len) && seq)
		s->sent_seq = seq;
}

void session_output_dropped(struct session *s)
{
	s->sent_seq = s->confirmed_seq;
	s->replaying = false;
}

/* Send one message: stamped with the time, and once the session is
 * established with the next seq and kept for replay. A detached session
 * only keeps it. Returns 0, or -1 without memory. */
static int send_message(struct session *s, const char *json, size_t len)
{
	struct listener *l = s->l;
	char now[AB_TIMESTAMP_LEN];
	l->svc->timestamp(now);
	uint64_t seq = s->established ? s->seq + 1 : 0;
	struct stamped out;
	if (stamp_message(json, len, seq, now, &out) < 0)
		return -1;
	if (seq) {
		s->seq = seq;
		uint64_t at = ws_now_ms();
		/* What a resumption still has to send is not pushed out by what
		 * arrives meanwhile (the buffer grows instead, within a bound). */
		uint64_t keep_from = s->replaying ? s->pump_seq : UINT64_MAX;
		replay_prune(&s->replay, at, keep_from);
		int kept = replay_add(&s->replay, seq, out.data, out.len, at, keep_from);
		if (kept < 0)
			ws_log(l, AB_LOG_WARNING, "%s: out of memory: seq %llu cannot be replayed",
			       s->agent_id, (unsigned long long)seq);
		if (kept == 1 && s->conn) {
			/* The backlog lost a message it still had to send: this
			 * resumption cannot be exact. End it; the client's next one
			 * is told messages_lost. */
			conn_drop(s->conn, "a resumption's backlog overflowed the replay buffer");
		}
	}
	/* During a resumption, new messages queue behind the backlog. */
	if (s->conn && !(s->replaying && seq))
		deliver_now(s, out.data, out.len, seq);
	stamp_free(&out);
	return 0;
}

static void send_built(struct session *s, ab_json *g)
{
	size_t len;
	const char *json = ab_json_output(g, &len);
	if (json)
		send_message(s, json, len);
	else
		ws_log(s->l, AB_LOG_ERROR, "%s: out of memory: a message was not sent", s->agent_id);
	ab_json_free(g);
}

static ab_json *begin(const char *type, const char *cid)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_pair(g, "type", type);
	if (cid)
		ab_json_pair(g, "correlation_id", cid);
	return g;
}

static void finish(struct session *s, ab_json *g)
{
	ab_json_map_close(g);
	send_built(s, g);
}

/* The request's correlation id, or (the protocol's rule for requests that
 * have none) a fresh one, returned in the reply. */
static const char *reply_cid(const struct session *s, ab_msg *msg, char fresh[24])
{
	const char *cid = s->l->svc->msg_correlation_id(msg);
	if (cid)
		return cid;
	memcpy(fresh, "ws-", 3);
	random_hex(fresh + 3, 8);
	return fresh;
}

/* An error reply in the one error shape, to `request` (NULL when it could
 * not be parsed): its correlation_id (one is assigned when it had none)
 * and its query_id are echoed. */
static void send_error(struct session *s, ab_msg *request, const char *error_type,
                       const char *message)
{
	const struct ab_services *svc = s->l->svc;
	s->l->counters.errors_by_type[listener_error_index(error_type)]++;
	char fresh[24];
	ab_json *g = begin("error", request ? reply_cid(s, request, fresh) : NULL);
	const char *path[] = { "query_id", NULL };
	yajl_val query_id = request ? yajl_tree_get(svc->msg_tree(request), path, yajl_t_any) : NULL;
	if (query_id && (YAJL_IS_STRING(query_id) || YAJL_IS_NUMBER(query_id))) {
		ab_json_str(g, "query_id");
		const char *text = YAJL_IS_STRING(query_id) ? YAJL_GET_STRING(query_id) : YAJL_GET_NUMBER(query_id);
		if (YAJL_IS_STRING(query_id))
			ab_json_str(g, text);
		else
			ab_json_raw(g, text, strlen(text));
	}
	ab_json_str(g, "error");
	ab_json_map_open(g);
	ab_json_pair(g, "error_type", error_type);
	ab_json_pair(g, "message", message);
	ab_json_map_close(g);
	finish(s, g);
}

/* ---- sessions ------------------------------------------------------------------ */

static bool valid_agent_id(const char *id)
{
	size_t len = strlen(id);
	return len >= 1 && len <= 128 &&
	       strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") == len;
}

static void handshake_expired(void *arg)
{
	struct session *s = arg;
	if (s->conn)
		conn_close(s->conn, WS_CLOSE_HANDSHAKE_TIMEOUT, "no connection_handshake in time");
}

struct session *session_open(struct listener *l, struct conn *c, bool legacy, const char *user_id)
{
	struct session *s = calloc(1, sizeof *s);
	if (s)
		s->kind = AGENT_SESSION;
	if (!s)
		return NULL;
	s->l = l;
	s->conn = c;
	s->legacy = legacy;
	replay_init(&s->replay, l->replay_max, l->replay_max_bytes, l->replay_window_ms);
	snprintf(s->user_id, sizeof s->user_id, "%s", legacy ? user_id : "");
	ab_json *g = begin("connection_established", NULL);
	ab_json_pair(g, "connection_id", c->id);
	ab_json_str(g, "protocol_version");
	ab_json_integer(g, PROTOCOL_VERSION);
	ab_json_pair(g, "message", "Connected to agentbus");
	if (legacy)
		ab_json_pair(g, "user_id", user_id);
	finish(s, g);
	if (!legacy)
		s->handshake_timer = l->svc->timer_start(l->self, l->handshake_timeout_ms, false,
		                                         handshake_expired, s);
	return s;
}

/* The established session of agent_id: the core's registry finds it, as
 * the agent this listener registered under that id. */
static struct session *find_session(struct listener *l, const char *agent_id)
{
	enum agent_kind *kind = l->svc->agent_context(l->self, agent_id);
	return kind && *kind == AGENT_SESSION ? (struct session *)kind : NULL;
}

static void link_session(struct session *s)
{
	struct listener *l = s->l;
	s->prev = NULL;
	s->next = l->sessions;
	if (l->sessions)
		l->sessions->prev = s;
	l->sessions = s;
	l->n_sessions++;
}

static void unlink_session(struct session *s)
{
	struct listener *l = s->l;
	if (s->prev)
		s->prev->next = s->next;
	else
		l->sessions = s->next;
	if (s->next)
		s->next->prev = s->prev;
	l->n_sessions--;
}

/* frontend_{user}_{16 hex}, the user's characters outside the agent id's
 * alphabet written as '_' (an e-mail address or a name with spaces still
 * makes a valid id). */
static void assign_agent_id(struct session *s)
{
	char user[65], rnd[17];
	snprintf(user, sizeof user, "%s", s->user_id);
	for (char *c = user; *c; c++) {
		if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-", *c))
			*c = '_';
	}
	random_hex(rnd, 8);
	snprintf(s->agent_id, sizeof s->agent_id, "frontend_%s_%s", user, rnd);
}

static void end_session(struct session *s);

/* At the session limit, the one left longest without a connection goes
 * (sessions are linked newest first). Returns false when all are live. */
static bool make_room(struct listener *l)
{
	if (l->n_sessions < l->max_sessions)
		return true;
	struct session *oldest = NULL;
	for (struct session *t = l->sessions; t; t = t->next) {
		if (!t->conn)
			oldest = t;
	}
	if (!oldest)
		return false;
	ws_log(l, AB_LOG_WARNING, "%s: ended to make room (max_sessions)", oldest->agent_id);
	end_session(oldest);
	return true;
}

/* Make s the live session of its agent id. Returns 0; -1 when the id is not
 * ours to take (another transport owns it); -2 when max_sessions are all
 * live. */
static int establish(struct session *s)
{
	struct listener *l = s->l;
	if (!make_room(l))
		return -2;
	int rc = l->svc->agent_register(l->self, s->agent_id, s);
	if (rc < 0)
		return -1;
	s->established = true;
	link_session(s);
	if (s->handshake_timer) {
		l->svc->timer_cancel(s->handshake_timer);
		s->handshake_timer = NULL;
	}
	return 0;
}

static void free_session(struct session *s)
{
	if (s->handshake_timer)
		s->l->svc->timer_cancel(s->handshake_timer);
	if (s->expiry)
		s->l->svc->timer_cancel(s->expiry);
	replay_free(&s->replay);
	free(s);
}

static void end_session(struct session *s)
{
	if (s->established) {
		unlink_session(s);
		s->l->svc->agent_unregister(s->l->self, s->agent_id);
	}
	free_session(s);
}

void session_end_all(struct listener *l)
{
	while (l->sessions)
		end_session(l->sessions);
}

/* Nobody came back for a detached session within the replay window. */
static void session_expired(void *arg)
{
	struct session *s = arg;
	ws_log(s->l, AB_LOG_INFO, "%s: not resumed within the replay window: session ended", s->agent_id);
	end_session(s);
}

void session_detach(struct session *s, struct conn *c, uint16_t code)
{
	if (s->conn != c)
		return;
	c->session = NULL;
	s->conn = NULL;
	/* A client that said goodbye (1000) ended its session. Otherwise (the
	 * network dropped, the page reloads, an idle timeout) the session waits
	 * for the client to come back, its agent still registered: what arrives
	 * meanwhile goes to the replay buffer, nothing is lost. */
	struct listener *l = s->l;
	if (!s->established || s->implicit || code == WS_CLOSE_NORMAL || l->stopping ||
	    l->replay_window_ms == 0) {
		end_session(s);
		return;
	}
	s->expiry = l->svc->timer_start(l->self, l->replay_window_ms, false, session_expired, s);
	if (!s->expiry)
		end_session(s);
}

/* A handshake names the agent id of a session this listener holds: live
 * (the older connection is closed with 4002) or waiting to be resumed. The
 * new connection continues that session and its seq. */
static struct session *take_over(struct session *fresh, struct session *old)
{
	struct conn *c = fresh->conn, *previous = old->conn;
	if (previous) {
		previous->session = NULL;
		old->conn = NULL;
		conn_close(previous, WS_CLOSE_SESSION_TAKEN_OVER, "session taken over");
	}
	if (old->expiry) {
		old->l->svc->timer_cancel(old->expiry);
		old->expiry = NULL;
	}
	old->conn = c;
	old->realtime = fresh->realtime;
	snprintf(old->user_id, sizeof old->user_id, "%s", fresh->user_id);
	c->session = old;
	fresh->conn = NULL;
	free_session(fresh);
	return old;
}

/* Send the backlog from pump_seq on while the connection has room (the
 * output bound would drop a reader sent it all at once); conn.c calls again
 * as the output drains. */
void session_pump(struct session *s)
{
	while (s->replaying && s->conn) {
		const struct replay_entry *e = replay_find(&s->replay, s->pump_seq);
		if (!e) {
			s->replaying = false;
			return;
		}
		if (!conn_has_room(s->conn, e->len))
			return;
		s->pump_seq = e->seq + 1;
		deliver_now(s, e->data, e->len, e->seq);
	}
}

/* Begin sending again, as they were, the messages after `after` (none
 * when it is at or past the last seq: a stale or foreign one is not ours
 * to replay from). Returns false when some of them are no longer held. */
static bool replay_after(struct session *s, uint64_t after)
{
	replay_prune(&s->replay, ws_now_ms(), UINT64_MAX);
	if (after >= s->seq)
		return after == s->seq;
	uint64_t oldest = replay_oldest(&s->replay);
	bool complete = oldest && oldest <= after + 1;
	if (replay_count(&s->replay) > 0) {
		s->replaying = true;
		s->pump_seq = after + 1;
	}
	return complete;
}

/* resume.last_seq of a handshake, or -1 when it asks for no resumption. */
static int64_t resume_point(yajl_val tree)
{
	const char *path[] = { "resume", "last_seq", NULL };
	yajl_val v = yajl_tree_get(tree, path, yajl_t_number);
	if (!v || !YAJL_IS_INTEGER(v) || YAJL_GET_INTEGER(v) < 0)
		return -1;
	return YAJL_GET_INTEGER(v);
}

static bool has_capability(yajl_val tree, const char *name)
{
	const char *path[] = { "capabilities", NULL };
	yajl_val caps = yajl_tree_get(tree, path, yajl_t_array);
	for (size_t i = 0; caps && i < caps->u.array.len; i++) {
		const char *cap = YAJL_GET_STRING(caps->u.array.values[i]);
		if (cap && strcmp(cap, name) == 0)
			return true;
	}
	return false;
}

static const char *tree_string(yajl_val tree, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(tree, path, yajl_t_string);
	return v ? YAJL_GET_STRING(v) : NULL;
}

/* An error reply, then close 1008 (auth and policy refusals). */
static void refuse(struct session *s, ab_msg *request, const char *error_type, const char *why)
{
	send_error(s, request, error_type, why);
	conn_close(s->conn, WS_CLOSE_POLICY, why);
}

/* With auth on, a user's agent ids are frontend_{user}_...: another
 * user's session cannot be taken over or resumed. */
static bool owned_by(const char *agent_id, const char *user)
{
	size_t len = strlen(user);
	return strncmp(agent_id, "frontend_", 9) == 0 && strncmp(agent_id + 9, user, len) == 0 &&
	       agent_id[9 + len] == '_';
}

static void handle_handshake(struct session *s, ab_msg *msg)
{
	struct listener *l = s->l;
	const struct ab_services *svc = l->svc;
	yajl_val tree = svc->msg_tree(msg);
	char fresh[24];
	const char *cid = reply_cid(s, msg, fresh);
	const char *user = tree_string(tree, "user_id");
	const char *agent_id = tree_string(tree, "agent_id");
	const char *path[] = { "agent_id", NULL };
	if (!agent_id && yajl_tree_get(tree, path, yajl_t_any)) {
		refuse(s, msg, AB_ERR_INVALID_MESSAGE, "agent_id must be a string");
		return;
	}
	if (s->established) {
		send_error(s, msg, AB_ERR_INVALID_MESSAGE, "this session is already established");
		return;
	}
	char token_user[65]; /* outlives the block: user may point here */
	if (auth_enabled(l->auth)) {
		/* The user is the token's, from the handshake or the upgrade. */
		const char *token = tree_string(tree, "token");
		const char *why = "a token is required";
		if (token ? auth_check(l->auth, token, strlen(token), token_user, &why) < 0
		          : !*s->conn->auth_user) {
			refuse(s, msg, AB_ERR_UNAUTHORIZED, why);
			return;
		}
		const char *authed = token ? token_user : s->conn->auth_user;
		if (user && *user && strcmp(user, authed) != 0) {
			refuse(s, msg, AB_ERR_FORBIDDEN, "user_id is not the token's user");
			return;
		}
		if (s->legacy && strcmp(s->user_id, authed) != 0) {
			refuse(s, msg, AB_ERR_FORBIDDEN, "the path's user is not the token's");
			return;
		}
		user = authed;
		snprintf(s->owner, sizeof s->owner, "%s", authed);
	}
	if (user && *user)
		snprintf(s->user_id, sizeof s->user_id, "%s", user);
	if (!*s->user_id)
		snprintf(s->user_id, sizeof s->user_id, "anonymous");
	if (agent_id) {
		if (!valid_agent_id(agent_id)) {
			send_error(s, msg, AB_ERR_INVALID_MESSAGE,
			           "agent_id must be 1 to 128 of [A-Za-z0-9_.:-]");
			conn_close(s->conn, WS_CLOSE_POLICY, "bad agent_id");
			return;
		}
		snprintf(s->agent_id, sizeof s->agent_id, "%s", agent_id);
		if (auth_enabled(l->auth) && !owned_by(agent_id, s->user_id)) {
			refuse(s, msg, AB_ERR_FORBIDDEN, "that agent_id does not belong to this user");
			return;
		}
	} else {
		assign_agent_id(s);
	}
	s->realtime = has_capability(tree, "real_time_updates");
	int64_t last_seq = resume_point(tree);

	bool resumed = false, lost = false;
	int rc;
	struct session *old = find_session(l, s->agent_id);
	if (old && strcmp(old->owner, s->owner) != 0) {
		/* Only the user who holds a session may take it over or resume it. */
		refuse(s, msg, AB_ERR_FORBIDDEN, "that agent_id belongs to another user");
		return;
	}
	if (old) {
		s = take_over(s, old);
		/* Replayed first, with their own seqs; the acknowledgement follows
		 * with the next. Without resume.last_seq the client still gets what
		 * it was never sent. */
		bool complete = replay_after(s, last_seq >= 0 ? (uint64_t)last_seq : s->sent_seq);
		resumed = last_seq >= 0 && complete;
		lost = !complete;
	} else if ((rc = establish(s)) < 0) {
		refuse(s, msg, rc == -2 ? AB_ERR_RATE_LIMITED : AB_ERR_FORBIDDEN,
		       rc == -2 ? "too many sessions" : "that agent_id belongs to another transport");
		return;
	} else {
		lost = last_seq > 0; /* it expected a session we no longer hold */
	}
	ab_json *g = begin("connection_acknowledged", cid);
	ab_json_pair(g, "agent_id", s->agent_id);
	ab_json_pair(g, "server_agent_id", svc->broker_agent_id());
	ab_json_str(g, "server_capabilities");
	ab_json_array_open(g);
	for (size_t i = 0; i < sizeof server_capabilities / sizeof *server_capabilities; i++)
		ab_json_string(g, server_capabilities[i],
		                strlen(server_capabilities[i]));
	ab_json_array_close(g);
	ab_json_str(g, "session_established");
	ab_json_bool(g, 1);
	ab_json_str(g, "session_resumed");
	ab_json_bool(g, resumed);
	if (lost) {
		ab_json_str(g, "messages_lost");
		ab_json_bool(g, 1);
	}
	ab_json_str(g, "heartbeat_interval");
	ab_json_integer(g, l->heartbeat_interval_s);
	finish(s, g);
	session_pump(s); /* the backlog, then this acknowledgement */
}

static void handle_heartbeat(struct session *s, ab_msg *msg, bool alias)
{
	struct listener *l = s->l;
	char fresh[24];
	ab_json *g = begin(alias ? "pong" : "heartbeat_response", reply_cid(s, msg, fresh));
	ab_json_pair(g, "server_status", "healthy");
	ab_json_pair(g, "connection_id", s->conn->id);
	ab_json_str(g, "metrics");
	ab_json_map_open(g);
	ab_json_str(g, "uptime_seconds");
	char uptime[32];
	int n = snprintf(uptime, sizeof uptime, "%.3f", (double)(ws_now_ms() - l->started_ms) / 1000.0);
	ab_json_raw(g, uptime, (size_t)n);
	ab_json_str(g, "active_connections");
	ab_json_integer(g, (long long)l->n_open);
	ab_json_map_close(g);
	finish(s, g);
}

/* Legacy frontends never send a handshake: their first message opens a
 * session with a fresh agent id and no capabilities. */
static bool open_implicit(struct session *s, ab_msg *msg)
{
	struct listener *l = s->l;
	if (auth_enabled(l->auth) && strcmp(s->conn->auth_user, s->user_id) != 0) {
		/* The path's user must be the upgrade token's. */
		refuse(s, msg, *s->conn->auth_user ? AB_ERR_FORBIDDEN : AB_ERR_UNAUTHORIZED,
		       *s->conn->auth_user ? "the path's user is not the token's" : "a token is required");
		return false;
	}
	if (auth_enabled(l->auth))
		snprintf(s->owner, sizeof s->owner, "%s", s->conn->auth_user);
	s->implicit = true; /* its agent id is never told: it cannot be resumed */
	assign_agent_id(s);
	if (establish(s) == 0)
		return true;
	send_error(s, msg, AB_ERR_INTERNAL_ERROR, "cannot open a session");
	return false;
}

void session_on_text(struct session *s, const char *data, size_t len)
{
	const struct ab_services *svc = s->l->svc;
	struct ab_parse_error err;
	ab_msg *msg = svc->msg_parse(data, len, &err);
	if (!msg) {
		send_error(s, NULL, err.error_type, err.message);
		return;
	}
	const char *type = svc->msg_type(msg);
	s->l->counters.in_by_type[listener_type_index(type)]++;
	if (strcmp(type, "connection_handshake") == 0) {
		handle_handshake(s, msg);
	} else if (!s->established && !s->legacy) {
		send_error(s, msg, AB_ERR_HANDSHAKE_REQUIRED, "send connection_handshake first");
	} else if (!s->established && !open_implicit(s, msg)) {
		/* refused (and perhaps freed): nothing more to do with s */
	} else if (strcmp(type, "heartbeat") == 0 || strcmp(type, "ping") == 0) {
		handle_heartbeat(s, msg, type[0] == 'p');
	} else {
		int rc = svc->submit(s->l->self, s->agent_id, msg);
		if (rc < 0)
			send_error(s, msg, AB_ERR_INTERNAL_ERROR, "the broker refused the message");
	}
	svc->msg_unref(msg);
}

void session_rate_limited(struct session *s, const char *data, size_t len)
{
	const struct ab_services *svc = s->l->svc;
	ab_msg *msg = svc->msg_parse(data, len, NULL); /* only for its correlation_id */
	char text[96];
	snprintf(text, sizeof text, "more than %.0f messages per second; this one was dropped",
	         s->l->rate_limit);
	send_error(s, msg, AB_ERR_RATE_LIMITED, text);
	svc->msg_unref(msg);
}

int session_deliver(struct session *s, ab_msg *msg, unsigned flags)
{
	/* Deployed frontends take the first frame with a request's id as its
	 * answer: only sessions that asked get interim replies. */
	if ((flags & AB_DELIVER_INTERIM) && !s->realtime)
		return 0;
	size_t len;
	const char *json = s->l->svc->msg_json(msg, &len);
	return send_message(s, json, len);
}
