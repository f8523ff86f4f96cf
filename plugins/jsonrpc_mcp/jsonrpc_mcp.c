/* The JSON-RPC passthrough translator: a client that speaks MCP JSON-RPC
 * itself (the websocket transport's jsonrpc_path) reaches an upstream's
 * session through the mcp transport.
 *
 *   {"type":"jsonrpc","message":{"jsonrpc":"2.0","id":ID,"method":M,"params":P}}
 *     -> {"type":"mcp_request","method":M,"params":P}
 *   mcp_response {result}  -> {"type":"jsonrpc","message":{"jsonrpc":"2.0","id":ID,"result":R}}
 *   mcp_error {error}      -> {"type":"jsonrpc","message":{..."error":{"code","message","data"}}}
 *   mcp_progress (interim) -> {"type":"jsonrpc_notification","message":{"jsonrpc":"2.0",
 *                              "method":"notifications/progress","params":{"progressToken":T,...}}}
 *   mcp_server_request (interim: the server asks the client, elicitation or
 *   sampling) -> {"type":"jsonrpc_notification","message":<its request, id "s-N">}
 *   the client's answer {"id":"s-N","result"|"error"} -> mcp_server_response
 *
 * Ids are remapped twice over: the broker's correlation id carries the
 * client's id between agents, the mcp transport gives each call an id of
 * its own upstream, and the answer gets back the request's id exactly as
 * the client wrote it (its JSON type kept). Progress goes to the client
 * under its own progressToken, and only when it asked for progress. Routes
 * list jsonrpc_notification as interim:
 *
 *   [route:jsonrpc]
 *   source = frontend_rpc_*
 *   type = jsonrpc
 *   destination = sqlite_mcp_*
 *   translator = jsonrpc_mcp
 *   interim = jsonrpc_notification
 */
#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include <agentbus/plugin.h>
#include <agentbus/services.h>
#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

struct translator {
	ab_instance *self;
	const struct ab_services *svc;
};

static yajl_val member(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

static int send_built(struct translator *tr, ab_translation *t, ab_json *g, bool forward)
{
	ab_msg *msg = tr->svc->msg_build(g, NULL);
	ab_json_free(g);
	if (!msg)
		return -1;
	int rc = forward ? tr->svc->translation_forward(t, msg) : tr->svc->translation_reply(t, msg);
	tr->svc->msg_unref(msg);
	return rc;
}

/* The client's answer to a request of the server's (elicitation,
 * sampling, roots), which reached it as a notification of its own call:
 * back to the upstream under the key it was asked with. */
static int forward_answer(struct translator *tr, ab_translation *t, yajl_val rpc)
{
	yajl_val id = member(rpc, "id"), result = member(rpc, "result"), error = member(rpc, "error");
	if (!YAJL_IS_STRING(id) || (!result && !error))
		return tr->svc->translation_fail(t, AB_ERR_INVALID_MESSAGE, "an answer with no request of the server's");
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, "mcp_server_response");
	ab_json_str(g, "request_id");
	ab_json_str(g, id->u.string);
	ab_json_str(g, error ? "error" : "result");
	tr->svc->gen_tree(g, error ? error : result);
	ab_json_map_close(g);
	return send_built(tr, t, g, true);
}

/* A member of msg's, "$.a.b", written into g under key as its bytes (no
 * tree); false, and nothing written, when msg has none. */
static bool gen_member(struct translator *tr, ab_json *g, ab_msg *msg, const char *key, const char *ref)
{
	size_t len, raw_len;
	const char *json = tr->svc->msg_json(msg, &len);
	const char *raw = tr->svc->json_raw(json, len, ref, &raw_len);
	if (!raw)
		return false;
	ab_json_str(g, key);
	ab_json_raw(g, raw, raw_len);
	return true;
}

static int translate_request(struct translator *tr, ab_translation *t)
{
	ab_msg *input = tr->svc->translation_input(t);
	yajl_val rpc = member(tr->svc->msg_tree(input), "message");
	yajl_val method = member(rpc, "method");
	if (!method)
		return forward_answer(tr, t, rpc);
	if (!YAJL_IS_STRING(method))
		return tr->svc->translation_fail(t, AB_ERR_INVALID_MESSAGE, "a jsonrpc message carries a request");
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, "mcp_request");
	ab_json_str(g, "method");
	ab_json_str(g, method->u.string);
	gen_member(tr, g, input, "params", "$.message.params");
	/* What the server may ask this client in the middle of its call (its
	 * initialize's capabilities, as the transport keeps them); an upstream
	 * in isolated mode gives it a session of its own. */
	gen_member(tr, g, input, "client_answers", "$.answers");
	ab_json_str(g, "session");
	ab_json_str(g, tr->svc->msg_source(input));
	ab_json_map_close(g);
	return send_built(tr, t, g, true);
}

/* {"type":TYPE,"message":{"jsonrpc":"2.0", then the caller's members. */
static ab_json *begin_reply(const char *type)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, type);
	ab_json_str(g, "message");
	ab_json_map_open(g);
	ab_json_str(g, "jsonrpc");
	ab_json_str(g, "2.0");
	return g;
}

static int finish_reply(struct translator *tr, ab_translation *t, ab_json *g)
{
	ab_json_map_close(g);
	ab_json_map_close(g);
	return send_built(tr, t, g, false);
}

/* notifications/progress under the client's own token; none without one. */
static int progress(struct translator *tr, ab_translation *t, yajl_val request, yajl_val in)
{
	const char *path[] = { "params", "_meta", "progressToken", NULL };
	yajl_val token = yajl_tree_get(request, path, yajl_t_any);
	if (!token)
		return 0; /* it did not ask: the progress is dropped */
	ab_json *g = begin_reply("jsonrpc_notification");
	ab_json_str(g, "method");
	ab_json_str(g, "notifications/progress");
	ab_json_str(g, "params");
	ab_json_map_open(g);
	ab_json_str(g, "progressToken");
	tr->svc->gen_tree(g, token);
	static const char *const keys[] = { "progress", "total", "message" };
	for (size_t i = 0; i < 3; i++) {
		yajl_val v = member(in, keys[i]);
		if (v) {
			ab_json_str(g, keys[i]);
			tr->svc->gen_tree(g, v);
		}
	}
	ab_json_map_close(g);
	return finish_reply(tr, t, g);
}

static int translate_reply(struct translator *tr, ab_translation *t)
{
	const struct ab_services *svc = tr->svc;
	ab_msg *input = svc->translation_input(t);
	yajl_val request = member(svc->msg_tree(svc->translation_request(t)), "message");
	const char *type = svc->msg_type(input);
	if (strcmp(type, "mcp_progress") == 0)
		return progress(tr, t, request, svc->msg_tree(input));
	if (strcmp(type, "mcp_server_request") == 0) {
		/* The server asks the client something: it goes as it is. */
		ab_json *g = ab_json_new();
		ab_json_map_open(g);
		ab_json_str(g, "type");
		ab_json_str(g, "jsonrpc_notification");
		if (!gen_member(tr, g, input, "message", "$.request")) {
			ab_json_str(g, "message");
			ab_json_null(g);
		}
		ab_json_map_close(g);
		return send_built(tr, t, g, false);
	}
	ab_json *g = begin_reply("jsonrpc");
	ab_json_str(g, "id");
	svc->gen_tree(g, member(request, "id"));
	/* A result goes on as its bytes; only an error needs the tree. */
	if (strcmp(type, "mcp_response") == 0 && gen_member(tr, g, input, "result", "$.result"))
		return finish_reply(tr, t, g);
	yajl_val error = member(svc->msg_tree(input), "error");
	/* The upstream's JSON-RPC error keeps its code; the broker's own
	 * (upstream_unavailable, timeout) says which it was in data. */
	yajl_val code = member(error, "code"), message = member(error, "message");
	yajl_val error_type = member(error, "error_type");
	ab_json_str(g, "error");
	ab_json_map_open(g);
	ab_json_str(g, "code");
	if (YAJL_IS_INTEGER(code))
		ab_json_integer(g, YAJL_GET_INTEGER(code));
	else
		ab_json_integer(g, -32603);
	ab_json_str(g, "message");
	ab_json_str(g, YAJL_IS_STRING(message) ? message->u.string : "the upstream failed");
	if (YAJL_IS_STRING(error_type)) {
		ab_json_str(g, "data");
		ab_json_map_open(g);
		ab_json_str(g, "error_type");
		ab_json_str(g, error_type->u.string);
		ab_json_map_close(g);
	}
	ab_json_map_close(g);
	return finish_reply(tr, t, g);
}

static int jsonrpc_mcp_translate(void *state, ab_translation *t)
{
	struct translator *tr = state;
	return tr->svc->translation_is_reply(t) ? translate_reply(tr, t) : translate_request(tr, t);
}

static int jsonrpc_mcp_init(ab_instance *self, const struct ab_services *svc, void **state)
{
	struct translator *tr = calloc(1, sizeof *tr);
	if (!tr)
		return -1;
	tr->self = self;
	tr->svc = svc;
	*state = tr;
	return 0;
}

static void jsonrpc_mcp_destroy(void *state)
{
	free(state);
}

AB_PLUGIN_DEFINE(AB_PLUGIN_TRANSLATOR, "jsonrpc_mcp", PACKAGE_VERSION,
                 "MCP JSON-RPC clients to an upstream's MCP session and back", NULL, NULL,
                 .init = jsonrpc_mcp_init, .destroy = jsonrpc_mcp_destroy, .translate = jsonrpc_mcp_translate);
