/* libFuzzer: the core's message parse (validation and routing-field
 * extraction) and the correlation-id splice, on arbitrary bytes. A message
 * that parses must round-trip its routing fields through the splice, and
 * the spliced copy (made without a parse) must parse to the same fields. */
#include "build-config.h"

#include <stdint.h>
#include <string.h>

#include "core/msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msg_set_limits(1 << 20, 32);
	struct ab_parse_error err;
	ab_msg *msg = msg_parse((const char *)data, size, &err);
	if (!msg)
		return 0;
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
