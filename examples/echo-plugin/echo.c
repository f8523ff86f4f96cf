/* echo: the smallest useful agentbus transport, and the starting point for
 * writing your own plugin. It registers one agent and answers every request
 * delivered to it with
 *   {"type":"<reply_type>","correlation_id":"<the request's>","echo":<the request>}
 * Build it against the installed SDK with the Makefile beside it.
 *
 *   [plugin:echo]
 *   module = echo              ; or a path to echo.so
 *   agent_id = echo            ; the agent it registers
 *   reply_type = echo_response
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/plugin.h>
#include <agentbus/services.h>
#include <agentbus/json.h>

struct echo {
	ab_instance *self;
	const struct ab_services *svc;
	const char *agent_id;
};

static const struct ab_option echo_options[] = {
	{ "agent_id", AB_OPT_STRING, "echo", 0, 0, 0, NULL, "the agent id to register" },
	{ "reply_type", AB_OPT_STRING, "echo_response", AB_OPT_RELOADABLE, 0, 0, NULL,
	  "the type of the replies" },
	AB_OPTION_END,
};

static int echo_init(ab_instance *self, const struct ab_services *svc, void **state)
{
	struct echo *e = calloc(1, sizeof *e);
	if (!e)
		return -1;
	e->self = self;
	e->svc = svc;
	*state = e;
	return 0;
}

static int echo_start(void *state)
{
	struct echo *e = state;
	e->agent_id = e->svc->config_string(e->self, "agent_id");
	if (e->svc->agent_register(e->self, e->agent_id, e) < 0) {
		e->svc->log(e->self, AB_LOG_ERROR, "cannot register agent %s", e->agent_id);
		return -1;
	}
	e->svc->log(e->self, AB_LOG_INFO, "answering as %s", e->agent_id);
	return 0;
}

/* Options marked AB_OPT_RELOADABLE are read at the time of use, so a
 * reload needs no work here: nothing to validate beyond the schema. */
static int echo_reload(void *state, enum ab_reload_phase phase)
{
	return 0;
}

static int echo_stop(void *state)
{
	struct echo *e = state;
	e->svc->agent_unregister(e->self, e->agent_id);
	return AB_STOPPED;
}

static void echo_destroy(void *state)
{
	free(state);
}

static int echo_deliver(void *state, void *agent_ctx, const char *agent_id, ab_msg *msg,
                        unsigned flags)
{
	struct echo *e = state;
	if (!(flags & AB_DELIVER_REQUEST))
		return 0; /* replies and notifications need no answer */

	/* The request's bytes go into the answer as they are (ab_json_raw):
	 * no need to parse what we only pass back. */
	size_t body_len;
	const char *body = e->svc->msg_json(msg, &body_len);
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "type");
	ab_json_str(g, e->svc->config_string(e->self, "reply_type"));
	ab_json_str(g, "correlation_id");
	ab_json_str(g, e->svc->msg_correlation_id(msg));
	ab_json_str(g, "echo");
	ab_json_raw(g, body, body_len);
	ab_json_map_close(g);
	int rc = -1;
	struct ab_parse_error err;
	ab_msg *reply = e->svc->msg_build(g, &err);
	if (reply) {
		/* Submitting from inside deliver is fine: it is routed later. */
		rc = e->svc->submit(e->self, agent_id, reply);
		e->svc->msg_unref(reply);
	} else {
		e->svc->log(e->self, AB_LOG_ERROR, "cannot answer: %s", err.message);
	}
	ab_json_free(g);
	return rc;
}

AB_PLUGIN_DEFINE(AB_PLUGIN_TRANSPORT, "echo", "1.0.0", "answers every request with its echo",
                 echo_options, NULL, .init = echo_init, .start = echo_start,
                 .reload = echo_reload, .stop = echo_stop, .destroy = echo_destroy,
                 .deliver = echo_deliver);
