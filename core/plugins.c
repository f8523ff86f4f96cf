#include "build-config.h"

#include <dlfcn.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/plugins.h"

/* The smallest descriptor and ops table any 1.x plugin can have: 1.0's,
 * which end with these members. (Not sizeof: that grows with each minor.) */
#define END_OF(type, member) (offsetof(type, member) + sizeof(((type *)0)->member))
#define PLUGIN_SIZE_1_0 END_OF(struct ab_plugin, ops)
#define OPS_SIZE_1_0 END_OF(struct ab_plugin_ops, route_detach)

/* Refuse a file anyone but root or us could have written: loading it runs
 * its code as the broker. The checks are made on the open file, which is
 * then what gets loaded, so it cannot be swapped in between. */
static int check_file(int fd, const char *path, const char *file, int line, struct diag *d)
{
	struct stat st;
	if (fstat(fd, &st) < 0) {
		diag_add(d, file, line, "module: cannot use %s: %s", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		diag_add(d, file, line, "module: %s is not a regular file", path);
		return -1;
	}
	if (st.st_uid != 0 && st.st_uid != geteuid()) {
		diag_add(d, file, line, "module: refusing %s: owned by uid %u, not by root or the broker's user",
		         path, (unsigned)st.st_uid);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		diag_add(d, file, line, "module: refusing %s: writable by group or others (mode %03o)", path,
		         (unsigned)(st.st_mode & 0777));
		return -1;
	}
	return 0;
}

int plugins_check(const struct ab_plugin *plugin, const char *path, const char *file, int line,
                  struct ab_plugin_ops *ops, struct diag *d)
{
	if (plugin->abi_major != AB_ABI_MAJOR) {
		diag_add(d, file, line, "module: refusing %s: built for plugin ABI %u.%u, this broker speaks %d.%d (the major must match)",
		         path, plugin->abi_major, plugin->abi_minor, AB_ABI_MAJOR, AB_ABI_MINOR);
		return -1;
	}
	if (plugin->abi_minor > AB_ABI_MINOR) {
		diag_add(d, file, line, "module: refusing %s: built for plugin ABI %u.%u, newer than this broker's %d.%d",
		         path, plugin->abi_major, plugin->abi_minor, AB_ABI_MAJOR, AB_ABI_MINOR);
		return -1;
	}
	if (plugin->struct_size < PLUGIN_SIZE_1_0 || plugin->ops_size < OPS_SIZE_1_0 ||
	    plugin->ops_size > sizeof(struct ab_plugin_ops) ||
	    plugin->option_size != sizeof(struct ab_option)) {
		diag_add(d, file, line, "module: refusing %s: its descriptor sizes (%u, %u, %u) do not fit ABI %u.%u",
		         path, plugin->struct_size, plugin->ops_size, plugin->option_size,
		         plugin->abi_major, plugin->abi_minor);
		return -1;
	}
	if (!plugin->name || !*plugin->name || !plugin->version) {
		diag_add(d, file, line, "module: refusing %s: it has no name or version", path);
		return -1;
	}
	const char *kind = plugin->section_kind;
	if (kind && (!*kind || strspn(kind, "abcdefghijklmnopqrstuvwxyz0123456789_") != strlen(kind) ||
	             sections_core_kind(kind))) {
		diag_add(d, file, line, "module: refusing %s (%s): its section kind '%s' is not a lower-case "
		         "name of its own", path, plugin->name, kind);
		return -1;
	}
	if (!plugin->ops) {
		diag_add(d, file, line, "module: refusing %s (%s): it has no ops table", path, plugin->name);
		return -1;
	}
	*ops = (struct ab_plugin_ops){ 0 };
	memcpy(ops, plugin->ops, plugin->ops_size);

	const char *missing = NULL;
	if (!ops->init)
		missing = "init";
	else if (!ops->destroy)
		missing = "destroy";
	else if (plugin->kind == AB_PLUGIN_TRANSPORT && !ops->deliver)
		missing = "deliver";
	else if (plugin->kind == AB_PLUGIN_TRANSLATOR && !ops->translate)
		missing = "translate";
	if (plugin->kind != AB_PLUGIN_TRANSPORT && plugin->kind != AB_PLUGIN_TRANSLATOR) {
		diag_add(d, file, line, "module: refusing %s (%s): unknown plugin kind %d", path,
		         plugin->name, (int)plugin->kind);
		return -1;
	}
	if (missing) {
		diag_add(d, file, line, "module: refusing %s (%s): a %s must have the '%s' op", path,
		         plugin->name, plugin->kind == AB_PLUGIN_TRANSPORT ? "transport" : "translator",
		         missing);
		return -1;
	}
	return 0;
}

const struct ab_plugin *plugins_open(const char *plugin_dir, const char *module, const char *file,
                                     int line, struct diag *d, char **path_out, void **dl_out,
                                     int *fd_out)
{
	char *path = NULL;
	int n = strchr(module, '/') ? asprintf(&path, "%s", module)
	                            : asprintf(&path, "%s/%s.so", plugin_dir, module);
	if (n < 0) {
		diag_add(d, file, line, "module: out of memory");
		return NULL;
	}
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		diag_add(d, file, line, "module: cannot use %s: %s", path, strerror(errno));
		free(path);
		return NULL;
	}
	if (check_file(fd, path, file, line, d) < 0) {
		close(fd);
		free(path);
		return NULL;
	}
	/* Load the file we checked, by its descriptor (where /proc allows).
	 * The descriptor stays open while the module is loaded: the dynamic
	 * linker knows objects by name, and a reused fd number would name the
	 * next module like this one. */
	char by_fd[64];
	snprintf(by_fd, sizeof by_fd, "/proc/self/fd/%d", fd);
	void *dl = dlopen(access(by_fd, R_OK) == 0 ? by_fd : path, RTLD_NOW | RTLD_LOCAL);
	if (!dl) {
		close(fd);
		diag_add(d, file, line, "module: cannot load %s: %s", path, dlerror());
		free(path);
		return NULL;
	}
	*fd_out = fd;
	const struct ab_plugin *plugin = dlsym(dl, AB_PLUGIN_SYMBOL);
	if (!plugin) {
		diag_add(d, file, line, "module: refusing %s: it has no '%s' symbol (not an agentbus plugin?)",
		         path, AB_PLUGIN_SYMBOL);
		dlclose(dl);
		close(fd);
		*fd_out = -1;
		free(path);
		return NULL;
	}
	*path_out = path;
	*dl_out = dl;
	return plugin;
}

void plugins_close(void *dl, int fd)
{
	if (dl)
		dlclose(dl);
	if (fd >= 0)
		close(fd);
}
