#include "build-config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <yajl/yajl_tree.h>

#include "core/log.h"
#include "core/options.h"

static int parse_bool(const char *text, int64_t *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* "250ms", "1.5s", "5m", "1h"; a bare number is seconds. */
static int parse_duration(const char *text, int64_t *out)
{
	char *end;
	errno = 0;
	double n = strtod(text, &end);
	if (end == text || errno || !(n >= 0) || isinf(n))
		return -1;
	double scale;
	if (strcmp(end, "ms") == 0)
		scale = 1;
	else if (*end == '\0' || strcmp(end, "s") == 0)
		scale = 1000;
	else if (strcmp(end, "m") == 0)
		scale = 60e3;
	else if (strcmp(end, "h") == 0)
		scale = 3600e3;
	else
		return -1;
	double ms = n * scale;
	if (ms > 9e15)
		return -1;
	*out = (int64_t)llround(ms);
	return 0;
}

/* "512", "64K", "16M", "1G", powers of 1024; "KiB"-style suffixes too. */
static int parse_size(const char *text, int64_t *out)
{
	char *end;
	errno = 0;
	long long n = strtoll(text, &end, 10);
	if (end == text || errno || n < 0)
		return -1;
	int shift = 0;
	if (*end) {
		const char *units = "KMG";
		const char *unit = strchr(units, *end);
		if (!unit || !*end)
			return -1;
		shift = 10 * (int)(unit - units + 1);
		end++;
		if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
			end += strlen(end);
		if (*end)
			return -1;
	}
	if (n > (INT64_MAX >> shift))
		return -1;
	*out = (int64_t)n << shift;
	return 0;
}

static int parse_enum(const char *choices, const char *text, int64_t *out)
{
	size_t len = strlen(text);
	int64_t index = 0;
	for (const char *at = choices; at && *at; index++) {
		const char *bar = strchr(at, '|');
		size_t word = bar ? (size_t)(bar - at) : strlen(at);
		if (word == len && strncmp(at, text, len) == 0) {
			*out = index;
			return 0;
		}
		at = bar ? bar + 1 : NULL;
	}
	return -1;
}

int option_parse(const struct ab_option *opt, const char *text, int64_t *out, char *why,
                 size_t why_len)
{
	int64_t n = 0;
	int rc = 0;
	const char *expected = "";
	switch (opt->type) {
	case AB_OPT_STRING:
		break;
	case AB_OPT_INT: {
		char *end;
		errno = 0;
		long long v = strtoll(text, &end, 10);
		rc = (end == text || *end || errno) ? -1 : 0;
		n = v;
		expected = "an integer";
		break;
	}
	case AB_OPT_BOOL:
		rc = parse_bool(text, &n);
		expected = "true or false";
		break;
	case AB_OPT_DURATION:
		rc = parse_duration(text, &n);
		expected = "a duration such as 500ms, 10s, 5m or 1h";
		break;
	case AB_OPT_SIZE:
		rc = parse_size(text, &n);
		expected = "a size such as 4096, 64K or 16M";
		break;
	case AB_OPT_ENUM:
		rc = parse_enum(opt->choices, text, &n);
		if (rc < 0) {
			snprintf(why, why_len, "'%s' is not one of %s", text, opt->choices);
			return -1;
		}
		break;
	case AB_OPT_JSON: {
		char err[128];
		yajl_val v = yajl_tree_parse(text, err, sizeof err);
		if (!v) {
			/* yajl's text spans lines; the first names the problem. */
			err[strcspn(err, "\n")] = '\0';
			snprintf(why, why_len, "not JSON: %s", err);
			return -1;
		}
		yajl_tree_free(v);
		break;
	}
	default:
		snprintf(why, why_len, "the schema gives an unknown type");
		return -1;
	}
	if (rc < 0) {
		snprintf(why, why_len, "'%s' is not %s", text, expected);
		return -1;
	}
	bool bounded = opt->min != 0 || opt->max != 0;
	if (bounded && (opt->type == AB_OPT_INT || opt->type == AB_OPT_DURATION ||
	                opt->type == AB_OPT_SIZE) &&
	    (n < opt->min || n > opt->max)) {
		const char *unit = opt->type == AB_OPT_DURATION ? " ms" : opt->type == AB_OPT_SIZE ? " bytes" : "";
		snprintf(why, why_len, "'%s' is outside %lld..%lld%s", text, (long long)opt->min,
		         (long long)opt->max, unit);
		return -1;
	}
	*out = n;
	return 0;
}

const struct ab_option *option_find(const struct ab_option *schema, const char *name)
{
	for (const struct ab_option *o = schema; o && o->name; o++) {
		if (strcmp(o->name, name) == 0)
			return o;
	}
	return NULL;
}

static size_t count_options(const struct ab_option *schema)
{
	size_t n = 0;
	for (const struct ab_option *o = schema; o && o->name; o++)
		n++;
	return n;
}

/* Edit distance, for "did you mean" on unknown keys. */
static size_t distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	if (la > 63 || lb > 63)
		return 64;
	size_t row[64];
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			if (up + 1 < best)
				best = up + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

static const char *nearest(const char *key, const struct ab_option *a, const struct ab_option *b)
{
	const char *best = NULL;
	size_t best_d = 3; /* suggest only close misspellings */
	const struct ab_option *schemas[] = { a, b };
	for (size_t s = 0; s < 2; s++) {
		for (const struct ab_option *o = schemas[s]; o && o->name; o++) {
			size_t d = distance(key, o->name);
			if (d < best_d) {
				best_d = d;
				best = o->name;
			}
		}
	}
	return best;
}

static void section_name(const struct config_section *s, char *out, size_t len)
{
	snprintf(out, len, *s->label ? "[%s:%s]" : "[%s]", s->kind, s->label);
}

int options_resolve(const struct config_section *s, const struct ab_option *schema_a,
                    const struct ab_option *schema_b, struct option_values *out, struct diag *d)
{
	size_t errors = d->count;
	char where[160];
	section_name(s, where, sizeof where);

	for (size_t i = 0; i < s->n_entries; i++) {
		const char *key = s->entries[i].key;
		if (option_find(schema_a, key) || option_find(schema_b, key))
			continue;
		const char *hint = nearest(key, schema_a, schema_b);
		if (hint)
			diag_add(d, s->file, s->entries[i].line, "%s: unknown key in %s (did you mean '%s'?)",
			         key, where, hint);
		else
			diag_add(d, s->file, s->entries[i].line, "%s: unknown key in %s", key, where);
	}

	size_t n = count_options(schema_a) + count_options(schema_b);
	out->values = calloc(n ? n : 1, sizeof *out->values);
	out->count = 0;
	if (!out->values) {
		diag_add(d, s->file, s->line, "out of memory");
		return -1;
	}
	const struct ab_option *schemas[] = { schema_a, schema_b };
	for (size_t k = 0; k < 2; k++) {
		for (const struct ab_option *o = schemas[k]; o && o->name; o++) {
			struct option_value *v = &out->values[out->count++];
			const struct config_entry *e = config_entry(s, o->name);
			v->option = o;
			const char *text = e ? e->value : o->default_value;
			v->text = text ? strdup(text) : NULL;
			if (text && !v->text) {
				diag_add(d, s->file, s->line, "out of memory");
				continue;
			}
			if (!e && (o->flags & AB_OPT_REQUIRED)) {
				diag_add(d, s->file, s->line, "%s: required in %s", o->name, where);
				continue;
			}
			if (!v->text)
				continue;
			char why[192];
			if (option_parse(o, v->text, &v->number, why, sizeof why) < 0) {
				if (e)
					diag_add(d, s->file, e->line, "%s: %s", o->name, why);
				else
					diag_add(d, s->file, s->line, "%s: bad default in the schema: %s", o->name, why);
			}
		}
	}
	return d->count == errors ? 0 : -1;
}

void option_values_free(struct option_values *v)
{
	for (size_t i = 0; i < v->count; i++)
		free(v->values[i].text);
	free(v->values);
	*v = (struct option_values){ 0 };
}

static bool same_text(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

int option_values_keep_fixed(const struct option_values *current, struct option_values *next,
                             bool plugin_reloads, const char *where)
{
	for (size_t i = 0; i < current->count && i < next->count; i++) {
		const struct option_value *now = &current->values[i];
		struct option_value *then = &next->values[i];
		if (same_text(now->text, then->text) ||
		    (plugin_reloads && (now->option->flags & AB_OPT_RELOADABLE)))
			continue;
		char *kept = now->text ? strdup(now->text) : NULL;
		if (now->text && !kept)
			return -1;
		log_msg(AB_LOG_WARNING, "config", "%s %s: the change takes effect at the next restart",
		        where, now->option->name);
		free(then->text);
		then->text = kept;
		then->number = now->number;
	}
	return 0;
}

void option_values_commit(struct option_values *current, struct option_values *next)
{
	for (size_t i = 0; i < current->count && i < next->count; i++) {
		struct option_value *now = &current->values[i], *then = &next->values[i];
		if (same_text(now->text, then->text)) {
			char *keep = now->text;
			now->text = then->text;
			then->text = keep;
		}
	}
	option_values_free(current);
	*current = *next;
	*next = (struct option_values){ 0 };
}

const struct option_value *option_values_get(const struct option_values *v, const char *name)
{
	for (size_t i = 0; i < v->count; i++) {
		if (strcmp(v->values[i].option->name, name) == 0)
			return &v->values[i];
	}
	return NULL;
}
