/* The router: routing by route, replies by correlation id, interim replies,
 * timeouts, the hold window and its bounded queue, agents that vanish,
 * translators both ways, and no re-entrant delivery. Two fake transports
 * play the frontend side (A) and the upstream side (B). */
#include "build-config.h"

#include <check.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "core/config.h"
#include "core/msg.h"
#include "core/router.h"
#include "core/routes.h"
#include "tests/unit/fake_transport.h"
#include "tests/unit/unit_suite.h"

static struct event_base *base;
static struct router *router;
static struct fake A, B;
static struct route_table *table;
static struct ab_instance translator;

static const char *const ROUTES =
	"[route:query]\n"
	"source = front_*\n"
	"type = query\n"
	"destination = up_1\n"
	"interim = query_progress\n"
	"error_reply = query_error\n"
	"timeout = 200ms\n"
	"[route:pattern]\n"
	"source = front_*\n"
	"type = tools_*\n"
	"destination = pool_*\n"
	"[route:shadowed]\n"
	"source = front_1\n"
	"type = query\n"
	"destination = up_2\n"
	"[route:translated]\n"
	"source = front_*\n"
	"type = ask\n"
	"destination = up_1\n"
	"translator = tr\n"
	"interim = ask_started\n"
	"error_reply = ask_error\n"
	"[route:translated_quick]\n"
	"source = front_*\n"
	"type = ask_quick\n"
	"destination = up_1\n"
	"translator = tr\n"
	"interim = ask_started\n"
	"error_reply = ask_error\n"
	"timeout = 400ms\n"
	/* Exclusive routes: one request at a time per destination. xq and
	 * xq_quick differ in their deadlines only; xq2 goes to another
	 * destination; xask is translated. */
	"[route:exclusive]\n"
	"source = front_*\n"
	"type = xq\n"
	"destination = up_1\n"
	"interim = xq_progress\n"
	"error_reply = xq_error\n"
	"timeout = 2s\n"
	"exclusive = true\n"
	"[route:exclusive_quick]\n"
	"source = front_*\n"
	"type = xq_quick\n"
	"destination = up_1\n"
	"error_reply = xq_error\n"
	"timeout = 150ms\n"
	"exclusive = true\n"
	"[route:exclusive_elsewhere]\n"
	"source = front_*\n"
	"type = xq2\n"
	"destination = up_2\n"
	"error_reply = xq_error\n"
	"timeout = 2s\n"
	"exclusive = true\n"
	"[route:exclusive_translated]\n"
	"source = front_*\n"
	"type = xask\n"
	"destination = up_1\n"
	"translator = tr\n"
	"interim = ask_started\n"
	"error_reply = ask_error\n"
	"timeout = 2s\n"
	"exclusive = true\n";

/* ---- a translator in process: ask -> tool_call, replies -> ask_response,
 * with an interim ask_started first; payload "fail" fails it. Payload
 * "two_legs": the answer to the first tool_call is translated into a second
 * one (show_tables), whose answer becomes the ask_response; payload
 * "forward_and_reply": the first answer is translated into both a second
 * tool_call and the final ask_response. Every call's translation_step and
 * direction is recorded. */

#define TR_MAX_CALLS 16
static unsigned tr_steps[TR_MAX_CALLS];
static bool tr_is_reply[TR_MAX_CALLS];
static size_t tr_calls;

static ab_msg *make(const char *json)
{
	ab_msg *m = msg_parse(json, strlen(json), NULL);
	ck_assert_msg(m != NULL, "test message does not parse: %s", json);
	return m;
}

static int tr_translate(void *state, ab_translation *t)
{
	ab_msg *in = router_translation_input(t);
	if (tr_calls < TR_MAX_CALLS) {
		tr_steps[tr_calls] = router_translation_step(t);
		tr_is_reply[tr_calls] = router_translation_is_reply(t);
	}
	tr_calls++;
	const char *mode = msg_get_string(router_translation_request(t), "payload");
	if (router_translation_is_reply(t) && router_translation_step(t) == 1 && mode &&
	    (strcmp(mode, "two_legs") == 0 || strcmp(mode, "forward_and_reply") == 0)) {
		ab_msg *next = make("{\"type\":\"tool_call\",\"name\":\"show_tables\"}");
		ck_assert_int_eq(router_translation_forward(t, next), 0);
		ck_assert_int_eq(router_translation_forward(t, next), -EINVAL); /* once per translation */
		msg_unref(next);
		if (strcmp(mode, "two_legs") == 0)
			return 0;
	}
	if (router_translation_is_reply(t)) {
		ab_msg *out = make("{\"type\":\"ask_response\",\"answer\":42}");
		router_translation_reply(t, out);
		msg_unref(out);
		return 0;
	}
	const char *payload = msg_get_string(in, "payload");
	if (payload && strcmp(payload, "fail") == 0)
		return router_translation_fail(t, "tool_error", "the tool said no");
	if (payload && strcmp(payload, "crash") == 0)
		return -1;
	ab_msg *started = make("{\"type\":\"ask_started\"}");
	router_translation_reply(t, started);
	msg_unref(started);
	ab_msg *call = make("{\"type\":\"tool_call\",\"name\":\"db_query\"}");
	router_translation_forward(t, call);
	msg_unref(call);
	return 0;
}

static struct ab_instance *find_tr(const char *name, void *arg)
{
	return strcmp(name, "tr") == 0 ? &translator : NULL;
}

static void setup(void)
{
	tr_calls = 0;
	base = event_base_new();
	router = router_new(base, "agentbus_test");
	struct router_settings s = { .hold_window_ms = 300, .hold_max = 2 };
	router_configure(router, &s);
	fake_init(&A, "A");
	fake_init(&B, "B");
	static const struct ab_plugin tr_plugin = { .kind = AB_PLUGIN_TRANSLATOR, .name = "tr" };
	translator = (struct ab_instance){ .name = "tr", .plugin = &tr_plugin };
	translator.ops.translate = tr_translate;
	struct diag d = { 0 };
	struct config *cfg = config_load_string("routes.ini", ROUTES, &d);
	table = routes_compile(cfg, 30000, find_tr, NULL, &d);
	ck_assert_msg(table && d.count == 0, "routes: %s", d.count ? d.lines[0] : "?");
	config_unref(cfg);
	router_set_routes(router, table);
	ck_assert_int_eq(router_register(router, &A.inst, "front_1", NULL), 0);
	ck_assert_int_eq(router_register(router, &A.inst, "front_2", NULL), 0);
}

static void teardown(void)
{
	router_free(router);
	routes_unref(table);
	event_base_free(base);
	fake_clear(&A);
	fake_clear(&B);
	free(A.inst.name);
	free(B.inst.name);
}

/* Run the loop until nothing is ready. */
static void drain(void)
{
	for (int i = 0; i < 8; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
}

static void run_for_ms(int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	drain();
}

static void send_from(struct fake *f, const char *agent, const char *json)
{
	ab_msg *m = make(json);
	ck_assert_int_eq(router_submit(router, &f->inst, agent, m), 0);
	msg_unref(m);
}

static size_t in_flight(void)
{
	struct router_stats st;
	router_stats(router, &st);
	return st.in_flight;
}

START_TEST(no_route_answers_the_sender)
{
	send_from(&A, "front_1", "{\"type\":\"nonsense\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].agent, "front_1");
	ck_assert_uint_eq(A.got[0].flags, AB_DELIVER_REPLY);
	ck_assert_str_eq(A.got[0].type, "error");
	ck_assert_str_eq(A.got[0].cid, "c1");
	ck_assert_str_eq(fake_error_type(&A, 0), "no_route");
	ck_assert_str_eq(fake_error_message(&A, 0), "no route for type 'nonsense' from front_1");
	ck_assert_ptr_nonnull(fake_field(&A, 0, "timestamp"));
}
END_TEST

START_TEST(request_and_reply_pass_through_untouched)
{
	router_register(router, &B.inst, "up_1", NULL);
	const char *q = "{\"type\":\"query\", \"correlation_id\":\"c1\",\"query\":\"SELECT 1\"}";
	send_from(&A, "front_2", q);
	drain();
	ck_assert_uint_eq(B.n, 1);
	ck_assert_str_eq(B.got[0].agent, "up_1");
	ck_assert_uint_eq(B.got[0].flags, AB_DELIVER_REQUEST);
	ck_assert_str_eq(B.got[0].json, q); /* bytes untouched */
	ck_assert_uint_eq(in_flight(), 1);

	const char *r = "{\"type\":\"query_response\",\"correlation_id\":\"c1\",\"rows\":[1]}";
	send_from(&B, "up_1", r);
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].agent, "front_2");
	ck_assert_uint_eq(A.got[0].flags, AB_DELIVER_REPLY);
	ck_assert_str_eq(A.got[0].json, r);
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(first_matching_route_wins)
{
	/* front_1's query matches [route:query] before [route:shadowed]. */
	router_register(router, &B.inst, "up_1", NULL);
	router_register(router, &B.inst, "up_2", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(B.n, 1);
	ck_assert_str_eq(B.got[0].agent, "up_1");
}
END_TEST

START_TEST(pattern_destination_picks_a_live_agent)
{
	router_register(router, &B.inst, "pool_7", NULL);
	send_from(&A, "front_1", "{\"type\":\"tools_list\",\"correlation_id\":\"t1\"}");
	drain();
	ck_assert_uint_eq(B.n, 1);
	ck_assert_str_eq(B.got[0].agent, "pool_7");
}
END_TEST

START_TEST(pattern_destination_waits_for_a_matching_agent)
{
	send_from(&A, "front_1", "{\"type\":\"tools_list\",\"correlation_id\":\"t1\"}");
	drain();
	ck_assert_uint_eq(A.n, 0);
	ck_assert_uint_eq(in_flight(), 1);
	router_register(router, &B.inst, "other_1", NULL); /* not a match */
	drain();
	ck_assert_uint_eq(B.n, 0);
	router_register(router, &B.inst, "pool_3", NULL);
	drain();
	ck_assert_uint_eq(B.n, 1);
	ck_assert_str_eq(B.got[0].agent, "pool_3");
	ck_assert_str_eq(B.got[0].cid, "t1");
}
END_TEST

START_TEST(pattern_destination_with_none_live_expires_as_unavailable)
{
	struct router_settings s = { .hold_window_ms = 100, .hold_max = 2 };
	router_configure(router, &s);
	send_from(&A, "front_1", "{\"type\":\"tools_list\",\"correlation_id\":\"t1\"}");
	drain();
	run_for_ms(200);
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "error");
	ck_assert_str_eq(fake_error_type(&A, 0), "upstream_unavailable");
	ck_assert_str_eq(A.got[0].cid, "t1");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(interim_replies_do_not_end_the_request)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	drain();
	send_from(&B, "up_1", "{\"type\":\"query_progress\",\"correlation_id\":\"c1\",\"progress\":1}");
	send_from(&B, "up_1", "{\"type\":\"query_response\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_uint_eq(A.got[0].flags, AB_DELIVER_REPLY | AB_DELIVER_INTERIM);
	ck_assert_str_eq(A.got[0].type, "query_progress");
	ck_assert_uint_eq(A.got[1].flags, AB_DELIVER_REPLY);
	ck_assert_str_eq(A.got[1].type, "query_response");
	ck_assert_uint_eq(in_flight(), 0);
	/* A late duplicate is not a reply any more: B gets no_route. */
	send_from(&B, "up_1", "{\"type\":\"query_response\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_uint_eq(B.n, 2);
	ck_assert_str_eq(fake_error_type(&B, 1), "no_route");
}
END_TEST

START_TEST(timeout_gives_an_error_reply_with_the_request_ids)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c9\",\"query_id\":\"q9\"}");
	drain();
	ck_assert_uint_eq(B.n, 1);
	run_for_ms(350);
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "query_error");
	ck_assert_str_eq(A.got[0].cid, "c9");
	ck_assert_str_eq(fake_field(&A, 0, "query_id"), "q9");
	ck_assert_str_eq(fake_error_type(&A, 0), "timeout");
	ck_assert_uint_eq(in_flight(), 0);
	/* The destination is told to stop working on it. */
	ck_assert_uint_eq(B.n, 2);
	ck_assert_uint_eq(B.got[1].flags, AB_DELIVER_CANCEL);
	ck_assert_str_eq(B.got[1].type, "cancel");
	ck_assert_str_eq(B.got[1].cid, "c9");
	ck_assert_str_eq(fake_field(&B, 1, "reason"), "timeout");
	/* The reply that comes too late is no reply, and no new message either. */
	send_from(&B, "up_1", "{\"type\":\"query_response\",\"correlation_id\":\"c9\"}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_uint_eq(B.n, 2);
	struct router_stats st;
	router_stats(router, &st);
	ck_assert_uint_eq(st.late, 1);
}
END_TEST

START_TEST(unregistering_inside_deliver_is_safe)
{
	/* The transport's write fails: it unregisters the very agent it is
	 * delivering to, from inside deliver, with more requests in flight. */
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	drain();
	B.unregister_on_deliver = router;
	B.unregister_flags = AB_DELIVER_REQUEST;
	send_from(&A, "front_2", "{\"type\":\"query\",\"correlation_id\":\"c2\"}");
	drain();
	ck_assert_uint_eq(A.n, 2); /* both requests end, each exactly once */
	ck_assert_str_eq(fake_error_type(&A, 0), "upstream_unavailable");
	ck_assert_str_eq(fake_error_type(&A, 1), "upstream_unavailable");
	ck_assert_str_ne(A.got[0].agent, A.got[1].agent);
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(interim_delivery_that_kills_the_destination_is_safe)
{
	/* Requester and destination on one transport: delivering a progress
	 * reply fails, and the transport drops the destination from inside that
	 * delivery. The request ends exactly once, with an error. */
	router_register(router, &A.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].agent, "up_1");
	A.unregister_on_deliver = router;
	A.unregister_flags = AB_DELIVER_INTERIM;
	A.unregister_id = "up_1";
	A.unregister_owner = &A.inst;
	send_from(&A, "up_1", "{\"type\":\"query_progress\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 3); /* the request, the progress it failed to take, the error */
	ck_assert_uint_eq(A.got[1].flags, AB_DELIVER_REPLY | AB_DELIVER_INTERIM);
	ck_assert_str_eq(A.got[2].agent, "front_1");
	ck_assert_uint_eq(A.got[2].flags, AB_DELIVER_REPLY);
	ck_assert_str_eq(fake_error_type(&A, 2), "upstream_unavailable");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(oneway_route_delivers_without_a_deadline)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("oneway.ini",
	                                         "[route:events]\nsource = up_*\ntype = event\n"
	                                         "destination = front_1\noneway = true\ntimeout = 50ms\n", &d);
	struct route_table *events = routes_compile(cfg, 1000, find_tr, NULL, &d);
	config_unref(cfg);
	router_set_routes(router, events);
	routes_unref(events);
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&B, "up_1", "{\"type\":\"event\",\"correlation_id\":\"e1\",\"n\":1}");
	run_for_ms(120);
	ck_assert_uint_eq(A.n, 1);
	ck_assert_uint_eq(A.got[0].flags, AB_DELIVER_ONEWAY);
	ck_assert_str_eq(A.got[0].type, "event");
	ck_assert_uint_eq(B.n, 0); /* no timeout error for a message nobody answers */
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(cancel_ends_the_request_and_tells_the_destination)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\",\"query_id\":\"q1\"}");
	drain();
	ck_assert_uint_eq(B.n, 1);
	send_from(&A, "front_1", "{\"type\":\"cancel\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "query_error");
	ck_assert_str_eq(A.got[0].cid, "c1");
	ck_assert_str_eq(fake_field(&A, 0, "query_id"), "q1");
	ck_assert_str_eq(fake_error_type(&A, 0), "cancelled");
	ck_assert_uint_eq(B.n, 2);
	ck_assert_uint_eq(B.got[1].flags, AB_DELIVER_CANCEL);
	ck_assert_str_eq(fake_field(&B, 1, "reason"), "cancelled");
	ck_assert_uint_eq(in_flight(), 0);
	/* Its late answer is dropped; a cancel of nothing is answered. */
	send_from(&B, "up_1", "{\"type\":\"query_response\",\"correlation_id\":\"c1\"}");
	send_from(&A, "front_2", "{\"type\":\"cancel\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[1].agent, "front_2");
	ck_assert_str_eq(fake_error_type(&A, 1), "invalid_message");
}
END_TEST

START_TEST(fail_all_answers_every_request)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	send_from(&A, "front_1", "{\"type\":\"tools_x\",\"correlation_id\":\"w1\"}"); /* waiting */
	drain();
	router_fail_all(router, "upstream_unavailable", "broker shutting down");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(fake_error_message(&A, 0), "broker shutting down");
	ck_assert_str_eq(fake_error_message(&A, 1), "broker shutting down");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(held_request_is_delivered_when_the_agent_comes)
{
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 0);
	ck_assert_int_eq(router_register(router, &B.inst, "up_1", NULL), 0);
	ck_assert_uint_eq(B.n, 0); /* not from inside register */
	drain();
	ck_assert_uint_eq(B.n, 1);
	ck_assert_str_eq(B.got[0].cid, "c1");
	send_from(&B, "up_1", "{\"type\":\"query_response\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "query_response");
}
END_TEST

START_TEST(held_request_expires_as_upstream_unavailable)
{
	struct router_settings s = { .hold_window_ms = 100, .hold_max = 2 }; /* < the 200ms timeout */
	router_configure(router, &s);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	drain();
	run_for_ms(150);
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "query_error");
	ck_assert_str_eq(fake_error_type(&A, 0), "upstream_unavailable");
	ck_assert_uint_eq(in_flight(), 0);
	router_register(router, &B.inst, "up_1", NULL);
	drain();
	ck_assert_uint_eq(B.n, 0); /* nothing left behind */
}
END_TEST

START_TEST(full_hold_queue_refuses_with_an_error_not_silence)
{
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c2\"}");
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c3\"}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].cid, "c3");
	ck_assert_str_eq(fake_error_type(&A, 0), "upstream_unavailable");
	router_register(router, &B.inst, "up_1", NULL);
	drain();
	ck_assert_uint_eq(B.n, 2);
	ck_assert_str_eq(B.got[0].cid, "c1"); /* in order */
	ck_assert_str_eq(B.got[1].cid, "c2");
}
END_TEST

START_TEST(agent_leaving_fails_what_it_was_asked)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	send_from(&A, "front_2", "{\"type\":\"query\",\"correlation_id\":\"c2\"}");
	drain();
	ck_assert_uint_eq(B.n, 2);
	ck_assert_int_eq(router_unregister(router, &B.inst, "up_1"), 0);
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(fake_error_type(&A, 0), "upstream_unavailable");
	ck_assert_str_eq(fake_error_type(&A, 1), "upstream_unavailable");
	ck_assert_uint_eq(in_flight(), 0);
	ck_assert_int_eq(router_unregister(router, &B.inst, "up_1"), -ENOENT);
}
END_TEST

START_TEST(refused_delivery_is_an_error_reply)
{
	router_register(router, &B.inst, "up_1", NULL);
	B.refuse_next = 1;
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(fake_error_type(&A, 0), "upstream_unavailable");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(same_correlation_id_from_two_requesters_never_crosses)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\",\"who\":\"one\"}");
	send_from(&A, "front_2", "{\"type\":\"query\",\"correlation_id\":\"c1\",\"who\":\"two\"}");
	drain();
	ck_assert_uint_eq(B.n, 2);
	ck_assert_str_ne(B.got[0].cid, B.got[1].cid);
	/* B answers the second first, echoing the ids it was given. */
	char reply[256];
	snprintf(reply, sizeof reply, "{\"type\":\"query_response\",\"correlation_id\":\"%s\",\"for\":\"two\"}",
	         B.got[1].cid);
	send_from(&B, "up_1", reply);
	snprintf(reply, sizeof reply, "{\"type\":\"query_response\",\"correlation_id\":\"%s\",\"for\":\"one\"}",
	         B.got[0].cid);
	send_from(&B, "up_1", reply);
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[0].agent, "front_2");
	ck_assert_str_eq(fake_field(&A, 0, "for"), "two");
	ck_assert_str_eq(A.got[0].cid, "c1");
	ck_assert_str_eq(A.got[1].agent, "front_1");
	ck_assert_str_eq(fake_field(&A, 1, "for"), "one");
	ck_assert_str_eq(A.got[1].cid, "c1");
}
END_TEST

START_TEST(request_without_correlation_id_gets_one)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\"}");
	drain();
	ck_assert_uint_eq(B.n, 1);
	ck_assert_ptr_nonnull(B.got[0].cid);
	ck_assert(strncmp(B.got[0].cid, "ab-", 3) == 0);
	char reply[160];
	snprintf(reply, sizeof reply, "{\"type\":\"query_response\",\"correlation_id\":\"%s\"}",
	         B.got[0].cid);
	send_from(&B, "up_1", reply);
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].cid, B.got[0].cid);
}
END_TEST

START_TEST(submit_checks_ownership_and_immutability)
{
	ab_msg *m = make("{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	ck_assert_int_eq(router_submit(router, &B.inst, "front_1", m), -EPERM);
	ck_assert_int_eq(router_submit(router, &A.inst, "nobody", m), -EPERM);
	ck_assert_int_eq(router_submit(router, &A.inst, "front_1", m), 0);
	ck_assert_int_eq(router_submit(router, &A.inst, "front_1", m), -EALREADY);
	msg_unref(m);
	/* Without a correlation id the core submits a copy with one; the
	 * original counts as submitted too. */
	ab_msg *bare = make("{\"type\":\"query\"}");
	ck_assert_int_eq(router_submit(router, &A.inst, "front_1", bare), 0);
	ck_assert_int_eq(router_submit(router, &A.inst, "front_1", bare), -EALREADY);
	msg_unref(bare);
	ck_assert_int_eq(router_register(router, &B.inst, "front_1", NULL), -EEXIST);
	ck_assert_int_eq(router_register(router, &B.inst, "bad id", NULL), -EINVAL);
	ck_assert_int_eq(router_register(router, &B.inst, "", NULL), -EINVAL);
}
END_TEST

/* A transport finds its own agents' contexts by id, and nobody else's. */
START_TEST(agent_context_is_the_owners_alone)
{
	int ctx_a, ctx_b;
	ck_assert_int_eq(router_register(router, &A.inst, "front_3", &ctx_a), 0);
	ck_assert_int_eq(router_register(router, &B.inst, "up_1", &ctx_b), 0);
	ck_assert_ptr_eq(router_agent_context(router, &A.inst, "front_3"), &ctx_a);
	ck_assert_ptr_eq(router_agent_context(router, &B.inst, "up_1"), &ctx_b);
	ck_assert_ptr_null(router_agent_context(router, &B.inst, "front_3"));
	ck_assert_ptr_null(router_agent_context(router, &A.inst, "nobody"));
	/* gone: no longer its agent */
	ck_assert_int_eq(router_unregister(router, &A.inst, "front_3"), 0);
	ck_assert_ptr_null(router_agent_context(router, &A.inst, "front_3"));
}
END_TEST

START_TEST(delivery_never_recurses)
{
	router_register(router, &B.inst, "up_1", NULL);
	B.echo_to = router; /* B answers from inside deliver */
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	event_base_loop(base, EVLOOP_NONBLOCK | EVLOOP_ONCE);
	ck_assert_uint_eq(B.n, 1);
	ck_assert_uint_eq(A.n, 0); /* the answer waits for the next turn */
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "echo");
	ck_assert_int_eq(A.max_depth, 1);
	ck_assert_int_eq(B.max_depth, 1);
}
END_TEST

START_TEST(translator_works_both_ways)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k1\",\"query_id\":7}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "ask_started");
	ck_assert_uint_eq(A.got[0].flags, AB_DELIVER_REPLY | AB_DELIVER_INTERIM);
	ck_assert_str_eq(A.got[0].cid, "k1"); /* stamped by the core */
	ck_assert_uint_eq(B.n, 1);
	ck_assert_str_eq(B.got[0].type, "tool_call");
	ck_assert_str_eq(B.got[0].cid, "k1");
	send_from(&B, "up_1", "{\"type\":\"tool_result\",\"correlation_id\":\"k1\"}");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[1].type, "ask_response");
	ck_assert_uint_eq(A.got[1].flags, AB_DELIVER_REPLY);
	ck_assert_str_eq(A.got[1].cid, "k1");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(translator_failure_is_an_error_reply)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k1\",\"payload\":\"fail\"}");
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k2\",\"payload\":\"crash\"}");
	drain();
	ck_assert_uint_eq(B.n, 0);
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[0].type, "ask_error");
	ck_assert_str_eq(fake_error_type(&A, 0), "tool_error");
	ck_assert_str_eq(fake_error_message(&A, 0), "the tool said no");
	ck_assert_str_eq(A.got[1].cid, "k2");
	ck_assert_str_eq(fake_error_type(&A, 1), "internal_error");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(reply_waits_for_a_requester_that_reconnects)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"query\",\"correlation_id\":\"c1\"}");
	drain();
	router_unregister(router, &A.inst, "front_1");
	send_from(&B, "up_1", "{\"type\":\"query_response\",\"correlation_id\":\"c1\"}");
	drain();
	ck_assert_uint_eq(A.n, 0);
	router_register(router, &A.inst, "front_1", NULL);
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "query_response");
}
END_TEST

START_TEST(new_routes_leave_requests_in_flight_alone)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k1\"}");
	drain();
	struct diag d = { 0 };
	struct config *cfg = config_load_string("new.ini",
	                                         "[route:other]\nsource = x\ntype = y\ndestination = z\n", &d);
	struct route_table *next = routes_compile(cfg, 1000, find_tr, NULL, &d);
	config_unref(cfg);
	router_set_routes(router, next);
	routes_unref(next);
	send_from(&B, "up_1", "{\"type\":\"tool_result\",\"correlation_id\":\"k1\"}");
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k2\"}");
	drain();
	ck_assert_uint_eq(A.n, 3);
	ck_assert_str_eq(A.got[1].type, "ask_response"); /* the old route's translator */
	ck_assert_str_eq(A.got[2].cid, "k2");
	ck_assert_str_eq(fake_error_type(&A, 2), "no_route"); /* the new table */
}
END_TEST

/* ---- a translator that asks the destination more than once ------------------------ */

static uint64_t late_count(void)
{
	struct router_stats st;
	router_stats(router, &st);
	return st.late;
}

/* A later leg's delivered correlation id: "<prefix>-<id>.<n>". */
static void assert_later_leg_cid(const char *cid, const char *leg)
{
	ck_assert_ptr_nonnull(cid);
	ck_assert_msg(strncmp(cid, "ab-", 3) == 0, "leg cid '%s' lacks the core's prefix", cid);
	const char *dot = strrchr(cid, '.');
	ck_assert_msg(dot && strcmp(dot, leg) == 0, "leg cid '%s' does not end in '%s'", cid, leg);
}

static void answer_from_up_1(const char *cid, const char *type)
{
	char json[256];
	snprintf(json, sizeof json, "{\"type\":\"%s\",\"correlation_id\":\"%s\"}", type, cid);
	send_from(&B, "up_1", json);
}

START_TEST(translator_asks_a_second_leg_and_answers_once)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1",
	          "{\"type\":\"ask\",\"correlation_id\":\"k1\",\"payload\":\"two_legs\",\"query_id\":7}");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_str_eq(A.got[0].type, "ask_started");
	ck_assert_uint_eq(B.n, 1);
	ck_assert_str_eq(B.got[0].type, "tool_call");
	ck_assert_str_eq(fake_field(&B, 0, "name"), "db_query");
	ck_assert_str_eq(B.got[0].cid, "k1"); /* the first leg: the requester's id */

	answer_from_up_1("k1", "tool_result");
	drain();
	ck_assert_uint_eq(A.n, 1); /* nothing for the requester yet */
	ck_assert_uint_eq(in_flight(), 1);
	ck_assert_uint_eq(B.n, 2);
	ck_assert_str_eq(B.got[1].agent, "up_1");
	ck_assert_uint_eq(B.got[1].flags, AB_DELIVER_REQUEST);
	ck_assert_str_eq(B.got[1].type, "tool_call");
	ck_assert_str_eq(fake_field(&B, 1, "name"), "show_tables");
	ck_assert_str_ne(B.got[1].cid, B.got[0].cid);
	assert_later_leg_cid(B.got[1].cid, ".1");

	answer_from_up_1(B.got[1].cid, "tool_result");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[1].agent, "front_1");
	ck_assert_str_eq(A.got[1].type, "ask_response");
	ck_assert_uint_eq(A.got[1].flags, AB_DELIVER_REPLY);
	ck_assert_str_eq(A.got[1].cid, "k1");
	ck_assert_uint_eq(in_flight(), 0);
	ck_assert_uint_eq(B.n, 2); /* no third leg, no cancel */
	ck_assert_uint_eq(late_count(), 0);
}
END_TEST

START_TEST(translation_step_counts_the_legs)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k1\",\"payload\":\"two_legs\"}");
	drain();
	ck_assert_uint_eq(tr_calls, 1);
	ck_assert(!tr_is_reply[0]);
	ck_assert_uint_eq(tr_steps[0], 0); /* the request itself */
	answer_from_up_1("k1", "tool_result");
	drain();
	ck_assert_uint_eq(tr_calls, 2);
	ck_assert(tr_is_reply[1]);
	ck_assert_uint_eq(tr_steps[1], 1); /* the answer to the first forward */
	ck_assert_uint_eq(B.n, 2);
	answer_from_up_1(B.got[1].cid, "tool_result");
	drain();
	ck_assert_uint_eq(tr_calls, 3);
	ck_assert(tr_is_reply[2]);
	ck_assert_uint_eq(tr_steps[2], 2); /* the second leg's answer */
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[1].type, "ask_response");

	/* A plain translated request: its one answer is step 1. */
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k2\"}");
	drain();
	answer_from_up_1("k2", "tool_result");
	drain();
	ck_assert_uint_eq(tr_calls, 5);
	ck_assert_uint_eq(tr_steps[3], 0);
	ck_assert_uint_eq(tr_steps[4], 1);
}
END_TEST

START_TEST(late_answer_to_the_first_leg_is_dropped)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k1\",\"payload\":\"two_legs\"}");
	drain();
	answer_from_up_1("k1", "tool_result");
	drain();
	ck_assert_uint_eq(B.n, 2);
	ck_assert_uint_eq(tr_calls, 2);

	/* A duplicate on leg 1's id, after leg 2 went out: late, not leg 2's
	 * answer, not a new message. */
	answer_from_up_1("k1", "tool_result");
	drain();
	ck_assert_uint_eq(late_count(), 1);
	ck_assert_uint_eq(tr_calls, 2); /* the translator never saw it */
	ck_assert_uint_eq(A.n, 1);      /* only ask_started */
	ck_assert_uint_eq(B.n, 2);      /* no no_route error back to up_1 */
	ck_assert_uint_eq(in_flight(), 1);

	answer_from_up_1(B.got[1].cid, "tool_result");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[1].type, "ask_response");
	ck_assert_str_eq(A.got[1].cid, "k1");
	ck_assert_uint_eq(tr_steps[2], 2);
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(deadline_spans_every_leg)
{
	/* 400ms for the whole request: leg 1 is answered after ~200ms, so the
	 * deadline falls ~200ms into leg 2, and the check at ~500ms would miss
	 * one restarted when leg 2 went out (~600ms). */
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1",
	          "{\"type\":\"ask_quick\",\"correlation_id\":\"k1\",\"payload\":\"two_legs\",\"query_id\":\"q1\"}");
	drain();
	ck_assert_uint_eq(B.n, 1);
	run_for_ms(200);
	ck_assert_uint_eq(A.n, 1); /* only ask_started */
	answer_from_up_1("k1", "tool_result");
	drain();
	ck_assert_uint_eq(B.n, 2);
	assert_later_leg_cid(B.got[1].cid, ".1");
	run_for_ms(300);

	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[1].agent, "front_1");
	ck_assert_uint_eq(A.got[1].flags, AB_DELIVER_REPLY);
	ck_assert_str_eq(A.got[1].type, "ask_error");
	ck_assert_str_eq(A.got[1].cid, "k1");
	ck_assert_str_eq(fake_field(&A, 1, "query_id"), "q1");
	ck_assert_str_eq(fake_error_type(&A, 1), "timeout");
	ck_assert_uint_eq(in_flight(), 0);
	/* The destination is told to drop the leg it is working on. */
	ck_assert_uint_eq(B.n, 3);
	ck_assert_uint_eq(B.got[2].flags, AB_DELIVER_CANCEL);
	ck_assert_str_eq(B.got[2].type, "cancel");
	ck_assert_str_eq(B.got[2].cid, B.got[1].cid);
	ck_assert_str_eq(fake_field(&B, 2, "reason"), "timeout");
	struct router_stats st;
	router_stats(router, &st);
	ck_assert_uint_eq(st.timeouts, 1);

	/* Answers to either leg that still come are late: dropped. */
	answer_from_up_1(B.got[1].cid, "tool_result");
	answer_from_up_1("k1", "tool_result");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_uint_eq(B.n, 3);
	ck_assert_uint_eq(late_count(), 2);
	ck_assert_uint_eq(tr_calls, 2);
}
END_TEST

START_TEST(forward_and_final_reply_together_end_the_request)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1",
	          "{\"type\":\"ask\",\"correlation_id\":\"k1\",\"payload\":\"forward_and_reply\"}");
	drain();
	ck_assert_uint_eq(B.n, 1);
	answer_from_up_1("k1", "tool_result");
	drain();
	ck_assert_uint_eq(A.n, 2);
	ck_assert_str_eq(A.got[1].type, "ask_response");
	ck_assert_uint_eq(A.got[1].flags, AB_DELIVER_REPLY);
	ck_assert_str_eq(A.got[1].cid, "k1");
	ck_assert_uint_eq(B.n, 1); /* the final reply won: no second leg */
	ck_assert_uint_eq(in_flight(), 0);
	run_for_ms(20);
	ck_assert_uint_eq(A.n, 2);
	ck_assert_uint_eq(B.n, 1);
	ck_assert_uint_eq(tr_calls, 2);
}
END_TEST

START_TEST(legs_of_two_requesters_with_one_correlation_id_never_cross)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"ask\",\"correlation_id\":\"k1\",\"payload\":\"two_legs\"}");
	send_from(&A, "front_2", "{\"type\":\"ask\",\"correlation_id\":\"k1\",\"payload\":\"two_legs\"}");
	drain();
	ck_assert_uint_eq(B.n, 2);
	ck_assert_str_eq(B.got[0].cid, "k1");
	assert_later_leg_cid(B.got[1].cid, ".0"); /* the collision: a unique first leg */
	/* Both first legs answered, the second requester's first. */
	answer_from_up_1(B.got[1].cid, "tool_result");
	answer_from_up_1("k1", "tool_result");
	drain();
	ck_assert_uint_eq(B.n, 4);
	const char *cids[] = { B.got[0].cid, B.got[1].cid, B.got[2].cid, B.got[3].cid };
	for (size_t i = 0; i < 4; i++)
		for (size_t j = i + 1; j < 4; j++)
			ck_assert_str_ne(cids[i], cids[j]);
	assert_later_leg_cid(B.got[2].cid, ".1");
	assert_later_leg_cid(B.got[3].cid, ".1");
	ck_assert_uint_eq(A.n, 2); /* two ask_started */
	/* Second legs answered in the other order: each reaches its own. */
	answer_from_up_1(B.got[3].cid, "tool_result"); /* front_1's */
	drain();
	ck_assert_uint_eq(A.n, 3);
	ck_assert_str_eq(A.got[2].agent, "front_1");
	ck_assert_str_eq(A.got[2].type, "ask_response");
	ck_assert_str_eq(A.got[2].cid, "k1");
	answer_from_up_1(B.got[2].cid, "tool_result"); /* front_2's */
	drain();
	ck_assert_uint_eq(A.n, 4);
	ck_assert_str_eq(A.got[3].agent, "front_2");
	ck_assert_str_eq(A.got[3].type, "ask_response");
	ck_assert_str_eq(A.got[3].cid, "k1");
	ck_assert_uint_eq(in_flight(), 0);
	ck_assert_uint_eq(late_count(), 0);
}
END_TEST

/* ---- exclusive routes: one request at a time per destination ---------------------- */

static void ask_as(const char *requester, const char *type, const char *cid)
{
	char json[256];
	snprintf(json, sizeof json, "{\"type\":\"%s\",\"correlation_id\":\"%s\",\"who\":\"%s\"}", type,
	         cid, requester);
	send_from(&A, requester, json);
}

static void answer_from(const char *agent, const char *cid, const char *type)
{
	char json[256];
	snprintf(json, sizeof json, "{\"type\":\"%s\",\"correlation_id\":\"%s\"}", type, cid);
	send_from(&B, agent, json);
}

/* The requests B's agents were given, in order: "up_1:c1 up_2:c2". */
static const char *b_requests(void)
{
	static char out[1024];
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < B.n; i++) {
		if (B.got[i].flags != AB_DELIVER_REQUEST)
			continue;
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s:%s", len ? " " : "",
		                        B.got[i].agent, B.got[i].cid ? B.got[i].cid : "?");
		ck_assert_uint_lt(len, sizeof out);
	}
	return out;
}

/* The final replies the requesters got, in order: "front_1:c1:xq_response". */
static const char *a_finals(void)
{
	static char out[1024];
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < A.n; i++) {
		if (A.got[i].flags != AB_DELIVER_REPLY)
			continue;
		len += (size_t)snprintf(out + len, sizeof out - len, "%s%s:%s:%s", len ? " " : "",
		                        A.got[i].agent, A.got[i].cid ? A.got[i].cid : "?", A.got[i].type);
		ck_assert_uint_lt(len, sizeof out);
	}
	return out;
}

/* How many final replies requester got for cid; the index of the last in *at. */
static size_t finals_for(const char *requester, const char *cid, size_t *at)
{
	size_t n = 0;
	for (size_t i = 0; i < A.n; i++) {
		if (A.got[i].flags == AB_DELIVER_REPLY && strcmp(A.got[i].agent, requester) == 0 &&
		    A.got[i].cid && strcmp(A.got[i].cid, cid) == 0) {
			n++;
			if (at)
				*at = i;
		}
	}
	return n;
}

static size_t b_cancels(void)
{
	size_t n = 0;
	for (size_t i = 0; i < B.n; i++)
		n += B.got[i].flags == AB_DELIVER_CANCEL;
	return n;
}

START_TEST(exclusive_requests_reach_a_destination_one_at_a_time)
{
	router_register(router, &B.inst, "up_1", NULL);
	ask_as("front_1", "xq", "c1");
	ask_as("front_2", "xq", "c2");
	ask_as("front_1", "xq", "c3");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1"); /* the first only */
	ck_assert_str_eq(fake_field(&B, 0, "who"), "front_1");
	ck_assert_uint_eq(A.n, 0);
	ck_assert_uint_eq(in_flight(), 3); /* waiting their turn is being in flight */

	/* An interim reply does not end the turn. */
	answer_from("up_1", "c1", "xq_progress");
	drain();
	ck_assert_uint_eq(A.n, 1);
	ck_assert_uint_eq(A.got[0].flags, AB_DELIVER_REPLY | AB_DELIVER_INTERIM);
	ck_assert_str_eq(b_requests(), "up_1:c1");

	answer_from("up_1", "c1", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_response");
	ck_assert_str_eq(b_requests(), "up_1:c1 up_1:c2"); /* the next in arrival order */
	ck_assert_str_eq(fake_field(&B, 1, "who"), "front_2");
	ck_assert_uint_eq(in_flight(), 2);

	answer_from("up_1", "c2", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_response front_2:c2:xq_response");
	ck_assert_str_eq(b_requests(), "up_1:c1 up_1:c2 up_1:c3");

	answer_from("up_1", "c3", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(),
	                 "front_1:c1:xq_response front_2:c2:xq_response front_1:c3:xq_response");
	ck_assert_uint_eq(in_flight(), 0);
	run_for_ms(20);
	ck_assert_uint_eq(A.n, 4); /* each its one final reply, nothing more */
	ck_assert_uint_eq(B.n, 3);
	ck_assert_uint_eq(b_cancels(), 0);
	ck_assert_uint_eq(late_count(), 0);
}
END_TEST

START_TEST(exclusive_translated_request_keeps_the_destination_for_every_leg)
{
	router_register(router, &B.inst, "up_1", NULL);
	send_from(&A, "front_1", "{\"type\":\"xask\",\"correlation_id\":\"k1\",\"payload\":\"two_legs\"}");
	send_from(&A, "front_2", "{\"type\":\"xask\",\"correlation_id\":\"k2\"}");
	ask_as("front_1", "xq", "c3"); /* another exclusive route, the same destination */
	drain();
	ck_assert_uint_eq(A.n, 2); /* both translations ran: two ask_started */
	ck_assert_uint_eq(A.got[0].flags, AB_DELIVER_REPLY | AB_DELIVER_INTERIM);
	ck_assert_uint_eq(A.got[1].flags, AB_DELIVER_REPLY | AB_DELIVER_INTERIM);
	ck_assert_uint_eq(B.n, 1);
	ck_assert_str_eq(B.got[0].cid, "k1");
	ck_assert_str_eq(fake_field(&B, 0, "name"), "db_query");

	/* k1's first leg answered: its second leg goes, not k2. */
	answer_from("up_1", "k1", "tool_result");
	drain();
	ck_assert_uint_eq(B.n, 2);
	ck_assert_str_eq(fake_field(&B, 1, "name"), "show_tables");
	assert_later_leg_cid(B.got[1].cid, ".1");
	ck_assert_str_eq(a_finals(), "");

	/* Its second leg answered: k1 ends, and k2 gets its turn. */
	answer_from("up_1", B.got[1].cid, "tool_result");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:k1:ask_response");
	ck_assert_uint_eq(B.n, 3);
	ck_assert_uint_eq(B.got[2].flags, AB_DELIVER_REQUEST);
	ck_assert_str_eq(B.got[2].cid, "k2");
	ck_assert_str_eq(fake_field(&B, 2, "name"), "db_query");

	answer_from("up_1", "k2", "tool_result");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:k1:ask_response front_2:k2:ask_response");
	ck_assert_uint_eq(B.n, 4);
	ck_assert_str_eq(B.got[3].cid, "c3");

	answer_from("up_1", "c3", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(),
	                 "front_1:k1:ask_response front_2:k2:ask_response front_1:c3:xq_response");
	ck_assert_uint_eq(in_flight(), 0);
	ck_assert_uint_eq(b_cancels(), 0);
	ck_assert_uint_eq(late_count(), 0);
}
END_TEST

START_TEST(queued_request_past_its_deadline_times_out_and_is_never_delivered)
{
	router_register(router, &B.inst, "up_1", NULL);
	ask_as("front_1", "xq", "c1");       /* 2 s */
	ask_as("front_2", "xq_quick", "c2"); /* 150 ms, waiting its turn */
	ask_as("front_1", "xq", "c3");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1");
	run_for_ms(250);
	ck_assert_str_eq(a_finals(), "front_2:c2:xq_error");
	ck_assert_str_eq(fake_error_type(&A, 0), "timeout");
	ck_assert_uint_eq(B.n, 1); /* no cancel for what it never got, nor the request */
	struct router_stats st;
	router_stats(router, &st);
	ck_assert_uint_eq(st.timeouts, 1);
	ck_assert_uint_eq(in_flight(), 2);

	answer_from("up_1", "c1", "xq_response");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1 up_1:c3"); /* c2 skipped */
	answer_from("up_1", "c3", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(),
	                 "front_2:c2:xq_error front_1:c1:xq_response front_1:c3:xq_response");
	ck_assert_uint_eq(in_flight(), 0);
	run_for_ms(50);
	ck_assert_uint_eq(A.n, 3);
	ck_assert_uint_eq(B.n, 2);
	ck_assert_uint_eq(b_cancels(), 0);
}
END_TEST

START_TEST(exclusive_owner_that_times_out_passes_the_turn)
{
	router_register(router, &B.inst, "up_1", NULL);
	ask_as("front_1", "xq_quick", "c1"); /* 150 ms */
	ask_as("front_2", "xq", "c2");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1");
	run_for_ms(250);
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_error");
	ck_assert_str_eq(fake_error_type(&A, 0), "timeout");
	ck_assert_uint_eq(B.n, 3);
	ck_assert_uint_eq(B.got[1].flags, AB_DELIVER_CANCEL); /* told first, */
	ck_assert_str_eq(B.got[1].cid, "c1");
	ck_assert_str_eq(fake_field(&B, 1, "reason"), "timeout");
	ck_assert_uint_eq(B.got[2].flags, AB_DELIVER_REQUEST); /* then the next */
	ck_assert_str_eq(B.got[2].cid, "c2");

	answer_from("up_1", "c1", "xq_response"); /* late: dropped */
	answer_from("up_1", "c2", "xq_response");
	drain();
	ck_assert_uint_eq(late_count(), 1);
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_error front_2:c2:xq_response");
	ck_assert_uint_eq(B.n, 3);
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(queued_request_cancelled_by_its_requester_is_skipped)
{
	router_register(router, &B.inst, "up_1", NULL);
	ask_as("front_1", "xq", "c1");
	ask_as("front_2", "xq", "c2");
	ask_as("front_1", "xq", "c3");
	drain();
	send_from(&A, "front_2", "{\"type\":\"cancel\",\"correlation_id\":\"c2\"}");
	drain();
	ck_assert_str_eq(a_finals(), "front_2:c2:xq_error");
	ck_assert_str_eq(fake_error_type(&A, 0), "cancelled");
	ck_assert_uint_eq(B.n, 1); /* no cancel notice for what it never got */
	struct router_stats st;
	router_stats(router, &st);
	ck_assert_uint_eq(st.cancelled, 1);
	ck_assert_uint_eq(in_flight(), 2);

	answer_from("up_1", "c1", "xq_response");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1 up_1:c3");
	answer_from("up_1", "c3", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(),
	                 "front_2:c2:xq_error front_1:c1:xq_response front_1:c3:xq_response");
	ck_assert_uint_eq(b_cancels(), 0);
	ck_assert_uint_eq(in_flight(), 0);
	/* Cancelled once is cancelled: a second cancel finds nothing. */
	send_from(&A, "front_2", "{\"type\":\"cancel\",\"correlation_id\":\"c2\"}");
	drain();
	ck_assert_uint_eq(A.n, 4);
	ck_assert_str_eq(fake_error_type(&A, 3), "invalid_message");
}
END_TEST

START_TEST(fail_all_fails_the_exclusive_owner_and_every_queued_request_once)
{
	router_register(router, &B.inst, "up_1", NULL);
	ask_as("front_1", "xq", "c1");
	ask_as("front_2", "xq", "c2");
	ask_as("front_1", "xq", "c3");
	send_from(&A, "front_2", "{\"type\":\"xask\",\"correlation_id\":\"k4\"}");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1");
	ck_assert_uint_eq(A.n, 1); /* k4's ask_started */
	router_fail_all(router, "upstream_unavailable", "broker shutting down");
	drain();
	const char *const who[] = { "front_1", "front_2", "front_1", "front_2" };
	const char *const cid[] = { "c1", "c2", "c3", "k4" };
	for (size_t i = 0; i < 4; i++) {
		size_t at = 0;
		ck_assert_msg(finals_for(who[i], cid[i], &at) == 1, "%s's %s: %zu final replies", who[i],
		              cid[i], finals_for(who[i], cid[i], NULL));
		ck_assert_str_eq(fake_error_type(&A, at), "upstream_unavailable");
		ck_assert_str_eq(fake_error_message(&A, at), "broker shutting down");
	}
	ck_assert_uint_eq(A.n, 5);
	ck_assert_uint_eq(in_flight(), 0);
	run_for_ms(50);
	ck_assert_str_eq(b_requests(), "up_1:c1"); /* none of the queued went after all */
	ck_assert_uint_eq(A.n, 5);
}
END_TEST

START_TEST(shutdown_while_a_turn_passes_fails_and_frees_each_once)
{
	/* The owner ends outside a dispatch turn (its destination leaves): the
	 * next one's turn has come, but it has not gone yet when the broker
	 * shuts down, and broker_free drops what is left before router_free
	 * does it again. */
	router_register(router, &B.inst, "up_1", NULL);
	ask_as("front_1", "xq", "c1");
	ask_as("front_2", "xq", "c2");
	ask_as("front_1", "xq", "c3");
	drain();
	ck_assert_int_eq(router_unregister(router, &B.inst, "up_1"), 0);
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_error");
	ck_assert_str_eq(fake_error_type(&A, 0), "upstream_unavailable");
	router_fail_all(router, "upstream_unavailable", "broker shutting down");
	ck_assert_uint_eq(A.n, 3);
	size_t at = 0;
	ck_assert_uint_eq(finals_for("front_2", "c2", &at), 1); /* the one whose turn came */
	ck_assert_str_eq(fake_error_message(&A, at), "broker shutting down");
	ck_assert_uint_eq(finals_for("front_1", "c3", &at), 1);
	ck_assert_str_eq(fake_error_message(&A, at), "broker shutting down");
	ck_assert_uint_eq(in_flight(), 0);
	router_drop_pending(router);
	router_drop_pending(router); /* as broker_free, then router_free */
	ck_assert_uint_eq(A.n, 3);
	ck_assert_str_eq(b_requests(), "up_1:c1");
}
END_TEST

START_TEST(router_freed_with_requests_queued_leaks_nothing)
{
	router_register(router, &B.inst, "up_1", NULL);
	ask_as("front_1", "xq", "c1");
	ask_as("front_2", "xq", "c2");
	ask_as("front_1", "xq", "c3");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1");
	/* teardown frees the router with one owner and two waiting (ASan: no
	 * leak, no use after free) */
}
END_TEST

START_TEST(exclusive_gates_are_per_destination_and_for_exclusive_routes_only)
{
	router_register(router, &B.inst, "up_1", NULL);
	router_register(router, &B.inst, "up_2", NULL);
	ask_as("front_1", "xq", "c1");    /* up_1's owner */
	ask_as("front_2", "xq2", "c2");   /* up_2's owner: does not wait for up_1 */
	ask_as("front_2", "xq", "c3");    /* waits for c1 */
	ask_as("front_1", "query", "q4"); /* not exclusive: to up_1 now */
	ask_as("front_2", "xq2", "c5");   /* waits for c2 */
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1 up_2:c2 up_1:q4");

	answer_from("up_1", "q4", "query_response");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:q4:query_response");
	ck_assert_str_eq(b_requests(), "up_1:c1 up_2:c2 up_1:q4"); /* c3 still waits for c1 */

	answer_from("up_2", "c2", "xq_response");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1 up_2:c2 up_1:q4 up_2:c5"); /* up_2's next */

	answer_from("up_1", "c1", "xq_response");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1 up_2:c2 up_1:q4 up_2:c5 up_1:c3");
	answer_from("up_1", "c3", "xq_response");
	answer_from("up_2", "c5", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:q4:query_response front_2:c2:xq_response "
	                             "front_1:c1:xq_response front_2:c3:xq_response "
	                             "front_2:c5:xq_response");
	ck_assert_uint_eq(in_flight(), 0);
	ck_assert_uint_eq(b_cancels(), 0);
}
END_TEST

START_TEST(exclusive_requests_for_an_absent_destination_wait_in_order)
{
	ask_as("front_1", "xq", "c1"); /* up_1 is not registered: held */
	ask_as("front_2", "xq", "c2"); /* waits its turn */
	drain();
	ck_assert_uint_eq(A.n, 0);
	ck_assert_uint_eq(B.n, 0);
	ck_assert_uint_eq(in_flight(), 2);
	ck_assert_int_eq(router_register(router, &B.inst, "up_1", NULL), 0);
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1"); /* the held owner only */
	answer_from("up_1", "c1", "xq_response");
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1 up_1:c2");
	answer_from("up_1", "c2", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_response front_2:c2:xq_response");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(held_exclusive_owner_that_expires_passes_the_turn)
{
	struct router_settings s = { .hold_window_ms = 100, .hold_max = 2 };
	router_configure(router, &s);
	ask_as("front_1", "xq", "c1");
	ask_as("front_2", "xq", "c2");
	drain();
	run_for_ms(150); /* c1's hold window passes; c2's turn: held in its turn */
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_error");
	ck_assert_str_eq(fake_error_type(&A, 0), "upstream_unavailable");
	ck_assert_uint_eq(in_flight(), 1);
	router_register(router, &B.inst, "up_1", NULL);
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c2");
	answer_from("up_1", "c2", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_error front_2:c2:xq_response");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

START_TEST(exclusive_destination_leaving_passes_the_turn)
{
	router_register(router, &B.inst, "up_1", NULL);
	ask_as("front_1", "xq", "c1");
	ask_as("front_2", "xq", "c2");
	drain();
	ck_assert_int_eq(router_unregister(router, &B.inst, "up_1"), 0);
	drain(); /* c1 fails; c2, its turn come, is held for up_1 */
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_error");
	ck_assert_str_eq(b_requests(), "up_1:c1");
	ck_assert_uint_eq(in_flight(), 1);
	router_register(router, &B.inst, "up_1", NULL);
	drain();
	ck_assert_str_eq(b_requests(), "up_1:c1 up_1:c2");
	answer_from("up_1", "c2", "xq_response");
	drain();
	ck_assert_str_eq(a_finals(), "front_1:c1:xq_error front_2:c2:xq_response");
	ck_assert_uint_eq(in_flight(), 0);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("router");
	TCase *tc = tcase_create("routing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 10);
	tcase_add_test(tc, no_route_answers_the_sender);
	tcase_add_test(tc, agent_context_is_the_owners_alone);
	tcase_add_test(tc, request_and_reply_pass_through_untouched);
	tcase_add_test(tc, first_matching_route_wins);
	tcase_add_test(tc, pattern_destination_picks_a_live_agent);
	tcase_add_test(tc, pattern_destination_waits_for_a_matching_agent);
	tcase_add_test(tc, pattern_destination_with_none_live_expires_as_unavailable);
	tcase_add_test(tc, unregistering_inside_deliver_is_safe);
	tcase_add_test(tc, interim_delivery_that_kills_the_destination_is_safe);
	tcase_add_test(tc, oneway_route_delivers_without_a_deadline);
	tcase_add_test(tc, fail_all_answers_every_request);
	tcase_add_test(tc, cancel_ends_the_request_and_tells_the_destination);
	tcase_add_test(tc, interim_replies_do_not_end_the_request);
	tcase_add_test(tc, timeout_gives_an_error_reply_with_the_request_ids);
	tcase_add_test(tc, held_request_is_delivered_when_the_agent_comes);
	tcase_add_test(tc, held_request_expires_as_upstream_unavailable);
	tcase_add_test(tc, full_hold_queue_refuses_with_an_error_not_silence);
	tcase_add_test(tc, agent_leaving_fails_what_it_was_asked);
	tcase_add_test(tc, refused_delivery_is_an_error_reply);
	tcase_add_test(tc, same_correlation_id_from_two_requesters_never_crosses);
	tcase_add_test(tc, request_without_correlation_id_gets_one);
	tcase_add_test(tc, submit_checks_ownership_and_immutability);
	tcase_add_test(tc, delivery_never_recurses);
	tcase_add_test(tc, translator_works_both_ways);
	tcase_add_test(tc, translator_failure_is_an_error_reply);
	tcase_add_test(tc, reply_waits_for_a_requester_that_reconnects);
	tcase_add_test(tc, new_routes_leave_requests_in_flight_alone);
	tcase_add_test(tc, translator_asks_a_second_leg_and_answers_once);
	tcase_add_test(tc, translation_step_counts_the_legs);
	tcase_add_test(tc, late_answer_to_the_first_leg_is_dropped);
	tcase_add_test(tc, deadline_spans_every_leg);
	tcase_add_test(tc, forward_and_final_reply_together_end_the_request);
	tcase_add_test(tc, legs_of_two_requesters_with_one_correlation_id_never_cross);
	tcase_add_test(tc, exclusive_requests_reach_a_destination_one_at_a_time);
	tcase_add_test(tc, exclusive_translated_request_keeps_the_destination_for_every_leg);
	tcase_add_test(tc, queued_request_past_its_deadline_times_out_and_is_never_delivered);
	tcase_add_test(tc, exclusive_owner_that_times_out_passes_the_turn);
	tcase_add_test(tc, queued_request_cancelled_by_its_requester_is_skipped);
	tcase_add_test(tc, fail_all_fails_the_exclusive_owner_and_every_queued_request_once);
	tcase_add_test(tc, shutdown_while_a_turn_passes_fails_and_frees_each_once);
	tcase_add_test(tc, router_freed_with_requests_queued_leaks_nothing);
	tcase_add_test(tc, exclusive_gates_are_per_destination_and_for_exclusive_routes_only);
	tcase_add_test(tc, exclusive_requests_for_an_absent_destination_wait_in_order);
	tcase_add_test(tc, held_exclusive_owner_that_expires_passes_the_turn);
	tcase_add_test(tc, exclusive_destination_leaving_passes_the_turn);
	suite_add_tcase(s, tc);
	return s;
}
