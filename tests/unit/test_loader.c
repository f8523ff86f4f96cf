/* The loader and the broker's config checks: the fixture plugins built
 * beside this suite are loaded, or refused with the message a user needs,
 * at the file:line of the `module` key. */
#include "build-config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/broker.h"
#include "core/diag.h"
#include "tests/unit/unit_suite.h"

static char dir[64];
static char ini[128];
static struct event_base *base;
static struct broker *broker;
static struct diag d;

static void setup(void)
{
	strcpy(dir, "/tmp/ab-loader-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(ini, sizeof ini, "%s/agentbus.ini", dir);
	base = event_base_new();
	broker = broker_new(base, true);
	d = (struct diag){ 0 };
}

static void teardown(void)
{
	broker_free(broker);
	event_base_free(base);
	diag_clear(&d);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Write the config (plugin_dir set to the fixtures) and load it. */
static int load(const char *body)
{
	FILE *f = fopen(ini, "w");
	ck_assert_ptr_nonnull(f);
	fprintf(f, "[broker]\nplugin_dir = %s\n%s", FIXTURE_PLUGIN_DIR, body);
	fclose(f);
	return broker_load(broker, ini, &d);
}

/* Exactly one error, at ini:line, containing text. */
static void assert_one_error(int line, const char *text)
{
	ck_assert_msg(d.count == 1, "expected one error, got %zu%s%s", d.count, d.count ? ": " : "",
	              d.count ? d.lines[0] : "");
	char prefix[160];
	snprintf(prefix, sizeof prefix, "%s:%d: ", ini, line);
	ck_assert_msg(strncmp(d.lines[0], prefix, strlen(prefix)) == 0, "'%s' does not start with '%s'",
	              d.lines[0], prefix);
	ck_assert_msg(strstr(d.lines[0], text), "'%s' does not say '%s'", d.lines[0], text);
}

START_TEST(good_plugins_load)
{
	ck_assert_int_eq(load("[plugin:tap]\nmodule = linetap\nlisten = 127.0.0.1:0\n"
	                      "[plugin:names]\nmodule = rename\n"
	                      "[route:r]\nsource = a\ntype = t\ndestination = b\ntranslator = names\n"
	                      "forward_type = x\nreply_type = y\n"),
	                 0);
	ck_assert_uint_eq(d.count, 0);
}
END_TEST

START_TEST(one_module_serves_two_instances)
{
	ck_assert_int_eq(load("[plugin:a]\nmodule = linetap\nlisten = 127.0.0.1:0\n"
	                      "[plugin:b]\nmodule = linetap\nlisten = 127.0.0.1:0\n"
	                      "[plugin:c]\nmodule = rename\n"),
	                 0);
	ck_assert_uint_eq(d.count, 0);
}
END_TEST

START_TEST(wrong_abi_major_is_refused)
{
	ck_assert_int_ne(load("[plugin:x]\nmodule = abi_major\n"), 0);
	assert_one_error(4, "built for plugin ABI 2.0, this broker speaks 1.0 (the major must match)");
}
END_TEST

START_TEST(newer_abi_minor_is_refused)
{
	ck_assert_int_ne(load("[plugin:x]\nmodule = abi_minor\n"), 0);
	assert_one_error(4, "built for plugin ABI 1.1, newer than this broker's 1.0");
}
END_TEST

START_TEST(missing_op_is_refused)
{
	ck_assert_int_ne(load("[plugin:x]\nmodule = missing_op\n"), 0);
	assert_one_error(4, "a transport must have the 'deliver' op");
}
END_TEST

START_TEST(missing_symbol_is_refused)
{
	ck_assert_int_ne(load("[plugin:x]\nmodule = no_symbol\n"), 0);
	assert_one_error(4, "it has no 'agentbus_plugin_v1' symbol");
}
END_TEST

START_TEST(missing_file_is_refused)
{
	ck_assert_int_ne(load("[plugin:x]\nmodule = nonexistent\n"), 0);
	assert_one_error(4, "nonexistent.so: No such file or directory");
}
END_TEST

START_TEST(non_library_is_refused)
{
	char path[160];
	snprintf(path, sizeof path, "%s/text.so", dir);
	FILE *f = fopen(path, "w");
	fputs("not an ELF file\n", f);
	fclose(f);
	char body[256];
	snprintf(body, sizeof body, "[plugin:x]\nmodule = %s\n", path);
	ck_assert_int_ne(load(body), 0);
	assert_one_error(4, "cannot load");
}
END_TEST

/* A copy of the good plugin in the temp dir, with this mode. */
static void copy_plugin(const char *path, mode_t mode)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "cp '%s/linetap.so' '%s'", FIXTURE_PLUGIN_DIR, path);
	ck_assert_int_eq(system(cmd), 0);
	ck_assert_int_eq(chmod(path, mode), 0);
}

START_TEST(writable_by_others_is_refused)
{
	char path[160], body[256];
	snprintf(path, sizeof path, "%s/linetap.so", dir);
	copy_plugin(path, 0666);
	snprintf(body, sizeof body, "[plugin:x]\nmodule = %s\nlisten = 127.0.0.1:0\n", path);
	ck_assert_int_ne(load(body), 0);
	assert_one_error(4, "writable by group or others (mode 666)");
}
END_TEST

START_TEST(writable_by_group_is_refused)
{
	char path[160], body[256];
	snprintf(path, sizeof path, "%s/linetap.so", dir);
	copy_plugin(path, 0664);
	snprintf(body, sizeof body, "[plugin:x]\nmodule = %s\nlisten = 127.0.0.1:0\n", path);
	ck_assert_int_ne(load(body), 0);
	assert_one_error(4, "writable by group or others (mode 664)");
}
END_TEST

START_TEST(foreign_owner_is_refused)
{
	if (geteuid() != 0)
		return; /* only root can give a file away; CI runs as root */
	char path[160], body[256];
	snprintf(path, sizeof path, "%s/linetap.so", dir);
	copy_plugin(path, 0755);
	ck_assert_int_eq(chown(path, 65534, 65534), 0);
	snprintf(body, sizeof body, "[plugin:x]\nmodule = %s\nlisten = 127.0.0.1:0\n", path);
	ck_assert_int_ne(load(body), 0);
	assert_one_error(4, "owned by uid 65534, not by root or the broker's user");
}
END_TEST

START_TEST(misspelled_plugin_key_names_file_and_line)
{
	ck_assert_int_ne(load("[plugin:tap]\nmodule = linetap\nlisten = 127.0.0.1:0\nrefuse_relaod = no\n"), 0);
	assert_one_error(6, "refuse_relaod: unknown key in [plugin:tap] (did you mean 'refuse_reload'?)");
}
END_TEST

START_TEST(missing_required_plugin_key)
{
	ck_assert_int_ne(load("[plugin:tap]\nmodule = linetap\n"), 0);
	assert_one_error(3, "listen: required in [plugin:tap]");
}
END_TEST

START_TEST(misspelled_broker_key)
{
	ck_assert_int_ne(load("hold_windw = 5s\n"), 0);
	assert_one_error(3, "hold_windw: unknown key in [broker] (did you mean 'hold_window'?)");
}
END_TEST

START_TEST(bad_broker_value)
{
	ck_assert_int_ne(load("request_timeout = soon\n"), 0);
	assert_one_error(3, "request_timeout: 'soon' is not a duration");
}
END_TEST

START_TEST(unknown_section)
{
	ck_assert_int_ne(load("[brokr]\nx = 1\n"), 0);
	assert_one_error(3, "unknown section [brokr]");
}
END_TEST

START_TEST(duplicate_plugin_section)
{
	ck_assert_int_ne(load("[plugin:a]\nmodule = rename\n[plugin:a]\nmodule = rename\n"), 0);
	assert_one_error(5, "duplicate section [plugin:a] (first at");
}
END_TEST

START_TEST(route_translator_must_be_a_translator)
{
	ck_assert_int_ne(load("[plugin:tap]\nmodule = linetap\nlisten = 127.0.0.1:0\n"
	                      "[route:r]\nsource = a\ntype = t\ndestination = b\ntranslator = tap\n"),
	                 0);
	assert_one_error(10, "translator: no translator plugin [plugin:tap] is loaded");
}
END_TEST

START_TEST(translator_route_keys_are_checked)
{
	ck_assert_int_ne(load("[plugin:names]\nmodule = rename\n"
	                      "[route:r]\nsource = a\ntype = t\ndestination = b\ntranslator = names\n"
	                      "forward_type = x\nreply_typ = y\n"),
	                 0);
	/* The misspelling, and the required key it leaves unset. */
	ck_assert_uint_eq(d.count, 2);
	ck_assert(strstr(d.lines[0], ":11: reply_typ: unknown key in [route:r] (did you mean 'reply_type'?)"));
	ck_assert(strstr(d.lines[1], ":5: reply_type: required in [route:r]"));
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("loader");
	TCase *tc = tcase_create("plugins");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, good_plugins_load);
	tcase_add_test(tc, one_module_serves_two_instances);
	tcase_add_test(tc, wrong_abi_major_is_refused);
	tcase_add_test(tc, newer_abi_minor_is_refused);
	tcase_add_test(tc, missing_op_is_refused);
	tcase_add_test(tc, missing_symbol_is_refused);
	tcase_add_test(tc, missing_file_is_refused);
	tcase_add_test(tc, non_library_is_refused);
	tcase_add_test(tc, writable_by_others_is_refused);
	tcase_add_test(tc, writable_by_group_is_refused);
	tcase_add_test(tc, foreign_owner_is_refused);
	suite_add_tcase(s, tc);
	TCase *cfg = tcase_create("config");
	tcase_add_checked_fixture(cfg, setup, teardown);
	tcase_add_test(cfg, misspelled_plugin_key_names_file_and_line);
	tcase_add_test(cfg, missing_required_plugin_key);
	tcase_add_test(cfg, misspelled_broker_key);
	tcase_add_test(cfg, bad_broker_value);
	tcase_add_test(cfg, unknown_section);
	tcase_add_test(cfg, duplicate_plugin_section);
	tcase_add_test(cfg, route_translator_must_be_a_translator);
	tcase_add_test(cfg, translator_route_keys_are_checked);
	suite_add_tcase(s, cfg);
	return s;
}
