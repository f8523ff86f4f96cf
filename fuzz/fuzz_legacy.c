/* libFuzzer: the legacy WebSocket dialect (plugins/mcp/legacy.c). Any
 * input, read as a message from the client or from the server, gives valid
 * JSON or nothing, and never crashes, leaks or overruns. */
#include "build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "core/jsontree.h"
#include "plugins/mcp/legacy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void must_be_json(const char *text)
{
	if (!text)
		return;
	yajl_val v = yajl_tree_parse(text, NULL, 0);
	if (!v)
		__builtin_trap();
	yajl_tree_free(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct legacy lg;
	if (legacy_init(&lg, "[\"execute_query\"]", jsontree_gen) < 0)
		__builtin_trap();
	char *envelope, *answer;
	(void)legacy_from_client(&lg, (const char *)data, size, &envelope, &answer);
	must_be_json(envelope);
	must_be_json(answer);
	free(envelope);
	free(answer);
	const char *why;
	char *rpc = legacy_from_server(&lg, (const char *)data, size, &why);
	must_be_json(rpc);
	free(rpc);
	legacy_free(&lg);
	return 0;
}
