/* libFuzzer: stamping seq and timestamp into what the broker would deliver
 * (bytes core/msg.c accepts as a message); the result must parse as a
 * message again, with the same type. */
#include "build-config.h"

#include <stdint.h>
#include <string.h>

#include "core/msg.h"
#include "plugins/websocket/stamp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	msg_set_limits(1 << 20, 64);
	ab_msg *msg = msg_parse((const char *)data, size, NULL);
	if (!msg)
		return 0;
	size_t len;
	const char *json = msg_json(msg, &len);
	struct stamped out;
	if (stamp_message(json, len, 7, "2026-11-25T17:20:50.123Z", &out) == 0) {
		ab_msg *again = msg_build(out.data, out.len, NULL);
		if (!again || strcmp(msg_type(again), msg_type(msg)) != 0)
			__builtin_trap();
		msg_unref(again);
		stamp_free(&out);
	}
	msg_unref(msg);
	return 0;
}
