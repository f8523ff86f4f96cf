#include "build-config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>

#include "core/broker.h"
#include "core/plugins.h"
#include "core/report.h"
#include "core/router.h"

struct upstream {
	char *agent_id, *transport, *state, *last_error;
	bool required;
	int64_t tools;
};

struct metric {
	char *name, *help, *labels;
	enum ab_metric_type type;
	double value;
};

struct count {
	char *name;
	int64_t value;
};

struct ab_report {
	struct upstream *upstreams;
	size_t n_upstreams;
	struct metric *metrics;
	size_t n_metrics;
	struct count *counts;
	size_t n_counts;
	bool failed; /* out of memory somewhere: say so rather than lie */
};

static char *dup_or_null(ab_report *r, const char *text)
{
	if (!text)
		return NULL;
	char *copy = strdup(text);
	if (!copy)
		r->failed = true;
	return copy;
}

static void *grow(ab_report *r, void *array, size_t count, size_t size)
{
	void *grown = realloc(array, (count + 1) * size);
	if (!grown)
		r->failed = true;
	return grown;
}

void report_upstream(ab_report *r, const char *agent_id, const char *transport, const char *state,
                     bool required, const char *last_error, int64_t tools)
{
	struct upstream *grown = grow(r, r->upstreams, r->n_upstreams, sizeof *grown);
	if (!grown)
		return;
	r->upstreams = grown;
	r->upstreams[r->n_upstreams++] = (struct upstream){
		.agent_id = dup_or_null(r, agent_id), .transport = dup_or_null(r, transport),
		.state = dup_or_null(r, state), .last_error = dup_or_null(r, last_error),
		.required = required, .tools = tools,
	};
}

void report_metric(ab_report *r, const char *name, enum ab_metric_type type, const char *help,
                   const char *labels, double value)
{
	struct metric *grown = grow(r, r->metrics, r->n_metrics, sizeof *grown);
	if (!grown)
		return;
	r->metrics = grown;
	r->metrics[r->n_metrics++] = (struct metric){
		.name = dup_or_null(r, name), .help = dup_or_null(r, help),
		.labels = dup_or_null(r, labels), .type = type, .value = value,
	};
}

void report_count(ab_report *r, const char *name, int64_t value)
{
	for (size_t i = 0; i < r->n_counts; i++) {
		if (strcmp(r->counts[i].name, name) == 0) {
			r->counts[i].value += value;
			return;
		}
	}
	struct count *grown = grow(r, r->counts, r->n_counts, sizeof *grown);
	if (!grown)
		return;
	r->counts = grown;
	r->counts[r->n_counts++] = (struct count){ .name = dup_or_null(r, name), .value = value };
}

static void report_clear(ab_report *r)
{
	for (size_t i = 0; i < r->n_upstreams; i++) {
		free(r->upstreams[i].agent_id);
		free(r->upstreams[i].transport);
		free(r->upstreams[i].state);
		free(r->upstreams[i].last_error);
	}
	for (size_t i = 0; i < r->n_metrics; i++) {
		free(r->metrics[i].name);
		free(r->metrics[i].help);
		free(r->metrics[i].labels);
	}
	for (size_t i = 0; i < r->n_counts; i++)
		free(r->counts[i].name);
	free(r->upstreams);
	free(r->metrics);
	free(r->counts);
}

/* Ask every plugin that reports. */
static void collect(struct broker *b, ab_report *r)
{
	for (size_t i = 0; i < broker_instance_count(b); i++) {
		struct ab_instance *inst = broker_instance(b, i);
		if (inst->initialized && inst->ops.report)
			inst->ops.report(inst->state, r);
	}
}

/* ---- /health ------------------------------------------------------------------ */

static char *take_buffer(ab_json *g, size_t *len)
{
	const char *buf = ab_json_output(g, len);
	char *copy = buf ? malloc(*len + 1) : NULL;
	if (copy) {
		memcpy(copy, buf, *len);
		copy[*len] = '\0';
	}
	ab_json_free(g);
	return copy;
}

char *report_render_health(struct broker *b, size_t *len, bool *ready)
{
	ab_report r = { 0 };
	collect(b, &r);
	*ready = !r.failed;
	size_t up = 0;
	for (size_t i = 0; i < r.n_upstreams; i++) {
		bool is_ready = r.upstreams[i].state && strcmp(r.upstreams[i].state, "ready") == 0;
		up += is_ready;
		if (r.upstreams[i].required && !is_ready)
			*ready = false;
	}
	ab_json *g = ab_json_new();
	if (!g) {
		report_clear(&r);
		return NULL;
	}
	ab_json_map_open(g);
	ab_json_pair(g, "status", *ready ? "healthy" : "degraded");
	ab_json_pair(g, "service", "agentbus");
	ab_json_pair(g, "version", PACKAGE_VERSION);
	ab_json_pair(g, "node", broker_agent_id(b));
	char uptime[32];
	int n = snprintf(uptime, sizeof uptime, "%.3f", broker_uptime_seconds(b));
	ab_json_str(g, "uptime_seconds");
	ab_json_raw(g, uptime, (size_t)n);
	bool has_connections = false;
	for (size_t i = 0; i < r.n_counts; i++) {
		ab_json_str(g, r.counts[i].name);
		ab_json_integer(g, r.counts[i].value);
		has_connections |= strcmp(r.counts[i].name, "active_connections") == 0;
	}
	if (!has_connections) {
		ab_json_str(g, "active_connections");
		ab_json_integer(g, 0);
	}
	ab_json_pair(g, "mcp_status", up == r.n_upstreams ? "healthy" : up ? "degraded" : "unavailable");
	ab_json_str(g, "upstreams");
	ab_json_array_open(g);
	for (size_t i = 0; i < r.n_upstreams; i++) {
		const struct upstream *u = &r.upstreams[i];
		ab_json_map_open(g);
		ab_json_pair(g, "agent_id", u->agent_id ? u->agent_id : "");
		ab_json_pair(g, "transport", u->transport ? u->transport : "");
		ab_json_pair(g, "state", u->state ? u->state : "");
		ab_json_str(g, "required");
		ab_json_bool(g, u->required);
		if (u->tools >= 0) {
			ab_json_str(g, "tools");
			ab_json_integer(g, u->tools);
		}
		if (u->last_error)
			ab_json_pair(g, "last_error", u->last_error);
		ab_json_map_close(g);
	}
	ab_json_array_close(g);
	ab_json_str(g, "plugins");
	ab_json_array_open(g);
	for (size_t i = 0; i < broker_instance_count(b); i++)
		ab_json_str(g, broker_instance(b, i)->name);
	ab_json_array_close(g);
	ab_json_map_close(g);
	report_clear(&r);
	return take_buffer(g, len);
}

/* ---- /metrics ----------------------------------------------------------------- */

struct text {
	char *data;
	size_t len, cap;
	bool failed;
};

static void add(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct text *t, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		int n = vsnprintf(t->data ? t->data + t->len : NULL, t->data ? t->cap - t->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			t->failed = true;
			return;
		}
		if (t->data && t->len + (size_t)n < t->cap) {
			t->len += (size_t)n;
			return;
		}
		size_t cap = (t->cap ? t->cap * 2 : 4096) + (size_t)n;
		char *grown = realloc(t->data, cap);
		if (!grown) {
			t->failed = true;
			return;
		}
		t->data = grown;
		t->cap = cap;
	}
}

/* The core's own samples, into the report like any plugin's. */
static void core_metrics(struct broker *b, ab_report *r)
{
	struct router_stats st;
	router_stats(broker_router(b), &st);
	report_metric(r, "agentbus_uptime_seconds", AB_METRIC_GAUGE, "Seconds since the broker started",
	              NULL, broker_uptime_seconds(b));
	report_metric(r, "agentbus_agents", AB_METRIC_GAUGE, "Agents known to the router (live or held for)",
	              NULL, (double)st.agents);
	report_metric(r, "agentbus_requests_in_flight", AB_METRIC_GAUGE, "Requests awaiting their final reply",
	              NULL, (double)st.in_flight);
	report_metric(r, "agentbus_messages_submitted_total", AB_METRIC_COUNTER, "Messages plugins submitted",
	              NULL, (double)st.submitted);
	report_metric(r, "agentbus_requests_total", AB_METRIC_COUNTER, "Requests routed", NULL,
	              (double)st.requests);
	report_metric(r, "agentbus_replies_total", AB_METRIC_COUNTER, "Replies delivered to requesters",
	              NULL, (double)st.replies);
	static const char help_errors[] = "Error replies the router made, by error_type";
	report_metric(r, "agentbus_router_errors_total", AB_METRIC_COUNTER, help_errors,
	              "error_type=\"no_route\"", (double)st.no_route);
	report_metric(r, "agentbus_router_errors_total", AB_METRIC_COUNTER, help_errors,
	              "error_type=\"timeout\"", (double)st.timeouts);
	report_metric(r, "agentbus_router_errors_total", AB_METRIC_COUNTER, help_errors,
	              "error_type=\"upstream_unavailable\"", (double)st.unavailable);
	report_metric(r, "agentbus_router_errors_total", AB_METRIC_COUNTER, help_errors,
	              "error_type=\"cancelled\"", (double)st.cancelled);
	report_metric(r, "agentbus_messages_held_total", AB_METRIC_COUNTER,
	              "Messages held for an absent agent", NULL, (double)st.held);
	report_metric(r, "agentbus_messages_dropped_total", AB_METRIC_COUNTER,
	              "Messages that could not be delivered or held (each logged)", NULL, (double)st.dropped);
	report_metric(r, "agentbus_late_replies_total", AB_METRIC_COUNTER,
	              "Replies that came after their request had ended", NULL, (double)st.late);
}

static const char *type_name(enum ab_metric_type type)
{
	return type == AB_METRIC_COUNTER ? "counter" : "gauge";
}

static void write_latency(struct text *t, const struct router_stats *st)
{
	static const char name[] = "agentbus_request_duration_seconds";
	add(t, "# HELP %s Time from routing a request to its final reply\n# TYPE %s histogram\n", name,
	    name);
	uint64_t cumulative = 0;
	for (size_t i = 0; i < ROUTER_LATENCY_BUCKETS; i++) {
		cumulative += st->latency[i];
		add(t, "%s_bucket{le=\"%g\"} %llu\n", name, router_latency_bounds[i],
		    (unsigned long long)cumulative);
	}
	cumulative += st->latency[ROUTER_LATENCY_BUCKETS];
	add(t, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum %.6f\n%s_count %llu\n", name,
	    (unsigned long long)cumulative, name, st->latency_sum, name, (unsigned long long)cumulative);
}

char *report_render_metrics(struct broker *b, size_t *len)
{
	ab_report r = { 0 };
	core_metrics(b, &r);
	collect(b, &r);
	struct text t = { 0 };
	/* Each name's samples together, HELP and TYPE once, in first-seen order. */
	for (size_t i = 0; i < r.n_metrics; i++) {
		const struct metric *m = &r.metrics[i];
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(r.metrics[j].name, m->name) == 0;
		if (seen || !m->name)
			continue;
		add(&t, "# HELP %s %s\n# TYPE %s %s\n", m->name, m->help ? m->help : "", m->name,
		    type_name(m->type));
		for (size_t j = i; j < r.n_metrics; j++) {
			const struct metric *s = &r.metrics[j];
			if (strcmp(s->name, m->name) != 0)
				continue;
			if (s->labels)
				add(&t, "%s{%s} %.17g\n", s->name, s->labels, s->value);
			else
				add(&t, "%s %.17g\n", s->name, s->value);
		}
	}
	for (size_t i = 0; i < r.n_upstreams; i++) {
		const struct upstream *u = &r.upstreams[i];
		if (i == 0)
			add(&t, "# HELP agentbus_upstream_up Whether an upstream is ready (1) or not (0)\n"
			        "# TYPE agentbus_upstream_up gauge\n");
		add(&t, "agentbus_upstream_up{agent_id=\"%s\",transport=\"%s\",state=\"%s\"} %d\n",
		    u->agent_id ? u->agent_id : "", u->transport ? u->transport : "",
		    u->state ? u->state : "", u->state && strcmp(u->state, "ready") == 0);
	}
	struct router_stats st;
	router_stats(broker_router(b), &st);
	write_latency(&t, &st);
	bool failed = r.failed || t.failed;
	report_clear(&r);
	if (failed) {
		free(t.data);
		return NULL;
	}
	*len = t.len;
	return t.data;
}
