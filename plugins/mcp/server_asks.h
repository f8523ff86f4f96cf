/* Requests of the server's own (elicitation/create, sampling/createMessage)
 * handed on to the frontend whose request they came with: each gets a key
 * of ours ("s-N", the id that frontend sees, unique however many frontends
 * and sessions share the upstream), and the server's own id is kept, its JSON
 * type with it, until the frontend answers or the deadline does (with an
 * error to the server, which is never left waiting). */
#ifndef AB_MCP_SERVER_ASKS_H
#define AB_MCP_SERVER_ASKS_H

#include <stdbool.h>
#include <stdint.h>

#include <agentbus/types.h>
#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

struct upstream;

#define SERVER_ASK_KEY_LEN 24
/* How long a frontend has to answer. */
#define SERVER_ASK_TIMEOUT_MS 60000

struct mcp_call;

struct server_ask {
	struct server_ask *next;
	char key[SERVER_ASK_KEY_LEN];
	char *requester; /* the frontend asked: only it may answer */
	int64_t call_id; /* the call it came with: it ends with it */
	bool id_is_integer;
	int64_t integer_id;
	char *string_id;
	struct upstream *u;
	ab_timer *deadline;
};

/* Keep the server's id (a string or an integer), asked of call's
 * requester; key gets ours, unique across the upstream's sessions. False
 * when it cannot be kept (another type, or out of memory). */
bool server_ask_open(struct upstream *u, yajl_val id, const struct mcp_call *call, char key[SERVER_ASK_KEY_LEN]);

/* The call ended (answered, cancelled, timed out): its open asks are
 * refused now, not at their deadline. */
void server_asks_end_call(struct upstream *u, int64_t call_id);

/* The ask for key, when from is the frontend it was asked of, taken off
 * the list (the caller writes its id with server_ask_gen_id, then frees it
 * with server_ask_free); NULL when none such waits (answered, past its
 * deadline, or another's). */
struct server_ask *server_ask_take(struct upstream *u, const char *key, const char *from);

void server_ask_gen_id(ab_json *g, const struct server_ask *ask);
void server_ask_free(struct server_ask *ask);

/* The session is over: forget them all (their server is gone). */
void server_asks_drop(struct upstream *u);

#endif
