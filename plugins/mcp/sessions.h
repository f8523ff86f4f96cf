/* Isolated MCP sessions (session_mode = isolated): one per frontend
 * session, made when its first request comes, each with a link of its own
 * (a child process for stdio, its own Mcp-Session-Id for HTTP), so a
 * stateful tool (switch_database) changes that frontend's session only.
 * At most max_sessions: past it the one idle longest is closed to make
 * room, and when every one is busy the request is refused
 * (upstream_unavailable). A session with nothing in flight for
 * session_idle is closed. Requests for a session still initializing wait
 * for it (a bounded few). */
#ifndef AB_MCP_SESSIONS_H
#define AB_MCP_SESSIONS_H

#include <agentbus/types.h>

struct upstream;

/* How often idle sessions are looked for. */
#define SESSION_SWEEP_MS 1000
/* Requests that may wait for one session to come up. */
#define SESSION_MAX_WAITING 64

/* A request for frontend session key: served by its session (made now if
 * need be), or refused with an error reply. Returns 0 (it is answered). */
int sessions_deliver(struct upstream *u, const char *key, ab_msg *msg);

/* The sweep timer: close sessions idle past session_idle. */
void sessions_sweep(void *arg);

/* Shutdown: every session's link is stopped (each frees its session when
 * done; mcp.c's link_stopped). */
void sessions_stop_all(struct upstream *u);

/* The very end: whatever is left goes. */
void sessions_free_all(struct upstream *u);

#endif
