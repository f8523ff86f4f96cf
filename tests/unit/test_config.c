/* Unit tests for core/config.c and core/diag.c: the ini reader, its
 * file:line bookkeeping, ${VAR} expansion and conf.d/ ordering. */
#include "build-config.h"

#include <check.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/diag.h"
#include "tests/unit/unit_suite.h"

/* d->lines[i] must start with exactly `prefix` ("file:line: ") and hold
 * `message` after it. */
/* Every test that writes files gets its own directory below this one; the
 * unchecked teardown (run by the parent, even when a test fails) removes
 * the whole tree. */
static char base_dir[] = "/tmp/agentbus-test-config-XXXXXX";

static void remove_tree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		DIR *dh = opendir(path);
		if (dh) {
			for (struct dirent *e; (e = readdir(dh));) {
				if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
					continue;
				char *child = NULL;
				if (asprintf(&child, "%s/%s", path, e->d_name) >= 0) {
					remove_tree(child);
					free(child);
				}
			}
			closedir(dh);
		}
		rmdir(path);
	} else {
		unlink(path);
	}
}

static void base_setup(void)
{
	if (!mkdtemp(base_dir)) {
		perror("mkdtemp");
		abort();
	}
}

static void base_teardown(void)
{
	remove_tree(base_dir);
}

/* A fresh directory for one test; the caller frees the name. */
static char *make_test_dir(void)
{
	char *dir = NULL;
	ck_assert_int_ge(asprintf(&dir, "%s/t-XXXXXX", base_dir), 0);
	ck_assert_ptr_nonnull(mkdtemp(dir));
	return dir;
}

static char *join(const char *dir, const char *name)
{
	char *path = NULL;
	ck_assert_int_ge(asprintf(&path, "%s/%s", dir, name), 0);
	return path;
}

static void write_file(const char *dir, const char *name, const char *text)
{
	char *path = join(dir, name);
	FILE *f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s: %s", path, strerror(errno));
	ck_assert_int_eq(fputs(text, f) >= 0, 1);
	ck_assert_int_eq(fclose(f), 0);
	free(path);
}

static void assert_entry(const struct config_section *s, size_t i, const char *key,
                         const char *value, int line)
{
	ck_assert_uint_gt(s->n_entries, i);
	ck_assert_str_eq(s->entries[i].key, key);
	ck_assert_str_eq(s->entries[i].value, value);
	ck_assert_int_eq(s->entries[i].line, line);
}

/* ---- sections, entries, comments ---------------------------------------- */

START_TEST(test_sections_and_entries)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "; a comment\n"               /* 1 */
	                                        "[broker]\n"                  /* 2 */
	                                        "log_level = info\n"          /* 3 */
	                                        "node_id=abc\n"               /* 4 */
	                                        "\n"                          /* 5 */
	                                        "[plugin:ws]\n"               /* 6 */
	                                        "  module   =   websocket  \n" /* 7 */
	                                        "[route:q.1-a_B]\n"           /* 8 */
	                                        "type = query\n",             /* 9 */
	                                        &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_str_eq(cfg->main_file, "mem.ini");
	ck_assert_uint_eq(cfg->n_files, 1);
	ck_assert_str_eq(cfg->files[0], "mem.ini");
	ck_assert_uint_eq(cfg->n_sections, 3);

	const struct config_section *b = cfg->sections[0];
	ck_assert_str_eq(b->kind, "broker");
	ck_assert_str_eq(b->label, "");
	ck_assert_str_eq(b->file, "mem.ini");
	ck_assert_int_eq(b->line, 2);
	ck_assert_uint_eq(b->n_entries, 2);
	assert_entry(b, 0, "log_level", "info", 3);
	assert_entry(b, 1, "node_id", "abc", 4);

	const struct config_section *p = cfg->sections[1];
	ck_assert_str_eq(p->kind, "plugin");
	ck_assert_str_eq(p->label, "ws");
	ck_assert_int_eq(p->line, 6);
	ck_assert_uint_eq(p->n_entries, 1);
	assert_entry(p, 0, "module", "websocket", 7);

	const struct config_section *r = cfg->sections[2];
	ck_assert_str_eq(r->kind, "route");
	ck_assert_str_eq(r->label, "q.1-a_B");
	ck_assert_int_eq(r->line, 8);
	assert_entry(r, 0, "type", "query", 9);

	ck_assert_ptr_eq(config_find(cfg, "plugin", "ws"), p);
	ck_assert_ptr_eq(config_find(cfg, "broker", ""), b);
	ck_assert_ptr_null(config_find(cfg, "plugin", "wss"));
	ck_assert_ptr_null(config_find(cfg, "plugin", ""));
	ck_assert_ptr_eq(config_entry(b, "node_id"), &b->entries[1]);
	ck_assert_ptr_null(config_entry(b, "module"));

	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_whole_line_comments)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "# hash comment\n"         /* 1 */
	                                        "[broker]\n"               /* 2 */
	                                        "; semicolon comment\n"    /* 3 */
	                                        "   ; indented comment\n"  /* 4 */
	                                        "\t# indented hash\n"      /* 5 */
	                                        ";key = not an entry\n"    /* 6 */
	                                        "#[plugin:x]\n"            /* 7 */
	                                        "real = yes\n",            /* 8 */
	                                        &d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_uint_eq(cfg->n_sections, 1);
	ck_assert_uint_eq(cfg->sections[0]->n_entries, 1);
	assert_entry(cfg->sections[0], 0, "real", "yes", 8);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_semicolon_inside_value_is_kept)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[plugin:x]\n"
	                                        "command = sh -c 'a; b' ; not a comment\n"
	                                        "url = http://host/path#frag\n"
	                                        "after = ; leading\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 0);
	const struct config_section *s = cfg->sections[0];
	ck_assert_uint_eq(s->n_entries, 3);
	assert_entry(s, 0, "command", "sh -c 'a; b' ; not a comment", 2);
	assert_entry(s, 1, "url", "http://host/path#frag", 3);
	assert_entry(s, 2, "after", "; leading", 4);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_crlf_line_endings)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[broker]\r\n"
	                                        "a = 1\r\n"
	                                        "\r\n"
	                                        "[route:r]\r\n"
	                                        "b = two words\r\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_uint_eq(cfg->n_sections, 2);
	ck_assert_str_eq(cfg->sections[1]->label, "r");
	ck_assert_int_eq(cfg->sections[1]->line, 4);
	assert_entry(cfg->sections[0], 0, "a", "1", 2);
	assert_entry(cfg->sections[1], 0, "b", "two words", 5);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_utf8_bom_is_skipped)
{
	/* Editors on Windows start files with a byte order mark. */
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "\xEF\xBB\xBF[broker]\n"
	                                        "a = 1\n",
	                                        &d);
	ck_assert_msg(d.count == 0, "unexpected diag: %s", d.count ? d.lines[0] : "");
	ck_assert_uint_eq(cfg->n_sections, 1);
	ck_assert_str_eq(cfg->sections[0]->kind, "broker");
	ck_assert_int_eq(cfg->sections[0]->line, 1);
	assert_entry(cfg->sections[0], 0, "a", "1", 2);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_empty_section_is_kept)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[plugin:empty]\n"
	                                        "; nothing here\n"
	                                        "[broker]\n"
	                                        "a = 1\n"
	                                        "[route:last]\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_uint_eq(cfg->n_sections, 3);
	ck_assert_str_eq(cfg->sections[0]->label, "empty");
	ck_assert_uint_eq(cfg->sections[0]->n_entries, 0);
	ck_assert_int_eq(cfg->sections[0]->line, 1);
	ck_assert_uint_eq(cfg->sections[1]->n_entries, 1);
	ck_assert_str_eq(cfg->sections[2]->kind, "route");
	ck_assert_str_eq(cfg->sections[2]->label, "last");
	ck_assert_int_eq(cfg->sections[2]->line, 5);
	ck_assert_uint_eq(cfg->sections[2]->n_entries, 0);
	ck_assert_ptr_eq(config_find(cfg, "route", "last"), cfg->sections[2]);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_empty_text)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini", "", &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_uint_eq(cfg->n_sections, 0);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

/* ---- errors --------------------------------------------------------------- */

START_TEST(test_syntax_error_line)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[broker]\n"              /* 1 */
	                                        "a = 1\n"                 /* 2 */
	                                        "; fine\n"                /* 3 */
	                                        "this line has no equals\n" /* 4 */
	                                        "b = 2\n",                /* 5 */
	                                        &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:4: ", "syntax error");
	/* Parsing goes on after the bad line, so the rest is still read. */
	const struct config_section *s = cfg->sections[0];
	ck_assert_uint_eq(s->n_entries, 2);
	assert_entry(s, 1, "b", "2", 5);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_every_syntax_error_is_listed)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[broker]\n"      /* 1 */
	                                        "oops\n"          /* 2 */
	                                        "a = 1\n"         /* 3 */
	                                        "  [plugin:x\n"   /* 4 */
	                                        "# fine\n"        /* 5 */
	                                        "also wrong\n",   /* 6 */
	                                        &d);
	ck_assert_uint_eq(d.count, 3);
	ck_assert_diag(&d, 0, "mem.ini:2: ", "syntax error");
	ck_assert_diag(&d, 1, "mem.ini:4: ", "syntax error");
	ck_assert_diag(&d, 2, "mem.ini:6: ", "syntax error");
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_unclosed_header_is_syntax_error)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[broker]\n"
	                                        "\n"
	                                        "[route:x\n"
	                                        "a = 1\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:3: ", "syntax error");
	ck_assert_uint_eq(cfg->n_sections, 1);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_duplicate_key)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[broker]\n"  /* 1 */
	                                        "a = 1\n"     /* 2 */
	                                        "b = x\n"     /* 3 */
	                                        "\n"          /* 4 */
	                                        "a = 2\n",    /* 5 */
	                                        &d);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:5: ", "a: duplicate key (first set at line 2)");
	const struct config_section *s = cfg->sections[0];
	ck_assert_uint_eq(s->n_entries, 2);
	ck_assert_str_eq(config_entry(s, "a")->value, "1");
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_same_key_in_two_sections_is_fine)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[route:a]\ntype = x\n[route:b]\ntype = y\n", &d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_str_eq(config_entry(cfg->sections[0], "type")->value, "x");
	ck_assert_str_eq(config_entry(cfg->sections[1], "type")->value, "y");
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_key_outside_section)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "; header comment\n"
	                                        "stray = 1\n"
	                                        "[broker]\n"
	                                        "a = 1\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:2: ", "'stray' is outside any [section]");
	ck_assert_uint_eq(cfg->n_sections, 1);
	ck_assert_uint_eq(cfg->sections[0]->n_entries, 1);
	assert_entry(cfg->sections[0], 0, "a", "1", 4);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_section_label_bad_characters)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[broker]\n"
	                                        "[route:a b]\n"
	                                        "[plugin:x/y]\n"
	                                        "[route:ok-1.2_3]\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 2);
	ck_assert_diag(&d, 0, "mem.ini:2: ", "section [route:a b]: names may use letters");
	ck_assert_diag(&d, 1, "mem.ini:3: ", "section [plugin:x/y]: names may use letters");
	/* The sections are still listed, so later checks can name them. */
	ck_assert_uint_eq(cfg->n_sections, 4);
	ck_assert_str_eq(cfg->sections[1]->label, "a b");
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_section_empty_name_after_colon)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[broker]\n"
	                                        "[plugin:]\n"
	                                        "module = x\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:2: ", "section [plugin:] needs a name after ':'");
	ck_assert_uint_eq(cfg->n_sections, 2);
	ck_assert_str_eq(cfg->sections[1]->kind, "plugin");
	ck_assert_str_eq(cfg->sections[1]->label, "");
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_nul_byte_refused)
{
	char *dir = make_test_dir();
	char *path = join(dir, "agentbus.ini");
	FILE *f = fopen(path, "wb");
	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite("[broker]\na = 1\0\n", 1, 16, f), 16);
	ck_assert_int_eq(fclose(f), 0);

	struct diag d = { 0 };
	struct config *cfg = config_load(path, &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.count, 1);
	char *prefix = NULL;
	ck_assert_int_ge(asprintf(&prefix, "%s: ", path), 0);
	ck_assert_diag(&d, 0, prefix, "contains a NUL byte");
	free(prefix);
	config_unref(cfg);
	diag_clear(&d);
	free(path);
	free(dir);
}
END_TEST

/* ---- line length ---------------------------------------------------------- */

static char *line_of_width(size_t width)
{
	/* "k = " then x's: `width` bytes before the newline. */
	char *text = malloc(width + 32);
	ck_assert_ptr_nonnull(text);
	strcpy(text, "[broker]\nk = ");
	size_t at = strlen(text);
	memset(text + at, 'x', width - 4);
	strcpy(text + at + width - 4, "\nnext = 1\n");
	return text;
}

START_TEST(test_longest_line_accepted)
{
	char *text = line_of_width(65534);
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini", text, &d);
	ck_assert_msg(d.count == 0, "unexpected diag: %s", d.count ? d.lines[0] : "");
	const struct config_section *s = cfg->sections[0];
	ck_assert_uint_eq(s->n_entries, 2);
	ck_assert_str_eq(s->entries[0].key, "k");
	ck_assert_uint_eq(strlen(s->entries[0].value), 65530);
	ck_assert_int_eq(s->entries[0].line, 2);
	assert_entry(s, 1, "next", "1", 3);
	config_unref(cfg);
	diag_clear(&d);
	free(text);
}
END_TEST

/* A value that is not UTF-8 (Latin-1, say) names its file and line. */
START_TEST(test_text_that_is_not_utf8_refused)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("latin1.ini", "[broker]\nnode_id = caf\xe9\n", &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "latin1.ini:2: ", "not UTF-8");
	config_unref(cfg);
	diag_clear(&d);
	cfg = config_load_string("utf8.ini", "[broker]\nnode_id = caf\xc3\xa9\n", &d);
	ck_assert_uint_eq(d.count, 0);
	config_unref(cfg);
}
END_TEST

START_TEST(test_too_long_line_refused)
{
	char *text = line_of_width(65535);
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini", text, &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:2: ", "line longer than 65534 bytes");
	config_unref(cfg);
	diag_clear(&d);
	free(text);
}
END_TEST

/* ---- ${VAR} expansion ----------------------------------------------------- */

START_TEST(test_env_expansion)
{
	ck_assert_int_eq(setenv("AB_TEST_HOST", "example.org", 1), 0);
	ck_assert_int_eq(unsetenv("AB_TEST_UNSET"), 0);
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[plugin:x]\n"
	                                        "url = http://${AB_TEST_HOST}:80/\n"
	                                        "twice = ${AB_TEST_HOST}${AB_TEST_HOST}\n"
	                                        "fallback = ${AB_TEST_UNSET:-local host}\n"
	                                        "empty_default = [${AB_TEST_UNSET:-}]\n"
	                                        "set_default = ${AB_TEST_HOST:-ignored}\n"
	                                        "dollars = $$HOME and $${AB_TEST_HOST}\n"
	                                        "lone = a $ b $\n"
	                                        "price = 5$\n",
	                                        &d);
	ck_assert_msg(d.count == 0, "unexpected diag: %s", d.count ? d.lines[0] : "");
	const struct config_section *s = cfg->sections[0];
	ck_assert_str_eq(config_entry(s, "url")->value, "http://example.org:80/");
	ck_assert_str_eq(config_entry(s, "twice")->value, "example.orgexample.org");
	ck_assert_str_eq(config_entry(s, "fallback")->value, "local host");
	ck_assert_str_eq(config_entry(s, "empty_default")->value, "[]");
	ck_assert_str_eq(config_entry(s, "set_default")->value, "example.org");
	ck_assert_str_eq(config_entry(s, "dollars")->value, "$HOME and ${AB_TEST_HOST}");
	ck_assert_str_eq(config_entry(s, "lone")->value, "a $ b $");
	ck_assert_str_eq(config_entry(s, "price")->value, "5$");
	config_unref(cfg);
	diag_clear(&d);
	unsetenv("AB_TEST_HOST");
}
END_TEST

START_TEST(test_env_unset_without_default)
{
	ck_assert_int_eq(unsetenv("AB_TEST_UNSET"), 0);
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[plugin:x]\n"
	                                        "ok = 1\n"
	                                        "token = Bearer ${AB_TEST_UNSET}\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:3: ", "token: environment variable AB_TEST_UNSET is not set");
	/* The entry is left out rather than kept half-expanded. */
	ck_assert_ptr_null(config_entry(cfg->sections[0], "token"));
	ck_assert_uint_eq(cfg->sections[0]->n_entries, 1);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_env_empty_and_nested)
{
	ck_assert_int_eq(setenv("AB_TEST_EMPTY", "", 1), 0);
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[plugin:x]\n"
	                                        "plain = [${AB_TEST_EMPTY}]\n"
	                                        "dflt = ${AB_TEST_EMPTY:-used}\n"
	                                        "nested = ${AB_TEST_UNSET:-${AB_TEST_EMPTY}}\n",
	                                        &d);
	/* As in the shell: an empty variable is empty, and :- replaces it. */
	ck_assert_str_eq(config_entry(cfg->sections[0], "plain")->value, "[]");
	ck_assert_str_eq(config_entry(cfg->sections[0], "dflt")->value, "used");
	/* A default holding another reference is refused, not cut at its '}'. */
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:4: ", "nested: a default may not hold another ${...}");
	config_unref(cfg);
	diag_clear(&d);
	unsetenv("AB_TEST_EMPTY");
}
END_TEST

START_TEST(test_env_unterminated)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[plugin:x]\n"
	                                        "\n"
	                                        "a = ${AB_TEST_HOST\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "mem.ini:3: ", "a: unterminated '${' in value");
	ck_assert_uint_eq(cfg->sections[0]->n_entries, 0);
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_env_bad_reference)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini",
	                                        "[plugin:x]\n"
	                                        "a = ${}\n"
	                                        "b = ${1ABC}\n"
	                                        "c = ${A-B}\n",
	                                        &d);
	ck_assert_uint_eq(d.count, 3);
	ck_assert_diag(&d, 0, "mem.ini:2: ", "a: bad variable reference '${}'");
	ck_assert_diag(&d, 1, "mem.ini:3: ", "b: bad variable reference '${1ABC}'");
	ck_assert_diag(&d, 2, "mem.ini:4: ", "c: bad variable reference '${A-B}'");
	config_unref(cfg);
	diag_clear(&d);
}
END_TEST

START_TEST(test_expand_env_direct)
{
	ck_assert_int_eq(setenv("AB_TEST_DIRECT", "v", 1), 0);
	struct diag d = { 0 };
	char *out = config_expand_env("<${AB_TEST_DIRECT}>", "f.ini", 7, "k", &d);
	ck_assert_str_eq(out, "<v>");
	free(out);
	ck_assert_ptr_null(config_expand_env("${AB_TEST_NOPE_NOPE}", "f.ini", 7, "k", &d));
	ck_assert_uint_eq(d.count, 1);
	ck_assert_diag(&d, 0, "f.ini:7: ", "k: environment variable AB_TEST_NOPE_NOPE is not set");
	diag_clear(&d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_ptr_null(d.lines);
	unsetenv("AB_TEST_DIRECT");
}
END_TEST

/* ---- files and conf.d ----------------------------------------------------- */

START_TEST(test_load_file_with_conf_d)
{
	char *dir = make_test_dir();
	write_file(dir, "agentbus.ini", "[broker]\nlog_level = debug\n");
	char *confd = join(dir, "conf.d");
	ck_assert_int_eq(mkdir(confd, 0755), 0);
	/* strcmp order: "10-x.ini" < "B.ini" < "a.ini" < "b.ini". */
	write_file(confd, "b.ini", "[route:b]\ntype = b\n");
	write_file(confd, "a.ini", "; first line\n[route:a]\ntype = a\n");
	write_file(confd, "B.ini", "[route:B]\n");
	write_file(confd, "10-x.ini", "[route:ten]\n");
	/* Not read: other suffixes, dotfiles, a bare ".ini". */
	write_file(confd, "notes.txt", "[route:txt]\n");
	write_file(confd, "c.ini.bak", "[route:bak]\n");
	write_file(confd, "d.ini~", "[route:tilde]\n");
	write_file(confd, ".hidden.ini", "[route:hidden]\n");
	write_file(confd, ".ini", "[route:dot]\n");
	write_file(confd, "README", "not ini at all\n");

	char *main_path = join(dir, "agentbus.ini");
	struct diag d = { 0 };
	struct config *cfg = config_load(main_path, &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_msg(d.count == 0, "unexpected diag: %s", d.count ? d.lines[0] : "");
	ck_assert_str_eq(cfg->main_file, main_path);

	static const char *const labels[] = { "", "ten", "B", "a", "b" };
	static const char *const files[] = { "agentbus.ini", "conf.d/10-x.ini", "conf.d/B.ini",
		                             "conf.d/a.ini", "conf.d/b.ini" };
	static const int lines[] = { 1, 1, 1, 2, 1 };
	ck_assert_uint_eq(cfg->n_sections, 5);
	ck_assert_uint_eq(cfg->n_files, 5);
	for (size_t i = 0; i < 5; i++) {
		char *expect = join(dir, files[i]);
		ck_assert_str_eq(cfg->sections[i]->label, labels[i]);
		ck_assert_str_eq(cfg->sections[i]->file, expect);
		ck_assert_str_eq(cfg->files[i], expect);
		ck_assert_int_eq(cfg->sections[i]->line, lines[i]);
		free(expect);
	}
	ck_assert_str_eq(cfg->sections[0]->kind, "broker");
	assert_entry(cfg->sections[0], 0, "log_level", "debug", 2);
	assert_entry(cfg->sections[3], 0, "type", "a", 3);

	config_unref(cfg);
	diag_clear(&d);
	free(main_path);
	free(confd);
	free(dir);
}
END_TEST

START_TEST(test_conf_d_without_ini_files_is_fine)
{
	char *dir = make_test_dir();
	write_file(dir, "agentbus.ini", "[broker]\n");
	char *confd = join(dir, "conf.d");
	ck_assert_int_eq(mkdir(confd, 0755), 0);
	write_file(confd, "README", "what goes here\n");
	char *main_path = join(dir, "agentbus.ini");
	struct diag d = { 0 };
	struct config *cfg = config_load(main_path, &d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_uint_eq(cfg->n_sections, 1);
	ck_assert_uint_eq(cfg->n_files, 1);
	config_unref(cfg);
	free(main_path);
	free(confd);
	free(dir);
}
END_TEST

START_TEST(test_conf_d_errors_name_their_file)
{
	char *dir = make_test_dir();
	write_file(dir, "agentbus.ini", "[broker]\na = 1\n");
	char *confd = join(dir, "conf.d");
	ck_assert_int_eq(mkdir(confd, 0755), 0);
	write_file(confd, "routes.ini", "[route:r]\ntype = t\n\ntype = u\n");
	write_file(confd, "zz.ini", "[route:z]\nbroken line\n");

	char *main_path = join(dir, "agentbus.ini");
	struct diag d = { 0 };
	struct config *cfg = config_load(main_path, &d);
	ck_assert_uint_eq(d.count, 2);
	char *p1 = NULL, *p2 = NULL;
	ck_assert_int_ge(asprintf(&p1, "%s/routes.ini:4: ", confd), 0);
	ck_assert_int_ge(asprintf(&p2, "%s/zz.ini:2: ", confd), 0);
	ck_assert_diag(&d, 0, p1, "type: duplicate key (first set at line 2)");
	ck_assert_diag(&d, 1, p2, "syntax error");
	free(p1);
	free(p2);
	config_unref(cfg);
	diag_clear(&d);
	free(main_path);
	free(confd);
	free(dir);
}
END_TEST

START_TEST(test_no_conf_d_is_fine)
{
	char *dir = make_test_dir();
	write_file(dir, "main.ini", "[broker]\n");
	char *main_path = join(dir, "main.ini");
	struct diag d = { 0 };
	struct config *cfg = config_load(main_path, &d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_uint_eq(cfg->n_sections, 1);
	ck_assert_uint_eq(cfg->n_files, 1);
	config_unref(cfg);
	diag_clear(&d);
	free(main_path);
	free(dir);
}
END_TEST

START_TEST(test_missing_main_file)
{
	char *dir = make_test_dir();
	char *path = join(dir, "absent.ini");
	struct diag d = { 0 };
	struct config *cfg = config_load(path, &d);
	ck_assert_ptr_nonnull(cfg);
	ck_assert_uint_eq(d.count, 1);
	char *prefix = NULL;
	ck_assert_int_ge(asprintf(&prefix, "%s: ", path), 0);
	ck_assert_diag(&d, 0, prefix, "cannot open");
	ck_assert_ptr_nonnull(strstr(d.lines[0], strerror(ENOENT)));
	ck_assert_uint_eq(cfg->n_sections, 0);
	free(prefix);
	config_unref(cfg);
	diag_clear(&d);
	free(path);
	free(dir);
}
END_TEST

/* ---- references and diag -------------------------------------------------- */

START_TEST(test_config_refcount)
{
	struct diag d = { 0 };
	struct config *cfg = config_load_string("mem.ini", "[broker]\na = 1\n", &d);
	ck_assert_uint_eq(cfg->refs, 1);
	ck_assert_ptr_eq(config_ref(cfg), cfg);
	ck_assert_uint_eq(cfg->refs, 2);
	config_unref(cfg);
	ck_assert_uint_eq(cfg->refs, 1);
	/* Still whole after one release. */
	ck_assert_str_eq(cfg->sections[0]->entries[0].value, "1");
	config_unref(cfg); /* frees; ASan reports a leak or a double free */
	config_unref(NULL);
	diag_clear(&d);
}
END_TEST

START_TEST(test_diag_format)
{
	struct diag d = { 0 };
	diag_add(&d, "a.ini", 12, "bad %s %d", "thing", 3);
	diag_add(&d, "b.ini", 0, "whole file");
	for (int i = 0; i < 20; i++)
		diag_add(&d, "c.ini", i + 1, "n%d", i);
	ck_assert_uint_eq(d.count, 22);
	ck_assert_str_eq(d.lines[0], "a.ini:12: bad thing 3");
	ck_assert_str_eq(d.lines[1], "b.ini: whole file");
	ck_assert_str_eq(d.lines[2], "c.ini:1: n0");
	ck_assert_str_eq(d.lines[21], "c.ini:20: n19");
	diag_clear(&d);
	ck_assert_uint_eq(d.count, 0);
	ck_assert_uint_eq(d.capacity, 0);
	ck_assert_ptr_null(d.lines);
	diag_clear(&d); /* clearing twice is harmless */
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_sections_and_entries);
	tcase_add_test(tc, test_whole_line_comments);
	tcase_add_test(tc, test_semicolon_inside_value_is_kept);
	tcase_add_test(tc, test_crlf_line_endings);
	tcase_add_test(tc, test_utf8_bom_is_skipped);
	tcase_add_test(tc, test_empty_section_is_kept);
	tcase_add_test(tc, test_empty_text);
	suite_add_tcase(s, tc);

	tc = tcase_create("errors");
	tcase_add_test(tc, test_syntax_error_line);
	tcase_add_test(tc, test_unclosed_header_is_syntax_error);
	tcase_add_test(tc, test_every_syntax_error_is_listed);
	tcase_add_test(tc, test_duplicate_key);
	tcase_add_test(tc, test_same_key_in_two_sections_is_fine);
	tcase_add_test(tc, test_key_outside_section);
	tcase_add_test(tc, test_section_label_bad_characters);
	tcase_add_test(tc, test_section_empty_name_after_colon);
	tcase_add_test(tc, test_longest_line_accepted);
	tcase_add_test(tc, test_too_long_line_refused);
	tcase_add_test(tc, test_text_that_is_not_utf8_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("env");
	tcase_add_test(tc, test_env_expansion);
	tcase_add_test(tc, test_env_unset_without_default);
	tcase_add_test(tc, test_env_unterminated);
	tcase_add_test(tc, test_env_empty_and_nested);
	tcase_add_test(tc, test_env_bad_reference);
	tcase_add_test(tc, test_expand_env_direct);
	suite_add_tcase(s, tc);

	tc = tcase_create("files");
	tcase_add_unchecked_fixture(tc, base_setup, base_teardown);
	tcase_add_test(tc, test_nul_byte_refused);
	tcase_add_test(tc, test_load_file_with_conf_d);
	tcase_add_test(tc, test_conf_d_without_ini_files_is_fine);
	tcase_add_test(tc, test_conf_d_errors_name_their_file);
	tcase_add_test(tc, test_no_conf_d_is_fine);
	tcase_add_test(tc, test_missing_main_file);
	suite_add_tcase(s, tc);

	tc = tcase_create("lifetime");
	tcase_add_test(tc, test_config_refcount);
	tcase_add_test(tc, test_diag_format);
	suite_add_tcase(s, tc);
	return s;
}
