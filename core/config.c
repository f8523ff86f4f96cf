#include "build-config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ini.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <agentbus/json.h>

#include "core/config.h"
#include "core/log.h"

/* Longest line we accept; inih reads lines through our reader below. */
#define CONFIG_MAX_LINE 65536
/* Largest config file we read. */
#define CONFIG_MAX_FILE (4 * 1024 * 1024)

/* One file being parsed: inih pulls its lines through reader_next, which
 * counts lines and notices section headers, since Debian's libinih does not
 * pass line numbers to the handler. */
struct parse {
	struct config *cfg;
	struct diag *diag;
	const char *file; /* owned by cfg */
	const char *data;
	size_t len, pos;
	int newlines;    /* newlines handed out so far */
	int line;        /* the line inih is working on */
	size_t syntax_errors;
	struct config_section *current; /* the last header read, or NULL */
};

static bool valid_name_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '-' || c == '.';
}

static struct config_section *add_section(struct parse *p, const char *header, size_t len)
{
	char *name = strndup(header, len);
	struct config_section *s = calloc(1, sizeof *s);
	if (!name || !s)
		goto fail;
	char *colon = strchr(name, ':');
	s->kind = strndup(name, colon ? (size_t)(colon - name) : len);
	s->label = strdup(colon ? colon + 1 : "");
	if (!s->kind || !s->label)
		goto fail;
	for (const char *c = s->label; *c; c++) {
		if (!valid_name_char(*c)) {
			diag_add(p->diag, p->file, p->line,
			         "section [%s]: names may use letters, digits, '_', '-' and '.'", name);
			break;
		}
	}
	if (colon && !*s->label)
		diag_add(p->diag, p->file, p->line, "section [%s] needs a name after ':'", name);
	s->file = p->file;
	s->line = p->line;
	struct config *cfg = p->cfg;
	if (cfg->n_sections == cfg->cap_sections) {
		size_t cap = cfg->cap_sections ? cfg->cap_sections * 2 : 16;
		struct config_section **grown = realloc(cfg->sections, cap * sizeof *grown);
		if (!grown)
			goto fail;
		cfg->sections = grown;
		cfg->cap_sections = cap;
	}
	cfg->sections[cfg->n_sections++] = s;
	free(name);
	return s;
fail:
	free(name);
	if (s) {
		free(s->kind);
		free(s->label);
		free(s);
	}
	return NULL;
}

static void syntax_error(struct parse *p)
{
	diag_add(p->diag, p->file, p->line,
	         "syntax error: expected '[section]', 'key = value' or a comment");
	p->syntax_errors++;
}

/* Look at the line about to be handed to inih: record a section header,
 * and report a line inih will refuse (libinih reports only the first such
 * line; we report them all). */
static void notice_line(struct parse *p)
{
	const char *at = p->data + p->pos, *end = p->data + p->len;
	const char *eol = memchr(at, '\n', (size_t)(end - at));
	if (!eol)
		eol = end;
	/* inih skips a UTF-8 byte order mark on the first line; so must we. */
	if (p->pos == 0 && p->len >= 3 && memcmp(at, "\xEF\xBB\xBF", 3) == 0)
		at += 3;
	while (at < eol && (*at == ' ' || *at == '\t' || *at == '\r'))
		at++;
	if (at == eol || *at == ';' || *at == '#')
		return;
	if (*at == '[') {
		const char *close = memchr(at, ']', (size_t)(eol - at));
		if (!close)
			syntax_error(p);
		else
			p->current = add_section(p, at + 1, (size_t)(close - at - 1));
		return;
	}
	if (!memchr(at, '=', (size_t)(eol - at)) && !memchr(at, ':', (size_t)(eol - at)))
		syntax_error(p);
}

static char *reader_next(char *str, int num, void *stream)
{
	struct parse *p = stream;
	if (p->pos >= p->len)
		return NULL;
	if (p->pos == 0 || p->data[p->pos - 1] == '\n') {
		p->line = p->newlines + 1;
		notice_line(p);
	}
	size_t room = (size_t)num - 1, n = 0;
	while (n < room && p->pos + n < p->len) {
		if (p->data[p->pos + n++] == '\n') {
			p->newlines++;
			break;
		}
	}
	memcpy(str, p->data + p->pos, n);
	str[n] = '\0';
	p->pos += n;
	return str;
}

static int on_entry(void *user, const char *section, const char *key, const char *value)
{
	struct parse *p = user;
	struct config_section *s = p->current;
	if (!s) {
		diag_add(p->diag, p->file, p->line, "'%s' is outside any [section]", key);
		return 1;
	}
	const struct config_entry *first = config_entry(s, key);
	if (first) {
		diag_add(p->diag, p->file, p->line, "%s: duplicate key (first set at line %d)", key,
		         first->line);
		return 1;
	}
	char *expanded = config_expand_env(value, p->file, p->line, key, p->diag);
	if (!expanded)
		return 1;
	if (s->n_entries == s->cap_entries) {
		size_t cap = s->cap_entries ? s->cap_entries * 2 : 8;
		struct config_entry *grown = realloc(s->entries, cap * sizeof *grown);
		if (!grown) {
			free(expanded);
			return 0;
		}
		s->entries = grown;
		s->cap_entries = cap;
	}
	s->entries[s->n_entries++] = (struct config_entry){
		.key = strdup(key), .value = expanded, .line = p->line
	};
	return 1;
}

static const char *keep_file_name(struct config *cfg, const char *name)
{
	char **grown = realloc(cfg->files, (cfg->n_files + 1) * sizeof *grown);
	if (!grown)
		return NULL;
	cfg->files = grown;
	cfg->files[cfg->n_files] = strdup(name);
	return cfg->files[cfg->n_files++];
}

static void parse_text(struct config *cfg, const char *name, const char *text, size_t len,
                       struct diag *d)
{
	/* Debian's libinih makes these run-time settings: no length limit short
	 * of ours, values keep ';' and '#' (URLs, command lines), and no
	 * indented continuation lines (a stray indent must not glue lines). */
	ini_use_stack = false;
	ini_allow_realloc = true;
	ini_max_line = CONFIG_MAX_LINE;
	ini_allow_inline_comments = false;
	ini_allow_multiline = false;
	ini_stop_on_first_error = false;

	struct parse p = { .cfg = cfg, .diag = d, .data = text, .len = len };
	p.file = keep_file_name(cfg, name);
	if (!p.file)
		return;
	if (memchr(text, '\0', len)) {
		diag_add(d, name, 0, "contains a NUL byte");
		return;
	}
	int line = 1;
	for (const char *at = text, *end = text + len; at < end; line++) {
		const char *nl = memchr(at, '\n', (size_t)(end - at));
		size_t width = (size_t)((nl ? nl : end) - at);
		if (width >= CONFIG_MAX_LINE - 1) {
			diag_add(d, name, line, "line longer than %d bytes", CONFIG_MAX_LINE - 2);
			return;
		}
		/* Values end up in messages and JSON answers, which are UTF-8 */
		if (!ab_json_utf8_valid(at, width)) {
			diag_add(d, name, line, "not UTF-8 (a config is read as UTF-8 text)");
			return;
		}
		at = nl ? nl + 1 : end;
	}
	int bad_line = ini_parse_stream(reader_next, &p, on_entry, &p);
	if (bad_line > 0 && p.syntax_errors == 0) /* one we did not foresee */
		diag_add(d, name, bad_line, "syntax error: expected '[section]', 'key = value' or a comment");
	else if (bad_line < 0)
		diag_add(d, name, 0, "out of memory while parsing");
}

static char *read_file(const char *path, size_t *len, struct diag *d)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		diag_add(d, path, 0, "cannot open: %s", strerror(errno));
		return NULL;
	}
	char *data = malloc(CONFIG_MAX_FILE + 1);
	size_t n = data ? fread(data, 1, CONFIG_MAX_FILE + 1, f) : 0;
	bool failed = !data || ferror(f);
	fclose(f);
	if (failed) {
		diag_add(d, path, 0, "cannot read");
		free(data);
		return NULL;
	}
	if (n > CONFIG_MAX_FILE) {
		diag_add(d, path, 0, "larger than %d bytes", CONFIG_MAX_FILE);
		free(data);
		return NULL;
	}
	data[n] = '\0';
	*len = n;
	return data;
}

static void parse_file(struct config *cfg, const char *path, struct diag *d)
{
	size_t len;
	char *text = read_file(path, &len, d);
	if (text)
		parse_text(cfg, path, text, len, d);
	free(text);
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.ini files of conf.d beside the main file, in byte order (not the
 * locale's). */
static void parse_conf_d(struct config *cfg, const char *main_path, struct diag *d)
{
	char *copy = strdup(main_path);
	if (!copy)
		return;
	char *dir = NULL;
	if (asprintf(&dir, "%s/conf.d", dirname(copy)) < 0) {
		free(copy);
		return;
	}
	free(copy);
	DIR *dh = opendir(dir);
	if (!dh) {
		if (errno != ENOENT)
			diag_add(d, dir, 0, "cannot open: %s", strerror(errno));
		free(dir);
		return;
	}
	char **names = NULL;
	size_t n = 0;
	for (struct dirent *e; (e = readdir(dh));) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.' || len < 5 || strcmp(e->d_name + len - 4, ".ini") != 0)
			continue;
		char **grown = realloc(names, (n + 1) * sizeof *grown);
		if (!grown)
			break;
		names = grown;
		names[n++] = strdup(e->d_name);
	}
	closedir(dh);
	if (n > 0)
		qsort(names, n, sizeof *names, compare_names);
	for (size_t i = 0; i < n; i++) {
		char *path = NULL;
		if (names[i] && asprintf(&path, "%s/%s", dir, names[i]) >= 0)
			parse_file(cfg, path, d);
		free(path);
		free(names[i]);
	}
	free(names);
	free(dir);
}

static struct config *config_new(const char *main_file)
{
	struct config *cfg = calloc(1, sizeof *cfg);
	if (!cfg || !(cfg->main_file = strdup(main_file))) {
		free(cfg);
		return NULL;
	}
	cfg->refs = 1;
	return cfg;
}

struct config *config_load(const char *path, struct diag *d)
{
	struct config *cfg = config_new(path);
	if (!cfg)
		return NULL;
	parse_file(cfg, path, d);
	parse_conf_d(cfg, path, d);
	return cfg;
}

struct config *config_load_string(const char *name, const char *text, struct diag *d)
{
	struct config *cfg = config_new(name);
	if (!cfg)
		return NULL;
	parse_text(cfg, name, text, strlen(text), d);
	return cfg;
}

struct config *config_ref(struct config *cfg)
{
	cfg->refs++;
	return cfg;
}

void config_unref(struct config *cfg)
{
	if (!cfg || --cfg->refs > 0)
		return;
	for (size_t i = 0; i < cfg->n_sections; i++) {
		struct config_section *s = cfg->sections[i];
		for (size_t j = 0; j < s->n_entries; j++) {
			free(s->entries[j].key);
			free(s->entries[j].value);
		}
		free(s->entries);
		free(s->kind);
		free(s->label);
		free(s);
	}
	free(cfg->sections);
	for (size_t i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	free(cfg->main_file);
	free(cfg);
}

const struct config_section *config_find(const struct config *cfg, const char *kind,
                                         const char *label)
{
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct config_section *s = cfg->sections[i];
		if (strcmp(s->kind, kind) == 0 && strcmp(s->label, label) == 0)
			return s;
	}
	return NULL;
}

const struct config_entry *config_entry(const struct config_section *s, const char *key)
{
	for (size_t i = 0; i < s->n_entries; i++) {
		if (strcmp(s->entries[i].key, key) == 0)
			return &s->entries[i];
	}
	return NULL;
}

/* ---- ${VAR} expansion --------------------------------------------------- */

struct buf {
	char *data;
	size_t len, cap;
};

static bool buf_add(struct buf *b, const char *text, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;
		char *grown = realloc(b->data, cap);
		if (!grown)
			return false;
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, text, len);
	b->len += len;
	b->data[b->len] = '\0';
	return true;
}

char *config_expand_env(const char *value, const char *file, int line, const char *key,
                        struct diag *d)
{
	struct buf out = { 0 };
	if (!buf_add(&out, "", 0))
		return NULL;
	for (const char *at = value; *at;) {
		const char *dollar = strchr(at, '$');
		if (!dollar) {
			if (!buf_add(&out, at, strlen(at)))
				goto oom;
			break;
		}
		if (!buf_add(&out, at, (size_t)(dollar - at)))
			goto oom;
		if (dollar[1] == '$') { /* $$: a literal dollar */
			if (!buf_add(&out, "$", 1))
				goto oom;
			at = dollar + 2;
			continue;
		}
		if (dollar[1] != '{') { /* a lone $ stands for itself */
			if (!buf_add(&out, "$", 1))
				goto oom;
			at = dollar + 1;
			continue;
		}
		const char *name = dollar + 2, *close = strchr(name, '}');
		if (!close) {
			diag_add(d, file, line, "%s: unterminated '${' in value", key);
			goto fail;
		}
		size_t name_len = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_");
		const char *after = name + name_len;
		bool has_default = after[0] == ':' && after[1] == '-';
		if (name_len == 0 || isdigit((unsigned char)name[0]) || (after != close && !has_default)) {
			diag_add(d, file, line, "%s: bad variable reference '%.*s'", key,
			         (int)(close - dollar + 1), dollar);
			goto fail;
		}
		if (has_default && memmem(after + 2, (size_t)(close - after - 2), "${", 2)) {
			diag_add(d, file, line, "%s: a default may not hold another ${...}", key);
			goto fail;
		}
		char *var = strndup(name, name_len);
		if (!var)
			goto oom;
		const char *env = getenv(var);
		/* As the shell: ${VAR} is VAR's value even when empty; ${VAR:-d}
		 * takes the default when VAR is unset or empty. */
		if (env && (*env || !has_default)) {
			if (!buf_add(&out, env, strlen(env))) {
				free(var);
				goto oom;
			}
		} else if (has_default) {
			const char *def = after + 2;
			log_msg(AB_LOG_WARNING, "config", "%s:%d: %s: %s is not set, using the default '%.*s'",
			        file, line, key, var, (int)(close - def), def);
			if (!buf_add(&out, def, (size_t)(close - def))) {
				free(var);
				goto oom;
			}
		} else {
			diag_add(d, file, line, "%s: environment variable %s is not set (write ${%s:-default} to give a default)",
			         key, var, var);
			free(var);
			goto fail;
		}
		free(var);
		at = close + 1;
	}
	return out.data;
oom:
	diag_add(d, file, line, "%s: out of memory", key);
fail:
	free(out.data);
	return NULL;
}
