#include "build-config.h"

#include <string.h>

#include "core/jsontree.h"
#include "jsonrpc.h"

void gen_str(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

void gen_key(yajl_gen g, const char *key, const char *value)
{
	gen_str(g, key);
	gen_str(g, value);
}

static yajl_gen begin(yajl_val id)
{
	yajl_gen g = yajl_gen_alloc(NULL);
	yajl_gen_map_open(g);
	gen_key(g, "jsonrpc", "2.0");
	gen_str(g, "id");
	jsontree_gen(g, id);
	return g;
}

yajl_gen rpc_result_begin(yajl_val id)
{
	yajl_gen g = begin(id);
	gen_str(g, "result");
	return g;
}

void rpc_send(FILE *out, yajl_gen g)
{
	yajl_gen_map_close(g);
	const unsigned char *buf;
	size_t len;
	yajl_gen_get_buf(g, &buf, &len);
	fwrite(buf, 1, len, out);
	fputc('\n', out);
	fflush(out);
	yajl_gen_free(g);
}

void rpc_error(FILE *out, yajl_val id, int code, const char *message)
{
	yajl_gen g = begin(id);
	gen_str(g, "error");
	yajl_gen_map_open(g);
	gen_str(g, "code");
	yajl_gen_integer(g, code);
	gen_key(g, "message", message);
	yajl_gen_map_close(g);
	rpc_send(out, g);
}
