/* The benchmarks' upstream: a small, fast MCP server over stdio, so that
 * what bench/ measures is the broker (or relay) in front of it, not the
 * server. One tool, echo, whose result gives its arguments back as
 * structuredContent {"result":[ARGS]} and as JSON text. Newline-delimited
 * JSON-RPC, one answer per request, written at once. */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "core/jsontree.h"

static void text(yajl_gen g, const char *s)
{
	yajl_gen_string(g, (const unsigned char *)s, strlen(s));
}

static yajl_val member(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

static void empty_object(yajl_gen g)
{
	yajl_gen_map_open(g);
	yajl_gen_map_close(g);
}

static void result_for(yajl_gen g, const char *method, yajl_val params)
{
	if (strcmp(method, "initialize") == 0) {
		yajl_val version = member(params, "protocolVersion");
		yajl_gen_map_open(g);
		text(g, "protocolVersion");
		text(g, YAJL_IS_STRING(version) ? version->u.string : "2025-11-25");
		text(g, "capabilities");
		yajl_gen_map_open(g);
		text(g, "tools");
		empty_object(g);
		yajl_gen_map_close(g);
		text(g, "serverInfo");
		yajl_gen_map_open(g);
		text(g, "name");
		text(g, "agentbus-bench-echo");
		text(g, "version");
		text(g, "1");
		yajl_gen_map_close(g);
		yajl_gen_map_close(g);
	} else if (strcmp(method, "tools/list") == 0) {
		yajl_gen_map_open(g);
		text(g, "tools");
		yajl_gen_array_open(g);
		yajl_gen_map_open(g);
		text(g, "name");
		text(g, "echo");
		text(g, "inputSchema");
		yajl_gen_map_open(g);
		text(g, "type");
		text(g, "object");
		yajl_gen_map_close(g);
		yajl_gen_map_close(g);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
	} else if (strcmp(method, "tools/call") == 0) {
		yajl_val args = member(params, "arguments");
		yajl_gen inner = yajl_gen_alloc(NULL);
		yajl_gen_array_open(inner);
		if (args)
			jsontree_gen(inner, args);
		else
			empty_object(inner);
		yajl_gen_array_close(inner);
		const unsigned char *buf;
		size_t len;
		yajl_gen_get_buf(inner, &buf, &len);
		yajl_gen_map_open(g);
		text(g, "content");
		yajl_gen_array_open(g);
		yajl_gen_map_open(g);
		text(g, "type");
		text(g, "text");
		text(g, "text");
		yajl_gen_string(g, buf, len);
		yajl_gen_map_close(g);
		yajl_gen_array_close(g);
		text(g, "structuredContent");
		yajl_gen_map_open(g);
		text(g, "result");
		yajl_gen_array_open(g);
		if (args)
			jsontree_gen(g, args);
		else
			empty_object(g);
		yajl_gen_array_close(g);
		yajl_gen_map_close(g);
		yajl_gen_map_close(g);
		yajl_gen_free(inner);
	} else {
		empty_object(g); /* ping, and anything else: an empty result */
	}
}

int main(void)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, stdin)) > 0) {
		yajl_val msg = yajl_tree_parse(line, NULL, 0);
		yajl_val id = member(msg, "id"), method = member(msg, "method");
		if (id && YAJL_IS_STRING(method)) {
			yajl_gen g = yajl_gen_alloc(NULL);
			yajl_gen_map_open(g);
			text(g, "jsonrpc");
			text(g, "2.0");
			text(g, "id");
			jsontree_gen(g, id);
			text(g, "result");
			result_for(g, method->u.string, member(msg, "params"));
			yajl_gen_map_close(g);
			const unsigned char *buf;
			size_t len;
			yajl_gen_get_buf(g, &buf, &len);
			fwrite(buf, 1, len, stdout);
			fputc('\n', stdout);
			fflush(stdout);
			yajl_gen_free(g);
		}
		yajl_tree_free(msg);
	}
	free(line);
	return 0;
}
