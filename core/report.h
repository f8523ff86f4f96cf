/* /health and /metrics: the core's own facts (uptime, plugins, the router's
 * counters and request latencies) and what each plugin's ops.report adds
 * (its upstreams, its metrics, its counts), rendered as the health JSON
 * document of docs/protocol.md and as Prometheus text. */
#ifndef AB_CORE_REPORT_H
#define AB_CORE_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agentbus/types.h>

struct broker;

void report_upstream(ab_report *r, const char *agent_id, const char *transport, const char *state,
                     bool required, const char *last_error, int64_t tools);
void report_metric(ab_report *r, const char *name, enum ab_metric_type type, const char *help,
                   const char *labels, double value);
void report_count(ab_report *r, const char *name, int64_t value);

/* Render for broker b (malloc'd; free with free()). */
char *report_render_health(struct broker *b, size_t *len, bool *ready);
char *report_render_metrics(struct broker *b, size_t *len);

#endif
