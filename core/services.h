/* The services table handed to every plugin (include/agentbus/services.h). */
#ifndef AB_CORE_SERVICES_H
#define AB_CORE_SERVICES_H

#include <agentbus/services.h>

extern const struct ab_services services_table;

struct ab_instance;

/* Free the timers an instance left behind (after its destroy). */
void services_free_timers(struct ab_instance *inst);

struct broker;

/* The broker the broker-wide services (broker_agent_id, render_*) answer
 * for: there is one per process. */
void services_set_broker(struct broker *b);

#endif
