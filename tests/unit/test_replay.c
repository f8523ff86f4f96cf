/* Unit tests for plugins/websocket/replay.c: a session's replay ring, the
 * last messages sent to a frontend bounded by count, bytes and age, growing
 * (up to four times its bounds) while a resumption still needs its oldest
 * entries. Entries are read back through replay_each_from and replay_find;
 * every content check compares the exact bytes and length, and randomized
 * runs are compared against a simple reference model of what the ring must
 * hold. */
#include "build-config.h"

#include <check.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/websocket/replay.h"
#include "tests/unit/unit_suite.h"

/* ---- helpers --------------------------------------------------------------- */

#define MAX_SEEN 256

/* A byte bound the count-bound tests never reach. */
#define BIG ((size_t)1 << 30)

/* keep_from when no resumption is under way: nothing is still to be sent. */
#define NO_RESUME UINT64_MAX

/* ck_assert records a mark point per call (a write to the runner): in the
 * long loops, only fail through ck_abort_msg. */
#define fast_assert(cond, ...)                                                                \
	do {                                                                                   \
		if (!(cond))                                                                   \
			ck_abort_msg(__VA_ARGS__);                                             \
	} while (0)

/* What replay_each_from handed over, in call order. The pointers stay valid
 * until the ring is changed, so every check runs before the next add. */
struct seen {
	size_t n;
	const struct replay_entry *entry[MAX_SEEN];
	struct replay_entry copy[MAX_SEEN];
};

static void collect(const struct replay_entry *e, void *arg)
{
	struct seen *s = arg;
	if (s->n == MAX_SEEN)
		ck_abort_msg("more than %d entries", MAX_SEEN);
	s->entry[s->n] = e;
	s->copy[s->n] = *e;
	s->n++;
}

static void each_from(const struct replay *r, uint64_t from, struct seen *s)
{
	memset(s, 0, sizeof *s);
	replay_each_from(r, from, collect, s);
}

static void never_called(const struct replay_entry *e, void *arg)
{
	(void)arg;
	ck_abort_msg("unexpected entry seq %llu", (unsigned long long)e->seq);
}

/* The message text used for a seq: distinct content and lengths. */
static size_t text_for(uint64_t seq, char *buf, size_t size)
{
	int n = snprintf(buf, size, "{\"seq\":%llu,\"pad\":\"%.*s\"}", (unsigned long long)seq,
	                 (int)(seq % 7), "xxxxxxx");
	fast_assert(n > 0 && (size_t)n < size, "text for %llu", (unsigned long long)seq);
	return (size_t)n;
}

/* Returns replay_add's verdict: 0, or 1 when a needed entry was lost. */
static int add_seq_keep(struct replay *r, uint64_t seq, uint64_t now_ms, uint64_t keep_from)
{
	char buf[64];
	size_t len = text_for(seq, buf, sizeof buf);
	int rc = replay_add(r, seq, buf, len, now_ms, keep_from);
	fast_assert(rc == 0 || (rc == 1 && keep_from != NO_RESUME), "add %llu",
	            (unsigned long long)seq);
	return rc;
}

static void add_seq(struct replay *r, uint64_t seq, uint64_t now_ms)
{
	add_seq_keep(r, seq, now_ms, NO_RESUME);
}

/* The i-th entry seen is seq, added at at_ms, with the text of text_for. */
static void check_entry(const struct seen *s, size_t i, uint64_t seq, uint64_t at_ms)
{
	char buf[64];
	size_t len = text_for(seq, buf, sizeof buf);
	fast_assert(i < s->n, "entry %zu of %zu", i, s->n);
	const struct replay_entry *e = &s->copy[i];
	fast_assert(e->seq == seq, "entry %zu: seq %llu, want %llu", i, (unsigned long long)e->seq,
	            (unsigned long long)seq);
	fast_assert(e->at_ms == at_ms, "entry %zu: at_ms %llu, want %llu", i,
	            (unsigned long long)e->at_ms, (unsigned long long)at_ms);
	fast_assert(e->len == len, "entry %zu: len %zu, want %zu", i, e->len, len);
	fast_assert(e->data && memcmp(e->data, buf, len) == 0, "entry %zu: data %.*s, want %s", i,
	            (int)e->len, e->data ? e->data : "", buf);
}

/* Exactly the seqs first..last (consecutive), each added at at_ms = seq * step. */
static void check_range(const struct replay *r, uint64_t from, uint64_t first, uint64_t last,
                        uint64_t step)
{
	struct seen s;
	each_from(r, from, &s);
	fast_assert(s.n == last - first + 1, "from %llu: %zu entries, want %llu", (unsigned long long)from,
	            s.n, (unsigned long long)(last - first + 1));
	for (uint64_t q = first; q <= last; q++)
		check_entry(&s, (size_t)(q - first), q, q * step);
}

/* ---- adding and reading back ----------------------------------------------- */

START_TEST(test_empty)
{
	struct replay r;
	replay_init(&r, 8, BIG, 1000);
	ck_assert_uint_eq(replay_oldest(&r), 0);
	replay_each_from(&r, 0, never_called, NULL);
	replay_each_from(&r, 1, never_called, NULL);
	replay_prune(&r, 0, UINT64_MAX);
	replay_prune(&r, UINT64_MAX, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 0);
	replay_free(&r);
	replay_free(&r); /* twice is harmless */
	ck_assert_uint_eq(replay_oldest(&r), 0);
}
END_TEST

START_TEST(test_add_each_order_content)
{
	static const char m1[] = "{\"type\":\"a\"}";
	static const char m2[] = "bin\0ary\0"; /* embedded NULs: exact length kept */
	static const char m3[] = "{\"type\":\"c\",\"text\":\"caf\xC3\xA9\"}";
	struct replay r;
	replay_init(&r, 10, BIG, 60000);
	ck_assert_int_eq(replay_add(&r, 1, m1, sizeof m1 - 1, 100, NO_RESUME), 0);
	ck_assert_int_eq(replay_add(&r, 2, m2, sizeof m2 - 1, 150, NO_RESUME), 0);
	ck_assert_int_eq(replay_add(&r, 3, m3, sizeof m3 - 1, 150, NO_RESUME), 0);
	ck_assert_int_eq(replay_add(&r, 4, "", 0, 200, NO_RESUME), 0); /* an empty one too */
	ck_assert_uint_eq(replay_oldest(&r), 1);

	struct seen s;
	each_from(&r, 0, &s);
	ck_assert_uint_eq(s.n, 4);
	const char *want[] = { m1, m2, m3, "" };
	size_t want_len[] = { sizeof m1 - 1, sizeof m2 - 1, sizeof m3 - 1, 0 };
	uint64_t want_at[] = { 100, 150, 150, 200 };
	for (size_t i = 0; i < 4; i++) {
		ck_assert_uint_eq(s.copy[i].seq, i + 1);
		ck_assert_uint_eq(s.copy[i].at_ms, want_at[i]);
		ck_assert_uint_eq(s.copy[i].len, want_len[i]);
		ck_assert_ptr_nonnull(s.copy[i].data);
		ck_assert_msg(memcmp(s.copy[i].data, want[i], want_len[i]) == 0, "entry %zu", i);
		ck_assert_ptr_ne(s.copy[i].data, want[i]);
	}
	/* The same entries, in the same order, on a second walk. */
	struct seen again;
	each_from(&r, 1, &again);
	ck_assert_uint_eq(again.n, 4);
	for (size_t i = 0; i < 4; i++)
		ck_assert_ptr_eq(again.entry[i], s.entry[i]);
	replay_free(&r);
	ck_assert_uint_eq(replay_oldest(&r), 0);
}
END_TEST

START_TEST(test_copy_not_aliased)
{
	struct replay r;
	replay_init(&r, 4, BIG, 60000);
	char stack_buf[] = "{\"type\":\"hello\"}";
	size_t stack_len = strlen(stack_buf);
	ck_assert_int_eq(replay_add(&r, 1, stack_buf, stack_len, 0, NO_RESUME), 0);
	/* A heap source freed right after: reading an alias trips ASan. */
	size_t heap_len = 4096;
	char *heap_buf = malloc(heap_len);
	ck_assert_ptr_nonnull(heap_buf);
	for (size_t i = 0; i < heap_len; i++)
		heap_buf[i] = (char)('a' + i % 26);
	ck_assert_int_eq(replay_add(&r, 2, heap_buf, heap_len, 0, NO_RESUME), 0);

	memset(stack_buf, 'X', stack_len);
	memset(heap_buf, 'Y', heap_len);
	free(heap_buf);

	struct seen s;
	each_from(&r, 0, &s);
	ck_assert_uint_eq(s.n, 2);
	ck_assert_ptr_ne(s.copy[0].data, stack_buf);
	ck_assert_uint_eq(s.copy[0].len, stack_len);
	ck_assert(memcmp(s.copy[0].data, "{\"type\":\"hello\"}", stack_len) == 0);
	ck_assert_uint_eq(s.copy[1].len, heap_len);
	for (size_t i = 0; i < heap_len; i++)
		ck_assert_msg(s.copy[1].data[i] == (char)('a' + i % 26), "byte %zu", i);
	/* Each entry has its own copy. */
	ck_assert_ptr_ne(s.copy[0].data, s.copy[1].data);
	replay_free(&r);
}
END_TEST

/* ---- the count bound ------------------------------------------------------- */

START_TEST(test_count_bound)
{
	const size_t cap = 5;
	struct replay r;
	replay_init(&r, cap, BIG, UINT64_MAX);
	for (uint64_t q = 1; q <= cap; q++) {
		add_seq(&r, q, q * 10);
		ck_assert_uint_eq(replay_oldest(&r), 1);
		check_range(&r, 0, 1, q, 10);
	}
	/* N + k: the last N stay, the oldest goes first. */
	for (uint64_t q = cap + 1; q <= cap + 3; q++) {
		add_seq(&r, q, q * 10);
		ck_assert_uint_eq(replay_oldest(&r), q - cap + 1);
		check_range(&r, 0, q - cap + 1, q, 10);
	}
	ck_assert_uint_eq(replay_oldest(&r), 4);
	check_range(&r, 0, 4, 8, 10);
	replay_free(&r);
}
END_TEST

START_TEST(test_cap_one)
{
	struct replay r;
	replay_init(&r, 1, BIG, UINT64_MAX);
	for (uint64_t q = 1; q <= 10; q++) {
		add_seq(&r, q, q);
		ck_assert_uint_eq(replay_oldest(&r), q);
		check_range(&r, 0, q, q, 1);
	}
	replay_free(&r);
}
END_TEST

START_TEST(test_cap_zero)
{
	struct replay r;
	replay_init(&r, 0, BIG, 1000);
	for (uint64_t q = 1; q <= 100; q++) {
		ck_assert_int_eq(replay_add(&r, q, "{}", 2, q, NO_RESUME), 0);
		ck_assert_uint_eq(replay_oldest(&r), 0);
	}
	replay_each_from(&r, 0, never_called, NULL);
	replay_each_from(&r, 50, never_called, NULL);
	replay_prune(&r, 0, UINT64_MAX);
	replay_prune(&r, 1000000, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 0);
	replay_free(&r);
	ck_assert_int_eq(replay_add(&r, 101, "{}", 2, 101, NO_RESUME), 0);
	replay_each_from(&r, 0, never_called, NULL);
	replay_free(&r);
}
END_TEST

START_TEST(test_wraparound)
{
	/* cap 3, 100 adds: the ring's start goes round dozens of times. */
	struct replay r;
	replay_init(&r, 3, BIG, UINT64_MAX);
	for (uint64_t q = 1; q <= 100; q++) {
		add_seq(&r, q, q * 3);
		uint64_t first = q > 3 ? q - 2 : 1;
		ck_assert_uint_eq(replay_oldest(&r), first);
		check_range(&r, 0, first, q, 3);
	}
	check_range(&r, 0, 98, 100, 3);
	check_range(&r, 99, 99, 100, 3);
	check_range(&r, 100, 100, 100, 3);
	replay_each_from(&r, 101, never_called, NULL);
	replay_free(&r);
}
END_TEST

/* ---- the age bound --------------------------------------------------------- */

START_TEST(test_age_bound)
{
	struct replay r;
	replay_init(&r, 10, BIG, 1000);
	ck_assert_int_eq(replay_add(&r, 1, "one", 3, 0, NO_RESUME), 0);
	ck_assert_int_eq(replay_add(&r, 2, "two", 3, 500, NO_RESUME), 0);
	ck_assert_int_eq(replay_add(&r, 3, "three", 5, 1000, NO_RESUME), 0);
	ck_assert_int_eq(replay_add(&r, 4, "four", 4, 1500, NO_RESUME), 0);
	struct seen s;

	replay_prune(&r, 0, UINT64_MAX);
	replay_prune(&r, 999, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 1);
	/* exactly max_age old: kept */
	replay_prune(&r, 1000, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 1);
	each_from(&r, 0, &s);
	ck_assert_uint_eq(s.n, 4);
	/* one ms more: dropped, and only it */
	replay_prune(&r, 1001, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 2);
	each_from(&r, 0, &s);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.copy[0].seq, 2);
	ck_assert_uint_eq(s.copy[0].len, 3);
	ck_assert(memcmp(s.copy[0].data, "two", 3) == 0);
	ck_assert_uint_eq(s.copy[2].seq, 4);

	replay_prune(&r, 1500, UINT64_MAX); /* seq 2 exactly max_age old */
	ck_assert_uint_eq(replay_oldest(&r), 2);
	/* several at once: seq 2 (2000 old) and 3 (1500 old); 4 is exactly 1000 */
	replay_prune(&r, 2500, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 4);
	each_from(&r, 0, &s);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(s.copy[0].seq, 4);
	ck_assert_uint_eq(s.copy[0].at_ms, 1500);
	ck_assert_uint_eq(s.copy[0].len, 4);
	ck_assert(memcmp(s.copy[0].data, "four", 4) == 0);

	/* all of them */
	replay_prune(&r, 2501, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 0);
	replay_each_from(&r, 0, never_called, NULL);

	/* emptied by age, the ring takes new entries */
	ck_assert_int_eq(replay_add(&r, 5, "five", 4, 3000, NO_RESUME), 0);
	ck_assert_uint_eq(replay_oldest(&r), 5);
	each_from(&r, 0, &s);
	ck_assert_uint_eq(s.n, 1);
	ck_assert(memcmp(s.copy[0].data, "five", 4) == 0);
	replay_free(&r);
}
END_TEST

START_TEST(test_age_zero)
{
	/* max_age 0: only what was stamped this very millisecond survives. */
	struct replay r;
	replay_init(&r, 4, BIG, 0);
	ck_assert_int_eq(replay_add(&r, 1, "a", 1, 7, NO_RESUME), 0);
	ck_assert_int_eq(replay_add(&r, 2, "b", 1, 8, NO_RESUME), 0);
	replay_prune(&r, 7, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 1);
	replay_prune(&r, 8, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 2);
	replay_prune(&r, 9, UINT64_MAX);
	ck_assert_uint_eq(replay_oldest(&r), 0);
	replay_free(&r);
}
END_TEST

START_TEST(test_age_and_count)
{
	/* Both bounds on a wrapped ring: pruning starts from the true oldest. */
	struct replay r;
	replay_init(&r, 3, BIG, 100);
	for (uint64_t q = 1; q <= 7; q++)
		add_seq(&r, q, q * 10); /* keeps 5, 6, 7 at 50, 60, 70 */
	check_range(&r, 0, 5, 7, 10);
	replay_prune(&r, 150, UINT64_MAX); /* 5 is exactly 100 old */
	check_range(&r, 0, 5, 7, 10);
	replay_prune(&r, 161, UINT64_MAX); /* 5 and 6 go */
	check_range(&r, 0, 7, 7, 10);
	add_seq(&r, 8, 80);
	add_seq(&r, 9, 90);
	add_seq(&r, 10, 100); /* 7 drops by count */
	check_range(&r, 0, 8, 10, 10);
	replay_free(&r);
}
END_TEST

/* ---- each_from ------------------------------------------------------------- */

START_TEST(test_each_from_ranges)
{
	struct replay r;
	replay_init(&r, 10, BIG, UINT64_MAX);
	static const uint64_t seqs[] = { 10, 20, 30, 40 };
	for (size_t i = 0; i < 4; i++) {
		char text[8];
		int n = snprintf(text, sizeof text, "m%zu", i);
		ck_assert_int_eq(replay_add(&r, seqs[i], text, (size_t)n, i, NO_RESUME), 0);
	}
	ck_assert_uint_eq(replay_oldest(&r), 10);
	static const struct {
		uint64_t from;
		size_t first; /* index into seqs of the first entry expected */
	} cases[] = {
		{ 0, 0 },  { 1, 0 },  { 9, 0 },  { 10, 0 }, { 11, 1 }, { 20, 1 },
		{ 25, 2 }, { 30, 2 }, { 39, 3 }, { 40, 3 }, { 41, 4 }, { UINT64_MAX, 4 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		struct seen s;
		each_from(&r, cases[c].from, &s);
		ck_assert_msg(s.n == 4 - cases[c].first, "from %llu: %zu entries",
		              (unsigned long long)cases[c].from, s.n);
		for (size_t i = 0; i < s.n; i++) {
			size_t k = cases[c].first + i;
			char text[8];
			int n = snprintf(text, sizeof text, "m%zu", k);
			ck_assert_uint_eq(s.copy[i].seq, seqs[k]);
			ck_assert_uint_eq(s.copy[i].at_ms, k);
			ck_assert_uint_eq(s.copy[i].len, (size_t)n);
			ck_assert(memcmp(s.copy[i].data, text, (size_t)n) == 0);
		}
	}
	/* above the newest: no call at all */
	replay_each_from(&r, 41, never_called, NULL);
	replay_each_from(&r, UINT64_MAX, never_called, NULL);
	replay_free(&r);
}
END_TEST

/* ---- against a model ------------------------------------------------------- */

static uint64_t lcg(uint64_t *state)
{
	*state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
	return *state >> 33;
}

START_TEST(test_model)
{
	/* Random adds (some during a resumption), prunes and reads, compared
	 * against an array of what must survive: when full, the oldest goes
	 * unless a resumption still needs it (seq >= keep_from), then up to four
	 * times the bound are held; beyond the bound, what is not needed goes;
	 * and nothing older than max_age. */
	enum { STEPS = 3000, MODEL_MAX = 64 };
	static const size_t bounds[] = { 1, 2, 3, 7, 16 };
	for (size_t c = 0; c < sizeof bounds / sizeof *bounds; c++) {
		size_t bound = bounds[c];
		const uint64_t max_age = 50;
		struct replay r;
		replay_init(&r, bound, BIG, max_age);
		uint64_t model_seq[MODEL_MAX], model_at[MODEL_MAX];
		size_t model_n = 0;
		uint64_t seq = 0, now = 1000, rng = 42 + c;
		uint64_t keep_from = NO_RESUME;
		for (int step = 0; step < STEPS; step++) {
			uint64_t op = lcg(&rng) % 20;
			now += lcg(&rng) % 8;
			if (op < 12) {
				seq += 1 + lcg(&rng) % 3;
				add_seq_keep(&r, seq, now, keep_from);
				size_t drop = 0;
				while (model_n - drop >= bound && model_seq[drop] < keep_from)
					drop++;
				if (model_n - drop == 4 * bound)
					drop++;
				memmove(model_seq, model_seq + drop, (model_n - drop) * sizeof *model_seq);
				memmove(model_at, model_at + drop, (model_n - drop) * sizeof *model_at);
				model_n -= drop;
				model_seq[model_n] = seq;
				model_at[model_n] = now;
				model_n++;
			} else if (op < 15) {
				replay_prune(&r, now, UINT64_MAX);
				size_t drop = 0;
				while (drop < model_n && now - model_at[drop] > max_age)
					drop++;
				memmove(model_seq, model_seq + drop, (model_n - drop) * sizeof *model_seq);
				memmove(model_at, model_at + drop, (model_n - drop) * sizeof *model_at);
				model_n -= drop;
			} else if (op < 16) {
				/* a resumption begins, from somewhere near what is held */
				keep_from = model_n ? model_seq[0] + lcg(&rng) % 3 : seq + 1;
			} else if (op < 18) {
				/* it sends some: the point moves on */
				if (keep_from != NO_RESUME)
					keep_from += lcg(&rng) % 4;
			} else if (op < 19) {
				keep_from = NO_RESUME; /* it is over */
			}
			fast_assert(replay_oldest(&r) == (model_n ? model_seq[0] : 0),
			            "bound %zu step %d: oldest %llu, want %llu", bound, step,
			            (unsigned long long)replay_oldest(&r),
			            (unsigned long long)(model_n ? model_seq[0] : 0));
			uint64_t from = seq ? lcg(&rng) % (seq + 2) : 0;
			struct seen s;
			each_from(&r, from, &s);
			size_t k = 0;
			while (k < model_n && model_seq[k] < from)
				k++;
			if (s.n != model_n - k)
				ck_abort_msg("bound %zu step %d from %llu: %zu entries, want %zu", bound, step,
				             (unsigned long long)from, s.n, model_n - k);
			for (size_t i = 0; i < s.n; i++)
				check_entry(&s, i, model_seq[k + i], model_at[k + i]);
			const struct replay_entry *found = replay_find(&r, from);
			if (k < model_n)
				fast_assert(found && found->seq == model_seq[k] && found == s.entry[0],
				            "bound %zu step %d: find %llu", bound, step,
				            (unsigned long long)from);
			else
				fast_assert(found == NULL, "bound %zu step %d: find %llu", bound, step,
				            (unsigned long long)from);
		}
		replay_free(&r);
	}
}
END_TEST

/* ---- growing for a resumption ---------------------------------------------- */

START_TEST(test_resume_grows)
{
	struct replay r;
	replay_init(&r, 4, BIG, UINT64_MAX);
	for (uint64_t q = 1; q <= 4; q++)
		add_seq(&r, q, q);
	/* A resumption from 2 on: 1 is not needed, it goes as usual. */
	ck_assert_int_eq(add_seq_keep(&r, 5, 5, 2), 0);
	check_range(&r, 0, 2, 5, 1);
	/* 2 is needed: kept, the buffer grows past its bound ... */
	for (uint64_t q = 6; q <= 17; q++) {
		ck_assert_int_eq(add_seq_keep(&r, q, q, 2), 0);
		check_range(&r, 0, 2, q, 1);
	}
	/* ... up to four times it (16), then the oldest goes even so, and
	 * replay_add says a needed one was lost */
	ck_assert_int_eq(add_seq_keep(&r, 18, 18, 2), 1);
	check_range(&r, 0, 3, 18, 1);
	ck_assert_int_eq(add_seq_keep(&r, 19, 19, 2), 1);
	check_range(&r, 0, 4, 19, 1);
	/* the resumption moves on to 12: what is before it and past the bound
	 * is no longer needed */
	add_seq_keep(&r, 20, 20, 12);
	check_range(&r, 0, 12, 20, 1);
	/* over: back to the bound of 4 */
	add_seq(&r, 21, 21);
	check_range(&r, 0, 18, 21, 1);
	for (uint64_t q = 22; q <= 40; q++) {
		add_seq(&r, q, q);
		check_range(&r, 0, q - 3, q, 1);
	}
	replay_free(&r);
}
END_TEST

START_TEST(test_resume_grows_wrapped)
{
	/* Growing a ring whose start has gone round keeps the order. */
	struct replay r;
	replay_init(&r, 3, BIG, 1000);
	for (uint64_t q = 1; q <= 5; q++)
		add_seq(&r, q, q); /* 3, 4, 5, starting at slot 2 */
	for (uint64_t q = 6; q <= 14; q++) {
		add_seq_keep(&r, q, q, 3);
		check_range(&r, 0, 3, q, 1);
		ck_assert_uint_eq(replay_oldest(&r), 3);
	}
	ck_assert_int_eq(add_seq_keep(&r, 15, 15, 3), 1); /* 3..14 = 4 x 3 held: 3 goes */
	check_range(&r, 0, 4, 15, 1);
	check_range(&r, 10, 10, 15, 1);
	/* emptied by age, then used again: still bounded by 3 */
	replay_prune(&r, UINT64_MAX, UINT64_MAX);
	replay_each_from(&r, 0, never_called, NULL);
	for (uint64_t q = 14; q <= 30; q++)
		add_seq(&r, q, UINT64_MAX);
	struct seen s;
	each_from(&r, 0, &s);
	ck_assert_uint_eq(s.n, 3);
	ck_assert_uint_eq(s.copy[0].seq, 28);
	ck_assert_uint_eq(s.copy[2].seq, 30);
	replay_free(&r);
	/* and after a free */
	for (uint64_t q = 31; q <= 40; q++)
		add_seq(&r, q, q);
	check_range(&r, 0, 38, 40, 1);
	replay_free(&r);
}
END_TEST

START_TEST(test_find)
{
	struct replay r;
	replay_init(&r, 10, BIG, UINT64_MAX);
	ck_assert_ptr_null(replay_find(&r, 0));
	ck_assert_ptr_null(replay_find(&r, 5));
	static const uint64_t seqs[] = { 10, 20, 30, 40 };
	for (size_t i = 0; i < 4; i++)
		add_seq(&r, seqs[i], i);
	static const struct {
		uint64_t from, want; /* want 0: none */
	} cases[] = {
		{ 0, 10 },  { 10, 10 }, { 11, 20 }, { 20, 20 }, { 29, 30 },
		{ 40, 40 }, { 41, 0 },  { UINT64_MAX, 0 },
	};
	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		const struct replay_entry *e = replay_find(&r, cases[c].from);
		if (!cases[c].want) {
			ck_assert_ptr_null(e);
			continue;
		}
		ck_assert_ptr_nonnull(e);
		ck_assert_uint_eq(e->seq, cases[c].want);
		char buf[64];
		size_t len = text_for(e->seq, buf, sizeof buf);
		ck_assert_uint_eq(e->len, len);
		ck_assert(memcmp(e->data, buf, len) == 0);
		/* the same entry each_from starts with */
		struct seen s;
		each_from(&r, cases[c].from, &s);
		ck_assert_ptr_eq(s.entry[0], e);
	}
	replay_free(&r);
	ck_assert_ptr_null(replay_find(&r, 0));

	replay_init(&r, 0, BIG, 10);
	add_seq(&r, 1, 1);
	ck_assert_ptr_null(replay_find(&r, 0));
	replay_free(&r);
}
END_TEST

/* ---- freeing --------------------------------------------------------------- */

START_TEST(test_free_reuse)
{
	struct replay r;
	replay_init(&r, 3, BIG, 1000);
	for (uint64_t q = 1; q <= 5; q++)
		add_seq(&r, q, q); /* wrapped: the start is not at 0 */
	replay_free(&r);
	ck_assert_uint_eq(replay_oldest(&r), 0);
	replay_each_from(&r, 0, never_called, NULL);
	replay_prune(&r, 5000, UINT64_MAX);

	/* used again without a new init: same bounds, nothing of before */
	for (uint64_t q = 6; q <= 10; q++) {
		add_seq(&r, q, q);
		uint64_t first = q >= 8 ? q - 2 : 6;
		ck_assert_uint_eq(replay_oldest(&r), first);
		check_range(&r, 0, first, q, 1);
	}
	replay_prune(&r, 1009, UINT64_MAX); /* 8 is 1001 old */
	check_range(&r, 0, 9, 10, 1);
	replay_free(&r);
	replay_free(&r);

	/* and after a new init, with other bounds */
	replay_init(&r, 2, BIG, 5);
	add_seq(&r, 1, 100);
	add_seq(&r, 2, 200);
	add_seq(&r, 3, 300);
	check_range(&r, 0, 2, 3, 100);
	replay_prune(&r, 305, UINT64_MAX);
	check_range(&r, 0, 3, 3, 100);
	replay_free(&r);
}
END_TEST

START_TEST(test_free_full_ring)
{
	/* A full ring of large messages, freed: ASan reports any leak. */
	struct replay r;
	replay_init(&r, 64, BIG, UINT64_MAX);
	size_t len = 64 * 1024;
	char *big = malloc(len);
	ck_assert_ptr_nonnull(big);
	for (uint64_t q = 1; q <= 200; q++) {
		memset(big, (int)('a' + q % 26), len);
		ck_assert_int_eq(replay_add(&r, q, big, len - q, q, NO_RESUME), 0);
	}
	struct seen s;
	each_from(&r, 0, &s);
	ck_assert_uint_eq(s.n, 64);
	for (size_t i = 0; i < 64; i++) {
		uint64_t q = 137 + i;
		ck_assert_uint_eq(s.copy[i].seq, q);
		ck_assert_uint_eq(s.copy[i].len, len - q);
		ck_assert(s.copy[i].data[0] == (char)('a' + q % 26));
		ck_assert(s.copy[i].data[len - q - 1] == (char)('a' + q % 26));
	}
	free(big);
	replay_free(&r);
}
END_TEST

/* ---- bytes ------------------------------------------------------------------- */

/* Adds seq with a message of exactly len bytes; returns replay_add's verdict. */
static int add_sized(struct replay *r, uint64_t seq, size_t len, uint64_t keep_from)
{
	char *buf = malloc(len);
	ck_assert_ptr_nonnull(buf);
	memset(buf, (int)('a' + seq % 26), len);
	int rc = replay_add(r, seq, buf, len, seq, keep_from);
	free(buf);
	return rc;
}

/* The seqs held, oldest first, are exactly first..last, and they take bytes. */
static void check_held(const struct replay *r, uint64_t first, uint64_t last, size_t bytes)
{
	struct seen s;
	each_from(r, 0, &s);
	ck_assert_uint_eq(s.n, last - first + 1);
	size_t total = 0;
	for (size_t i = 0; i < s.n; i++) {
		ck_assert_uint_eq(s.copy[i].seq, first + i);
		ck_assert(s.copy[i].data[0] == (char)('a' + (first + i) % 26));
		total += s.copy[i].len;
	}
	ck_assert_uint_eq(total, bytes);
	ck_assert_uint_eq(r->bytes, bytes);
}

START_TEST(test_byte_bound)
{
	/* Ten 100-byte messages fill 1000 bytes; the count bound is far off. */
	struct replay r;
	replay_init(&r, 100, 1000, UINT64_MAX);
	for (uint64_t q = 1; q <= 25; q++)
		ck_assert_int_eq(add_sized(&r, q, 100, NO_RESUME), 0);
	check_held(&r, 16, 25, 1000);
	/* A 250-byte one pushes out three. */
	ck_assert_int_eq(add_sized(&r, 26, 250, NO_RESUME), 0);
	check_held(&r, 19, 26, 950);
	replay_free(&r);
}
END_TEST

START_TEST(test_byte_bound_lone_large_message)
{
	/* A message larger than the bound is kept alone, then makes way. */
	struct replay r;
	replay_init(&r, 100, 1000, UINT64_MAX);
	ck_assert_int_eq(add_sized(&r, 1, 100, NO_RESUME), 0);
	ck_assert_int_eq(add_sized(&r, 2, 5000, NO_RESUME), 0);
	check_held(&r, 2, 2, 5000);
	ck_assert_int_eq(add_sized(&r, 3, 100, NO_RESUME), 0);
	check_held(&r, 3, 3, 100);
	replay_free(&r);
}
END_TEST

START_TEST(test_byte_bound_grows_while_resuming)
{
	/* Everything from seq 1 is still to be sent: up to 4000 bytes stay. */
	struct replay r;
	replay_init(&r, 100, 1000, UINT64_MAX);
	for (uint64_t q = 1; q <= 40; q++)
		ck_assert_int_eq(add_sized(&r, q, 100, 1), 0);
	check_held(&r, 1, 40, 4000);
	/* Past four times the bound a needed message goes, and that is reported. */
	ck_assert_int_eq(add_sized(&r, 41, 100, 1), 1);
	check_held(&r, 2, 41, 4000);
	/* The resumption over, the next add brings the ring back to its bound. */
	ck_assert_int_eq(add_sized(&r, 42, 100, NO_RESUME), 0);
	check_held(&r, 33, 42, 1000);
	replay_free(&r);
}
END_TEST

START_TEST(test_the_ring_starts_small_and_grows_to_its_bound)
{
	/* An idle session holds a message or two: its ring must not cost what
	 * a full one does (1000 entries by default). */
	struct replay r;
	replay_init(&r, 1000, BIG, UINT64_MAX);
	ck_assert_int_eq(replay_add(&r, 1, "a", 1, 0, UINT64_MAX), 0);
	ck_assert_uint_le(r.cap, 8);
	for (uint64_t q = 2; q <= 1500; q++)
		ck_assert_int_eq(replay_add(&r, q, "a", 1, 0, UINT64_MAX), 0);
	ck_assert_uint_eq(r.count, 1000); /* the bound, reached by growing */
	ck_assert_uint_eq(r.cap, 1000);   /* and no further */
	ck_assert_uint_eq(replay_oldest(&r), 501);
	replay_free(&r);
	/* Held for a resumption (keep_from 1), a ring grows to four times its
	 * bound and no further: the first loss comes then. */
	static const size_t bounds[] = { 10, 600 };
	for (size_t b = 0; b < 2; b++) {
		replay_init(&r, bounds[b], BIG, UINT64_MAX);
		uint64_t q = 0;
		int lost = 0;
		while (!lost && q < 10 * bounds[b])
			lost = replay_add(&r, ++q, "a", 1, 0, 1);
		ck_assert_int_eq(lost, 1);
		ck_assert_uint_eq(q, 4 * bounds[b] + 1);
		ck_assert_uint_eq(r.cap, 4 * bounds[b]);
		replay_free(&r);
	}
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("replay");
	TCase *tc = tcase_create("add");
	tcase_add_test(tc, test_empty);
	tcase_add_test(tc, test_add_each_order_content);
	tcase_add_test(tc, test_copy_not_aliased);
	suite_add_tcase(s, tc);

	tc = tcase_create("count");
	tcase_add_test(tc, test_count_bound);
	tcase_add_test(tc, test_cap_one);
	tcase_add_test(tc, test_cap_zero);
	tcase_add_test(tc, test_wraparound);
	suite_add_tcase(s, tc);

	tc = tcase_create("bytes");
	tcase_add_test(tc, test_byte_bound);
	tcase_add_test(tc, test_byte_bound_lone_large_message);
	tcase_add_test(tc, test_byte_bound_grows_while_resuming);
	suite_add_tcase(s, tc);

	tc = tcase_create("age");
	tcase_add_test(tc, test_age_bound);
	tcase_add_test(tc, test_age_zero);
	tcase_add_test(tc, test_age_and_count);
	suite_add_tcase(s, tc);

	tc = tcase_create("each_from");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_each_from_ranges);
	tcase_add_test(tc, test_find);
	tcase_add_test(tc, test_model);
	suite_add_tcase(s, tc);

	tc = tcase_create("resume");
	tcase_add_test(tc, test_resume_grows);
	tcase_add_test(tc, test_resume_grows_wrapped);
	suite_add_tcase(s, tc);

	tc = tcase_create("free");
	tcase_add_test(tc, test_free_reuse);
	tcase_add_test(tc, test_free_full_ring);
	tcase_add_test(tc, test_the_ring_starts_small_and_grows_to_its_bound);
	suite_add_tcase(s, tc);
	return s;
}
