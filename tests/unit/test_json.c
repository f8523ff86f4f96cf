/* Unit tests for include/agentbus/json.h, the JSON writer: exact text for
 * every kind of value, every byte escaped as JSON requires and read back by
 * the strict parser, deep nesting, and misuse refused with no text at all. */
#include "build-config.h"

#include <check.h>

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>

#include "core/jsonparse.h"
#include "tests/unit/unit_suite.h"

/* g's whole text, which must be there; g is freed. */
static char *text_of(ab_json *g)
{
	size_t len;
	const char *out = ab_json_output(g, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(strlen(out), len);
	char *copy = strdup(out);
	ab_json_free(g);
	return copy;
}

static void refused(ab_json *g)
{
	size_t len = 99;
	ck_assert_ptr_null(ab_json_output(g, &len));
	ck_assert_uint_eq(len, 0);
	ab_json_free(g);
}

#define ck_text(g, expected)                                                                  \
	do {                                                                                   \
		char *got_ = text_of(g);                                                       \
		ck_assert_str_eq(got_, (expected));                                            \
		free(got_);                                                                    \
	} while (0)

START_TEST(test_every_kind_of_value)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "s");
	ab_json_str(g, "text");
	ab_json_str(g, "n");
	ab_json_integer(g, -42);
	ab_json_str(g, "big");
	ab_json_integer(g, INT64_MIN);
	ab_json_str(g, "max");
	ab_json_integer(g, INT64_MAX);
	ab_json_str(g, "zero");
	ab_json_integer(g, 0);
	ab_json_str(g, "t");
	ab_json_bool(g, true);
	ab_json_str(g, "f");
	ab_json_bool(g, false);
	ab_json_str(g, "nil");
	ab_json_null(g);
	ab_json_str(g, "raw");
	ab_json_raw(g, "{\"k\": [1, 2]}", 13);
	ab_json_str(g, "a");
	ab_json_array_open(g);
	ab_json_integer(g, 1);
	ab_json_map_open(g);
	ab_json_map_close(g);
	ab_json_array_open(g);
	ab_json_array_close(g);
	ab_json_string(g, "x\0y", 3);
	ab_json_array_close(g);
	ab_json_map_close(g);
	ck_text(g, "{\"s\":\"text\",\"n\":-42,\"big\":-9223372036854775808,\"max\":9223372036854775807,"
	           "\"zero\":0,\"t\":true,\"f\":false,\"nil\":null,\"raw\":{\"k\": [1, 2]},"
	           "\"a\":[1,{},[],\"x\\u0000y\"]}");
}
END_TEST

START_TEST(test_top_level_scalars)
{
	ab_json *g = ab_json_new();
	ab_json_str(g, "alone");
	ck_text(g, "\"alone\"");
	g = ab_json_new();
	ab_json_integer(g, 7);
	ck_text(g, "7");
}
END_TEST

START_TEST(test_escapes)
{
	ab_json *g = ab_json_new();
	ab_json_str(g, "q\" b\\ nl\n cr\r tab\t bs\b ff\f bell\x07 us\x1f del\x7f / \xc3\xa9");
	ck_text(g, "\"q\\\" b\\\\ nl\\n cr\\r tab\\t bs\\b ff\\f bell\\u0007 us\\u001F del\x7f / \xc3\xa9\"");
}
END_TEST

/* Every ASCII byte but NUL (a tree's strings end at one), alone and in
 * runs, reads back as itself; the parser checks UTF-8 beyond ASCII. */
START_TEST(test_every_byte_reads_back)
{
	char all[127 * 3];
	size_t n = 0;
	for (int c = 1; c < 128; c++) {
		all[n++] = (char)c;
		all[n++] = 'a';
		all[n++] = (char)c;
	}
	for (size_t len = 0; len <= n; len += 37) {
		ab_json *g = ab_json_new();
		ab_json_array_open(g);
		ab_json_string(g, all, len);
		ab_json_array_close(g);
		size_t out_len;
		const char *out = ab_json_output(g, &out_len);
		ck_assert_ptr_nonnull(out);
		yajl_val tree = jsonparse_tree(out, out_len, 8, NULL);
		ck_assert_ptr_nonnull(tree);
		ck_assert(YAJL_IS_ARRAY(tree) && tree->u.array.len == 1);
		const char *back = YAJL_GET_STRING(tree->u.array.values[0]);
		ck_assert_ptr_nonnull(back);
		ck_assert_uint_eq(strlen(back), len);
		ck_assert(memcmp(back, all, len) == 0);
		jsonparse_free(tree);
		ab_json_free(g);
	}
}
END_TEST

/* Byte by byte, the plain way: what the writer's 8-at-a-time scan must
 * give wherever the byte that needs an escape falls. */
static void reference_quoted(const char *s, size_t n, char *out)
{
	*out++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*out++ = '\\';
			*out++ = (char)c;
		} else if (c != 0 && c < 0x20 && strchr("\b\f\n\r\t", c)) {
			*out++ = '\\';
			*out++ = "bfnrt"[strchr("\b\f\n\r\t", c) - "\b\f\n\r\t"];
		} else if (c < 0x20) {
			out += sprintf(out, "\\u%04X", c);
		} else {
			*out++ = (char)c;
		}
	}
	*out++ = '"';
	*out = '\0';
}

/* Each special byte, or UTF-8 sequence, at every offset of strings of 1
 * to 36 bytes: the 8-byte steps and the byte-wise rest agree. */
START_TEST(test_escape_at_every_offset)
{
	static const char *const specials[] = { "\"", "\\", "\n", "\x01", "\x1f", "\x7f", " ",
		                                "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80" };
	char s[40], expected[40 * 6 + 3];
	for (size_t len = 1; len <= 36; len++) {
		for (size_t at = 0; at < len; at++) {
			for (size_t k = 0; k < sizeof specials / sizeof *specials; k++) {
				size_t n = strlen(specials[k]);
				if (at + n > len)
					continue;
				memset(s, 'x', len);
				memcpy(s + at, specials[k], n);
				if (at + n + 2 < len)
					s[at + n + 2] = '"'; /* a second one in the same 8 */
				ab_json *g = ab_json_new();
				ab_json_string(g, s, len);
				reference_quoted(s, len, expected);
				ck_text(g, expected);
			}
		}
	}
}
END_TEST

/* A string that is not UTF-8, wherever its fault sits, leaves the writer
 * with no text: a stray continuation byte, a byte UTF-8 never uses, an
 * overlong form, a surrogate, one past U+10FFFF, a sequence cut short. */
START_TEST(test_invalid_utf8_is_refused)
{
	static const char *const faults[] = { "\x80", "\xff", "\xc0\x80", "\xe0\x80\x80", "\xed\xa0\x80",
		                              "\xf4\x90\x80\x80", "\xe2\x82" };
	char s[40];
	for (size_t len = 2; len <= 36; len++) {
		for (size_t k = 0; k < sizeof faults / sizeof *faults; k++) {
			size_t n = strlen(faults[k]);
			for (size_t at = 0; at + n <= len; at++) {
				memset(s, 'x', len);
				memcpy(s + at, faults[k], n);
				ab_json *g = ab_json_new();
				ab_json_array_open(g);
				ab_json_string(g, s, len);
				ab_json_array_close(g);
				refused(g);
			}
		}
	}
}
END_TEST

/* Texts around the size the writer holds in itself move to the heap whole. */
START_TEST(test_across_the_first_buffer)
{
	char s[AB_JSON_FIRST + 40], expected[sizeof s + 8];
	for (size_t len = AB_JSON_FIRST - 40; len < sizeof s; len++) {
		memset(s, 'y', len);
		s[len / 2] = '"';
		ab_json *g = ab_json_new();
		ab_json_array_open(g);
		ab_json_string(g, s, len);
		ab_json_array_close(g);
		expected[0] = '[';
		reference_quoted(s, len, expected + 1);
		strcat(expected, "]");
		ck_text(g, expected);
	}
}
END_TEST

/* A long string with escapes spread through it grows the buffer exactly. */
START_TEST(test_long_strings)
{
	enum { N = 100000 };
	char *s = malloc(N);
	for (size_t i = 0; i < N; i++)
		s[i] = i % 97 == 0 ? '"' : (char)('a' + i % 26);
	ab_json *g = ab_json_new();
	ab_json_string(g, s, N);
	size_t len;
	const char *out = ab_json_output(g, &len);
	ck_assert_ptr_nonnull(out);
	size_t quotes = (N + 96) / 97;
	ck_assert_uint_eq(len, N + quotes + 2);
	yajl_val tree = jsonparse_tree(out, len, 2, NULL);
	ck_assert_ptr_nonnull(tree);
	ck_assert(memcmp(tree->u.string, s, N) == 0);
	jsonparse_free(tree);
	ab_json_free(g);
	free(s);
}
END_TEST

START_TEST(test_doubles)
{
	ab_json *g = ab_json_new();
	ab_json_array_open(g);
	ab_json_double(g, 0.1);
	ab_json_double(g, -2.5);
	ab_json_double(g, 1e300);
	ab_json_double(g, 1.0 / 3.0);
	ab_json_double(g, 1.0);
	ab_json_double(g, -3.0);
	ab_json_double(g, INFINITY);
	ab_json_double(g, NAN);
	ab_json_array_close(g);
	ck_text(g, "[0.1,-2.5,1e+300,0.33333333333333331,1.0,-3.0,null,null]");
}
END_TEST

START_TEST(test_deep_nesting)
{
	ab_json *g = ab_json_new();
	for (int i = 0; i < AB_JSON_MAX_DEPTH; i++)
		ab_json_array_open(g);
	for (int i = 0; i < AB_JSON_MAX_DEPTH; i++)
		ab_json_array_close(g);
	char *text = text_of(g);
	ck_assert_uint_eq(strlen(text), 2 * AB_JSON_MAX_DEPTH);
	free(text);
	g = ab_json_new();
	for (int i = 0; i <= AB_JSON_MAX_DEPTH; i++)
		ab_json_array_open(g);
	refused(g);
}
END_TEST

START_TEST(test_misuse_is_refused)
{
	ab_json *g = ab_json_new(); /* a value where a key belongs */
	ab_json_map_open(g);
	ab_json_integer(g, 1);
	ab_json_map_close(g);
	refused(g);
	g = ab_json_new(); /* a key without its value */
	ab_json_map_open(g);
	ab_json_str(g, "k");
	ab_json_map_close(g);
	refused(g);
	g = ab_json_new(); /* the other kind closed */
	ab_json_map_open(g);
	ab_json_array_close(g);
	refused(g);
	g = ab_json_new(); /* two top-level values */
	ab_json_integer(g, 1);
	ab_json_integer(g, 2);
	refused(g);
	g = ab_json_new(); /* still open */
	ab_json_array_open(g);
	refused(g);
	g = ab_json_new(); /* nothing written */
	refused(g);
	g = ab_json_new(); /* closed more than opened */
	ab_json_array_open(g);
	ab_json_array_close(g);
	ab_json_array_close(g);
	refused(g);
	g = ab_json_new(); /* raw bytes never as a key */
	ab_json_map_open(g);
	ab_json_raw(g, "\"k\"", 3);
	refused(g);
	/* no writer at all (ab_json_new without memory): every call is safe */
	ab_json_map_open(NULL);
	ab_json_pair(NULL, "k", "v");
	ab_json_integer(NULL, 1);
	ab_json_map_close(NULL);
	size_t len = 5;
	ck_assert_ptr_null(ab_json_output(NULL, &len));
	ck_assert_uint_eq(len, 0);
	ab_json_free(NULL);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("json");
	TCase *tc = tcase_create("writer");
	tcase_add_test(tc, test_every_kind_of_value);
	tcase_add_test(tc, test_top_level_scalars);
	tcase_add_test(tc, test_escapes);
	tcase_add_test(tc, test_every_byte_reads_back);
	tcase_add_test(tc, test_escape_at_every_offset);
	tcase_add_test(tc, test_invalid_utf8_is_refused);
	tcase_add_test(tc, test_across_the_first_buffer);
	tcase_add_test(tc, test_long_strings);
	tcase_add_test(tc, test_doubles);
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_misuse_is_refused);
	suite_add_tcase(s, tc);
	return s;
}
