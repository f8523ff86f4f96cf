/*
 * agentbus plugin SDK: the contract between the broker core and a plugin.
 *
 * A plugin is a shared object exporting exactly one data symbol,
 * `agentbus_plugin_v1`, filled by AB_PLUGIN_DEFINE. Every call into the core
 * goes through the services table (services.h) handed to ops.init, so a
 * plugin has no undefined references into the daemon and links with
 * -Wl,--no-undefined.
 *
 * ABI versioning (the rule the loader enforces):
 *   - AB_ABI_MAJOR changes when anything is removed or a signature or struct
 *     layout changes. The loader refuses a plugin whose major differs.
 *   - AB_ABI_MINOR changes when something is appended (a service at the end
 *     of struct ab_services, an op at the end of struct ab_plugin_ops). The
 *     loader refuses a plugin built for a newer minor than the core speaks;
 *     an older minor is accepted, and the ops it does not have are NULL.
 *   - struct sizes travel with the plugin (struct_size, ops_size,
 *     option_size) and the services table (size), so each side can tell
 *     what the other was built with. struct ab_plugin and struct
 *     ab_plugin_ops grow at their ends (the ops are a table of their own
 *     for that reason); struct ab_option never changes within a major.
 * History:
 *   1.0  first release (not yet released: until agentbus 1.0 ships it may
 *        still change, as it did to add section kinds and services:
 *        gen_template, the section_* services, translation_step, tree_path,
 *        tree_parse, tree_free, json_raw, write_now, write_pending, json_spans
 *        and
 *        agent_context; the
 *        JSON writer of json.h replaced yajl_gen in gen_tree,
 *        gen_template and msg_build).
 *
 * Threads: every op runs on the broker's single loop thread. A message
 * submitted during an op is routed on a later loop turn, never re-entrantly.
 *
 * Ownership: what a plugin passes to the core, the core copies (or takes a
 * reference to); what the core hands a plugin is borrowed until the op
 * returns, unless the plugin takes a reference (msg_ref). Memory is freed by
 * whoever allocated it.
 */
#ifndef AGENTBUS_PLUGIN_H
#define AGENTBUS_PLUGIN_H

#include <agentbus/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AB_ABI_MAJOR 1
#define AB_ABI_MINOR 0

/* The exported symbol the loader looks up. */
#define AB_PLUGIN_SYMBOL "agentbus_plugin_v1"

struct ab_services;

/* One key a plugin accepts in its [plugin:NAME] section (or, in
 * route_options, in a [route:NAME] section that names it as translator; in
 * section_options, in a section of the plugin's own kind).
 * Arrays of options end with AB_OPTION_END. */
struct ab_option {
	const char *name;
	enum ab_option_type type;
	const char *default_value; /* as it would be written in the ini; NULL: none */
	unsigned flags;            /* AB_OPT_REQUIRED, AB_OPT_RELOADABLE */
	int64_t min, max;          /* INT/DURATION(ms)/SIZE(bytes) bounds; both 0: unbounded */
	const char *choices;       /* ENUM: "stdio|http|ws" */
	const char *help;          /* one line, for the configuration reference */
};
#define AB_OPTION_END { NULL, (enum ab_option_type)0, NULL, 0, 0, 0, NULL, NULL }

/* The phases of a reload (SIGHUP). The core first asks every plugin to
 * PREPARE (config getters answer from the new config during that call; the
 * plugin validates and stashes what it needs, touching nothing live). If
 * every plugin prepared, each gets COMMIT (adopt what was stashed);
 * otherwise each that prepared gets ABORT (discard it) and the old config
 * stays whole. */
enum ab_reload_phase {
	AB_RELOAD_PREPARE = 1,
	AB_RELOAD_COMMIT,
	AB_RELOAD_ABORT,
};

/* What ops.stop returns. */
#define AB_STOPPED 0  /* nothing left to drain */
#define AB_DRAINING 1 /* still draining; the plugin calls services->stopped() when done */

/* Delivery flags. */
#define AB_DELIVER_REQUEST 0x1u /* a request: the agent answers with a message carrying
                                 * the same correlation_id (services->submit) */
#define AB_DELIVER_REPLY 0x2u   /* a reply to a request this agent made */
#define AB_DELIVER_INTERIM 0x4u /* with REPLY: not the final one (progress, started) */
#define AB_DELIVER_CANCEL 0x8u  /* a request delivered earlier was abandoned (its
                                 * requester got a timeout or cancelled error):
                                 * msg is {"type":"cancel","correlation_id":<the
                                 * request's, as delivered>,"reason":"timeout"|...};
                                 * stop working on it, send no reply */
#define AB_DELIVER_ONEWAY 0x10u /* a message on a oneway route: no reply expected */

struct ab_plugin_ops {
	/* Required. Called once after the config is validated, before the loop
	 * runs. Read options with services->config_*(self, ...), keep `self` and
	 * `services` for later calls, and return the plugin's state in *state.
	 * Return 0, or negative after logging why: the broker then refuses to
	 * start (and calls destroy with *state, if init set it). */
	int (*init)(ab_instance *self, const struct ab_services *services, void **state);

	/* Optional. Open listeners, spawn children, register agents. Negative
	 * stops the broker before it reports ready. */
	int (*start)(void *state);

	/* Optional. See enum ab_reload_phase. Without it the plugin's options are
	 * not reloadable, and a changed one is reported as needing a restart. */
	int (*reload)(void *state, enum ab_reload_phase phase);

	/* Optional. Graceful shutdown begins: stop accepting, finish what is in
	 * flight. Return AB_STOPPED or AB_DRAINING. The core waits at most
	 * [broker] shutdown_timeout for the draining ones. */
	int (*stop)(void *state);

	/* Required. Free everything; no service may be called after it returns. */
	void (*destroy)(void *state);

	/* Transports: required. Hand `msg` to agent `agent_id`, which this
	 * instance registered with `agent_ctx`. `flags` holds AB_DELIVER_*
	 * bits. `msg` is borrowed: take a reference to keep it past the call.
	 * Return 0 when the message was accepted; negative when it cannot be
	 * (the core then answers a request with an upstream_unavailable error). */
	int (*deliver)(void *state, void *agent_ctx, const char *agent_id, ab_msg *msg,
	               unsigned flags);

	/* Translators: required. Turn the input of `t` into what the other side
	 * speaks, with services->translation_forward / _reply / _fail. Pure: no
	 * I/O. Return 0, or negative (the requester then gets internal_error). */
	int (*translate)(void *state, ab_translation *t);

	/* Translators: optional. A route naming this translator was compiled
	 * (at load or reload): read its options with services->route_*() and
	 * return per-route state in *route_state (handed back in each
	 * translation). Negative rejects the config. */
	int (*route_attach)(void *state, const ab_route *route, void **route_state);

	/* Translators: optional. The route table holding that route is gone. */
	void (*route_detach)(void *state, void *route_state);

	/* Optional. Someone asked for /health or /metrics: add this plugin's
	 * facts with services->report_*. Called on the loop thread; quick. */
	void (*report)(void *state, ab_report *report);
};

struct ab_plugin {
	uint16_t abi_major;
	uint16_t abi_minor;
	uint32_t struct_size; /* sizeof(struct ab_plugin) as the plugin saw it */
	uint32_t ops_size;    /* sizeof(struct ab_plugin_ops) */
	uint32_t option_size; /* sizeof(struct ab_option) */
	enum ab_plugin_kind kind;
	const char *name;        /* short name, e.g. "websocket" */
	const char *version;     /* the plugin's own version */
	const char *description; /* one line */
	const struct ab_option *options;       /* [plugin:NAME] keys; may be NULL */
	const struct ab_option *route_options; /* translators: [route:NAME] keys; may be NULL */
	/* A section kind of the plugin's own, e.g. "http_route" for the
	 * websocket listener's [http_route:NAME] sections, and their keys; NULL:
	 * none. A section belongs to the instance its "plugin = NAME" key names,
	 * which may be left out when one instance alone takes that kind. Read
	 * them with services->section_*. */
	const char *section_kind;
	const struct ab_option *section_options;
	const struct ab_plugin_ops *ops;
};

#if defined(__GNUC__)
#define AB_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define AB_PLUGIN_EXPORT
#endif

/* Defines the plugin's entry symbol:
 *
 *   AB_PLUGIN_DEFINE(AB_PLUGIN_TRANSPORT, "echo", "1.0.0", "Echoes messages",
 *                    echo_options, NULL,
 *                    .init = echo_init, .destroy = echo_destroy,
 *                    .deliver = echo_deliver);
 *
 * and, for a plugin with sections of its own kind,
 *
 *   AB_PLUGIN_DEFINE_WITH_SECTIONS(..., echo_options, NULL, "echo_reply", reply_options,
 *                                  .init = ...);
 */
#define AB_PLUGIN_DEFINE(kind_, name_, version_, description_, options_, route_options_, ...) \
	AB_PLUGIN_DEFINE_WITH_SECTIONS(kind_, name_, version_, description_, options_,        \
	                               route_options_, NULL, NULL, __VA_ARGS__)
#define AB_PLUGIN_DEFINE_WITH_SECTIONS(kind_, name_, version_, description_, options_,       \
                                       route_options_, section_kind_, section_options_, ...) \
	static const struct ab_plugin_ops agentbus_plugin_ops_ = { __VA_ARGS__ };          \
	AB_PLUGIN_EXPORT const struct ab_plugin agentbus_plugin_v1 = {                     \
		.abi_major = AB_ABI_MAJOR,                                                     \
		.abi_minor = AB_ABI_MINOR,                                                     \
		.struct_size = sizeof(struct ab_plugin),                                       \
		.ops_size = sizeof(struct ab_plugin_ops),                                      \
		.option_size = sizeof(struct ab_option),                                       \
		.kind = (kind_),                                                               \
		.name = (name_),                                                               \
		.version = (version_),                                                         \
		.description = (description_),                                                 \
		.options = (options_),                                                         \
		.route_options = (route_options_),                                             \
		.section_kind = (section_kind_),                                               \
		.section_options = (section_options_),                                         \
		.ops = &agentbus_plugin_ops_,                                                  \
	}

#ifdef __cplusplus
}
#endif

#endif /* AGENTBUS_PLUGIN_H */
