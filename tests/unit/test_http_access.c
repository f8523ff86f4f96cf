/* Unit tests for plugins/websocket/http_access.c: which browser origins the
 * listener admits (the allow-list, this server itself by address or as
 * localhost, never by a name a DNS-rebinding page could choose), and the
 * token a request carries (Bearer, or the access_token query parameter,
 * %XX-decoded), as the upgrade and the HTTP API read them. */
#include "build-config.h"

#include <check.h>

#include <stdio.h>
#include <string.h>

#include "plugins/websocket/http_access.h"
#include "plugins/websocket/http_parse.h"
#include "tests/unit/unit_suite.h"

static char head[2048];
static struct http_request req;

/* Parse a request with these header lines ("" for none). */
static void request(const char *target, const char *headers)
{
	snprintf(head, sizeof head, "GET %s HTTP/1.1\r\n%s\r\n", target, headers);
	ck_assert_int_eq(http_parse_request(head, strlen(head), sizeof head, &req), 1);
}

START_TEST(test_no_origin_is_not_a_browser)
{
	request("/ws", "Host: example.com\r\n");
	ck_assert(origin_allowed("http://localhost:3000", &req));
}
END_TEST

START_TEST(test_listed_origins)
{
	request("/ws", "Host: broker:8080\r\nOrigin: http://localhost:3000\r\n");
	ck_assert(origin_allowed("http://localhost:3000", &req));
	ck_assert(origin_allowed("https://a.example, http://localhost:3000", &req));
	ck_assert(!origin_allowed("https://a.example", &req));
	ck_assert(!origin_allowed("http://localhost:30", &req)); /* no prefix match */
	ck_assert(!origin_allowed("http://localhost:30000", &req));
	ck_assert(!origin_allowed("", &req));
	ck_assert(!origin_allowed(NULL, &req));
	ck_assert(origin_allowed("*", &req));
}
END_TEST

START_TEST(test_same_origin_by_address_or_localhost)
{
	request("/", "Host: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:8080\r\n");
	ck_assert(origin_allowed(NULL, &req));
	request("/", "Host: localhost:8080\r\nOrigin: https://localhost:8080\r\n");
	ck_assert(origin_allowed(NULL, &req));
	request("/", "Host: [::1]:8080\r\nOrigin: http://[::1]:8080\r\n");
	ck_assert(origin_allowed(NULL, &req));
	/* Another port of the same host is another origin. */
	request("/", "Host: 127.0.0.1:8080\r\nOrigin: http://127.0.0.1:9090\r\n");
	ck_assert(!origin_allowed(NULL, &req));
}
END_TEST

START_TEST(test_same_origin_by_name_is_not_trusted)
{
	/* A rebinding page picks both its name and the Host header. */
	request("/", "Host: evil.example:8080\r\nOrigin: http://evil.example:8080\r\n");
	ck_assert(!origin_allowed("http://localhost:3000", &req));
	ck_assert(origin_allowed("http://evil.example:8080", &req)); /* unless listed */
}
END_TEST

START_TEST(test_bearer_token)
{
	struct http_span token;
	char decoded[64];
	request("/ws", "Authorization: Bearer abc.def\r\n");
	ck_assert(request_token(&req, &token, decoded, sizeof decoded));
	ck_assert_int_eq((int)token.len, 7);
	ck_assert(memcmp(token.at, "abc.def", 7) == 0);
	request("/ws", "Authorization: bearer lower\r\n");
	ck_assert(request_token(&req, &token, decoded, sizeof decoded));
	request("/ws", "Authorization: Basic dXNlcjpwdw==\r\n");
	ck_assert(!request_token(&req, &token, decoded, sizeof decoded));
	request("/ws", "");
	ck_assert(!request_token(&req, &token, decoded, sizeof decoded));
}
END_TEST

START_TEST(test_access_token_parameter)
{
	struct http_span token;
	char decoded[64];
	request("/ws/query/u1?x=1&access_token=a%2Bb%3D+c&y=2", "");
	ck_assert(request_token(&req, &token, decoded, sizeof decoded));
	/* %XX decoded; '+' stays a '+' (a literal in tokens) */
	ck_assert_str_eq(decoded, "a+b=+c");
	ck_assert_int_eq((int)token.len, 6);
	request("/ws?access_token=", "");
	ck_assert(!request_token(&req, &token, decoded, sizeof decoded)); /* empty: none */
	request("/ws?my_access_token=abc", "");
	ck_assert(!request_token(&req, &token, decoded, sizeof decoded));
	/* A header wins over the parameter. */
	request("/ws?access_token=param", "Authorization: Bearer header\r\n");
	ck_assert(request_token(&req, &token, decoded, sizeof decoded));
	ck_assert(token.len == 6 && memcmp(token.at, "header", 6) == 0);
}
END_TEST

START_TEST(test_token_that_does_not_fit)
{
	struct http_span token;
	char decoded[4];
	request("/ws?access_token=abcdef", "");
	ck_assert(!request_token(&req, &token, decoded, sizeof decoded));
}
END_TEST

START_TEST(test_percent_decode)
{
	char buf[16];
	struct http_span v = { "a%41%4a%zz%", 11 };
	ck_assert(percent_decode(&v, buf, sizeof buf));
	ck_assert_str_eq(buf, "aAJ%zz%"); /* malformed escapes stay as written */
	ck_assert(v.at == buf && v.len == 7);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("http_access");
	TCase *tc = tcase_create("origin");
	tcase_add_test(tc, test_no_origin_is_not_a_browser);
	tcase_add_test(tc, test_listed_origins);
	tcase_add_test(tc, test_same_origin_by_address_or_localhost);
	tcase_add_test(tc, test_same_origin_by_name_is_not_trusted);
	suite_add_tcase(s, tc);
	tc = tcase_create("token");
	tcase_add_test(tc, test_bearer_token);
	tcase_add_test(tc, test_access_token_parameter);
	tcase_add_test(tc, test_token_that_does_not_fit);
	tcase_add_test(tc, test_percent_decode);
	suite_add_tcase(s, tc);
	return s;
}
