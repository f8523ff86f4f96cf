/* Sections of a plugin's own kind (plugin.h, section_kind), such as the
 * websocket listener's [http_route:NAME]: which instance each belongs to,
 * and its values checked against the plugin's section_options. */
#ifndef AB_CORE_SECTIONS_H
#define AB_CORE_SECTIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "core/config.h"
#include "core/diag.h"
#include "core/options.h"

struct ab_instance;

struct instance_section {
	char *name; /* NAME of [KIND:NAME] */
	struct option_values values;
};

struct instance_sections {
	struct instance_section *items;
	size_t count;
};

/* Is kind one of the core's own ([broker], [plugin:NAME], [route:NAME])? */
bool sections_core_kind(const char *kind);

/* Give every section of a kind the core does not own to its instance:
 * into each instance's next_sections when `next` (a reload), else its
 * sections. A kind no loaded plugin takes, a missing or wrong "plugin"
 * key, and bad keys or values are errors in d, at file:line. Returns 0
 * when all is clean. */
int sections_resolve(const struct config *cfg, struct ab_instance *const *instances, size_t n,
                     bool next, struct diag *d);

/* A reload committed (current takes next's) or was abandoned (next freed). */
void sections_commit(struct instance_sections *current, struct instance_sections *next);
void sections_free(struct instance_sections *s);

#endif
