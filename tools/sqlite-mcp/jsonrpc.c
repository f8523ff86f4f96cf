#include "build-config.h"

#include <string.h>

#include "core/jsontree.h"
#include "jsonrpc.h"

static ab_json *begin(yajl_val id)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_pair(g, "jsonrpc", "2.0");
	ab_json_str(g, "id");
	jsontree_gen(g, id);
	return g;
}

ab_json *rpc_result_begin(yajl_val id)
{
	ab_json *g = begin(id);
	ab_json_str(g, "result");
	return g;
}

void rpc_send(FILE *out, ab_json *g)
{
	ab_json_map_close(g);
	size_t len;
	const char *buf = ab_json_output(g, &len);
	if (buf) { /* else out of memory: the call goes unanswered, as on a crash */
		fwrite(buf, 1, len, out);
		fputc('\n', out);
		fflush(out);
	}
	ab_json_free(g);
}

void rpc_error(FILE *out, yajl_val id, int code, const char *message)
{
	ab_json *g = begin(id);
	ab_json_str(g, "error");
	ab_json_map_open(g);
	ab_json_str(g, "code");
	ab_json_integer(g, code);
	ab_json_pair(g, "message", message);
	ab_json_map_close(g);
	rpc_send(out, g);
}
