#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/broker.h"
#include "core/config.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/msg.h"
#include "core/options.h"
#include "core/plugins.h"
#include "core/router.h"
#include "core/routes.h"
#include "core/services.h"
#include "core/timefmt.h"
#include "core/write_batch.h"

#ifndef AB_PLUGIN_DIR
#define AB_PLUGIN_DIR "/usr/lib/agentbus/plugins"
#endif

/* The keys of [broker]. */
static const struct ab_option broker_options[] = {
	{ "node_id", AB_OPT_STRING, NULL, 0, 0, 0, NULL,
	  "this broker's name in agent ids (agentbus_<node_id>); default: the host name" },
	{ "plugin_dir", AB_OPT_STRING, AB_PLUGIN_DIR, 0, 0, 0, NULL,
	  "where module = NAME finds NAME.so" },
	{ "log_level", AB_OPT_ENUM, "info", AB_OPT_RELOADABLE, 0, 0, "error|warning|notice|info|debug",
	  "the most detailed level logged (-l overrides)" },
	{ "max_message_size", AB_OPT_SIZE, "1M", AB_OPT_RELOADABLE, 64, 256 << 20, NULL,
	  "messages larger than this are refused with message_too_large" },
	{ "max_json_depth", AB_OPT_INT, "64", AB_OPT_RELOADABLE, 2, 1000, NULL,
	  "messages nested deeper than this are refused with invalid_message" },
	{ "request_timeout", AB_OPT_DURATION, "30s", AB_OPT_RELOADABLE, 1, 86400000, NULL,
	  "how long a request waits for its final reply, unless its route says otherwise" },
	{ "hold_window", AB_OPT_DURATION, "10s", AB_OPT_RELOADABLE, 0, 86400000, NULL,
	  "how long messages wait for an absent agent before requests get upstream_unavailable" },
	{ "hold_queue_max", AB_OPT_INT, "1000", AB_OPT_RELOADABLE, 0, 10000000, NULL,
	  "how many messages may wait for one absent agent" },
	{ "shutdown_timeout", AB_OPT_DURATION, "5s", AB_OPT_RELOADABLE, 0, 600000, NULL,
	  "how long a graceful shutdown waits for plugins to drain" },
	{ "busy_poll_us", AB_OPT_INT, "0", AB_OPT_RELOADABLE, 0, 10000, NULL,
	  "after a message, poll this many microseconds for the next before sleeping: "
	  "lower latency at low rates, for CPU; 0 sleeps at once" },
	AB_OPTION_END,
};

/* The key of [plugin:NAME] the core reads; the rest are the plugin's. */
static const struct ab_option plugin_core_options[] = {
	{ "module", AB_OPT_STRING, NULL, AB_OPT_REQUIRED, 0, 0, NULL,
	  "the plugin's shared object: a name in plugin_dir, or a path" },
	AB_OPTION_END,
};

struct broker {
	struct event_base *base;
	bool log_level_locked;
	const char *plugin_dir_override;
	struct config *config;
	struct option_values settings; /* [broker] */
	struct ab_instance **instances;
	size_t n_instances;
	struct router *router;
	struct write_batch *writes; /* write_now's, flushed at each turn's end */
	struct route_table *routes;
	char *agent_id;
	size_t draining;
	struct event *shutdown_timer;
	bool stopping;
	bool stopping_plugins; /* inside broker_shutdown's loop over the plugins */
	uint64_t started_ms;   /* monotonic */
	int64_t busy_poll_us;  /* [broker] busy_poll_us, read by the loop at every turn */
};

struct broker *broker_new(struct event_base *base, bool log_level_locked)
{
	struct broker *b = calloc(1, sizeof *b);
	if (b) {
		b->base = base;
		b->log_level_locked = log_level_locked;
		b->started_ms = timefmt_monotonic_ms();
	}
	return b;
}

size_t broker_instance_count(const struct broker *b)
{
	return b->n_instances;
}

struct ab_instance *broker_instance(const struct broker *b, size_t i)
{
	return b->instances[i];
}

const char *broker_agent_id(const struct broker *b)
{
	return b->agent_id ? b->agent_id : "agentbus";
}

double broker_uptime_seconds(const struct broker *b)
{
	return (double)(timefmt_monotonic_ms() - b->started_ms) / 1000.0;
}

void broker_set_plugin_dir(struct broker *b, const char *dir)
{
	b->plugin_dir_override = dir;
}

struct router *broker_router(const struct broker *b)
{
	return b->router;
}

struct write_batch *broker_writes(const struct broker *b)
{
	return b->writes;
}

struct event_base *broker_base(const struct broker *b)
{
	return b->base;
}

static int64_t setting(const struct option_values *v, const char *key)
{
	return option_values_get(v, key)->number;
}

/* Apply the reloadable [broker] settings. */
static void apply_settings(struct broker *b, const struct option_values *v)
{
	if (!b->log_level_locked)
		log_set_level((enum ab_log_level)(AB_LOG_ERROR + setting(v, "log_level")));
	msg_set_limits((size_t)setting(v, "max_message_size"), (unsigned)setting(v, "max_json_depth"));
	b->busy_poll_us = setting(v, "busy_poll_us");
	if (b->router) {
		struct router_settings rs = {
			.hold_window_ms = (uint64_t)setting(v, "hold_window"),
			.hold_max = (size_t)setting(v, "hold_queue_max"),
		};
		router_configure(b->router, &rs);
	}
}

static const struct config_section *broker_section(const struct config *cfg)
{
	return config_find(cfg, "broker", "");
}

/* Check the sections: known kinds, no duplicates, [broker] at most once. */
static void check_sections(const struct config *cfg, struct diag *d)
{
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct config_section *s = cfg->sections[i];
		bool broker = strcmp(s->kind, "broker") == 0;
		/* Kinds of the plugins' own are checked once they are loaded
		 * (sections_resolve); all of them need a NAME. */
		bool named = !broker;
		if (!(broker && !*s->label) && !(named && *s->label)) {
			diag_add(d, s->file, s->line,
			         "unknown section [%s%s%s] (sections are [broker], [plugin:NAME], [route:NAME])",
			         s->kind, *s->label ? ":" : "", s->label);
			continue;
		}
		if (strcmp(s->kind, "route") == 0)
			continue; /* routes_compile reports its own duplicates */
		for (size_t j = 0; j < i; j++) {
			const struct config_section *t = cfg->sections[j];
			if (strcmp(s->kind, t->kind) == 0 && strcmp(s->label, t->label) == 0) {
				diag_add(d, s->file, s->line, "duplicate section [%s%s%s] (first at %s:%d)",
				         s->kind, *s->label ? ":" : "", s->label, t->file, t->line);
				break;
			}
		}
	}
}

/* Resolve [broker] (an absent section means every default). */
static int resolve_settings(const struct config *cfg, struct option_values *out, struct diag *d)
{
	const struct config_section *s = broker_section(cfg);
	struct config_section empty = { .kind = "broker", .label = "", .file = cfg->main_file };
	return options_resolve(s ? s : &empty, broker_options, NULL, out, d);
}

static struct ab_instance *find_translator(const char *name, void *arg)
{
	struct broker *b = arg;
	for (size_t i = 0; i < b->n_instances; i++) {
		struct ab_instance *inst = b->instances[i];
		if (strcmp(inst->name, name) == 0)
			return inst->plugin->kind == AB_PLUGIN_TRANSLATOR ? inst : NULL;
	}
	return NULL;
}

static struct ab_instance *load_instance(struct broker *b, const struct config_section *s,
                                         const char *plugin_dir, struct diag *d)
{
	const struct config_entry *module = config_entry(s, "module");
	if (!module) {
		diag_add(d, s->file, s->line, "module: required in [plugin:%s]", s->label);
		return NULL;
	}
	struct ab_instance *inst = calloc(1, sizeof *inst);
	if (!inst)
		return NULL;
	inst->broker = b;
	inst->fd = -1;
	inst->name = strdup(s->label);
	inst->plugin = plugins_open(plugin_dir, module->value, s->file, module->line, d, &inst->path,
	                            &inst->dl, &inst->fd);
	if (!inst->plugin ||
	    plugins_check(inst->plugin, inst->path, s->file, module->line, &inst->ops, d) < 0 ||
	    options_resolve(s, plugin_core_options, inst->plugin->options, &inst->options, d) < 0) {
		plugins_close(inst->dl, inst->fd);
		option_values_free(&inst->options);
		free(inst->path);
		free(inst->name);
		free(inst);
		return NULL;
	}
	return inst;
}

static char *make_agent_id(const struct option_values *settings)
{
	const char *node = option_values_get(settings, "node_id")->text;
	char host[256] = "localhost";
	if (!node) {
		if (gethostname(host, sizeof host - 1) == 0)
			host[sizeof host - 1] = '\0';
		node = host;
	}
	char *id = NULL;
	if (asprintf(&id, "agentbus_%s", node) < 0)
		return NULL;
	return id;
}

/* Load the plugins the config names; the ones that fail are reported and
 * left out (so the routes that use them can be checked too). */
static int load_instances(struct broker *b, struct diag *d)
{
	const char *plugin_dir = b->plugin_dir_override ? b->plugin_dir_override
	                                                : option_values_get(&b->settings, "plugin_dir")->text;
	for (size_t i = 0; i < b->config->n_sections; i++) {
		const struct config_section *s = b->config->sections[i];
		if (strcmp(s->kind, "plugin") != 0 || !*s->label)
			continue;
		struct ab_instance *inst = load_instance(b, s, plugin_dir, d);
		if (!inst)
			continue;
		struct ab_instance **grown = realloc(b->instances, (b->n_instances + 1) * sizeof *grown);
		if (!grown) {
			free(inst);
			return -1;
		}
		b->instances = grown;
		b->instances[b->n_instances++] = inst;
	}
	return 0;
}

static int init_instances(struct broker *b, struct diag *d)
{
	for (size_t i = 0; i < b->n_instances; i++) {
		struct ab_instance *inst = b->instances[i];
		if (inst->ops.init(inst, &services_table, &inst->state) < 0) {
			diag_add(d, b->config->main_file, 0, "plugin %s (%s) failed to initialize (see above)",
			         inst->name, inst->plugin->name);
			if (inst->state) /* what it set up before failing */
				inst->ops.destroy(inst->state);
			inst->state = NULL;
			return -1;
		}
		inst->initialized = true;
	}
	return 0;
}

/* Every check runs, whatever the one before found, so --check-config lists
 * every problem at once; plugins are initialized only for a clean config. */
int broker_load(struct broker *b, const char *path, struct diag *d)
{
	size_t errors = d->count;
	b->config = config_load(path, d);
	if (!b->config)
		return -1;
	check_sections(b->config, d);
	resolve_settings(b->config, &b->settings, d);
	b->agent_id = make_agent_id(&b->settings);
	if (!b->agent_id)
		return -1;
	services_set_broker(b);
	b->router = router_new(b->base, b->agent_id);
	b->writes = write_batch_new(b->base);
	if (!b->router || !b->writes || load_instances(b, d) < 0)
		return -1;
	sections_resolve(b->config, b->instances, b->n_instances, false, d);
	int64_t timeout = setting(&b->settings, "request_timeout");
	b->routes = routes_compile(b->config, timeout > 0 ? timeout : 30000, find_translator, b, d);
	if (d->count != errors || !b->routes)
		return -1;

	apply_settings(b, &b->settings);
	if (init_instances(b, d) < 0 || routes_attach(b->routes, d) < 0)
		return -1;
	router_set_routes(b->router, b->routes);
	return d->count == errors ? 0 : -1;
}

int broker_start(struct broker *b)
{
	for (size_t i = 0; i < b->n_instances; i++) {
		struct ab_instance *inst = b->instances[i];
		if (inst->ops.start && inst->ops.start(inst->state) < 0) {
			log_msg(AB_LOG_ERROR, "core", "plugin %s (%s) failed to start", inst->name,
			        inst->plugin->name);
			return -1;
		}
		inst->started = true;
	}
	log_msg(AB_LOG_NOTICE, "core", "agentbus %s ready as %s: %zu plugins, %zu routes",
	        PACKAGE_VERSION, b->agent_id, b->n_instances, b->routes->count);
	return 0;
}

/* ---- reload ------------------------------------------------------------------ */

/* A reload keeps the same plugins: the same names with the same modules. */
static void match_plugins(struct broker *b, const struct config *cfg, struct diag *d)
{
	size_t seen = 0;
	for (size_t i = 0; i < cfg->n_sections; i++) {
		const struct config_section *s = cfg->sections[i];
		if (strcmp(s->kind, "plugin") != 0)
			continue;
		struct ab_instance *inst = NULL;
		for (size_t j = 0; j < b->n_instances && !inst; j++) {
			if (strcmp(b->instances[j]->name, s->label) == 0)
				inst = b->instances[j];
		}
		const struct config_entry *module = config_entry(s, "module");
		const struct config_section *old = config_find(b->config, "plugin", s->label);
		const struct config_entry *old_module = old ? config_entry(old, "module") : NULL;
		if (!inst) {
			diag_add(d, s->file, s->line, "[plugin:%s] is new: adding a plugin needs a restart",
			         s->label);
		} else if (!module || !old_module || strcmp(module->value, old_module->value) != 0) {
			diag_add(d, s->file, module ? module->line : s->line,
			         "module: changing a plugin's module needs a restart");
		}
		seen += inst != NULL;
	}
	if (seen != b->n_instances)
		diag_add(d, cfg->main_file, 0, "a plugin was removed: removing a plugin needs a restart");
}

static void reload_abort(struct broker *b, size_t prepared)
{
	for (size_t i = 0; i < b->n_instances; i++) {
		struct ab_instance *inst = b->instances[i];
		if (i < prepared && inst->ops.reload) {
			inst->reloading = true;
			inst->ops.reload(inst->state, AB_RELOAD_ABORT);
		}
		inst->reloading = false;
		option_values_free(&inst->next_options);
		sections_free(&inst->next_sections);
	}
}

int broker_reload(struct broker *b)
{
	struct diag d = { 0 };
	log_msg(AB_LOG_NOTICE, "core", "reloading %s", b->config->main_file);
	struct config *cfg = config_load(b->config->main_file, &d);
	struct option_values settings = { 0 };
	struct route_table *routes = NULL;
	size_t prepared = 0;
	if (!cfg)
		goto fail;
	check_sections(cfg, &d);
	resolve_settings(cfg, &settings, &d);
	match_plugins(b, cfg, &d);
	for (size_t i = 0; i < b->n_instances && d.count == 0; i++) {
		struct ab_instance *inst = b->instances[i];
		const struct config_section *s = config_find(cfg, "plugin", inst->name);
		char where[160];
		snprintf(where, sizeof where, "[plugin:%s]", inst->name);
		if (options_resolve(s, plugin_core_options, inst->plugin->options, &inst->next_options, &d) == 0 &&
		    option_values_keep_fixed(&inst->options, &inst->next_options, inst->ops.reload != NULL,
		                             where) < 0)
			diag_add(&d, cfg->main_file, 0, "out of memory");
	}
	if (d.count == 0)
		sections_resolve(cfg, b->instances, b->n_instances, true, &d);
	if (d.count == 0 && option_values_keep_fixed(&b->settings, &settings, true, "[broker]") < 0)
		diag_add(&d, cfg->main_file, 0, "out of memory");
	if (d.count)
		goto fail;
	routes = routes_compile(cfg, setting(&settings, "request_timeout"), find_translator, b, &d);
	if (!routes || routes_attach(routes, &d) < 0)
		goto fail;

	/* Everything parsed: ask the plugins, then commit all or nothing. */
	for (; prepared < b->n_instances; prepared++) {
		struct ab_instance *inst = b->instances[prepared];
		if (!inst->ops.reload)
			continue;
		inst->reloading = true;
		int rc = inst->ops.reload(inst->state, AB_RELOAD_PREPARE);
		inst->reloading = false;
		if (rc < 0) {
			diag_add(&d, cfg->main_file, 0, "plugin %s refused the new settings (see above)",
			         inst->name);
			goto fail;
		}
	}
	for (size_t i = 0; i < b->n_instances; i++) {
		struct ab_instance *inst = b->instances[i];
		option_values_commit(&inst->options, &inst->next_options);
		sections_commit(&inst->sections, &inst->next_sections);
		if (inst->ops.reload)
			inst->ops.reload(inst->state, AB_RELOAD_COMMIT);
	}
	option_values_commit(&b->settings, &settings);
	apply_settings(b, &b->settings);
	router_set_routes(b->router, routes);
	routes_unref(b->routes);
	b->routes = routes;
	config_unref(b->config);
	b->config = cfg;
	log_msg(AB_LOG_NOTICE, "core", "reloaded: %zu routes", routes->count);
	return 0;

fail:
	diag_log(&d);
	log_msg(AB_LOG_ERROR, "core", "reload rejected (%zu errors): the previous configuration stays",
	        d.count);
	diag_clear(&d);
	reload_abort(b, prepared);
	routes_unref(routes);
	option_values_free(&settings);
	config_unref(cfg);
	return -1;
}

/* ---- shutdown ------------------------------------------------------------------ */

static void shutdown_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	log_msg(AB_LOG_WARNING, "core", "%zu plugins still draining after the shutdown timeout",
	        b->draining);
	event_base_loopexit(b->base, NULL);
}

void broker_instance_stopped(struct broker *b, struct ab_instance *inst)
{
	if (!inst->draining)
		return;
	inst->draining = false;
	/* While broker_shutdown is still stopping the others, it checks. */
	if (--b->draining == 0 && !b->stopping_plugins)
		event_base_loopexit(b->base, NULL);
}

void broker_shutdown(struct broker *b)
{
	if (b->stopping) {
		log_msg(AB_LOG_WARNING, "core", "second shutdown request: leaving now");
		event_base_loopexit(b->base, NULL);
		return;
	}
	b->stopping = true;
	log_msg(AB_LOG_NOTICE, "core", "shutting down");
	/* Every request gets its one final reply, while its requester can
	 * still receive it. */
	router_fail_all(b->router, AB_ERR_UPSTREAM_UNAVAILABLE, "the broker is shutting down");
	b->stopping_plugins = true;
	for (size_t i = b->n_instances; i-- > 0;) {
		struct ab_instance *inst = b->instances[i];
		if (!inst->started || !inst->ops.stop)
			continue;
		/* Counted as draining first: a plugin may call stopped() from
		 * inside stop() before it returns AB_DRAINING. */
		inst->draining = true;
		b->draining++;
		if (inst->ops.stop(inst->state) != AB_DRAINING && inst->draining) {
			inst->draining = false;
			b->draining--;
		}
	}
	b->stopping_plugins = false;
	if (b->draining == 0) {
		event_base_loopexit(b->base, NULL);
		return;
	}
	int64_t ms = setting(&b->settings, "shutdown_timeout");
	b->shutdown_timer = evtimer_new(b->base, shutdown_timeout_cb, b);
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	if (b->shutdown_timer)
		evtimer_add(b->shutdown_timer, &tv);
}

void broker_run(struct broker *b)
{
	loop_run(b->base, router_messages_in(b->router), &b->busy_poll_us);
}

bool broker_stopping(const struct broker *b)
{
	return b->stopping;
}

void broker_free(struct broker *b)
{
	if (!b)
		return;
	services_set_broker(NULL);
	/* Route tables first, while the translators their detach calls into
	 * still exist; requests in flight hold tables too, so drop those. */
	if (b->router) {
		router_set_routes(b->router, NULL);
		router_drop_pending(b->router);
	}
	routes_unref(b->routes);
	b->routes = NULL;
	for (size_t i = b->n_instances; i-- > 0;) {
		struct ab_instance *inst = b->instances[i];
		if (b->router)
			router_unregister_all(b->router, inst);
		if (inst->initialized)
			inst->ops.destroy(inst->state);
		services_free_timers(inst);
	}
	router_free(b->router);
	/* What plugins wrote last goes out; the bufferevents they freed with it
	 * waiting are freed now. */
	write_batch_free(b->writes);
	/* libevent finishes some frees on its next loop turn (a TLS
	 * bufferevent's, a free a plugin deferred), with code from the plugin
	 * that made them: let it, before the plugins are unloaded. */
	if (b->base)
		event_base_loop(b->base, EVLOOP_NONBLOCK);
	for (size_t i = 0; i < b->n_instances; i++) {
		struct ab_instance *inst = b->instances[i];
		plugins_close(inst->dl, inst->fd);
		option_values_free(&inst->options);
		option_values_free(&inst->next_options);
		sections_free(&inst->sections);
		sections_free(&inst->next_sections);
		free(inst->path);
		free(inst->name);
		free(inst);
	}
	free(b->instances);
	if (b->shutdown_timer)
		event_free(b->shutdown_timer);
	option_values_free(&b->settings);
	config_unref(b->config);
	free(b->agent_id);
	free(b);
}
