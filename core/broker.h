/* The broker: what one config makes of the core. It loads the config, loads
 * and initializes the plugins it names, compiles the routes, starts the
 * plugins, reloads all of that atomically on SIGHUP and drains it on
 * shutdown. core/main.c wraps it in a daemon. */
#ifndef AB_CORE_BROKER_H
#define AB_CORE_BROKER_H

#include <stdbool.h>

#include "core/diag.h"

struct event_base;
struct write_batch;
struct ab_instance;

struct broker;

/* log_level_locked: -l was given, so [broker] log_level does not apply. */
struct broker *broker_new(struct event_base *base, bool log_level_locked);

/* Use dir instead of [broker] plugin_dir (agentbusd --plugin-dir). */
void broker_set_plugin_dir(struct broker *b, const char *dir);

/* Read the config at path, load and init every plugin, compile the routes.
 * Every problem goes to d. Returns 0 when the broker is ready to start. */
int broker_load(struct broker *b, const char *path, struct diag *d);

/* Start the plugins, in config order. Returns 0, or -1 (logged). */
int broker_start(struct broker *b);

/* Run the loop (core/loop.h, with [broker] busy_poll_us) until the
 * shutdown ends it. */
void broker_run(struct broker *b);

/* Re-read the config the broker was loaded from. Applied whole or not at
 * all: on any error the old config stays and the errors are logged.
 * Returns 0 when the new config took effect. */
int broker_reload(struct broker *b);

/* Begin a graceful shutdown: answer every request in flight, stop the
 * plugins and leave the loop once they have drained or [broker]
 * shutdown_timeout has passed. A second call leaves at once. */
void broker_shutdown(struct broker *b);

/* True once a shutdown began (reloads are then refused). */
bool broker_stopping(const struct broker *b);

/* Destroy the plugins (reverse order) and free everything. */
void broker_free(struct broker *b);

/* For the services and the reports: the broker's parts. */
size_t broker_instance_count(const struct broker *b);
struct ab_instance *broker_instance(const struct broker *b, size_t i);
const char *broker_agent_id(const struct broker *b);
double broker_uptime_seconds(const struct broker *b);
struct router *broker_router(const struct broker *b);
struct event_base *broker_base(const struct broker *b);
struct write_batch *broker_writes(const struct broker *b);
void broker_instance_stopped(struct broker *b, struct ab_instance *inst);

#endif
