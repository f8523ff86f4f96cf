#include "build-config.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "core/agents.h"
#include "core/hashmap.h"
#include "core/msg.h"

struct agents {
	struct hashmap *map;
};

struct agents *agents_new(void)
{
	struct agents *a = calloc(1, sizeof *a);
	if (a && !(a->map = hashmap_new())) {
		free(a);
		return NULL;
	}
	return a;
}

static void free_agent(struct agent *agent)
{
	for (struct held *h = agent->held_head, *next; h; h = next) {
		next = h->next;
		msg_unref(h->msg);
		free(h);
	}
	if (agent->hold_timer)
		event_free(agent->hold_timer);
	free(agent->id);
	free(agent);
}

static void free_entry(const char *key, void *value, void *arg)
{
	free_agent(value);
}

void agents_free(struct agents *a)
{
	if (!a)
		return;
	hashmap_foreach(a->map, free_entry, NULL);
	hashmap_free(a->map);
	free(a);
}

struct agent *agents_get(const struct agents *a, const char *id)
{
	return hashmap_get(a->map, id);
}

struct agent *agents_get_or_add(struct agents *a, const char *id)
{
	struct agent *agent = hashmap_get(a->map, id);
	if (agent)
		return agent;
	agent = calloc(1, sizeof *agent);
	if (!agent || !(agent->id = strdup(id))) {
		free(agent);
		return NULL;
	}
	if (hashmap_put(a->map, agent->id, agent) < 0) {
		free(agent->id);
		free(agent);
		return NULL;
	}
	return agent;
}

bool agents_release_if_idle(struct agents *a, struct agent *agent)
{
	if (agent->owner || agent->held_head || agent->inflight || agent->flush_queued ||
	    agent->exclusive_owner)
		return false;
	hashmap_remove(a->map, agent->id);
	free_agent(agent);
	return true;
}

struct find {
	bool (*fn)(const struct agent *agent, void *arg);
	void *arg;
	struct agent *found;
};

static void find_entry(const char *key, void *value, void *arg)
{
	struct find *f = arg;
	struct agent *agent = value;
	if (!f->found && agent->owner && f->fn(agent, f->arg))
		f->found = agent;
}

struct agent *agents_find(const struct agents *a, bool (*fn)(const struct agent *agent, void *arg),
                          void *arg)
{
	struct find f = { .fn = fn, .arg = arg };
	hashmap_foreach(a->map, find_entry, &f);
	return f.found;
}

size_t agents_count(const struct agents *a)
{
	return hashmap_count(a->map);
}

void agents_hold(struct agent *agent, struct held *h)
{
	h->next = NULL;
	h->prev = agent->held_tail;
	if (agent->held_tail)
		agent->held_tail->next = h;
	else
		agent->held_head = h;
	agent->held_tail = h;
	agent->held_count++;
}

void agents_unhold(struct agent *agent, struct held *h)
{
	if (h->prev)
		h->prev->next = h->next;
	else
		agent->held_head = h->next;
	if (h->next)
		h->next->prev = h->prev;
	else
		agent->held_tail = h->prev;
	agent->held_count--;
	h->prev = h->next = NULL;
}

bool agents_valid_id(const char *id)
{
	size_t len = strlen(id);
	if (len == 0 || len > 128)
		return false;
	return strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.:-") == len;
}
