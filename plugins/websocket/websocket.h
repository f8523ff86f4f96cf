/* The WebSocket transport plugin's shared state: its options, its listener,
 * its connections and its sessions. */
#ifndef AB_WS_WEBSOCKET_H
#define AB_WS_WEBSOCKET_H

#include "build-config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agentbus/plugin.h>
#include <agentbus/services.h>

struct conn;
struct api_routes;
struct evconnlistener;
struct ssl_ctx_st;
struct auth;
struct session;
struct event;

struct listener {
	ab_instance *self;
	const struct ab_services *svc;
	struct evconnlistener *evl;
	struct conn *conns;
	size_t n_conns;    /* TCP connections */
	size_t n_open;     /* of which open WebSocket connections */
	size_t n_sessions; /* established frontend sessions */
	struct session *sessions;
	uint64_t started_ms; /* when the plugin started, for uptime_seconds */
	/* options, read at start and at reload COMMIT */
	uint64_t max_message;
	uint64_t handshake_timeout_ms, idle_timeout_ms, ping_interval_ms;
	int64_t heartbeat_interval_s;
	size_t max_connections, max_connections_per_ip, max_sessions;
	struct ip_counts *per_ip;
	double rate_limit, rate_burst; /* messages per second per connection; 0: no limit */
	size_t max_output;             /* bytes queued to one connection before it is dropped */
	char *allowed_origins; /* comma-separated; owned */
	uint64_t replay_window_ms;
	size_t replay_max, replay_max_bytes; /* per session, taken when it starts */
	char *static_dir; /* the web console's files; NULL: none served */
	char *jsonrpc_path; /* where MCP JSON-RPC clients connect (rpc_peer.c); NULL: nowhere */
	struct api_routes *api, *api_next; /* [http_route:*]; next: built by a reload's PREPARE */
	struct ssl_ctx_st *tls;      /* wss when set */
	struct ssl_ctx_st *tls_next; /* built by a reload's PREPARE */
	struct auth *auth, *auth_next;
	/* what /metrics shows */
	struct {
		uint64_t messages_in, messages_out, bytes_in, bytes_out, upgrades, http_requests;
		uint64_t http_api_calls;
		struct { uint16_t code; uint64_t count; } closes[24]; /* close frames sent, by code */
		uint64_t in_by_type[16];     /* messages in, by listener_type_index */
		uint64_t errors_by_type[16]; /* error replies the transport made, by listener_error_index */
	} counters;
	bool legacy_paths;
	bool stopping;   /* shutting down: closing sessions end them */
	bool destroying; /* freeing everything: no stopped() any more */
};

/* What an agent this plugin registered is: the first member of the
 * agent_ctx it registered with (a struct session or a struct api_call). */
enum agent_kind {
	AGENT_SESSION = 1,
	AGENT_HTTP_CALL,
	AGENT_RPC_PEER,
};

/* Logging shorthands. */
#define ws_log(l, level, ...) (l)->svc->log((l)->self, (level), __VA_ARGS__)

uint64_t ws_now_ms(void);

/* 2 * bytes random hex digits and a NUL into out (bytes at most 16). */
void random_hex(char *out, size_t bytes);

/* The message types counted by name in /metrics (the frontend protocol's
 * own; everything else counts as "other", so clients cannot grow the label
 * set), and the error types the transport makes. NULL-terminated. */
extern const char *const listener_types[];
extern const char *const listener_errors[];
size_t listener_type_index(const char *type);   /* the "other" slot when unknown */
size_t listener_error_index(const char *error_type);

/* Count a close frame sent with this code. */
void listener_count_close(struct listener *l, uint16_t code);

/* A connection was freed: a stopping listener reports stopped after its last. */
void listener_conn_gone(struct listener *l);

#endif
