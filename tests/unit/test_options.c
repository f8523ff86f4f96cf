/* Unit tests for core/options.c: typed parsing of option values and checking
 * a config section against its schemas. */
#include "build-config.h"

#include <check.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/diag.h"
#include "core/options.h"
#include "tests/unit/unit_suite.h"

static const struct ab_option opt_int = { "n", AB_OPT_INT, NULL, 0, 0, 0, NULL, "unbounded" };
static const struct ab_option opt_int_bounded = { "n", AB_OPT_INT, NULL, 0, 1, 64, NULL, "1..64" };
static const struct ab_option opt_int_negative = { "n", AB_OPT_INT, NULL, 0, -10, -2, NULL, "" };
static const struct ab_option opt_bool = { "b", AB_OPT_BOOL, NULL, 0, 0, 0, NULL, "" };
static const struct ab_option opt_duration = { "d", AB_OPT_DURATION, NULL, 0, 0, 0, NULL, "" };
static const struct ab_option opt_duration_bounded = { "d", AB_OPT_DURATION, NULL, 0, 1, 60000, NULL, "" };
static const struct ab_option opt_size = { "s", AB_OPT_SIZE, NULL, 0, 0, 0, NULL, "" };
static const struct ab_option opt_size_bounded = { "s", AB_OPT_SIZE, NULL, 0, 1024, 1048576, NULL, "" };
static const struct ab_option opt_enum = { "e", AB_OPT_ENUM, NULL, 0, 0, 0, "stdio|http|ws", "" };
static const struct ab_option opt_string = { "t", AB_OPT_STRING, NULL, 0, 0, 0, NULL, "" };
static const struct ab_option opt_json = { "j", AB_OPT_JSON, NULL, 0, 0, 0, NULL, "" };

/* Parses `text`, which must be accepted with value `expect`. */
#define ck_parses(opt, text, expect)                                                          \
	do {                                                                                  \
		int64_t out_ = -12345;                                                        \
		char why_[192] = "";                                                          \
		int rc_ = option_parse(&(opt), (text), &out_, why_, sizeof why_);             \
		ck_assert_msg(rc_ == 0, "'%s' refused: %s", (text), why_);                    \
		ck_assert_msg(out_ == (int64_t)(expect), "'%s' gave %lld, expected %lld", (text), \
		              (long long)out_, (long long)(expect));                          \
	} while (0)

/* `text` must be refused with exactly the reason `reason`. */
#define ck_refuses(opt, text, reason)                                                          \
	do {                                                                                   \
		int64_t out_ = 0;                                                              \
		char why_[192] = "";                                                           \
		int rc_ = option_parse(&(opt), (text), &out_, why_, sizeof why_);              \
		ck_assert_msg(rc_ == -1, "'%s' accepted as %lld", (text), (long long)out_);    \
		ck_assert_str_eq(why_, (reason));                                              \
	} while (0)

/* ---- option_parse ----------------------------------------------------------- */

START_TEST(test_int)
{
	ck_parses(opt_int, "0", 0);
	ck_parses(opt_int, "42", 42);
	ck_parses(opt_int, "-7", -7);
	ck_parses(opt_int, "9223372036854775807", INT64_MAX);
	ck_refuses(opt_int, "abc", "'abc' is not an integer");
	ck_refuses(opt_int, "12abc", "'12abc' is not an integer");
	ck_refuses(opt_int, "4.5", "'4.5' is not an integer");
	ck_refuses(opt_int, "", "'' is not an integer");
	ck_refuses(opt_int, "99999999999999999999", "'99999999999999999999' is not an integer");
}
END_TEST

START_TEST(test_int_bounds)
{
	ck_parses(opt_int_bounded, "1", 1);
	ck_parses(opt_int_bounded, "64", 64);
	ck_parses(opt_int_bounded, "32", 32);
	ck_refuses(opt_int_bounded, "0", "'0' is outside 1..64");
	ck_refuses(opt_int_bounded, "65", "'65' is outside 1..64");
	ck_refuses(opt_int_bounded, "-1", "'-1' is outside 1..64");
	ck_refuses(opt_int_bounded, "many", "'many' is not an integer");
	ck_parses(opt_int_negative, "-10", -10);
	ck_parses(opt_int_negative, "-2", -2);
	ck_refuses(opt_int_negative, "-1", "'-1' is outside -10..-2");
	ck_refuses(opt_int_negative, "-11", "'-11' is outside -10..-2");
}
END_TEST

START_TEST(test_bool)
{
	static const char *const yes[] = { "true", "TRUE", "True", "yes", "YES", "on", "On", "1" };
	static const char *const no[] = { "false", "FALSE", "fAlSe", "no", "No", "off", "OFF", "0" };
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
		ck_parses(opt_bool, yes[i], 1);
	for (size_t i = 0; i < sizeof no / sizeof *no; i++)
		ck_parses(opt_bool, no[i], 0);
	ck_refuses(opt_bool, "maybe", "'maybe' is not true or false");
	ck_refuses(opt_bool, "", "'' is not true or false");
	ck_refuses(opt_bool, "2", "'2' is not true or false");
	ck_refuses(opt_bool, "yes please", "'yes please' is not true or false");
	ck_refuses(opt_bool, "y", "'y' is not true or false");
}
END_TEST

START_TEST(test_duration)
{
	ck_parses(opt_duration, "250ms", 250);
	ck_parses(opt_duration, "10s", 10000);
	ck_parses(opt_duration, "1.5s", 1500);
	ck_parses(opt_duration, "5m", 300000);
	ck_parses(opt_duration, "1h", 3600000);
	ck_parses(opt_duration, "3", 3000);
	ck_parses(opt_duration, "0.5", 500);
	ck_parses(opt_duration, "0ms", 0);
	static const char *const bad[] = { "10x", "-1s", "-1", "", "s", "ms", "10 s", "1d",
		                           "10sec", "inf", "nan", "1e400" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char reason[192];
		snprintf(reason, sizeof reason, "'%s' is not a duration such as 500ms, 10s, 5m or 1h",
		         bad[i]);
		ck_refuses(opt_duration, bad[i], reason);
	}
}
END_TEST

START_TEST(test_duration_bounds_in_ms)
{
	ck_parses(opt_duration_bounded, "1ms", 1);
	ck_parses(opt_duration_bounded, "1m", 60000);
	ck_refuses(opt_duration_bounded, "0s", "'0s' is outside 1..60000 ms");
	ck_refuses(opt_duration_bounded, "61s", "'61s' is outside 1..60000 ms");
}
END_TEST

START_TEST(test_size)
{
	ck_parses(opt_size, "512", 512);
	ck_parses(opt_size, "0", 0);
	ck_parses(opt_size, "64K", 65536);
	ck_parses(opt_size, "16M", 16777216);
	ck_parses(opt_size, "1G", 1073741824);
	ck_parses(opt_size, "4KiB", 4096);
	ck_parses(opt_size, "2MiB", 2097152);
	ck_parses(opt_size, "3GiB", INT64_C(3221225472));
	ck_parses(opt_size, "8KB", 8192);
	static const char *const bad[] = { "1T", "-5", "", "K", "64k", "1.5K", "10Kb", "5 K", "12Q",
		                           "1KiBB" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char reason[192];
		snprintf(reason, sizeof reason, "'%s' is not a size such as 4096, 64K or 16M", bad[i]);
		ck_refuses(opt_size, bad[i], reason);
	}
	/* Larger than int64_t once scaled. */
	ck_refuses(opt_size, "9007199254740992G", "'9007199254740992G' is not a size such as 4096, 64K or 16M");
}
END_TEST

START_TEST(test_size_bounds_in_bytes)
{
	ck_parses(opt_size_bounded, "1K", 1024);
	ck_parses(opt_size_bounded, "1M", 1048576);
	ck_refuses(opt_size_bounded, "1023", "'1023' is outside 1024..1048576 bytes");
	ck_refuses(opt_size_bounded, "2M", "'2M' is outside 1024..1048576 bytes");
}
END_TEST

START_TEST(test_enum)
{
	ck_parses(opt_enum, "stdio", 0);
	ck_parses(opt_enum, "http", 1);
	ck_parses(opt_enum, "ws", 2);
	ck_refuses(opt_enum, "ftp", "'ftp' is not one of stdio|http|ws");
	ck_refuses(opt_enum, "WS", "'WS' is not one of stdio|http|ws");
	ck_refuses(opt_enum, "htt", "'htt' is not one of stdio|http|ws");
	ck_refuses(opt_enum, "https", "'https' is not one of stdio|http|ws");
	ck_refuses(opt_enum, "", "'' is not one of stdio|http|ws");
	ck_refuses(opt_enum, "stdio|http", "'stdio|http' is not one of stdio|http|ws");
}
END_TEST

START_TEST(test_string)
{
	ck_parses(opt_string, "anything at all; really", 0);
	ck_parses(opt_string, "", 0);
}
END_TEST

START_TEST(test_json)
{
	/* Any JSON value; its typed value is 0 (the text is what is kept). */
	ck_parses(opt_json, "{}", 0);
	ck_parses(opt_json, "{\"sql\": \"$.query\", \"limit\": 100, \"opts\": {\"a\": [1, null]}}", 0);
	ck_parses(opt_json, "[1, 2.5, true, false, null]", 0);
	ck_parses(opt_json, "\"$.query\"", 0);
	ck_parses(opt_json, "42", 0);
	ck_parses(opt_json, "  { \"padded\" : true }  ", 0);
}
END_TEST

START_TEST(test_json_refused_with_yajl_first_line)
{
	ck_refuses(opt_json, "{\"a\": }", "not JSON: parse error: unallowed token at this point in JSON text");
	ck_refuses(opt_json, "{\"a\": 1,}", "not JSON: parse error: invalid object key (must be a string)");
	ck_refuses(opt_json, "{\"a\": 1", "not JSON: parse error: premature EOF");
	ck_refuses(opt_json, "", "not JSON: parse error: premature EOF");
	ck_refuses(opt_json, "{} {}", "not JSON: parse error: trailing garbage");
	ck_refuses(opt_json, "{'a': 1}", "not JSON: lexical error: invalid char in json text.");
	ck_refuses(opt_json, "$.query", "not JSON: lexical error: invalid char in json text.");
}
END_TEST

START_TEST(test_option_find)
{
	static const struct ab_option schema[] = {
		{ "alpha", AB_OPT_STRING, NULL, 0, 0, 0, NULL, "" },
		{ "beta", AB_OPT_INT, NULL, 0, 0, 0, NULL, "" },
		AB_OPTION_END,
	};
	ck_assert_ptr_eq(option_find(schema, "alpha"), &schema[0]);
	ck_assert_ptr_eq(option_find(schema, "beta"), &schema[1]);
	ck_assert_ptr_null(option_find(schema, "gamma"));
	ck_assert_ptr_null(option_find(schema, "alph"));
	ck_assert_ptr_null(option_find(NULL, "alpha"));
}
END_TEST

/* ---- options_resolve ---------------------------------------------------------- */

static const struct ab_option plugin_schema[] = {
	{ "listen", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL, "address" },
	{ "workers", AB_OPT_INT, "4", 0, 1, 64, NULL, "threads" },
	{ "verbose", AB_OPT_BOOL, "off", 0, 0, 0, NULL, "chatty" },
	{ "timeout", AB_OPT_DURATION, "10s", 0, 0, 0, NULL, "wait" },
	{ "max_size", AB_OPT_SIZE, "1M", 0, 0, 0, NULL, "bytes" },
	{ "mode", AB_OPT_ENUM, "http", 0, 0, 0, "stdio|http|ws", "transport" },
	{ "label", AB_OPT_STRING, NULL, 0, 0, 0, NULL, "no default" },
	AB_OPTION_END,
};

static const struct ab_option extra_schema[] = {
	{ "retries", AB_OPT_INT, "3", 0, 0, 10, NULL, "" },
	{ "compress", AB_OPT_BOOL, NULL, AB_OPT_REQUIRED, 0, 0, NULL, "" },
	AB_OPTION_END,
};

struct resolved {
	struct config *cfg;
	struct option_values values;
	struct diag d;
	int rc;
};

/* Load `text` (which must parse cleanly), find [kind:label] in it, resolve. */
static void resolve(struct resolved *r, const char *text, const char *kind, const char *label,
                    const struct ab_option *a, const struct ab_option *b)
{
	*r = (struct resolved){ 0 };
	r->cfg = config_load_string("mem.ini", text, &r->d);
	ck_assert_ptr_nonnull(r->cfg);
	ck_assert_msg(r->d.count == 0, "config error: %s", r->d.count ? r->d.lines[0] : "");
	const struct config_section *s = config_find(r->cfg, kind, label);
	ck_assert_ptr_nonnull(s);
	r->rc = options_resolve(s, a, b, &r->values, &r->d);
}

static void resolved_free(struct resolved *r)
{
	option_values_free(&r->values);
	ck_assert_ptr_null(r->values.values);
	ck_assert_uint_eq(r->values.count, 0);
	config_unref(r->cfg);
	diag_clear(&r->d);
}

START_TEST(test_resolve_clean_and_defaults)
{
	struct resolved r;
	resolve(&r,
	        "[plugin:x]\n"
	        "listen = 127.0.0.1:8080\n"
	        "workers = 8\n"
	        "mode = ws\n",
	        "plugin", "x", plugin_schema, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.d.count, 0);
	ck_assert_uint_eq(r.values.count, 7);

	const struct option_value *v = option_values_get(&r.values, "listen");
	ck_assert_ptr_eq(v->option, &plugin_schema[0]);
	ck_assert_str_eq(v->text, "127.0.0.1:8080");
	v = option_values_get(&r.values, "workers");
	ck_assert_str_eq(v->text, "8");
	ck_assert_int_eq(v->number, 8);
	v = option_values_get(&r.values, "mode");
	ck_assert_int_eq(v->number, 2);
	/* Unset: the schema default, parsed. */
	v = option_values_get(&r.values, "verbose");
	ck_assert_str_eq(v->text, "off");
	ck_assert_int_eq(v->number, 0);
	v = option_values_get(&r.values, "timeout");
	ck_assert_str_eq(v->text, "10s");
	ck_assert_int_eq(v->number, 10000);
	v = option_values_get(&r.values, "max_size");
	ck_assert_int_eq(v->number, 1048576);
	/* Unset and no default. */
	v = option_values_get(&r.values, "label");
	ck_assert_ptr_nonnull(v);
	ck_assert_ptr_null(v->text);
	ck_assert_int_eq(v->number, 0);
	ck_assert_ptr_null(option_values_get(&r.values, "nonexistent"));
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_typed_values)
{
	struct resolved r;
	resolve(&r,
	        "[plugin:x]\n"
	        "listen = :9\n"
	        "verbose = YES\n"
	        "timeout = 1.5s\n"
	        "max_size = 64K\n"
	        "mode = stdio\n",
	        "plugin", "x", plugin_schema, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_int_eq(option_values_get(&r.values, "verbose")->number, 1);
	ck_assert_str_eq(option_values_get(&r.values, "verbose")->text, "YES");
	ck_assert_int_eq(option_values_get(&r.values, "timeout")->number, 1500);
	ck_assert_int_eq(option_values_get(&r.values, "max_size")->number, 65536);
	ck_assert_int_eq(option_values_get(&r.values, "mode")->number, 0);
	ck_assert_int_eq(option_values_get(&r.values, "workers")->number, 4);
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_unknown_key_suggests)
{
	struct resolved r;
	resolve(&r,
	        "; comment\n"        /* 1 */
	        "[plugin:x]\n"       /* 2 */
	        "lisen = :80\n",     /* 3 */
	        "plugin", "x", plugin_schema, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 2);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:3: lisen: unknown key in [plugin:x] (did you mean 'listen'?)");
	ck_assert_str_eq(r.d.lines[1], "mem.ini:2: listen: required in [plugin:x]");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_unknown_key_far_off)
{
	struct resolved r;
	resolve(&r,
	        "[plugin:x]\n"
	        "listen = :80\n"
	        "\n"
	        "colour_scheme = dark\n"
	        "port = 80\n",
	        "plugin", "x", plugin_schema, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 2);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:4: colour_scheme: unknown key in [plugin:x]");
	/* Three edits from 'mode' is not a misspelling of it. */
	ck_assert_str_eq(r.d.lines[1], "mem.ini:5: port: unknown key in [plugin:x]");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_unknown_key_in_plain_section)
{
	static const struct ab_option broker[] = {
		{ "log_level", AB_OPT_ENUM, "info", 0, 0, 0, "error|warning|notice|info|debug", "" },
		AB_OPTION_END,
	};
	struct resolved r;
	resolve(&r, "[broker]\nlog_levle = debug\n", "broker", "", broker, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:2: log_levle: unknown key in [broker] (did you mean 'log_level'?)");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_required_missing)
{
	struct resolved r;
	resolve(&r,
	        "[broker]\n"     /* 1 */
	        "\n"             /* 2 */
	        "[plugin:x]\n"   /* 3 */
	        "workers = 2\n", /* 4 */
	        "plugin", "x", plugin_schema, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_diag(&r.d, 0, "mem.ini:3: ", "listen: required in [plugin:x]");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_bad_value_at_entry_line)
{
	struct resolved r;
	resolve(&r,
	        "[plugin:x]\n"        /* 1 */
	        "listen = :80\n"      /* 2 */
	        "workers = lots\n"    /* 3 */
	        "verbose = maybe\n"   /* 4 */
	        "timeout = 10x\n"     /* 5 */
	        "max_size = 1T\n"     /* 6 */
	        "mode = ftp\n",       /* 7 */
	        "plugin", "x", plugin_schema, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 5);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:3: workers: 'lots' is not an integer");
	ck_assert_str_eq(r.d.lines[1], "mem.ini:4: verbose: 'maybe' is not true or false");
	ck_assert_diag(&r.d, 2, "mem.ini:5: ", "timeout: '10x' is not a duration");
	ck_assert_diag(&r.d, 3, "mem.ini:6: ", "max_size: '1T' is not a size");
	ck_assert_str_eq(r.d.lines[4], "mem.ini:7: mode: 'ftp' is not one of stdio|http|ws");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_bad_json_at_entry_line)
{
	static const struct ab_option schema[] = {
		{ "arguments", AB_OPT_JSON, "{}", 0, 0, 0, NULL, "" },
		AB_OPTION_END,
	};
	struct resolved r;
	resolve(&r, "[route:r]\n\narguments = {\"sql\": \"$.query\"\n", "route", "r", schema, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:3: arguments: not JSON: parse error: premature EOF");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_out_of_bounds)
{
	struct resolved r;
	resolve(&r, "[plugin:x]\nlisten = :80\nworkers = 100\n", "plugin", "x", plugin_schema, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:3: workers: '100' is outside 1..64");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_two_schemas)
{
	struct resolved r;
	resolve(&r,
	        "[route:r]\n"
	        "listen = :80\n"
	        "compress = on\n"
	        "retires = 2\n",
	        "route", "r", plugin_schema, extra_schema);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.values.count, 9);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:4: retires: unknown key in [route:r] (did you mean 'retries'?)");
	ck_assert_int_eq(option_values_get(&r.values, "compress")->number, 1);
	ck_assert_int_eq(option_values_get(&r.values, "retries")->number, 3);
	ck_assert_ptr_eq(option_values_get(&r.values, "retries")->option, &extra_schema[0]);
	resolved_free(&r);

	/* The second schema's required key is checked too. */
	resolve(&r, "[route:r]\nlisten = :80\n", "route", "r", plugin_schema, extra_schema);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:1: compress: required in [route:r]");
	resolved_free(&r);

	/* Only the second schema. */
	resolve(&r, "[route:r]\ncompress = 0\nretries = 10\n", "route", "r", NULL, extra_schema);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.values.count, 2);
	ck_assert_int_eq(option_values_get(&r.values, "retries")->number, 10);
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_no_schema)
{
	struct resolved r;
	resolve(&r, "[plugin:x]\n", "plugin", "x", NULL, NULL);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.values.count, 0);
	resolved_free(&r);

	resolve(&r, "[plugin:x]\nkey = 1\n", "plugin", "x", NULL, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:2: key: unknown key in [plugin:x]");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_bad_schema_default)
{
	static const struct ab_option broken[] = {
		{ "depth", AB_OPT_INT, "deep", 0, 0, 0, NULL, "" },
		AB_OPTION_END,
	};
	struct resolved r;
	resolve(&r, "[broker]\n[plugin:p]\n", "plugin", "p", broken, NULL);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:2: depth: bad default in the schema: 'deep' is not an integer");
	resolved_free(&r);
}
END_TEST

START_TEST(test_resolve_keeps_earlier_diags)
{
	/* The return value reflects this section only, not what d already held. */
	struct resolved r;
	resolve(&r, "[plugin:x]\nlisten = :80\n", "plugin", "x", plugin_schema, NULL);
	option_values_free(&r.values);
	diag_add(&r.d, "other.ini", 9, "unrelated");
	r.rc = options_resolve(config_find(r.cfg, "plugin", "x"), plugin_schema, NULL, &r.values, &r.d);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.d.count, 1);
	resolved_free(&r);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("options");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_int);
	tcase_add_test(tc, test_int_bounds);
	tcase_add_test(tc, test_bool);
	tcase_add_test(tc, test_duration);
	tcase_add_test(tc, test_duration_bounds_in_ms);
	tcase_add_test(tc, test_size);
	tcase_add_test(tc, test_size_bounds_in_bytes);
	tcase_add_test(tc, test_enum);
	tcase_add_test(tc, test_string);
	tcase_add_test(tc, test_json);
	tcase_add_test(tc, test_json_refused_with_yajl_first_line);
	tcase_add_test(tc, test_option_find);
	suite_add_tcase(s, tc);

	tc = tcase_create("resolve");
	tcase_add_test(tc, test_resolve_clean_and_defaults);
	tcase_add_test(tc, test_resolve_typed_values);
	tcase_add_test(tc, test_resolve_unknown_key_suggests);
	tcase_add_test(tc, test_resolve_unknown_key_far_off);
	tcase_add_test(tc, test_resolve_unknown_key_in_plain_section);
	tcase_add_test(tc, test_resolve_required_missing);
	tcase_add_test(tc, test_resolve_bad_value_at_entry_line);
	tcase_add_test(tc, test_resolve_bad_json_at_entry_line);
	tcase_add_test(tc, test_resolve_out_of_bounds);
	tcase_add_test(tc, test_resolve_two_schemas);
	tcase_add_test(tc, test_resolve_no_schema);
	tcase_add_test(tc, test_resolve_bad_schema_default);
	tcase_add_test(tc, test_resolve_keeps_earlier_diags);
	suite_add_tcase(s, tc);
	return s;
}
