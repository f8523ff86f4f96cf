#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/agents.h"
#include "core/hashmap.h"
#include "core/plugins.h"
#include "core/routes.h"

const struct ab_option routes_core_options[] = {
	{ "source", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL,
	  "agent ids this route takes messages from: patterns with '*', comma-separated" },
	{ "type", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL,
	  "message types this route takes: patterns with '*', comma-separated" },
	{ "destination", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL,
	  "the agent id to deliver to, or a pattern: the first live agent matching it" },
	{ "translator", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "NAME of a [plugin:NAME] translator applied both ways; none: pass through" },
	{ "timeout", AB_OPT_DURATION, NULL, 0, 1, 86400000, NULL,
	  "how long a request may wait for its final reply ([broker] request_timeout)" },
	{ "max_timeout", AB_OPT_DURATION, NULL, 0, 1, 86400000, NULL,
	  "each interim reply (progress) gives the request timeout anew, up to this long in all "
	  "(unset: interim replies extend nothing)" },
	{ "interim", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "reply types that do not end the request (progress, started): patterns" },
	{ "error_reply", AB_OPT_STRING, "error", 0, 0, 0, NULL,
	  "the type of error replies to requests on this route, e.g. query_error" },
	{ "exclusive", AB_OPT_BOOL, "false", 0, 0, 0, NULL,
	  "requests on exclusive routes reach a destination one at a time, all legs of one "
	  "before the next: for tools with connection state on an upstream session all share" },
	{ "oneway", AB_OPT_BOOL, "false", 0, 0, 0, NULL,
	  "messages on this route expect no reply (events, notifications): no deadline" },
	AB_OPTION_END,
};

struct route_bucket {
	const char *type; /* the key: the routes' literal type */
	struct ab_route **routes;
	size_t count;
};

static int compile_list(const struct ab_route *r, const char *key, const char *text,
                        struct pattern_list *out, struct diag *d, const struct config_section *s)
{
	if (pattern_list_compile(text, out) == 0)
		return 0;
	const struct config_entry *e = config_entry(s, key);
	diag_add(d, s->file, e ? e->line : s->line, "%s: empty pattern in '%s'", key, text);
	return -1;
}

static int compile_route(struct ab_route *r, const struct config_section *s,
                         int64_t default_timeout_ms,
                         struct ab_instance *(*find_translator)(const char *name, void *arg),
                         void *arg, struct diag *d)
{
	r->name = strdup(s->label);
	r->file = s->file;
	r->line = s->line;
	if (!r->name)
		return -1;

	/* The translator decides which extra keys the section may hold. */
	const struct config_entry *te = config_entry(s, "translator");
	const struct ab_option *translator_keys = NULL;
	if (te) {
		r->translator = find_translator(te->value, arg);
		if (!r->translator) {
			diag_add(d, s->file, te->line, "translator: no translator plugin [plugin:%s] is loaded",
			         te->value);
			return -1;
		}
		translator_keys = r->translator->plugin->route_options;
	}
	if (options_resolve(s, routes_core_options, translator_keys, &r->options, d) < 0)
		return -1;

	const struct option_value *timeout = option_values_get(&r->options, "timeout");
	r->timeout_ms = timeout->text ? timeout->number : default_timeout_ms;
	const struct option_value *max_timeout = option_values_get(&r->options, "max_timeout");
	r->max_timeout_ms = max_timeout->text ? max_timeout->number : 0;
	r->error_reply_type = option_values_get(&r->options, "error_reply")->text;
	r->oneway = option_values_get(&r->options, "oneway")->number != 0;
	r->exclusive = option_values_get(&r->options, "exclusive")->number != 0;
	int rc = 0;
	if (!agents_valid_id(r->error_reply_type)) {
		/* Catches a comment run into the value: "query_error ; see below". */
		const struct config_entry *e = config_entry(s, "error_reply");
		diag_add(d, s->file, e ? e->line : s->line,
		         "error_reply: '%s' is not a message type (1 to 128 of [A-Za-z0-9_.:-])",
		         r->error_reply_type);
		rc = -1;
	}
	if (r->max_timeout_ms && r->max_timeout_ms < r->timeout_ms) {
		/* Progress would shorten the deadline: surely not what was meant. */
		const struct config_entry *e = config_entry(s, "max_timeout");
		diag_add(d, s->file, e ? e->line : s->line, "max_timeout: shorter than the timeout (%lld ms)",
		         (long long)r->timeout_ms);
		rc = -1;
	}
	rc |= compile_list(r, "source", option_values_get(&r->options, "source")->text, &r->source, d, s);
	rc |= compile_list(r, "type", option_values_get(&r->options, "type")->text, &r->type, d, s);
	rc |= compile_list(r, "destination", option_values_get(&r->options, "destination")->text,
	                   &r->destination, d, s);
	const char *interim = option_values_get(&r->options, "interim")->text;
	if (interim)
		rc |= compile_list(r, "interim", interim, &r->interim, d, s);
	return rc;
}

static int index_route(struct route_table *t, struct ab_route *r)
{
	const char *literal = pattern_list_exact(&r->type);
	if (!literal) {
		t->wild[t->n_wild++] = r;
		return 0;
	}
	struct route_bucket *b = hashmap_get(t->by_type, literal);
	if (!b) {
		b = calloc(1, sizeof *b);
		if (!b)
			return -1;
		b->type = literal;
		if (hashmap_put(t->by_type, literal, b) < 0) {
			free(b);
			return -1;
		}
	}
	struct ab_route **grown = realloc(b->routes, (b->count + 1) * sizeof *grown);
	if (!grown)
		return -1;
	b->routes = grown;
	b->routes[b->count++] = r;
	return 0;
}

struct route_table *routes_compile(struct config *cfg, int64_t default_timeout_ms,
                                   struct ab_instance *(*find_translator)(const char *name, void *arg),
                                   void *arg, struct diag *d)
{
	struct route_table *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->refs = 1;
	t->config = config_ref(cfg);
	t->by_type = hashmap_new();
	size_t n = 0;
	for (size_t i = 0; i < cfg->n_sections; i++)
		n += strcmp(cfg->sections[i]->kind, "route") == 0;
	t->routes = calloc(n ? n : 1, sizeof *t->routes);
	t->wild = calloc(n ? n : 1, sizeof *t->wild);
	if (!t->by_type || !t->routes || !t->wild) {
		routes_unref(t);
		return NULL;
	}
	size_t errors = d->count;
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct config_section *s = cfg->sections[i];
		if (strcmp(s->kind, "route") != 0)
			continue;
		for (size_t j = 0; j < t->count; j++) {
			if (strcmp(t->routes[j].name, s->label) == 0) {
				diag_add(d, s->file, s->line, "duplicate section [route:%s] (first at %s:%d)",
				         s->label, t->routes[j].file, t->routes[j].line);
				break;
			}
		}
		struct ab_route *r = &t->routes[t->count];
		r->index = t->count++;
		if (compile_route(r, s, default_timeout_ms, find_translator, arg, d) == 0 &&
		    index_route(t, r) < 0)
			diag_add(d, s->file, s->line, "out of memory");
	}
	if (d->count != errors) {
		routes_unref(t);
		return NULL;
	}
	return t;
}

int routes_attach(struct route_table *t, struct diag *d)
{
	int rc = 0;
	for (size_t i = 0; i < t->count; i++) {
		struct ab_route *r = &t->routes[i];
		if (!r->translator || !r->translator->ops.route_attach)
			continue;
		if (r->translator->ops.route_attach(r->translator->state, r, &r->translator_state) < 0) {
			diag_add(d, r->file, r->line, "[route:%s]: translator %s refused the route (see its log line)",
			         r->name, r->translator->name);
			rc = -1;
			continue;
		}
		r->attached = true;
	}
	return rc;
}

struct route_table *routes_ref(struct route_table *t)
{
	t->refs++;
	return t;
}

static void free_bucket(const char *key, void *value, void *arg)
{
	struct route_bucket *b = value;
	free(b->routes);
	free(b);
}

void routes_unref(struct route_table *t)
{
	if (!t || --t->refs > 0)
		return;
	for (size_t i = 0; i < t->count; i++) {
		struct ab_route *r = &t->routes[i];
		if (r->attached && r->translator->ops.route_detach)
			r->translator->ops.route_detach(r->translator->state, r->translator_state);
		pattern_list_free(&r->source);
		pattern_list_free(&r->type);
		pattern_list_free(&r->destination);
		pattern_list_free(&r->interim);
		option_values_free(&r->options);
		free(r->last_destination);
		free(r->name);
	}
	if (t->by_type) {
		hashmap_foreach(t->by_type, free_bucket, NULL);
		hashmap_free(t->by_type);
	}
	free(t->routes);
	free(t->wild);
	config_unref(t->config);
	free(t);
}

struct ab_route *routes_match(const struct route_table *t, const char *source, const char *type)
{
	/* Merge the routes for this literal type with the pattern-typed ones,
	 * both in file order, so the first match in the file wins. */
	const struct route_bucket *b = hashmap_get(t->by_type, type);
	size_t i = 0, j = 0, n = b ? b->count : 0;
	while (i < n || j < t->n_wild) {
		struct ab_route *r;
		if (j == t->n_wild || (i < n && b->routes[i]->index < t->wild[j]->index)) {
			r = b->routes[i++];
		} else {
			r = t->wild[j++];
			if (!pattern_list_match(&r->type, type))
				continue;
		}
		if (pattern_list_match(&r->source, source))
			return r;
	}
	return NULL;
}
