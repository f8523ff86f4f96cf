/* Incremental UTF-8 validation (RFC 3629: no overlongs, no surrogates,
 * nothing above U+10FFFF), for text messages that arrive in fragments: the
 * state carries a sequence split across two fragments. Pure, no I/O. */
#ifndef AB_WS_UTF8_H
#define AB_WS_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct utf8_state {
	uint8_t need;   /* continuation bytes still expected */
	uint8_t lo, hi; /* the allowed range of the next continuation byte */
};

#define UTF8_STATE_INIT { 0, 0x80, 0xBF }

/* Feed bytes. Returns false at the first byte that cannot be valid UTF-8
 * (the state is then meaningless). */
bool utf8_feed(struct utf8_state *s, const uint8_t *data, size_t len);

/* True when no sequence is left unfinished (the message may end here). */
bool utf8_complete(const struct utf8_state *s);

/* Whole-buffer check. */
bool utf8_valid(const uint8_t *data, size_t len);

#endif
