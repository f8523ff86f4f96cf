/* The benchmarks' upstream: a small, fast MCP server over stdio, so that
 * what bench/ measures is the broker (or relay) in front of it, not the
 * server. One tool, echo, whose result gives its arguments back as
 * structuredContent {"result":[ARGS]} and as JSON text. Newline-delimited
 * JSON-RPC, one answer per request, written at once. */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

#include "core/jsontree.h"


static yajl_val member(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

static void empty_object(ab_json *g)
{
	ab_json_map_open(g);
	ab_json_map_close(g);
}

static void result_for(ab_json *g, const char *method, yajl_val params)
{
	if (strcmp(method, "initialize") == 0) {
		yajl_val version = member(params, "protocolVersion");
		ab_json_map_open(g);
		ab_json_str(g, "protocolVersion");
		ab_json_str(g, YAJL_IS_STRING(version) ? version->u.string : "2025-11-25");
		ab_json_str(g, "capabilities");
		ab_json_map_open(g);
		ab_json_str(g, "tools");
		empty_object(g);
		ab_json_map_close(g);
		ab_json_str(g, "serverInfo");
		ab_json_map_open(g);
		ab_json_str(g, "name");
		ab_json_str(g, "agentbus-bench-echo");
		ab_json_str(g, "version");
		ab_json_str(g, "1");
		ab_json_map_close(g);
		ab_json_map_close(g);
	} else if (strcmp(method, "tools/list") == 0) {
		ab_json_map_open(g);
		ab_json_str(g, "tools");
		ab_json_array_open(g);
		ab_json_map_open(g);
		ab_json_str(g, "name");
		ab_json_str(g, "echo");
		ab_json_str(g, "inputSchema");
		ab_json_map_open(g);
		ab_json_str(g, "type");
		ab_json_str(g, "object");
		ab_json_map_close(g);
		ab_json_map_close(g);
		ab_json_array_close(g);
		ab_json_map_close(g);
	} else if (strcmp(method, "tools/call") == 0) {
		yajl_val args = member(params, "arguments");
		ab_json *inner = ab_json_new();
		ab_json_array_open(inner);
		if (args)
			jsontree_gen(inner, args);
		else
			empty_object(inner);
		ab_json_array_close(inner);
		size_t len;
		const char *buf = ab_json_output(inner, &len);
		ab_json_map_open(g);
		ab_json_str(g, "content");
		ab_json_array_open(g);
		ab_json_map_open(g);
		ab_json_str(g, "type");
		ab_json_str(g, "text");
		ab_json_str(g, "text");
		ab_json_string(g, buf ? buf : "", len);
		ab_json_map_close(g);
		ab_json_array_close(g);
		ab_json_str(g, "structuredContent");
		ab_json_map_open(g);
		ab_json_str(g, "result");
		ab_json_array_open(g);
		if (args)
			jsontree_gen(g, args);
		else
			empty_object(g);
		ab_json_array_close(g);
		ab_json_map_close(g);
		ab_json_map_close(g);
		ab_json_free(inner);
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
			ab_json *g = ab_json_new();
			ab_json_map_open(g);
			ab_json_str(g, "jsonrpc");
			ab_json_str(g, "2.0");
			ab_json_str(g, "id");
			jsontree_gen(g, id);
			ab_json_str(g, "result");
			result_for(g, method->u.string, member(msg, "params"));
			ab_json_map_close(g);
			size_t len;
			const char *buf = ab_json_output(g, &len);
			if (buf) {
				fwrite(buf, 1, len, stdout);
				fputc('\n', stdout);
				fflush(stdout);
			}
			ab_json_free(g);
		}
		yajl_tree_free(msg);
	}
	free(line);
	return 0;
}
