/* Unit tests for core/sections.c: sections of a kind a plugin declares
 * (section_kind, section_options) are given to the instance that takes the
 * kind, a "plugin = NAME" key picking one when several do, with file:line
 * errors; and a reload's next_sections being committed. */
#include "build-config.h"

#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/diag.h"
#include "core/options.h"
#include "core/plugins.h"
#include "core/sections.h"
#include "tests/unit/unit_suite.h"

/* ---- fake plugins and instances ---------------------------------------------------- */

static const struct ab_option route_schema[] = {
	{ "path", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL, "the URL path" },
	{ "method", AB_OPT_ENUM, "GET", 0, 0, 0, "GET|POST", "the HTTP method" },
	{ "timeout", AB_OPT_DURATION, "5s", 0, 0, 0, NULL, "how long to wait" },
	{ "template", AB_OPT_JSON, "{}", 0, 0, 0, NULL, "the request body template" },
	AB_OPTION_END,
};

/* Two plugins taking [http_route:NAME], one with no kind of its own. */
static const struct ab_plugin web_plugin = {
	.kind = AB_PLUGIN_TRANSPORT, .name = "web",
	.section_kind = "http_route", .section_options = route_schema,
};
static const struct ab_plugin other_web_plugin = {
	.kind = AB_PLUGIN_TRANSPORT, .name = "other_web",
	.section_kind = "http_route", .section_options = route_schema,
};
static const struct ab_plugin plain_plugin = { .kind = AB_PLUGIN_TRANSPORT, .name = "plain" };

static struct ab_instance web, web2, plain;

static void setup(void)
{
	web = (struct ab_instance){ .name = "web", .plugin = &web_plugin, .fd = -1 };
	web2 = (struct ab_instance){ .name = "web2", .plugin = &other_web_plugin, .fd = -1 };
	plain = (struct ab_instance){ .name = "plain", .plugin = &plain_plugin, .fd = -1 };
}

static void teardown(void)
{
	struct ab_instance *all[] = { &web, &web2, &plain };
	for (size_t i = 0; i < 3; i++) {
		sections_free(&all[i]->sections);
		sections_free(&all[i]->next_sections);
	}
}

struct resolved {
	struct config *cfg;
	struct diag d;
	int rc;
};

/* Load `text` (which must parse cleanly) and resolve its sections among
 * the n instances. */
static void resolve(struct resolved *r, const char *text, struct ab_instance *const *instances,
                    size_t n, bool next)
{
	*r = (struct resolved){ 0 };
	r->cfg = config_load_string("mem.ini", text, &r->d);
	ck_assert_ptr_nonnull(r->cfg);
	ck_assert_msg(r->d.count == 0, "config error: %s", r->d.count ? r->d.lines[0] : "");
	r->rc = sections_resolve(r->cfg, instances, n, next, &r->d);
}

static void resolved_free(struct resolved *r)
{
	config_unref(r->cfg);
	diag_clear(&r->d);
}

/* Section i's value for key, as text. */
static const char *value_of(const struct instance_sections *s, size_t i, const char *key)
{
	ck_assert_uint_lt(i, s->count);
	const struct option_value *v = option_values_get(&s->items[i].values, key);
	ck_assert_msg(v != NULL, "section %zu has no value for '%s'", i, key);
	return v->text;
}

static int64_t number_of(const struct instance_sections *s, size_t i, const char *key)
{
	ck_assert_uint_lt(i, s->count);
	const struct option_value *v = option_values_get(&s->items[i].values, key);
	ck_assert_msg(v != NULL, "section %zu has no value for '%s'", i, key);
	return v->number;
}

/* ---- core kinds ---------------------------------------------------------------------- */

START_TEST(test_core_kinds)
{
	ck_assert(sections_core_kind("broker"));
	ck_assert(sections_core_kind("plugin"));
	ck_assert(sections_core_kind("route"));
	ck_assert(!sections_core_kind("http_route"));
	ck_assert(!sections_core_kind("routes"));
	ck_assert(!sections_core_kind(""));
}
END_TEST

START_TEST(test_core_sections_are_not_handed_out)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r,
	        "[broker]\nlog_level = debug\n"
	        "[plugin:web]\nmodule = web\n"
	        "[route:r]\nsource = a\n",
	        instances, 1, false);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.d.count, 0);
	ck_assert_uint_eq(web.sections.count, 0);
	resolved_free(&r);
}
END_TEST

/* ---- which instance a section belongs to ---------------------------------------------- */

START_TEST(test_one_taker_needs_no_plugin_key)
{
	struct ab_instance *instances[] = { &plain, &web };
	struct resolved r;
	resolve(&r, "[http_route:users]\npath = /users\n", instances, 2, false);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.d.count, 0);
	ck_assert_uint_eq(web.sections.count, 1);
	ck_assert_str_eq(web.sections.items[0].name, "users");
	ck_assert_uint_eq(plain.sections.count, 0);
	resolved_free(&r);
}
END_TEST

START_TEST(test_section_values_are_resolved_with_defaults)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[http_route:users]\npath = /users\nmethod = POST\n", instances, 1, false);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(value_of(&web.sections, 0, "path"), "/users");
	ck_assert_str_eq(value_of(&web.sections, 0, "method"), "POST");
	ck_assert_int_eq(number_of(&web.sections, 0, "method"), 1);
	ck_assert_str_eq(value_of(&web.sections, 0, "timeout"), "5s");
	ck_assert_int_eq(number_of(&web.sections, 0, "timeout"), 5000);
	ck_assert_str_eq(value_of(&web.sections, 0, "template"), "{}");
	/* The core's own key is in the values too, unset here. */
	ck_assert_ptr_null(value_of(&web.sections, 0, "plugin"));
	resolved_free(&r);
}
END_TEST

START_TEST(test_sections_keep_file_order)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r,
	        "[http_route:b]\npath = /b\n"
	        "[route:between]\nsource = x\n"
	        "[http_route:a]\npath = /a\n"
	        "[http_route:c]\npath = /c\n",
	        instances, 1, false);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(web.sections.count, 3);
	ck_assert_str_eq(web.sections.items[0].name, "b");
	ck_assert_str_eq(web.sections.items[1].name, "a");
	ck_assert_str_eq(web.sections.items[2].name, "c");
	ck_assert_str_eq(value_of(&web.sections, 1, "path"), "/a");
	resolved_free(&r);
}
END_TEST

START_TEST(test_plugin_key_naming_the_only_taker_is_fine)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[http_route:u]\nplugin = web\npath = /u\n", instances, 1, false);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(web.sections.count, 1);
	ck_assert_str_eq(value_of(&web.sections, 0, "plugin"), "web");
	resolved_free(&r);
}
END_TEST

START_TEST(test_two_takers_without_plugin_key_is_an_error)
{
	struct ab_instance *instances[] = { &web, &web2 };
	struct resolved r;
	resolve(&r,
	        "[broker]\n"           /* 1 */
	        "[http_route:users]\n" /* 2 */
	        "path = /users\n",     /* 3 */
	        instances, 2, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:2: plugin: required in [http_route:users]: "
	                               "2 plugins take [http_route:...] sections");
	ck_assert_uint_eq(web.sections.count, 0);
	ck_assert_uint_eq(web2.sections.count, 0);
	resolved_free(&r);
}
END_TEST

START_TEST(test_plugin_key_picks_among_two_takers)
{
	struct ab_instance *instances[] = { &web, &web2 };
	struct resolved r;
	resolve(&r,
	        "[http_route:one]\nplugin = web2\npath = /1\n"
	        "[http_route:two]\nplugin = web\npath = /2\n"
	        "[http_route:three]\nplugin = web2\npath = /3\n",
	        instances, 2, false);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.d.count, 0);
	ck_assert_uint_eq(web.sections.count, 1);
	ck_assert_str_eq(web.sections.items[0].name, "two");
	ck_assert_uint_eq(web2.sections.count, 2);
	ck_assert_str_eq(web2.sections.items[0].name, "one");
	ck_assert_str_eq(web2.sections.items[1].name, "three");
	resolved_free(&r);
}
END_TEST

START_TEST(test_plugin_key_naming_a_non_taker_is_an_error)
{
	struct ab_instance *instances[] = { &web, &plain };
	struct resolved r;
	resolve(&r,
	        "[http_route:u]\n" /* 1 */
	        "path = /u\n"      /* 2 */
	        "plugin = plain\n", /* 3 */
	        instances, 2, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0],
	                 "mem.ini:3: plugin: no loaded [plugin:plain] takes [http_route:...] sections");
	ck_assert_uint_eq(web.sections.count, 0);
	ck_assert_uint_eq(plain.sections.count, 0);
	resolved_free(&r);
}
END_TEST

START_TEST(test_plugin_key_naming_no_instance_is_an_error)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[http_route:u]\nplugin = nosuch\npath = /u\n", instances, 1, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0],
	                 "mem.ini:2: plugin: no loaded [plugin:nosuch] takes [http_route:...] sections");
	ck_assert_uint_eq(web.sections.count, 0);
	resolved_free(&r);
}
END_TEST

START_TEST(test_kind_nobody_takes_is_an_unknown_section)
{
	struct ab_instance *instances[] = { &web, &plain };
	struct resolved r;
	resolve(&r,
	        "[broker]\n"        /* 1 */
	        "\n"                /* 2 */
	        "[grpc_route:x]\n"  /* 3 */
	        "path = /x\n",      /* 4 */
	        instances, 2, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_diag(&r.d, 0, "mem.ini:3: ", "unknown section [grpc_route:x]");
	ck_assert_diag(&r.d, 0, "mem.ini:3: ", "the kinds loaded plugins add");
	resolved_free(&r);
}
END_TEST

START_TEST(test_section_without_a_name_is_left_to_the_broker)
{
	/* broker.c's check_sections reports "[brokr]" and "[http_route]" (every
	 * non-broker section needs a NAME); a second error here would repeat it. */
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[brokr]\nx = 1\n[http_route]\npath = /\n", instances, 1, false);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_uint_eq(r.d.count, 0);
	ck_assert_uint_eq(web.sections.count, 0);
	resolved_free(&r);
}
END_TEST

START_TEST(test_no_instances_at_all)
{
	struct resolved r;
	resolve(&r, "[http_route:x]\npath = /x\n", NULL, 0, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_diag(&r.d, 0, "mem.ini:1: ", "unknown section [http_route:x]");
	resolved_free(&r);
}
END_TEST

/* ---- checking the section's keys and values ------------------------------------------- */

START_TEST(test_unknown_key_is_an_error_at_its_line)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r,
	        "[http_route:u]\n" /* 1 */
	        "path = /u\n"      /* 2 */
	        "methd = POST\n",  /* 3 */
	        instances, 1, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:3: methd: unknown key in [http_route:u] (did you mean 'method'?)");
	/* A section with errors is not handed out. */
	ck_assert_uint_eq(web.sections.count, 0);
	resolved_free(&r);
}
END_TEST

START_TEST(test_misspelt_plugin_key_is_suggested)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[http_route:u]\npath = /u\nplugn = web\n", instances, 1, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:3: plugn: unknown key in [http_route:u] (did you mean 'plugin'?)");
	resolved_free(&r);
}
END_TEST

START_TEST(test_required_key_missing_is_an_error)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[broker]\n[http_route:u]\nmethod = GET\n", instances, 1, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:2: path: required in [http_route:u]");
	resolved_free(&r);
}
END_TEST

START_TEST(test_bad_json_option_is_an_error)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r,
	        "[http_route:u]\n"                    /* 1 */
	        "path = /u\n"                         /* 2 */
	        "template = {\"sql\": \"$.query\",}\n", /* 3 */
	        instances, 1, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 1);
	ck_assert_diag(&r.d, 0, "mem.ini:3: ", "template: not JSON: ");
	/* One line: yajl's pointer at the error is not in it. */
	ck_assert_ptr_null(strchr(r.d.lines[0], '\n'));
	ck_assert_uint_eq(web.sections.count, 0);
	resolved_free(&r);
}
END_TEST

START_TEST(test_good_json_option_is_kept_as_written)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[http_route:u]\npath = /u\ntemplate = {\"sql\": \"$.query\", \"limit\": 10}\n",
	        instances, 1, false);
	ck_assert_int_eq(r.rc, 0);
	ck_assert_str_eq(value_of(&web.sections, 0, "template"), "{\"sql\": \"$.query\", \"limit\": 10}");
	resolved_free(&r);
}
END_TEST

START_TEST(test_every_bad_section_is_reported)
{
	/* An error in one section does not stop the others being checked, or
	 * the clean ones being handed out. */
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r,
	        "[http_route:a]\n"  /* 1 */
	        "path = /a\n"       /* 2 */
	        "method = PUT\n"    /* 3 */
	        "[http_route:b]\n"  /* 4 */
	        "path = /b\n"       /* 5 */
	        "[nobody:c]\n"      /* 6 */
	        "[http_route:d]\n"  /* 7 */
	        "timeout = soon\n", /* 8 */
	        instances, 1, false);
	ck_assert_int_eq(r.rc, -1);
	ck_assert_uint_eq(r.d.count, 4);
	ck_assert_str_eq(r.d.lines[0], "mem.ini:3: method: 'PUT' is not one of GET|POST");
	ck_assert_diag(&r.d, 1, "mem.ini:6: ", "unknown section [nobody:c]");
	ck_assert_str_eq(r.d.lines[2], "mem.ini:7: path: required in [http_route:d]");
	ck_assert_diag(&r.d, 3, "mem.ini:8: ", "timeout: 'soon' is not a duration");
	ck_assert_uint_eq(web.sections.count, 1);
	ck_assert_str_eq(web.sections.items[0].name, "b");
	resolved_free(&r);
}
END_TEST

START_TEST(test_clean_resolve_ignores_earlier_diags)
{
	/* The return value is about these sections, not what d already held. */
	struct ab_instance *instances[] = { &web };
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini", "[http_route:u]\npath = /u\n", &d);
	ck_assert_uint_eq(d.count, 0);
	diag_add(&d, "other.ini", 9, "unrelated");
	ck_assert_int_eq(sections_resolve(cfg, instances, 1, false, &d), 0);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_uint_eq(web.sections.count, 1);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_errors_name_the_real_file)
{
	char dir[] = "/tmp/ab-sections-XXXXXX";
	ck_assert_ptr_nonnull(mkdtemp(dir));
	char path[64];
	snprintf(path, sizeof path, "%s/agentbus.ini", dir);
	FILE *f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs("[broker]\n\n[http_route:u]\npath = /u\nverb = GET\n", f);
	ck_assert_int_eq(fclose(f), 0);

	struct diag d = { 0 };
	struct config *cfg = config_load(path, &d);
	/* The config keeps the file's name; the file itself can go now. */
	unlink(path);
	rmdir(dir);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.count, 0);
	struct ab_instance *instances[] = { &web };
	ck_assert_int_eq(sections_resolve(cfg, instances, 1, false, &d), -1);
	char prefix[96];
	snprintf(prefix, sizeof prefix, "%s:5: ", path);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, prefix, "verb: unknown key in [http_route:u]");
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

/* ---- reloads -------------------------------------------------------------------------- */

START_TEST(test_next_fills_next_sections_only)
{
	struct ab_instance *instances[] = { &web };
	struct resolved now, next;
	resolve(&now, "[http_route:old]\npath = /old\n", instances, 1, false);
	ck_assert_int_eq(now.rc, 0);
	resolve(&next, "[http_route:new1]\npath = /n1\n[http_route:new2]\npath = /n2\n", instances, 1,
	        true);
	ck_assert_int_eq(next.rc, 0);
	ck_assert_uint_eq(web.sections.count, 1);
	ck_assert_str_eq(web.sections.items[0].name, "old");
	ck_assert_uint_eq(web.next_sections.count, 2);
	ck_assert_str_eq(web.next_sections.items[0].name, "new1");
	ck_assert_str_eq(value_of(&web.next_sections, 1, "path"), "/n2");
	resolved_free(&now);
	resolved_free(&next);
}
END_TEST

START_TEST(test_sections_outlive_their_config)
{
	/* Names and values are copies: plugins read them after the config goes. */
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[http_route:kept]\npath = /kept\n", instances, 1, false);
	resolved_free(&r);
	ck_assert_uint_eq(web.sections.count, 1);
	ck_assert_str_eq(web.sections.items[0].name, "kept");
	ck_assert_str_eq(value_of(&web.sections, 0, "path"), "/kept");
}
END_TEST

START_TEST(test_commit_swaps_next_in)
{
	struct ab_instance *instances[] = { &web };
	struct resolved now, next;
	resolve(&now, "[http_route:old]\npath = /old\n", instances, 1, false);
	resolve(&next, "[http_route:new]\npath = /new\n", instances, 1, true);
	sections_commit(&web.sections, &web.next_sections);
	ck_assert_uint_eq(web.sections.count, 1);
	ck_assert_str_eq(web.sections.items[0].name, "new");
	ck_assert_str_eq(value_of(&web.sections, 0, "path"), "/new");
	ck_assert_uint_eq(web.next_sections.count, 0);
	ck_assert_ptr_null(web.next_sections.items);
	resolved_free(&now);
	resolved_free(&next);
}
END_TEST

START_TEST(test_commit_of_an_empty_next_clears_current)
{
	/* A reload that removed every section. */
	struct ab_instance *instances[] = { &web };
	struct resolved now, next;
	resolve(&now, "[http_route:old]\npath = /old\n", instances, 1, false);
	resolve(&next, "[broker]\n", instances, 1, true);
	ck_assert_uint_eq(web.next_sections.count, 0);
	sections_commit(&web.sections, &web.next_sections);
	ck_assert_uint_eq(web.sections.count, 0);
	ck_assert_ptr_null(web.sections.items);
	resolved_free(&now);
	resolved_free(&next);
}
END_TEST

START_TEST(test_free_empties_and_can_repeat)
{
	struct ab_instance *instances[] = { &web };
	struct resolved r;
	resolve(&r, "[http_route:a]\npath = /a\n[http_route:b]\npath = /b\n", instances, 1, true);
	ck_assert_uint_eq(web.next_sections.count, 2);
	sections_free(&web.next_sections); /* an abandoned reload */
	ck_assert_uint_eq(web.next_sections.count, 0);
	ck_assert_ptr_null(web.next_sections.items);
	sections_free(&web.next_sections);
	ck_assert_uint_eq(web.next_sections.count, 0);
	resolved_free(&r);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("sections");
	TCase *tc = tcase_create("owner");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_core_kinds);
	tcase_add_test(tc, test_core_sections_are_not_handed_out);
	tcase_add_test(tc, test_one_taker_needs_no_plugin_key);
	tcase_add_test(tc, test_section_values_are_resolved_with_defaults);
	tcase_add_test(tc, test_sections_keep_file_order);
	tcase_add_test(tc, test_plugin_key_naming_the_only_taker_is_fine);
	tcase_add_test(tc, test_two_takers_without_plugin_key_is_an_error);
	tcase_add_test(tc, test_plugin_key_picks_among_two_takers);
	tcase_add_test(tc, test_plugin_key_naming_a_non_taker_is_an_error);
	tcase_add_test(tc, test_plugin_key_naming_no_instance_is_an_error);
	tcase_add_test(tc, test_kind_nobody_takes_is_an_unknown_section);
	tcase_add_test(tc, test_section_without_a_name_is_left_to_the_broker);
	tcase_add_test(tc, test_no_instances_at_all);
	suite_add_tcase(s, tc);

	tc = tcase_create("values");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_unknown_key_is_an_error_at_its_line);
	tcase_add_test(tc, test_misspelt_plugin_key_is_suggested);
	tcase_add_test(tc, test_required_key_missing_is_an_error);
	tcase_add_test(tc, test_bad_json_option_is_an_error);
	tcase_add_test(tc, test_good_json_option_is_kept_as_written);
	tcase_add_test(tc, test_every_bad_section_is_reported);
	tcase_add_test(tc, test_clean_resolve_ignores_earlier_diags);
	tcase_add_test(tc, test_errors_name_the_real_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_next_fills_next_sections_only);
	tcase_add_test(tc, test_sections_outlive_their_config);
	tcase_add_test(tc, test_commit_swaps_next_in);
	tcase_add_test(tc, test_commit_of_an_empty_next_clears_current);
	tcase_add_test(tc, test_free_empties_and_can_repeat);
	suite_add_tcase(s, tc);
	return s;
}
