/* Unit tests for core/jsontree.c: jsontree_gen_template (services->
 * gen_template), filling a JSON template's "$" and "$.a.b" references from
 * a root value; and jsontree_raw (services->json_raw), a member's bytes
 * found without a tree. */
#include "build-config.h"

#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

#include "core/jsontree.h"
#include "tests/unit/unit_suite.h"

static yajl_val parse(const char *json)
{
	char err[256] = "";
	yajl_val v = yajl_tree_parse(json, err, sizeof err);
	ck_assert_msg(v != NULL, "test JSON '%s' does not parse: %s", json, err);
	return v;
}

/* The template `tmpl` filled from `root` (root_json NULL: no root at all),
 * as compact JSON text; the caller frees it. */
static char *fill(const char *tmpl_json, const char *root_json)
{
	yajl_val tmpl = parse(tmpl_json);
	yajl_val root = root_json ? parse(root_json) : NULL;
	ab_json *g = ab_json_new();
	ck_assert_ptr_nonnull(g);
	jsontree_gen_template(g, tmpl, root);
	const char *buf = NULL;
	size_t len = 0;
	buf = ab_json_output(g, &len);
	ck_assert_ptr_nonnull(buf);
	char *out = strndup(buf, len);
	ck_assert_ptr_nonnull(out);
	ab_json_free(g);
	yajl_tree_free(tmpl);
	yajl_tree_free(root);
	return out;
}

/* Filling tmpl from root must write exactly `expect`. */
#define ck_fills(tmpl, root, expect)                                                    \
	do {                                                                            \
		char *got_ = fill((tmpl), (root));                                      \
		ck_assert_msg(strcmp(got_, (expect)) == 0,                              \
		              "%s filled from %s wrote %s, expected %s", (tmpl),        \
		              (root) ? (root) : "(no root)", got_, (expect));           \
		free(got_);                                                             \
	} while (0)

/* A key of `len` 'k's; the caller frees it. */
static char *long_key(size_t len)
{
	char *key = malloc(len + 1);
	ck_assert_ptr_nonnull(key);
	memset(key, 'k', len);
	key[len] = '\0';
	return key;
}

/* ---- references ---------------------------------------------------------------- */

START_TEST(test_documented_example)
{
	/* The example of services.h. */
	ck_fills("{\"sql_stmt\": \"$.query\", \"limit\": 100}", "{\"query\": \"SELECT 1\"}",
	         "{\"sql_stmt\":\"SELECT 1\",\"limit\":100}");
}
END_TEST

START_TEST(test_dollar_alone_is_the_whole_root)
{
	ck_fills("\"$\"", "{\"a\": 1, \"b\": [true]}", "{\"a\":1,\"b\":[true]}");
	ck_fills("{\"request\": \"$\"}", "{\"a\": 1}", "{\"request\":{\"a\":1}}");
	ck_fills("[\"$\", \"$\"]", "7", "[7,7]");
}
END_TEST

START_TEST(test_dotted_path_reaches_nested_members)
{
	ck_fills("\"$.a.b.c\"", "{\"a\": {\"b\": {\"c\": \"deep\"}}}", "\"deep\"");
	ck_fills("{\"x\": \"$.a.b\"}", "{\"a\": {\"b\": 2, \"c\": 3}}", "{\"x\":2}");
}
END_TEST

START_TEST(test_reference_to_an_object_copies_it_whole)
{
	ck_fills("{\"user\": \"$.user\"}",
	         "{\"user\": {\"name\": \"ann\", \"roles\": [\"admin\", {\"since\": 2020}]}}",
	         "{\"user\":{\"name\":\"ann\",\"roles\":[\"admin\",{\"since\":2020}]}}");
}
END_TEST

START_TEST(test_reference_to_an_array_copies_it_whole)
{
	ck_fills("{\"ids\": \"$.ids\"}", "{\"ids\": [1, [2, 3], {}, []]}",
	         "{\"ids\":[1,[2,3],{},[]]}");
}
END_TEST

START_TEST(test_references_inside_copied_data_are_not_resolved)
{
	/* What comes from root is data, not template: a "$.secret" in it stays text. */
	ck_fills("{\"note\": \"$.note\", \"obj\": \"$.obj\"}",
	         "{\"note\": \"$.secret\", \"obj\": {\"k\": \"$\"}, \"secret\": \"s3cr3t\"}",
	         "{\"note\":\"$.secret\",\"obj\":{\"k\":\"$\"}}");
}
END_TEST

START_TEST(test_member_that_is_json_null_is_kept)
{
	/* Present but null is not absent. */
	ck_fills("{\"a\": \"$.a\"}", "{\"a\": null}", "{\"a\":null}");
	ck_fills("[\"$.a\"]", "{\"a\": null}", "[null]");
}
END_TEST

START_TEST(test_referenced_values_of_every_type)
{
	ck_fills("[\"$.s\", \"$.t\", \"$.f\", \"$.i\", \"$.d\"]",
	         "{\"s\": \"text\", \"t\": true, \"f\": false, \"i\": -3, \"d\": 0.25}",
	         "[\"text\",true,false,-3,0.25]");
}
END_TEST

START_TEST(test_referenced_number_keeps_its_text)
{
	ck_fills("[\"$.price\", \"$.big\", \"$.exp\"]",
	         "{\"price\": 1.10, \"big\": 123456789012345678901234567890, \"exp\": 1E+2}",
	         "[1.10,123456789012345678901234567890,1E+2]");
}
END_TEST

START_TEST(test_string_escapes_survive)
{
	ck_fills("{\"q\": \"$.q\", \"lit\": \"tab\\there \\\"quoted\\\"\"}",
	         "{\"q\": \"line\\nbreak \\u00e9\"}",
	         "{\"q\":\"line\\nbreak \xc3\xa9\",\"lit\":\"tab\\there \\\"quoted\\\"\"}");
}
END_TEST

/* ---- absent references ----------------------------------------------------------- */

START_TEST(test_member_with_absent_source_is_left_out)
{
	ck_fills("{\"a\": \"$.a\", \"b\": \"$.missing\", \"c\": 3}", "{\"a\": 1}", "{\"a\":1,\"c\":3}");
}
END_TEST

START_TEST(test_object_with_every_source_absent_is_empty)
{
	ck_fills("{\"a\": \"$.x\", \"b\": \"$.y\"}", "{}", "{}");
}
END_TEST

START_TEST(test_array_element_with_absent_source_is_left_out)
{
	ck_fills("[\"$.a\", \"$.nope\", \"$.b\", \"$.nope.deeper\", 9]", "{\"a\": 1, \"b\": 2}",
	         "[1,2,9]");
}
END_TEST

START_TEST(test_absent_reference_at_the_top_writes_null)
{
	ck_fills("\"$.missing\"", "{\"a\": 1}", "null");
}
END_TEST

START_TEST(test_no_root_at_all)
{
	ck_fills("\"$\"", NULL, "null");
	ck_fills("\"$.a\"", NULL, "null");
	ck_fills("{\"all\": \"$\", \"a\": \"$.a\", \"k\": 1}", NULL, "{\"k\":1}");
}
END_TEST

START_TEST(test_path_through_a_non_object_is_absent)
{
	ck_fills("{\"x\": \"$.a.b\"}", "{\"a\": 5}", "{}");
	ck_fills("{\"x\": \"$.a.b\"}", "{\"a\": \"str\"}", "{}");
	ck_fills("{\"x\": \"$.a.b\"}", "{\"a\": null}", "{}");
	/* No array indexing: "0" is not a member of an array. */
	ck_fills("{\"x\": \"$.a.0\"}", "{\"a\": [\"first\"]}", "{}");
	/* A root that is not an object has no members. */
	ck_fills("{\"x\": \"$.a\"}", "[{\"a\": 1}]", "{}");
}
END_TEST

START_TEST(test_empty_path_segment_is_absent)
{
	ck_fills("{\"x\": \"$.a..b\"}", "{\"a\": {\"b\": 1, \"\": {\"b\": 2}}}", "{}");
	ck_fills("{\"x\": \"$..a\"}", "{\"a\": 1, \"\": {\"a\": 2}}", "{}");
}
END_TEST

START_TEST(test_trailing_dot_is_absent)
{
	/* "$.a." ends in an empty segment: absent like "$.a..b", not "$.a". */
	ck_fills("{\"x\": \"$.a.\"}", "{\"a\": 1}", "{}");
	/* "$." has only an empty segment: absent, not the root ("$" is). */
	ck_fills("{\"x\": \"$.\"}", "{\"a\": 1}", "{}");
}
END_TEST

START_TEST(test_long_key_segment_up_to_255_bytes_is_found)
{
	char *key = long_key(255);
	char *tmpl = NULL, *root = NULL;
	ck_assert_int_ge(asprintf(&tmpl, "{\"x\": \"$.%s\"}", key), 0);
	ck_assert_int_ge(asprintf(&root, "{\"%s\": 1}", key), 0);
	ck_fills(tmpl, root, "{\"x\":1}");
	free(tmpl);
	free(root);
	free(key);
}
END_TEST

START_TEST(test_key_segment_over_255_bytes_is_absent)
{
	/* Longer segments are not looked up (and do not overflow the lookup's
	 * buffer: the ASan build checks), even when root has such a key. */
	static const size_t lengths[] = { 256, 257, 1000, 5000 };
	for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
		char *key = long_key(lengths[i]);
		char *tmpl = NULL, *root = NULL;
		ck_assert_int_ge(asprintf(&tmpl, "{\"x\": \"$.%s\", \"y\": \"$.a.%s.b\", \"z\": 0}", key, key),
		                 0);
		ck_assert_int_ge(asprintf(&root, "{\"%s\": 1, \"a\": {\"%s\": {\"b\": 2}}}", key, key), 0);
		ck_fills(tmpl, root, "{\"z\":0}");
		free(tmpl);
		free(root);
		free(key);
	}
}
END_TEST

/* ---- what is copied as it is ------------------------------------------------------ */

START_TEST(test_dollar_strings_that_are_not_references_are_copied)
{
	ck_fills("[\"$x\", \"price $5\", \"$$\", \"x$.a\", \" $.a\", \"\", \"$a.b\"]",
	         "{\"a\": 1, \"x\": 2, \"a.b\": 3}",
	         "[\"$x\",\"price $5\",\"$$\",\"x$.a\",\" $.a\",\"\",\"$a.b\"]");
}
END_TEST

START_TEST(test_non_reference_string_at_the_top_is_copied)
{
	ck_fills("\"price $5\"", "{}", "\"price $5\"");
}
END_TEST

START_TEST(test_keys_are_never_references)
{
	ck_fills("{\"$.a\": \"$.a\", \"$\": 1}", "{\"a\": \"v\"}", "{\"$.a\":\"v\",\"$\":1}");
}
END_TEST

START_TEST(test_literals_are_copied)
{
	ck_fills("[true, false, null, \"text\", -0, 3.14159, {}, []]", "{}",
	         "[true,false,null,\"text\",-0,3.14159,{},[]]");
}
END_TEST

START_TEST(test_literal_numbers_keep_their_text)
{
	ck_fills("{\"a\": 1.50, \"b\": 1e400, \"c\": 18446744073709551616, \"d\": -0.0}", "{}",
	         "{\"a\":1.50,\"b\":1e400,\"c\":18446744073709551616,\"d\":-0.0}");
}
END_TEST

START_TEST(test_scalar_template_at_the_top_is_copied)
{
	ck_fills("42", "{}", "42");
	ck_fills("null", "{}", "null");
	ck_fills("true", "{}", "true");
}
END_TEST

START_TEST(test_member_order_is_kept)
{
	ck_fills("{\"z\": 1, \"a\": \"$.a\", \"m\": 2}", "{\"a\": 0}", "{\"z\":1,\"a\":0,\"m\":2}");
}
END_TEST

/* ---- nesting --------------------------------------------------------------------- */

START_TEST(test_references_in_nested_objects_are_resolved)
{
	ck_fills("{\"outer\": {\"inner\": {\"v\": \"$.v\", \"gone\": \"$.nope\"}, \"k\": \"lit\"}}",
	         "{\"v\": 5}", "{\"outer\":{\"inner\":{\"v\":5},\"k\":\"lit\"}}");
}
END_TEST

START_TEST(test_references_in_nested_arrays_are_resolved)
{
	ck_fills("[[\"$.a\", [\"$.b\", \"$.nope\"]], {\"l\": [\"$.a\"]}]", "{\"a\": 1, \"b\": 2}",
	         "[[1,[2]],{\"l\":[1]}]");
}
END_TEST

START_TEST(test_nested_containers_with_every_source_absent_stay_empty)
{
	/* The container itself is a literal, so it stays; only its members go. */
	ck_fills("{\"o\": {\"a\": \"$.x\"}, \"l\": [\"$.y\"]}", "{}", "{\"o\":{},\"l\":[]}");
}
END_TEST

START_TEST(test_tool_call_arguments_shape)
{
	/* The way query_mcp fills its arguments from a request. */
	ck_fills("{\"sql\": \"$.query\", \"params\": [\"$.p1\", \"$.p2\"], "
	         "\"opts\": {\"db\": \"$.ctx.database\", \"limit\": 100, \"tag\": \"price $5\"}}",
	         "{\"query\": \"SELECT ?\", \"p1\": 7, \"ctx\": {\"database\": \"main\"}}",
	         "{\"sql\":\"SELECT ?\",\"params\":[7],"
	         "\"opts\":{\"db\":\"main\",\"limit\":100,\"tag\":\"price $5\"}}");
}
END_TEST

/* ---- jsontree_path (services->tree_path) ---------------------------------------- */

START_TEST(test_path_names_what_a_template_reference_would)
{
	yajl_val root = parse("{\"data\":[1,2],\"a\":{\"b\":\"x\"}}");
	ck_assert_ptr_eq(jsontree_path(root, "$"), root);
	yajl_val data = jsontree_path(root, "$.data");
	ck_assert(YAJL_IS_ARRAY(data) && data->u.array.len == 2);
	ck_assert_str_eq(YAJL_GET_STRING(jsontree_path(root, "$.a.b")), "x");
	ck_assert_ptr_null(jsontree_path(root, "$.nothing"));
	ck_assert_ptr_null(jsontree_path(root, "$.a.b.c"));
	ck_assert_ptr_null(jsontree_path(root, "data"));  /* no reference */
	ck_assert_ptr_null(jsontree_path(root, "$data")); /* nor this */
	ck_assert_ptr_null(jsontree_path(root, "$."));
	ck_assert_ptr_null(jsontree_path(NULL, "$.data"));
	yajl_tree_free(root);
}
END_TEST

/* ---- json_raw: a member's bytes, without a tree --------------------------- */

static char *raw(const char *json, const char *ref)
{
	size_t len = 0;
	const char *at = jsontree_raw(json, strlen(json), ref, &len);
	return at ? strndup(at, len) : NULL;
}

#define ck_raw(json, ref, expected)                                   \
	do {                                                          \
		char *got_ = raw(json, ref);                          \
		ck_assert_ptr_nonnull(got_);                          \
		ck_assert_str_eq(got_, expected);                     \
		free(got_);                                           \
	} while (0)

START_TEST(test_raw_members)
{
	const char *json = "{\"a\": { \"b\" : [1, {\"c\":2}] ,\"s\":\"x\\\"y\"}, \"n\":-1.5 ,\"a\":0}";
	ck_raw(json, "$", json);
	ck_raw(json, "$.a", "{ \"b\" : [1, {\"c\":2}] ,\"s\":\"x\\\"y\"}"); /* the first of two */
	ck_raw(json, "$.a.b", "[1, {\"c\":2}]");
	ck_raw(json, "$.a.s", "\"x\\\"y\"");
	ck_raw(json, "$.n", "-1.5");
	ck_raw("{\"\\u0061\":true}", "$.a", "true"); /* keys compare decoded */
	/* ... and as C strings, as the tree's lookup has them: the same member. */
	ck_raw("{\"a\\u0000\":{\"x\":1},\"a\":{}}", "$.a", "{\"x\":1}");
	ck_assert_ptr_null(raw(json, "$.missing"));
	ck_assert_ptr_null(raw(json, "$.a.b.c")); /* an array has no members */
	ck_assert_ptr_null(raw(json, "$.n.x"));
	ck_assert_ptr_null(raw(json, "$..a"));
	ck_assert_ptr_null(raw(json, "$.a."));
	ck_assert_ptr_null(raw(json, "a"));
	ck_assert_ptr_null(raw("[{\"a\":1}]", "$.a"));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("jsontree");
	TCase *tc = tcase_create("references");
	tcase_add_test(tc, test_documented_example);
	tcase_add_test(tc, test_dollar_alone_is_the_whole_root);
	tcase_add_test(tc, test_dotted_path_reaches_nested_members);
	tcase_add_test(tc, test_reference_to_an_object_copies_it_whole);
	tcase_add_test(tc, test_reference_to_an_array_copies_it_whole);
	tcase_add_test(tc, test_references_inside_copied_data_are_not_resolved);
	tcase_add_test(tc, test_member_that_is_json_null_is_kept);
	tcase_add_test(tc, test_referenced_values_of_every_type);
	tcase_add_test(tc, test_referenced_number_keeps_its_text);
	tcase_add_test(tc, test_string_escapes_survive);
	tcase_add_test(tc, test_raw_members);
	suite_add_tcase(s, tc);

	tc = tcase_create("absent");
	tcase_add_test(tc, test_member_with_absent_source_is_left_out);
	tcase_add_test(tc, test_object_with_every_source_absent_is_empty);
	tcase_add_test(tc, test_array_element_with_absent_source_is_left_out);
	tcase_add_test(tc, test_absent_reference_at_the_top_writes_null);
	tcase_add_test(tc, test_no_root_at_all);
	tcase_add_test(tc, test_path_through_a_non_object_is_absent);
	tcase_add_test(tc, test_empty_path_segment_is_absent);
	tcase_add_test(tc, test_trailing_dot_is_absent);
	tcase_add_test(tc, test_long_key_segment_up_to_255_bytes_is_found);
	tcase_add_test(tc, test_key_segment_over_255_bytes_is_absent);
	suite_add_tcase(s, tc);

	tc = tcase_create("paths");
	tcase_add_test(tc, test_path_names_what_a_template_reference_would);
	suite_add_tcase(s, tc);

	tc = tcase_create("literals");
	tcase_add_test(tc, test_dollar_strings_that_are_not_references_are_copied);
	tcase_add_test(tc, test_non_reference_string_at_the_top_is_copied);
	tcase_add_test(tc, test_keys_are_never_references);
	tcase_add_test(tc, test_literals_are_copied);
	tcase_add_test(tc, test_literal_numbers_keep_their_text);
	tcase_add_test(tc, test_scalar_template_at_the_top_is_copied);
	tcase_add_test(tc, test_member_order_is_kept);
	suite_add_tcase(s, tc);

	tc = tcase_create("nesting");
	tcase_add_test(tc, test_references_in_nested_objects_are_resolved);
	tcase_add_test(tc, test_references_in_nested_arrays_are_resolved);
	tcase_add_test(tc, test_nested_containers_with_every_source_absent_stay_empty);
	tcase_add_test(tc, test_tool_call_arguments_shape);
	suite_add_tcase(s, tc);
	return s;
}
