#include "build-config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>

#include "core/msg.h"
#include "core/router.h"
#include "tests/unit/fake_transport.h"

static yajl_val last; /* the tree behind the strings fake_field returned last */

static int fake_deliver(void *state, void *agent_ctx, const char *agent_id, ab_msg *msg,
                        unsigned flags)
{
	struct fake *f = state;
	if (f->refuse_next > 0) {
		f->refuse_next--;
		return -1;
	}
	if (++f->depth > f->max_depth)
		f->max_depth = f->depth;
	if (f->n < FAKE_MAX) {
		struct fake_delivery *d = &f->got[f->n++];
		d->agent = strdup(agent_id);
		d->flags = flags;
		d->type = strdup(msg_type(msg));
		d->cid = msg_correlation_id(msg) ? strdup(msg_correlation_id(msg)) : NULL;
		d->json = strdup(msg_json(msg, NULL));
	}
	if (f->unregister_on_deliver && (flags & f->unregister_flags)) {
		/* What a transport does when its write fails: the agent is gone. */
		struct router *r = f->unregister_on_deliver;
		f->unregister_on_deliver = NULL;
		router_unregister(r, f->unregister_id ? f->unregister_owner : &f->inst,
		                  f->unregister_id ? f->unregister_id : agent_id);
		f->depth--;
		return -1;
	}
	if (f->echo_to && (flags & AB_DELIVER_REQUEST)) {
		/* Answer at once, from inside deliver: routed on a later turn. */
		char json[256];
		snprintf(json, sizeof json, "{\"type\":\"echo\",\"correlation_id\":\"%s\"}",
		         msg_correlation_id(msg));
		ab_msg *reply = msg_parse(json, strlen(json), NULL);
		router_submit(f->echo_to, &f->inst, agent_id, reply);
		msg_unref(reply);
	}
	f->depth--;
	return 0;
}

void fake_init(struct fake *f, const char *name)
{
	memset(f, 0, sizeof *f);
	f->inst.name = strdup(name);
	f->inst.ops.deliver = fake_deliver;
	f->inst.state = f;
}

void fake_clear(struct fake *f)
{
	if (last)
		yajl_tree_free(last);
	last = NULL;
	for (size_t i = 0; i < f->n; i++) {
		free(f->got[i].agent);
		free(f->got[i].type);
		free(f->got[i].cid);
		free(f->got[i].json);
	}
	f->n = 0;
}

static yajl_val parsed(const struct fake *f, size_t i)
{
	if (last)
		yajl_tree_free(last);
	last = i < f->n ? yajl_tree_parse(f->got[i].json, NULL, 0) : NULL;
	return last;
}

const char *fake_field(const struct fake *f, size_t i, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = parsed(f, i);
	v = v ? yajl_tree_get(v, path, yajl_t_string) : NULL;
	return v ? YAJL_GET_STRING(v) : NULL;
}

static const char *error_member(const struct fake *f, size_t i, const char *key)
{
	const char *path[] = { "error", key, NULL };
	yajl_val v = parsed(f, i);
	v = v ? yajl_tree_get(v, path, yajl_t_string) : NULL;
	return v ? YAJL_GET_STRING(v) : NULL;
}

const char *fake_error_type(const struct fake *f, size_t i)
{
	return error_member(f, i, "error_type");
}

const char *fake_error_message(const struct fake *f, size_t i)
{
	return error_member(f, i, "message");
}
