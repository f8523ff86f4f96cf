#include "mcp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>

#include "server_asks.h"
#include "sessions.h"

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static bool busy(const struct upstream *s)
{
	return s->calls || s->n_waiting || s->asks;
}

static bool same(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* The session of frontend session key, on database (with session_env; a
 * session that selected another database has another one). A request that
 * names no database takes the key's session, whichever it is. */
static struct upstream *find(struct upstream *u, const char *key, const char *database)
{
	struct upstream *any = NULL;
	for (struct upstream *s = u->sessions; s; s = s->next_session) {
		if (s->closing || strcmp(s->session_key, key) != 0)
			continue;
		if (same(s->session_database, database))
			return s;
		if (!any || s->last_used_ms > any->last_used_ms)
			any = s;
	}
	return u->by_database && !database ? any : NULL;
}

static void close_session(struct upstream *s, const char *why);

/* key moved to another database: its sessions on others go, once idle. */
static void close_others(struct upstream *u, const struct upstream *kept)
{
	for (struct upstream *s = u->sessions, *next; s; s = next) {
		next = s->next_session;
		if (s != kept && !s->closing && !busy(s) && strcmp(s->session_key, kept->session_key) == 0)
			close_session(s, "its frontend session moved to another database");
	}
}

static void free_session(struct upstream *s)
{
	if (s->init_deadline)
		s->svc->timer_cancel(s->init_deadline);
	mcp_release(s);
	free(s);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct upstream *u = arg;
	while (u->retired) {
		struct upstream *s = u->retired;
		u->retired = s->next_session;
		free_session(s);
	}
}

void sessions_retire(struct upstream *s)
{
	struct upstream *u = s->owner;
	for (struct upstream **at = &u->sessions; *at; at = &(*at)->next_session) {
		if (*at == s) {
			*at = s->next_session;
			break;
		}
	}
	if (!s->closing)
		u->n_sessions--;
	s->closing = true;
	s->next_session = u->retired;
	u->retired = s;
	event_active(u->reaper, EV_TIMEOUT, 0);
}

/* Close s: no more requests come to it; it goes once its link stops. */
static void close_session(struct upstream *s, const char *why)
{
	up_log(s, AB_LOG_INFO, "closing the isolated session for %s (%s)", s->session_key, why);
	s->owner->n_sessions--;
	s->closing = true;
	s->stopping = true;
	if (!s->link_ops->stop(s->link, mcp_link_stopped))
		sessions_retire(s);
}

/* A session whose server never finished initializing: what waits for it
 * fails, and it goes. */
static void on_init_deadline(void *arg)
{
	struct upstream *s = arg;
	for (size_t i = 0; i < s->n_waiting; i++) {
		mcp_reply_error(s, s->svc->msg_correlation_id(s->waiting[i]), AB_ERR_UPSTREAM_UNAVAILABLE,
		                "the isolated session's server did not initialize in time");
		s->svc->msg_unref(s->waiting[i]);
	}
	s->n_waiting = 0;
	close_session(s, "no answer to initialize");
}

static struct upstream *open_session(struct upstream *u, const char *key, const char *database)
{
	struct upstream *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	*s = (struct upstream){ .self = u->self, .svc = u->svc, .stdio = u->stdio, .owner = u,
		                .state = UP_CONNECTING, .last_used_ms = now_ms() };
	tool_cache_init(&s->tools);
	memcpy(s->agent_type, u->agent_type, sizeof s->agent_type);
	memcpy(s->agent_id, u->agent_id, sizeof s->agent_id);
	s->url = strdup(u->url);
	s->session_key = strdup(key);
	s->session_database = database ? strdup(database) : NULL;
	if (!u->reaper)
		u->reaper = event_new(u->svc->event_base(u->self), -1, 0, reap_cb, u);
	if (!u->reaper || !s->url || !s->session_key || (database && !s->session_database) || mcp_open_link(s) < 0) {
		mcp_release(s);
		free(s);
		return NULL;
	}
	s->next_session = u->sessions;
	u->sessions = s;
	u->n_sessions++;
	up_log(u, AB_LOG_INFO, "opening an isolated session for %s%s%s (%zu of %zu)", key, database ? " on " : "",
	       database ? database : "", u->n_sessions, u->max_sessions);
	s->init_deadline = u->svc->timer_start(u->self, SESSION_INIT_TIMEOUT_MS, false, on_init_deadline, s);
	s->link_ops->start(s->link);
	return s;
}

/* Room for one more: the session idle longest goes. False when every one
 * is busy. */
static bool make_room(struct upstream *u)
{
	struct upstream *idlest = NULL;
	for (struct upstream *s = u->sessions; s; s = s->next_session) {
		if (!s->closing && !busy(s) && (!idlest || s->last_used_ms < idlest->last_used_ms))
			idlest = s;
	}
	if (idlest)
		close_session(idlest, "making room for another");
	return idlest != NULL;
}

int sessions_deliver(struct upstream *u, const char *key, const char *database, ab_msg *msg)
{
	const char *cid = u->svc->msg_correlation_id(msg);
	struct upstream *s = find(u, key, database);
	if (!s && u->n_sessions >= u->max_sessions && !make_room(u)) {
		char text[128];
		snprintf(text, sizeof text, "all %zu isolated sessions are busy", u->max_sessions);
		mcp_reply_error(u, cid, AB_ERR_UPSTREAM_UNAVAILABLE, text);
		return 0;
	}
	if (!s && !(s = open_session(u, key, database))) {
		mcp_reply_error(u, cid, AB_ERR_UPSTREAM_UNAVAILABLE, "cannot open an isolated session");
		return 0;
	}
	if (u->by_database)
		close_others(u, s);
	s->last_used_ms = now_ms();
	if (s->state == UP_READY) {
		mcp_session_deliver(s, msg);
		return 0;
	}
	ab_msg **grown = s->n_waiting < SESSION_MAX_WAITING ? realloc(s->waiting, (s->n_waiting + 1) * sizeof *grown)
	                                                    : NULL;
	if (!grown) {
		mcp_reply_error(u, cid, AB_ERR_UPSTREAM_UNAVAILABLE, "too many requests wait for the isolated session");
		return 0;
	}
	s->waiting = grown;
	s->waiting[s->n_waiting++] = u->svc->msg_ref(msg);
	return 0;
}

void sessions_cancel_waiting(struct upstream *u, const char *cid)
{
	for (struct upstream *s = u->sessions; s && cid; s = s->next_session) {
		for (size_t i = 0; i < s->n_waiting; i++) {
			if (strcmp(u->svc->msg_correlation_id(s->waiting[i]), cid) == 0) {
				u->svc->msg_unref(s->waiting[i]); /* the broker answered it already */
				memmove(s->waiting + i, s->waiting + i + 1, (--s->n_waiting - i) * sizeof *s->waiting);
				return;
			}
		}
	}
}

void sessions_sweep(void *arg)
{
	struct upstream *u = arg;
	uint64_t now = now_ms();
	for (struct upstream *s = u->sessions, *next; s; s = next) {
		next = s->next_session;
		if (!s->closing && !busy(s) && now - s->last_used_ms >= u->session_idle_ms)
			close_session(s, "idle");
	}
}

void sessions_stop_all(struct upstream *u)
{
	for (struct upstream *s = u->sessions, *next; s; s = next) {
		next = s->next_session;
		if (!s->closing)
			close_session(s, "the broker is stopping");
	}
}

void sessions_free_all(struct upstream *u)
{
	if (u->reaper)
		event_free(u->reaper);
	u->reaper = NULL;
	reap_cb(-1, 0, u);
	while (u->sessions) {
		struct upstream *s = u->sessions;
		u->sessions = s->next_session;
		free_session(s);
	}
}
