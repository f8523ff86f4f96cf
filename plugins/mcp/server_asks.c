#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server_asks.h"

static void unlink_ask(struct upstream *u, struct server_ask *ask)
{
	for (struct server_ask **at = &u->asks; *at; at = &(*at)->next) {
		if (*at == ask) {
			*at = ask->next;
			return;
		}
	}
}

/* The frontend did not answer in time: the server gets an error instead. */
static void on_deadline(void *arg)
{
	struct server_ask *ask = arg;
	struct upstream *u = ask->u;
	unlink_ask(u, ask);
	up_log(u, AB_LOG_WARNING, "the frontend did not answer the server's request %s in time", ask->key);
	mcp_refuse_server_request(u, ask, -32603, "the client did not answer in time");
	server_ask_free(ask);
}

bool server_ask_open(struct upstream *u, yajl_val id, const struct mcp_call *call, char key[SERVER_ASK_KEY_LEN])
{
	if (!YAJL_IS_INTEGER(id) && !YAJL_IS_STRING(id))
		return false;
	struct server_ask *ask = calloc(1, sizeof *ask);
	if (!ask || !(ask->requester = strdup(call->requester))) {
		free(ask);
		return false;
	}
	ask->u = u;
	ask->call_id = call->id;
	ask->id_is_integer = YAJL_IS_INTEGER(id);
	if (ask->id_is_integer)
		ask->integer_id = YAJL_GET_INTEGER(id);
	else if (!(ask->string_id = strdup(id->u.string))) {
		free(ask->requester);
		free(ask);
		return false;
	}
	/* Numbered by the upstream, not the session: keys never repeat among
	 * its isolated sessions. */
	struct upstream *owner = u->owner ? u->owner : u;
	snprintf(ask->key, sizeof ask->key, "s-%llu", (unsigned long long)++owner->next_ask);
	ask->deadline = u->svc->timer_start(u->self, SERVER_ASK_TIMEOUT_MS, false, on_deadline, ask);
	ask->next = u->asks;
	u->asks = ask;
	memcpy(key, ask->key, SERVER_ASK_KEY_LEN);
	return true;
}

struct server_ask *server_ask_take(struct upstream *u, const char *key, const char *from)
{
	for (struct server_ask *ask = u->asks; key && ask; ask = ask->next) {
		if (strcmp(ask->key, key) == 0 && strcmp(ask->requester, from) == 0) {
			unlink_ask(u, ask);
			return ask;
		}
	}
	return NULL;
}

void server_ask_gen_id(ab_json *g, const struct server_ask *ask)
{
	if (ask->id_is_integer)
		ab_json_integer(g, ask->integer_id);
	else
		ab_json_str(g, ask->string_id);
}

void server_ask_free(struct server_ask *ask)
{
	if (ask->deadline)
		ask->u->svc->timer_cancel(ask->deadline);
	free(ask->string_id);
	free(ask->requester);
	free(ask);
}

void server_asks_end_call(struct upstream *u, int64_t call_id)
{
	for (struct server_ask **at = &u->asks; *at;) {
		struct server_ask *ask = *at;
		if (ask->call_id != call_id) {
			at = &ask->next;
			continue;
		}
		*at = ask->next;
		mcp_refuse_server_request(u, ask, -32603, "the request it came with has ended");
		server_ask_free(ask);
	}
}

void server_asks_drop(struct upstream *u)
{
	while (u->asks) {
		struct server_ask *ask = u->asks;
		u->asks = ask->next;
		server_ask_free(ask);
	}
}
