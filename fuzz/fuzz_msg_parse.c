/* libFuzzer: the core's message parse (validation and routing-field
 * extraction) and the correlation-id splice, on arbitrary bytes. A message
 * that parses must round-trip its routing fields through the splice, and
 * the spliced copy (made without a parse) must parse to the same fields.
 * Written out again by the writer, its tree must give msg_build_written,
 * which skims instead of parsing, the fields the checking parse finds. The
 * skim itself must stay inside any bytes at all. */
#include "build-config.h"

#include <stdint.h>
#include <string.h>

#include <agentbus/json.h>

#include "core/jsonskim.h"
#include "core/jsontree.h"
#include "core/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool count_member(void *ctx, const struct jsonskim_member *m)
{
	*(size_t *)ctx += m->key_len + m->value_len;
	return true;
}

/* The writer's text of msg's tree: built by msg_build_written (a skim)
 * and by msg_build (a checking parse), with the same result. */
static void written_again(ab_msg *msg)
{
	ab_json *g = ab_json_new();
	jsontree_gen(g, msg_tree(msg));
	size_t len;
	const char *text = ab_json_output(g, &len);
	if (!text) { /* only out of memory */
		ab_json_free(g);
		return;
	}
	struct ab_parse_error err;
	ab_msg *skimmed = msg_build_written(g, &err), *parsed = msg_build(text, len, &err);
	if (!skimmed || !parsed || strcmp(msg_type(skimmed), msg_type(parsed)) != 0 ||
	    !msg_correlation_id(skimmed) != !msg_correlation_id(parsed) ||
	    (msg_correlation_id(parsed) && strcmp(msg_correlation_id(skimmed), msg_correlation_id(parsed)) != 0))
		__builtin_trap();
	msg_unref(skimmed);
	msg_unref(parsed);
	ab_json_free(g);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msg_set_limits(1 << 20, 32);
	size_t skimmed = 0;
	jsonskim_members((const char *)data, size, count_member, &skimmed);
	struct ab_parse_error err;
	ab_msg *msg = msg_parse((const char *)data, size, &err);
	if (!msg)
		return 0;
	written_again(msg);
	ab_msg *copy = msg_with_correlation_id(msg, "fuzz-\"id\"");
	if (!copy || strcmp(msg_correlation_id(copy), "fuzz-\"id\"") != 0 ||
	    strcmp(msg_type(copy), msg_type(msg)) != 0)
		__builtin_trap();
	size_t len;
	const char *json = msg_json(copy, &len);
	ab_msg *again = msg_build(json, len, &err);
	if (!again || strcmp(msg_correlation_id(again), "fuzz-\"id\"") != 0 ||
	    strcmp(msg_type(again), msg_type(msg)) != 0)
		__builtin_trap();
	msg_unref(again);
	msg_tree(msg);
	msg_unref(copy);
	msg_unref(msg);
	return 0;
}
