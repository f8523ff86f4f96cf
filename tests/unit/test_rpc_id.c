/* Unit tests for plugins/websocket/rpc_id.c: a JSON-RPC id to the
 * correlation id it travels under and back, its JSON type kept. */
#include "build-config.h"

#include <check.h>

#include <string.h>

#include "plugins/websocket/rpc_id.h"
#include "tests/unit/unit_suite.h"

/* The id written back from cid, as JSON text. */
static void ck_gen(const char *cid, const char *json)
{
	ab_json *g = ab_json_new();
	rpc_id_gen(g, cid);
	size_t len;
	const char *buf = ab_json_output(g, &len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_msg(len == strlen(json) && memcmp(buf, json, len) == 0, "%s gave %.*s", cid ? cid : "NULL",
	              (int)len, buf);
	ab_json_free(g);
}

static void ck_round_trip(const char *id_json, const char *cid)
{
	yajl_val id = yajl_tree_parse(id_json, NULL, 0);
	char out[RPC_ID_MAX + 3];
	ck_assert(rpc_id_encode(id, out, sizeof out));
	ck_assert_str_eq(out, cid);
	ck_gen(out, id_json);
	yajl_tree_free(id);
}

START_TEST(test_ids_keep_their_type)
{
	ck_round_trip("17", "n:17");
	ck_round_trip("-3", "n:-3");
	ck_round_trip("0", "n:0");
	ck_round_trip("\"17\"", "s:17");
	ck_round_trip("\"\"", "s:");
	ck_round_trip("\"a:b\\\"c\"", "s:a:b\"c");
}
END_TEST

START_TEST(test_ids_requests_may_not_have)
{
	static const char *const bad[] = { "null", "1.5", "{}", "[1]", "true" };
	char out[RPC_ID_MAX + 3];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		yajl_val id = yajl_tree_parse(bad[i], NULL, 0);
		ck_assert_msg(!rpc_id_encode(id, out, sizeof out), "took %s", bad[i]);
		yajl_tree_free(id);
	}
	char long_id[RPC_ID_MAX + 4];
	memset(long_id, 'x', sizeof long_id);
	long_id[0] = '"';
	long_id[RPC_ID_MAX + 2] = '"';
	long_id[RPC_ID_MAX + 3] = '\0';
	yajl_val id = yajl_tree_parse(long_id, NULL, 0);
	ck_assert(!rpc_id_encode(id, out, sizeof out));
	yajl_tree_free(id);
}
END_TEST

START_TEST(test_a_cid_of_no_id_writes_null)
{
	ck_gen(NULL, "null");
	ck_gen("n:", "null");
	ck_gen("n:12x", "null");
	ck_gen("q", "null");
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("rpc_id");
	TCase *tc = tcase_create("ids");
	tcase_add_test(tc, test_ids_keep_their_type);
	tcase_add_test(tc, test_ids_requests_may_not_have);
	tcase_add_test(tc, test_a_cid_of_no_id_writes_null);
	suite_add_tcase(s, tc);
	return s;
}
