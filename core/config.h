/* The configuration as written: agentbus.ini plus the conf.d/ *.ini files (lexical
 * order), read with libinih, every value ${VAR}-expanded, every section and
 * key remembering its file and line. What the keys mean is checked elsewhere
 * (core/options.c against each schema, core/broker.c for the sections). */
#ifndef AB_CORE_CONFIG_H
#define AB_CORE_CONFIG_H

#include <stddef.h>

#include "core/diag.h"

struct config_entry {
	char *key;
	char *value; /* after ${VAR} expansion */
	int line;
};

struct config_section {
	char *kind;       /* "broker", "plugin", "route", or whatever was written */
	char *label;      /* the NAME after the colon; "" when none */
	const char *file; /* owned by the config */
	int line;
	struct config_entry *entries;
	size_t n_entries, cap_entries;
};

struct config {
	unsigned refs;
	char *main_file;
	char **files; /* every file read, for the section and key locations */
	size_t n_files;
	struct config_section **sections; /* in file order */
	size_t n_sections, cap_sections;
};

/* Read `path` and the *.ini files of conf.d beside it. Errors go to `d`.
 * Returns the config (even with errors, so every error can be listed), or
 * NULL when out of memory. */
struct config *config_load(const char *path, struct diag *d);

/* Read a config from a string, for tests; `name` stands in for the file. */
struct config *config_load_string(const char *name, const char *text, struct diag *d);

/* The config is reference counted: what borrows its strings holds a
 * reference. config_load returns one. */
struct config *config_ref(struct config *cfg);
void config_unref(struct config *cfg);

/* The section of this kind and label, or NULL. */
const struct config_section *config_find(const struct config *cfg, const char *kind,
                                         const char *label);

/* The entry for key in section, or NULL. */
const struct config_entry *config_entry(const struct config_section *s, const char *key);

/* Expand ${VAR} and ${VAR:-default} (and $$ for a literal $) in value.
 * Unset variables without a default are errors; a default standing in for
 * an unset variable logs a warning naming it. Returns a new string, or NULL
 * after adding the error to d. */
char *config_expand_env(const char *value, const char *file, int line, const char *key,
                        struct diag *d);

#endif
