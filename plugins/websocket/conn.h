/* One client connection of the WebSocket listener: the HTTP request head,
 * then either a plain HTTP answer or the upgrade and RFC 6455 framing, the
 * close handshake and the timeouts. What the frames mean is session.c's. */
#ifndef AB_WS_CONN_H
#define AB_WS_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>

#include "http_parse.h"
#include "ip_counts.h"
#include "ws_codec.h"

struct listener;
struct session;
struct api_call;

enum conn_state {
	CONN_HTTP_HEAD, /* reading a request (head and body) */
	CONN_HTTP_WAIT, /* an HTTP API request waits for its reply (http_api.c) */
	CONN_OPEN,      /* WebSocket frames both ways */
	CONN_CLOSING,   /* we sent a close frame; waiting for the peer's */
	CONN_FLUSHING,  /* closing the TCP connection once the output is written */
};

struct conn {
	struct listener *listener;
	struct bufferevent *bev;
	enum conn_state state;
	struct ws_reader reader;
	struct session *session;
	struct rpc_peer *rpc; /* instead of a session: a JSON-RPC client (rpc_peer.h) */
	char id[17];          /* connection_id: 16 hex digits */
	char peer[64];        /* "address:port", for logs */
	char ip[IP_KEY_LEN];  /* the per-address limit's key (ip_counts_key) */
	bool counted;         /* counted in the listener's per-address table */
	char auth_user[65];   /* the user of a valid token given at the upgrade; "" if none */
	double tokens;        /* the rate limit's bucket */
	uint64_t tokens_at_ms;
	struct event *timer;  /* head timeout, then idle checks, then close timeout */
	uint64_t last_heard_ms;
	uint64_t message_started_ms; /* the first byte of a message still being read; 0: none */
	bool ping_outstanding;
	/* plain HTTP: the request being answered */
	bool keep_alive;      /* read the next request after this answer */
	bool parsing;         /* inside the loop reading requests (handle_head) */
	bool continued;       /* sent "100 Continue" for this request */
	bool head_request;    /* a HEAD: answers carry no body */
	char origin[256];     /* an allowed browser Origin to name in the answer; "" none */
	struct api_call *call;
	struct conn *prev, *next;
};

/* Accept a new TCP connection (takes the socket). */
void conn_accept(struct listener *l, evutil_socket_t fd, const struct sockaddr *addr, int addr_len);

/* Send one text message. Returns false when it was not sent: the
 * connection is closing, or its reader is too slow and it was dropped. */
bool conn_send_text(struct conn *c, const char *data, size_t len);

/* Is nothing waiting in the output queue? */
bool conn_output_empty(const struct conn *c);

/* Drop the connection (no close frame) with a logged reason; its session
 * is detached when it is freed, on a later loop turn. */
void conn_drop(struct conn *c, const char *why);

/* Would len more bytes keep the output within half the listener's bound
 * (or is it empty)? */
bool conn_has_room(const struct conn *c, size_t len);

/* Begin the close handshake with this code and reason; the connection is
 * freed when it completes or times out. */
void conn_close(struct conn *c, uint16_t code, const char *reason);

/* Close the TCP connection once the output is written (plain HTTP answers,
 * failed connections). */
void conn_flush_and_close(struct conn *c);

/* An HTTP API request went to the broker: wait for call's answer, at most
 * timeout_ms (then 504). */
void conn_http_wait(struct conn *c, struct api_call *call, uint64_t timeout_ms);

/* A plain HTTP answer was written: read the next request (keep-alive,
 * pipelining) or close. */
void conn_http_answered(struct conn *c);

/* Free at once (the listener is going away). */
void conn_free(struct conn *c);

#endif
