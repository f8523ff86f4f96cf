#include "rpc_peer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/services.h>
#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

#include "conn.h"
#include "rpc_id.h"

/* A request in flight: only its one answer goes to the client. */
struct asked {
	struct asked *next;
	char cid[RPC_ID_MAX + 3];
};

struct rpc_peer {
	enum agent_kind kind; /* AGENT_RPC_PEER: first, see enum agent_kind */
	struct listener *l;
	struct conn *conn;
	char agent_id[32];
	struct asked *asked;
	bool elicitation, sampling; /* what its initialize said it can answer */
};

/* JSON-RPC codes for the broker's error types: the reserved range for
 * invalid requests, and -32000 to -32099 ("server error") for the rest. */
static int error_code(const char *error_type)
{
	static const struct { const char *type; int code; } codes[] = {
		{ AB_ERR_INVALID_JSON, -32700 },         { AB_ERR_INVALID_MESSAGE, -32600 },
		{ AB_ERR_NO_ROUTE, -32601 },             { AB_ERR_TIMEOUT, -32001 },
		{ AB_ERR_UPSTREAM_UNAVAILABLE, -32002 }, { AB_ERR_RATE_LIMITED, -32003 },
		{ AB_ERR_UNAUTHORIZED, -32004 },         { AB_ERR_FORBIDDEN, -32005 },
		{ AB_ERR_MESSAGE_TOO_LARGE, -32006 },
	};
	for (size_t i = 0; error_type && i < sizeof codes / sizeof *codes; i++) {
		if (strcmp(error_type, codes[i].type) == 0)
			return codes[i].code;
	}
	return -32603;
}

static void send_text(struct rpc_peer *p, const char *text, size_t len)
{
	if (p->conn)
		conn_send_text(p->conn, text, len); /* which counts it */
}

static void send_gen(struct rpc_peer *p, ab_json *g)
{
	const char *buf;
	size_t len;
	if ((buf = ab_json_output(g, &len)) != NULL)
		send_text(p, buf, len);
	ab_json_free(g);
}

/* {"jsonrpc":"2.0","id":ID,"error":{"code","message","data":{"error_type"}}} */
static void send_error(struct rpc_peer *p, const char *cid, const char *error_type, const char *message)
{
	p->l->counters.errors_by_type[listener_error_index(error_type)]++;
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "jsonrpc");
	ab_json_str(g, "2.0");
	ab_json_str(g, "id");
	rpc_id_gen(g, cid);
	ab_json_str(g, "error");
	ab_json_map_open(g);
	ab_json_str(g, "code");
	ab_json_integer(g, error_code(error_type));
	ab_json_str(g, "message");
	ab_json_str(g, message ? message : error_type);
	ab_json_str(g, "data");
	ab_json_map_open(g);
	ab_json_str(g, "error_type");
	ab_json_str(g, error_type);
	ab_json_map_close(g);
	ab_json_map_close(g);
	ab_json_map_close(g);
	send_gen(p, g);
}

/* Take the request cid off the list; false when it was not on it. */
static bool forget(struct rpc_peer *p, const char *cid)
{
	for (struct asked **at = &p->asked; *at; at = &(*at)->next) {
		if (strcmp((*at)->cid, cid) == 0) {
			struct asked *gone = *at;
			*at = gone->next;
			free(gone);
			return true;
		}
	}
	return false;
}

static bool in_flight(const struct rpc_peer *p, const char *cid)
{
	for (const struct asked *a = p->asked; a; a = a->next) {
		if (strcmp(a->cid, cid) == 0)
			return true;
	}
	return false;
}

struct rpc_peer *rpc_peer_open(struct listener *l, struct conn *c)
{
	struct rpc_peer *p = calloc(1, sizeof *p);
	if (!p)
		return NULL;
	p->kind = AGENT_RPC_PEER;
	p->l = l;
	p->conn = c;
	snprintf(p->agent_id, sizeof p->agent_id, "frontend_rpc_%s", c->id);
	if (l->svc->agent_register(l->self, p->agent_id, p) < 0) {
		ws_log(l, AB_LOG_ERROR, "cannot register agent %s", p->agent_id);
		free(p);
		return NULL;
	}
	return p;
}

static int submit_gen(struct rpc_peer *p, ab_json *g);
static ab_json *begin_message(const char *type, const char *cid);

void rpc_peer_close(struct rpc_peer *p)
{
	/* What it still asked is cancelled, upstream too: a client that left
	 * must not hold a server (or an exclusive route) until the deadline. */
	while (p->asked) {
		submit_gen(p, begin_message("cancel", p->asked->cid));
		forget(p, p->asked->cid);
	}
	p->l->svc->agent_unregister(p->l->self, p->agent_id);
	free(p);
}

/* {"type":TYPE,"correlation_id":CID, then the caller's members. */
static ab_json *begin_message(const char *type, const char *cid)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, type);
	ab_json_str(g, "correlation_id");
	ab_json_str(g, cid);
	return g;
}

/* Close the message begun in g and submit it as this peer's agent. */
static int submit_gen(struct rpc_peer *p, ab_json *g)
{
	const struct ab_services *svc = p->l->svc;
	ab_json_map_close(g);
	ab_msg *msg = svc->msg_build(g, NULL);
	ab_json_free(g);
	int rc = msg ? svc->submit(p->l->self, p->agent_id, msg) : -1;
	svc->msg_unref(msg);
	return rc;
}

/* The client's request goes on as it wrote it (text, which a parse took). */
static void submit_request(struct rpc_peer *p, const char *text, size_t len, const char *cid)
{
	if (in_flight(p, cid)) {
		send_error(p, cid, AB_ERR_INVALID_MESSAGE, "a request with this id is in flight already");
		return;
	}
	struct asked *a = calloc(1, sizeof *a);
	if (!a) {
		send_error(p, cid, AB_ERR_INTERNAL_ERROR, "out of memory");
		return;
	}
	ab_json *g = begin_message("jsonrpc", cid);
	ab_json_str(g, "message");
	ab_json_raw(g, text, len);
	/* What of the server's own requests this client takes (its initialize's
	 * capabilities): the upstream hands it only those. */
	ab_json_str(g, "answers");
	ab_json_array_open(g);
	if (p->elicitation)
		ab_json_str(g, "elicitation");
	if (p->sampling)
		ab_json_str(g, "sampling");
	ab_json_array_close(g);
	if (submit_gen(p, g) < 0) {
		free(a);
		send_error(p, cid, AB_ERR_INTERNAL_ERROR, "the broker refused the request");
		return;
	}
	snprintf(a->cid, sizeof a->cid, "%s", cid);
	a->next = p->asked;
	p->asked = a;
}

/* The client's answer to a request of the server's (elicitation, ...),
 * on the same route: the reply to it (an acknowledgement) is not the
 * client's business, and is dropped, as it is not asked. */
static void submit_answer(struct rpc_peer *p, const char *text, size_t len, yajl_val id)
{
	char cid[RPC_ID_MAX + 3], answer_cid[RPC_ID_MAX + 12];
	if (!rpc_id_encode(id, cid, sizeof cid))
		return;
	snprintf(answer_cid, sizeof answer_cid, "answer:%s", cid);
	ab_json *g = begin_message("jsonrpc", answer_cid);
	ab_json_str(g, "message");
	ab_json_raw(g, text, len);
	submit_gen(p, g);
}

static void take_capabilities(struct rpc_peer *p, yajl_val params)
{
	const char *elicitation[] = { "capabilities", "elicitation", NULL };
	const char *sampling[] = { "capabilities", "sampling", NULL };
	p->elicitation = params && yajl_tree_get(params, elicitation, yajl_t_object);
	p->sampling = params && yajl_tree_get(params, sampling, yajl_t_object);
}

/* notifications/cancelled: the broker cancels the request upstream. */
static void cancel_request(struct rpc_peer *p, yajl_val params)
{
	const char *path[] = { "requestId", NULL };
	char cid[RPC_ID_MAX + 3];
	yajl_val id = params ? yajl_tree_get(params, path, yajl_t_any) : NULL;
	if (!id || !rpc_id_encode(id, cid, sizeof cid) || !forget(p, cid))
		return; /* answered already, or never asked: nothing to cancel */
	submit_gen(p, begin_message("cancel", cid));
}

void rpc_peer_on_text(struct rpc_peer *p, const char *data, size_t len, bool limited)
{
	const struct ab_services *svc = p->l->svc;
	yajl_val rpc = svc->tree_parse(data, len);
	const char *method_path[] = { "method", NULL }, *id_path[] = { "id", NULL }, *params_path[] = { "params", NULL };
	yajl_val method = YAJL_IS_OBJECT(rpc) ? yajl_tree_get(rpc, method_path, yajl_t_string) : NULL;
	yajl_val id = YAJL_IS_OBJECT(rpc) ? yajl_tree_get(rpc, id_path, yajl_t_any) : NULL;
	char cid[RPC_ID_MAX + 3];
	if (!rpc) {
		send_error(p, NULL, AB_ERR_INVALID_JSON, "parse error");
	} else if (YAJL_IS_ARRAY(rpc)) {
		send_error(p, NULL, AB_ERR_INVALID_MESSAGE, "batches are not supported (MCP 2025-06-18 removed them)");
	} else if (method && !id) {
		/* A notification: only a cancellation means anything to the broker. */
		if (strcmp(method->u.string, "notifications/cancelled") == 0)
			cancel_request(p, yajl_tree_get(rpc, params_path, yajl_t_object));
	} else if (!method && id) {
		submit_answer(p, data, len, id);
	} else if (!method || !rpc_id_encode(id, cid, sizeof cid)) {
		send_error(p, NULL, AB_ERR_INVALID_MESSAGE, "not a JSON-RPC request (a method and a string or integer id)");
	} else if (limited) {
		send_error(p, cid, AB_ERR_RATE_LIMITED, "too many requests; this one was dropped");
	} else {
		p->l->counters.in_by_type[listener_type_index("jsonrpc")]++;
		if (strcmp(method->u.string, "initialize") == 0)
			take_capabilities(p, yajl_tree_get(rpc, params_path, yajl_t_object));
		submit_request(p, data, len, cid);
	}
	svc->tree_free(rpc);
}

int rpc_peer_deliver(struct rpc_peer *p, ab_msg *msg, unsigned flags)
{
	const struct ab_services *svc = p->l->svc;
	const char *cid = svc->msg_correlation_id(msg);
	if (!(flags & AB_DELIVER_REPLY) || !cid || !in_flight(p, cid))
		return 0; /* not an answer to a request still asked: a late or cancelled one's */
	bool final = !(flags & AB_DELIVER_INTERIM);
	if (final)
		forget(p, cid);
	/* A JSON-RPC message goes out as its bytes: no tree, no generator. */
	size_t len, rpc_len;
	const char *json = svc->msg_json(msg, &len);
	const char *rpc = strncmp(svc->msg_type(msg), "jsonrpc", 7) == 0
	                          ? svc->json_raw(json, len, "$.message", &rpc_len)
	                          : NULL;
	if (rpc && *rpc == '{') {
		send_text(p, rpc, rpc_len);
		return 0;
	}
	const char *error_path[] = { "error", NULL };
	const char *type_path[] = { "error_type", NULL }, *text_path[] = { "message", NULL };
	yajl_val error = yajl_tree_get(svc->msg_tree(msg), error_path, yajl_t_object);
	if (error && final) {
		yajl_val type = yajl_tree_get(error, type_path, yajl_t_string);
		yajl_val text = yajl_tree_get(error, text_path, yajl_t_string);
		const char *error_type = type ? type->u.string : AB_ERR_INTERNAL_ERROR;
		if (strcmp(error_type, AB_ERR_CANCELLED) != 0) /* a cancelled request gets no response */
			send_error(p, cid, error_type, text ? text->u.string : NULL);
	} else if (final) {
		send_error(p, cid, AB_ERR_INTERNAL_ERROR, "the route's translator gave no JSON-RPC answer");
	}
	return 0;
}
