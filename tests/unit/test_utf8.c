/* Unit tests for plugins/websocket/utf8.c: the incremental UTF-8 validator
 * (RFC 3629) that checks text messages across fragments. Every case is
 * checked both whole (utf8_valid) and incrementally (utf8_feed, split at
 * every byte), and the validator is compared exhaustively against an
 * independent reference decoder for all 1-, 2- and 3-byte strings. */
#include "build-config.h"

#include <check.h>

#include <stdint.h>
#include <string.h>

#include "plugins/websocket/utf8.h"
#include "tests/unit/unit_suite.h"

/* ---- helpers --------------------------------------------------------------- */

/* Encode a code point (surrogates included, for the negative cases). */
static size_t encode(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | cp >> 6);
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | cp >> 12);
		out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | cp >> 18);
	out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
	out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* An independent reference: decode sequence by sequence, then check the
 * code point is minimal, not a surrogate and at most U+10FFFF. */
static bool ref_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uint8_t b = p[i];
		size_t n;
		uint32_t cp, min;
		if (b < 0x80) {
			i++;
			continue;
		} else if ((b & 0xE0) == 0xC0) {
			n = 2, cp = b & 0x1F, min = 0x80;
		} else if ((b & 0xF0) == 0xE0) {
			n = 3, cp = b & 0x0F, min = 0x800;
		} else if ((b & 0xF8) == 0xF0) {
			n = 4, cp = b & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xC0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += n;
	}
	return true;
}

/* Feed in two parts split at `at`: both feeds must succeed and the state
 * must be complete only at the end (and, mid-sequence, not before). */
static bool split_valid(const uint8_t *p, size_t len, size_t at, bool *complete_between)
{
	struct utf8_state s = UTF8_STATE_INIT;
	if (!utf8_feed(&s, p, at))
		return false;
	*complete_between = utf8_complete(&s);
	if (!utf8_feed(&s, p + at, len - at))
		return false;
	return utf8_complete(&s);
}

/* The byte index at which feeding one byte per call fails, or len if none. */
static size_t bytewise_fail_at(const uint8_t *p, size_t len)
{
	struct utf8_state s = UTF8_STATE_INIT;
	for (size_t i = 0; i < len; i++) {
		if (!utf8_feed(&s, p + i, 1))
			return i;
	}
	return len;
}

/* ck_assert records a mark point per call (a write to the runner): in the
 * loops of a million cases, only fail through ck_abort_msg. */
#define fast_assert(cond, ...)                                                                \
	do {                                                                                   \
		if (!(cond))                                                                   \
			ck_abort_msg(__VA_ARGS__);                                             \
	} while (0)

#define ck_valid(lit) ck_assert_msg(utf8_valid((const uint8_t *)(lit), sizeof(lit) - 1), "refused: %s", #lit)
#define ck_invalid(lit) ck_assert_msg(!utf8_valid((const uint8_t *)(lit), sizeof(lit) - 1), "accepted: %s", #lit)

/* ---- valid ----------------------------------------------------------------- */

START_TEST(test_empty)
{
	struct utf8_state s = UTF8_STATE_INIT;
	ck_assert(utf8_complete(&s));
	ck_assert(utf8_feed(&s, (const uint8_t *)"", 0));
	ck_assert(utf8_complete(&s));
	ck_assert(utf8_valid((const uint8_t *)"", 0));
	ck_assert(utf8_valid(NULL, 0));
}
END_TEST

START_TEST(test_ascii)
{
	uint8_t all[128];
	for (int i = 0; i < 128; i++)
		all[i] = (uint8_t)i; /* NUL included: it is valid UTF-8 */
	ck_assert(utf8_valid(all, sizeof all));
	for (int i = 0; i < 128; i++) {
		struct utf8_state s = UTF8_STATE_INIT;
		ck_assert(utf8_feed(&s, &all[i], 1));
		ck_assert(utf8_complete(&s));
	}
	ck_valid("Hello, world!");
}
END_TEST

START_TEST(test_multibyte)
{
	ck_valid("\xC3\xA9");             /* é U+00E9 */
	ck_valid("\xE2\x82\xAC");         /* € U+20AC */
	ck_valid("\xF0\x9F\x98\x80");     /* 😀 U+1F600 */
	ck_valid("a\xC3\xA9z\xE2\x82\xAC\xF0\x9F\x98\x80!");
	ck_valid("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E"); /* 日本語 */
}
END_TEST

START_TEST(test_boundaries_valid)
{
	ck_valid("\x7F");             /* U+007F */
	ck_valid("\xC2\x80");         /* U+0080 */
	ck_valid("\xDF\xBF");         /* U+07FF */
	ck_valid("\xE0\xA0\x80");     /* U+0800 */
	ck_valid("\xED\x9F\xBF");     /* U+D7FF, just below the surrogates */
	ck_valid("\xEE\x80\x80");     /* U+E000, just above them */
	ck_valid("\xEF\xBF\xBF");     /* U+FFFF */
	ck_valid("\xEF\xBF\xBE");     /* U+FFFE: a noncharacter, still valid */
	ck_valid("\xF0\x90\x80\x80"); /* U+10000 */
	ck_valid("\xF4\x8F\xBF\xBF"); /* U+10FFFF */
	ck_valid("\xF1\x80\x80\x80"); /* U+40000 */
	ck_valid("\xF3\xBF\xBF\xBF"); /* U+FFFFF */
}
END_TEST

/* ---- invalid --------------------------------------------------------------- */

START_TEST(test_overlongs)
{
	ck_invalid("\xC0\x80");
	ck_invalid("\xC0\xAF");
	ck_invalid("\xC1\xBF");
	ck_invalid("\xE0\x80\x80");
	ck_invalid("\xE0\x9F\xBF");
	ck_invalid("\xF0\x80\x80\x80");
	ck_invalid("\xF0\x8F\xBF\xBF");
	/* the lead alone already refuses C0/C1 */
	struct utf8_state s = UTF8_STATE_INIT;
	ck_assert(!utf8_feed(&s, (const uint8_t *)"\xC0", 1));
	s = (struct utf8_state)UTF8_STATE_INIT;
	ck_assert(!utf8_feed(&s, (const uint8_t *)"\xC1", 1));
}
END_TEST

START_TEST(test_surrogates)
{
	ck_invalid("\xED\xA0\x80"); /* U+D800 */
	ck_invalid("\xED\xAD\xBF"); /* U+DB7F */
	ck_invalid("\xED\xB0\x80"); /* U+DC00 */
	ck_invalid("\xED\xBF\xBF"); /* U+DFFF */
	ck_invalid("\xED\xA0\xBD\xED\xB8\x80"); /* a CESU-8 pair */
	for (uint32_t cp = 0xD800; cp <= 0xDFFF; cp++) {
		uint8_t b[4];
		size_t n = encode(cp, b);
		ck_assert_msg(!utf8_valid(b, n), "surrogate U+%04X accepted", (unsigned)cp);
	}
}
END_TEST

START_TEST(test_above_max)
{
	ck_invalid("\xF4\x90\x80\x80"); /* U+110000 */
	ck_invalid("\xF4\xBF\xBF\xBF");
	ck_invalid("\xF7\xBF\xBF\xBF");
	for (unsigned lead = 0xF5; lead <= 0xFF; lead++) {
		uint8_t b[4] = { (uint8_t)lead, 0x80, 0x80, 0x80 };
		ck_assert_msg(!utf8_valid(b, 4), "lead %02X accepted", lead);
		struct utf8_state s = UTF8_STATE_INIT;
		ck_assert_msg(!utf8_feed(&s, b, 1), "lead %02X alone accepted", lead);
	}
}
END_TEST

START_TEST(test_lone_continuation)
{
	for (unsigned c = 0x80; c <= 0xBF; c++) {
		uint8_t b[3] = { 'a', (uint8_t)c, 'b' };
		ck_assert_msg(!utf8_valid(b + 1, 1), "lone %02X accepted", c);
		ck_assert_msg(!utf8_valid(b, 3), "a %02X b accepted", c);
		struct utf8_state s = UTF8_STATE_INIT;
		ck_assert(!utf8_feed(&s, b + 1, 1));
	}
	ck_invalid("\xC3\xA9\xA9");         /* one continuation too many */
	ck_invalid("\xE2\x82\xAC\x80");
	ck_invalid("\xF0\x9F\x98\x80\xBF");
}
END_TEST

START_TEST(test_interrupted_sequences)
{
	ck_invalid("\xC3" "A");     /* ASCII instead of a continuation */
	ck_invalid("\xE2\x82" "A");
	ck_invalid("\xE2\xC3\xA9"); /* a new lead instead */
	ck_invalid("\xF0\x9F\xE2\x82\xAC");
	ck_invalid("\xC3\xC3");
	ck_invalid("\xC3\xFF");
}
END_TEST

START_TEST(test_truncated)
{
	static const char *const truncated[] = {
		"\xC3", "\xDF", "\xE2", "\xE2\x82", "\xE0\xA0", "\xED\x9F", "\xF0", "\xF0\x9F",
		"\xF0\x9F\x98", "\xF4\x8F\xBF", "abc\xC3", "\xE2\x82\xAC\xE2\x82",
	};
	for (size_t i = 0; i < sizeof truncated / sizeof *truncated; i++) {
		const uint8_t *p = (const uint8_t *)truncated[i];
		size_t n = strlen(truncated[i]);
		struct utf8_state s = UTF8_STATE_INIT;
		ck_assert_msg(utf8_feed(&s, p, n), "prefix %zu refused", i);
		ck_assert_msg(!utf8_complete(&s), "truncated %zu complete", i);
		ck_assert_msg(!utf8_valid(p, n), "truncated %zu valid", i);
	}
}
END_TEST

/* ---- incremental ----------------------------------------------------------- */

static const char *const valid_sequences[] = {
	"\xC2\x80",         "\xC3\xA9",         "\xDF\xBF",         "\xE0\xA0\x80",
	"\xE2\x82\xAC",     "\xED\x9F\xBF",     "\xEE\x80\x80",     "\xEF\xBF\xBF",
	"\xF0\x90\x80\x80", "\xF0\x9F\x98\x80", "\xF3\xBF\xBF\xBF", "\xF4\x8F\xBF\xBF",
	"a\xE2\x82\xAC" "b\xF0\x9F\x98\x80" "c\xC3\xA9",
};

START_TEST(test_split_everywhere)
{
	for (size_t i = 0; i < sizeof valid_sequences / sizeof *valid_sequences; i++) {
		const uint8_t *p = (const uint8_t *)valid_sequences[i];
		size_t n = strlen(valid_sequences[i]);
		for (size_t at = 0; at <= n; at++) {
			bool between = false;
			ck_assert_msg(split_valid(p, n, at, &between), "seq %zu split at %zu refused", i, at);
			/* complete between the feeds iff the split is on a boundary */
			bool boundary = at == n || (p[at] & 0xC0) != 0x80;
			ck_assert_msg(between == boundary, "seq %zu split at %zu: complete=%d", i, at,
			              between);
		}
		ck_assert_uint_eq(bytewise_fail_at(p, n), n);
	}
}
END_TEST

START_TEST(test_every_code_point)
{
	/* Every scalar value is valid, whole and fed a byte at a time (with the
	 * state incomplete until the last byte); every surrogate is refused at
	 * its second byte. */
	for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
		uint8_t b[4];
		size_t n = encode(cp, b);
		bool surrogate = cp >= 0xD800 && cp <= 0xDFFF;
		fast_assert(utf8_valid(b, n) == !surrogate, "U+%04X", (unsigned)cp);
		struct utf8_state s = UTF8_STATE_INIT;
		size_t k = 0;
		for (; k < n; k++) {
			if (!utf8_feed(&s, b + k, 1))
				break;
			fast_assert(utf8_complete(&s) == (k == n - 1), "U+%04X byte %zu", (unsigned)cp, k);
		}
		fast_assert(k == (surrogate ? 1 : n), "U+%04X failed at byte %zu", (unsigned)cp, k);
	}
}
END_TEST

START_TEST(test_fail_fast)
{
	struct utf8_state s = UTF8_STATE_INIT;
	/* good chunks, then the chunk with the bad byte fails */
	ck_assert(utf8_feed(&s, (const uint8_t *)"abc", 3));
	ck_assert(utf8_feed(&s, (const uint8_t *)"\xE2", 1));
	ck_assert(utf8_feed(&s, (const uint8_t *)"\x82", 1));
	ck_assert(!utf8_feed(&s, (const uint8_t *)"(", 1));

	/* the second byte of a sequence is range-checked when it arrives */
	static const char *const bad_second[][2] = {
		{ "\xE0", "\x9F" }, { "\xED", "\xA0" }, { "\xF0", "\x8F" }, { "\xF4", "\x90" },
		{ "\xC3", "\xC3" }, { "\xE2", "A" },    { "\xF1", "\xC0" },
	};
	for (size_t i = 0; i < sizeof bad_second / sizeof *bad_second; i++) {
		s = (struct utf8_state)UTF8_STATE_INIT;
		ck_assert_msg(utf8_feed(&s, (const uint8_t *)bad_second[i][0], 1), "lead %zu", i);
		ck_assert_msg(!utf8_feed(&s, (const uint8_t *)bad_second[i][1], 1), "second %zu", i);
	}
	/* and the range applies only to the second byte: E0 A0 80 is fine */
	s = (struct utf8_state)UTF8_STATE_INIT;
	ck_assert(utf8_feed(&s, (const uint8_t *)"\xE0", 1));
	ck_assert(utf8_feed(&s, (const uint8_t *)"\xA0", 1));
	ck_assert(utf8_feed(&s, (const uint8_t *)"\x80", 1));
	ck_assert(utf8_complete(&s));
	s = (struct utf8_state)UTF8_STATE_INIT;
	ck_assert(utf8_feed(&s, (const uint8_t *)"\xF4\x8F", 2));
	ck_assert(utf8_feed(&s, (const uint8_t *)"\xBF\xBF", 2));
	ck_assert(utf8_complete(&s));

	/* a byte-at-a-time feed fails exactly at the bad byte */
	static const uint8_t mixed[] = "ab\xC3\xA9" "cd\xC3(ef";
	ck_assert_uint_eq(bytewise_fail_at(mixed, sizeof mixed - 1), 7);
	static const uint8_t late[] = "\xF0\x9F\x98\x80\xED\xBF\xBF";
	ck_assert_uint_eq(bytewise_fail_at(late, sizeof late - 1), 5);
	static const uint8_t ff[] = "hello\xFFworld";
	ck_assert_uint_eq(bytewise_fail_at(ff, sizeof ff - 1), 5);
}
END_TEST

/* ---- exhaustive against the reference -------------------------------------- */

START_TEST(test_exhaustive_short_strings)
{
	uint8_t b[3];
	for (unsigned x = 0; x < 256; x++) {
		b[0] = (uint8_t)x;
		ck_assert_msg(utf8_valid(b, 1) == ref_valid(b, 1), "%02X", x);
		for (unsigned y = 0; y < 256; y++) {
			b[1] = (uint8_t)y;
			fast_assert(utf8_valid(b, 2) == ref_valid(b, 2), "%02X %02X", x, y);
			for (unsigned z = 0; z < 256; z++) {
				b[2] = (uint8_t)z;
				if (utf8_valid(b, 3) != ref_valid(b, 3))
					ck_abort_msg("%02X %02X %02X: utf8_valid=%d", x, y, z,
					             utf8_valid(b, 3));
			}
		}
	}
}
END_TEST

START_TEST(test_exhaustive_four_byte_leads)
{
	/* All lead and second bytes, with interesting third and fourth ones. */
	static const uint8_t tail[] = { 0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC3, 0xF0, 0xFF };
	uint8_t b[4];
	for (unsigned x = 0; x < 256; x++) {
		b[0] = (uint8_t)x;
		for (unsigned y = 0; y < 256; y++) {
			b[1] = (uint8_t)y;
			for (size_t i = 0; i < sizeof tail; i++) {
				b[2] = tail[i];
				for (size_t j = 0; j < sizeof tail; j++) {
					b[3] = tail[j];
					if (utf8_valid(b, 4) != ref_valid(b, 4))
						ck_abort_msg("%02X %02X %02X %02X: utf8_valid=%d", b[0], b[1],
						             b[2], b[3], utf8_valid(b, 4));
				}
			}
		}
	}
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("utf8");
	TCase *tc = tcase_create("valid");
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_ascii);
	tcase_add_test(tc, test_multibyte);
	tcase_add_test(tc, test_boundaries_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("invalid");
	tcase_add_test(tc, test_overlongs);
	tcase_add_test(tc, test_surrogates);
	tcase_add_test(tc, test_above_max);
	tcase_add_test(tc, test_lone_continuation);
	tcase_add_test(tc, test_interrupted_sequences);
	tcase_add_test(tc, test_truncated);
	suite_add_tcase(s, tc);

	tc = tcase_create("incremental");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_split_everywhere);
	tcase_add_test(tc, test_every_code_point);
	tcase_add_test(tc, test_fail_fast);
	suite_add_tcase(s, tc);

	tc = tcase_create("exhaustive");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_exhaustive_short_strings);
	tcase_add_test(tc, test_exhaustive_four_byte_leads);
	suite_add_tcase(s, tc);
	return s;
}
