#include "websocket.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/ssl.h>
#include <event2/event.h>
#include <event2/util.h>

#include "conn.h"
#include "http_serve.h"
#include "ip_counts.h"
#include "auth.h"
#include <strings.h>
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

void conn_free(struct conn *c)
{
	struct listener *l = c->listener;
	if (c->session)
		session_detach(c->session, c, WS_CLOSE_ABNORMAL);
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
	set_state(c, CONN_FLUSHING);
	bufferevent_disable(c->bev, EV_READ);
	/* on_write then means "all written", not "below the pacing mark". */
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	/* The timer frees it: at once if nothing is left to write, else if the
	 * peer does not take it in time (write_cb frees it sooner). */
	arm(c, evbuffer_get_length(bufferevent_get_output(c->bev)) ? CLOSE_TIMEOUT_MS : 0);
}

static void send_frame(struct conn *c, enum ws_opcode op, const void *data, size_t len)
{
	uint8_t head[14];
	size_t n = ws_frame_header(head, true, op, len, NULL);
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
	evbuffer_drain(out, evbuffer_get_length(out));
	set_state(c, CONN_FLUSHING);
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	arm(c, 0);
}

bool conn_send_text(struct conn *c, const char *data, size_t len)
{
	if (c->state != CONN_OPEN)
		return false;
	/* One message always fits an empty buffer, however large; beyond that
	 * the reader has to keep up. */
	size_t queued = evbuffer_get_length(bufferevent_get_output(c->bev));
	if (queued && queued + len > c->listener->max_output) {
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
	size_t queued = evbuffer_get_length(bufferevent_get_output(c->bev));
	return c->state == CONN_OPEN && (queued == 0 || queued + len <= c->listener->max_output / 2);
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
	if (c->session)
		session_detach(c->session, c, code);
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

/* Which WebSocket endpoint a path names: /ws, or (legacy) /ws/query/{user}
 * and /ws/chat/{user}. Returns false for any other path. */
static bool ws_endpoint(const struct listener *l, struct http_span target, bool *legacy,
                        char user_id[65])
{
	size_t len = target.len;
	const char *q = memchr(target.at, '?', len);
	if (q)
		len = (size_t)(q - target.at);
	*legacy = false;
	user_id[0] = '\0';
	if (len == 3 && memcmp(target.at, "/ws", 3) == 0)
		return true;
	if (!l->legacy_paths)
		return false;
	static const char *const prefixes[] = { "/ws/query/", "/ws/chat/" };
	for (size_t i = 0; i < 2; i++) {
		size_t plen = strlen(prefixes[i]);
		if (len > plen && memcmp(target.at, prefixes[i], plen) == 0 &&
		    valid_user_id(target.at + plen, len - plen)) {
			memcpy(user_id, target.at + plen, len - plen);
			user_id[len - plen] = '\0';
			*legacy = true;
			return true;
		}
	}
	return false;
}

/* Is the Host an address or localhost (with a port or not)? A page served
 * under any other name could be a DNS-rebinding attacker's, who picks both
 * Origin and Host: "same origin" only counts for these. */
static bool host_is_literal(struct http_span host)
{
	char name[256];
	if (host.len == 0 || host.len >= sizeof name)
		return false;
	memcpy(name, host.at, host.len);
	name[host.len] = '\0';
	char *end = name[0] == '[' ? strchr(name, ']') : strrchr(name, ':');
	if (name[0] == '[') {
		if (!end)
			return false;
		*end = '\0';
		struct in6_addr a6;
		return inet_pton(AF_INET6, name + 1, &a6) == 1;
	}
	if (end)
		*end = '\0';
	struct in_addr a4;
	return strcmp(name, "localhost") == 0 || inet_pton(AF_INET, name, &a4) == 1;
}

/* A browser's Origin must be listed, or be this server itself (reached by
 * address or as localhost). Clients that send no Origin (not browsers) are
 * not subject to it. */
static bool origin_allowed(const struct listener *l, const struct http_request *req)
{
	const struct http_header *origin = http_header(req, "Origin");
	if (!origin)
		return true;
	const struct http_header *host = http_header(req, "Host");
	if (host && !host_is_literal(host->value))
		host = NULL; /* a name: only the allow-list speaks for it */
	const char *o = origin->value.at;
	size_t olen = origin->value.len;
	for (size_t skip = 0; host && skip < 2; skip++) {
		const char *scheme = skip ? "https://" : "http://";
		size_t slen = strlen(scheme);
		if (olen == slen + host->value.len && strncmp(o, scheme, slen) == 0 &&
		    strncmp(o + slen, host->value.at, host->value.len) == 0)
			return true;
	}
	for (const char *at = l->allowed_origins; at && *at;) {
		while (*at == ' ' || *at == ',')
			at++;
		const char *end = at;
		while (*end && *end != ',' && *end != ' ')
			end++;
		if ((size_t)(end - at) == olen && strncmp(at, o, olen) == 0)
			return true;
		if (end - at == 1 && *at == '*')
			return true;
		at = end;
	}
	return false;
}

/* A token given with the upgrade: "Authorization: Bearer T", or (browsers
 * cannot set headers on a WebSocket) an access_token query parameter. */
/* A query value as the browser sent it, %XX-decoded into buf ('+' is a
 * space in forms but a literal '+' in tokens, so it stays). */
static bool percent_decode(struct http_span *value, char *buf, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < value->len; i++) {
		char ch = value->at[i];
		if (ch == '%' && i + 2 < value->len && isxdigit((unsigned char)value->at[i + 1]) &&
		    isxdigit((unsigned char)value->at[i + 2])) {
			char hex[3] = { value->at[i + 1], value->at[i + 2], 0 };
			ch = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (n + 1 >= cap)
			return false;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	*value = (struct http_span){ buf, n };
	return true;
}

static bool upgrade_token(const struct http_request *req, struct http_span *token,
                          char *decoded, size_t decoded_cap)
{
	const struct http_header *h = http_header(req, "Authorization");
	if (h && h->value.len > 7 && strncasecmp(h->value.at, "Bearer ", 7) == 0) {
		*token = (struct http_span){ h->value.at + 7, h->value.len - 7 };
		return true;
	}
	const char *q = memchr(req->target.at, '?', req->target.len);
	const char *end = req->target.at + req->target.len;
	for (const char *at = q; at && at < end;) {
		at++;
		const char *amp = memchr(at, '&', (size_t)(end - at));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - at) > 13 && memcmp(at, "access_token=", 13) == 0) {
			*token = (struct http_span){ at + 13, (size_t)(stop - at - 13) };
			return percent_decode(token, decoded, decoded_cap);
		}
		at = amp;
	}
	return false;
}

static void handle_frames(struct conn *c);

static void handle_request(struct conn *c, const struct http_request *req)
{
	struct listener *l = c->listener;
	bool legacy;
	char user_id[65];
	if (!ws_endpoint(l, req->target, &legacy, user_id)) {
		l->counters.http_requests++;
		if (!http_serve(c, req))
			http_error(c, 404, "not found");
		return;
	}
	char accept[WS_ACCEPT_LEN];
	const char *why = NULL;
	int status = ws_handshake_check(req, accept, &why);
	if (status) {
		http_error(c, status, why);
		return;
	}
	if (!origin_allowed(l, req)) {
		http_error(c, 403, "origin not allowed");
		return;
	}
	struct http_span token;
	char decoded[8192];
	if (auth_enabled(l->auth) && upgrade_token(req, &token, decoded, sizeof decoded)) {
		const char *refused;
		if (auth_check(l->auth, token.at, token.len, c->auth_user, &refused) < 0) {
			http_error(c, 401, refused);
			return;
		}
	}
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                    "Connection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
	                    accept);
	evbuffer_drain(bufferevent_get_input(c->bev), req->head_len);
	l->counters.upgrades++;
	set_state(c, CONN_OPEN);
	ws_reader_init(&c->reader, l->max_message, true);
	c->last_heard_ms = ws_now_ms();
	arm(c, l->ping_interval_ms);
	/* on_write runs when the output falls to a quarter of the bound: a
	 * resumption's backlog keeps flowing without ever passing it. */
	bufferevent_setwatermark(c->bev, EV_WRITE, l->max_output / 4, 0);
	c->session = session_open(l, c, legacy, user_id);
	if (!c->session) {
		conn_close(c, WS_CLOSE_INTERNAL_ERROR, "out of memory");
		return;
	}
	handle_frames(c); /* frames sent right behind the upgrade */
}

static void handle_head(struct conn *c)
{
	struct evbuffer *in = bufferevent_get_input(c->bev);
	size_t len = evbuffer_get_length(in);
	size_t look = len < MAX_HEAD ? len : MAX_HEAD;
	const char *buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)look);
	struct http_request req;
	int rc = http_parse_request(buf, look, MAX_HEAD, &req);
	if (rc == 0)
		return;
	if (rc != 1) {
		http_error(c, rc, rc == 431 ? "request head too large" : rc == 505 ? "HTTP/1.x only" : "malformed request");
		return;
	}
	handle_request(c, &req);
}

/* ---- frames ----------------------------------------------------------------- */

static void handle_event(struct conn *c, const struct ws_event *ev)
{
	switch (ev->kind) {
	case WS_EV_MESSAGE:
		if (ev->binary)
			conn_close(c, WS_CLOSE_UNSUPPORTED, "binary frames are not supported");
		else if (c->session) {
			c->listener->counters.messages_in++;
			c->listener->counters.bytes_in += ev->len;
			if (take_token(c))
				session_on_text(c->session, (const char *)ev->data, ev->len);
			else if (c->tokens < -c->listener->rate_burst) /* it keeps flooding */
				conn_close(c, WS_CLOSE_RATE_LIMITED, "rate limit exceeded");
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
		else if (evbuffer_get_length(bufferevent_get_output(c->bev)) + ev->len > c->listener->max_output)
			conn_drop(c, "a slow reader");
		else
			send_frame(c, WS_OP_PONG, ev->data, ev->len);
		break;
	case WS_EV_PONG:
		c->ping_outstanding = false;
		break;
	case WS_EV_CLOSE:
		if (c->state == CONN_OPEN) { /* the peer began it: answer, then close */
			if (c->session)
				session_detach(c->session, c, ev->close_code);
			send_close_frame(c, ev->close_code, NULL);
		}
		conn_flush_and_close(c);
		break;
	case WS_EV_FAIL:
		ws_log(c->listener, AB_LOG_INFO, "%s: closing with %u: %s", c->peer, ev->close_code, ev->why);
		if (c->state == CONN_OPEN) {
			if (c->session)
				session_detach(c->session, c, ev->close_code);
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
	else
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
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_free(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	struct listener *l = c->listener;
	switch (c->state) {
	case CONN_HTTP_HEAD: /* slowloris, or a silent client */
		http_error(c, 408, "request head not received in time");
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
	c->listener = l;
	format_peer(addr, c->peer);
	ip_counts_key(addr, c->ip);
	c->tokens = l->rate_burst;
	c->tokens_at_ms = ws_now_ms();
	unsigned char raw[8];
	evutil_secure_rng_get_bytes(raw, sizeof raw);
	for (size_t i = 0; i < sizeof raw; i++)
		snprintf(c->id + 2 * i, 3, "%02x", raw[i]);
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
