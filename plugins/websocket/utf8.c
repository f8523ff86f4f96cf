#include "utf8.h"

bool utf8_feed(struct utf8_state *s, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t b = p[i];
		if (s->need) {
			if (b < s->lo || b > s->hi)
				return false;
			s->need--;
			s->lo = 0x80;
			s->hi = 0xBF;
			continue;
		}
		if (b < 0x80)
			continue;
		/* A lead byte: how many continuation bytes follow, and which
		 * second bytes keep the sequence minimal and in range. */
		if (b >= 0xC2 && b <= 0xDF) {
			s->need = 1;
		} else if (b >= 0xE0 && b <= 0xEF) {
			s->need = 2;
			if (b == 0xE0)
				s->lo = 0xA0; /* else overlong */
			else if (b == 0xED)
				s->hi = 0x9F; /* else a surrogate */
		} else if (b >= 0xF0 && b <= 0xF4) {
			s->need = 3;
			if (b == 0xF0)
				s->lo = 0x90; /* else overlong */
			else if (b == 0xF4)
				s->hi = 0x8F; /* else above U+10FFFF */
		} else {
			return false; /* 0x80-0xC1 or 0xF5-0xFF */
		}
	}
	return true;
}

bool utf8_complete(const struct utf8_state *s)
{
	return s->need == 0;
}

bool utf8_valid(const uint8_t *data, size_t len)
{
	struct utf8_state s = UTF8_STATE_INIT;
	return utf8_feed(&s, data, len) && utf8_complete(&s);
}
