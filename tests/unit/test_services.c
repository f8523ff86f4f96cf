/* The services table as a plugin sees it: its version fields, config
 * getters (and that they answer from the new config during a reload's
 * PREPARE), timers, and json_spans. */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <agentbus/json.h>

#include "core/broker.h"
#include "core/config.h"
#include "core/options.h"
#include "core/plugins.h"
#include "core/services.h"
#include "tests/unit/unit_suite.h"

static const struct ab_services *svc = &services_table;
static struct event_base *base;
static struct broker *broker;
static struct ab_instance inst;
static struct config *cfg_now, *cfg_next;

static const struct ab_option schema[] = {
	{ "name", AB_OPT_STRING, "anon", 0, 0, 0, NULL, "" },
	{ "wait", AB_OPT_DURATION, "2s", 0, 0, 0, NULL, "" },
	{ "buffer", AB_OPT_SIZE, "4K", 0, 0, 0, NULL, "" },
	{ "verbose", AB_OPT_BOOL, "no", 0, 0, 0, NULL, "" },
	{ "mode", AB_OPT_ENUM, "a", 0, 0, 0, "a|b|c", "" },
	AB_OPTION_END,
};

static struct config *resolve(const char *text, struct option_values *out)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("t.ini", text, &d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_int_eq(options_resolve(cfg->sections[0], schema, NULL, out, &d), 0);
	return cfg;
}

static void setup(void)
{
	base = event_base_new();
	broker = broker_new(base, true);
	memset(&inst, 0, sizeof inst);
	inst.name = "p";
	inst.broker = broker;
	cfg_now = resolve("[plugin:p]\nname = first\nwait = 250ms\nverbose = yes\nmode = c\n", &inst.options);
	cfg_next = resolve("[plugin:p]\nname = second\nbuffer = 1M\n", &inst.next_options);
}

static void teardown(void)
{
	services_free_timers(&inst); /* what the broker does after destroy */
	option_values_free(&inst.options);
	option_values_free(&inst.next_options);
	config_unref(cfg_now);
	config_unref(cfg_next);
	broker_free(broker);
	event_base_free(base);
}

START_TEST(table_says_what_it_is)
{
	ck_assert_uint_eq(svc->size, sizeof(struct ab_services));
	ck_assert_uint_eq(svc->abi_major, AB_ABI_MAJOR);
	ck_assert_uint_eq(svc->abi_minor, AB_ABI_MINOR);
	ck_assert_str_eq(svc->broker_version, PACKAGE_VERSION);
	ck_assert_str_eq(svc->instance_name(&inst), "p");
}
END_TEST

START_TEST(config_getters_are_typed)
{
	ck_assert_str_eq(svc->config_string(&inst, "name"), "first");
	ck_assert_int_eq(svc->config_int(&inst, "wait"), 250);
	ck_assert_int_eq(svc->config_int(&inst, "buffer"), 4096); /* the default */
	ck_assert(svc->config_bool(&inst, "verbose"));
	ck_assert_int_eq(svc->config_int(&inst, "mode"), 2);
	ck_assert_ptr_null(svc->config_string(&inst, "not_in_schema"));
}
END_TEST

START_TEST(config_getters_answer_from_the_new_config_while_reloading)
{
	inst.reloading = true;
	ck_assert_str_eq(svc->config_string(&inst, "name"), "second");
	ck_assert_int_eq(svc->config_int(&inst, "buffer"), 1 << 20);
	ck_assert_int_eq(svc->config_int(&inst, "wait"), 2000);
	ck_assert(!svc->config_bool(&inst, "verbose"));
	inst.reloading = false;
	ck_assert_str_eq(svc->config_string(&inst, "name"), "first");
}
END_TEST

static int fired;
static ab_timer *repeating;

static void count(void *arg)
{
	fired++;
	if (fired == 3) {
		svc->timer_cancel(repeating); /* cancelling from its own callback */
		event_base_loopexit(base, NULL);
	}
}

static void once(void *arg)
{
	*(int *)arg += 1;
}

START_TEST(timers_fire_once_or_repeat_until_cancelled)
{
	int one = 0;
	fired = 0;
	ab_timer *first = svc->timer_start(&inst, 10, false, once, &one);
	ck_assert_ptr_nonnull(first);
	repeating = svc->timer_start(&inst, 20, true, count, NULL);
	ck_assert_ptr_nonnull(repeating);
	ab_timer *never = svc->timer_start(&inst, 10, false, once, &one);
	svc->timer_cancel(never);
	struct timeval limit = { 2, 0 };
	event_base_loopexit(base, &limit);
	event_base_dispatch(base);
	ck_assert_int_eq(one, 1);
	ck_assert_int_eq(fired, 3);
	struct timeval more = { 0, 100000 };
	event_base_loopexit(base, &more);
	event_base_dispatch(base);
	ck_assert_int_eq(fired, 3); /* cancelled for good */
	svc->timer_cancel(first);   /* fired long ago: still a valid handle */
	/* One left running is freed with the instance (teardown), not leaked. */
	ck_assert_ptr_nonnull(svc->timer_start(&inst, 60000, false, once, &one));
}
END_TEST

static char *span_text(struct ab_json_span s)
{
	static char out[4][64];
	static int turn;
	char *at = out[turn++ % 4];
	snprintf(at, 64, "%.*s", (int)s.len, s.at ? s.at : "(absent)");
	return at;
}

START_TEST(json_spans_finds_members_in_a_checked_object)
{
	const char *json = "{\"a\": 1, \"b\":\"x\\u0041\" ,\"\\u0063\":[true, {}], \"a\":2}";
	static const char *const names[] = { "a", "b", "c", "d" };
	struct ab_json_span spans[4];
	ck_assert(svc->json_spans(json, strlen(json), names, 4, spans));
	ck_assert_str_eq(span_text(spans[0]), "1");          /* the first of two */
	ck_assert_str_eq(span_text(spans[1]), "\"x\\u0041\""); /* the bytes as they are */
	ck_assert_str_eq(span_text(spans[2]), "[true, {}]"); /* found by the decoded key */
	ck_assert_ptr_null(spans[3].at);
	/* not an object, or not JSON at all */
	ck_assert(!svc->json_spans("[1]", 3, names, 4, spans));
	ck_assert(!svc->json_spans("{\"a\":1,", 7, names, 4, spans));
	ck_assert(!svc->json_spans("{\"a\":1} x", 9, names, 4, spans));
	ck_assert(svc->json_spans("{}", 2, names, 4, spans));
	ck_assert_ptr_null(spans[0].at);
}
END_TEST

/* msg_build takes what a writer wrote: a message, or NULL saying why. */
START_TEST(msg_build_takes_a_writer)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_pair(g, "type", "query_response");
	ab_json_pair(g, "correlation_id", "c1");
	ab_json_map_close(g);
	struct ab_parse_error err;
	ab_msg *msg = svc->msg_build(g, &err);
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(svc->msg_type(msg), "query_response");
	ck_assert_str_eq(svc->msg_correlation_id(msg), "c1");
	svc->msg_unref(msg);
	ab_json_free(g);
	g = ab_json_new(); /* still open: no text */
	ab_json_map_open(g);
	ck_assert_ptr_null(svc->msg_build(g, &err));
	ck_assert_str_eq(err.error_type, AB_ERR_INTERNAL_ERROR);
	ab_json_free(g);
	ck_assert_ptr_null(svc->msg_build(NULL, &err)); /* ab_json_new without memory */
	ck_assert_str_eq(err.error_type, AB_ERR_INTERNAL_ERROR);
	g = ab_json_new(); /* JSON, but no message */
	ab_json_array_open(g);
	ab_json_array_close(g);
	ck_assert_ptr_null(svc->msg_build(g, &err));
	ck_assert_str_eq(err.error_type, AB_ERR_INVALID_MESSAGE);
	ab_json_free(g);
}
END_TEST

/* What a writer wrote is not parsed again: the routing fields are found
 * among the top-level members alone, wherever they are, decoded, and the
 * message rules still hold. */
static ab_msg *built(ab_json *g, struct ab_parse_error *err)
{
	ab_msg *msg = svc->msg_build(g, err);
	ab_json_free(g);
	return msg;
}

static ab_json *object_with(const char *key, const char *value)
{
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "nested");
	static const char nested[] = "{\"type\":\"inner\",\"correlation_id\":\"x\"}";
	ab_json_raw(g, nested, strlen(nested));
	if (key)
		ab_json_pair(g, key, value);
	return g;
}

START_TEST(msg_build_finds_the_routing_fields_of_written_text)
{
	struct ab_parse_error err;
	ab_json *g = object_with("list", "\"type\": \"not this\"");
	ab_json_str(g, "type");
	ab_json_str(g, "q\"x");
	ab_json_str(g, "correlation_id");
	ab_json_str(g, "c\\1 \xe2\x82\xac and a long tail past the 64 bytes kept on the stack .........");
	ab_json_map_close(g);
	ab_msg *msg = built(g, &err);
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(svc->msg_type(msg), "q\"x");
	ck_assert_str_eq(svc->msg_correlation_id(msg),
	                 "c\\1 \xe2\x82\xac and a long tail past the 64 bytes kept on the stack .........");
	svc->msg_unref(msg);

	g = object_with(NULL, NULL); /* a type only inside another value */
	ab_json_map_close(g);
	ck_assert_ptr_null(built(g, &err));
	ck_assert_str_eq(err.error_type, AB_ERR_INVALID_MESSAGE);
	ck_assert_str_eq(err.message, "a message needs a string 'type'");

	g = object_with(NULL, NULL);
	ab_json_str(g, "type");
	ab_json_integer(g, 3);
	ab_json_map_close(g);
	ck_assert_ptr_null(built(g, &err));
	ck_assert_str_eq(err.message, "'type' must be a string");

	g = object_with("type", "a");
	ab_json_pair(g, "type", "b");
	ab_json_map_close(g);
	ck_assert_ptr_null(built(g, &err));
	ck_assert_str_eq(err.message, "duplicate 'type'");

	g = object_with("type", "");
	ab_json_map_close(g);
	ck_assert_ptr_null(built(g, &err));
	ck_assert_str_eq(err.message, "'type' must not be empty");

	g = object_with("type", "t");
	ab_json_str(g, "correlation_id");
	ab_json_string(g, "a\0b", 3); /* written as \u0000 */
	ab_json_map_close(g);
	ck_assert_ptr_null(built(g, &err));
	ck_assert_str_eq(err.message, "routing fields must not contain NUL");

	/* Raw bytes at the top, from a checked text, may escape a key: those
	 * are read by the checking parse, which decodes them. */
	g = ab_json_new();
	static const char escaped[] = "{\"typ\\u0065\":\"b\",\"correlation\\u005fid\":\"c\"}";
	ab_json_raw(g, escaped, strlen(escaped));
	msg = built(g, &err);
	ck_assert_ptr_nonnull(msg);
	ck_assert_str_eq(svc->msg_type(msg), "b");
	ck_assert_str_eq(svc->msg_correlation_id(msg), "c");
	svc->msg_unref(msg);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("services");
	TCase *tc = tcase_create("services");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, table_says_what_it_is);
	tcase_add_test(tc, config_getters_are_typed);
	tcase_add_test(tc, config_getters_answer_from_the_new_config_while_reloading);
	tcase_add_test(tc, timers_fire_once_or_repeat_until_cancelled);
	tcase_add_test(tc, json_spans_finds_members_in_a_checked_object);
	tcase_add_test(tc, msg_build_takes_a_writer);
	tcase_add_test(tc, msg_build_finds_the_routing_fields_of_written_text);
	suite_add_tcase(s, tc);
	return s;
}
