/* Unit tests for core/jsonparse.c: the strict parser behind every message
 * (its scan at ingress and its arena trees). Its trees must be the ones
 * yajl builds for the same text, and it must refuse what RFC 8259 and
 * RFC 3629 refuse. */
#include "build-config.h"

#include <check.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "core/jsonparse.h"
#include "tests/unit/tree_equal.h"
#include "tests/unit/unit_suite.h"

static yajl_val tree(const char *json)
{
	struct jsonparse_error err;
	yajl_val v = jsonparse_tree(json, strlen(json), 64, &err);
	ck_assert_msg(v != NULL, "'%s' refused: %s", json, err.text);
	return v;
}

static void ck_same_as_yajl(const char *json)
{
	yajl_val ours = tree(json), theirs = yajl_tree_parse(json, NULL, 0);
	ck_assert_msg(theirs != NULL, "yajl refuses '%s'", json);
	ck_assert_msg(tree_equal(ours, theirs), "'%s': the trees differ", json);
	jsonparse_free(ours);
	yajl_tree_free(theirs);
}

static void ck_refused_len(const char *json, size_t len, enum jsonparse_status status, const char *says)
{
	struct jsonparse_error err;
	yajl_val v = jsonparse_tree(json, len, 64, &err);
	ck_assert_msg(v == NULL, "'%.*s' was taken", (int)len, json);
	ck_assert_int_eq(err.status, status);
	ck_assert_msg(strstr(err.text, says), "'%.*s': the error is '%s', expected '%s'", (int)len, json,
	              err.text, says);
	/* The scan refuses it the same way. */
	ck_assert_int_eq(jsonparse_scan(json, len, 64, NULL, NULL, NULL, &err), status);
}

static void ck_refused(const char *json, const char *says)
{
	ck_refused_len(json, strlen(json), JSONPARSE_SYNTAX, says);
}

START_TEST(test_same_trees_as_yajl)
{
	ck_same_as_yajl("{\"type\":\"query\",\"correlation_id\":\"c1\",\"query\":\"SELECT 1\"}");
	ck_same_as_yajl("{\"a\":{\"b\":[1,2,{\"c\":null}],\"d\":true,\"e\":false},\"f\":[],\"g\":{}}");
	ck_same_as_yajl("[0,-0,1,-1,12.5,-1.5e3,1E+2,2e-2,9223372036854775807]");
	/* Past a long long: not an integer, still a double (yajl's rule). */
	ck_same_as_yajl("[9223372036854775808,-9223372036854775808,123456789012345678901234567890]");
	/* Past a double: neither. */
	ck_same_as_yajl("[1e400]");
	ck_same_as_yajl("\"just a string\"");
	ck_same_as_yajl("42");
	ck_same_as_yajl("null");
	ck_same_as_yajl(" \t\r\n{ \"spaced\" : [ 1 , 2 ] }\n ");
	ck_same_as_yajl("{\"esc\":\"q\\\"b\\\\s\\/n\\nt\\tr\\rb\\bf\\f\"}");
	ck_same_as_yajl("{\"u\":\"\\u00e9\\u20AC\\ud83d\\ude00\",\"raw\":\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}");
	ck_same_as_yajl("{\"dup\":1,\"dup\":2}");
}
END_TEST

START_TEST(test_values)
{
	yajl_val v = tree("{\"s\":\"x\",\"i\":-7,\"d\":0.25,\"a\":[true,false,null],\"o\":{}}");
	ck_assert(YAJL_IS_OBJECT(v));
	ck_assert_uint_eq(v->u.object.len, 5);
	ck_assert_str_eq(v->u.object.keys[0], "s");
	ck_assert_str_eq(YAJL_GET_STRING(v->u.object.values[0]), "x");
	ck_assert(YAJL_IS_INTEGER(v->u.object.values[1]));
	ck_assert_int_eq(YAJL_GET_INTEGER(v->u.object.values[1]), -7);
	ck_assert(!YAJL_IS_INTEGER(v->u.object.values[2]) && YAJL_IS_DOUBLE(v->u.object.values[2]));
	ck_assert(YAJL_GET_DOUBLE(v->u.object.values[2]) == 0.25);
	ck_assert_str_eq(YAJL_GET_NUMBER(v->u.object.values[2]), "0.25");
	yajl_val a = v->u.object.values[3];
	ck_assert(YAJL_IS_ARRAY(a) && a->u.array.len == 3);
	ck_assert(YAJL_IS_TRUE(a->u.array.values[0]) && YAJL_IS_FALSE(a->u.array.values[1]) &&
	          YAJL_IS_NULL(a->u.array.values[2]));
	ck_assert(YAJL_IS_OBJECT(v->u.object.values[4]) && v->u.object.values[4]->u.object.len == 0);
	const char *path[] = { "a", NULL };
	ck_assert_ptr_eq(yajl_tree_get(v, path, yajl_t_array), a);
	jsonparse_free(v);
	jsonparse_free(NULL);
}
END_TEST

START_TEST(test_surrogates)
{
	/* A pair is one character; a lone half is none, and becomes U+FFFD so
	 * that what we hand on is UTF-8 (yajl writes "?" or CESU-8). */
	yajl_val v = tree("[\"\\ud83d\\ude00\",\"a\\ud800b\",\"\\udc00\",\"\\ud800\\u0041\",\"\\ud800\"]");
	ck_assert_str_eq(YAJL_GET_STRING(v->u.array.values[0]), "\xf0\x9f\x98\x80");
	ck_assert_str_eq(YAJL_GET_STRING(v->u.array.values[1]), "a\xef\xbf\xbd" "b");
	ck_assert_str_eq(YAJL_GET_STRING(v->u.array.values[2]), "\xef\xbf\xbd");
	ck_assert_str_eq(YAJL_GET_STRING(v->u.array.values[3]), "\xef\xbf\xbd" "A");
	ck_assert_str_eq(YAJL_GET_STRING(v->u.array.values[4]), "\xef\xbf\xbd");
	jsonparse_free(v);
}
END_TEST

START_TEST(test_syntax_errors)
{
	ck_refused("", "no value at byte 0");
	ck_refused("   ", "no value");
	ck_refused("{", "unexpected end");
	ck_refused("}", "unexpected character at byte 0");
	ck_refused("[1,]", "unexpected character at byte 3");
	ck_refused("{\"a\":1,}", "expected a string key at byte 7");
	ck_refused("{\"a\"}", "expected ':'");
	ck_refused("{a:1}", "expected a string key");
	ck_refused("{'a':1}", "expected a string key");
	ck_refused("[1 2]", "expected ',' or ']'");
	ck_refused("{\"a\":1 \"b\":2}", "expected ',' or '}'");
	ck_refused("{} {}", "bytes after the message at byte 3");
	ck_refused("1 2", "bytes after the message");
	ck_refused("tru", "unexpected character");
	ck_refused("nul", "unexpected character");
	ck_refused("True", "unexpected character");
	ck_refused("NaN", "unexpected character");
	ck_refused("Infinity", "unexpected character");
	ck_refused("/* no comments */ 1", "unexpected character");
	ck_refused("1 // no comments", "bytes after the message");
	ck_refused("\v1", "unexpected character"); /* RFC 8259's blanks are four */
}
END_TEST

START_TEST(test_bad_numbers)
{
	ck_refused("01", "bytes after the message");
	ck_refused("[-]", "bad number");
	ck_refused("-", "bad number");
	ck_refused("1.", "bad number");
	ck_refused(".5", "unexpected character");
	ck_refused("1e", "bad number");
	ck_refused("1e+", "bad number");
	ck_refused("+1", "unexpected character");
	ck_refused("0x10", "bytes after the message");
	ck_refused("[1.e5]", "bad number");
}
END_TEST

START_TEST(test_bad_strings)
{
	ck_refused("\"abc", "unterminated string");
	ck_refused("\"abc\\", "unterminated string");
	ck_refused("\"\\x\"", "bad escape");
	ck_refused("\"\\u12G4\"", "bad \\u escape");
	ck_refused("\"\\u123\"", "bad \\u escape");
	ck_refused("\"a\x01\"", "control character in a string");
	ck_refused("\"tab\tinside\"", "control character");
	ck_refused_len("\"a\0b\"", 5, JSONPARSE_SYNTAX, "control character");
	/* UTF-8 as RFC 3629 has it. */
	ck_refused("\"\xff\"", "invalid UTF-8");
	ck_refused("\"\x80\"", "invalid UTF-8");             /* a lone continuation byte */
	ck_refused("\"\xc0\xaf\"", "invalid UTF-8");         /* overlong '/' */
	ck_refused("\"\xe0\x80\xaf\"", "invalid UTF-8");     /* overlong, three bytes */
	ck_refused("\"\xf0\x80\x80\xaf\"", "invalid UTF-8"); /* overlong, four bytes */
	ck_refused("\"\xed\xa0\x80\"", "invalid UTF-8");     /* a surrogate, U+D800 */
	ck_refused("\"\xf4\x90\x80\x80\"", "invalid UTF-8"); /* past U+10FFFF */
	ck_refused("\"\xf5\x80\x80\x80\"", "invalid UTF-8");
	ck_refused("\"\xe2\x82\"", "invalid UTF-8");         /* cut short */
	ck_refused("\"\xc3\x28\"", "invalid UTF-8");
	ck_refused("{\"\xff\":1}", "invalid UTF-8");         /* in a key too */
	/* The largest and smallest of each length pass. */
	jsonparse_free(tree("\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xef\xbf\xbf\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\""));
}
END_TEST

START_TEST(test_depth)
{
	struct jsonparse_error err;
	yajl_val v = jsonparse_tree("[[[1]]]", 7, 3, &err);
	ck_assert_ptr_nonnull(v);
	jsonparse_free(v);
	ck_assert_ptr_null(jsonparse_tree("[[[[1]]]]", 9, 3, &err));
	ck_assert_int_eq(err.status, JSONPARSE_TOO_DEEP);
	ck_assert_str_eq(err.text, "nesting deeper than 3 levels");
	ck_assert_int_eq(jsonparse_scan("{\"a\":{\"b\":{}}}", 14, 2, NULL, NULL, NULL, &err), JSONPARSE_TOO_DEEP);

	/* Far deeper than the parser's first frames, and no recursion: 100,000
	 * levels parse when the limit allows them. */
	size_t depth = 100000;
	char *deep = malloc(2 * depth + 2);
	memset(deep, '[', depth);
	deep[depth] = '7';
	memset(deep + depth + 1, ']', depth);
	v = jsonparse_tree(deep, 2 * depth + 1, UINT_MAX, &err);
	ck_assert_ptr_nonnull(v);
	yajl_val at = v;
	for (size_t i = 0; i < depth; i++) {
		ck_assert(YAJL_IS_ARRAY(at) && at->u.array.len == 1);
		at = at->u.array.values[0];
	}
	ck_assert_int_eq(YAJL_GET_INTEGER(at), 7);
	jsonparse_free(v);
	free(deep);
}
END_TEST

START_TEST(test_wide_and_long)
{
	/* More members than the parser keeps on its stack, and a string larger
	 * than the arena's first space. */
	char *json = malloc(200000);
	char *at = json;
	at += sprintf(at, "{\"list\":[");
	for (int i = 0; i < 5000; i++)
		at += sprintf(at, "%s{\"n\":%d}", i ? "," : "", i);
	at += sprintf(at, "],\"long\":\"");
	memset(at, 'x', 100000);
	at += 100000;
	at += sprintf(at, "\"}");
	yajl_val v = jsonparse_tree(json, (size_t)(at - json), 64, NULL);
	ck_assert_ptr_nonnull(v);
	yajl_val list = v->u.object.values[0];
	ck_assert_uint_eq(list->u.array.len, 5000);
	ck_assert_int_eq(YAJL_GET_INTEGER(list->u.array.values[4999]->u.object.values[0]), 4999);
	const char *text = YAJL_GET_STRING(v->u.object.values[1]);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(strlen(text), 100000);
	*at = '\0';
	yajl_val theirs = yajl_tree_parse(json, NULL, 0);
	ck_assert(tree_equal(v, theirs));
	yajl_tree_free(theirs);
	jsonparse_free(v);
	free(json);
}
END_TEST

/* ---- the scan ------------------------------------------------------------- */

struct seen {
	int count;
	char keys[8][32];
	char values[8][64]; /* each value's bytes */
	yajl_type types[8];
	char strings[8][32];
	int stop_at;
	const char *json;
};

static bool on_member(void *ctx, const struct jsonparse_member *m)
{
	struct seen *s = ctx;
	int i = s->count++;
	snprintf(s->keys[i], sizeof s->keys[i], "%s", m->key);
	snprintf(s->values[i], sizeof s->values[i], "%.*s", (int)(m->end - m->start), s->json + m->start);
	s->types[i] = m->type;
	snprintf(s->strings[i], sizeof s->strings[i], "%s", m->string ? m->string : "(none)");
	return s->count != s->stop_at;
}

START_TEST(test_scan_members)
{
	const char *json = "{ \"type\" : \"q\\\"x\", \"n\":-1.5e2,\"o\":{\"type\":[1, {}]},\"\\u0074\":true ,\"a\":[]}";
	struct seen s = { .json = json };
	yajl_type root;
	struct jsonparse_error err;
	ck_assert_int_eq(jsonparse_scan(json, strlen(json), 64, on_member, &s, &root, &err), JSONPARSE_OK);
	ck_assert_int_eq(root, yajl_t_object);
	ck_assert_int_eq(s.count, 5); /* top-level members only */
	ck_assert_str_eq(s.keys[0], "type");
	ck_assert_str_eq(s.values[0], "\"q\\\"x\"");
	ck_assert_str_eq(s.strings[0], "q\"x");
	ck_assert_int_eq(s.types[0], yajl_t_string);
	ck_assert_str_eq(s.values[1], "-1.5e2");
	ck_assert_int_eq(s.types[1], yajl_t_number);
	ck_assert_str_eq(s.strings[1], "(none)");
	ck_assert_str_eq(s.values[2], "{\"type\":[1, {}]}");
	ck_assert_int_eq(s.types[2], yajl_t_object);
	ck_assert_str_eq(s.keys[3], "t"); /* keys are decoded */
	ck_assert_int_eq(s.types[3], yajl_t_true);
	ck_assert_str_eq(s.values[4], "[]");
	ck_assert_int_eq(s.types[4], yajl_t_array);

	char decoded[16];
	ck_assert_uint_eq(jsonparse_string("\"q\\\"x\"", 6, decoded), 3);
	ck_assert_str_eq(decoded, "q\"x");
}
END_TEST

START_TEST(test_scan_roots)
{
	struct seen s = { .json = "[{\"a\":1}]" };
	yajl_type root;
	ck_assert_int_eq(jsonparse_scan(s.json, strlen(s.json), 64, on_member, &s, &root, NULL), JSONPARSE_OK);
	ck_assert_int_eq(root, yajl_t_array);
	ck_assert_int_eq(s.count, 0); /* an array's elements are no members */
	ck_assert_int_eq(jsonparse_scan("7", 1, 64, on_member, &s, &root, NULL), JSONPARSE_OK);
	ck_assert_int_eq(root, yajl_t_number);

	/* The callback stops the scan. */
	struct seen stop = { .json = "{\"a\":1,\"b\":2,\"c\":3}", .stop_at = 2 };
	struct jsonparse_error err;
	ck_assert_int_eq(jsonparse_scan(stop.json, strlen(stop.json), 64, on_member, &stop, &root, &err),
	                 JSONPARSE_STOPPED);
	ck_assert_int_eq(stop.count, 2);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("jsonparse");
	TCase *tc = tcase_create("jsonparse");
	tcase_add_test(tc, test_same_trees_as_yajl);
	tcase_add_test(tc, test_values);
	tcase_add_test(tc, test_surrogates);
	tcase_add_test(tc, test_syntax_errors);
	tcase_add_test(tc, test_bad_numbers);
	tcase_add_test(tc, test_bad_strings);
	tcase_add_test(tc, test_depth);
	tcase_add_test(tc, test_wide_and_long);
	tcase_add_test(tc, test_scan_members);
	tcase_add_test(tc, test_scan_roots);
	suite_add_tcase(s, tc);
	return s;
}
