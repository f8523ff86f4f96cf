/* The frontend protocol over one WebSocket (docs/protocol.md): the
 * connection_established greeting, connection_handshake and its
 * acknowledgement (or, on the legacy paths, an implicit session), agent ids
 * and session takeover, heartbeat and ping, error replies in the one error
 * shape, and seq and timestamp on every message sent. Messages for the
 * broker are submitted as the session's agent; what the broker delivers to
 * that agent is sent to the frontend. */
#ifndef AB_WS_SESSION_H
#define AB_WS_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agentbus/types.h>

#include "replay.h"
#include "websocket.h"

struct conn;
struct listener;

struct session {
	enum agent_kind kind; /* AGENT_SESSION: first, see enum agent_kind */
	struct listener *l;
	struct conn *conn; /* NULL once the connection is gone */
	char agent_id[129];
	char user_id[65];
	char owner[65];   /* with auth on: the token's user, who alone may take it over */
	bool legacy;      /* came in on /ws/query/{user} or /ws/chat/{user} */
	bool implicit;    /* opened by a first message, not a handshake */
	bool established; /* handshaken, or an implicit legacy session */
	bool realtime;    /* asked for interim replies (real_time_updates) */
	uint64_t seq;      /* the last seq stamped */
	uint64_t sent_seq; /* the last seq written to a connection */
	uint64_t confirmed_seq; /* the last seq certainly out of our output queue */
	bool replaying;    /* a resumption's backlog is being sent ... */
	uint64_t pump_seq; /* ... from this seq on, as the connection drains */
	struct replay replay;
	ab_timer *handshake_timer;
	ab_timer *expiry; /* while detached: the end of the replay window */
	struct session *prev, *next; /* the listener's established sessions */
};

/* A WebSocket just opened: greet it. NULL without memory. */
struct session *session_open(struct listener *l, struct conn *c, bool legacy, const char *user_id);

/* A text message arrived. */
void session_on_text(struct session *s, const char *data, size_t len);

/* A text message arrived over the connection's rate: refused with a
 * rate_limited error. */
void session_rate_limited(struct session *s, const char *data, size_t len);

/* The connection c is going away, with this close code (the client's, ours,
 * or 1006 when it dropped). The session ends, or waits for the client to
 * resume it within the replay window. */
void session_detach(struct session *s, struct conn *c, uint16_t code);

/* The connection's queued output was thrown away (a slow reader): what was
 * in it counts as never sent. */
void session_output_dropped(struct session *s);

/* The connection drained its output: send more of a resumption's backlog. */
void session_pump(struct session *s);

/* End every session (the listener is being destroyed). */
void session_end_all(struct listener *l);

/* The broker delivers msg to this session's agent. */
int session_deliver(struct session *s, ab_msg *msg, unsigned flags);

#endif
