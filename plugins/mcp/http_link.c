#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

#include "backoff.h"
#include "timer.h"
#include "client_tls.h"
#include "endpoint.h"
#include "http_link.h"
#include "json.h"
#include "sse.h"

/* The largest message (JSON or one SSE event) taken from the server. */
#define MAX_MESSAGE (16u << 20)
/* The shortest wait before a stream is opened again, whatever retry the
 * server asks for: a server that ends streams at once must not spin us. */
#define STREAM_RETRY_MIN_MS 250
/* How long the DELETE that ends the session may take at shutdown. */
#define DELETE_TIMEOUT_S 2

struct post;

struct http_link {
	struct upstream *u;
	struct link_events ev;
	struct endpoint at;
	SSL_CTX *tls; /* https: verifying the server's certificate and name; NULL: http */
	char session_id[256]; /* Mcp-Session-Id; "" before the server gives one */
	bool up, stopping;
	unsigned generation; /* of the session: a post of an older one is stale */
	struct post *posts;  /* in flight */
	struct event *retry;
	struct event *failed; /* a send failed: down, on the next loop turn */
	struct backoff backoff;
	struct evdns_base *dns; /* names resolved off the loop */
	/* Until the server has taken notifications/initialized, later messages
	 * wait: a strict server refuses requests before it. */
	struct post *initialized;
	struct queued { char *data; size_t len; } *queue;
	size_t n_queue;
	/* The GET event stream: Streamable HTTP's optional one (server-sent
	 * requests and notifications), reopened after the server's retry with
	 * Last-Event-ID; or the legacy transport's, which carries everything. */
	struct post *stream;
	char last_event_id[256];
	struct event *stream_timer; /* Streamable: reopen it; legacy: the deadline for its endpoint */
	/* Streams of sessions that ended while their own callbacks ran: freed
	 * on the next loop turn (discard_ev), or at the latest in link_free. */
	struct post *discarded;
	struct event *discard_ev;
	/* The HTTP+SSE transport of MCP 2024-11-05, for a server that refuses
	 * initialize by POST: the stream's first event ("endpoint") names where
	 * to POST, and every answer comes on the stream. */
	bool legacy;
	char *legacy_endpoint; /* its path with query; NULL until the stream names it */
	void (*stopped)(struct upstream *u);
};

/* One POST (or the final DELETE) and what its answer has brought so far. */
struct post {
	struct http_link *l;
	struct evhttp_connection *conn;
	struct evhttp_request *req;
	bool event_stream; /* text/event-stream, decided at the headers */
	struct sse sse;
	char *initialize; /* the initialize request it carries, kept for the legacy fallback */
	bool discarded;   /* a stream set aside by close_stream: nothing it brings counts */
	bool answered;    /* its request's response came (on its event stream) */
	struct evbuffer *json; /* an application/json answer, gathered */
	char *id_json;         /* the request's JSON-RPC id as written, to answer errors with; NULL: none */
	bool in_session;       /* it carried an Mcp-Session-Id */
	bool too_large;        /* its JSON answer passed MAX_MESSAGE */
	bool starting;         /* inside evhttp_make_request: a failure now is handled after it */
	bool failed_at_start;
	unsigned generation;
	struct post *prev, *next;
};

static struct event_base *base_of(struct http_link *l)
{
	return l->u->svc->event_base(l->u->self);
}

static void unlink_post(struct post *p)
{
	struct http_link *l = p->l;
	if (p->prev)
		p->prev->next = p->next;
	else if (l->posts == p)
		l->posts = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->prev = p->next = NULL;
}

static void free_connection_cb(evutil_socket_t fd, short what, void *arg)
{
	evhttp_connection_free(arg);
}

/* A request is done: its connection goes too, but not from inside its own
 * callback (libevent still uses it there), so on the next loop turn. */
static void release_connection(struct post *p)
{
	struct timeval now = { 0, 0 };
	if (p->conn && event_base_once(base_of(p->l), -1, EV_TIMEOUT, free_connection_cb, p->conn, &now) == 0)
		p->conn = NULL;
}

static void initialized_done(struct http_link *l);

static void free_post(struct post *p)
{
	if (p->l->initialized == p)
		initialized_done(p->l);
	unlink_post(p);
	sse_free(&p->sse);
	if (p->json)
		evbuffer_free(p->json);
	free(p->id_json);
	free(p->initialize);
	free(p);
}

/* ---- going down and coming up ---------------------------------------------------- */

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_link *l = arg;
	if (l->stopping)
		return;
	l->up = true;
	l->ev.up(l->u);
}

static void drop_queue(struct http_link *l)
{
	for (size_t i = 0; i < l->n_queue; i++)
		free(l->queue[i].data);
	free(l->queue);
	l->queue = NULL;
	l->n_queue = 0;
}

static void free_discarded(struct http_link *l)
{
	while (l->discarded) {
		struct post *p = l->discarded;
		l->discarded = p->next;
		p->next = NULL;
		if (p->conn)
			evhttp_connection_free(p->conn); /* no callback comes for it then */
		free_post(p);
	}
}

static void discard_cb(evutil_socket_t fd, short what, void *arg)
{
	free_discarded(arg);
}

/* The stream of a session that is over. Its own callbacks may be what
 * ended the session (an answer on it failed the initialize), and libevent
 * and the SSE reader still use it there: it is set aside, ignored from now
 * on, and freed on the next loop turn. */
static void close_stream(struct http_link *l)
{
	struct post *p = l->stream;
	l->stream = NULL;
	evtimer_del(l->stream_timer);
	if (!p)
		return;
	unlink_post(p);
	p->discarded = true;
	p->next = l->discarded;
	l->discarded = p;
	event_active(l->discard_ev, EV_TIMEOUT, 0);
}

/* Down now (the session is over: what its posts still bring is stale), up
 * again at once or after the backoff; once, however many posts fail. */
static void go_down(struct http_link *l, const char *why, bool at_once)
{
	bool was_up = l->up;
	l->up = false;
	l->session_id[0] = '\0';
	l->generation++;
	l->initialized = NULL;
	drop_queue(l);
	close_stream(l);
	l->last_event_id[0] = '\0';
	free(l->legacy_endpoint);
	l->legacy_endpoint = NULL;
	if (was_up)
		l->ev.down(l->u, why);
	if (l->stopping || evtimer_pending(l->retry, NULL))
		return;
	timer_arm_ms(l->retry, at_once ? 0 : backoff_next(&l->backoff));
}

/* ---- answers ---------------------------------------------------------------------- */

static bool stale(const struct post *p)
{
	return p->generation != p->l->generation;
}

static void flush_queue(struct http_link *l);
static bool queue_message(struct http_link *l, char *data);
static void open_stream(struct http_link *l);

/* The legacy stream's "endpoint" event: where to POST, a path or a URL on
 * the same server (the specification's 2024-11-05 transport). */
static void take_endpoint(struct http_link *l, const char *uri)
{
	char *path = NULL;
	if (uri[0] == '/') {
		path = strdup(uri);
	} else {
		struct endpoint named;
		char why[100];
		if (endpoint_parse(&named, uri, "http", "https", why, sizeof why) == 0) {
			if (strcmp(named.host, l->at.host) == 0 && named.port == l->at.port && named.tls == !!l->tls)
				path = strdup(named.path);
			endpoint_free(&named);
		}
		if (!path) {
			up_log(l->u, AB_LOG_WARNING, "the server's endpoint '%s' is not on %s:%d: refused", uri, l->at.host,
			       l->at.port);
			return;
		}
	}
	if (!path)
		return;
	free(l->legacy_endpoint);
	l->legacy_endpoint = path;
	evtimer_del(l->stream_timer); /* it came in time */
	up_log(l->u, AB_LOG_INFO, "HTTP+SSE session: posting to %s", path);
	flush_queue(l);
}

/* Our JSON-RPC id of the request a post carries (ours are integers), or 0. */
static int64_t post_request(const struct post *p)
{
	return p->id_json ? strtoll(p->id_json, NULL, 10) : 0;
}

/* Is this message the response to the request whose id is id_json? */
static bool is_response_to(const char *data, const char *id_json)
{
	yajl_val msg = yajl_tree_parse(data, NULL, 0);
	yajl_val id = tree_member(msg, "id");
	bool answer = id && !tree_member(msg, "method") && (tree_member(msg, "result") || tree_member(msg, "error"));
	char text[64] = "";
	if (answer && YAJL_IS_INTEGER(id))
		snprintf(text, sizeof text, "%lld", YAJL_GET_INTEGER(id));
	yajl_tree_free(msg);
	return answer && strcmp(text, id_json) == 0;
}

static void on_event(void *arg, const char *type, const char *data, size_t len)
{
	struct post *p = arg;
	struct http_link *l = p->l;
	if (!len || stale(p))
		return;
	if (p == l->stream && l->legacy && strcmp(type, "endpoint") == 0) {
		take_endpoint(l, data);
		return;
	}
	if (strcmp(type, "message") != 0)
		return;
	if (p != l->stream && p->id_json && !p->answered)
		p->answered = is_response_to(data, p->id_json);
	l->ev.line(l->u, data, len, p == l->stream ? 0 : post_request(p));
}

/* A request that got no JSON-RPC answer gets one, so the client's call
 * ends now and not at its deadline. */
static void answer_error(struct post *p, const char *why)
{
	if (!p->id_json || stale(p))
		return;
	char line[512];
	int n = snprintf(line, sizeof line, "{\"jsonrpc\":\"2.0\",\"id\":%s,\"error\":{\"code\":-32000,\"message\":\"%s\"}}",
	                 p->id_json, why);
	if (n > 0 && (size_t)n < sizeof line)
		p->l->ev.line(p->l->u, line, (size_t)n, 0);
}

static int on_headers(struct evhttp_request *req, void *arg)
{
	struct post *p = arg;
	if (p->discarded)
		return 0;
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *type = evhttp_find_header(in, "Content-Type");
	p->event_stream = type && strncasecmp(type, "text/event-stream", 17) == 0;
	const char *session = evhttp_find_header(in, "Mcp-Session-Id");
	/* The id comes with the answer to initialize: the first of this session. */
	if (session && !stale(p) && !p->l->session_id[0] && strlen(session) < sizeof p->l->session_id &&
	    strspn(session, "!\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~") ==
	            strlen(session))
	{
		snprintf(p->l->session_id, sizeof p->l->session_id, "%s", session);
		up_log(p->l->u, AB_LOG_DEBUG, "session %s", session);
	}
	return 0;
}

static void on_chunk(struct evhttp_request *req, void *arg)
{
	struct post *p = arg;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	if (p->discarded || evhttp_request_get_response_code(req) / 100 != 2) {
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	if (p->event_stream) {
		struct evbuffer_iovec chunk;
		while (evbuffer_peek(in, -1, NULL, &chunk, 1) >= 1 && chunk.iov_len) {
			sse_feed(&p->sse, chunk.iov_base, chunk.iov_len, on_event, p);
			evbuffer_drain(in, chunk.iov_len);
		}
		return;
	}
	if (!p->json)
		p->json = evbuffer_new();
	if (!p->too_large && p->json && evbuffer_get_length(p->json) + evbuffer_get_length(in) <= MAX_MESSAGE) {
		evbuffer_add_buffer(p->json, in);
	} else {
		p->too_large = true; /* what comes after a gap is not the message */
		evbuffer_drain(in, evbuffer_get_length(in));
	}
}

/* Why a TLS connection failed, when it did ("" if not TLS's doing). */
static void tls_failure(struct post *p, char *out, size_t len)
{
	out[0] = '\0';
	struct bufferevent *bev = p->conn && p->l->tls ? evhttp_connection_get_bufferevent(p->conn) : NULL;
	unsigned long err = bev ? bufferevent_get_openssl_error(bev) : 0;
	if (err) {
		char text[200];
		ERR_error_string_n(err, text, sizeof text);
		snprintf(out, len, " (TLS: %s)", text);
	}
}

static void on_done(struct evhttp_request *req, void *arg)
{
	struct post *p = arg;
	struct http_link *l = p->l;
	if (p->starting) { /* failed inside evhttp_make_request: new_post handles it */
		p->failed_at_start = true;
		return;
	}
	int code = req ? evhttp_request_get_response_code(req) : 0;
	char tls_why[240] = "";
	if (code == 0)
		tls_failure(p, tls_why, sizeof tls_why);
	release_connection(p);
	if (req && code / 100 == 2)
		on_chunk(req, p); /* what is left */
	if (stale(p)) { /* of a session that is over: nothing it says counts */
		free_post(p);
		return;
	}
	if (code == 0) {
		up_log(l->u, AB_LOG_WARNING, "cannot reach %s:%d%s", l->at.host, l->at.port, tls_why);
		answer_error(p, "the server cannot be reached");
		free_post(p);
		go_down(l, "the server cannot be reached", false);
		return;
	}
	backoff_reset(&l->backoff); /* it answers */
	/* 404 is the spec's word for a session the server no longer has; some
	 * servers (the reference one among them) say 400. Either way this
	 * session cannot go on: start a new one. */
	if ((code == 404 || code == 400) && p->in_session && l->up) {
		up_log(l->u, AB_LOG_NOTICE, "the server refused the session (HTTP %d): initializing again", code);
		answer_error(p, "the server ended the session");
		free_post(p);
		go_down(l, "the server ended the session", true);
		return;
	}
	/* A server of the 2024-11-05 transport has no POST endpoint at the url
	 * (the specification's backwards compatibility: 400, 404 or 405 to the
	 * initialize). The initialize waits for the stream to name one. */
	if ((code == 400 || code == 404 || code == 405) && p->initialize && !l->legacy) {
		up_log(l->u, AB_LOG_NOTICE, "the server refused initialize by POST (HTTP %d): trying the HTTP+SSE "
		       "transport", code);
		l->legacy = true;
		char *initialize = p->initialize;
		p->initialize = NULL;
		free_post(p);
		queue_message(l, initialize);
		open_stream(l);
		return;
	}
	if (l->legacy && code / 100 == 2) {
		free_post(p); /* accepted: the answer comes on the stream */
		return;
	}
	if (code / 100 != 2) {
		char why[96];
		snprintf(why, sizeof why, "the server answered HTTP %d", code);
		up_log(l->u, AB_LOG_WARNING, "%s to a POST", why);
		answer_error(p, why);
	} else if (p->too_large || p->sse.dropped) {
		answer_error(p, "the server's answer is too large");
	} else if (!p->event_stream && p->json && evbuffer_get_length(p->json)) {
		size_t len = evbuffer_get_length(p->json);
		const char *text = (const char *)evbuffer_pullup(p->json, (ev_ssize_t)len);
		l->ev.line(l->u, text, len, post_request(p)); /* one message (a batch is not ours to send, nor to get) */
	}
	/* A stream that ended before its response, having given event ids, can
	 * be resumed (MCP 2025-11-25, "Resumability"): after the server's
	 * retry, a GET with the last id brings what it had not sent yet. */
	if (p->event_stream && !p->answered && p->sse.last_id[0] && p->id_json && !l->legacy && l->up) {
		snprintf(l->last_event_id, sizeof l->last_event_id, "%s", p->sse.last_id);
		uint64_t ms = p->sse.retry_ms >= 0 ? (uint64_t)p->sse.retry_ms : 1000;
		up_log(l->u, AB_LOG_DEBUG, "request %s: its stream ended early; resuming after %llu ms", p->id_json,
		       (unsigned long long)ms);
		free_post(p);
		close_stream(l); /* the new stream replaces it */
		timer_arm_ms(l->stream_timer, ms < STREAM_RETRY_MIN_MS ? STREAM_RETRY_MIN_MS : ms);
		return;
	}
	/* A request whose answer ended without its response (a stream that
	 * closed early, a body that is not one): this ends its call now. After
	 * a real response the call is gone, and this error is ignored. */
	answer_error(p, "the server's answer had no response");
	free_post(p);
}

/* ---- requests --------------------------------------------------------------------- */

/* The JSON-RPC id of a request (not of a notification or a response). */
static char *request_id(const char *data, size_t len)
{
	char *text = strndup(data, len);
	yajl_val msg = text ? yajl_tree_parse(text, NULL, 0) : NULL;
	free(text);
	const char *id_path[] = { "id", NULL }, *method_path[] = { "method", NULL };
	yajl_val id = msg ? yajl_tree_get(msg, id_path, yajl_t_any) : NULL;
	yajl_val method = msg ? yajl_tree_get(msg, method_path, yajl_t_string) : NULL;
	char *out = NULL;
	if (id && method && (YAJL_IS_INTEGER(id) || YAJL_IS_STRING(id))) {
		ab_json *g = ab_json_new();
		if (YAJL_IS_INTEGER(id))
			ab_json_integer(g, YAJL_GET_INTEGER(id));
		else
			ab_json_str(g, id->u.string);
		size_t n;
		const char *buf = ab_json_output(g, &n);
		out = buf ? strndup(buf, n) : NULL;
		ab_json_free(g);
	}
	yajl_tree_free(msg);
	return out;
}

/* A connection over TLS that checks the certificate against the trusted
 * CAs and the URL's host (name or address). */
static struct evhttp_connection *tls_connection(struct http_link *l)
{
	SSL *ssl = client_tls_session(l->tls, l->at.host);
	if (!ssl)
		return NULL;
	/* No deferred callbacks, as evhttp's own connections: a connection
	 * freed with callbacks still queued would be called after it is gone. */
	struct bufferevent *bev =
	        bufferevent_openssl_socket_new(base_of(l), -1, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1); /* servers that just close are done, not broken */
	struct evhttp_connection *conn =
	        evhttp_connection_base_bufferevent_new(base_of(l), l->dns, bev, l->at.host, (unsigned short)l->at.port);
	if (!conn)
		bufferevent_free(bev);
	return conn;
}

static struct post *new_post(struct http_link *l, enum evhttp_cmd_type method, const char *body, size_t len,
                             void (*done)(struct evhttp_request *req, void *arg))
{
	struct post *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->l = l;
	sse_init(&p->sse, MAX_MESSAGE);
	p->generation = l->generation;
	p->conn = l->tls ? tls_connection(l) : evhttp_connection_base_new(base_of(l), l->dns, l->at.host, (unsigned short)l->at.port);
	p->req = p->conn ? evhttp_request_new(done, p) : NULL;
	if (!p->req) {
		if (p->conn)
			evhttp_connection_free(p->conn);
		free_post(p);
		return NULL;
	}
	/* One connection per request: a long tool call's stream holds up no other. */
	evhttp_request_set_header_cb(p->req, on_headers);
	evhttp_request_set_chunked_cb(p->req, on_chunk);
	struct evkeyvalq *out = evhttp_request_get_output_headers(p->req);
	char host[300];
	snprintf(host, sizeof host, "%s:%d", l->at.host, l->at.port);
	evhttp_add_header(out, "Host", host);
	evhttp_add_header(out, "Accept", method == EVHTTP_REQ_GET ? "text/event-stream"
	                                                          : "application/json, text/event-stream");
	p->in_session = l->session_id[0] != '\0';
	if (p->in_session)
		evhttp_add_header(out, "Mcp-Session-Id", l->session_id);
	if (l->u->protocol_version[0])
		evhttp_add_header(out, "MCP-Protocol-Version", l->u->protocol_version);
	if (body) {
		evhttp_add_header(out, "Content-Type", "application/json");
		evbuffer_add(evhttp_request_get_output_buffer(p->req), body, len);
	}
	p->next = l->posts;
	if (l->posts)
		l->posts->prev = p;
	l->posts = p;
	p->starting = true;
	const char *path = method == EVHTTP_REQ_POST && l->legacy ? l->legacy_endpoint : l->at.path;
	int rc = evhttp_make_request(p->conn, p->req, method, path);
	p->starting = false;
	if (rc < 0 || p->failed_at_start) {
		/* Not sent. The connection (and the request it still holds) goes. */
		evhttp_connection_free(p->conn);
		free_post(p);
		return NULL;
	}
	return p;
}

/* ---- the event stream ----------------------------------------------------------- */

/* The legacy stream must name its endpoint within this. */
#define ENDPOINT_TIMEOUT_MS 10000

static void stream_done(struct evhttp_request *req, void *arg)
{
	struct post *p = arg;
	struct http_link *l = p->l;
	if (p->starting) {
		p->failed_at_start = true;
		return;
	}
	if (p->discarded)
		return; /* close_stream's: it is freed with its connection */
	int code = req ? evhttp_request_get_response_code(req) : 0;
	release_connection(p);
	if (req && code / 100 == 2)
		on_chunk(req, p);
	bool current = !stale(p) && l->stream == p;
	if (current && p->sse.last_id[0])
		snprintf(l->last_event_id, sizeof l->last_event_id, "%s", p->sse.last_id);
	int64_t retry_ms = p->sse.retry_ms;
	bool in_session = p->in_session, event_stream = p->event_stream;
	if (current)
		l->stream = NULL;
	free_post(p);
	if (!current || l->stopping)
		return;
	if (l->legacy) { /* the session lives on the stream: it is over */
		bool was_legacy = l->legacy_endpoint != NULL;
		if (!was_legacy) /* no HTTP+SSE server either: Streamable HTTP again next time */
			l->legacy = false;
		go_down(l, !was_legacy ? "the server has no HTTP+SSE stream either"
		           : code / 100 == 2 ? "the server closed the event stream"
		                             : "the server refused the event stream",
		        false);
		return;
	}
	if (code == 0) { /* as for a POST: the server is gone */
		go_down(l, "the server cannot be reached", false);
		return;
	}
	if ((code == 404 || code == 400) && in_session) {
		up_log(l->u, AB_LOG_NOTICE, "the server refused the session (HTTP %d): initializing again", code);
		go_down(l, "the server ended the session", true);
		return;
	}
	if (code / 100 != 2 || !event_stream)
		return; /* the server offers no stream (405 says so): that is allowed */
	/* Gone: again after the server's retry (or a second), resuming after
	 * the last event it sent. */
	uint64_t ms = retry_ms >= 0 ? (uint64_t)retry_ms : 1000;
	timer_arm_ms(l->stream_timer, ms < STREAM_RETRY_MIN_MS ? STREAM_RETRY_MIN_MS : ms);
}

static void open_stream(struct http_link *l)
{
	struct post *p = new_post(l, EVHTTP_REQ_GET, NULL, 0, stream_done);
	if (!p) {
		up_log(l->u, AB_LOG_WARNING, "cannot open the event stream");
		if (l->legacy)
			event_active(l->failed, EV_TIMEOUT, 0);
		return;
	}
	if (l->last_event_id[0])
		evhttp_add_header(evhttp_request_get_output_headers(p->req), "Last-Event-ID", l->last_event_id);
	evhttp_connection_set_timeout(p->conn, -1); /* it stays open, however quiet */
	l->stream = p;
	if (l->legacy)
		timer_arm_ms(l->stream_timer, ENDPOINT_TIMEOUT_MS);
}

static void stream_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_link *l = arg;
	if (l->legacy && l->stream && !l->legacy_endpoint) {
		/* A stream that names no endpoint: not an HTTP+SSE server. */
		l->legacy = false;
		go_down(l, "the event stream named no endpoint in time", false);
	} else if (l->up && !l->stopping && !l->stream && !l->legacy) {
		open_stream(l);
	}
}

static bool post_now(struct http_link *l, const char *data, size_t len);

/* Held, in order, until the server can take it (data is the queue's now). */
static bool queue_message(struct http_link *l, char *data)
{
	struct queued *grown = realloc(l->queue, (l->n_queue + 1) * sizeof *grown);
	if (!grown) {
		free(data);
		return false;
	}
	l->queue = grown;
	l->queue[l->n_queue++] = (struct queued){ data, strlen(data) };
	return true;
}

/* Messages wait while the server has not taken notifications/initialized,
 * and, on the legacy transport, until its stream named the endpoint. */
static bool must_wait(const struct http_link *l)
{
	return l->initialized || (l->legacy && !l->legacy_endpoint);
}

static bool link_send(void *link, const char *data, size_t len)
{
	struct http_link *l = link;
	if (!l->up || l->stopping)
		return false;
	if (l->legacy && !l->stream)
		open_stream(l); /* a new session on the legacy transport */
	if (must_wait(l)) {
		char *copy = strndup(data, len);
		return copy && queue_message(l, copy);
	}
	return post_now(l, data, len);
}

/* What waited goes out, in order, while nothing makes it wait again. */
static void flush_queue(struct http_link *l)
{
	struct queued *queue = l->queue;
	size_t n = l->n_queue;
	l->queue = NULL;
	l->n_queue = 0;
	for (size_t i = 0; i < n; i++) {
		if (!l->up)
			free(queue[i].data);
		else if (must_wait(l))
			queue_message(l, queue[i].data);
		else {
			post_now(l, queue[i].data, queue[i].len);
			free(queue[i].data);
		}
	}
	free(queue);
}

/* The server took notifications/initialized (or the session ended). Now
 * Streamable HTTP's stream may open: servers refuse it before. */
static void initialized_done(struct http_link *l)
{
	l->initialized = NULL;
	if (l->up && !l->legacy && !l->stream)
		open_stream(l);
	flush_queue(l);
}

static bool post_now(struct http_link *l, const char *data, size_t len)
{
	char *id = request_id(data, len);
	struct post *p = new_post(l, EVHTTP_REQ_POST, data, len, on_done);
	if (!p) {
		free(id);
		/* The session cannot go on; not from inside this send (the client
		 * is in the middle of its own bookkeeping): on the next turn. */
		event_active(l->failed, EV_TIMEOUT, 0);
		return false;
	}
	p->id_json = id;
	if (!id && memmem(data, len, "\"notifications/initialized\"", 27))
		l->initialized = p;
	if (id && memmem(data, len, "\"initialize\"", 12))
		p->initialize = strndup(data, len);
	return true;
}

static void send_failed_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_link *l = arg;
	up_log(l->u, AB_LOG_WARNING, "cannot send to %s:%d", l->at.host, l->at.port);
	go_down(l, "cannot send to the server", false);
}

/* ---- the link ---------------------------------------------------------------------- */

static void link_start(void *link)
{
	struct http_link *l = link;
	l->up = true;
	l->ev.up(l->u);
}

static void link_restart(void *link)
{
	struct http_link *l = link;
	go_down(l, "starting a new session", false);
}

static void delete_done(struct evhttp_request *req, void *arg)
{
	struct post *p = arg;
	struct http_link *l = p->l;
	release_connection(p);
	free_post(p);
	void (*stopped)(struct upstream *u) = l->stopped;
	l->stopped = NULL;
	if (stopped)
		stopped(l->u); /* last: it may end the link */
}

static bool link_stop(void *link, void (*stopped)(struct upstream *u))
{
	struct http_link *l = link;
	l->stopping = true;
	l->up = false;
	evtimer_del(l->retry);
	event_del(l->failed);
	close_stream(l);
	if (!l->session_id[0] || l->legacy)
		return false;
	/* The spec's polite goodbye: end the session, briefly. */
	struct post *p = new_post(l, EVHTTP_REQ_DELETE, NULL, 0, delete_done);
	if (!p)
		return false;
	evhttp_request_set_header_cb(p->req, NULL);
	evhttp_request_set_chunked_cb(p->req, NULL);
	evhttp_connection_set_timeout(p->conn, DELETE_TIMEOUT_S);
	l->stopped = stopped;
	return true;
}

static void link_free(void *link)
{
	struct http_link *l = link;
	l->initialized = NULL; /* nothing more is sent */
	drop_queue(l);
	while (l->posts) { /* still open at the very end: no callback will come */
		struct post *p = l->posts;
		if (p->conn)
			evhttp_connection_free(p->conn);
		free_post(p);
	}
	if (l->retry)
		event_free(l->retry);
	if (l->failed)
		event_free(l->failed);
	if (l->stream_timer)
		event_free(l->stream_timer);
	if (l->discard_ev)
		event_free(l->discard_ev);
	free_discarded(l);
	free(l->legacy_endpoint);
	if (l->dns)
		evdns_base_free(l->dns, 0);
	SSL_CTX_free(l->tls);
	endpoint_free(&l->at);
	free(l);
}

struct http_link *http_link_new(struct upstream *u, const char *url, const char *ca_file,
                                const struct link_events *ev, char *why, size_t why_len)
{
	struct http_link *l = calloc(1, sizeof *l);
	if (!l) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	l->u = u;
	l->ev = *ev;
	if (endpoint_parse(&l->at, url, "http", "https", why, why_len) < 0 ||
	    (l->at.tls && !(l->tls = client_tls_context(ca_file, why, why_len)))) {
		link_free(l);
		return NULL;
	}
	struct event_base *base = u->svc->event_base(u->self);
	l->retry = evtimer_new(base, retry_cb, l);
	l->failed = event_new(base, -1, 0, send_failed_cb, l);
	l->stream_timer = evtimer_new(base, stream_timer_cb, l);
	l->discard_ev = event_new(base, -1, 0, discard_cb, l);
	l->dns = evdns_base_new(base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
	if (!l->retry || !l->failed || !l->stream_timer || !l->discard_ev || !l->dns) {
		snprintf(why, why_len, "out of memory");
		link_free(l);
		return NULL;
	}
	return l;
}

const struct link_ops http_link_ops = {
	.transport = "http",
	.start = link_start,
	.send = link_send,
	.restart = link_restart,
	.stop = link_stop,
	.free = link_free,
};
