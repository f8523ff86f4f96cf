/* Running a route's translator on a request (on its way out) or a reply
 * (on its way back), and carrying out what it asked for afterwards:
 * replies first (a "started" notice precedes the forwarded request's
 * answer), then the forward (from a reply: the request's next leg). */
#include "build-config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/msg.h"
#include "core/plugins.h"
#include "core/router_internal.h"
#include "core/routes.h"

struct ab_translation {
	ab_msg *input;
	ab_msg *request;
	bool is_reply;
	unsigned step; /* the leg the input answers: 0 for the request itself */
	struct ab_route *route;
	ab_msg *forward;
	ab_msg **replies;
	size_t n_replies;
	const char *fail_type;
	char fail_message[256];
};

ab_msg *router_translation_input(ab_translation *t)
{
	return t->input;
}

bool router_translation_is_reply(ab_translation *t)
{
	return t->is_reply;
}

ab_msg *router_translation_request(ab_translation *t)
{
	return t->request;
}

const ab_route *router_translation_route(ab_translation *t)
{
	return t->route;
}

void *router_translation_route_state(ab_translation *t)
{
	return t->route->translator_state;
}

unsigned router_translation_step(ab_translation *t)
{
	return t->step;
}

int router_translation_forward(ab_translation *t, ab_msg *msg)
{
	if (t->forward)
		return -EINVAL;
	t->forward = msg_ref(msg);
	return 0;
}

int router_translation_reply(ab_translation *t, ab_msg *msg)
{
	ab_msg **grown = realloc(t->replies, (t->n_replies + 1) * sizeof *grown);
	if (!grown)
		return -ENOMEM;
	t->replies = grown;
	t->replies[t->n_replies++] = msg_ref(msg);
	return 0;
}

int router_translation_fail(ab_translation *t, const char *error_type, const char *message)
{
	t->fail_type = error_type ? error_type : AB_ERR_INTERNAL_ERROR;
	snprintf(t->fail_message, sizeof t->fail_message, "%s", message ? message : "");
	return 0;
}

static void translation_clear(ab_translation *t)
{
	msg_unref(t->forward);
	for (size_t i = 0; i < t->n_replies; i++)
		msg_unref(t->replies[i]);
	free(t->replies);
}

void translation_run(struct pending *p, ab_msg *input, bool is_reply)
{
	struct router *r = p->router;
	struct ab_instance *tr = p->route->translator;
	ab_translation t = { .input = input, .request = p->request, .is_reply = is_reply,
		             .step = is_reply ? p->forwards : 0, .route = p->route };
	int rc = tr->ops.translate(tr->state, &t);
	if (rc < 0 && !t.fail_type)
		router_translation_fail(&t, AB_ERR_INTERNAL_ERROR, "");
	if (t.fail_type) {
		if (!*t.fail_message)
			snprintf(t.fail_message, sizeof t.fail_message, "translator %s failed on '%s'",
			         tr->name, msg_type(input));
		request_fail(p, t.fail_type, "%s", t.fail_message);
		translation_clear(&t);
		return;
	}
	/* Each answer is a plugin call that may finish the request: re-check. */
	for (size_t i = 0; i < t.n_replies && !p->finished; i++) {
		if (!msg_source(t.replies[i]))
			msg_mark_submitted(t.replies[i], is_reply ? p->destination : r->broker_agent_id);
		request_answer(p, t.replies[i], !request_is_interim(p, msg_type(t.replies[i])));
	}
	if (is_reply && t.forward)
		request_forward_next(p, t.forward);
	else if (!is_reply && !p->finished) {
		if (t.forward)
			request_forward(p, t.forward);
		else if (t.n_replies == 0)
			request_fail(p, AB_ERR_INTERNAL_ERROR, "translator %s neither forwarded nor answered '%s'",
			             tr->name, msg_type(input));
	}
	translation_clear(&t);
}
