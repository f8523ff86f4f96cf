/* Unit tests for plugins/mcp/legacy.c, the legacy WebSocket dialect the
 * MCP client speaks for older TiDB servers: what each JSON-RPC message of
 * the client becomes on the wire (or is answered with locally), and what
 * each envelope of the server becomes for the client, ids keeping their
 * JSON type. */
#include "build-config.h"

#include <check.h>

#include <stdlib.h>
#include <string.h>

#include "core/jsontree.h"
#include "plugins/mcp/legacy.h"
#include "tests/unit/unit_suite.h"

static struct legacy lg;

static void setup(void)
{
	ck_assert_int_eq(legacy_init(&lg, "[\"execute_query\", \"discover_databases\"]", jsontree_gen), 0);
}

static void teardown(void)
{
	legacy_free(&lg);
}

/* What the client's message becomes: exactly one of envelope and answer
 * (or neither, with both expected NULL). */
static void ck_client(const char *rpc, const char *envelope, const char *answer)
{
	char *env, *ans;
	bool ok = legacy_from_client(&lg, rpc, strlen(rpc), &env, &ans);
	ck_assert(ok);
	if (envelope)
		ck_assert_msg(env && strcmp(env, envelope) == 0, "%s became %s", rpc, env ? env : "nothing");
	else
		ck_assert_msg(!env, "%s went out as %s", rpc, env);
	if (answer)
		ck_assert_msg(ans && strcmp(ans, answer) == 0, "%s was answered %s", rpc, ans ? ans : "nothing");
	else
		ck_assert_msg(!ans, "%s was answered %s", rpc, ans);
	free(env);
	free(ans);
}

static void ck_server(const char *envelope, const char *rpc)
{
	const char *why;
	char *out = legacy_from_server(&lg, envelope, strlen(envelope), &why);
	if (rpc)
		ck_assert_msg(out && strcmp(out, rpc) == 0, "%s became %s", envelope, out ? out : "nothing");
	else
		ck_assert_msg(!out, "%s became %s", envelope, out);
	free(out);
}

START_TEST(test_tools_call_becomes_a_request_for_the_tool)
{
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/call\",\"params\":{\"name\":\"execute_query\","
	          "\"arguments\":{\"query\":\"SELECT 1\"},\"_meta\":{\"progressToken\":7}}}",
	          "{\"type\":\"request\",\"request_id\":\"7\",\"method\":\"execute_query\",\"params\":{\"query\":"
	          "\"SELECT 1\"}}",
	          NULL);
	/* a negative id comes back as the same integer */
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":-5,\"method\":\"tools/call\",\"params\":{\"name\":\"execute_query\"}}",
	          "{\"type\":\"request\",\"request_id\":\"-5\",\"method\":\"execute_query\",\"params\":{}}", NULL);
	ck_server("{\"type\":\"response\",\"request_id\":\"-5\",\"payload\":[]}",
	          "{\"jsonrpc\":\"2.0\",\"id\":-5,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"[]\"}],"
	          "\"isError\":false}}");
	/* no arguments: empty params; a string id is the request_id as it is */
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":\"a-1\",\"method\":\"tools/call\",\"params\":{\"name\":\"discover_databases\"}}",
	          "{\"type\":\"request\",\"request_id\":\"a-1\",\"method\":\"discover_databases\",\"params\":{}}", NULL);
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"tools/call\",\"params\":{}}", NULL,
	          "{\"jsonrpc\":\"2.0\",\"id\":8,\"error\":{\"code\":-32602,\"message\":\"tools/call needs a tool name\"}}");
}
END_TEST

START_TEST(test_initialize_and_tools_list_are_answered_locally)
{
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{\"protocolVersion\":\"2025-11-25\"}}",
	          NULL,
	          "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{\"protocolVersion\":\"2025-11-25\",\"capabilities\":{\"tools\":{}},"
	          "\"serverInfo\":{\"name\":\"legacy WebSocket MCP server\",\"version\":\"unknown\"}}}");
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}", NULL,
	          "{\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[{\"name\":\"execute_query\",\"inputSchema\":"
	          "{\"type\":\"object\"}},{\"name\":\"discover_databases\",\"inputSchema\":{\"type\":\"object\"}}]}}");
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resources/list\"}", NULL,
	          "{\"jsonrpc\":\"2.0\",\"id\":3,\"error\":{\"code\":-32601,\"message\":\"the legacy WebSocket dialect "
	          "offers tools only\"}}");
}
END_TEST

START_TEST(test_notifications_and_answers_go_nowhere)
{
	ck_client("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", NULL, NULL);
	ck_client("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":7}}", NULL, NULL);
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}", NULL, NULL);
	ck_client("not json", NULL, NULL);
}
END_TEST

START_TEST(test_pings_are_answered_by_pongs_in_order)
{
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":10,\"method\":\"ping\"}", "{\"type\":\"ping\"}", NULL);
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":11,\"method\":\"ping\"}", "{\"type\":\"ping\"}", NULL);
	ck_server("{\"type\":\"pong\",\"timestamp\":\"x\"}", "{\"jsonrpc\":\"2.0\",\"id\":10,\"result\":{}}");
	ck_server("{\"type\":\"pong\"}", "{\"jsonrpc\":\"2.0\",\"id\":11,\"result\":{}}");
	ck_server("{\"type\":\"pong\"}", NULL); /* no ping of ours waits */
	/* A ping lost with its connection is not answered by the next one's pong. */
	ck_client("{\"jsonrpc\":\"2.0\",\"id\":12,\"method\":\"ping\"}", "{\"type\":\"ping\"}", NULL);
	legacy_reset(&lg);
	ck_server("{\"type\":\"pong\"}", NULL);
}
END_TEST

START_TEST(test_a_response_becomes_a_tool_result)
{
	ck_server("{\"type\":\"response\",\"request_id\":\"7\",\"payload\":{\"success\":true,\"data\":[{\"a\":1}]}}",
	          "{\"jsonrpc\":\"2.0\",\"id\":7,\"result\":{\"content\":[{\"type\":\"text\",\"text\":"
	          "\"{\\\"success\\\":true,\\\"data\\\":[{\\\"a\\\":1}]}\"}],\"structuredContent\":{\"success\":true,"
	          "\"data\":[{\"a\":1}]},\"isError\":false}}");
	/* "success": false is the tool's error, with the payload's message */
	ck_server("{\"type\":\"response\",\"request_id\":\"a-1\",\"payload\":{\"success\":false,\"error\":\"no such table\"}}",
	          "{\"jsonrpc\":\"2.0\",\"id\":\"a-1\",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"no such "
	          "table\"}],\"structuredContent\":{\"success\":false,\"error\":\"no such table\"},\"isError\":true}}");
	/* a payload that is no object has no structuredContent */
	ck_server("{\"type\":\"response\",\"request_id\":\"9\",\"payload\":[1,2]}",
	          "{\"jsonrpc\":\"2.0\",\"id\":9,\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"[1,2]\"}],"
	          "\"isError\":false}}");
}
END_TEST

START_TEST(test_an_error_becomes_a_jsonrpc_error)
{
	ck_server("{\"type\":\"error\",\"error_type\":\"unknown_method\",\"error\":\"Method not found: x\",\"request_id\":\"4\"}",
	          "{\"jsonrpc\":\"2.0\",\"id\":4,\"error\":{\"code\":-32602,\"message\":\"Method not found: x\","
	          "\"data\":{\"error_type\":\"unknown_method\"}}}");
	ck_server("{\"type\":\"error\",\"error_type\":\"handler_error\",\"error\":\"boom\",\"request_id\":\"5\"}",
	          "{\"jsonrpc\":\"2.0\",\"id\":5,\"error\":{\"code\":-32603,\"message\":\"boom\",\"data\":{\"error_type\":"
	          "\"handler_error\"}}}");
	/* an error for no request reaches nobody */
	const char *why = NULL;
	const char *orphan = "{\"type\":\"error\",\"error_type\":\"invalid_json\",\"error\":\"bad\"}";
	ck_assert_ptr_null(legacy_from_server(&lg, orphan, strlen(orphan), &why));
	ck_assert_str_eq(why, "an error for no request");
	/* an error whose text is not UTF-8 (yajl takes a surrogate's bytes):
	 * no reply can be written, and the reason says so, for the log */
	const char *bad = "{\"type\":\"error\",\"error\":\"\xed\xa0\x80\",\"request_id\":\"6\"}";
	ck_assert_ptr_null(legacy_from_server(&lg, bad, strlen(bad), &why));
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_nonnull(strstr(why, "not UTF-8"));
}
END_TEST

START_TEST(test_events_and_strangers_are_not_for_the_client)
{
	const char *why = NULL;
	const char *event = "{\"type\":\"event\",\"event_name\":\"server_heartbeat\",\"payload\":{}}";
	ck_assert_ptr_null(legacy_from_server(&lg, event, strlen(event), &why));
	ck_assert_ptr_null(why); /* routine: not logged */
	const char *batch = "{\"type\":\"batch_response\",\"request_id\":\"b\",\"results\":[]}";
	ck_assert_ptr_null(legacy_from_server(&lg, batch, strlen(batch), &why));
	ck_assert_ptr_nonnull(why);
	ck_assert_ptr_null(legacy_from_server(&lg, "[1]", 3, &why));
	ck_assert_ptr_nonnull(why);
}
END_TEST

START_TEST(test_tool_names_must_be_an_array_of_strings)
{
	struct legacy other;
	ck_assert_int_eq(legacy_init(&other, "{\"a\":1}", jsontree_gen), -1);
	ck_assert_int_eq(legacy_init(&other, "[\"a\", 2]", jsontree_gen), -1);
	ck_assert_int_eq(legacy_init(&other, NULL, jsontree_gen), 0);
	ck_assert_uint_eq(other.n_tools, 0);
	legacy_free(&other);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("legacy");
	TCase *tc = tcase_create("dialect");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_tools_call_becomes_a_request_for_the_tool);
	tcase_add_test(tc, test_initialize_and_tools_list_are_answered_locally);
	tcase_add_test(tc, test_notifications_and_answers_go_nowhere);
	tcase_add_test(tc, test_pings_are_answered_by_pongs_in_order);
	tcase_add_test(tc, test_a_response_becomes_a_tool_result);
	tcase_add_test(tc, test_an_error_becomes_a_jsonrpc_error);
	tcase_add_test(tc, test_events_and_strangers_are_not_for_the_client);
	tcase_add_test(tc, test_tool_names_must_be_an_array_of_strings);
	suite_add_tcase(s, tc);
	return s;
}
