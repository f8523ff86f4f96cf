/* Unit tests for plugins/websocket/ip_counts.c: the key a peer is counted
 * under for the per-address connection limit, and the counting itself. */
#include "build-config.h"

#include <check.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "plugins/websocket/ip_counts.h"
#include "tests/unit/unit_suite.h"

static void key_of_v4(const char *text, char out[IP_KEY_LEN])
{
	struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(4242) };
	ck_assert_int_eq(inet_pton(AF_INET, text, &in.sin_addr), 1);
	ip_counts_key((const struct sockaddr *)&in, out);
}

static void key_of_v6(const char *text, char out[IP_KEY_LEN])
{
	struct sockaddr_in6 in6 = { .sin6_family = AF_INET6, .sin6_port = htons(4242) };
	ck_assert_int_eq(inet_pton(AF_INET6, text, &in6.sin6_addr), 1);
	ip_counts_key((const struct sockaddr *)&in6, out);
}

START_TEST(test_key_ipv4_is_the_address)
{
	char key[IP_KEY_LEN];
	key_of_v4("192.0.2.17", key);
	ck_assert_str_eq(key, "192.0.2.17");
	key_of_v4("255.255.255.255", key);
	ck_assert_str_eq(key, "255.255.255.255");
}
END_TEST

START_TEST(test_key_ipv6_is_the_slash_64)
{
	char a[IP_KEY_LEN], b[IP_KEY_LEN], c[IP_KEY_LEN];
	key_of_v6("2001:db8:1:2:aaaa:bbbb:cccc:dddd", a);
	key_of_v6("2001:db8:1:2::1", b);
	key_of_v6("2001:db8:1:3::1", c);
	ck_assert_str_eq(a, "2001:db8:1:2::/64");
	ck_assert_str_eq(b, a); /* the same /64: one key */
	ck_assert_str_eq(c, "2001:db8:1:3::/64");
	key_of_v6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", a);
	ck_assert_str_eq(a, "ffff:ffff:ffff:ffff::/64"); /* the longest key fits */
	key_of_v6("::1", a);
	ck_assert_str_eq(a, "::/64");
}
END_TEST

START_TEST(test_key_ipv4_mapped_counts_as_ipv4)
{
	char mapped[IP_KEY_LEN], plain[IP_KEY_LEN];
	key_of_v6("::ffff:198.51.100.7", mapped);
	key_of_v4("198.51.100.7", plain);
	ck_assert_str_eq(mapped, "198.51.100.7");
	ck_assert_str_eq(mapped, plain);
}
END_TEST

START_TEST(test_key_other_family)
{
	struct sockaddr sa = { .sa_family = AF_UNIX };
	char key[IP_KEY_LEN];
	ip_counts_key(&sa, key);
	ck_assert_str_eq(key, "?");
}
END_TEST

START_TEST(test_counts_per_key)
{
	struct ip_counts *t = ip_counts_new();
	ck_assert_ptr_nonnull(t);
	ck_assert_uint_eq(ip_counts_add(t, "192.0.2.1"), 1);
	ck_assert_uint_eq(ip_counts_add(t, "192.0.2.1"), 2);
	ck_assert_uint_eq(ip_counts_add(t, "2001:db8::/64"), 1);
	ck_assert_uint_eq(ip_counts_add(t, "192.0.2.1"), 3);
	ip_counts_remove(t, "192.0.2.1");
	ip_counts_remove(t, "192.0.2.1");
	ck_assert_uint_eq(ip_counts_add(t, "192.0.2.1"), 2);
	ip_counts_remove(t, "192.0.2.1");
	ip_counts_remove(t, "192.0.2.1");
	ip_counts_remove(t, "192.0.2.1"); /* below zero: ignored, the entry is gone */
	ip_counts_remove(t, "198.51.100.9"); /* never added: ignored */
	ck_assert_uint_eq(ip_counts_add(t, "192.0.2.1"), 1);
	ck_assert_uint_eq(ip_counts_add(t, "2001:db8::/64"), 2);
	/* Many keys at once, every count kept apart (ASan checks the frees). */
	char key[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof key, "10.%d.%d.1", i / 256, i % 256);
		ck_assert_uint_eq(ip_counts_add(t, key), 1);
	}
	for (int i = 0; i < 5000; i += 7) {
		snprintf(key, sizeof key, "10.%d.%d.1", i / 256, i % 256);
		ck_assert_uint_eq(ip_counts_add(t, key), 2);
	}
	ip_counts_free(t);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("ip_counts");
	TCase *tc = tcase_create("key");
	tcase_add_test(tc, test_key_ipv4_is_the_address);
	tcase_add_test(tc, test_key_ipv6_is_the_slash_64);
	tcase_add_test(tc, test_key_ipv4_mapped_counts_as_ipv4);
	tcase_add_test(tc, test_key_other_family);
	suite_add_tcase(s, tc);
	tc = tcase_create("count");
	tcase_add_test(tc, test_counts_per_key);
	suite_add_tcase(s, tc);
	return s;
}
