/* libFuzzer: the core's message parse (validation and routing-field
 * extraction) and the correlation-id splice, on arbitrary bytes. A message
 * that parses must round-trip its routing fields through the splice, and
 * the spliced copy (made without a parse) must parse to the same fields.
 * Written out again by the writer, its tree must give msg_build_written,
 * which skims instead of parsing, the fields the checking parse finds (or
 * the same refusal); so must its own bytes as one raw value, escaped keys
 * and all. The skim itself must stay inside any bytes at all. */
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

/* The writer's text of msg's tree, or msg's bytes written as one raw
 * value: built by msg_build_written (a skim) and by msg_build (a checking
 * parse), with the same result. */
static void written_again(ab_msg *msg, bool raw)
{
	size_t len;
	ab_json *g = ab_json_new();
	if (raw)
		ab_json_raw(g, msg_json(msg, &len), len);
	else
		jsontree_gen(g, msg_tree(msg));
	const char *text = ab_json_output(g, &len);
	if (!text) { /* only out of memory */
		ab_json_free(g);
		return;
	}
	/* Both may refuse it, alike: a key with a NUL in it ("type\u0000") is
	 * written as far as the NUL, a second "type". */
	struct ab_parse_error skim_err, parse_err;
	ab_msg *skimmed = msg_build_written(g, &skim_err), *parsed = msg_build(text, len, &parse_err);
	if (!skimmed != !parsed)
		__builtin_trap();
	if (!parsed ? strcmp(skim_err.message, parse_err.message) != 0
	            : strcmp(msg_type(skimmed), msg_type(parsed)) != 0 ||
	                      !msg_correlation_id(skimmed) != !msg_correlation_id(parsed) ||
	                      (msg_correlation_id(parsed) &&
	                       strcmp(msg_correlation_id(skimmed), msg_correlation_id(parsed)) != 0))
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
	written_again(msg, false);
	written_again(msg, true);
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
