/* The frontend WebSocket transport: the plugin's options, its listener and
 * its lifecycle. Connections are conn.c's, the frontend protocol session.c's. */
#include "websocket.h"

#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "conn.h"
#include "http_api.h"
#include "ip_counts.h"
#include "tls.h"
#include "auth.h"
#include "rpc_peer.h"
#include "session.h"

static const struct ab_option websocket_options[] = {
	{ "listen", AB_OPT_STRING, "127.0.0.1:8080", 0, 0, 0, NULL,
	  "HOST:PORT (or [IPv6]:PORT) to listen on" },
	{ "allowed_origins", AB_OPT_STRING, "http://localhost:3000", AB_OPT_RELOADABLE, 0, 0, NULL,
	  "browser origins admitted besides this server's own: comma-separated, or *" },
	{ "max_message_size", AB_OPT_SIZE, "1M", AB_OPT_RELOADABLE, 125, 256 << 20, NULL,
	  "a larger message closes the connection with 1009" },
	{ "handshake_timeout", AB_OPT_DURATION, "10s", AB_OPT_RELOADABLE, 10, 600000, NULL,
	  "time for the HTTP upgrade, and on /ws for the connection_handshake (then 4001)" },
	{ "idle_timeout", AB_OPT_DURATION, "90s", AB_OPT_RELOADABLE, 10, 86400000, NULL,
	  "a connection silent this long, or whose message is not whole this long after its "
	  "first byte, is closed with 4000" },
	{ "ping_interval", AB_OPT_DURATION, "30s", AB_OPT_RELOADABLE, 10, 86400000, NULL,
	  "the broker pings a connection silent this long" },
	{ "heartbeat_interval", AB_OPT_DURATION, "30s", AB_OPT_RELOADABLE, 1000, 86400000, NULL,
	  "the heartbeat interval announced to frontends (whole seconds)" },
	{ "max_connections", AB_OPT_INT, "10000", AB_OPT_RELOADABLE, 1, 10000000, NULL,
	  "connections beyond this get 503" },
	{ "max_connections_per_ip", AB_OPT_INT, "256", AB_OPT_RELOADABLE, 1, 10000000, NULL,
	  "connections from one IPv4 address or IPv6 /64 beyond this get 503" },
	{ "max_sessions", AB_OPT_INT, "20000", AB_OPT_RELOADABLE, 1, 10000000, NULL,
	  "sessions, live or waiting to be resumed; past it the longest-waiting one ends" },
	{ "rate_limit", AB_OPT_INT, "100", AB_OPT_RELOADABLE, 0, 1000000, NULL,
	  "messages per second a connection may send (0: no limit); beyond: rate_limited errors" },
	{ "rate_burst", AB_OPT_INT, "200", AB_OPT_RELOADABLE, 1, 1000000, NULL,
	  "messages a connection may send at once above the rate; twice as many over closes it (4003)" },
	{ "max_output_buffer", AB_OPT_SIZE, "8M", AB_OPT_RELOADABLE, 4096, 1 << 30, NULL,
	  "bytes waiting for a slow reader before it is dropped (its session can resume)" },
	{ "legacy_paths", AB_OPT_BOOL, "true", AB_OPT_RELOADABLE, 0, 0, NULL,
	  "also serve /ws/query/{user_id} and /ws/chat/{user_id}" },
	{ "replay_window", AB_OPT_DURATION, "60s", AB_OPT_RELOADABLE, 0, 86400000, NULL,
	  "how long a dropped session waits to be resumed, and the age of messages kept for it" },
	{ "replay_max_messages", AB_OPT_INT, "1000", AB_OPT_RELOADABLE, 0, 1000000, NULL,
	  "how many sent messages a session keeps for resumption" },
	{ "replay_max_bytes", AB_OPT_SIZE, "16M", AB_OPT_RELOADABLE, 4096, 1 << 30, NULL,
	  "bytes of sent messages a session keeps for resumption (keep it above max_output_buffer)" },
	{ "jsonrpc_path", AB_OPT_STRING, "/mcp", AB_OPT_RELOADABLE, 0, 0, NULL,
	  "the path where clients speaking MCP JSON-RPC themselves connect (empty: none)" },
	{ "static_dir", AB_OPT_STRING, NULL, AB_OPT_RELOADABLE, 0, 0, NULL,
	  "serve the web console's files from this folder at / (unset: none)" },
	{ "tls_certificate", AB_OPT_STRING, NULL, AB_OPT_RELOADABLE, 0, 0, NULL,
	  "PEM certificate chain: serve wss:// and https:// (re-read at each reload)" },
	{ "tls_key", AB_OPT_STRING, NULL, AB_OPT_RELOADABLE, 0, 0, NULL,
	  "PEM private key of tls_certificate" },
	{ "auth", AB_OPT_ENUM, "none", AB_OPT_RELOADABLE, 0, 0, "none|token|jwt",
	  "who may connect: anyone, holders of a token from auth_tokens_file, or of a JWT" },
	{ "auth_tokens_file", AB_OPT_STRING, NULL, AB_OPT_RELOADABLE, 0, 0, NULL,
	  "auth = token: lines of 'TOKEN USER' (re-read at each reload)" },
	{ "jwt_secret", AB_OPT_STRING, NULL, AB_OPT_RELOADABLE, 0, 0, NULL,
	  "auth = jwt: the HS256 secret (write ${AGENTBUS_JWT_SECRET}, not the secret)" },
	{ "jwt_public_key", AB_OPT_STRING, NULL, AB_OPT_RELOADABLE, 0, 0, NULL,
	  "auth = jwt: a PEM RSA public key for RS256" },
	AB_OPTION_END,
};

/* Read the options that may change at a reload. */
static int read_settings(struct listener *l)
{
	const struct ab_services *svc = l->svc;
	char *origins = strdup(svc->config_string(l->self, "allowed_origins"));
	if (!origins)
		return -1;
	free(l->allowed_origins);
	l->allowed_origins = origins;
	l->max_message = (uint64_t)svc->config_int(l->self, "max_message_size");
	l->handshake_timeout_ms = (uint64_t)svc->config_int(l->self, "handshake_timeout");
	l->idle_timeout_ms = (uint64_t)svc->config_int(l->self, "idle_timeout");
	l->ping_interval_ms = (uint64_t)svc->config_int(l->self, "ping_interval");
	l->heartbeat_interval_s = svc->config_int(l->self, "heartbeat_interval") / 1000;
	l->max_connections = (size_t)svc->config_int(l->self, "max_connections");
	l->max_connections_per_ip = (size_t)svc->config_int(l->self, "max_connections_per_ip");
	l->max_sessions = (size_t)svc->config_int(l->self, "max_sessions");
	l->rate_limit = (double)svc->config_int(l->self, "rate_limit");
	l->rate_burst = (double)svc->config_int(l->self, "rate_burst");
	l->max_output = (size_t)svc->config_int(l->self, "max_output_buffer");
	l->legacy_paths = svc->config_bool(l->self, "legacy_paths");
	l->replay_window_ms = (uint64_t)svc->config_int(l->self, "replay_window");
	l->replay_max = (size_t)svc->config_int(l->self, "replay_max_messages");
	l->replay_max_bytes = (size_t)svc->config_int(l->self, "replay_max_bytes");
	const char *rpc_path = svc->config_string(l->self, "jsonrpc_path");
	free(l->jsonrpc_path);
	l->jsonrpc_path = rpc_path && rpc_path[0] ? strdup(rpc_path) : NULL;
	const char *dir = svc->config_string(l->self, "static_dir");
	free(l->static_dir);
	l->static_dir = NULL;
	if (dir && *dir) {
		/* Without a trailing '/': request paths bring their own. */
		size_t len = strlen(dir);
		while (len > 1 && dir[len - 1] == '/')
			len--;
		if (!(l->static_dir = strndup(dir, len)))
			return -1;
	}
	return 0;
}

/* The TLS context the current options ask for: NULL in *ctx for plain ws.
 * Returns 0, or -1 (logged) when the files do not make one. */
static int build_tls(struct listener *l, SSL_CTX **ctx)
{
	const char *cert = l->svc->config_string(l->self, "tls_certificate");
	const char *key = l->svc->config_string(l->self, "tls_key");
	*ctx = NULL;
	if (!cert && !key)
		return 0;
	if (!cert || !key) {
		ws_log(l, AB_LOG_ERROR, "tls_certificate and tls_key go together");
		return -1;
	}
	char why[320];
	*ctx = tls_context_new(cert, key, why, sizeof why);
	if (!*ctx) {
		ws_log(l, AB_LOG_ERROR, "%s", why);
		return -1;
	}
	return 0;
}

static int build_auth(struct listener *l, struct auth **out)
{
	const struct ab_services *svc = l->svc;
	struct auth_settings as = {
		.mode = (enum auth_mode)svc->config_int(l->self, "auth"),
		.tokens_file = svc->config_string(l->self, "auth_tokens_file"),
		.jwt_secret = svc->config_string(l->self, "jwt_secret"),
		.jwt_public_key = svc->config_string(l->self, "jwt_public_key"),
	};
	char why[320];
	*out = auth_new(&as, why, sizeof why);
	if (!*out) {
		ws_log(l, AB_LOG_ERROR, "%s", why);
		return -1;
	}
	return 0;
}

static int websocket_init(ab_instance *self, const struct ab_services *svc, void **state)
{
	struct listener *l = calloc(1, sizeof *l);
	if (!l)
		return -1;
	l->self = self;
	l->svc = svc;
	*state = l;
	if (!(l->per_ip = ip_counts_new()))
		return -1;
	struct sockaddr_storage addr;
	int addr_len = sizeof addr;
	const char *listen = svc->config_string(self, "listen");
	if (evutil_parse_sockaddr_port(listen, (struct sockaddr *)&addr, &addr_len) < 0) {
		svc->log(self, AB_LOG_ERROR, "listen: '%s' is not HOST:PORT", listen);
		return -1;
	}
	if (build_tls(l, &l->tls) < 0 || build_auth(l, &l->auth) < 0 || !(l->api = api_routes_load(l)))
		return -1;
	return read_settings(l);
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *addr,
                      int addr_len, void *arg)
{
	conn_accept(arg, fd, addr, addr_len);
}

static int websocket_start(void *state)
{
	struct listener *l = state;
	const char *listen = l->svc->config_string(l->self, "listen");
	struct sockaddr_storage addr;
	int addr_len = sizeof addr;
	evutil_parse_sockaddr_port(listen, (struct sockaddr *)&addr, &addr_len);
	l->evl = evconnlistener_new_bind(l->svc->event_base(l->self), on_accept, l,
	                                 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	                                 512, (struct sockaddr *)&addr, addr_len);
	if (!l->evl) {
		ws_log(l, AB_LOG_ERROR, "cannot listen on %s: %s", listen, strerror(errno));
		return -1;
	}
	l->started_ms = ws_now_ms();
	ws_log(l, AB_LOG_NOTICE, "listening on %s (%s)", listen, l->tls ? "wss, https" : "ws, http");
	return 0;
}

static int websocket_reload(void *state, enum ab_reload_phase phase)
{
	struct listener *l = state;
	switch (phase) {
	case AB_RELOAD_PREPARE:
		/* The certificate and token files again, renewed or not: a bad one
		 * rejects the whole reload, and what runs stays. */
		if (build_tls(l, (SSL_CTX **)&l->tls_next) == 0 && build_auth(l, &l->auth_next) == 0 &&
		    (l->api_next = api_routes_load(l)))
			return 0;
		/* The core sends ABORT only to the plugins that prepared. */
		websocket_reload(l, AB_RELOAD_ABORT);
		return -1;
	case AB_RELOAD_COMMIT:
		/* Connections keep the context they began with (OpenSSL counts
		 * its references); new ones get the new one. */
		if ((l->tls != NULL) != (l->tls_next != NULL))
			ws_log(l, AB_LOG_WARNING, "switching between ws and wss needs a restart: keeping %s",
			       l->tls ? "wss" : "ws");
		if (l->tls && l->tls_next) {
			SSL_CTX_free(l->tls);
			l->tls = l->tls_next;
		} else {
			SSL_CTX_free(l->tls_next);
		}
		l->tls_next = NULL;
		auth_free(l->auth);
		l->auth = l->auth_next;
		l->auth_next = NULL;
		api_routes_unref(l->api); /* calls in flight keep theirs */
		l->api = l->api_next;
		l->api_next = NULL;
		return read_settings(l);
	case AB_RELOAD_ABORT:
		SSL_CTX_free(l->tls_next);
		l->tls_next = NULL;
		auth_free(l->auth_next);
		l->auth_next = NULL;
		api_routes_unref(l->api_next);
		l->api_next = NULL;
		return 0;
	}
	return 0;
}

void random_hex(char *out, size_t bytes)
{
	unsigned char raw[16];
	evutil_secure_rng_get_bytes(raw, bytes);
	for (size_t i = 0; i < bytes; i++)
		snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

void listener_conn_gone(struct listener *l)
{
	if (l->stopping && !l->destroying && l->n_conns == 0)
		l->svc->stopped(l->self);
}

static int websocket_stop(void *state)
{
	struct listener *l = state;
	if (l->evl) {
		evconnlistener_free(l->evl);
		l->evl = NULL;
	}
	l->stopping = true;
	if (l->n_conns == 0)
		return AB_STOPPED;
	for (struct conn *c = l->conns, *next; c; c = next) {
		next = c->next;
		if (c->state == CONN_OPEN)
			conn_close(c, WS_CLOSE_GOING_AWAY, "broker shutting down");
		else if (c->state == CONN_HTTP_HEAD || c->state == CONN_HTTP_WAIT)
			conn_flush_and_close(c); /* a request still arriving or unanswered: no answer now */
	}
	return AB_DRAINING;
}

static void websocket_destroy(void *state)
{
	struct listener *l = state;
	l->destroying = true;
	l->stopping = true; /* so sessions end with their connections */
	if (l->evl)
		evconnlistener_free(l->evl);
	while (l->conns)
		conn_free(l->conns);
	session_end_all(l); /* the detached ones */
	free(l->allowed_origins);
	free(l->jsonrpc_path);
	free(l->static_dir);
	SSL_CTX_free(l->tls);
	SSL_CTX_free(l->tls_next);
	auth_free(l->auth);
	auth_free(l->auth_next);
	api_routes_unref(l->api);
	api_routes_unref(l->api_next);
	ip_counts_free(l->per_ip);
	free(l);
}

const char *const listener_types[] = {
	"connection_handshake", "heartbeat", "ping", "query", "get_databases", "database_select",
	"get_database_context", "list_tools", "cancel", "other", NULL,
};

const char *const listener_errors[] = {
	AB_ERR_INVALID_JSON, AB_ERR_INVALID_MESSAGE, AB_ERR_HANDSHAKE_REQUIRED, AB_ERR_UNAUTHORIZED,
	AB_ERR_FORBIDDEN, AB_ERR_RATE_LIMITED, AB_ERR_MESSAGE_TOO_LARGE, AB_ERR_INTERNAL_ERROR,
	"other", NULL,
};

static size_t index_in(const char *const *names, const char *name)
{
	size_t i = 0;
	while (names[i + 1] && strcmp(names[i], name) != 0)
		i++;
	return i; /* the last is "other" */
}

size_t listener_type_index(const char *type)
{
	return index_in(listener_types, type);
}

size_t listener_error_index(const char *error_type)
{
	return index_in(listener_errors, error_type);
}

void listener_count_close(struct listener *l, uint16_t code)
{
	size_t n = sizeof l->counters.closes / sizeof *l->counters.closes;
	for (size_t i = 0; i < n; i++) {
		if (l->counters.closes[i].code == code || l->counters.closes[i].code == 0) {
			l->counters.closes[i].code = code;
			l->counters.closes[i].count++;
			return;
		}
	}
}

static size_t count_sessions(const struct listener *l, bool live)
{
	size_t n = 0;
	for (const struct session *s = l->sessions; s; s = s->next)
		n += (s->conn != NULL) == live;
	return n;
}

static void websocket_report(void *state, ab_report *r)
{
	struct listener *l = state;
	const struct ab_services *svc = l->svc;
	svc->report_count(r, "active_connections", (int64_t)l->n_open);
	svc->report_metric(r, "agentbus_ws_connections", AB_METRIC_GAUGE, "Open WebSocket connections",
	                   NULL, (double)l->n_open);
	svc->report_metric(r, "agentbus_tcp_connections", AB_METRIC_GAUGE,
	                   "TCP connections of the listener (WebSocket and plain HTTP)", NULL,
	                   (double)l->n_conns);
	static const char sessions[] = "Frontend sessions, live or waiting to be resumed";
	svc->report_metric(r, "agentbus_ws_sessions", AB_METRIC_GAUGE, sessions, "state=\"live\"",
	                   (double)count_sessions(l, true));
	svc->report_metric(r, "agentbus_ws_sessions", AB_METRIC_GAUGE, sessions, "state=\"detached\"",
	                   (double)count_sessions(l, false));
	svc->report_metric(r, "agentbus_ws_messages_total", AB_METRIC_COUNTER, "WebSocket messages",
	                   "direction=\"in\"", (double)l->counters.messages_in);
	svc->report_metric(r, "agentbus_ws_messages_total", AB_METRIC_COUNTER, "WebSocket messages",
	                   "direction=\"out\"", (double)l->counters.messages_out);
	svc->report_metric(r, "agentbus_ws_bytes_total", AB_METRIC_COUNTER, "WebSocket message payload bytes",
	                   "direction=\"in\"", (double)l->counters.bytes_in);
	svc->report_metric(r, "agentbus_ws_bytes_total", AB_METRIC_COUNTER, "WebSocket message payload bytes",
	                   "direction=\"out\"", (double)l->counters.bytes_out);
	svc->report_metric(r, "agentbus_ws_upgrades_total", AB_METRIC_COUNTER, "Accepted WebSocket upgrades",
	                   NULL, (double)l->counters.upgrades);
	svc->report_metric(r, "agentbus_http_requests_total", AB_METRIC_COUNTER, "Plain HTTP requests",
	                   NULL, (double)l->counters.http_requests);
	for (size_t i = 0; listener_types[i]; i++) {
		char labels[64];
		snprintf(labels, sizeof labels, "type=\"%s\"", listener_types[i]);
		svc->report_metric(r, "agentbus_ws_messages_in_by_type_total", AB_METRIC_COUNTER,
		                   "Messages frontends sent, by type (others as other)", labels,
		                   (double)l->counters.in_by_type[i]);
	}
	for (size_t i = 0; listener_errors[i]; i++) {
		char labels[64];
		snprintf(labels, sizeof labels, "error_type=\"%s\"", listener_errors[i]);
		svc->report_metric(r, "agentbus_ws_errors_total", AB_METRIC_COUNTER,
		                   "Error replies the WebSocket transport made, by error_type", labels,
		                   (double)l->counters.errors_by_type[i]);
	}
	size_t n = sizeof l->counters.closes / sizeof *l->counters.closes;
	for (size_t i = 0; i < n && l->counters.closes[i].code; i++) {
		char labels[32];
		snprintf(labels, sizeof labels, "code=\"%u\"", l->counters.closes[i].code);
		svc->report_metric(r, "agentbus_ws_closes_total", AB_METRIC_COUNTER,
		                   "Close frames the broker sent, by close code", labels,
		                   (double)l->counters.closes[i].count);
	}
}

static int websocket_deliver(void *state, void *agent_ctx, const char *agent_id, ab_msg *msg,
                             unsigned flags)
{
	if (*(enum agent_kind *)agent_ctx == AGENT_HTTP_CALL)
		return api_call_deliver(agent_ctx, msg, flags);
	if (*(enum agent_kind *)agent_ctx == AGENT_RPC_PEER)
		return rpc_peer_deliver(agent_ctx, msg, flags);
	return session_deliver(agent_ctx, msg, flags);
}

AB_PLUGIN_DEFINE_WITH_SECTIONS(AB_PLUGIN_TRANSPORT, "websocket", PACKAGE_VERSION,
                 "frontends over WebSocket (RFC 6455) and HTTP", websocket_options, NULL,
                 "http_route", api_route_options,
                 .init = websocket_init, .start = websocket_start, .reload = websocket_reload,
                 .stop = websocket_stop, .destroy = websocket_destroy,
                 .deliver = websocket_deliver, .report = websocket_report);
