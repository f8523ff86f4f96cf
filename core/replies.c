#include "build-config.h"

#include <string.h>

#include <agentbus/json.h>

#include "core/msg.h"
#include "core/replies.h"
#include "core/timefmt.h"

/* Copy the request's query_id, string or number, as it was. */
static void gen_query_id(ab_json *g, ab_msg *request)
{
	yajl_val tree = msg_tree(request);
	const char *path[] = { "query_id", NULL };
	yajl_val id = tree ? yajl_tree_get(tree, path, yajl_t_any) : NULL;
	if (!id || !(YAJL_IS_STRING(id) || YAJL_IS_NUMBER(id)))
		return;
	ab_json_str(g, "query_id");
	if (YAJL_IS_STRING(id))
		ab_json_str(g, YAJL_GET_STRING(id));
	else
		ab_json_raw(g, YAJL_GET_NUMBER(id), strlen(YAJL_GET_NUMBER(id)));
}

ab_msg *replies_error(ab_msg *request, const char *cid, const char *reply_type,
                      const char *error_type, const char *message)
{
	ab_json *g = ab_json_new();
	if (!g)
		return NULL;
	if (request)
		cid = msg_correlation_id(request);
	char stamp[TIMEFMT_ISO_LEN];
	timefmt_iso8601_now(stamp);

	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, reply_type);
	if (cid) {
		ab_json_str(g, "correlation_id");
		ab_json_str(g, cid);
	}
	if (request)
		gen_query_id(g, request);
	ab_json_str(g, "error");
	ab_json_map_open(g);
	ab_json_str(g, "error_type");
	ab_json_str(g, error_type);
	ab_json_str(g, "message");
	ab_json_string(g, message, ab_json_utf8_whole_length(message));
	ab_json_map_close(g);
	ab_json_str(g, "timestamp");
	ab_json_str(g, stamp);
	ab_json_map_close(g);

	ab_msg *reply = msg_build_written(g, NULL);
	ab_json_free(g);
	return reply;
}
