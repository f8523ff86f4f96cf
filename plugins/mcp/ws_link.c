#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "backoff.h"
#include "timer.h"
#include "client_tls.h"
#include "endpoint.h"
#include "http_parse.h"
#include "json.h"
#include "legacy.h"
#include "ws_codec.h"
#include "ws_handshake.h"
#include "ws_link.h"

/* The largest message taken from the server. */
#define MAX_MESSAGE (16u << 20)
#define MAX_HEAD 16384
/* From the connect to the upgrade's answer (and the event handshake's). */
#define HANDSHAKE_TIMEOUT_S 10
/* How long the server may take to answer our close frame at shutdown. */
#define CLOSE_TIMEOUT_S 2

enum ws_phase {
	PHASE_IDLE,    /* no connection: waiting out the backoff */
	PHASE_UPGRADE, /* connecting, the upgrade request sent */
	PHASE_EVENT,   /* upgraded, agent_connected sent, awaiting connection_acknowledged */
	PHASE_OPEN,    /* messages flow */
	PHASE_CLOSING, /* our close frame sent at shutdown */
};

struct ws_link {
	struct upstream *u;
	struct link_events ev;
	struct endpoint at;
	SSL_CTX *tls; /* wss: verifying the server; NULL: ws */
	bool event_handshake, legacy_dialect;
	struct legacy legacy;
	struct evdns_base *dns;
	struct bufferevent *bev;
	enum ws_phase phase;
	char accept[WS_ACCEPT_LEN + 1]; /* the Sec-WebSocket-Accept the server must answer */
	struct ws_reader reader;
	struct backoff backoff;
	struct event *retry;    /* the next connection attempt */
	struct event *deadline; /* of the handshakes, or of the closing one */
	/* The dialect's own answers (to initialize, tools/list) reach the client
	 * on a later loop turn, never inside its send. */
	struct event *answer_ev;
	struct answer { char *data; size_t len; } *answers;
	size_t n_answers;
	bool stopping;
	void (*stopped)(struct upstream *u);
	struct lingering *lingering; /* closed connections still writing their close frame */
};

/* A connection the link is done with, kept until its last frame (our
 * close) is written: freeing a bufferevent throws its output away. */
struct lingering {
	struct ws_link *l;
	struct bufferevent *bev;
	struct lingering *next;
};

static struct event_base *base_of(struct ws_link *l)
{
	return l->u->svc->event_base(l->u->self);
}

static void drop_answers(struct ws_link *l)
{
	for (size_t i = 0; i < l->n_answers; i++)
		free(l->answers[i].data);
	free(l->answers);
	l->answers = NULL;
	l->n_answers = 0;
}

static void end_lingering(struct lingering *g)
{
	for (struct lingering **at = &g->l->lingering; *at; at = &(*at)->next) {
		if (*at == g) {
			*at = g->next;
			break;
		}
	}
	bufferevent_free(g->bev);
	free(g);
}

static void lingered_cb(struct bufferevent *bev, void *arg)
{
	end_lingering(arg); /* the output is written */
}

static void lingering_event_cb(struct bufferevent *bev, short what, void *arg)
{
	end_lingering(arg); /* the peer went, or the write timed out */
}

/* Free the connection once what is queued (a close frame) is written, or
 * after CLOSE_TIMEOUT_S; nothing more is read from it. */
static void linger(struct ws_link *l, struct bufferevent *bev)
{
	struct lingering *g = evbuffer_get_length(bufferevent_get_output(bev)) ? calloc(1, sizeof *g) : NULL;
	if (!g) {
		bufferevent_free(bev);
		return;
	}
	*g = (struct lingering){ l, bev, l->lingering };
	l->lingering = g;
	bufferevent_disable(bev, EV_READ);
	bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
	bufferevent_setcb(bev, NULL, lingered_cb, lingering_event_cb, g);
	struct timeval tv = { CLOSE_TIMEOUT_S, 0 };
	bufferevent_set_timeouts(bev, NULL, &tv);
}

static void close_connection(struct ws_link *l)
{
	if (l->bev)
		linger(l, l->bev);
	l->bev = NULL;
	ws_reader_free(&l->reader);
	if (l->deadline)
		evtimer_del(l->deadline);
	drop_answers(l);
	legacy_reset(&l->legacy); /* a pong on a new connection answers none of the old pings */
	l->phase = PHASE_IDLE;
}

/* The connection is over: tell the client, and try again after the backoff
 * (or, at shutdown, report the link stopped). */
static void go_down(struct ws_link *l, const char *why)
{
	close_connection(l);
	if (l->stopping) {
		void (*stopped)(struct upstream *u) = l->stopped;
		l->stopped = NULL;
		if (stopped)
			stopped(l->u); /* last: it may end the link */
		return;
	}
	char text[300];
	snprintf(text, sizeof text, "%s:%d: %s", l->at.host, l->at.port, why);
	l->ev.down(l->u, text);
	if (!evtimer_pending(l->retry, NULL))
		timer_arm_ms(l->retry, backoff_next(&l->backoff));
}

/* ---- frames out --------------------------------------------------------------------- */

/* One frame, masked with a fresh key as a client's must be (RFC 6455 5.3). */
static bool send_frame(struct ws_link *l, enum ws_opcode op, const void *data, size_t len)
{
	uint8_t head[14], mask[4];
	evutil_secure_rng_get_bytes(mask, sizeof mask);
	size_t head_len = ws_frame_header(head, true, op, len, mask);
	struct evbuffer *out = bufferevent_get_output(l->bev);
	/* Room for all of it first: a header must not go out without its payload. */
	if (evbuffer_expand(out, head_len + len) < 0 || evbuffer_add(out, head, head_len) < 0)
		return false;
	struct evbuffer_iovec iov;
	if (len == 0)
		return true;
	if (evbuffer_reserve_space(out, (ev_ssize_t)len, &iov, 1) != 1)
		return false;
	memcpy(iov.iov_base, data, len);
	ws_mask(iov.iov_base, len, mask, 0);
	iov.iov_len = len;
	return evbuffer_commit_space(out, &iov, 1) == 0;
}

static void send_close(struct ws_link *l, unsigned code)
{
	uint8_t payload[2] = { (uint8_t)(code >> 8), (uint8_t)code };
	send_frame(l, WS_OP_CLOSE, payload, sizeof payload);
}

/* ---- the dialect's own answers -------------------------------------------------------- */

static void answer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ws_link *l = arg;
	/* One at a time from the front: an answer may lead the client to send
	 * more, which may queue more. */
	while (l->n_answers && l->phase == PHASE_OPEN) {
		struct answer a = l->answers[0];
		memmove(l->answers, l->answers + 1, (--l->n_answers) * sizeof *l->answers);
		l->ev.line(l->u, a.data, a.len, 0);
		free(a.data);
	}
}

static bool queue_answer(struct ws_link *l, char *answer)
{
	struct answer *grown = realloc(l->answers, (l->n_answers + 1) * sizeof *grown);
	if (!grown) {
		free(answer);
		return false;
	}
	l->answers = grown;
	l->answers[l->n_answers++] = (struct answer){ answer, strlen(answer) };
	event_active(l->answer_ev, EV_WRITE, 0);
	return true;
}

/* ---- the handshakes ----------------------------------------------------------------- */

static void open_session(struct ws_link *l)
{
	l->phase = PHASE_OPEN;
	evtimer_del(l->deadline);
	backoff_reset(&l->backoff);
	up_log(l->u, AB_LOG_INFO, "connected to %s:%d%s", l->at.host, l->at.port, l->at.path);
	l->ev.up(l->u);
}

static bool send_agent_connected(struct ws_link *l)
{
	char text[512];
	int n = snprintf(text, sizeof text,
	                 "{\"type\":\"event\",\"event_name\":\"agent_connected\",\"payload\":{\"agent_id\":\"%s\","
	                 "\"agent_type\":\"%s\",\"capabilities\":[\"batch_requests\",\"event_subscriptions\","
	                 "\"schema_caching\"]}}",
	                 l->u->agent_id, l->u->agent_type);
	return n > 0 && (size_t)n < sizeof text && send_frame(l, WS_OP_TEXT, text, (size_t)n);
}

/* The upgrade's answer: 101, Upgrade: websocket, Connection: upgrade, the
 * accept key for our key, and no extension or protocol we did not offer.
 * Returns the head's length, 0 while incomplete, -1 after going down. */
static ssize_t read_upgrade(struct ws_link *l, const char *buf, size_t len)
{
	struct http_request head;
	int status = 0;
	int rc = http_parse_response(buf, len, MAX_HEAD, &head, &status);
	if (rc == 0)
		return 0;
	char why[160] = "";
	const struct http_header *accept = rc == 1 ? http_header(&head, "Sec-WebSocket-Accept") : NULL;
	if (rc != 1)
		snprintf(why, sizeof why, "the answer to the upgrade is not HTTP");
	else if (status != 101)
		snprintf(why, sizeof why, "the server answered the upgrade with %d, not 101", status);
	else if (!http_header_has_token(&head, "Upgrade", "websocket") ||
	         !http_header_has_token(&head, "Connection", "upgrade"))
		snprintf(why, sizeof why, "the server's 101 lacks Upgrade: websocket or Connection: upgrade");
	else if (!accept || !http_span_equals(accept->value, l->accept))
		snprintf(why, sizeof why, "the server's Sec-WebSocket-Accept does not match our key");
	else if (http_header(&head, "Sec-WebSocket-Extensions") || http_header(&head, "Sec-WebSocket-Protocol"))
		snprintf(why, sizeof why, "the server chose an extension or subprotocol we did not offer");
	if (why[0]) {
		go_down(l, why);
		return -1;
	}
	if (!l->event_handshake) {
		open_session(l);
	} else if (send_agent_connected(l)) {
		l->phase = PHASE_EVENT;
	} else {
		go_down(l, "cannot send agent_connected");
		return -1;
	}
	return (ssize_t)head.head_len;
}

static bool is_acknowledgement(const char *msg, size_t len)
{
	char *text = strndup(msg, len);
	yajl_val v = text ? yajl_tree_parse(text, NULL, 0) : NULL;
	free(text);
	const char *type = tree_string(v, "type"), *name = tree_string(v, "event_name");
	bool ack = type && name && strcmp(type, "event") == 0 && strcmp(name, "connection_acknowledged") == 0;
	yajl_tree_free(v);
	return ack;
}

/* ---- messages in -------------------------------------------------------------------- */

static void on_message(struct ws_link *l, const char *msg, size_t len)
{
	if (l->phase == PHASE_EVENT) {
		if (is_acknowledgement(msg, len))
			open_session(l);
		else
			up_log(l->u, AB_LOG_WARNING, "a message before connection_acknowledged, ignored");
		return;
	}
	if (l->phase != PHASE_OPEN)
		return;
	if (!l->legacy_dialect) {
		l->ev.line(l->u, msg, len, 0);
		return;
	}
	const char *why;
	char *rpc = legacy_from_server(&l->legacy, msg, len, &why);
	if (rpc)
		l->ev.line(l->u, rpc, strlen(rpc), 0);
	else if (why)
		up_log(l->u, AB_LOG_WARNING, "the server sent %s: ignored", why);
	free(rpc);
}

/* Frames, until the input is used up or the connection ends. False when
 * it has ended (and l may not be touched for this connection). */
static bool read_frames(struct ws_link *l, struct evbuffer *in)
{
	while (evbuffer_get_length(in) && l->bev) {
		size_t avail = evbuffer_get_contiguous_space(in);
		const uint8_t *data = evbuffer_pullup(in, (ev_ssize_t)avail);
		struct ws_event ev;
		size_t used = ws_reader_feed(&l->reader, data, avail, &ev);
		/* The event may point into the input: handle it before draining. */
		switch (ev.kind) {
		case WS_EV_NONE:
			break;
		case WS_EV_MESSAGE:
			if (ev.binary) {
				evbuffer_drain(in, used);
				send_close(l, WS_CLOSE_UNSUPPORTED);
				go_down(l, "the server sent a binary message");
				return false;
			}
			on_message(l, (const char *)ev.data, ev.len);
			break;
		case WS_EV_PING:
			if (l->phase != PHASE_CLOSING) /* nothing follows our close */
				send_frame(l, WS_OP_PONG, ev.data, ev.len);
			break;
		case WS_EV_PONG:
			break;
		case WS_EV_CLOSE:
			evbuffer_drain(in, used);
			if (l->phase != PHASE_CLOSING)
				send_close(l, WS_CLOSE_NORMAL);
			go_down(l, "the server closed the WebSocket");
			return false;
		case WS_EV_FAIL:
			evbuffer_drain(in, used);
			if (l->phase != PHASE_CLOSING)
				send_close(l, ev.close_code);
			go_down(l, ev.why ? ev.why : "the server broke the WebSocket protocol");
			return false;
		}
		if (!l->bev)
			return false; /* a message's handling took the connection down */
		evbuffer_drain(in, used);
	}
	return true;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct ws_link *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (l->phase == PHASE_UPGRADE) {
		size_t len = evbuffer_get_length(in);
		size_t look = len < MAX_HEAD ? len : MAX_HEAD;
		ssize_t head = read_upgrade(l, (const char *)evbuffer_pullup(in, (ev_ssize_t)look), look);
		if (head <= 0)
			return;
		evbuffer_drain(in, (size_t)head);
	}
	read_frames(l, in);
}

static void tls_reason(struct bufferevent *bev, char *out, size_t len)
{
	unsigned long err = bev ? bufferevent_get_openssl_error(bev) : 0;
	if (err)
		ERR_error_string_n(err, out, len);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct ws_link *l = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	char why[200];
	if (what & BEV_EVENT_EOF)
		snprintf(why, sizeof why, "the server closed the connection");
	else if (bufferevent_socket_get_dns_error(bev))
		snprintf(why, sizeof why, "cannot resolve the name: %s",
		         evutil_gai_strerror(bufferevent_socket_get_dns_error(bev)));
	else
		snprintf(why, sizeof why, "%s", evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (l->tls) {
		char tls_why[160] = "";
		tls_reason(bev, tls_why, sizeof tls_why);
		if (tls_why[0])
			snprintf(why, sizeof why, "TLS: %s", tls_why);
	}
	go_down(l, why);
}

static void deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ws_link *l = arg;
	go_down(l, l->phase == PHASE_CLOSING ? "no answer to our close frame" : "no complete handshake in time");
}

/* ---- connecting --------------------------------------------------------------------- */

static void connect_now(struct ws_link *l)
{
	struct event_base *base = base_of(l);
	SSL *ssl = l->tls ? client_tls_session(l->tls, l->at.host) : NULL;
	if (l->tls && !ssl) {
		go_down(l, "out of memory");
		return;
	}
	l->bev = ssl ? bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE)
	             : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!l->bev) {
		if (ssl)
			SSL_free(ssl);
		go_down(l, "out of memory");
		return;
	}
	if (ssl)
		bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	ws_reader_init(&l->reader, MAX_MESSAGE, WS_FROM_SERVER);
	bufferevent_setcb(l->bev, read_cb, NULL, event_cb, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);

	uint8_t nonce[16];
	char key[25];
	evutil_secure_rng_get_bytes(nonce, sizeof nonce);
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
	ws_accept_key(key, strlen(key), l->accept);
	l->accept[WS_ACCEPT_LEN] = '\0';
	evbuffer_add_printf(bufferevent_get_output(l->bev),
	                    "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\nUser-Agent: agentbus/%s\r\n\r\n",
	                    l->at.path, l->at.host, l->at.port, key, PACKAGE_VERSION);
	l->phase = PHASE_UPGRADE;
	timer_arm_ms(l->deadline, HANDSHAKE_TIMEOUT_S * 1000);
	if (bufferevent_socket_connect_hostname(l->bev, l->dns, AF_UNSPEC, l->at.host, l->at.port) < 0)
		go_down(l, "cannot connect");
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct ws_link *l = arg;
	if (!l->stopping)
		connect_now(l);
}

/* ---- the link ---------------------------------------------------------------------- */

static void link_start(void *link)
{
	connect_now(link);
}

static bool link_send(void *link, const char *data, size_t len)
{
	struct ws_link *l = link;
	if (l->phase != PHASE_OPEN)
		return false;
	if (!l->legacy_dialect)
		return send_frame(l, WS_OP_TEXT, data, len);
	char *envelope, *answer;
	bool ok = legacy_from_client(&l->legacy, data, len, &envelope, &answer);
	bool sent = ok;
	if (envelope)
		sent = sent && send_frame(l, WS_OP_TEXT, envelope, strlen(envelope));
	if (answer)
		sent = queue_answer(l, answer) && sent;
	free(envelope);
	return sent;
}

static void link_restart(void *link)
{
	struct ws_link *l = link;
	if (!l->bev)
		return; /* down already, and trying again after the backoff */
	if (l->phase == PHASE_OPEN)
		send_close(l, WS_CLOSE_NORMAL);
	go_down(l, "restarting the session");
}

static bool link_stop(void *link, void (*stopped)(struct upstream *u))
{
	struct ws_link *l = link;
	l->stopping = true;
	evtimer_del(l->retry);
	if (!l->bev || l->phase == PHASE_UPGRADE) {
		close_connection(l);
		return false;
	}
	/* The closing handshake (RFC 6455 7.1.2): our close, then the server's. */
	l->stopped = stopped;
	send_close(l, WS_CLOSE_GOING_AWAY);
	l->phase = PHASE_CLOSING;
	timer_arm_ms(l->deadline, CLOSE_TIMEOUT_S * 1000);
	return true;
}

static void link_free(void *link)
{
	struct ws_link *l = link;
	close_connection(l);
	while (l->lingering)
		end_lingering(l->lingering);
	if (l->retry)
		event_free(l->retry);
	if (l->deadline)
		event_free(l->deadline);
	if (l->answer_ev)
		event_free(l->answer_ev);
	if (l->dns)
		evdns_base_free(l->dns, 0);
	SSL_CTX_free(l->tls);
	legacy_free(&l->legacy);
	endpoint_free(&l->at);
	free(l);
}

struct ws_link *ws_link_new(struct upstream *u, const char *url, const struct ws_link_options *opt,
                            const struct link_events *ev, char *why, size_t why_len)
{
	struct ws_link *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	l->u = u;
	l->ev = *ev;
	l->event_handshake = opt->event_handshake;
	l->legacy_dialect = opt->legacy_dialect;
	if (endpoint_parse(&l->at, url, "ws", "wss", why, why_len) < 0 ||
	    (l->at.tls && !(l->tls = client_tls_context(opt->ca_file, why, why_len)))) {
		link_free(l);
		return NULL;
	}
	if (legacy_init(&l->legacy, opt->legacy_tools, u->svc->gen_tree) < 0) {
		snprintf(why, why_len, "legacy_tools: give a JSON array of tool names");
		link_free(l);
		return NULL;
	}
	struct event_base *base = u->svc->event_base(u->self);
	l->retry = evtimer_new(base, retry_cb, l);
	l->deadline = evtimer_new(base, deadline_cb, l);
	l->answer_ev = event_new(base, -1, 0, answer_cb, l);
	l->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!l->retry || !l->deadline || !l->answer_ev || !l->dns) {
		snprintf(why, why_len, "out of memory");
		link_free(l);
		return NULL;
	}
	return l;
}

const struct link_ops ws_link_ops = {
	.transport = "ws",
	.start = link_start,
	.send = link_send,
	.restart = link_restart,
	.stop = link_stop,
	.free = link_free,
};
