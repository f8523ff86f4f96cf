/* Unit tests for core/routes.c: compiling [route:NAME] sections and the
 * first-match-in-file-order lookup. */
#include "build-config.h"

#include <check.h>

#include <stdlib.h>
#include <string.h>

#include "core/config.h"
#include "core/diag.h"
#include "core/hashmap.h"
#include "core/routes.h"
#include "tests/unit/unit_suite.h"

#define DEFAULT_TIMEOUT 30000

struct lookups {
	int calls;
	const char *last_name;
	void *last_arg;
};

static struct ab_instance *find_translator(const char *name, void *arg)
{
	struct lookups *l = arg;
	if (l) {
		l->calls++;
		l->last_name = name;
		l->last_arg = arg;
	}
	return NULL;
}

struct compiled {
	struct config *cfg;
	struct route_table *table;
	struct diag d;
};

/* Load `text` (which must parse cleanly) and compile its routes. */
static void compile(struct compiled *c, const char *text, int64_t default_timeout, void *arg)
{
	*c = (struct compiled){ 0 };
	c->cfg = config_load_string("mem.ini", text, &c->d);
	ck_assert_ptr_nonnull(c->cfg);
	ck_assert_msg(c->d.count == 0, "config error: %s", c->d.count ? c->d.lines[0] : "");
	c->table = routes_compile(c->cfg, default_timeout, find_translator, arg, &c->d);
}

static void compiled_free(struct compiled *c)
{
	routes_unref(c->table);
	config_unref(c->cfg);
	diag_clear(&c->d);
}

static struct ab_route *route_named(struct route_table *t, const char *name)
{
	for (size_t i = 0; i < t->count; i++) {
		if (strcmp(t->routes[i].name, name) == 0)
			return &t->routes[i];
	}
	ck_abort_msg("no route %s", name);
	return NULL;
}

static const char *match_name(struct route_table *t, const char *source, const char *type)
{
	struct ab_route *r = routes_match(t, source, type);
	return r ? r->name : "(none)";
}

/* ---- matching ------------------------------------------------------------------ */

static const char interleaved[] =
	"[broker]\n"              /* 1 */
	"request_timeout = 30s\n" /* 2: not a route key; [broker] is not compiled here */
	"\n"                      /* 3 */
	"[route:r1]\n"            /* 4 */
	"source = a\n"
	"type = q*\n"
	"destination = d1\n"
	"\n"
	"[route:r2]\n"            /* 9 */
	"source = x*\n"
	"type = query\n"
	"destination = d2\n"
	"\n"
	"[route:r3]\n"            /* 14 */
	"source = b, c*\n"
	"type = *\n"
	"destination = d3\n"
	"\n"
	"[route:r4]\n"            /* 19 */
	"source = *\n"
	"type = query\n"
	"destination = d4\n"
	"\n"
	"[route:r5]\n"            /* 24 */
	"source = *\n"
	"type = query, other\n"
	"destination = d5\n"
	"\n"
	"[route:r6]\n"            /* 29 */
	"source = late\n"
	"type = query\n"
	"destination = d6\n";

START_TEST(test_first_match_in_file_order)
{
	struct compiled c;
	compile(&c, interleaved, DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_nonnull(c.table);
	ck_assert_uint_eq(c.d.count, 0);
	ck_assert_uint_eq(c.table->count, 6);
	ck_assert_uint_eq(c.table->n_wild, 3);                /* r1, r3, r5 */
	ck_assert_uint_eq(hashmap_count(c.table->by_type), 1); /* "query": r2, r4, r6 */

	struct {
		const char *source, *type, *route;
	} cases[] = {
		{ "a", "query", "r1" },     /* a pattern route before the literal ones */
		{ "a", "qz", "r1" },
		{ "xy", "query", "r2" },    /* r1 refuses the source; r2 is next */
		{ "x", "query", "r2" },
		{ "b", "query", "r3" },     /* a pattern route between literal ones */
		{ "cat", "query", "r3" },
		{ "cat", "anything", "r3" },
		{ "z", "query", "r4" },     /* literal route after two pattern routes */
		{ "late", "query", "r4" },  /* r6 is shadowed by r4 */
		{ "z", "other", "r5" },
		{ "a", "other", "r5" },
		{ "xy", "other", "r5" },
		{ "z", "qz", "(none)" },
		{ "z", "quer", "(none)" },
		{ "a", "", "(none)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const char *got = match_name(c.table, cases[i].source, cases[i].type);
		ck_assert_msg(strcmp(got, cases[i].route) == 0, "(%s, %s) went by %s, expected %s",
		              cases[i].source, cases[i].type, got, cases[i].route);
	}
	compiled_free(&c);
}
END_TEST

START_TEST(test_route_fields)
{
	struct compiled c;
	compile(&c, interleaved, DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_nonnull(c.table);
	static const char *const names[] = { "r1", "r2", "r3", "r4", "r5", "r6" };
	static const int lines[] = { 4, 9, 14, 19, 24, 29 };
	for (size_t i = 0; i < 6; i++) {
		const struct ab_route *r = &c.table->routes[i];
		ck_assert_str_eq(r->name, names[i]);
		ck_assert_str_eq(r->file, "mem.ini");
		ck_assert_int_eq(r->line, lines[i]);
		ck_assert_uint_eq(r->index, i);
		ck_assert_ptr_null(r->translator);
	}
	const struct ab_route *r3 = route_named(c.table, "r3");
	ck_assert_uint_eq(r3->source.count, 2);
	ck_assert_str_eq(r3->source.items[0].text, "b");
	ck_assert_str_eq(r3->source.items[1].text, "c*");
	ck_assert_int_eq(r3->source.items[1].shape, PATTERN_PREFIX);
	ck_assert_int_eq(r3->type.items[0].shape, PATTERN_ANY);
	ck_assert_str_eq(pattern_list_exact(&r3->destination), "d3");
	ck_assert_uint_eq(r3->interim.count, 0);
	ck_assert_uint_eq(route_named(c.table, "r5")->type.count, 2);
	compiled_free(&c);
}
END_TEST

START_TEST(test_no_routes)
{
	struct compiled c;
	compile(&c, "[broker]\n", DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_nonnull(c.table);
	ck_assert_uint_eq(c.table->count, 0);
	ck_assert_ptr_null(routes_match(c.table, "a", "query"));
	ck_assert_int_eq(routes_attach(c.table, &c.d), 0);
	compiled_free(&c);
}
END_TEST

/* ---- per-route settings ---------------------------------------------------------- */

static const char settings[] =
	"[route:plain]\n"
	"source = *\n"
	"type = a\n"
	"destination = d\n"
	"\n"
	"[route:custom]\n"
	"source = *\n"
	"type = b\n"
	"destination = worker_*\n"
	"timeout = 5s\n"
	"error_reply = query_error\n"
	"interim = query_progress, started*\n";

START_TEST(test_timeout_default_and_own)
{
	struct compiled c;
	compile(&c, settings, DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_nonnull(c.table);
	ck_assert_int_eq(route_named(c.table, "plain")->timeout_ms, DEFAULT_TIMEOUT);
	ck_assert_int_eq(route_named(c.table, "custom")->timeout_ms, 5000);
	compiled_free(&c);

	/* The default is the caller's ([broker] request_timeout), not a constant. */
	compile(&c, settings, 12345, NULL);
	ck_assert_ptr_nonnull(c.table);
	ck_assert_int_eq(route_named(c.table, "plain")->timeout_ms, 12345);
	ck_assert_int_eq(route_named(c.table, "custom")->timeout_ms, 5000);
	compiled_free(&c);
}
END_TEST

START_TEST(test_error_reply_and_interim)
{
	struct compiled c;
	compile(&c, settings, DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_nonnull(c.table);
	const struct ab_route *plain = route_named(c.table, "plain");
	const struct ab_route *custom = route_named(c.table, "custom");
	ck_assert_str_eq(plain->error_reply_type, "error");
	ck_assert_str_eq(custom->error_reply_type, "query_error");
	ck_assert_uint_eq(plain->interim.count, 0);
	ck_assert_uint_eq(custom->interim.count, 2);
	ck_assert_str_eq(custom->interim.items[0].text, "query_progress");
	ck_assert_int_eq(custom->interim.items[0].shape, PATTERN_EXACT);
	ck_assert_str_eq(custom->interim.items[1].text, "started*");
	ck_assert_int_eq(custom->interim.items[1].shape, PATTERN_PREFIX);
	ck_assert(pattern_list_match(&custom->interim, "started_now"));
	ck_assert(!pattern_list_match(&custom->interim, "query_result"));
	ck_assert_int_eq(custom->destination.items[0].shape, PATTERN_PREFIX);
	/* The resolved options stay readable (translators read them). */
	ck_assert_str_eq(option_values_get(&custom->options, "timeout")->text, "5s");
	ck_assert_ptr_null(option_values_get(&plain->options, "timeout")->text);
	compiled_free(&c);
}
END_TEST

START_TEST(test_table_outlives_config_reference)
{
	/* The table holds its own reference: routes borrow the config's
	 * strings (file names, error_reply) after the caller lets go. */
	struct compiled c;
	compile(&c, settings, DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_nonnull(c.table);
	ck_assert_ptr_eq(c.table->config, c.cfg);
	ck_assert_uint_eq(c.cfg->refs, 2);
	config_unref(c.cfg);
	c.cfg = NULL;
	struct route_table *t = c.table;
	ck_assert_ptr_eq(routes_ref(t), t);
	ck_assert_uint_eq(t->refs, 2);
	routes_unref(t);
	ck_assert_uint_eq(t->refs, 1);
	const struct ab_route *r = routes_match(t, "any", "b");
	ck_assert_ptr_nonnull(r);
	ck_assert_str_eq(r->file, "mem.ini");
	ck_assert_str_eq(r->error_reply_type, "query_error");
	routes_unref(t); /* frees the config too: ASan reports any leak */
	routes_unref(NULL);
	diag_clear(&c.d);
}
END_TEST

/* ---- errors ------------------------------------------------------------------------ */

START_TEST(test_missing_required_key)
{
	struct compiled c;
	compile(&c,
	        "[route:ok]\nsource = *\ntype = t\ndestination = d\n" /* 1-4 */
	        "\n"                                                  /* 5 */
	        "[route:x]\n"                                         /* 6 */
	        "source = a\n"
	        "type = t\n",
	        DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 1);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:6: destination: required in [route:x]");
	compiled_free(&c);
}
END_TEST

START_TEST(test_all_required_keys_missing)
{
	struct compiled c;
	compile(&c, "; routes\n[route:empty]\n", DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 3);
	ck_assert_diag(&c.d, 0, "mem.ini:2: ", "source: required in [route:empty]");
	ck_assert_diag(&c.d, 1, "mem.ini:2: ", "type: required in [route:empty]");
	ck_assert_diag(&c.d, 2, "mem.ini:2: ", "destination: required in [route:empty]");
	compiled_free(&c);
}
END_TEST

START_TEST(test_duplicate_route)
{
	struct compiled c;
	compile(&c,
	        "[route:x]\nsource = *\ntype = t\ndestination = d\n" /* 1 */
	        "[route:y]\nsource = *\ntype = u\ndestination = d\n" /* 5 */
	        "[route:x]\nsource = *\ntype = v\ndestination = e\n", /* 9 */
	        DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 1);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:9: duplicate section [route:x] (first at mem.ini:1)");
	compiled_free(&c);
}
END_TEST

START_TEST(test_unknown_key)
{
	struct compiled c;
	compile(&c,
	        "[route:x]\n"
	        "source = *\n"
	        "type = t\n"
	        "destination = d\n"
	        "priority = high\n",
	        DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 1);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:5: priority: unknown key in [route:x]");
	compiled_free(&c);

	compile(&c,
	        "[route:x]\n"
	        "source = *\n"
	        "type = t\n"
	        "destination = d\n"
	        "timout = 5s\n",
	        DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 1);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:5: timout: unknown key in [route:x] (did you mean 'timeout'?)");
	compiled_free(&c);
}
END_TEST

START_TEST(test_bad_timeout)
{
	struct compiled c;
	compile(&c,
	        "[route:x]\nsource = *\ntype = t\ndestination = d\n"
	        "timeout = soon\n",
	        DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 1);
	ck_assert_diag(&c.d, 0, "mem.ini:5: ", "timeout: 'soon' is not a duration");
	compiled_free(&c);

	compile(&c,
	        "[route:x]\nsource = *\ntype = t\ndestination = d\n"
	        "timeout = 0s\n",
	        DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 1);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:5: timeout: '0s' is outside 1..86400000 ms");
	compiled_free(&c);
}
END_TEST

START_TEST(test_empty_pattern_item)
{
	struct compiled c;
	compile(&c,
	        "[route:x]\n"
	        "source = a,,b\n"
	        "type = t\n"
	        "destination = d\n"
	        "interim = p,\n",
	        DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 2);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:2: source: empty pattern in 'a,,b'");
	ck_assert_str_eq(c.d.lines[1], "mem.ini:5: interim: empty pattern in 'p,'");
	compiled_free(&c);

	compile(&c, "[route:x]\nsource = *\ntype =\ndestination = d\n", DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 1);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:3: type: empty pattern in ''");
	compiled_free(&c);
}
END_TEST

START_TEST(test_translator_not_configured)
{
	struct lookups l = { 0 };
	struct compiled c;
	compile(&c,
	        "[route:x]\n"
	        "source = *\n"
	        "type = t\n"
	        "\n"
	        "translator = x\n"
	        "destination = d\n",
	        DEFAULT_TIMEOUT, &l);
	ck_assert_ptr_null(c.table);
	ck_assert_int_eq(l.calls, 1);
	ck_assert_str_eq(l.last_name, "x");
	ck_assert_ptr_eq(l.last_arg, &l);
	ck_assert_uint_eq(c.d.count, 1);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:5: translator: no translator plugin [plugin:x] is loaded");
	compiled_free(&c);
}
END_TEST

START_TEST(test_every_bad_route_reported)
{
	/* One bad route does not hide the next. */
	struct lookups l = { 0 };
	struct compiled c;
	compile(&c,
	        "[route:a]\n"                         /* 1 */
	        "source = *\n"
	        "type = t\n"                           /* no destination */
	        "[route:good]\n"                      /* 4 */
	        "source = *\ntype = u\ndestination = d\n"
	        "[route:b]\n"                         /* 8 */
	        "source = *\ntype = v\ndestination = d\n"
	        "colour = red\n",                     /* 12 */
	        DEFAULT_TIMEOUT, &l);
	ck_assert_ptr_null(c.table);
	ck_assert_int_eq(l.calls, 0);
	ck_assert_uint_eq(c.d.count, 2);
	ck_assert_str_eq(c.d.lines[0], "mem.ini:1: destination: required in [route:a]");
	ck_assert_diag(&c.d, 1, "mem.ini:12: ", "colour: unknown key in [route:b]");
	compiled_free(&c);
}
END_TEST

START_TEST(test_errors_from_conf_d_style_names)
{
	/* Errors carry the section's own file (config_load_string's name here). */
	struct compiled c;
	compile(&c, "[route:r]\nsource = *\n", DEFAULT_TIMEOUT, NULL);
	ck_assert_ptr_null(c.table);
	ck_assert_diag(&c.d, 0, "mem.ini:1: ", "type: required in [route:r]");
	compiled_free(&c);

	c = (struct compiled){ 0 };
	c.cfg = config_load_string("/etc/agentbus/conf.d/10-routes.ini", "\n\n[route:r]\ntype = t\n", &c.d);
	c.table = routes_compile(c.cfg, DEFAULT_TIMEOUT, find_translator, NULL, &c.d);
	ck_assert_ptr_null(c.table);
	ck_assert_uint_eq(c.d.count, 2);
	ck_assert_str_eq(c.d.lines[0], "/etc/agentbus/conf.d/10-routes.ini:3: source: required in [route:r]");
	ck_assert_str_eq(c.d.lines[1], "/etc/agentbus/conf.d/10-routes.ini:3: destination: required in [route:r]");
	compiled_free(&c);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("routes");
	TCase *tc = tcase_create("match");
	tcase_add_test(tc, test_first_match_in_file_order);
	tcase_add_test(tc, test_route_fields);
	tcase_add_test(tc, test_no_routes);
	suite_add_tcase(s, tc);

	tc = tcase_create("settings");
	tcase_add_test(tc, test_timeout_default_and_own);
	tcase_add_test(tc, test_error_reply_and_interim);
	tcase_add_test(tc, test_table_outlives_config_reference);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_missing_required_key);
	tcase_add_test(tc, test_all_required_keys_missing);
	tcase_add_test(tc, test_duplicate_route);
	tcase_add_test(tc, test_unknown_key);
	tcase_add_test(tc, test_bad_timeout);
	tcase_add_test(tc, test_empty_pattern_item);
	tcase_add_test(tc, test_translator_not_configured);
	tcase_add_test(tc, test_every_bad_route_reported);
	tcase_add_test(tc, test_errors_from_conf_d_style_names);
	suite_add_tcase(s, tc);
	return s;
}
