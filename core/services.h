/* The services table handed to every plugin (include/agentbus/services.h). */
#ifndef AB_CORE_SERVICES_H
#define AB_CORE_SERVICES_H

#include <agentbus/services.h>

extern const struct ab_services services_table;

struct ab_instance;

/* Free the timers an instance left behind (after its destroy). */
void services_free_timers(struct ab_instance *inst);

/* The broker agent id services->broker_agent_id() answers. */
void services_set_broker_agent_id(const char *id);

#endif
