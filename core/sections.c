#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "core/plugins.h"
#include "core/sections.h"

/* The one key the core reads in a plugin's own section. */
static const struct ab_option section_core_options[] = {
	{ "plugin", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "the [plugin:NAME] this section belongs to; needed only when several instances take its kind" },
	AB_OPTION_END,
};

bool sections_core_kind(const char *kind)
{
	return strcmp(kind, "broker") == 0 || strcmp(kind, "plugin") == 0 || strcmp(kind, "route") == 0;
}

static bool takes_kind(const struct ab_instance *inst, const char *kind)
{
	return inst->plugin->section_kind && strcmp(inst->plugin->section_kind, kind) == 0;
}

/* The instance a section belongs to, or NULL with the reason in d. */
static struct ab_instance *owner_of(const struct config_section *s, struct ab_instance *const *instances,
                                    size_t n, struct diag *d)
{
	const struct config_entry *named = config_entry(s, "plugin");
	struct ab_instance *found = NULL;
	size_t takers = 0;
	for (size_t i = 0; i < n; i++) {
		if (!takes_kind(instances[i], s->kind))
			continue;
		takers++;
		if (!named || strcmp(instances[i]->name, named->value) == 0)
			found = instances[i];
	}
	if (takers == 0) {
		diag_add(d, s->file, s->line,
		         "unknown section [%s:%s] (sections are [broker], [plugin:NAME], [route:NAME], "
		         "and the kinds loaded plugins add)", s->kind, s->label);
		return NULL;
	}
	if (named && !found) {
		diag_add(d, s->file, named->line, "plugin: no loaded [plugin:%s] takes [%s:...] sections",
		         named->value, s->kind);
		return NULL;
	}
	if (!named && takers > 1) {
		diag_add(d, s->file, s->line, "plugin: required in [%s:%s]: %zu plugins take [%s:...] sections",
		         s->kind, s->label, takers, s->kind);
		return NULL;
	}
	return found;
}

static int append(struct instance_sections *list, const struct config_section *s,
                  const struct ab_instance *inst, struct diag *d)
{
	struct instance_section item = { .name = strdup(s->label) };
	if (!item.name)
		return -1;
	if (options_resolve(s, section_core_options, inst->plugin->section_options, &item.values, d) < 0) {
		option_values_free(&item.values);
		free(item.name);
		return 0; /* reported; go on checking the others */
	}
	struct instance_section *grown = realloc(list->items, (list->count + 1) * sizeof *grown);
	if (!grown) {
		option_values_free(&item.values);
		free(item.name);
		return -1;
	}
	list->items = grown;
	list->items[list->count++] = item;
	return 0;
}

int sections_resolve(const struct config *cfg, struct ab_instance *const *instances, size_t n,
                     bool next, struct diag *d)
{
	size_t errors = d->count;
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct config_section *s = cfg->sections[i];
		/* A [KIND] without a NAME is check_sections' (broker.c) to report. */
		if (sections_core_kind(s->kind) || !*s->label)
			continue;
		struct ab_instance *inst = owner_of(s, instances, n, d);
		if (inst && append(next ? &inst->next_sections : &inst->sections, s, inst, d) < 0)
			diag_add(d, s->file, s->line, "out of memory");
	}
	return d->count == errors ? 0 : -1;
}

void sections_free(struct instance_sections *s)
{
	for (size_t i = 0; i < s->count; i++) {
		option_values_free(&s->items[i].values);
		free(s->items[i].name);
	}
	free(s->items);
	*s = (struct instance_sections){ 0 };
}

void sections_commit(struct instance_sections *current, struct instance_sections *next)
{
	sections_free(current);
	*current = *next;
	*next = (struct instance_sections){ 0 };
}
