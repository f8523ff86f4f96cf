#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "replay.h"

/* The ring starts this small and doubles as messages come: most sessions
 * hold a few, and an idle connection must cost little (a full ring of the
 * default 1000 entries is 31 KiB). */
#define RING_FIRST 8

void replay_init(struct replay *r, size_t max_messages, size_t max_bytes, uint64_t max_age_ms)
{
	memset(r, 0, sizeof *r);
	r->bound = max_messages;
	r->max_bytes = max_bytes;
	r->max_age_ms = max_age_ms;
}

static struct replay_entry *at(const struct replay *r, size_t i)
{
	return &r->ring[(r->start + i) % r->cap];
}

static void drop_oldest(struct replay *r)
{
	r->bytes -= at(r, 0)->len;
	free(at(r, 0)->data);
	r->start = (r->start + 1) % r->cap;
	r->count--;
}

void replay_free(struct replay *r)
{
	while (r->count)
		drop_oldest(r);
	free(r->ring);
	r->ring = NULL;
}

/* Double the ring, keeping the entries in order; never past the bound
 * (while under it) or four times it (while a resumption needs more). */
static int grow(struct replay *r)
{
	size_t limit = r->cap < r->bound ? r->bound : 4 * r->bound;
	size_t cap = r->cap * 2 < limit ? r->cap * 2 : limit;
	struct replay_entry *ring = calloc(cap, sizeof *ring);
	if (!ring)
		return -1;
	for (size_t i = 0; i < r->count; i++)
		ring[i] = *at(r, i);
	free(r->ring);
	r->ring = ring;
	r->start = 0;
	r->cap = cap;
	return 0;
}

int replay_add(struct replay *r, uint64_t seq, const char *data, size_t len, uint64_t now_ms,
               uint64_t keep_from)
{
	if (r->bound == 0)
		return keep_from <= seq ? 1 : 0; /* kept nothing a resumption needs */
	if (!r->ring) {
		size_t first = r->bound < RING_FIRST ? r->bound : RING_FIRST;
		if (!(r->ring = calloc(first, sizeof *r->ring)))
			return -1;
		r->cap = first;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -1;
	memcpy(copy, data, len);
	copy[len] = '\0';
	/* Past a bound (grown for a resumption), what is no longer needed goes. */
	while (r->count && (r->count >= r->bound || r->bytes + len > r->max_bytes) &&
	       at(r, 0)->seq < keep_from)
		drop_oldest(r);
	int lost = 0;
	if (r->count == r->cap) {
		/* Full: it grows while under its bound, and past it (to four times)
		 * only for what a resumption still needs. */
		bool needed = at(r, 0)->seq >= keep_from;
		bool may_grow = r->cap < r->bound || (needed && r->cap < 4 * r->bound);
		if (!(may_grow && grow(r) == 0)) {
			drop_oldest(r);
			lost = needed;
		}
	}
	/* What is left is all needed: it may take four times the byte bound
	 * (divided, not multiplied: 4 * max_bytes can wrap a 32-bit size_t). */
	while (r->count && (r->bytes + len) / 4 > r->max_bytes) {
		drop_oldest(r);
		lost = 1;
	}
	*at(r, r->count) = (struct replay_entry){ .seq = seq, .at_ms = now_ms, .data = copy, .len = len };
	r->count++;
	r->bytes += len;
	return lost;
}

void replay_prune(struct replay *r, uint64_t now_ms, uint64_t keep_from)
{
	while (r->count && now_ms - at(r, 0)->at_ms > r->max_age_ms && at(r, 0)->seq < keep_from)
		drop_oldest(r);
}

size_t replay_count(const struct replay *r)
{
	return r->count;
}

uint64_t replay_oldest(const struct replay *r)
{
	return r->count ? at(r, 0)->seq : 0;
}

void replay_each_from(const struct replay *r, uint64_t from,
                      void (*fn)(const struct replay_entry *e, void *arg), void *arg)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct replay_entry *e = at(r, i);
		if (e->seq >= from)
			fn(e, arg);
	}
}

const struct replay_entry *replay_find(const struct replay *r, uint64_t from)
{
	for (size_t i = 0; i < r->count; i++) {
		const struct replay_entry *e = at(r, i);
		if (e->seq >= from)
			return e;
	}
	return NULL;
}
