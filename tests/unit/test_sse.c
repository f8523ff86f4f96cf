/* Unit tests for plugins/mcp/sse.c, the Server-Sent Events reader of the
 * Streamable HTTP transport: the events an MCP client must see, however
 * the bytes are split, and what it keeps for resumption. */
#include "build-config.h"

#include <check.h>

#include <stdio.h>
#include <string.h>

#include "plugins/mcp/sse.h"
#include "tests/unit/unit_suite.h"

static char events[8][256], types[8][40];
static size_t n_events;

static void on_event(void *arg, const char *type, const char *data, size_t len)
{
	(void)arg;
	ck_assert_uint_lt(n_events, 8);
	ck_assert_uint_eq(strlen(data), len);
	snprintf(types[n_events], sizeof types[0], "%s", type);
	snprintf(events[n_events++], sizeof events[0], "%s", data);
}

static void feed(struct sse *s, const char *text)
{
	sse_feed(s, text, strlen(text), on_event, NULL);
}

static void setup(void)
{
	n_events = 0;
}

START_TEST(test_one_event_and_its_id)
{
	struct sse s;
	sse_init(&s, 1024);
	feed(&s, "event: message\nid: abc-1\ndata: {\"id\":1}\n\n");
	ck_assert_uint_eq(n_events, 1);
	ck_assert_str_eq(events[0], "{\"id\":1}");
	ck_assert_str_eq(s.last_id, "abc-1");
	sse_free(&s);
}
END_TEST

START_TEST(test_split_anywhere)
{
	const char *text = "data: {\"a\":\r\ndata: 2}\r\n\r\ndata:x\n\n";
	for (size_t cut = 0; cut <= strlen(text); cut++) {
		struct sse s;
		sse_init(&s, 1024);
		n_events = 0;
		sse_feed(&s, text, cut, on_event, NULL);
		sse_feed(&s, text + cut, strlen(text) - cut, on_event, NULL);
		ck_assert_msg(n_events == 2, "cut at %zu: %zu events", cut, n_events);
		ck_assert_str_eq(events[0], "{\"a\":\n2}"); /* data lines join with LF */
		ck_assert_str_eq(events[1], "x");           /* no space after the colon is fine */
		sse_free(&s);
	}
}
END_TEST

START_TEST(test_line_ends_lf_crlf_cr)
{
	struct sse s;
	sse_init(&s, 1024);
	feed(&s, "data: a\r\rdata: b\n\ndata: c\r\n\r\n");
	ck_assert_uint_eq(n_events, 3);
	ck_assert_str_eq(events[0], "a");
	ck_assert_str_eq(events[1], "b");
	ck_assert_str_eq(events[2], "c");
	sse_free(&s);
}
END_TEST

START_TEST(test_comments_empty_and_priming_events)
{
	struct sse s;
	sse_init(&s, 1024);
	/* a keep-alive comment is nothing; an event with empty data (the
	 * reference server primes its streams so) comes out empty, and the
	 * link skips it; one with no data line at all does not come out */
	feed(&s, ": ping\n\nid: prime\ndata: \n\nid: 2\n\n");
	ck_assert_uint_eq(n_events, 1);
	ck_assert_str_eq(events[0], "");
	ck_assert_str_eq(s.last_id, "2");
	sse_free(&s);
}
END_TEST

START_TEST(test_retry)
{
	struct sse s;
	sse_init(&s, 1024);
	ck_assert_int_eq((int)s.retry_ms, -1);
	feed(&s, "retry: 1500\n\nretry: soon\n\n");
	ck_assert_int_eq((int)s.retry_ms, 1500); /* a bad value changes nothing */
	sse_free(&s);
}
END_TEST

START_TEST(test_oversized_event_is_dropped_and_counted)
{
	struct sse s;
	sse_init(&s, 16);
	feed(&s, "data: 0123456789abcdefXYZ\n\ndata: ok\n\n");
	ck_assert_uint_eq(n_events, 1);
	ck_assert_str_eq(events[0], "ok");
	ck_assert_uint_eq(s.dropped, 1);
	/* many data lines that add up past the bound */
	n_events = 0;
	feed(&s, "data: 0123456\ndata: 0123456\ndata: 0123456\n\ndata: fine\n\n");
	ck_assert_uint_eq(n_events, 1);
	ck_assert_str_eq(events[0], "fine");
	sse_free(&s);
}
END_TEST

START_TEST(test_rest_of_a_dropped_event_is_not_an_event)
{
	struct sse s;
	sse_init(&s, 16);
	feed(&s, "data: 0123456\ndata: 0123456\ndata: 0123456\ndata: {\"tail\":1}\n\ndata: next\n\n");
	ck_assert_uint_eq(n_events, 1);
	ck_assert_str_eq(events[0], "next");
	sse_free(&s);
}
END_TEST

START_TEST(test_byte_order_mark_at_the_start)
{
	const char *text = "\xEF\xBB\xBF" "data: a\n\n";
	for (size_t cut = 0; cut <= strlen(text); cut++) {
		struct sse s;
		sse_init(&s, 64);
		n_events = 0;
		sse_feed(&s, text, cut, on_event, NULL);
		sse_feed(&s, text + cut, strlen(text) - cut, on_event, NULL);
		ck_assert_msg(n_events == 1, "cut at %zu", cut);
		ck_assert_str_eq(events[0], "a");
		sse_free(&s);
	}
}
END_TEST

START_TEST(test_event_types)
{
	/* The legacy HTTP+SSE transport names its first event "endpoint";
	 * messages name "message" or nothing. A type lasts for its event only. */
	struct sse s;
	sse_init(&s, 1024);
	feed(&s, "event: endpoint\ndata: /message?sessionId=1\n\ndata: {}\n\nevent: message\ndata: {\"a\":1}\n\n");
	ck_assert_uint_eq(n_events, 3);
	ck_assert_str_eq(types[0], "endpoint");
	ck_assert_str_eq(events[0], "/message?sessionId=1");
	ck_assert_str_eq(types[1], "message");
	ck_assert_str_eq(types[2], "message");
	/* an event with a type and no data is no event; a type too long for any
	 * MCP event is reported as "?" */
	feed(&s, "event: endpoint\n\nevent: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\ndata: x\n\n");
	ck_assert_uint_eq(n_events, 4);
	ck_assert_str_eq(types[3], "?");
	sse_free(&s);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("sse");
	TCase *tc = tcase_create("events");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, test_one_event_and_its_id);
	tcase_add_test(tc, test_split_anywhere);
	tcase_add_test(tc, test_line_ends_lf_crlf_cr);
	tcase_add_test(tc, test_comments_empty_and_priming_events);
	tcase_add_test(tc, test_retry);
	tcase_add_test(tc, test_oversized_event_is_dropped_and_counted);
	tcase_add_test(tc, test_rest_of_a_dropped_event_is_not_an_event);
	tcase_add_test(tc, test_byte_order_mark_at_the_start);
	tcase_add_test(tc, test_event_types);
	suite_add_tcase(s, tc);
	return s;
}
