/* Unit tests for core/hashmap.c and core/pattern.c. */
#include "build-config.h"

#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hashmap.h"
#include "core/pattern.h"
#include "tests/unit/unit_suite.h"

/* ---- hashmap ---------------------------------------------------------------- */

START_TEST(test_map_put_get_replace_remove)
{
	struct hashmap *map = hashmap_new();
	ck_assert_ptr_nonnull(map);
	ck_assert_uint_eq(hashmap_count(map), 0);
	ck_assert_ptr_null(hashmap_get(map, "a"));
	ck_assert_ptr_null(hashmap_remove(map, "a"));

	int one = 1, two = 2, three = 3;
	ck_assert_int_eq(hashmap_put(map, "a", &one), 0);
	ck_assert_int_eq(hashmap_put(map, "b", &two), 0);
	ck_assert_uint_eq(hashmap_count(map), 2);
	ck_assert_ptr_eq(hashmap_get(map, "a"), &one);
	ck_assert_ptr_eq(hashmap_get(map, "b"), &two);
	ck_assert_ptr_null(hashmap_get(map, "c"));
	ck_assert_ptr_null(hashmap_get(map, ""));
	ck_assert_ptr_null(hashmap_get(map, "aa"));

	/* Replace: the count stays. */
	ck_assert_int_eq(hashmap_put(map, "a", &three), 0);
	ck_assert_uint_eq(hashmap_count(map), 2);
	ck_assert_ptr_eq(hashmap_get(map, "a"), &three);

	/* The empty string is a key like any other. */
	ck_assert_int_eq(hashmap_put(map, "", &one), 0);
	ck_assert_ptr_eq(hashmap_get(map, ""), &one);
	ck_assert_uint_eq(hashmap_count(map), 3);

	ck_assert_ptr_eq(hashmap_remove(map, "a"), &three);
	ck_assert_uint_eq(hashmap_count(map), 2);
	ck_assert_ptr_null(hashmap_get(map, "a"));
	ck_assert_ptr_null(hashmap_remove(map, "a"));
	ck_assert_uint_eq(hashmap_count(map), 2);
	ck_assert_ptr_eq(hashmap_get(map, "b"), &two);
	ck_assert_ptr_eq(hashmap_remove(map, ""), &one);
	ck_assert_ptr_eq(hashmap_remove(map, "b"), &two);
	ck_assert_uint_eq(hashmap_count(map), 0);
	hashmap_free(map);
	hashmap_free(NULL);
}
END_TEST

START_TEST(test_map_replace_adopts_new_key)
{
	/* Keys live inside values: replacing an entry must make the map use the
	 * new value's key, since the old value (and its key) may be freed. */
	struct hashmap *map = hashmap_new();
	char *old_key = strdup("agent_1"), *new_key = strdup("agent_1");
	ck_assert_int_eq(hashmap_put(map, old_key, old_key), 0);
	ck_assert_int_eq(hashmap_put(map, new_key, new_key), 0);
	ck_assert_uint_eq(hashmap_count(map), 1);
	free(old_key); /* ASan reports any later read of it */
	ck_assert_ptr_eq(hashmap_get(map, "agent_1"), new_key);
	ck_assert_ptr_eq(hashmap_remove(map, "agent_1"), new_key);
	ck_assert_uint_eq(hashmap_count(map), 0);
	free(new_key);
	hashmap_free(map);
}
END_TEST

#define MANY 20000

struct many {
	char keys[MANY][16];
	unsigned visits[MANY];
};

static struct many *many_new(void)
{
	struct many *m = calloc(1, sizeof *m);
	ck_assert_ptr_nonnull(m);
	for (size_t i = 0; i < MANY; i++)
		snprintf(m->keys[i], sizeof m->keys[i], "key-%zu", i);
	return m;
}

static void count_visit(const char *key, void *value, void *arg)
{
	struct many *m = arg;
	char(*entry)[16] = value;
	size_t i = (size_t)(entry - m->keys);
	ck_assert_uint_lt(i, MANY);
	ck_assert_str_eq(key, m->keys[i]);
	m->visits[i]++;
}

static void check_many(struct hashmap *map, struct many *m, size_t removed_stride)
{
	/* removed_stride 0: all present; 2: the even ones are gone. */
	size_t present = 0;
	for (size_t i = 0; i < MANY; i++) {
		bool gone = removed_stride && i % removed_stride == 0;
		void *got = hashmap_get(map, m->keys[i]);
		if (gone) {
			ck_assert_msg(got == NULL, "%s still found", m->keys[i]);
		} else {
			ck_assert_msg(got == m->keys[i], "%s lost", m->keys[i]);
			present++;
		}
	}
	ck_assert_uint_eq(hashmap_count(map), present);
	memset(m->visits, 0, sizeof m->visits);
	hashmap_foreach(map, count_visit, m);
	for (size_t i = 0; i < MANY; i++) {
		bool gone = removed_stride && i % removed_stride == 0;
		ck_assert_msg(m->visits[i] == (gone ? 0u : 1u), "%s visited %u times", m->keys[i],
		              m->visits[i]);
	}
}

static void many_keys_round(void)
{
	struct many *m = many_new();
	struct hashmap *map = hashmap_new();
	for (size_t i = 0; i < MANY; i++)
		ck_assert_int_eq(hashmap_put(map, m->keys[i], m->keys[i]), 0);
	ck_assert_uint_eq(hashmap_count(map), MANY);
	check_many(map, m, 0);

	for (size_t i = 0; i < MANY; i += 2)
		ck_assert_ptr_eq(hashmap_remove(map, m->keys[i]), m->keys[i]);
	ck_assert_uint_eq(hashmap_count(map), MANY / 2);
	check_many(map, m, 2);
	for (size_t i = 0; i < MANY; i += 2)
		ck_assert_ptr_null(hashmap_remove(map, m->keys[i]));

	/* Put them back: every slot freed by a shift is reusable. */
	for (size_t i = 0; i < MANY; i += 2)
		ck_assert_int_eq(hashmap_put(map, m->keys[i], m->keys[i]), 0);
	check_many(map, m, 0);

	for (size_t i = 0; i < MANY; i++)
		ck_assert_ptr_eq(hashmap_remove(map, m->keys[i]), m->keys[i]);
	ck_assert_uint_eq(hashmap_count(map), 0);
	memset(m->visits, 0, sizeof m->visits);
	hashmap_foreach(map, count_visit, m);
	for (size_t i = 0; i < MANY; i++)
		ck_assert_uint_eq(m->visits[i], 0);
	hashmap_free(map);
	free(m);
}

START_TEST(test_map_many_keys)
{
	many_keys_round();
}
END_TEST

START_TEST(test_map_removal_orders_small_table)
{
	/* Twelve keys stay in the first 16-slot table; remove each one (and
	 * then each pair) and check every other is still found. Probe runs
	 * and wrap-around at the table's end get exercised whatever the hash. */
	char keys[12][8];
	for (size_t i = 0; i < 12; i++)
		snprintf(keys[i], sizeof keys[i], "k%zu", i);
	for (size_t a = 0; a < 12; a++) {
		for (size_t b = 0; b < 12; b++) {
			struct hashmap *map = hashmap_new();
			for (size_t i = 0; i < 12; i++)
				ck_assert_int_eq(hashmap_put(map, keys[i], keys[i]), 0);
			ck_assert_ptr_eq(hashmap_remove(map, keys[a]), keys[a]);
			if (b != a)
				ck_assert_ptr_eq(hashmap_remove(map, keys[b]), keys[b]);
			ck_assert_uint_eq(hashmap_count(map), b != a ? 10 : 11);
			for (size_t i = 0; i < 12; i++) {
				void *want = i == a || i == b ? NULL : keys[i];
				ck_assert_msg(hashmap_get(map, keys[i]) == want,
				              "after removing %s and %s, %s is wrong", keys[a], keys[b], keys[i]);
			}
			hashmap_free(map);
		}
	}
}
END_TEST

START_TEST(test_map_interleaved_churn)
{
	/* Insert and remove in a pseudo-random order, checking against a
	 * plain array. */
	enum { N = 3000 };
	static char keys[N][12];
	static bool in[N];
	for (size_t i = 0; i < N; i++)
		snprintf(keys[i], sizeof keys[i], "c%zu", i);
	struct hashmap *map = hashmap_new();
	size_t present = 0;
	unsigned long long x = 88172645463325252ull;
	for (int step = 0; step < 60000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t i = (size_t)(x % N);
		if (in[i]) {
			ck_assert_ptr_eq(hashmap_remove(map, keys[i]), keys[i]);
			in[i] = false;
			present--;
		} else {
			ck_assert_int_eq(hashmap_put(map, keys[i], keys[i]), 0);
			in[i] = true;
			present++;
		}
		if (step % 5000 == 0) {
			for (size_t k = 0; k < N; k++)
				ck_assert_ptr_eq(hashmap_get(map, keys[k]), in[k] ? keys[k] : NULL);
		}
	}
	ck_assert_uint_eq(hashmap_count(map), present);
	for (size_t k = 0; k < N; k++)
		ck_assert_ptr_eq(hashmap_get(map, keys[k]), in[k] ? keys[k] : NULL);
	hashmap_free(map);
}
END_TEST

START_TEST(test_map_seeded)
{
	static const unsigned char seed[16] = { 0x9e, 0x37, 0x79, 0xb9, 0x7f, 0x4a, 0x7c, 0x15,
		                                0xf3, 0x9c, 0xc0, 0x60, 0x5c, 0xed, 0xc8, 0x34 };
	hashmap_seed(seed);
	many_keys_round();
	static const unsigned char zero[16] = { 0 };
	hashmap_seed(zero);
	many_keys_round();
}
END_TEST

/* ---- patterns ---------------------------------------------------------------- */

START_TEST(test_pattern_compile_shapes)
{
	struct pattern_list list;
	ck_assert_int_eq(pattern_list_compile("a, b*, *c", &list), 0);
	ck_assert_uint_eq(list.count, 3);
	ck_assert_str_eq(list.items[0].text, "a");
	ck_assert_uint_eq(list.items[0].len, 1);
	ck_assert_int_eq(list.items[0].shape, PATTERN_EXACT);
	ck_assert_str_eq(list.items[1].text, "b*");
	ck_assert_uint_eq(list.items[1].len, 2);
	ck_assert_int_eq(list.items[1].shape, PATTERN_PREFIX);
	ck_assert_str_eq(list.items[2].text, "*c");
	ck_assert_int_eq(list.items[2].shape, PATTERN_GLOB);
	pattern_list_free(&list);
	ck_assert_uint_eq(list.count, 0);
	ck_assert_ptr_null(list.items);

	ck_assert_int_eq(pattern_list_compile(" \t*\t ,a*b*c,x**,**,agent_*", &list), 0);
	ck_assert_uint_eq(list.count, 5);
	ck_assert_str_eq(list.items[0].text, "*");
	ck_assert_int_eq(list.items[0].shape, PATTERN_ANY);
	ck_assert_int_eq(list.items[1].shape, PATTERN_GLOB);
	ck_assert_int_eq(list.items[2].shape, PATTERN_GLOB);
	ck_assert_int_eq(list.items[3].shape, PATTERN_GLOB);
	ck_assert_str_eq(list.items[4].text, "agent_*");
	ck_assert_int_eq(list.items[4].shape, PATTERN_PREFIX);
	pattern_list_free(&list);

	/* Blanks inside an item are part of it. */
	ck_assert_int_eq(pattern_list_compile("  two words  ", &list), 0);
	ck_assert_uint_eq(list.count, 1);
	ck_assert_str_eq(list.items[0].text, "two words");
	pattern_list_free(&list);
}
END_TEST

START_TEST(test_pattern_compile_refuses_empty)
{
	static const char *const bad[] = { "", " ", "\t", ",", "a,", ",a", "a,,b", "a, ,b", "a,\t" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct pattern_list list = { (struct pattern *)1, 99 };
		ck_assert_msg(pattern_list_compile(bad[i], &list) == -1, "'%s' accepted", bad[i]);
		/* Left empty (and nothing leaked: ASan). */
		ck_assert_uint_eq(list.count, 0);
		ck_assert_ptr_null(list.items);
	}
}
END_TEST

static bool match1(const char *pattern, const char *subject)
{
	struct pattern_list list;
	ck_assert_int_eq(pattern_list_compile(pattern, &list), 0);
	ck_assert_uint_eq(list.count, 1);
	bool m = pattern_match(&list.items[0], subject);
	pattern_list_free(&list);
	return m;
}

START_TEST(test_pattern_match_exact)
{
	ck_assert(match1("query", "query"));
	ck_assert(!match1("query", "quer"));
	ck_assert(!match1("query", "query2"));
	ck_assert(!match1("query", "Query"));
	ck_assert(!match1("query", ""));
}
END_TEST

START_TEST(test_pattern_match_any)
{
	ck_assert(match1("*", ""));
	ck_assert(match1("*", "x"));
	ck_assert(match1("*", "anything at all"));
}
END_TEST

START_TEST(test_pattern_match_prefix)
{
	ck_assert(match1("frontend_*", "frontend_"));
	ck_assert(match1("frontend_*", "frontend_42"));
	ck_assert(!match1("frontend_*", "frontend"));
	ck_assert(!match1("frontend_*", "xfrontend_1"));
	ck_assert(!match1("frontend_*", ""));
}
END_TEST

START_TEST(test_pattern_match_suffix)
{
	ck_assert(match1("*_error", "_error"));
	ck_assert(match1("*_error", "query_error"));
	ck_assert(!match1("*_error", "query_errors"));
	ck_assert(!match1("*_error", "error"));
	/* The suffix may occur earlier too. */
	ck_assert(match1("*ab", "abab"));
	ck_assert(match1("*ab", "aab"));
	ck_assert(!match1("*ab", "aba"));
}
END_TEST

START_TEST(test_pattern_match_infix)
{
	ck_assert(match1("a*b*c", "abc"));
	ck_assert(match1("a*b*c", "aXbYc"));
	ck_assert(match1("a*b*c", "abbc"));
	ck_assert(match1("a*b*c", "acbc"));      /* needs backtracking past the first 'c' */
	ck_assert(match1("a*b*c", "abcbc"));
	ck_assert(!match1("a*b*c", "ab"));
	ck_assert(!match1("a*b*c", "acb"));
	ck_assert(!match1("a*b*c", "abcd"));
	ck_assert(!match1("a*b*c", "xabc"));
	ck_assert(match1("*mid*", "mid"));
	ck_assert(match1("*mid*", "a middle"));
	ck_assert(!match1("*mid*", "mi d"));
	ck_assert(match1("a**b", "ab"));
	ck_assert(match1("a*a", "aa"));
	ck_assert(match1("a*a", "aaa"));
	ck_assert(!match1("a*a", "a"));
	ck_assert(match1("**", ""));
}
END_TEST

START_TEST(test_pattern_list_match)
{
	struct pattern_list list;
	ck_assert_int_eq(pattern_list_compile("a, b*, *c", &list), 0);
	ck_assert(pattern_list_match(&list, "a"));
	ck_assert(pattern_list_match(&list, "b"));
	ck_assert(pattern_list_match(&list, "bz"));
	ck_assert(pattern_list_match(&list, "zc"));
	ck_assert(pattern_list_match(&list, "c"));
	ck_assert(!pattern_list_match(&list, "za"));
	ck_assert(!pattern_list_match(&list, "ab"));
	ck_assert(!pattern_list_match(&list, "cz"));
	ck_assert(!pattern_list_match(&list, ""));
	pattern_list_free(&list);

	struct pattern_list empty = { 0 };
	ck_assert(!pattern_list_match(&empty, "a"));
}
END_TEST

START_TEST(test_pattern_list_exact)
{
	struct pattern_list list;
	ck_assert_int_eq(pattern_list_compile(" query ", &list), 0);
	ck_assert_str_eq(pattern_list_exact(&list), "query");
	pattern_list_free(&list);

	static const char *const not_exact[] = { "query, other", "q*", "*", "*y", "a*b", "a, a" };
	for (size_t i = 0; i < sizeof not_exact / sizeof *not_exact; i++) {
		ck_assert_int_eq(pattern_list_compile(not_exact[i], &list), 0);
		ck_assert_msg(pattern_list_exact(&list) == NULL, "'%s' counted as exact", not_exact[i]);
		pattern_list_free(&list);
	}
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("containers");
	TCase *tc = tcase_create("hashmap");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_map_put_get_replace_remove);
	tcase_add_test(tc, test_map_replace_adopts_new_key);
	tcase_add_test(tc, test_map_many_keys);
	tcase_add_test(tc, test_map_removal_orders_small_table);
	tcase_add_test(tc, test_map_interleaved_churn);
	tcase_add_test(tc, test_map_seeded);
	suite_add_tcase(s, tc);

	tc = tcase_create("pattern");
	tcase_add_test(tc, test_pattern_compile_shapes);
	tcase_add_test(tc, test_pattern_compile_refuses_empty);
	tcase_add_test(tc, test_pattern_match_exact);
	tcase_add_test(tc, test_pattern_match_any);
	tcase_add_test(tc, test_pattern_match_prefix);
	tcase_add_test(tc, test_pattern_match_suffix);
	tcase_add_test(tc, test_pattern_match_infix);
	tcase_add_test(tc, test_pattern_list_match);
	tcase_add_test(tc, test_pattern_list_exact);
	suite_add_tcase(s, tc);
	return s;
}
