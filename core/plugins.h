/* Plugin loading and instances. A [plugin:NAME] section names a module (a
 * shared object in [broker] plugin_dir, or a path); the loader checks the
 * file's owner and mode, dlopens it RTLD_NOW|RTLD_LOCAL, and checks the ABI
 * before any op of it is called (its ELF constructors, if it has any, run
 * at dlopen: the owner and mode checks are what guard that). Modules are
 * never dlclosed while the loop runs. */
#ifndef AB_CORE_PLUGINS_H
#define AB_CORE_PLUGINS_H

#include <stdbool.h>

#include <agentbus/plugin.h>

#include "core/diag.h"
#include "core/options.h"
#include "core/sections.h"

struct broker;

struct ab_instance {
	char *name;  /* NAME of [plugin:NAME] */
	char *path;  /* the shared object */
	void *dl;    /* dlopen handle; NULL for plugins built into a test */
	int fd;      /* the module file, open while it is loaded; -1 when none */
	const struct ab_plugin *plugin;
	struct ab_plugin_ops ops; /* the plugin's ops, zero-extended to ours */
	void *state;
	struct option_values options;
	struct option_values next_options; /* during a reload */
	struct instance_sections sections, next_sections; /* of the plugin's section_kind */
	bool reloading; /* config and section getters answer from next_options, next_sections */
	bool initialized, started, draining;
	struct broker *broker;
	struct ab_timer *timers; /* the instance's timers (services.c) */
};

/* Resolve the module path for `module` (a name in plugin_dir, or a path with
 * a '/'), check it, dlopen it and check its ABI. Errors go to d at
 * file:line. Returns the plugin descriptor and the handle, or NULL. */
const struct ab_plugin *plugins_open(const char *plugin_dir, const char *module, const char *file,
                                     int line, struct diag *d, char **path_out, void **dl_out,
                                     int *fd_out);

/* Check a descriptor (also used for plugins linked into tests): ABI major and
 * minor, struct sizes, kind, name, the ops its kind requires. Copies the ops
 * into *ops, zero-filling the ones an older minor lacks. Returns 0, or -1
 * with the reason in d. */
int plugins_check(const struct ab_plugin *plugin, const char *path, const char *file, int line,
                  struct ab_plugin_ops *ops, struct diag *d);

void plugins_close(void *dl, int fd);

#endif
