/*
 * agentbus plugin SDK: the services table, every call a plugin makes into
 * the core. The table is handed to ops.init and stays valid until
 * ops.destroy returns. New services are only ever appended (see the ABI rule
 * in plugin.h); check `size` before calling one newer than your minimum.
 *
 * All services must be called from the loop thread.
 */
#ifndef AGENTBUS_SERVICES_H
#define AGENTBUS_SERVICES_H

#include <agentbus/types.h>
#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;
struct bufferevent;
struct iovec;

#if defined(__GNUC__)
#define AB_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define AB_PRINTF(fmt, args)
#endif

struct ab_services {
	uint32_t size; /* sizeof(struct ab_services) as the core was built */
	uint16_t abi_major;
	uint16_t abi_minor;
	const char *broker_version;

	/* ---- the instance and its config ---------------------------------- */

	/* Log a line tagged with this instance's name. Never log secrets. */
	void (*log)(ab_instance *self, enum ab_log_level level, const char *fmt, ...) AB_PRINTF(3, 4);

	/* The NAME of this instance's [plugin:NAME] section. Owned by the core. */
	const char *(*instance_name)(const ab_instance *self);

	/* The agent id the broker itself uses as the source of the messages it
	 * makes (error replies, say): "agentbus_<node_id>". Owned by the core. */
	const char *(*broker_agent_id)(void);

	/* Option values from this instance's section, after ${VAR} expansion,
	 * with the schema's default where the section is silent. The key must be
	 * in the plugin's schema (else: NULL / 0, and a logged bug). Strings are
	 * owned by the core and stay valid as long as the instance, unless a
	 * reload changes that value (only reloadable options change).
	 *   config_string: any type, as written; NULL when unset with no default.
	 *   config_int:    INT as is, DURATION in milliseconds, SIZE in bytes,
	 *                  BOOL as 0/1, ENUM as the index in choices.
	 *   config_bool:   BOOL. */
	const char *(*config_string)(const ab_instance *self, const char *key);
	int64_t (*config_int)(const ab_instance *self, const char *key);
	bool (*config_bool)(const ab_instance *self, const char *key);

	/* ---- the loop ------------------------------------------------------ */

	/* The broker's shared libevent base. Never free or loop it. */
	struct event_base *(*event_base)(const ab_instance *self);

	/* Call cb(arg) after `ms` milliseconds, and every `ms` after that when
	 * `repeat`. The handle stays valid until timer_cancel, which stops and
	 * frees it (also after a one-shot timer fired; cancelling from inside
	 * cb is fine). Timers an instance still has when its destroy returns
	 * are freed by the core. */
	ab_timer *(*timer_start)(ab_instance *self, uint64_t ms, bool repeat, void (*cb)(void *arg),
	                         void *arg);
	void (*timer_cancel)(ab_timer *timer);

	/* A draining instance (ops.stop returned AB_DRAINING) is done. */
	void (*stopped)(ab_instance *self);

	/* ---- agents (transports) ------------------------------------------ */

	/* Make `agent_id` reachable through this instance; ops.deliver gets
	 * `agent_ctx` back. The id is copied. Messages held for the id while it
	 * was absent are delivered, in order, on a later loop turn.
	 * Returns 0, -EEXIST when another live agent has the id, -EINVAL for an
	 * id outside [A-Za-z0-9_.:-]{1,128}. */
	int (*agent_register)(ab_instance *self, const char *agent_id, void *agent_ctx);

	/* The agent is gone (perhaps briefly). Requests delivered to it and not
	 * yet answered get upstream_unavailable replies; messages that arrive for
	 * it are held for [broker] hold_window, then answered the same way.
	 * Returns 0, or -ENOENT when this instance does not own the id. */
	int (*agent_unregister)(ab_instance *self, const char *agent_id);

	/* ---- messages ------------------------------------------------------ */

	/* Parse and check `len` bytes (copied) into a new message with one
	 * reference, or NULL with *err filled: invalid_json (not JSON),
	 * invalid_message (not an object, no string `type`, a non-string
	 * `correlation_id`, nesting deeper than [broker] max_json_depth),
	 * message_too_large (over [broker] max_message_size). */
	ab_msg *(*msg_parse)(const char *json, size_t len, struct ab_parse_error *err);

	ab_msg *(*msg_ref)(ab_msg *msg); /* returns msg */
	void (*msg_unref)(ab_msg *msg);  /* NULL is fine */

	/* Routing fields, owned by the message. correlation_id is NULL only on
	 * a message that has none and was not yet submitted (the core assigns
	 * one at submit); source is NULL until submitted. */
	const char *(*msg_type)(const ab_msg *msg);
	const char *(*msg_correlation_id)(const ab_msg *msg);
	const char *(*msg_source)(const ab_msg *msg);

	/* The JSON bytes (NUL-terminated; *len excludes the NUL). */
	const char *(*msg_json)(const ab_msg *msg, size_t *len);

	/* The parsed yajl tree, built on first use and owned by the message. */
	yajl_val (*msg_tree)(ab_msg *msg);

	/* Route `msg` as sent by `source_agent`, an agent this instance
	 * registered. A message carrying the correlation_id of a request
	 * delivered to that agent is its reply; anything else is a new message,
	 * matched against the routes. The core takes its own reference: the
	 * caller still owns (and unrefs) its own. Routing happens on a later
	 * loop turn. Returns 0; -EPERM when this instance does not own the
	 * source; -EALREADY when the message was submitted before. */
	int (*submit)(ab_instance *self, const char *source_agent, ab_msg *msg);

	/* ---- translations (translators) ------------------------------------ */

	/* What to translate: a request on its way to its destination, or (when
	 * translation_is_reply) an answer on its way back. Borrowed. */
	ab_msg *(*translation_input)(ab_translation *t);
	bool (*translation_is_reply)(ab_translation *t);

	/* The request as the requester sent it (for a request, the input).
	 * Borrowed. */
	ab_msg *(*translation_request)(ab_translation *t);

	/* The route, and the state route_attach returned for it. */
	const ab_route *(*translation_route)(ab_translation *t);
	void *(*translation_route_state)(ab_translation *t);

	/* Send `msg` on to the request's destination, at most once per
	 * translation. From a request's translation it is the request; from a
	 * reply's, the request's next leg: the destination answered one
	 * question and the translator asks the next (select, then list the
	 * tables), and that leg's answer comes back to translate with
	 * translation_step one higher. Whatever the steps, the requester gets
	 * one final reply within the route's deadline. The core takes a
	 * reference. Returns 0 or -EINVAL. */
	int (*translation_forward)(ab_translation *t, ab_msg *msg);

	/* Answer the requester with `msg` (final, unless its type is one of the
	 * route's interim types). Allowed in both directions: a translator may
	 * answer a request itself without forwarding it. The core takes a
	 * reference. Returns 0 or -EINVAL. */
	int (*translation_reply)(ab_translation *t, ab_msg *msg);

	/* End the request with an error reply of this error_type (AB_ERR_*)
	 * and message, in the route's error reply type. Returns 0. */
	int (*translation_fail)(ab_translation *t, const char *error_type, const char *message);

	/* ---- routes (translators, in route_attach and translate) ---------- */

	/* The NAME of the route's [route:NAME] section. */
	const char *(*route_name)(const ab_route *route);

	/* The route's values for the keys of the translator's route_options,
	 * with the same rules as config_string / config_int. */
	const char *(*route_string)(const ab_route *route, const char *key);
	int64_t (*route_int)(const ab_route *route, const char *key);

	/* The message g wrote (json.h): for messages a plugin makes itself (a
	 * translator's query_response, say), as opposed to bytes that arrived
	 * from a client (msg_parse). The text is JSON by the writer's
	 * construction, so only the message rules are checked (an object, a
	 * string 'type', one of each routing field), without the size and
	 * depth limits. NULL, with err (which may be NULL) saying why, when g
	 * has no text (out of memory, a misused writer, a string that is not
	 * UTF-8) or it is no message. g stays the caller's. */
	ab_msg *(*msg_build)(const ab_json *g, struct ab_parse_error *err);

	/* ---- health and metrics ------------------------------------------- */

	/* In ops.report: an upstream this instance reaches. state is
	 * "connecting", "ready" or "down"; a required upstream that is not
	 * ready makes the broker "degraded" (and /ready 503). last_error may
	 * be NULL; tools < 0 when unknown. Everything is copied. */
	void (*report_upstream)(ab_report *report, const char *agent_id, const char *transport,
	                        const char *state, bool required, const char *last_error,
	                        int64_t tools);

	/* In ops.report: one Prometheus sample. name like
	 * "agentbus_ws_connections"; labels like "code=\"4000\"" or NULL; help
	 * is written once per name. */
	void (*report_metric)(ab_report *report, const char *name, enum ab_metric_type type,
	                      const char *help, const char *labels, double value);

	/* In ops.report: a count /health shows (summed over plugins), e.g.
	 * "active_connections". */
	void (*report_count)(ab_report *report, const char *name, int64_t value);

	/* For the transport that serves HTTP: the /health JSON document
	 * (*ready: whether /ready should say 200) and the /metrics text, from
	 * the core and every plugin's report. The caller frees the result with
	 * report_free. NULL without memory. */
	char *(*render_health)(size_t *len, bool *ready);
	char *(*render_metrics)(size_t *len);
	void (*report_free)(char *text);

	/* ---- time ---------------------------------------------------------- */

	/* The current UTC time as the protocol writes it,
	 * "2026-11-25T17:20:50.123Z" (AB_TIMESTAMP_LEN bytes with the NUL). */
	void (*timestamp)(char out[AB_TIMESTAMP_LEN]);

	/* ---- JSON ---------------------------------------------------------- */

	/* Write a parsed value (a msg_tree, or part of one) into g, as it is:
	 * the way to copy members from a message into one being built. */
	void (*gen_tree)(ab_json *g, yajl_val value);

	/* Write a template filled from root into g: a string "$" stands for
	 * root, "$.a.b" for root's member a's member b; an object member or
	 * array element whose source is absent is left out (a reference at the
	 * top that is absent is written as null; so is a path with an empty
	 * segment or one of 256 bytes or more); everything else is copied.
	 * {"sql_stmt": "$.query", "limit": 100} with {"query": "SELECT 1"}
	 * writes {"sql_stmt": "SELECT 1", "limit": 100}. */
	void (*gen_template)(ab_json *g, yajl_val tmpl, yajl_val root);

	/* ---- sections of the plugin's own kind (plugin.h, section_kind) ---- */

	/* How many such sections this instance owns, in file order; the NAME of
	 * section i's [KIND:NAME]; its values for the keys of section_options,
	 * with the rules of config_string / config_int. During a reload's
	 * PREPARE they answer from the new config; copy what you keep. */
	size_t (*section_count)(const ab_instance *self);
	const char *(*section_name)(const ab_instance *self, size_t i);
	const char *(*section_string)(const ab_instance *self, size_t i, const char *key);
	int64_t (*section_int)(const ab_instance *self, size_t i, const char *key);

	/* ---- translations, continued ---------------------------------------- */

	/* Which leg the input answers: 0 when translating the request, 1 for
	 * the answer to the first forward, 2 for the next leg's, ... */
	unsigned (*translation_step)(ab_translation *t);

	/* ---- JSON, continued ------------------------------------------------ */

	/* The value a reference names, as gen_template reads it: "$" is root,
	 * "$.a.b" root's member a's member b. NULL when it is absent, or ref
	 * is no such reference. Borrowed from root. */
	yajl_val (*tree_path)(yajl_val root, const char *ref);

	/* Parse JSON the way messages are: strict RFC 8259 (no comments, UTF-8
	 * checked) and no deeper than [broker] max_json_depth, into one
	 * allocation. NULL when json[0..len) is not such JSON.
	 * The caller owns the tree and frees it with tree_free, never with
	 * yajl_tree_free; tree_free(NULL) is fine. */
	yajl_val (*tree_parse)(const char *json, size_t len);
	void (*tree_free)(yajl_val tree);

	/* Carrying a value on without parsing and generating it: json_raw finds
	 * the bytes of the value a reference names ("$", "$.a.b", as tree_path
	 * reads them) in JSON text that was checked already (a message's
	 * msg_json, or text tree_parse took); NULL when it is absent. Borrowed
	 * from json. ab_json_raw (json.h) writes such bytes as a value; nothing
	 * checks them again, which is why they must come from checked text. */
	const char *(*json_raw)(const char *json, size_t len, const char *ref, size_t *raw_len);

	/* ---- I/O ----------------------------------------------------------- */

	/* Write n pieces to bev, a plain socket's bufferevent (never a TLS
	 * one: this writes to its descriptor). What is written to one
	 * bufferevent during a loop turn (the replies the router delivers in
	 * one go) leaves in one writev at the turn's end, without libevent's
	 * write event and the epoll calls and wakeup it costs; past 64 KiB it
	 * goes at once. What the socket does not take, the bufferevent writes
	 * when it drains. Meanwhile the bytes are in bev's output, after what
	 * it held, with EV_WRITE off: EV_WRITE on such a bev is write_now's,
	 * so leave it alone. The owner's write callback runs once they are all
	 * out, as after any write. A bev freed before the turn's end has what
	 * the socket takes then written, and the rest dropped with it. */
	void (*write_now)(ab_instance *self, struct bufferevent *bev, const struct iovec *iov, int n);

	/* What of bev's output waits for the reader: its length less what
	 * write_now holds for the turn's end (at most 64 KiB and a message,
	 * beyond a bound that counts this). A slow-reader bound counts this. */
	size_t (*write_pending)(ab_instance *self, struct bufferevent *bev);

	/* ---- JSON, again ---------------------------------------------------- */

	/* Check json[0..len) whole, as tree_parse would (strictly, within
	 * max_json_depth), and find the values of the top-level members named
	 * names[0..n) in one pass, without a tree: spans[i] for names[i] (the
	 * first of a repeated key, as a tree lookup finds it). True when the
	 * text is a JSON object; the spans are meaningful only then. The way
	 * to read a few members of a large text and carry others on as bytes
	 * (ab_json_raw), or to parse just them (tree_parse on a span). */
	bool (*json_spans)(const char *json, size_t len, const char *const *names, size_t n,
	                   struct ab_json_span *spans);

	/* ---- agents, again -------------------------------------------------- */

	/* The agent_ctx this instance registered agent_id with, found in the
	 * core's registry (a hash table): NULL when this instance does not hold
	 * agent_id now. A transport needs no table of its own agents. */
	void *(*agent_context)(const ab_instance *self, const char *agent_id);
};

#ifdef __cplusplus
}
#endif

#endif /* AGENTBUS_SERVICES_H */
