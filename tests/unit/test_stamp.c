/* Unit tests for plugins/websocket/stamp.c: splicing "seq" and "timestamp"
 * in front of an outgoing message's members. Simple messages are checked
 * byte for byte; every output is parsed back with yajl_tree and compared,
 * member by member, with the input's members less its top-level seq and
 * timestamp. Strings with NUL are checked through yajl's callbacks, which
 * (unlike the tree) keep their lengths. */
#include "build-config.h"

#include <check.h>

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>
#include <yajl/yajl_tree.h>

#include "plugins/websocket/stamp.h"
#include "tests/unit/tree_equal.h"
#include "tests/unit/unit_suite.h"

/* The protocol's form (AB_TIMESTAMP_LEN - 1 characters). */
#define TS "2026-11-25T17:20:50.123Z"

/* ---- helpers --------------------------------------------------------------- */

/* ck_assert records a mark point per call (a write to the runner): in the
 * loops over thousands of members, only fail through ck_abort_msg. */
#define fast_assert(cond, ...)                                                                \
	do {                                                                                   \
		if (!(cond))                                                                   \
			ck_abort_msg(__VA_ARGS__);                                             \
	} while (0)

static struct stamped stamp_len(const char *json, size_t len, uint64_t seq)
{
	struct stamped out = { NULL, 0 };
	ck_assert_int_eq(stamp_message(json, len, seq, TS, &out), 0);
	ck_assert_ptr_nonnull(out.data);
	return out;
}

static struct stamped stamp(const char *json, uint64_t seq)
{
	return stamp_len(json, strlen(json), seq);
}

/* The output is exactly want. */
static void expect_exact(const char *json, uint64_t seq, const char *want)
{
	struct stamped out = stamp(json, seq);
	ck_assert_msg(out.len == strlen(want) && memcmp(out.data, want, out.len) == 0,
	              "stamping %s (seq %" PRIu64 "):\n got  %.*s\n want %s", json, seq,
	              (int)out.len, out.data, want);
	stamp_free(&out);
	ck_assert_ptr_null(out.data);
}

/* "{\"seq\":N,\"timestamp\":\"T\"" (or without seq), as the output begins. */
static size_t head_for(uint64_t seq, char *buf, size_t size)
{
	int n = seq ? snprintf(buf, size, "{\"seq\":%" PRIu64 ",\"timestamp\":\"" TS "\"", seq)
	            : snprintf(buf, size, "{\"timestamp\":\"" TS "\"");
	ck_assert(n > 0 && (size_t)n < size);
	return (size_t)n;
}

/* The output is the head, a comma and then `rest` (members and closing brace). */
static void expect_head_then(const char *json, uint64_t seq, const char *rest)
{
	char want[512];
	size_t n = head_for(seq, want, sizeof want);
	ck_assert_uint_lt(n + 1 + strlen(rest), sizeof want);
	snprintf(want + n, sizeof want - n, ",%s", rest);
	expect_exact(json, seq, want);
}

static yajl_val parse_bytes(const char *data, size_t len)
{
	char *copy = malloc(len + 1);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, data, len);
	copy[len] = '\0';
	char err[256] = "";
	yajl_val tree = yajl_tree_parse(copy, err, sizeof err);
	ck_assert_msg(tree != NULL, "does not parse (%s): %.*s", err, len > 300 ? 300 : (int)len,
	              data);
	ck_assert_msg(YAJL_IS_OBJECT(tree), "not an object: %.*s", len > 300 ? 300 : (int)len, data);
	free(copy);
	return tree;
}

static size_t count_key(yajl_val obj, const char *key)
{
	size_t n = 0;
	for (size_t i = 0; i < obj->u.object.len; i++)
		n += strcmp(obj->u.object.keys[i], key) == 0;
	return n;
}

static yajl_val get(yajl_val obj, const char *key)
{
	for (size_t i = 0; i < obj->u.object.len; i++) {
		if (strcmp(obj->u.object.keys[i], key) == 0)
			return obj->u.object.values[i];
	}
	return NULL;
}

static bool is_stamp_key(const char *k)
{
	return strcmp(k, "seq") == 0 || strcmp(k, "timestamp") == 0;
}

/* The stamped output parses; it starts with the broker's seq (when seq > 0)
 * and timestamp, has exactly one of each (none of seq for seq 0), and then
 * the input's members less its top-level seq and timestamp, in order. */
static void check_against_input(const char *json, size_t len, uint64_t seq)
{
	yajl_val in = parse_bytes(json, len);
	struct stamped out = stamp_len(json, len, seq);
	yajl_val t = parse_bytes(out.data, out.len);
	ck_assert_msg(out.data[0] == '{' && out.data[out.len - 1] == '}', "%.*s", (int)out.len,
	              out.data);

	size_t i = 0;
	if (seq) {
		char digits[24];
		snprintf(digits, sizeof digits, "%" PRIu64, seq);
		ck_assert_str_eq(t->u.object.keys[0], "seq");
		ck_assert(YAJL_IS_NUMBER(t->u.object.values[0]));
		ck_assert_str_eq(t->u.object.values[0]->u.number.r, digits);
		i++;
	}
	ck_assert_uint_eq(count_key(t, "seq"), (seq ? 1 : 0));
	ck_assert_uint_eq(count_key(t, "timestamp"), 1);
	ck_assert_uint_gt(t->u.object.len, i);
	ck_assert_str_eq(t->u.object.keys[i], "timestamp");
	ck_assert(YAJL_IS_STRING(t->u.object.values[i]));
	ck_assert_str_eq(t->u.object.values[i]->u.string, TS);
	i++;

	int shown = out.len > 300 ? 300 : (int)out.len;
	for (size_t k = 0; k < in->u.object.len; k++) {
		if (is_stamp_key(in->u.object.keys[k]))
			continue;
		fast_assert(i < t->u.object.len, "member %s missing from %.*s", in->u.object.keys[k],
		            shown, out.data);
		fast_assert(strcmp(t->u.object.keys[i], in->u.object.keys[k]) == 0,
		            "member %zu is %s, want %s, in %.*s", i, t->u.object.keys[i],
		            in->u.object.keys[k], shown, out.data);
		fast_assert(tree_equal(t->u.object.values[i], in->u.object.values[k]),
		            "member %s changed in %.*s", in->u.object.keys[k], shown, out.data);
		i++;
	}
	ck_assert_msg(i == t->u.object.len, "extra members in %.*s", (int)out.len, out.data);
	yajl_tree_free(t);
	yajl_tree_free(in);
	stamp_free(&out);
}

static void check_str(const char *json, uint64_t seq)
{
	check_against_input(json, strlen(json), seq);
}

/* Strings and keys as yajl's callbacks see them, with their lengths. */
#define MAX_STRINGS 16

struct strings {
	size_t n;
	char text[MAX_STRINGS][32];
	size_t len[MAX_STRINGS];
};

static int on_text(void *ctx, const unsigned char *s, size_t len)
{
	struct strings *st = ctx;
	if (st->n < MAX_STRINGS && len < sizeof st->text[0]) {
		memcpy(st->text[st->n], s, len);
		st->len[st->n] = len;
	}
	st->n++;
	return 1;
}

static void parse_strings(const struct stamped *out, struct strings *st)
{
	static const yajl_callbacks cb = { .yajl_string = on_text, .yajl_map_key = on_text };
	memset(st, 0, sizeof *st);
	yajl_handle h = yajl_alloc(&cb, NULL, st);
	ck_assert_ptr_nonnull(h);
	ck_assert_int_eq(yajl_parse(h, (const unsigned char *)out->data, out->len), yajl_status_ok);
	ck_assert_int_eq(yajl_complete_parse(h), yajl_status_ok);
	yajl_free(h);
}

static bool has_string(const struct strings *st, const char *s, size_t len)
{
	for (size_t i = 0; i < st->n && i < MAX_STRINGS; i++) {
		if (st->len[i] == len && memcmp(st->text[i], s, len) == 0)
			return true;
	}
	return false;
}

/* ---- the fast path: spliced in front -------------------------------------- */

START_TEST(test_exact_simple)
{
	expect_exact("{\"type\":\"event\",\"n\":1}", 42,
	             "{\"seq\":42,\"timestamp\":\"" TS "\",\"type\":\"event\",\"n\":1}");
	expect_exact("{\"type\":\"event\"}", 1, "{\"seq\":1,\"timestamp\":\"" TS "\",\"type\":\"event\"}");
	expect_exact("{\"type\":\"event\"}", UINT64_MAX,
	             "{\"seq\":18446744073709551615,\"timestamp\":\"" TS "\",\"type\":\"event\"}");
	expect_exact("{\"type\":\"reply\",\"ok\":true,\"list\":[1,2],\"obj\":{\"k\":null}}", 7,
	             "{\"seq\":7,\"timestamp\":\"" TS "\",\"type\":\"reply\",\"ok\":true,"
	             "\"list\":[1,2],\"obj\":{\"k\":null}}");
}
END_TEST

START_TEST(test_seq_zero)
{
	expect_exact("{\"type\":\"welcome\"}", 0, "{\"timestamp\":\"" TS "\",\"type\":\"welcome\"}");
	expect_exact("{\"type\":\"welcome\",\"a\":[]}", 0,
	             "{\"timestamp\":\"" TS "\",\"type\":\"welcome\",\"a\":[]}");
	expect_exact("{}", 0, "{\"timestamp\":\"" TS "\"}");
	check_str("{\"type\":\"welcome\",\"n\":3}", 0);
}
END_TEST

START_TEST(test_empty_object)
{
	static const char *const empties[] = { "{}", "{ }", "{\n\t\r }", "  {}  ", "\r\n{ \n}\n" };
	for (size_t i = 0; i < sizeof empties / sizeof *empties; i++) {
		expect_exact(empties[i], 3, "{\"seq\":3,\"timestamp\":\"" TS "\"}");
		expect_exact(empties[i], 0, "{\"timestamp\":\"" TS "\"}");
	}
}
END_TEST

START_TEST(test_whitespace)
{
	/* around the object: dropped */
	expect_head_then(" \r\n\t{\"a\":1}\n ", 5, "\"a\":1}");
	expect_head_then("{\"a\":1}\r\n", 5, "\"a\":1}");
	expect_head_then("\n\n{\"a\":1}", 0, "\"a\":1}");
	/* inside, before the first member: dropped, so no blank after the comma */
	expect_head_then("{  \n\t\r\"a\":1}", 5, "\"a\":1}");
	expect_head_then(" { \"a\":1}", 0, "\"a\":1}");
	/* between and after members: the members' own text, kept */
	expect_head_then("{\"a\" : 1 ,\"b\":2}", 5, "\"a\" : 1 ,\"b\":2}");
	/* before the closing brace: still a valid object with the members */
	static const char *const spaced[] = {
		"{\"a\":1 }", "{\"a\":1\n}", "\n{ \"a\" : [ 1 , 2 ] ,\n \"b\" : { } }\n",
		"\t{\n\t\"a\": 1,\n\t\"b\": \"x\"\n}\n",
	};
	for (size_t i = 0; i < sizeof spaced / sizeof *spaced; i++) {
		check_str(spaced[i], 5);
		check_str(spaced[i], 0);
		struct stamped out = stamp(spaced[i], 5);
		char head[96];
		size_t n = head_for(5, head, sizeof head);
		ck_assert(out.len > n + 1);
		ck_assert(memcmp(out.data, head, n) == 0);
		ck_assert(out.data[n] == ',' && out.data[n + 1] == '"');
		ck_assert(out.data[out.len - 1] == '}');
		stamp_free(&out);
	}
}
END_TEST

START_TEST(test_fast_path_verbatim)
{
	/* Without stamps of its own, a message's text is not re-serialized:
	 * spacing, escapes and numbers stay as written. */
	expect_head_then("{\"a\" : [1, 2,{\"b\":null}], "
	                 "\"c\":\"\\u00e9\\n\\\"q\\\"\\/\", \"d\":1.50e+3, \"e\":-0}",
	                 8,
	                 "\"a\" : [1, 2,{\"b\":null}], "
	                 "\"c\":\"\\u00e9\\n\\\"q\\\"\\/\", \"d\":1.50e+3, \"e\":-0}");
	/* "seq" and "timestamp" inside strings, as escaped quotes */
	expect_head_then("{\"note\":\"say \\\"seq\\\" and \\\"timestamp\\\"\"}", 8,
	                 "\"note\":\"say \\\"seq\\\" and \\\"timestamp\\\"\"}");
	/* keys that only look like the stamps */
	expect_head_then("{\"seqx\":1,\"xseq\":2,\"Seq\":3,\"timestamps\":4,\"_timestamp\":5}", 8,
	                 "\"seqx\":1,\"xseq\":2,\"Seq\":3,\"timestamps\":4,\"_timestamp\":5}");
	check_str("{\"seqx\":1,\"xseq\":2,\"Seq\":3,\"timestamps\":4,\"_timestamp\":5}", 8);
	check_str("{\"note\":\"say \\\"seq\\\" and \\\"timestamp\\\"\"}", 8);
}
END_TEST

/* ---- messages with stamps of their own ------------------------------------- */

START_TEST(test_replace_exact)
{
	expect_exact("{\"seq\":5,\"a\":1}", 9, "{\"seq\":9,\"timestamp\":\"" TS "\",\"a\":1}");
	expect_exact("{\"a\":1,\"timestamp\":\"old\"}", 9, "{\"seq\":9,\"timestamp\":\"" TS "\",\"a\":1}");
	expect_exact("{\"timestamp\":\"old\",\"a\":1,\"seq\":3,\"b\":2}", 9,
	             "{\"seq\":9,\"timestamp\":\"" TS "\",\"a\":1,\"b\":2}");
	/* nothing else: no dangling comma */
	expect_exact("{\"seq\":1,\"timestamp\":\"x\"}", 2, "{\"seq\":2,\"timestamp\":\"" TS "\"}");
	expect_exact("{ \"seq\" : 1 }", 2, "{\"seq\":2,\"timestamp\":\"" TS "\"}");
	expect_exact("{\"timestamp\":\"x\"}", 0, "{\"timestamp\":\"" TS "\"}");
	/* seq 0 (before the handshake): the message's own seq goes too */
	expect_exact("{\"seq\":3,\"a\":1}", 0, "{\"timestamp\":\"" TS "\",\"a\":1}");
}
END_TEST

START_TEST(test_replace_keeps_values)
{
	static const char json[] =
		"{\"seq\":5,\"type\":\"x\",\"timestamp\":\"2000-01-01T00:00:00.000Z\",\"n\":-1.5e3,"
		"\"i\":12345678901234567890123,\"z\":0,\"ok\":true,\"no\":false,\"nil\":null,"
		"\"arr\":[1,\"two\",{\"three\":3},[],[null,false]],\"obj\":{\"k\":[true],\"e\":{}},"
		"\"u\":\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\" \\\\ \\n\\t\",\"raw\":\"\xC3\xA9\xE2\x82\xAC\"}";
	for (uint64_t seq = 0; seq < 3; seq++)
		check_str(json, seq);

	struct stamped out = stamp(json, 9);
	yajl_val t = parse_bytes(out.data, out.len);
	static const char *const keys[] = { "seq", "timestamp", "type", "n",   "i",   "z",   "ok",
		                            "no",  "nil",       "arr",  "obj", "u",   "raw" };
	ck_assert_uint_eq(t->u.object.len, sizeof keys / sizeof *keys);
	for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
		ck_assert_str_eq(t->u.object.keys[i], keys[i]);
	ck_assert_str_eq(get(t, "seq")->u.number.r, "9");
	ck_assert_str_eq(YAJL_GET_STRING(get(t, "timestamp")), TS);
	ck_assert_str_eq(YAJL_GET_STRING(get(t, "type")), "x");
	ck_assert_str_eq(get(t, "n")->u.number.r, "-1.5e3");
	ck_assert_str_eq(get(t, "i")->u.number.r, "12345678901234567890123");
	ck_assert_str_eq(get(t, "z")->u.number.r, "0");
	ck_assert(YAJL_IS_TRUE(get(t, "ok")));
	ck_assert(YAJL_IS_FALSE(get(t, "no")));
	ck_assert(YAJL_IS_NULL(get(t, "nil")));
	yajl_val arr = get(t, "arr");
	ck_assert(YAJL_IS_ARRAY(arr));
	ck_assert_uint_eq(arr->u.array.len, 5);
	ck_assert_str_eq(arr->u.array.values[0]->u.number.r, "1");
	ck_assert_str_eq(YAJL_GET_STRING(arr->u.array.values[1]), "two");
	ck_assert_str_eq(get(arr->u.array.values[2], "three")->u.number.r, "3");
	ck_assert_uint_eq(arr->u.array.values[3]->u.array.len, 0);
	ck_assert(YAJL_IS_NULL(arr->u.array.values[4]->u.array.values[0]));
	ck_assert(YAJL_IS_FALSE(arr->u.array.values[4]->u.array.values[1]));
	yajl_val obj = get(t, "obj");
	ck_assert(YAJL_IS_TRUE(get(obj, "k")->u.array.values[0]));
	ck_assert_uint_eq(get(obj, "e")->u.object.len, 0);
	ck_assert_str_eq(YAJL_GET_STRING(get(t, "u")), "caf\xC3\xA9 \xF0\x9F\x98\x80 \"q\" \\ \n\t");
	ck_assert_str_eq(YAJL_GET_STRING(get(t, "raw")), "\xC3\xA9\xE2\x82\xAC");
	yajl_tree_free(t);
	stamp_free(&out);
}
END_TEST

START_TEST(test_replace_variants)
{
	static const char *const cases[] = {
		"{\"seq\":5}",
		"{\"timestamp\":\"t\"}",
		"{\"a\":1,\"seq\":5}",                            /* last */
		"{\"a\":1,\"seq\":5,\"b\":2}",                    /* middle */
		"{\"seq\":{\"x\":[1,{\"seq\":2}]},\"a\":1}",      /* a container value */
		"{\"a\":[1],\"seq\":[1,2,[3]],\"b\":{\"c\":{}}}",
		"{\"timestamp\":null,\"a\":true}",
		"{\"timestamp\":false,\"seq\":\"7\",\"a\":\"seq\"}",
		"{\"seq\":1,\"seq\":2,\"timestamp\":\"a\",\"timestamp\":\"b\",\"a\":1}", /* duplicates */
		"{ \"seq\" : 5 , \"a\" : [ 1 , 2 ] , \"timestamp\" : \"t\" }",
		"\n{\n  \"a\": 1,\n  \"seq\": 5,\n  \"b\": {\"c\": [1, 2]}\n}\n",
		"{\"seq\":-1.5e-7,\"a\":0}",
		/* rebuilt, keys that only look like the stamps stay */
		"{\"seq\":1,\"seqx\":2,\"sequence\":3,\"se\":4,\"timestamps\":5,\"timestam\":6,\"Seq\":7}",
		"{\"xseq\":1,\"timestamp\":2,\"_timestamp\":3,\"seq \":4,\"s\":5,\"\":6}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		check_str(cases[i], 9);
		check_str(cases[i], 0);
		check_str(cases[i], UINT64_MAX);
	}
}
END_TEST

START_TEST(test_only_nested_or_in_strings)
{
	static const char json[] =
		"{\"type\":\"x\",\"payload\":{\"seq\":3,\"timestamp\":\"inner\"},"
		"\"list\":[{\"seq\":4},\"seq\",\"timestamp\"],\"text\":\"seq\",\"timestamp_note\":\"timestamp\"}";
	check_str(json, 11);
	check_str(json, 0);
	struct stamped out = stamp(json, 11);
	yajl_val t = parse_bytes(out.data, out.len);
	ck_assert_uint_eq(count_key(t, "seq"), 1);
	ck_assert_uint_eq(count_key(t, "timestamp"), 1);
	ck_assert_str_eq(get(t, "seq")->u.number.r, "11");
	yajl_val payload = get(t, "payload");
	ck_assert_ptr_nonnull(payload);
	ck_assert_uint_eq(payload->u.object.len, 2);
	ck_assert_str_eq(get(payload, "seq")->u.number.r, "3");
	ck_assert_str_eq(YAJL_GET_STRING(get(payload, "timestamp")), "inner");
	yajl_val list = get(t, "list");
	ck_assert_uint_eq(list->u.array.len, 3);
	ck_assert_str_eq(get(list->u.array.values[0], "seq")->u.number.r, "4");
	ck_assert_str_eq(YAJL_GET_STRING(list->u.array.values[1]), "seq");
	ck_assert_str_eq(YAJL_GET_STRING(list->u.array.values[2]), "timestamp");
	ck_assert_str_eq(YAJL_GET_STRING(get(t, "text")), "seq");
	ck_assert_str_eq(YAJL_GET_STRING(get(t, "timestamp_note")), "timestamp");
	yajl_tree_free(t);
	stamp_free(&out);

	/* seq 0 and no top-level seq: none in the output, the nested one kept */
	out = stamp("{\"payload\":{\"seq\":3}}", 0);
	t = parse_bytes(out.data, out.len);
	ck_assert_uint_eq(count_key(t, "seq"), 0);
	ck_assert_str_eq(get(get(t, "payload"), "seq")->u.number.r, "3");
	yajl_tree_free(t);
	stamp_free(&out);

	/* a string value that is exactly "seq" and its neighbours */
	check_str("{\"a\":\"seq\",\"b\":\"timestamp\",\"c\":[\"seq\"]}", 4);
	check_str("{\"k\":\"\\\"seq\\\"\",\"seq\":1}", 4);
}
END_TEST

START_TEST(test_escaped_keys)
{
	/* The same keys spelt with escapes are the same members: the broker's
	 * values must still be the only ones (a last-wins client would take the
	 * message's). */
	static const char *const cases[] = {
		"{\"s\\u0065q\":5,\"a\":1}",
		"{\"\\u0073\\u0065\\u0071\":5,\"a\":1}",
		"{\"ti\\u006Destamp\":\"old\",\"a\":1}", /* upper-case hex */
		"{\"\\u0074imestamp\":\"old\",\"se\\u0071\":[1],\"a\":{\"s\\u0065q\":2}}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		check_str(cases[i], 9);
		check_str(cases[i], 0);
	}
	/* nested, an escaped seq is a plain member of its object */
	struct stamped out = stamp("{\"a\":{\"s\\u0065q\":2}}", 9);
	yajl_val t = parse_bytes(out.data, out.len);
	ck_assert_str_eq(get(get(t, "a"), "seq")->u.number.r, "2");
	ck_assert_str_eq(get(t, "seq")->u.number.r, "9");
	yajl_tree_free(t);
	stamp_free(&out);
	/* escapes that spell other keys stay on the fast path's terms */
	check_str("{\"\\u00e9\":1,\"caf\\u00e9\":\"\\u0041\"}", 9);
}
END_TEST

START_TEST(test_nul_escapes)
{
	/* \u0000 inside strings and keys survives, whichever path is taken. */
	static const char *const cases[] = {
		"{\"a\":\"x\\u0000y\",\"b\\u0000c\":2}",
		"{\"seq\":1,\"a\":\"x\\u0000y\",\"b\\u0000c\":2}",
		"{\"a\":\"x\\u0000y\",\"t\":\"timestamp\",\"b\\u0000c\":2}",
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		struct stamped out = stamp(cases[i], 6);
		struct strings st;
		parse_strings(&out, &st);
		ck_assert_msg(has_string(&st, "x\0y", 3), "x\\0y lost: %.*s", (int)out.len, out.data);
		ck_assert_msg(has_string(&st, "b\0c", 3), "b\\0c lost: %.*s", (int)out.len, out.data);
		ck_assert(has_string(&st, TS, strlen(TS)));
		stamp_free(&out);
	}
}
END_TEST

/* ---- every output parses --------------------------------------------------- */

static const char *const corpus[] = {
	"{}",
	"{\"type\":\"x\"}",
	"{\"a\":0,\"b\":-0.0,\"c\":1e400,\"d\":-1E-400,\"e\":123456789012345678901234567890}",
	"{\"t\":true,\"f\":false,\"n\":null,\"e\":[],\"o\":{}}",
	"{\"s\":\"\\u00e9\\u20ac\\ud83d\\ude00\\b\\f\\r\\/\\\\\"}",
	"{\"\\u00e9\":1,\"\":2,\" \":3}",
	"{\"a\":[[[[[[[[[[{\"b\":[[[[]]]]}]]]]]]]]]]}",
	"{\"seq\":1}",
	"{\"seq\":\"x\",\"timestamp\":[],\"a\":[{\"seq\":[{\"timestamp\":{}}]}]}",
	"{\"payload\":{\"seq\":3},\"list\":[\"timestamp\"]}",
	" {\"seq\" :\n1, \"z\" :\"seq\" } ",
	"{\"a\":\"}\",\"b\":\"{\",\"c\":\"\\\"}\"}",
	"{\"a\":\"}\",\"seq\":\"{\",\"c\":\"\\\"}\"}",
	"{\"timestamp\":\"\\\"\",\"a\":\",\",\"b\":\"\\\\\"}",
	"{\"a\":1}   \n",
};

START_TEST(test_corpus_parses)
{
	static const uint64_t seqs[] = { 0, 1, 99, (uint64_t)1 << 40, UINT64_MAX };
	for (size_t i = 0; i < sizeof corpus / sizeof *corpus; i++) {
		for (size_t k = 0; k < sizeof seqs / sizeof *seqs; k++)
			check_str(corpus[i], seqs[k]);
	}
}
END_TEST

/* An object with a member "a" nested depth arrays deep, and perhaps a seq. */
static char *deep_message(unsigned depth, bool with_seq)
{
	size_t size = 2 * depth + 64;
	char *json = malloc(size);
	ck_assert_ptr_nonnull(json);
	size_t n = (size_t)snprintf(json, size, "{%s\"a\":", with_seq ? "\"seq\":1," : "");
	for (unsigned i = 0; i < depth; i++)
		json[n++] = '[';
	for (unsigned i = 0; i < depth; i++)
		json[n++] = ']';
	snprintf(json + n, size - n, ",\"b\":2}");
	return json;
}

START_TEST(test_deep_nesting)
{
	/* The broker accepts up to max_json_depth 1000. */
	static const unsigned depths[] = { 10, 126, 127, 128, 200, 999 };
	for (size_t i = 0; i < sizeof depths / sizeof *depths; i++) {
		for (int with_seq = 0; with_seq < 2; with_seq++) {
			char *json = deep_message(depths[i], with_seq);
			check_str(json, 3);
			free(json);
		}
	}
}
END_TEST

/* ---- size ------------------------------------------------------------------ */

#define MIB (1024 * 1024)

/* A 1 MiB message: {"type":"blob","data":"…", <more>}. */
static char *big_message(const char *more, size_t *len)
{
	char *json = malloc(MIB + 1);
	ck_assert_ptr_nonnull(json);
	static const char start[] = "{\"type\":\"blob\",\"data\":\"";
	size_t tail = strlen(more) + 2; /* the closing quote, more, the brace */
	memcpy(json, start, sizeof start - 1);
	size_t n = sizeof start - 1;
	for (; n < MIB - tail; n++)
		json[n] = (char)('a' + n % 26);
	json[n++] = '"';
	memcpy(json + n, more, strlen(more));
	n += strlen(more);
	json[n++] = '}';
	json[n] = '\0';
	ck_assert_uint_eq(n, MIB);
	*len = n;
	return json;
}

START_TEST(test_large_fast)
{
	size_t len;
	char *json = big_message(",\"n\":[1,2,3]", &len);
	struct stamped out = stamp_len(json, len, 123456);
	char head[96];
	size_t n = head_for(123456, head, sizeof head);
	ck_assert_uint_eq(out.len, n + 1 + (len - 1));
	ck_assert(memcmp(out.data, head, n) == 0);
	ck_assert(out.data[n] == ',');
	ck_assert(memcmp(out.data + n + 1, json + 1, len - 1) == 0);
	stamp_free(&out);
	check_against_input(json, len, 123456);
	free(json);
}
END_TEST

START_TEST(test_large_rebuilt)
{
	size_t len;
	char *json = big_message(",\"seq\":77,\"timestamp\":\"x\",\"n\":[1,2,3]", &len);
	check_against_input(json, len, 78);
	struct stamped out = stamp_len(json, len, 78);
	yajl_val t = parse_bytes(out.data, out.len);
	yajl_val data = get(t, "data");
	ck_assert(data != NULL && YAJL_IS_STRING(data));
	size_t data_len = strlen(data->u.string);
	ck_assert_uint_gt(data_len, MIB - 100);
	ck_assert_str_eq(get(t, "seq")->u.number.r, "78");
	ck_assert_uint_eq(count_key(t, "seq"), 1);
	ck_assert_uint_eq(get(t, "n")->u.array.len, 3);
	yajl_tree_free(t);
	stamp_free(&out);
	free(json);
}
END_TEST

START_TEST(test_many_members)
{
	/* 5000 members with a seq in the middle: all kept, in order (yajl_tree grows
	 * objects a member at a time: many more are slow under ASan). */
	enum { MEMBERS = 5000 };
	size_t size = (size_t)MEMBERS * 24 + 64;
	char *json = malloc(size);
	ck_assert_ptr_nonnull(json);
	size_t n = 0;
	json[n++] = '{';
	for (int i = 0; i < MEMBERS; i++) {
		if (i == MEMBERS / 2)
			n += (size_t)snprintf(json + n, size - n, ",\"seq\":1");
		n += (size_t)snprintf(json + n, size - n, "%s\"k%d\":%d", i ? "," : "", i, i);
	}
	json[n++] = '}';
	check_against_input(json, n, 5);
	struct stamped out = stamp_len(json, n, 5);
	yajl_val t = parse_bytes(out.data, out.len);
	ck_assert_uint_eq(t->u.object.len, MEMBERS + 2);
	for (int i = 0; i < MEMBERS; i++) {
		char key[16];
		snprintf(key, sizeof key, "k%d", i);
		if (strcmp(t->u.object.keys[i + 2], key) != 0)
			ck_abort_msg("member %d is %s", i, t->u.object.keys[i + 2]);
	}
	yajl_tree_free(t);
	stamp_free(&out);
	free(json);
}
END_TEST

START_TEST(test_free)
{
	struct stamped out = stamp("{\"a\":1}", 1);
	stamp_free(&out);
	ck_assert_ptr_null(out.data);
	stamp_free(&out); /* twice is harmless */
	out = stamp("{\"seq\":1,\"a\":1}", 2);
	stamp_free(&out);
	ck_assert_ptr_null(out.data);
	/* the input is not touched, nor kept */
	char json[] = "{\"seq\":1,\"a\":\"b\"}";
	out = stamp(json, 2);
	ck_assert_str_eq(json, "{\"seq\":1,\"a\":\"b\"}");
	memset(json, ' ', sizeof json - 1);
	ck_assert_uint_eq(out.len, strlen("{\"seq\":2,\"timestamp\":\"" TS "\",\"a\":\"b\"}"));
	ck_assert(memcmp(out.data, "{\"seq\":2,\"timestamp\":\"" TS "\",\"a\":\"b\"}", out.len) == 0);
	stamp_free(&out);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("stamp");
	TCase *tc = tcase_create("splice");
	tcase_add_test(tc, test_exact_simple);
	tcase_add_test(tc, test_seq_zero);
	tcase_add_test(tc, test_empty_object);
	tcase_add_test(tc, test_whitespace);
	tcase_add_test(tc, test_fast_path_verbatim);
	suite_add_tcase(s, tc);

	tc = tcase_create("replace");
	tcase_add_test(tc, test_replace_exact);
	tcase_add_test(tc, test_replace_keeps_values);
	tcase_add_test(tc, test_replace_variants);
	tcase_add_test(tc, test_only_nested_or_in_strings);
	tcase_add_test(tc, test_escaped_keys);
	tcase_add_test(tc, test_nul_escapes);
	suite_add_tcase(s, tc);

	tc = tcase_create("parses");
	tcase_add_test(tc, test_corpus_parses);
	tcase_add_test(tc, test_deep_nesting);
	suite_add_tcase(s, tc);

	tc = tcase_create("size");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_large_fast);
	tcase_add_test(tc, test_large_rebuilt);
	tcase_add_test(tc, test_many_members);
	tcase_add_test(tc, test_free);
	suite_add_tcase(s, tc);
	return s;
}
