/* The benchmarks' crowd: a transport that registers `agents` agents named
 * crowd_0 .. crowd_{N-1} and takes whatever is delivered to them. It gives
 * bench/run.py --scale its 100,000 registered agents without 100,000
 * connections (a container's file limit stops those first). */
#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>

#include <agentbus/plugin.h>
#include <agentbus/services.h>

struct crowd {
	ab_instance *self;
	const struct ab_services *svc;
	int64_t agents;
};

static const struct ab_option crowd_options[] = {
	{ "agents", AB_OPT_INT, "10", 0, 0, 10000000, NULL, "how many agents to register" },
	AB_OPTION_END,
};

static int crowd_init(ab_instance *self, const struct ab_services *svc, void **state)
{
	struct crowd *c = calloc(1, sizeof *c);
	if (!c)
		return -1;
	*c = (struct crowd){ self, svc, svc->config_int(self, "agents") };
	*state = c;
	return 0;
}

static int crowd_start(void *state)
{
	struct crowd *c = state;
	for (int64_t i = 0; i < c->agents; i++) {
		char id[32];
		snprintf(id, sizeof id, "crowd_%lld", (long long)i);
		if (c->svc->agent_register(c->self, id, NULL) < 0)
			return -1;
	}
	c->svc->log(c->self, AB_LOG_NOTICE, "%lld agents registered", (long long)c->agents);
	return 0;
}

static int crowd_deliver(void *state, void *agent_ctx, const char *agent_id, ab_msg *msg, unsigned flags)
{
	return 0;
}

static void crowd_destroy(void *state)
{
	free(state);
}

AB_PLUGIN_DEFINE(AB_PLUGIN_TRANSPORT, "crowd", PACKAGE_VERSION, "many idle agents (benchmarks)", crowd_options,
                 NULL, .init = crowd_init, .start = crowd_start, .destroy = crowd_destroy,
                 .deliver = crowd_deliver);
