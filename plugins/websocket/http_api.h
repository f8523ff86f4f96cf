/* The HTTP API deployed frontends call (docs/protocol.md, "HTTP API"), on
 * the WebSocket listener's port: each [http_route:NAME] section maps a
 * method and a path onto a routed message, sent by a short-lived agent
 * (frontend_http_...), and the final reply onto the response's status and
 * body. The broker's routes and translators do the rest, exactly as for
 * the WebSocket twins of these messages, so the session state (the
 * database a session_id selected) is the same on both sides. */
#ifndef AB_WS_HTTP_API_H
#define AB_WS_HTTP_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agentbus/types.h>
#include <yajl/yajl_tree.h>

#include "http_parse.h"
#include "websocket.h"

struct conn;

/* The keys of an [http_route:NAME] section. */
extern const struct ab_option api_route_options[];

/* One error_type's HTTP status. */
struct api_status {
	char error_type[32];
	int status;
};

struct api_route {
	char *name;   /* NAME of [http_route:NAME] */
	char *method; /* GET, POST, ... */
	char **segments; /* the path's, "{param}" for a parameter */
	size_t n_segments;
	char *type;                            /* of the message sent */
	yajl_val message, response, error_response; /* templates */
	char **generate; /* message fields given a fresh id when the request has none */
	size_t n_generate;
	int64_t timeout_ms;          /* the HTTP side's backstop */
	struct api_status *statuses; /* overrides of the default error statuses */
	size_t n_statuses;
};

/* The routes in force; calls in flight keep the table they started with
 * (a reload may replace it meanwhile). */
struct api_routes {
	unsigned refs;
	struct api_route *items;
	size_t count;
};

/* The listener's [http_route:*] sections (at init, and in a reload's
 * PREPARE), with one reference. NULL after logging which section and key
 * is wrong. */
struct api_routes *api_routes_load(struct listener *l);
void api_routes_unref(struct api_routes *routes); /* NULL is fine */

/* Is path one of the API's (any method)? Preflights and 405s need to know. */
bool api_path_known(const struct api_routes *routes, struct http_span path);

/* Take the request if its method and path are an API route's: answer it
 * now (a bad body, say) or start a call whose reply answers it later.
 * Returns false when no route matches. */
bool api_handle(struct conn *c, const struct http_request *req, struct http_span path,
                const char *body, size_t body_len);

/* One request being answered: the agent that sent its message. */
struct api_call {
	enum agent_kind kind; /* AGENT_HTTP_CALL: first, see enum agent_kind */
	struct conn *conn;    /* NULL once the client went away */
	struct api_routes *table; /* a reference: keeps route alive */
	const struct api_route *route;
	struct listener *l;
	char agent_id[64];
	ab_msg *sent;
};

/* The broker delivers msg to the call's agent: the final reply answers the
 * HTTP request, interim ones are not for HTTP clients. */
int api_call_deliver(struct api_call *call, ab_msg *msg, unsigned flags);

/* The connection is going away before its answer: forget the call. */
void api_call_abandon(struct api_call *call);

#endif
