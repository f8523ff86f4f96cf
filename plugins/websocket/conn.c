#include "websocket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <event2/event.h>
#include <event2/util.h>

#include "auth.h"
#include "conn.h"
#include "rpc_peer.h"
#include "http_access.h"
#include "http_api.h"
#include "http_serve.h"
#include "ip_counts.h"
#include "session.h"
#include "ws_handshake.h"

/* The request head may be at most this large (else 431). */
#define MAX_HEAD (16 * 1024)
/* How long the peer has to answer our close frame, and to take our output
 * before we drop the connection anyway. */
#define CLOSE_TIMEOUT_MS 5000

uint64_t ws_now_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* Every change of state goes through here, so the listener's count of open
 * WebSocket connections (heartbeat and /health report it) stays true. */
static void set_state(struct conn *c, enum conn_state state)
{
	if (c->state == CONN_OPEN && state != CONN_OPEN)
		c->listener->n_open--;
	else if (c->state != CONN_OPEN && state == CONN_OPEN)
		c->listener->n_open++;
	c->state = state;
}

static void arm(struct conn *c, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	evtimer_add(c->timer, &tv);
}

/* The WebSocket is over (code: why): its session waits to be resumed, or
 * its JSON-RPC client's agent goes. */
static void detach(struct conn *c, uint16_t code)
{
	if (c->session)
		session_detach(c->session, c, code);
	if (c->rpc)
		rpc_peer_close(c->rpc);
	c->rpc = NULL;
}

void conn_free(struct conn *c)
{
	struct listener *l = c->listener;
	detach(c, WS_CLOSE_ABNORMAL);
	if (c->call)
		api_call_abandon(c->call);
	set_state(c, CONN_FLUSHING);
	if (c->prev)
		c->prev->next = c->next;
	else
		l->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	l->n_conns--;
	if (c->counted)
		ip_counts_remove(l->per_ip, c->ip);
	ws_reader_free(&c->reader);
	event_free(c->timer);
	bufferevent_free(c->bev);
	free(c);
	listener_conn_gone(l);
}

/* Close the TCP connection once what we wrote has gone out. */
void conn_flush_and_close(struct conn *c)
{
	if (c->call) { /* its answer would have nowhere to go */
		api_call_abandon(c->call);
		c->call = NULL;
	}
	set_state(c, CONN_FLUSHING);
	bufferevent_disable(c->bev, EV_READ);
	/* on_write then means "all written", not "below the pacing mark". */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	/* The timer frees it: at once if nothing is left to write, else if the
	 * peer does not take it in time (write_cb frees it sooner). */
	arm(c, evbuffer_get_length(bufferevent_get_output(c->bev)) ? CLOSE_TIMEOUT_MS : 0);
}

/* The bytes queued for this connection's reader: for a plain socket, less
 * what write_now holds for the loop turn's end, which waits for the turn
 * and not for the reader. */
static size_t queued(const struct conn *c)
{
	if (bufferevent_openssl_get_ssl(c->bev))
		return evbuffer_get_length(bufferevent_get_output(c->bev));
	return c->listener->svc->write_pending(c->listener->self, c->bev);
}

static void send_frame(struct conn *c, enum ws_opcode op, const void *data, size_t len)
{
	uint8_t head[14];
	size_t n = ws_frame_header(head, true, op, len, NULL);
	if (!bufferevent_openssl_get_ssl(c->bev)) { /* a plain socket: with the turn's others, at its end */
		struct iovec iov[2] = { { head, n }, { (void *)data, len } };
		c->listener->svc->write_now(c->listener->self, c->bev, iov, len ? 2 : 1);
		return;
	}
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add(out, head, n);
	if (len)
		evbuffer_add(out, data, len);
}

/* Drop the connection and its queued output (a reader that does not keep
 * up, or a resumption that cannot be exact), so memory stays bounded. Its
 * session keeps the messages for replay, and the client resumes. Freed by
 * the timer, never from here: this may run inside this connection's own
 * callbacks, and inside sends the session code is still making. */
void conn_drop(struct conn *c, const char *why)
{
	if (c->state != CONN_OPEN && c->state != CONN_CLOSING)
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	ws_log(c->listener, AB_LOG_WARNING, "%s: dropping the connection (%zu bytes unsent): %s", c->peer,
	       evbuffer_get_length(out), why);
	/* The session is detached when the timer frees the connection, not
	 * here: this runs inside sends the session code is still making. It
	 * learns that nothing of the dropped output was delivered. */
	if (c->session)
		session_output_dropped(c->session);
	/* A socket bufferevent's output is frozen at its start (libevent drains
	 * it in its own writes only): a drain refused is done unfrozen. */
	if (evbuffer_drain(out, evbuffer_get_length(out)) < 0) {
		evbuffer_unfreeze(out, 1);
		evbuffer_drain(out, evbuffer_get_length(out));
		evbuffer_freeze(out, 1);
	}
	set_state(c, CONN_FLUSHING);
	bufferevent_disable(c->bev, EV_READ); /* EV_WRITE is write_now's; nothing is left to write */
	arm(c, 0);
}

bool conn_send_text(struct conn *c, const char *data, size_t len)
{
	if (c->state != CONN_OPEN)
		return false;
	/* One message always fits an empty buffer, however large; beyond that
	 * the reader has to keep up. */
	size_t waiting = queued(c);
	if (waiting && waiting + len > c->listener->max_output) {
		conn_drop(c, "a slow reader");
		return false;
	}
	send_frame(c, WS_OP_TEXT, data, len);
	c->listener->counters.messages_out++;
	c->listener->counters.bytes_out += len;
	return true;
}

bool conn_output_empty(const struct conn *c)
{
	return evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
}

bool conn_has_room(const struct conn *c, size_t len)
{
	size_t waiting = queued(c);
	return c->state == CONN_OPEN && (waiting == 0 || waiting + len <= c->listener->max_output / 2);
}

/* The rate limit's token bucket: may this connection send one more? */
static bool take_token(struct conn *c)
{
	struct listener *l = c->listener;
	if (l->rate_limit <= 0)
		return true;
	uint64_t now = ws_now_ms();
	c->tokens += (double)(now - c->tokens_at_ms) * l->rate_limit / 1000.0;
	if (c->tokens > l->rate_burst)
		c->tokens = l->rate_burst;
	c->tokens_at_ms = now;
	c->tokens -= 1;
	return c->tokens >= 0;
}

static void send_close_frame(struct conn *c, uint16_t code, const char *reason)
{
	uint8_t payload[125];
	size_t n = 0;
	if (code != WS_CLOSE_NO_STATUS) {
		payload[n++] = (uint8_t)(code >> 8);
		payload[n++] = (uint8_t)code;
		size_t reason_len = reason ? strlen(reason) : 0;
		if (reason_len > sizeof payload - 2)
			reason_len = sizeof payload - 2; /* our reasons are ASCII: no split character */
		if (reason_len)
			memcpy(payload + n, reason, reason_len);
		n += reason_len;
	}
	send_frame(c, WS_OP_CLOSE, payload, n);
	listener_count_close(c->listener, code);
}

void conn_close(struct conn *c, uint16_t code, const char *reason)
{
	if (c->state != CONN_OPEN)
		return;
	detach(c, code);
	send_close_frame(c, code, reason);
	set_state(c, CONN_CLOSING);
	arm(c, CLOSE_TIMEOUT_MS);
}

/* ---- the upgrade ------------------------------------------------------------ */

static bool valid_user_id(const char *at, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = at[i];
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		          ch == '_' || ch == '-' || ch == '.';
		if (!ok)
			return false;
	}
	return true;
}

/* Which WebSocket endpoint a path names: /ws, (legacy) /ws/query/{user}
 * and /ws/chat/{user}, or (rpc) the JSON-RPC path. Returns false for any
 * other path. */
static bool ws_endpoint(const struct listener *l, struct http_span path, bool *legacy, bool *rpc,
                        char user_id[65])
{
	size_t len = path.len;
	*legacy = *rpc = false;
	user_id[0] = '\0';
	if (len == 3 && memcmp(path.at, "/ws", 3) == 0)
		return true;
	if (l->jsonrpc_path && len == strlen(l->jsonrpc_path) && memcmp(path.at, l->jsonrpc_path, len) == 0) {
		*rpc = true;
		return true;
	}
	if (!l->legacy_paths)
		return false;
	static const char *const prefixes[] = { "/ws/query/", "/ws/chat/" };
	for (size_t i = 0; i < 2; i++) {
		size_t plen = strlen(prefixes[i]);
		if (len > plen && memcmp(path.at, prefixes[i], plen) == 0 &&
		    valid_user_id(path.at + plen, len - plen)) {
			memcpy(user_id, path.at + plen, len - plen);
			user_id[len - plen] = '\0';
			*legacy = true;
			return true;
		}
	}
	return false;
}

static void handle_frames(struct conn *c);

/* A request that is not an upgrade: the HTTP API, a preflight, /health and
 * the like, or a file. */
static void handle_plain(struct conn *c, const struct http_request *req, const char *body,
                         size_t body_len)
{
	struct listener *l = c->listener;
	l->counters.http_requests++;
	struct http_span path = http_request_path(req);
	const struct http_header *origin = http_header(req, "Origin");
	bool allowed = origin_allowed(l->allowed_origins, req);
	if (origin && allowed && origin->value.len < sizeof c->origin) {
		memcpy(c->origin, origin->value.at, origin->value.len);
		c->origin[origin->value.len] = '\0';
	}
	if (!api_path_known(l->api, path)) {
		if (!http_serve(c, req))
			http_error(c, 404, "not found");
		return;
	}
	if (http_span_equals(req->method, "OPTIONS")) {
		if (origin && allowed)
			http_preflight(c);
		else
			http_error(c, 403, "origin not allowed");
		return;
	}
	if (!allowed) { /* a page elsewhere must not act with this user's reach */
		http_error(c, 403, "origin not allowed");
		return;
	}
	if (auth_enabled(l->auth)) {
		struct http_span token;
		char decoded[8192];
		const char *refused = "a token is required";
		if (!request_token(req, &token, decoded, sizeof decoded) ||
		    auth_check(l->auth, token.at, token.len, c->auth_user, &refused) < 0) {
			http_error(c, 401, refused);
			return;
		}
	}
	if (!api_handle(c, req, path, body, body_len))
		http_error(c, 405, "method not allowed");
}

/* Returns true when the request became a WebSocket, which took its head
 * off the input itself. */
static bool handle_request(struct conn *c, const struct http_request *req, const char *body,
                           size_t body_len)
{
	struct listener *l = c->listener;
	bool legacy, rpc;
	char user_id[65];
	if (!ws_endpoint(l, http_request_path(req), &legacy, &rpc, user_id)) {
		handle_plain(c, req, body, body_len);
		return false;
	}
	char accept[WS_ACCEPT_LEN];
	const char *why = NULL;
	int status = ws_handshake_check(req, accept, &why);
	if (status) {
		c->keep_alive = false; /* it wanted a WebSocket, not a conversation */
		http_error(c, status, why);
		return false;
	}
	if (!origin_allowed(l->allowed_origins, req)) {
		c->keep_alive = false;
		http_error(c, 403, "origin not allowed");
		return false;
	}
	struct http_span token;
	char decoded[8192];
	if (auth_enabled(l->auth) && request_token(req, &token, decoded, sizeof decoded)) {
		const char *refused;
		if (auth_check(l->auth, token.at, token.len, c->auth_user, &refused) < 0) {
			c->keep_alive = false;
			http_error(c, 401, refused);
			return false;
		}
	}
	if (rpc && auth_enabled(l->auth) && !c->auth_user[0]) {
		/* A JSON-RPC client has no handshake to bring a token in later. */
		c->keep_alive = false;
		http_error(c, 401, "a token is required (Authorization: Bearer, or access_token)");
		return false;
	}
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
	                    accept);
	evbuffer_drain(bufferevent_get_input(c->bev), req->head_len);
	l->counters.upgrades++;
	set_state(c, CONN_OPEN);
	ws_reader_init(&c->reader, l->max_message, WS_FROM_CLIENT);
	c->last_heard_ms = ws_now_ms();
	arm(c, l->ping_interval_ms);
	/* on_write runs when the output falls to a quarter of the bound: a
	 * resumption's backlog keeps flowing without ever passing it. */
	bufferevent_setwatermark(c->bev, EV_WRITE, l->max_output / 4, 0);
	if (rpc)
		c->rpc = rpc_peer_open(l, c);
	else
		c->session = session_open(l, c, legacy, user_id);
	if (!c->session && !c->rpc) {
		conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
		return true;
	}
	handle_frames(c); /* frames sent right behind the upgrade */
	return true;
}

/* How many body bytes follow the head: 0 without Content-Length, or -1
 * after answering a request we will not read. */
static long long body_length(struct conn *c, const struct http_request *req)
{
	if (http_header(req, "Transfer-Encoding")) {
		http_error(c, 411, "send the body with Content-Length");
		return -1;
	}
	const struct http_header *h = http_header(req, "Content-Length");
	if (!h)
		return 0;
	for (size_t i = 0; i < req->n_headers; i++) {
		/* Two lengths: a proxy might believe the other one (smuggling). */
		if (&req->headers[i] != h && http_span_equals(req->headers[i].name, "Content-Length")) {
			http_error(c, 400, "more than one Content-Length");
			return -1;
		}
	}
	char text[24];
	size_t len = h->value.len;
	if (len == 0 || len >= sizeof text || strspn(h->value.at, "0123456789") < len) {
		http_error(c, 400, "bad Content-Length");
		return -1;
	}
	memcpy(text, h->value.at, len);
	text[len] = '\0';
	unsigned long long n = strtoull(text, NULL, 10);
	if (n > c->listener->max_message) {
		http_error(c, 413, "request body too large");
		return -1;
	}
	return (long long)n;
}

/* Read requests while whole ones are there: several may come back to back
 * (pipelining); each is answered in order, the next read only after. */
static void handle_head(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	c->parsing = true;
	while (c->state == CONN_HTTP_HEAD && evbuffer_get_length(in)) {
		size_t len = evbuffer_get_length(in);
		size_t look = len < MAX_HEAD ? len : MAX_HEAD;
		const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
		struct http_request req;
		int rc = http_parse_request(buf, look, MAX_HEAD, &req);
		if (rc == 0)
			break;
		c->keep_alive = false; /* an unreadable request ends the connection */
		c->origin[0] = '\0';   /* named only once this request's Origin is checked */
		c->head_request = rc == 1 && http_span_equals(req.method, "HEAD");
		if (rc != 1) {
			http_error(c, rc, rc == 431 ? "request head too large" : rc == 505 ? "HTTP/1.x only" : "malformed request");
			break;
		}
		long long body = body_length(c, &req);
		if (body < 0)
			break;
		size_t whole = req.head_len + (size_t)body;
		if (len < whole) {
			if (!c->continued && req.minor >= 1 && http_header_has_token(&req, "Expect", "100-continue")) {
				evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
				c->continued = true;
			}
			break; /* the rest of the body is on its way (the timer bounds the wait) */
		}
		/* The body too, in one piece; the head moved with it. */
		buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)whole);
		http_parse_request(buf, whole, MAX_HEAD, &req);
		c->keep_alive = !http_header_has_token(&req, "Connection", "close") &&
		                (req.minor >= 1 || http_header_has_token(&req, "Connection", "keep-alive"));
		c->continued = false;
		if (!handle_request(c, &req, buf + req.head_len, (size_t)body))
			evbuffer_drain(in, whole);
	}
	c->parsing = false;
}

void conn_http_wait(struct conn *c, struct api_call *call, uint64_t timeout_ms)
{
	c->call = call;
	set_state(c, CONN_HTTP_WAIT);
	/* The broker answers within its route's deadline; this is the
	 * backstop for a route that never answers (oneway, say). */
	arm(c, timeout_ms);
}

void conn_http_answered(struct conn *c)
{
	if (c->state != CONN_HTTP_HEAD && c->state != CONN_HTTP_WAIT)
		return; /* closing already */
	if (!c->keep_alive || c->listener->stopping) {
		conn_flush_and_close(c);
		return;
	}
	set_state(c, CONN_HTTP_HEAD);
	arm(c, c->listener->handshake_timeout_ms); /* for the next request to come whole */
	if (!c->parsing)
		handle_head(c); /* requests pipelined behind the one answered */
}

/* ---- frames ----------------------------------------------------------------- */

static void handle_event(struct conn *c, const struct ws_event *ev)
{
	switch (ev->kind) {
	case WS_EV_MESSAGE:
		if (ev->binary)
			conn_close(c, WS_CLOSE_UNSUPPORTED, "binary frames are not supported");
		else if (c->session || c->rpc) {
			c->listener->counters.messages_in++;
			c->listener->counters.bytes_in += ev->len;
			bool allowed = take_token(c);
			if (!allowed && c->tokens < -c->listener->rate_burst) /* it keeps flooding */
				conn_close(c, WS_CLOSE_RATE_LIMITED, "rate limit exceeded");
			else if (c->rpc)
				rpc_peer_on_text(c->rpc, (const char *)ev->data, ev->len, !allowed);
			else if (allowed)
				session_on_text(c->session, (const char *)ev->data, ev->len);
			else
				session_rate_limited(c->session, (const char *)ev->data, ev->len);
		}
		break;
	case WS_EV_PING:
		/* Pongs count against the same bounds as messages: a client that
		 * pings and never reads must not grow our output. */
		if (c->state != CONN_OPEN)
			break;
		if (!take_token(c) && c->tokens < -c->listener->rate_burst)
			conn_close(c, WS_CLOSE_RATE_LIMITED, "rate limit exceeded");
		else if (queued(c) + ev->len > c->listener->max_output)
			conn_drop(c, "a slow reader");
		else
			send_frame(c, WS_OP_PONG, ev->data, ev->len);
		break;
	case WS_EV_PONG:
		c->ping_outstanding = false;
		break;
	case WS_EV_CLOSE:
		if (c->state == CONN_OPEN) { /* the peer began it: answer, then close */
			detach(c, ev->close_code);
			send_close_frame(c, ev->close_code, NULL);
		}
		conn_flush_and_close(c);
		break;
	case WS_EV_FAIL:
		ws_log(c->listener, AB_LOG_INFO, "%s: closing with %u: %s", c->peer, ev->close_code, ev->why);
		if (c->state == CONN_OPEN) {
			detach(c, ev->close_code);
			send_close_frame(c, ev->close_code, ev->why);
		}
		conn_flush_and_close(c); /* a broken peer gets no close handshake */
		break;
	case WS_EV_NONE:
		break;
	}
}

static void handle_frames(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	while (c->state == CONN_OPEN || c->state == CONN_CLOSING) {
		struct evbuffer_iovec chunk;
		if (evbuffer_peek(in, -1, NULL, &chunk, 1) < 1)
			break;
		struct ws_event ev;
		size_t used = ws_reader_feed(&c->reader, chunk.iov_base, chunk.iov_len, &ev);
		evbuffer_drain(in, used); /* payloads were copied into the reader */
		if (used) {
			c->last_heard_ms = ws_now_ms();
			if (!ws_reader_mid_message(&c->reader))
				c->message_started_ms = 0;
			else if (!c->message_started_ms)
				c->message_started_ms = c->last_heard_ms;
		}
		handle_event(c, &ev);
		if (!used && ev.kind == WS_EV_NONE)
			break;
	}
}

/* ---- callbacks ---------------------------------------------------------------- */

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->state == CONN_HTTP_HEAD)
		handle_head(c);
	else if (c->state == CONN_HTTP_WAIT) {
		/* Pipelined requests wait their turn, within bounds. */
		if (evbuffer_get_length(bufferevent_get_input(bev)) > MAX_HEAD + c->listener->max_message)
			conn_flush_and_close(c);
	} else
		handle_frames(c);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->state == CONN_FLUSHING)
		conn_free(c);
	else if (c->session && c->session->replaying)
		session_pump(c->session);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	/* End of input while an answer is pending counts as the client
	 * leaving (as nginx takes it): its call is cancelled upstream. */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct listener *l = c->listener;
	switch (c->state) {
	case CONN_HTTP_HEAD: /* slowloris, or a silent client */
		c->keep_alive = false;
		if (evbuffer_get_length(bufferevent_get_input(c->bev)))
			http_error(c, 408, "request not received in time");
		else
			conn_flush_and_close(c); /* an idle keep-alive connection: nothing to answer */
		return;
	case CONN_HTTP_WAIT:
		api_call_abandon(c->call);
		c->call = NULL;
		http_error(c, 504, "no reply in time");
		return;
	case CONN_OPEN: {
		/* A message trickled in a byte at a time is not a live client: it
		 * must be whole within idle_timeout of its first byte. */
		uint64_t now = ws_now_ms();
		uint64_t silent = now - c->last_heard_ms;
		uint64_t assembling = c->message_started_ms ? now - c->message_started_ms : 0;
		uint64_t waited = assembling > silent ? assembling : silent;
		if (waited >= l->idle_timeout_ms) {
			conn_close(c, WS_CLOSE_IDLE_TIMEOUT,
			           silent >= l->idle_timeout_ms ? "idle timeout" : "message not completed in time");
			return;
		}
		if (silent >= l->ping_interval_ms && !c->ping_outstanding) {
			send_frame(c, WS_OP_PING, "agentbus", 8);
			c->ping_outstanding = true;
		}
		arm(c, l->ping_interval_ms < l->idle_timeout_ms - waited ? l->ping_interval_ms
		                                                         : l->idle_timeout_ms - waited);
		return;
	}
	case CONN_CLOSING:
	case CONN_FLUSHING:
		conn_free(c);
		return;
	}
}

static void format_peer(const struct sockaddr *addr, char out[64])
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (addr->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)addr;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
	} else if (addr->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)addr;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, 64, "%s:%u", host, port);
}

void conn_accept(struct listener *l, evutil_socket_t fd, const struct sockaddr *addr, int addr_len)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	/* Each message is written as soon as it is made: Nagle would hold a
	 * second small one back for the client's delayed ACK (40 ms). */
	int on = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
	c->listener = l;
	format_peer(addr, c->peer);
	ip_counts_key(addr, c->ip);
	c->tokens = l->rate_burst;
	c->tokens_at_ms = ws_now_ms();
	random_hex(c->id, 8);
	struct event_base *base = l->svc->event_base(l->self);
	if (l->tls) {
		SSL *ssl = SSL_new(l->tls);
		c->bev = ssl ? bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
		                                              BEV_OPT_CLOSE_ON_FREE)
		             : NULL;
		if (ssl && !c->bev)
			SSL_free(ssl);
		if (c->bev) /* a peer that just closes the TCP connection is done, not broken */
			bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	} else {
		c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	}
	c->timer = evtimer_new(base, on_timer, c);
	if (!c->bev || !c->timer) {
		if (c->bev)
			bufferevent_free(c->bev);
		else
			evutil_closesocket(fd);
		if (c->timer)
			event_free(c->timer);
		free(c);
		return;
	}
	c->next = l->conns;
	if (l->conns)
		l->conns->prev = c;
	l->conns = c;
	l->n_conns++;
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	arm(c, l->handshake_timeout_ms);
	if (l->n_conns > l->max_connections) {
		http_error(c, 503, "too many connections");
		return;
	}
	size_t from_ip = ip_counts_add(l->per_ip, c->ip);
	c->counted = from_ip > 0;
	if (from_ip == 0 || from_ip > l->max_connections_per_ip)
		http_error(c, 503, "too many connections from this address");
}
