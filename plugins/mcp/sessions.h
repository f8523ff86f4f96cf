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
/* A session's server must have initialized by then. */
#define SESSION_INIT_TIMEOUT_MS 30000

/* A request for frontend session key (on database, with session_env; else
 * NULL): served by its session (made now if need be), or refused with an
 * error reply. Returns 0 (it is answered). */
int sessions_deliver(struct upstream *u, const char *key, const char *database, ab_msg *msg);

/* The broker gave up on request cid (cancel, timeout): if it still waits
 * for its session, it never goes out. */
void sessions_cancel_waiting(struct upstream *u, const char *cid);

/* A session's link has stopped: it leaves the pool now and is freed on
 * the next loop turn (its link's code is still on the stack). */
void sessions_retire(struct upstream *s);

/* The sweep timer: close sessions idle past session_idle. */
void sessions_sweep(void *arg);

/* Shutdown: every session is closed (each goes when its link stops). */
void sessions_stop_all(struct upstream *u);

/* The very end: whatever is left goes. */
void sessions_free_all(struct upstream *u);

#endif
