/* Option schemas (struct ab_option arrays, from the core or a plugin): typed
 * parsing of values, checking a section against its schema with file:line
 * errors, and the resolved values a plugin instance or route reads. */
#ifndef AB_CORE_OPTIONS_H
#define AB_CORE_OPTIONS_H

#include <stdint.h>

#include <agentbus/plugin.h>

#include "core/config.h"
#include "core/diag.h"

/* One resolved option: the text as written (or the schema default; NULL
 * when neither), and its typed value (see services->config_int). */
struct option_value {
	const struct ab_option *option;
	char *text; /* owned: plugins may keep it as long as their instance lives */
	int64_t number;
};

struct option_values {
	struct option_value *values;
	size_t count;
};

/* Parse text as opt's type. Returns 0 and the typed value, or -1 with a
 * reason in why. */
int option_parse(const struct ab_option *opt, const char *text, int64_t *out, char *why,
                 size_t why_len);

/* The option named `name` in a schema ending with AB_OPTION_END, or NULL. */
const struct ab_option *option_find(const struct ab_option *schema, const char *name);

/* Check every entry of section s: its key must be in one of the schemas
 * (either may be NULL), its value must parse; required options must be set.
 * Fills *out with the resolved values of every option of both schemas.
 * Errors go to d. Returns 0 when the section is clean. */
int options_resolve(const struct config_section *s, const struct ab_option *schema_a,
                    const struct ab_option *schema_b, struct option_values *out, struct diag *d);

void option_values_free(struct option_values *v);

/* Before a reload: in next (the new config's values, from the same schemas
 * as current), put back the current value of every option that cannot
 * change now (not AB_OPT_RELOADABLE, or the plugin cannot reload), warning,
 * naming `where`, about each the new config changes. Returns 0, or -1
 * without memory. */
int option_values_keep_fixed(const struct option_values *current, struct option_values *next,
                             bool plugin_reloads, const char *where);

/* Commit a reload: current becomes next, except that every value the reload
 * did not change keeps its very string (plugins may hold it). */
void option_values_commit(struct option_values *current, struct option_values *next);

/* The resolved value named `name`, or NULL. */
const struct option_value *option_values_get(const struct option_values *v, const char *name);

#endif
