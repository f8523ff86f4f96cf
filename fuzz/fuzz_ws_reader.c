/* libFuzzer: the RFC 6455 frame reader on arbitrary bytes, fed in the
 * chunks the input's first byte chooses, with a small message limit. It
 * must never crash, leak or read out of bounds, and must stop after a close
 * or a failure. */
#include <stddef.h>
#include <stdint.h>

#include "plugins/websocket/ws_codec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t chunk = (size_t)(data[0] % 17) + 1;
	struct ws_reader r;
	ws_reader_init(&r, 4096, data[0] & 0x80 ? WS_FROM_CLIENT : WS_FROM_SERVER);
	const uint8_t *at = data + 1, *end = data + size;
	while (at < end) {
		size_t n = (size_t)(end - at) < chunk ? (size_t)(end - at) : chunk;
		struct ws_event ev;
		size_t used = ws_reader_feed(&r, at, n, &ev);
		if (ev.kind == WS_EV_CLOSE || ev.kind == WS_EV_FAIL) {
			struct ws_event after;
			if (ws_reader_feed(&r, at + used, (size_t)(end - at) - used, &after) != 0)
				__builtin_trap(); /* nothing is read after a close or a failure */
			break;
		}
		if (used == 0 && ev.kind == WS_EV_NONE)
			break;
		at += used;
	}
	ws_reader_free(&r);
	return 0;
}
