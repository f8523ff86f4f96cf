/* The MCP client transport: one upstream MCP server per [plugin:NAME],
 * reached as the agent {agent_type}_{first 8 hex of md5(agent_type "_" url)}.
 * The agent is registered only while the server is initialized and ready:
 * while it (re)starts, the broker holds requests for it (the hold window),
 * and when it dies the requests in flight get upstream_unavailable.
 *
 * Messages it takes (docs/protocol.md, "MCP side"):
 *   {"type":"mcp_request","correlation_id":C,"method":M,"params":P}
 * and answers with
 *   {"type":"mcp_response","correlation_id":C,"result":R}
 *   {"type":"mcp_error","correlation_id":C,"error":{"error_type":"upstream_error","message":..,"code":N}}
 *   {"type":"mcp_progress","correlation_id":C,"progress":..,"total":..,"message":..}  (interim) */
#ifndef AB_MCP_H
#define AB_MCP_H

#include "build-config.h"

#include <stdbool.h>
#include <stdint.h>

#include <agentbus/plugin.h>
#include <agentbus/services.h>

#include "link.h"
#include "tool_cache.h"

enum upstream_state { UP_CONNECTING, UP_READY, UP_DOWN };

/* A request sent upstream and not yet answered. */
struct mcp_call {
	struct mcp_call *next;
	int64_t id;           /* ours, towards the server */
	char *correlation_id; /* the broker's, to answer with */
	char *requester;      /* the agent that asked */
	unsigned answers;     /* ANSWERS_*: what of the server's own requests its requester can answer */
};

/* What a requester said it can answer of the server's requests (the
 * passthrough's clients: the capabilities of their initialize). */
#define ANSWERS_ELICITATION 0x1u
#define ANSWERS_SAMPLING 0x2u

struct server_ask;

struct upstream {
	ab_instance *self;
	const struct ab_services *svc;
	char *url; /* as the link uses it; for stdio the command line */
	bool stdio;
	char agent_type[64];
	char agent_id[96];
	enum upstream_state state;
	char last_error[256];
	bool registered, required, stopping;
	const struct link_ops *link_ops; /* stdio or Streamable HTTP (link.h) */
	void *link;
	int64_t next_id;
	int64_t initialize_id; /* the initialize request in flight, or 0 */
	char protocol_version[16];
	yajl_val hello; /* the server's answer to our initialize, given to clients that initialize */
	struct mcp_call *calls;
	struct tool_cache tools;
	bool lists_changes; /* the server announced tools.listChanged */
	uint64_t ping_interval_ms; /* 0: we send no pings */
	ab_timer *ping_timer;
	int64_t ping_id; /* our ping awaiting its answer, or 0 */
	struct server_ask *asks; /* the server's requests a frontend is answering (server_asks.h) */
	uint64_t next_ask;
	/* session_mode = isolated (sessions.c): the upstream keeps one MCP
	 * session of its own (its agent's: tools, requests with no session) and
	 * a pool of sessions, one per frontend session, each a struct upstream
	 * with its own link, that answer as the owner's agent. */
	bool isolated;
	struct upstream *owner;    /* a pool session's upstream; NULL: this is one */
	char *session_key;         /* a pool session's frontend session */
	char *session_database;    /* with session_env: the database its server was started on */
	bool by_database;          /* the owner's: session_env is set, sessions are per database too */
	bool closing;              /* a pool session being closed (idle, evicted, shutdown) */
	uint64_t last_used_ms;     /* a pool session's last request */
	struct ab_msg **waiting;   /* requests for a pool session still initializing */
	size_t n_waiting;
	struct upstream *sessions; /* the owner's pool, linked by next_session */
	struct upstream *next_session;
	size_t n_sessions, max_sessions;
	uint64_t session_idle_ms;
	ab_timer *sweep_timer;
	ab_timer *init_deadline;   /* a pool session's: initialized by then, or closed */
	struct upstream *retired;  /* pool sessions whose links stopped, freed on the next turn */
	struct event *reaper;
	bool link_stopped;         /* the owner's own link has stopped at shutdown */
};

/* Make u's link from the upstream's config (its url, transport options). */
int mcp_open_link(struct upstream *u);
/* Serve a request on this session (ready), as mcp_deliver does; when it
 * cannot be sent, the requester gets upstream_unavailable. */
void mcp_session_deliver(struct upstream *u, ab_msg *msg);
/* Everything a session holds, freed (its link, calls, asks, tools). */
void mcp_release(struct upstream *u);
/* A session's calls are over without answers (the broker answered them):
 * each is cancelled upstream and forgotten. */
void mcp_abandon_calls(struct upstream *u, const char *reason);
/* Answer cid from the upstream's agent with an mcp_error. */
void mcp_reply_error(struct upstream *u, const char *cid, const char *error_type, const char *message);
/* A link has stopped (the stopped callback of every link's stop). */
void mcp_link_stopped(struct upstream *u);

/* Answer the server's request ask with a JSON-RPC error. */
void mcp_refuse_server_request(struct upstream *u, const struct server_ask *ask, int code, const char *message);

#define up_log(u, level, ...) (u)->svc->log((u)->self, (level), __VA_ARGS__)

#endif
