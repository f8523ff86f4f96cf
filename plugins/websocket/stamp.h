/* Every message the broker sends a frontend carries "seq" (after the
 * handshake) and "timestamp" (docs/protocol.md). Stamping splices them in
 * front of the message's members, without re-serializing it; only a message
 * that already has top-level seq or timestamp members is rebuilt without
 * them (the broker's values replace them). */
#ifndef AB_WS_STAMP_H
#define AB_WS_STAMP_H

#include <stddef.h>
#include <stdint.h>

struct stamped {
	char *data;
	size_t len;
};

/* json is a valid JSON object (a parsed message's bytes). seq 0: no seq.
 * timestamp: the protocol's ISO 8601 form. Returns 0, or -1 without memory. */
int stamp_message(const char *json, size_t len, uint64_t seq, const char *timestamp,
                  struct stamped *out);

void stamp_free(struct stamped *s);

#endif
