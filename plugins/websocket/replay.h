/* A session's replay buffer: the last messages sent to a frontend, exactly
 * as sent (with their seq), bounded by count, bytes and age, so a client that
 * reconnects with resume.last_seq gets everything after it, in order, once.
 * Pure, no I/O. */
#ifndef AB_WS_REPLAY_H
#define AB_WS_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct replay_entry {
	uint64_t seq;
	uint64_t at_ms; /* when it was stamped */
	char *data;
	size_t len;
};

struct replay {
	struct replay_entry *ring;
	size_t cap, start, count;
	size_t bound; /* the configured count; cap may grow past it while resuming */
	size_t bytes, max_bytes; /* held, and the configured bound */
	uint64_t max_age_ms;
};

void replay_init(struct replay *r, size_t max_messages, size_t max_bytes, uint64_t max_age_ms);
void replay_free(struct replay *r);

/* Keep a copy of a message (seqs must increase). When full (by count or by
 * bytes), the oldest is dropped, unless its seq is keep_from or later (still
 * to be sent to a resuming client): then the buffer grows, up to four times
 * its bounds. A lone message larger than the byte bound is still kept.
 * Returns 0; 1 when, even so, a message at or after keep_from was lost (a
 * resumption can no longer be complete); -1 without memory. */
int replay_add(struct replay *r, uint64_t seq, const char *data, size_t len, uint64_t now_ms,
               uint64_t keep_from);

/* Drop what is older than the age bound, except seqs from keep_from on. */
void replay_prune(struct replay *r, uint64_t now_ms, uint64_t keep_from);

size_t replay_count(const struct replay *r);

/* The oldest seq held, or 0 when empty. */
uint64_t replay_oldest(const struct replay *r);

/* The oldest entry with seq >= from, or NULL. */
const struct replay_entry *replay_find(const struct replay *r, uint64_t from);

/* Calls fn for each entry with seq >= from, oldest first. */
void replay_each_from(const struct replay *r, uint64_t from,
                      void (*fn)(const struct replay_entry *e, void *arg), void *arg);

#endif
