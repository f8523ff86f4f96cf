#include "build-config.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "core/broker.h"
#include "core/jsonparse.h"
#include "core/jsontree.h"
#include "core/log.h"
#include "core/msg.h"
#include "core/options.h"
#include "core/plugins.h"
#include "core/router.h"
#include "core/routes.h"
#include "core/report.h"
#include "core/services.h"
#include "core/timefmt.h"
#include "core/write_batch.h"

static struct broker *the_broker;

void services_set_broker(struct broker *b)
{
	the_broker = b;
}

static void svc_log(ab_instance *self, enum ab_log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, self->name, fmt, ap);
	va_end(ap);
}

static const char *svc_instance_name(const ab_instance *self)
{
	return self->name;
}

static const char *svc_broker_agent_id(void)
{
	return the_broker ? broker_agent_id(the_broker) : "agentbus";
}

static char *svc_render_health(size_t *len, bool *ready)
{
	return the_broker ? report_render_health(the_broker, len, ready) : NULL;
}

static char *svc_render_metrics(size_t *len)
{
	return the_broker ? report_render_metrics(the_broker, len) : NULL;
}

static void svc_report_free(char *text)
{
	free(text);
}

static const struct option_value *instance_option(const ab_instance *self, const char *key)
{
	const struct option_values *values = self->reloading ? &self->next_options : &self->options;
	const struct option_value *v = option_values_get(values, key);
	if (!v)
		log_msg(AB_LOG_ERROR, self->name, "bug: option '%s' is not in the plugin's schema", key);
	return v;
}

static const char *svc_config_string(const ab_instance *self, const char *key)
{
	const struct option_value *v = instance_option(self, key);
	return v ? v->text : NULL;
}

static int64_t svc_config_int(const ab_instance *self, const char *key)
{
	const struct option_value *v = instance_option(self, key);
	return v && v->text ? v->number : 0;
}

static bool svc_config_bool(const ab_instance *self, const char *key)
{
	return svc_config_int(self, key) != 0;
}

static struct event_base *svc_event_base(const ab_instance *self)
{
	return broker_base(self->broker);
}

struct ab_timer {
	struct ab_instance *owner;
	struct ab_timer *prev, *next; /* the owner's timers */
	struct event *event;
	void (*cb)(void *arg);
	void *arg;
};

static void timer_fired(evutil_socket_t fd, short what, void *arg)
{
	struct ab_timer *t = arg;
	t->cb(t->arg); /* may cancel t: touch nothing after */
}

static ab_timer *svc_timer_start(ab_instance *self, uint64_t ms, bool repeat,
                                 void (*cb)(void *arg), void *arg)
{
	struct ab_timer *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->owner = self;
	t->cb = cb;
	t->arg = arg;
	t->event = event_new(broker_base(self->broker), -1, repeat ? EV_PERSIST : 0, timer_fired, t);
	if (!t->event) {
		free(t);
		return NULL;
	}
	t->next = self->timers;
	if (self->timers)
		self->timers->prev = t;
	self->timers = t;
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };
	event_add(t->event, &tv);
	return t;
}

static void svc_timer_cancel(ab_timer *t)
{
	if (!t)
		return;
	if (t->prev)
		t->prev->next = t->next;
	else
		t->owner->timers = t->next;
	if (t->next)
		t->next->prev = t->prev;
	event_free(t->event);
	free(t);
}

void services_free_timers(struct ab_instance *inst)
{
	while (inst->timers)
		svc_timer_cancel(inst->timers);
}

static void svc_stopped(ab_instance *self)
{
	broker_instance_stopped(self->broker, self);
}

static int svc_agent_register(ab_instance *self, const char *id, void *ctx)
{
	return router_register(broker_router(self->broker), self, id, ctx);
}

static int svc_agent_unregister(ab_instance *self, const char *id)
{
	return router_unregister(broker_router(self->broker), self, id);
}

struct spans_walk {
	const char *json;
	const char *const *names;
	size_t n;
	struct ab_json_span *spans;
};

static bool note_span(void *ctx, const struct jsonparse_member *m)
{
	const struct spans_walk *w = ctx;
	for (size_t i = 0; i < w->n; i++) {
		if (!w->spans[i].at && strcmp(m->key, w->names[i]) == 0)
			w->spans[i] = (struct ab_json_span){ w->json + m->start, m->end - m->start };
	}
	return true;
}

static bool svc_json_spans(const char *json, size_t len, const char *const *names, size_t n,
                           struct ab_json_span *spans)
{
	struct spans_walk w = { json, names, n, spans };
	for (size_t i = 0; i < n; i++)
		spans[i] = (struct ab_json_span){ NULL, 0 };
	yajl_type root;
	return jsonparse_scan(json, len, msg_max_depth(), note_span, &w, &root, NULL) == JSONPARSE_OK &&
	       root == yajl_t_object;
}

static void *svc_agent_context(const ab_instance *self, const char *id)
{
	return router_agent_context(broker_router(self->broker), self, id);
}

static int svc_submit(ab_instance *self, const char *source, ab_msg *msg)
{
	return router_submit(broker_router(self->broker), self, source, msg);
}

static yajl_val tree_parse(const char *json, size_t len)
{
	/* Plugins parse what clients and servers send: the limit messages have. */
	return jsonparse_tree(json, len, msg_max_depth(), NULL);
}

static void write_now(ab_instance *self, struct bufferevent *bev, const struct iovec *iov, int n)
{
	write_batch_add(broker_writes(self->broker), bev, iov, n);
}

static size_t write_pending(ab_instance *self, struct bufferevent *bev)
{
	(void)self;
	return write_batch_pending(bev);
}

static const char *svc_route_name(const ab_route *route)
{
	return route->name;
}

static const char *svc_route_string(const ab_route *route, const char *key)
{
	const struct option_value *v = option_values_get(&route->options, key);
	return v ? v->text : NULL;
}

static int64_t svc_route_int(const ab_route *route, const char *key)
{
	const struct option_value *v = option_values_get(&route->options, key);
	return v && v->text ? v->number : 0;
}

static const struct instance_sections *instance_sections(const ab_instance *self)
{
	return self->reloading ? &self->next_sections : &self->sections;
}

static size_t svc_section_count(const ab_instance *self)
{
	return instance_sections(self)->count;
}

static const struct instance_section *section_at(const ab_instance *self, size_t i)
{
	const struct instance_sections *all = instance_sections(self);
	if (i < all->count)
		return &all->items[i];
	log_msg(AB_LOG_ERROR, self->name, "bug: section %zu of %zu asked for", i, all->count);
	return NULL;
}

static const char *svc_section_name(const ab_instance *self, size_t i)
{
	const struct instance_section *s = section_at(self, i);
	return s ? s->name : NULL;
}

static const struct option_value *section_option(const ab_instance *self, size_t i, const char *key)
{
	const struct instance_section *s = section_at(self, i);
	const struct option_value *v = s ? option_values_get(&s->values, key) : NULL;
	if (s && !v)
		log_msg(AB_LOG_ERROR, self->name, "bug: key '%s' is not in the plugin's section schema", key);
	return v;
}

static const char *svc_section_string(const ab_instance *self, size_t i, const char *key)
{
	const struct option_value *v = section_option(self, i, key);
	return v ? v->text : NULL;
}

static int64_t svc_section_int(const ab_instance *self, size_t i, const char *key)
{
	const struct option_value *v = section_option(self, i, key);
	return v && v->text ? v->number : 0;
}

const struct ab_services services_table = {
	.size = sizeof(struct ab_services),
	.abi_major = AB_ABI_MAJOR,
	.abi_minor = AB_ABI_MINOR,
	.broker_version = PACKAGE_VERSION,
	.log = svc_log,
	.instance_name = svc_instance_name,
	.broker_agent_id = svc_broker_agent_id,
	.config_string = svc_config_string,
	.config_int = svc_config_int,
	.config_bool = svc_config_bool,
	.event_base = svc_event_base,
	.timer_start = svc_timer_start,
	.timer_cancel = svc_timer_cancel,
	.stopped = svc_stopped,
	.agent_register = svc_agent_register,
	.agent_unregister = svc_agent_unregister,
	.msg_parse = msg_parse,
	.msg_ref = msg_ref,
	.msg_unref = msg_unref,
	.msg_type = msg_type,
	.msg_correlation_id = msg_correlation_id,
	.msg_source = msg_source,
	.msg_json = msg_json,
	.msg_tree = msg_tree,
	.submit = svc_submit,
	.translation_input = router_translation_input,
	.translation_is_reply = router_translation_is_reply,
	.translation_request = router_translation_request,
	.translation_route = router_translation_route,
	.translation_route_state = router_translation_route_state,
	.translation_forward = router_translation_forward,
	.translation_reply = router_translation_reply,
	.translation_fail = router_translation_fail,
	.route_name = svc_route_name,
	.route_string = svc_route_string,
	.route_int = svc_route_int,
	.timestamp = timefmt_iso8601_now,
	.msg_build = msg_build_written,
	.report_upstream = report_upstream,
	.report_metric = report_metric,
	.report_count = report_count,
	.render_health = svc_render_health,
	.render_metrics = svc_render_metrics,
	.report_free = svc_report_free,
	.gen_tree = jsontree_gen,
	.gen_template = jsontree_gen_template,
	.section_count = svc_section_count,
	.section_name = svc_section_name,
	.section_string = svc_section_string,
	.section_int = svc_section_int,
	.translation_step = router_translation_step,
	.tree_path = jsontree_path,
	.tree_parse = tree_parse,
	.tree_free = jsonparse_free,
	.json_raw = jsontree_raw,
	.write_now = write_now,
	.write_pending = write_pending,
	.json_spans = svc_json_spans,
	.agent_context = svc_agent_context,
};
