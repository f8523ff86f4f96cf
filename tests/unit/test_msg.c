/* Unit tests for core/msg.c: the validating parse that extracts the routing
 * fields, the limits, correlation_id rewriting and references. */
#include "build-config.h"

#include <check.h>

#include <stdlib.h>
#include <string.h>

#include "core/msg.h"
#include "tests/unit/unit_suite.h"

#define DEFAULT_MAX_SIZE (1024 * 1024)
#define DEFAULT_MAX_DEPTH 64

static void restore_limits(void)
{
	msg_set_limits(DEFAULT_MAX_SIZE, DEFAULT_MAX_DEPTH);
}

static ab_msg *parse_str(const char *json, struct ab_parse_error *err)
{
	return msg_parse(json, strlen(json), err);
}

/* `json` must be refused with this error_type; the message must say why. */
#define ck_refused(json, len, type, why)                                                       \
	do {                                                                                   \
		struct ab_parse_error err_ = { 0 };                                            \
		ab_msg *m_ = msg_parse((json), (len), &err_);                                  \
		ck_assert_msg(m_ == NULL, "accepted: %.*s", (int)(len), (json));               \
		ck_assert_ptr_nonnull(err_.error_type);                                        \
		ck_assert_str_eq(err_.error_type, (type));                                     \
		ck_assert_msg(strstr(err_.message, (why)) != NULL,                             \
		              "message '%s' does not say '%s'", err_.message, (why));          \
	} while (0)

#define ck_refused_str(json, type, why) ck_refused((json), strlen(json), (type), (why))

/* ---- a good message ---------------------------------------------------------- */

START_TEST(test_parse_good)
{
	static const char json[] =
		"{\"type\":\"query\",\"correlation_id\":\"c-1\",\"payload\":{\"n\":[1,2.5,true,null]}}";
	struct ab_parse_error err = { 0 };
	ab_msg *m = parse_str(json, &err);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(msg_type(m), "query");
	ck_assert_str_eq(msg_correlation_id(m), "c-1");
	ck_assert_ptr_null(msg_source(m));
	size_t len = 0;
	const char *bytes = msg_json(m, &len);
	ck_assert_uint_eq(len, strlen(json));
	ck_assert_mem_eq(bytes, json, len);
	ck_assert_int_eq(bytes[len], '\0');
	ck_assert_str_eq(msg_json(m, NULL), json);
	msg_unref(m);
}
END_TEST

START_TEST(test_parse_keeps_bytes_and_whitespace)
{
	/* Not re-serialized: whitespace and key order survive. */
	static const char json[] = "  {\n  \"z\" : 1 ,\n  \"type\" : \"a\\u0062c\" }\n";
	ab_msg *m = parse_str(json, NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(msg_type(m), "abc");
	ck_assert_ptr_null(msg_correlation_id(m));
	ck_assert_str_eq(msg_json(m, NULL), json);
	msg_unref(m);
}
END_TEST

START_TEST(test_parse_not_nul_terminated_input)
{
	/* The length bounds the parse, not a NUL. */
	static const char buf[] = "{\"type\":\"a\"}GARBAGE";
	ab_msg *m = msg_parse(buf, 12, NULL);
	ck_assert_ptr_nonnull(m);
	size_t len;
	ck_assert_str_eq(msg_json(m, &len), "{\"type\":\"a\"}");
	ck_assert_uint_eq(len, 12);
	msg_unref(m);
}
END_TEST

START_TEST(test_nested_type_is_not_routing_type)
{
	ab_msg *m = parse_str("{\"payload\":{\"type\":\"inner\",\"correlation_id\":\"x\"},"
	                      "\"list\":[{\"type\":5}],\"type\":\"outer\"}",
	                      NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(msg_type(m), "outer");
	ck_assert_ptr_null(msg_correlation_id(m));
	msg_unref(m);

	/* Nested "type" keys only, none at the top: no routing type. */
	ck_refused_str("{\"payload\":{\"type\":\"inner\"}}", AB_ERR_INVALID_MESSAGE, "'type'");
	/* Nested keys of any kind may repeat. */
	m = parse_str("{\"type\":\"t\",\"a\":{\"type\":1,\"type\":2},\"b\":{\"correlation_id\":null}}", NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(msg_type(m), "t");
	msg_unref(m);
}
END_TEST

/* ---- invalid_json -------------------------------------------------------------- */

START_TEST(test_invalid_json)
{
	ck_refused_str("{", AB_ERR_INVALID_JSON, "malformed JSON");
	ck_refused_str("", AB_ERR_INVALID_JSON, "malformed JSON");
	ck_refused_str("   ", AB_ERR_INVALID_JSON, "malformed JSON");
	ck_refused_str("{\"type\":\"a\"} trailing", AB_ERR_INVALID_JSON, "malformed JSON");
	ck_refused_str("{\"type\":\"a\"}{\"type\":\"b\"}", AB_ERR_INVALID_JSON, "malformed JSON");
	/* An unterminated string after the message: yajl waits for more and its
	 * complete_parse passes it (found by fuzz/fuzz_stamp). */
	ck_refused_str("{\"type\":\"a\"} \"}", AB_ERR_INVALID_JSON, "malformed JSON: bytes after the message");
	ck_refused_str("{\"type\":\"a\"}\"", AB_ERR_INVALID_JSON, "malformed JSON: bytes after the message");
	ck_refused_str("{\"type\":\"a\",}", AB_ERR_INVALID_JSON, "malformed JSON");
	ck_refused_str("{type:\"a\"}", AB_ERR_INVALID_JSON, "malformed JSON");
	ck_refused_str("{\"type\":'a'}", AB_ERR_INVALID_JSON, "malformed JSON");
	/* Invalid UTF-8 inside strings, routing or not. */
	ck_refused_str("{\"type\":\"a\xff\"}", AB_ERR_INVALID_JSON, "malformed JSON");
	ck_refused_str("{\"type\":\"a\",\"x\":\"\xc3\x28\"}", AB_ERR_INVALID_JSON, "malformed JSON");
	ck_refused_str("{\"type\":\"a\",\"x\":\"\xe2\x82\"}", AB_ERR_INVALID_JSON, "malformed JSON");
	/* A raw NUL byte. */
	ck_refused("{\"type\":\"a\0\"}", 13, AB_ERR_INVALID_JSON, "malformed JSON");
	/* The reason is one line. */
	struct ab_parse_error err = { 0 };
	ck_assert_ptr_null(parse_str("{\"type\":", &err));
	ck_assert_ptr_null(strchr(err.message, '\n'));
}
END_TEST

START_TEST(test_valid_utf8_accepted)
{
	ab_msg *m = parse_str("{\"type\":\"caf\xc3\xa9\",\"x\":\"\xe2\x82\xac \xf0\x9f\x98\x80\"}", NULL);
	ck_assert_ptr_nonnull(m);
	ck_assert_str_eq(msg_type(m), "caf\xc3\xa9");
	msg_unref(m);
}
END_TEST

/* ---- invalid_message ----------------------------------------------------------- */

START_TEST(test_not_an_object)
{
	ck_refused_str("[{\"type\":\"a\"}]", AB_ERR_INVALID_MESSAGE, "must be a JSON object");
	ck_refused_str("[]", AB_ERR_INVALID_MESSAGE, "must be a JSON object");
	ck_refused_str("\"type\"", AB_ERR_INVALID_MESSAGE, "must be a JSON object");
	ck_refused_str("42", AB_ERR_INVALID_MESSAGE, "must be a JSON object");
	ck_refused_str("-1.5e3", AB_ERR_INVALID_MESSAGE, "must be a JSON object");
	ck_refused_str("true", AB_ERR_INVALID_MESSAGE, "must be a JSON object");
	ck_refused_str("null", AB_ERR_INVALID_MESSAGE, "must be a JSON object");
}
END_TEST

START_TEST(test_missing_type)
{
	ck_refused_str("{}", AB_ERR_INVALID_MESSAGE, "a message needs a string 'type'");
	ck_refused_str("{\"correlation_id\":\"c\"}", AB_ERR_INVALID_MESSAGE,
	               "a message needs a string 'type'");
	ck_refused_str("{\"Type\":\"a\"}", AB_ERR_INVALID_MESSAGE, "a message needs a string 'type'");
}
END_TEST

START_TEST(test_type_not_a_string)
{
	ck_refused_str("{\"type\":5}", AB_ERR_INVALID_MESSAGE, "'type' must be a string");
	ck_refused_str("{\"type\":1.5}", AB_ERR_INVALID_MESSAGE, "'type' must be a string");
	ck_refused_str("{\"type\":{\"a\":\"b\"}}", AB_ERR_INVALID_MESSAGE, "'type' must be a string");
	ck_refused_str("{\"type\":{}}", AB_ERR_INVALID_MESSAGE, "'type' must be a string");
	ck_refused_str("{\"type\":[\"a\"]}", AB_ERR_INVALID_MESSAGE, "'type' must be a string");
	ck_refused_str("{\"type\":null}", AB_ERR_INVALID_MESSAGE, "'type' must be a string");
	ck_refused_str("{\"type\":false}", AB_ERR_INVALID_MESSAGE, "'type' must be a string");
}
END_TEST

START_TEST(test_empty_type)
{
	ck_refused_str("{\"type\":\"\"}", AB_ERR_INVALID_MESSAGE, "'type' must not be empty");
}
END_TEST

START_TEST(test_correlation_id_not_a_string)
{
	ck_refused_str("{\"type\":\"a\",\"correlation_id\":7}", AB_ERR_INVALID_MESSAGE,
	               "'correlation_id' must be a string");
	ck_refused_str("{\"correlation_id\":null,\"type\":\"a\"}", AB_ERR_INVALID_MESSAGE,
	               "'correlation_id' must be a string");
	ck_refused_str("{\"type\":\"a\",\"correlation_id\":{\"id\":\"x\"}}", AB_ERR_INVALID_MESSAGE,
	               "'correlation_id' must be a string");
	ck_refused_str("{\"type\":\"a\",\"correlation_id\":[]}", AB_ERR_INVALID_MESSAGE,
	               "'correlation_id' must be a string");
}
END_TEST

START_TEST(test_duplicate_routing_keys)
{
	ck_refused_str("{\"type\":\"a\",\"type\":\"b\"}", AB_ERR_INVALID_MESSAGE, "duplicate 'type'");
	/* An escape that spells the same key is the same key. */
	ck_refused_str("{\"type\":\"a\",\"typ\\u0065\":\"b\"}", AB_ERR_INVALID_MESSAGE,
	               "duplicate 'type'");
	ck_refused_str("{\"type\":\"a\",\"correlation_id\":\"1\",\"correlation_id\":\"2\"}",
	               AB_ERR_INVALID_MESSAGE, "duplicate 'correlation_id'");
	/* Other keys may repeat. */
	ab_msg *m = parse_str("{\"type\":\"a\",\"x\":1,\"x\":2}", NULL);
	ck_assert_ptr_nonnull(m);
	msg_unref(m);
}
END_TEST

START_TEST(test_nul_in_routing_field)
{
	ck_refused_str("{\"type\":\"a\\u0000b\"}", AB_ERR_INVALID_MESSAGE, "must not contain NUL");
	ck_refused_str("{\"type\":\"a\",\"correlation_id\":\"\\u0000\"}", AB_ERR_INVALID_MESSAGE,
	               "must not contain NUL");
	ab_msg *m = parse_str("{\"type\":\"a\",\"data\":\"\\u0000\"}", NULL);
	ck_assert_ptr_nonnull(m);
	msg_unref(m);
}
END_TEST

/* ---- limits (a checked fixture restores the defaults) --------------------------- */

START_TEST(test_depth_limit)
{
	msg_set_limits(DEFAULT_MAX_SIZE, 3);
	/* The top-level object is level 1. */
	ab_msg *m = parse_str("{\"type\":\"a\",\"x\":{\"y\":[1]}}", NULL);
	ck_assert_ptr_nonnull(m);
	msg_unref(m);
	ck_refused_str("{\"type\":\"a\",\"x\":{\"y\":[[1]]}}", AB_ERR_INVALID_MESSAGE,
	               "nesting deeper than 3 levels");
	ck_refused_str("{\"type\":\"a\",\"x\":[{\"y\":{}}]}", AB_ERR_INVALID_MESSAGE,
	               "nesting deeper than 3 levels");
	/* Depth is about nesting, not the number of containers. */
	m = parse_str("{\"type\":\"a\",\"x\":{\"y\":[]},\"z\":[{}],\"w\":{\"v\":{}}}", NULL);
	ck_assert_ptr_nonnull(m);
	msg_unref(m);
}
END_TEST

START_TEST(test_default_depth_limit)
{
	/* 64 levels pass, 65 do not. */
	char deep[400];
	char *at = deep;
	at = stpcpy(at, "{\"type\":\"a\",\"x\":");
	for (int i = 0; i < 63; i++)
		*at++ = '[';
	for (int i = 0; i < 63; i++)
		*at++ = ']';
	strcpy(at, "}");
	ab_msg *m = parse_str(deep, NULL);
	ck_assert_ptr_nonnull(m);
	msg_unref(m);

	at = deep;
	at = stpcpy(at, "{\"type\":\"a\",\"x\":");
	for (int i = 0; i < 64; i++)
		*at++ = '[';
	for (int i = 0; i < 64; i++)
		*at++ = ']';
	strcpy(at, "}");
	ck_refused_str(deep, AB_ERR_INVALID_MESSAGE, "nesting deeper than 64 levels");
}
END_TEST

START_TEST(test_size_limit)
{
	static const char json[] = "{\"type\":\"a\"}"; /* 12 bytes */
	msg_set_limits(12, DEFAULT_MAX_DEPTH);
	ab_msg *m = parse_str(json, NULL);
	ck_assert_ptr_nonnull(m);
	msg_unref(m);
	msg_set_limits(11, DEFAULT_MAX_DEPTH);
	ck_refused_str(json, AB_ERR_MESSAGE_TOO_LARGE, "message of 12 bytes exceeds the limit of 11");
	/* Size comes first: even bytes that are not JSON are just too large. */
	ck_refused_str("{{{{{{{{{{{{{{{", AB_ERR_MESSAGE_TOO_LARGE, "exceeds the limit of 11");
}
END_TEST

START_TEST(test_default_size_limit)
{
	size_t len = DEFAULT_MAX_SIZE + 1;
	char *big = malloc(len + 1);
	ck_assert_ptr_nonnull(big);
	/* {"type":"a","pad":"xxxx..."} of exactly len bytes */
	static const char head[] = "{\"type\":\"a\",\"pad\":\"";
	memcpy(big, head, sizeof head - 1);
	memset(big + sizeof head - 1, 'x', len - (sizeof head - 1) - 2);
	memcpy(big + len - 2, "\"}", 3);
	ck_assert_uint_eq(strlen(big), len);
	ck_refused(big, len, AB_ERR_MESSAGE_TOO_LARGE, "exceeds the limit of 1048576");

	/* One byte shorter: exactly at the limit. */
	memmove(big + len - 3, "\"}", 3);
	ck_assert_uint_eq(strlen(big), DEFAULT_MAX_SIZE);
	ab_msg *m = msg_parse(big, DEFAULT_MAX_SIZE, NULL);
	ck_assert_ptr_nonnull(m);
	size_t got;
	msg_json(m, &got);
	ck_assert_uint_eq(got, DEFAULT_MAX_SIZE);
	msg_unref(m);
	free(big);
}
END_TEST

START_TEST(test_rewrite_ignores_limits)
{
	/* A message that passed the limits stays deliverable when the broker
	 * stamps a correlation id on it, even if that takes it past them. */
	static const char json[] = "{\"type\":\"a\"}"; /* 12 bytes */
	msg_set_limits(12, DEFAULT_MAX_DEPTH);
	ab_msg *m = parse_str(json, NULL);
	ck_assert_ptr_nonnull(m);
	ab_msg *copy = msg_with_correlation_id(m, "broker-1");
	ck_assert_ptr_nonnull(copy);
	ck_assert_str_eq(msg_json(copy, NULL), "{\"correlation_id\":\"broker-1\",\"type\":\"a\"}");
	ck_assert_str_eq(msg_correlation_id(copy), "broker-1");
	msg_unref(copy);
	msg_unref(m);

	/* Likewise when max_json_depth was lowered (a reload) in between. */
	msg_set_limits(DEFAULT_MAX_SIZE, 2);
	m = parse_str("{\"type\":\"a\",\"x\":[1]}", NULL);
	ck_assert_ptr_nonnull(m);
	msg_set_limits(DEFAULT_MAX_SIZE, 1);
	copy = msg_with_correlation_id(m, "c");
	ck_assert_ptr_nonnull(copy);
	ck_assert_str_eq(msg_json(copy, NULL), "{\"correlation_id\":\"c\",\"type\":\"a\",\"x\":[1]}");
	msg_unref(copy);
	msg_unref(m);
	/* The limits still hold for what clients send. */
	ck_refused_str("{\"type\":\"a\",\"x\":[1]}", AB_ERR_INVALID_MESSAGE, "nesting deeper than 1 levels");
}
END_TEST

/* ---- correlation_id rewriting ---------------------------------------------------- */

static void ck_rewrite(const char *in, const char *cid, const char *expect)
{
	ab_msg *m = parse_str(in, NULL);
	ck_assert_ptr_nonnull(m);
	ab_msg *copy = msg_with_correlation_id(m, cid);
	ck_assert_ptr_nonnull(copy);
	ck_assert_ptr_ne(copy, m);
	ck_assert_str_eq(msg_json(copy, NULL), expect);
	ck_assert_str_eq(msg_correlation_id(copy), cid);
	ck_assert_str_eq(msg_type(copy), msg_type(m));
	ck_assert_str_eq(msg_get_string(copy, "correlation_id"), cid);
	/* The original is untouched. */
	ck_assert_str_eq(msg_json(m, NULL), in);
	msg_unref(copy);
	msg_unref(m);
}

START_TEST(test_rewrite_replaces)
{
	ck_rewrite("{\"type\":\"q\",\"correlation_id\":\"old\",\"n\":1}", "new-id",
	           "{\"type\":\"q\",\"correlation_id\":\"new-id\",\"n\":1}");
	/* Whitespace around the old value and the other members are kept. */
	ck_rewrite("{ \"correlation_id\" :  \"a much longer old id\" , \"type\":\"q\", \"z\":[1,2] }",
	           "x", "{ \"correlation_id\" :  \"x\" , \"type\":\"q\", \"z\":[1,2] }");
	/* An old value with escapes is replaced whole. */
	ck_rewrite("{\"type\":\"q\",\"correlation_id\":\"a\\\"b\\\\\",\"last\":true}", "c",
	           "{\"type\":\"q\",\"correlation_id\":\"c\",\"last\":true}");
	/* A nested correlation_id is not the one rewritten. */
	ck_rewrite("{\"inner\":{\"correlation_id\":\"keep\"},\"type\":\"q\",\"correlation_id\":\"old\"}",
	           "new", "{\"inner\":{\"correlation_id\":\"keep\"},\"type\":\"q\",\"correlation_id\":\"new\"}");
}
END_TEST

START_TEST(test_rewrite_adds)
{
	ck_rewrite("{\"type\":\"q\",\"n\":1}", "c9", "{\"correlation_id\":\"c9\",\"type\":\"q\",\"n\":1}");
	ck_rewrite(" {\"type\":\"q\"}", "c9", " {\"correlation_id\":\"c9\",\"type\":\"q\"}");
	ck_rewrite("{\"inner\":{\"correlation_id\":\"keep\"},\"type\":\"q\"}", "n",
	           "{\"correlation_id\":\"n\",\"inner\":{\"correlation_id\":\"keep\"},\"type\":\"q\"}");
}
END_TEST

START_TEST(test_rewrite_escapes)
{
	ck_rewrite("{\"type\":\"q\",\"correlation_id\":\"old\"}", "a\"b\\c/d",
	           "{\"type\":\"q\",\"correlation_id\":\"a\\\"b\\\\c/d\"}");
	ck_rewrite("{\"type\":\"q\"}", "tab\there\nnl",
	           "{\"correlation_id\":\"tab\\there\\nnl\",\"type\":\"q\"}");
	/* Non-ASCII passes through as UTF-8; other control characters are \u escapes. */
	ck_rewrite("{\"type\":\"q\"}", "caf\xc3\xa9-\xe2\x82\xac", "{\"correlation_id\":\"caf\xc3\xa9-\xe2\x82\xac\",\"type\":\"q\"}");
	ab_msg *m = parse_str("{\"type\":\"q\"}", NULL);
	ab_msg *copy = msg_with_correlation_id(m, "\x01\x1f");
	ck_assert_ptr_nonnull(copy);
	ck_assert_str_eq(msg_correlation_id(copy), "\x01\x1f");
	ck_assert_str_eq(msg_json(copy, NULL), "{\"correlation_id\":\"\\u0001\\u001F\",\"type\":\"q\"}");
	msg_unref(copy);
	msg_unref(m);
}
END_TEST

START_TEST(test_rewrite_result_parses_again)
{
	ab_msg *m = parse_str("{\"type\":\"q\",\"correlation_id\":\"1\"}", NULL);
	ab_msg *a = msg_with_correlation_id(m, "two \"quoted\"");
	ab_msg *b = msg_with_correlation_id(a, "three");
	ck_assert_str_eq(msg_json(b, NULL), "{\"type\":\"q\",\"correlation_id\":\"three\"}");
	size_t len;
	const char *json = msg_json(a, &len);
	ab_msg *again = msg_parse(json, len, NULL);
	ck_assert_ptr_nonnull(again);
	ck_assert_str_eq(msg_correlation_id(again), "two \"quoted\"");
	msg_unref(again);
	msg_unref(b);
	msg_unref(a);
	msg_unref(m);
}
END_TEST

START_TEST(test_rewrite_copy_is_not_submitted)
{
	ab_msg *m = parse_str("{\"type\":\"q\"}", NULL);
	ck_assert(msg_mark_submitted(m, "agent_a"));
	ab_msg *copy = msg_with_correlation_id(m, "c");
	ck_assert_ptr_null(msg_source(copy));
	ck_assert(msg_mark_submitted(copy, "agent_b"));
	ck_assert_str_eq(msg_source(copy), "agent_b");
	ck_assert_str_eq(msg_source(m), "agent_a");
	msg_unref(copy);
	msg_unref(m);
}
END_TEST

/* ---- the tree ---------------------------------------------------------------- */

START_TEST(test_tree_and_get_string)
{
	ab_msg *m = parse_str("{\"type\":\"q\",\"name\":\"caf\\u00e9\",\"n\":3,\"o\":{\"name\":\"inner\"},"
	                      "\"s\":\"\"}",
	                      NULL);
	ck_assert_ptr_nonnull(m);
	yajl_val tree = msg_tree(m);
	ck_assert_ptr_nonnull(tree);
	ck_assert(YAJL_IS_OBJECT(tree));
	ck_assert_uint_eq(YAJL_GET_OBJECT(tree)->len, 5);
	ck_assert_str_eq(YAJL_GET_OBJECT(tree)->keys[1], "name");
	/* Parsed once, then the same tree. */
	ck_assert_ptr_eq(msg_tree(m), tree);

	ck_assert_str_eq(msg_get_string(m, "type"), "q");
	ck_assert_str_eq(msg_get_string(m, "name"), "caf\xc3\xa9");
	ck_assert_str_eq(msg_get_string(m, "s"), "");
	ck_assert_ptr_null(msg_get_string(m, "n"));       /* not a string */
	ck_assert_ptr_null(msg_get_string(m, "o"));       /* an object */
	ck_assert_ptr_null(msg_get_string(m, "missing"));
	ck_assert_ptr_null(msg_get_string(m, "inner"));
	msg_unref(m);
}
END_TEST

START_TEST(test_get_string_without_tree_first)
{
	ab_msg *m = parse_str("{\"type\":\"q\",\"k\":\"v\"}", NULL);
	ck_assert_str_eq(msg_get_string(m, "k"), "v");
	msg_unref(m); /* frees the tree built on the way */
}
END_TEST

/* ---- references and submission ---------------------------------------------------- */

START_TEST(test_refcount)
{
	ab_msg *m = parse_str("{\"type\":\"q\",\"k\":\"v\"}", NULL);
	ck_assert_ptr_eq(msg_ref(m), m);
	ck_assert_ptr_eq(msg_ref(m), m);
	msg_tree(m);
	msg_unref(m);
	msg_unref(m);
	/* One reference left: still readable. */
	ck_assert_str_eq(msg_type(m), "q");
	ck_assert_str_eq(msg_get_string(m, "k"), "v");
	msg_unref(m); /* the last: ASan reports a leak or a use after free */
	msg_unref(NULL);
}
END_TEST

START_TEST(test_mark_submitted_once)
{
	ab_msg *m = parse_str("{\"type\":\"q\"}", NULL);
	ck_assert_ptr_null(msg_source(m));
	char source[] = "frontend_1";
	ck_assert(msg_mark_submitted(m, source));
	ck_assert_str_eq(msg_source(m), "frontend_1");
	/* The source is copied. */
	source[0] = 'X';
	ck_assert_str_eq(msg_source(m), "frontend_1");
	ck_assert(!msg_mark_submitted(m, "other"));
	ck_assert_str_eq(msg_source(m), "frontend_1");
	msg_unref(m);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("msg");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_parse_good);
	tcase_add_test(tc, test_parse_keeps_bytes_and_whitespace);
	tcase_add_test(tc, test_parse_not_nul_terminated_input);
	tcase_add_test(tc, test_nested_type_is_not_routing_type);
	tcase_add_test(tc, test_invalid_json);
	tcase_add_test(tc, test_valid_utf8_accepted);
	tcase_add_test(tc, test_not_an_object);
	tcase_add_test(tc, test_missing_type);
	tcase_add_test(tc, test_type_not_a_string);
	tcase_add_test(tc, test_empty_type);
	tcase_add_test(tc, test_correlation_id_not_a_string);
	tcase_add_test(tc, test_duplicate_routing_keys);
	tcase_add_test(tc, test_nul_in_routing_field);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_checked_fixture(tc, restore_limits, restore_limits);
	tcase_add_test(tc, test_depth_limit);
	tcase_add_test(tc, test_default_depth_limit);
	tcase_add_test(tc, test_size_limit);
	tcase_add_test(tc, test_default_size_limit);
	tcase_add_test(tc, test_rewrite_ignores_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("rewrite");
	tcase_add_test(tc, test_rewrite_replaces);
	tcase_add_test(tc, test_rewrite_adds);
	tcase_add_test(tc, test_rewrite_escapes);
	tcase_add_test(tc, test_rewrite_result_parses_again);
	tcase_add_test(tc, test_rewrite_copy_is_not_submitted);
	suite_add_tcase(s, tc);

	tc = tcase_create("access");
	tcase_add_test(tc, test_tree_and_get_string);
	tcase_add_test(tc, test_get_string_without_tree_first);
	tcase_add_test(tc, test_refcount);
	tcase_add_test(tc, test_mark_submitted_once);
	suite_add_tcase(s, tc);
	return s;
}
