#include "build-config.h"

#include <string.h>

#include <yajl/yajl_gen.h>

#include "core/msg.h"
#include "core/replies.h"
#include "core/timefmt.h"

static void gen_text(yajl_gen g, const char *text)
{
	yajl_gen_string(g, (const unsigned char *)text, strlen(text));
}

/* Copy the request's query_id, string or number, as it was. */
static void gen_query_id(yajl_gen g, ab_msg *request)
{
	yajl_val tree = msg_tree(request);
	const char *path[] = { "query_id", NULL };
	yajl_val id = tree ? yajl_tree_get(tree, path, yajl_t_any) : NULL;
	if (!id || !(YAJL_IS_STRING(id) || YAJL_IS_NUMBER(id)))
		return;
	gen_text(g, "query_id");
	if (YAJL_IS_STRING(id))
		gen_text(g, YAJL_GET_STRING(id));
	else
		yajl_gen_number(g, YAJL_GET_NUMBER(id), strlen(YAJL_GET_NUMBER(id)));
}

/* The length of text without a multi-byte UTF-8 sequence cut short at its
 * end (what a bounded snprintf of a longer name can leave). */
static size_t utf8_whole_length(const char *text)
{
	size_t len = strlen(text);
	size_t back = 0;
	while (back < len && back < 4 && ((unsigned char)text[len - 1 - back] & 0xC0) == 0x80)
		back++;
	if (back == len)
		return len;
	unsigned char lead = (unsigned char)text[len - 1 - back];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return need > back + 1 ? len - 1 - back : len;
}

ab_msg *replies_error(ab_msg *request, const char *cid, const char *reply_type,
                      const char *error_type, const char *message)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	if (!g)
		return NULL;
	if (request)
		cid = msg_correlation_id(request);
	char stamp[TIMEFMT_ISO_LEN];
	timefmt_iso8601_now(stamp);

	yajl_gen_map_open(g);
	gen_text(g, "type");
	gen_text(g, reply_type);
	if (cid) {
		gen_text(g, "correlation_id");
		gen_text(g, cid);
	}
	if (request)
		gen_query_id(g, request);
	gen_text(g, "error");
	yajl_gen_map_open(g);
	gen_text(g, "error_type");
	gen_text(g, error_type);
	gen_text(g, "message");
	yajl_gen_string(g, (const unsigned char *)message, utf8_whole_length(message));
	yajl_gen_map_close(g);
	gen_text(g, "timestamp");
	gen_text(g, stamp);
	yajl_gen_map_close(g);

	const unsigned char *json;
	size_t len;
	yajl_gen_get_buf(g, &json, &len);
	ab_msg *reply = msg_build((const char *)json, len, NULL);
	yajl_gen_free(g);
	return reply;
}
