/* Unit tests for plugins/websocket/http_parse.c (the strict HTTP/1.1
 * request-head parser) and ws_handshake.c (the RFC 6455 4.2 upgrade check
 * and Sec-WebSocket-Accept): the statuses a client would be refused with,
 * and the exact spans and accept key it would get. */
#include "build-config.h"

#include <check.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/websocket/http_parse.h"
#include "plugins/websocket/ws_handshake.h"
#include "tests/unit/unit_suite.h"

#define MAX_HEAD 8192

/* The RFC 6455 1.3 example request. */
static const char upgrade[] = "GET /chat?room=1 HTTP/1.1\r\n"
                              "Host: server.example.com\r\n"
                              "Upgrade: websocket\r\n"
                              "Connection: Upgrade\r\n"
                              "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                              "Origin: http://example.com\r\n"
                              "Sec-WebSocket-Protocol: chat, superchat\r\n"
                              "Sec-WebSocket-Version: 13\r\n"
                              "\r\n";

static int parse(const char *s, struct http_request *req)
{
	return http_parse_request(s, strlen(s), MAX_HEAD, req);
}

#define ck_parse_status(str, status)                                                          \
	do {                                                                                   \
		struct http_request req_;                                                      \
		int rc_ = parse((str), &req_);                                                 \
		ck_assert_msg(rc_ == (status), "%d, not %d, for \"%s\"", rc_, (status), (str)); \
	} while (0)

#define ck_span(span, str)                                                                    \
	do {                                                                                   \
		ck_assert_uint_eq((span).len, strlen(str));                                    \
		ck_assert_mem_eq((span).at, (str), (span).len);                                \
	} while (0)

/* ---- the request head ------------------------------------------------------ */

START_TEST(test_full_upgrade_request)
{
	/* the head, and a WebSocket frame the client sent right after it */
	char buf[sizeof upgrade + 6];
	memcpy(buf, upgrade, sizeof upgrade - 1);
	memcpy(buf + sizeof upgrade - 1, "\x81\x80\x01\x02\x03\x04", 6);
	struct http_request req;
	ck_assert_int_eq(http_parse_request(buf, sizeof buf - 1, MAX_HEAD, &req), 1);
	ck_assert_uint_eq(req.head_len, sizeof upgrade - 1);
	ck_assert_ptr_eq(req.method.at, buf);
	ck_span(req.method, "GET");
	ck_assert_ptr_eq(req.target.at, buf + 4);
	ck_span(req.target, "/chat?room=1");
	ck_assert_int_eq(req.minor, 1);
	ck_assert_uint_eq(req.n_headers, 7);
	static const char *const names[] = { "Host", "Upgrade", "Connection", "Sec-WebSocket-Key",
		                             "Origin", "Sec-WebSocket-Protocol", "Sec-WebSocket-Version" };
	static const char *const values[] = { "server.example.com", "websocket", "Upgrade",
		                              "dGhlIHNhbXBsZSBub25jZQ==", "http://example.com",
		                              "chat, superchat", "13" };
	for (size_t i = 0; i < 7; i++) {
		ck_span(req.headers[i].name, names[i]);
		ck_span(req.headers[i].value, values[i]);
		/* zero-copy: the spans point into the buffer */
		ck_assert(req.headers[i].name.at > buf && req.headers[i].name.at < buf + req.head_len);
	}
	ck_assert_ptr_eq(req.headers[0].name.at, buf + strlen("GET /chat?room=1 HTTP/1.1\r\n"));
}
END_TEST

START_TEST(test_minimal_request)
{
	static const char s[] = "GET / HTTP/1.1\r\n\r\n";
	struct http_request req;
	ck_assert_int_eq(parse(s, &req), 1);
	ck_assert_uint_eq(req.head_len, sizeof s - 1);
	ck_assert_uint_eq(req.n_headers, 0);
	ck_span(req.target, "/");
	/* any token method, any visible target */
	ck_assert_int_eq(parse("M-SEARCH * HTTP/1.1\r\nX:\r\n\r\n", &req), 1);
	ck_span(req.method, "M-SEARCH");
	ck_span(req.target, "*");
	ck_assert_uint_eq(req.n_headers, 1);
	ck_span(req.headers[0].value, "");
}
END_TEST

START_TEST(test_incomplete)
{
	/* every proper prefix of a valid head needs more bytes */
	for (size_t n = 0; n < sizeof upgrade - 1; n++) {
		struct http_request req;
		int rc = http_parse_request(upgrade, n, MAX_HEAD, &req);
		ck_assert_msg(rc == 0, "prefix of %zu bytes: %d", n, rc);
	}
	ck_parse_status("GET / HTTP/1.1\r\nHost: x\r\n", 0);
	ck_parse_status("GET / HTTP/1.1\r\nHost: x\r\n\r", 0);
}
END_TEST

START_TEST(test_http10)
{
	struct http_request req;
	ck_assert_int_eq(parse("GET / HTTP/1.0\r\nHost: a\r\n\r\n", &req), 1);
	ck_assert_int_eq(req.minor, 0);
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\n\r\n", &req), 1);
	ck_assert_int_eq(req.minor, 1);
}
END_TEST

START_TEST(test_bare_lf)
{
	ck_parse_status("GET / HTTP/1.1\nHost: x\r\n\r\n", 400);
	ck_parse_status("GET / HTTP/1.1\r\nHost: x\n\r\n", 400);
	ck_parse_status("GET / HTTP/1.1\r\nHost: x\r\n\n", 400);
	ck_parse_status("GET / HTTP/1.1\n\n", 400);
	ck_parse_status("\n", 400);
	ck_parse_status("GET / HTTP/1.1\r\nHost: a\nb\r\n\r\n", 400);
	/* refused as soon as it is seen, before the head is complete */
	ck_parse_status("GET / HTTP/1.1\nHo", 400);
}
END_TEST

START_TEST(test_obs_fold)
{
	ck_parse_status("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n", 400);
	ck_parse_status("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n", 400);
	ck_parse_status("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400);
}
END_TEST

START_TEST(test_malformed_headers)
{
	ck_parse_status("GET / HTTP/1.1\r\nHost x\r\n\r\n", 400);       /* no colon */
	ck_parse_status("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);     /* space before colon */
	ck_parse_status("GET / HTTP/1.1\r\nHost\t: x\r\n\r\n", 400);
	ck_parse_status("GET / HTTP/1.1\r\n: x\r\n\r\n", 400);          /* empty name */
	ck_parse_status("GET / HTTP/1.1\r\nHo(st: x\r\n\r\n", 400);     /* not a token */
	ck_parse_status("GET / HTTP/1.1\r\nHost: a\x01" "b\r\n\r\n", 400); /* control chars */
	ck_parse_status("GET / HTTP/1.1\r\nHost: a\x1F\r\n\r\n", 400);
	ck_parse_status("GET / HTTP/1.1\r\nHost: a\x7F\r\n\r\n", 400);
	ck_parse_status("GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400);   /* bare CR */
	ck_parse_status("GET / HTTP/1.1\r\nHost: x\r\nX-Y: \x1B[0m\r\n\r\n", 400);
	/* a NUL in a value */
	static const char nul[] = "GET / HTTP/1.1\r\nHost: a\0b\r\n\r\n";
	struct http_request req;
	ck_assert_int_eq(http_parse_request(nul, sizeof nul - 1, MAX_HEAD, &req), 400);
	/* but a tab inside a value and obs-text bytes are fine */
	ck_assert_int_eq(parse("GET / HTTP/1.1\r\nX-T: a\tb \xC3\xA9\r\n\r\n", &req), 1);
	ck_span(req.headers[0].value, "a\tb \xC3\xA9");
}
END_TEST

START_TEST(test_bad_request_line)
{
	static const char *const bad[] = {
		"\r\n\r\n",
		"\r\nGET / HTTP/1.1\r\n\r\n",
		"GET\r\n\r\n",
		"GET /\r\n\r\n",
		"GET / \r\n\r\n",
		"/ HTTP/1.1\r\n\r\n",
		" GET / HTTP/1.1\r\n\r\n",
		"GET  / HTTP/1.1\r\n\r\n",
		"GET /  HTTP/1.1\r\n\r\n",
		"GET\t/ HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1 \r\n\r\n",
		"GET / http/1.1\r\n\r\n",
		"GET / Http/1.1\r\n\r\n",
		"GET / HTTP/1\r\n\r\n",
		"GET / HTTP/1.\r\n\r\n",
		"GET / HTTP/11\r\n\r\n",
		"GET / HTTP/1.x\r\n\r\n",
		"GET / HTTP/1,1\r\n\r\n",
		"GET / HTTP/1.10\r\n\r\n",
		"GET / HTTP/ 1.1\r\n\r\n",
		"G(T / HTTP/1.1\r\n\r\n",
		"GET /\x7F HTTP/1.1\r\n\r\n",
		"GET /\xC3\xA9 HTTP/1.1\r\n\r\n",
		"GET / FTP/1.1\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_parse_status(bad[i], 400);
}
END_TEST

START_TEST(test_version_not_1x)
{
	ck_parse_status("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	ck_parse_status("GET / HTTP/0.9\r\n\r\n", 505);
	ck_parse_status("GET / HTTP/3.0\r\n\r\n", 505);
	ck_parse_status("GET / HTTP/9.1\r\n\r\n", 505);
}
END_TEST

START_TEST(test_head_too_large)
{
	struct http_request req;
	size_t head = sizeof upgrade - 1;
	/* a complete head that fits exactly */
	ck_assert_int_eq(http_parse_request(upgrade, head, head, &req), 1);
	ck_assert_uint_eq(req.head_len, head);
	/* one byte over the limit: the terminator is out of reach */
	ck_assert_int_eq(http_parse_request(upgrade, head, head - 1, &req), 431);
	/* no terminator yet: 0 while under the limit, 431 at it */
	char *big = malloc(MAX_HEAD + 100);
	ck_assert_ptr_nonnull(big);
	memcpy(big, "GET / HTTP/1.1\r\nX-Pad: ", 23);
	memset(big + 23, 'a', MAX_HEAD + 100 - 23);
	ck_assert_int_eq(http_parse_request(big, MAX_HEAD - 1, MAX_HEAD, &req), 0);
	ck_assert_int_eq(http_parse_request(big, MAX_HEAD, MAX_HEAD, &req), 431);
	ck_assert_int_eq(http_parse_request(big, MAX_HEAD + 100, MAX_HEAD, &req), 431);
	/* a terminator just past the limit is not looked for */
	memcpy(big + MAX_HEAD - 2, "\r\n\r\n", 4);
	ck_assert_int_eq(http_parse_request(big, MAX_HEAD + 2, MAX_HEAD, &req), 431);
	/* and one ending exactly at the limit is found */
	memcpy(big + MAX_HEAD - 4, "\r\n\r\n", 4);
	ck_assert_int_eq(http_parse_request(big, MAX_HEAD + 100, MAX_HEAD, &req), 1);
	ck_assert_uint_eq(req.head_len, MAX_HEAD);
	free(big);
}
END_TEST

/* A request with n headers X-0 .. X-(n-1). */
static char *many_headers(size_t n)
{
	size_t cap = 64 + n * 32;
	char *s = malloc(cap);
	ck_assert_ptr_nonnull(s);
	size_t len = (size_t)snprintf(s, cap, "GET / HTTP/1.1\r\n");
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "X-%zu: v%zu\r\n", i, i);
	snprintf(s + len, cap - len, "\r\n");
	return s;
}

START_TEST(test_too_many_headers)
{
	struct http_request req;
	char *s = many_headers(HTTP_MAX_HEADERS);
	ck_assert_int_eq(parse(s, &req), 1);
	ck_assert_uint_eq(req.n_headers, HTTP_MAX_HEADERS);
	const struct http_header *h = http_header(&req, "x-63");
	ck_assert_ptr_nonnull(h);
	ck_span(h->value, "v63");
	free(s);
	s = many_headers(HTTP_MAX_HEADERS + 1);
	ck_assert_int_eq(parse(s, &req), 431);
	free(s);
	s = many_headers(200);
	ck_assert_int_eq(parse(s, &req), 431);
	free(s);
}
END_TEST

START_TEST(test_header_lookup)
{
	static const char s[] = "GET / HTTP/1.1\r\n"
	                        "host:example.com\r\n"
	                        "X-Trim: \t  padded value \t \r\n"
	                        "X-Empty:   \r\n"
	                        "X-Dup: first\r\n"
	                        "x-dup: second\r\n"
	                        "\r\n";
	struct http_request req;
	ck_assert_int_eq(parse(s, &req), 1);
	const struct http_header *h = http_header(&req, "HOST");
	ck_assert_ptr_nonnull(h);
	ck_span(h->name, "host");
	ck_span(h->value, "example.com");
	ck_assert_ptr_eq(http_header(&req, "Host"), h);
	h = http_header(&req, "x-trim");
	ck_assert_ptr_nonnull(h);
	ck_span(h->value, "padded value");
	h = http_header(&req, "X-Empty");
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(h->value.len, 0);
	h = http_header(&req, "X-DUP");
	ck_assert_ptr_nonnull(h);
	ck_span(h->value, "first");
	ck_assert_ptr_null(http_header(&req, "X-Missing"));
	ck_assert_ptr_null(http_header(&req, "Hos"));
	ck_assert_ptr_null(http_header(&req, "Hostx"));
	ck_assert_ptr_null(http_header(&req, ""));
}
END_TEST

START_TEST(test_span_equals)
{
	struct http_span s = { "WebSocketXYZ", 9 };
	ck_assert(http_span_equals(s, "websocket"));
	ck_assert(http_span_equals(s, "WEBSOCKET"));
	ck_assert(!http_span_equals(s, "websockets"));
	ck_assert(!http_span_equals(s, "websocke"));
	ck_assert(!http_span_equals(s, "websocketXYZ"));
	struct http_span empty = { "x", 0 };
	ck_assert(http_span_equals(empty, ""));
	ck_assert(!http_span_equals(empty, "x"));
}
END_TEST

static bool has_token(const char *headers, const char *name, const char *token)
{
	char buf[512];
	snprintf(buf, sizeof buf, "GET / HTTP/1.1\r\n%s\r\n", headers);
	struct http_request req;
	ck_assert_int_eq(parse(buf, &req), 1);
	return http_header_has_token(&req, name, token);
}

START_TEST(test_header_tokens)
{
	ck_assert(has_token("Connection: keep-alive, Upgrade\r\n", "Connection", "upgrade"));
	ck_assert(has_token("Connection: keep-alive, Upgrade\r\n", "connection", "KEEP-ALIVE"));
	ck_assert(has_token("Connection: upgrade\r\n", "Connection", "Upgrade"));
	ck_assert(has_token("Connection:  Upgrade ,foo\r\n", "Connection", "upgrade"));
	ck_assert(has_token("Connection:  Upgrade ,foo\r\n", "Connection", "foo"));
	ck_assert(has_token("Connection: ,,upgrade,,\r\n", "Connection", "upgrade"));
	ck_assert(has_token("Connection: a,\tupgrade\t,b\r\n", "Connection", "upgrade"));
	/* in a later header of the same name */
	ck_assert(has_token("Connection: keep-alive\r\nconnection: Upgrade\r\n", "Connection", "upgrade"));

	ck_assert(!has_token("Connection: upgraded\r\n", "Connection", "upgrade"));
	ck_assert(!has_token("Connection: xupgrade\r\n", "Connection", "upgrade"));
	ck_assert(!has_token("Connection: up grade\r\n", "Connection", "upgrade"));
	ck_assert(!has_token("Connection: keep-alive\r\n", "Connection", "upgrade"));
	ck_assert(!has_token("Connection: upgrade keep-alive\r\n", "Connection", "upgrade"));
	ck_assert(!has_token("Connection:\r\n", "Connection", "upgrade"));
	ck_assert(!has_token("Upgrade: websocket\r\n", "Connection", "websocket"));
	ck_assert(!has_token("X-Connection: upgrade\r\n", "Connection", "upgrade"));
	ck_assert(!has_token("Connection: upgrade\r\n", "Connection", "upgraded"));
	ck_assert(!has_token("Connection: upgrade\r\n", "Connection", "upgrad"));
}
END_TEST

/* ---- the accept key -------------------------------------------------------- */

START_TEST(test_accept_key)
{
	char accept[WS_ACCEPT_LEN];
	memset(accept, 'X', sizeof accept);
	ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept);
	ck_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="); /* RFC 6455 1.3 */
	ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, accept);
	ck_assert_str_eq(accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
	/* only key_len bytes are hashed */
	ws_accept_key("AAAAAAAAAAAAAAAAAAAAAA==trailing", 24, accept);
	ck_assert_str_eq(accept, "ICX+Yqv66kxgM0FcWaLWlFLwTAI=");
}
END_TEST

/* ---- the upgrade check ----------------------------------------------------- */

/* The example request with one header line replaced (or removed: repl "")
 * or the request line replaced; returns ws_handshake_check's status. */
static int check_variant(const char *find, const char *repl, char accept[WS_ACCEPT_LEN])
{
	char buf[1024];
	const char *at = strstr(upgrade, find);
	ck_assert_msg(at != NULL, "no \"%s\" in the request", find);
	size_t pre = (size_t)(at - upgrade);
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)pre, upgrade, repl, at + strlen(find));
	struct http_request req;
	int rc = parse(buf, &req);
	ck_assert_msg(rc == 1, "variant does not parse: %d", rc);
	const char *why = NULL;
	char scratch[WS_ACCEPT_LEN];
	int status = ws_handshake_check(&req, accept ? accept : scratch, &why);
	if (status)
		ck_assert_msg(why != NULL && *why, "no reason for %d", status);
	return status;
}

START_TEST(test_handshake_valid)
{
	struct http_request req;
	ck_assert_int_eq(parse(upgrade, &req), 1);
	char accept[WS_ACCEPT_LEN];
	memset(accept, 'X', sizeof accept);
	const char *why = NULL;
	ck_assert_int_eq(ws_handshake_check(&req, accept, &why), 0);
	ck_assert_str_eq(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");

	/* header names and the Upgrade/Connection tokens are case-insensitive,
	 * Connection may list more tokens */
	ck_assert_int_eq(check_variant("Upgrade: websocket", "upgrade: WebSocket", NULL), 0);
	ck_assert_int_eq(check_variant("Connection: Upgrade", "CONNECTION: keep-alive, upgrade", NULL), 0);
	ck_assert_int_eq(check_variant("Host: server.example.com", "host: a", NULL), 0);
	/* the accept is computed from the key as sent */
	memset(accept, 0, sizeof accept);
	ck_assert_int_eq(check_variant("dGhlIHNhbXBsZSBub25jZQ==", "x3JJHMbDL1EzLkh9GBhXDw==", accept), 0);
	ck_assert_str_eq(accept, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
	/* every last character carrying only zero bits: A, Q, g, w */
	ck_assert_int_eq(check_variant("jZQ==", "jZA==", NULL), 0);
	ck_assert_int_eq(check_variant("jZQ==", "jZg==", NULL), 0);
	ck_assert_int_eq(check_variant("jZQ==", "jZw==", NULL), 0);
	ck_assert_int_eq(check_variant("dGhlIHNhbXBsZSBub25jZQ==", "+/+/+/+/+/+/+/+/+/+/+w==", NULL), 0);
}
END_TEST

START_TEST(test_handshake_method_and_version)
{
	ck_assert_int_eq(check_variant("GET /chat", "POST /chat", NULL), 400);
	ck_assert_int_eq(check_variant("GET /chat", "HEAD /chat", NULL), 400);
	ck_assert_int_eq(check_variant("GET /chat", "GETS /chat", NULL), 400);
	/* methods are case-sensitive (RFC 9110 9.1): "get" is not GET */
	ck_assert_int_eq(check_variant("GET /chat", "get /chat", NULL), 400);
	ck_assert_int_eq(check_variant("HTTP/1.1\r\n", "HTTP/1.0\r\n", NULL), 400);
}
END_TEST

START_TEST(test_handshake_headers)
{
	ck_assert_int_eq(check_variant("Host: server.example.com\r\n", "", NULL), 400);
	ck_assert_int_eq(check_variant("Upgrade: websocket\r\n", "", NULL), 400);
	ck_assert_int_eq(check_variant("Upgrade: websocket", "Upgrade: h2c", NULL), 400);
	ck_assert_int_eq(check_variant("Upgrade: websocket", "Upgrade: websockets", NULL), 400);
	ck_assert_int_eq(check_variant("Connection: Upgrade\r\n", "", NULL), 400);
	ck_assert_int_eq(check_variant("Connection: Upgrade", "Connection: keep-alive", NULL), 400);
	ck_assert_int_eq(check_variant("Connection: Upgrade", "Connection: upgraded", NULL), 400);
	/* the tokens must be in the right header */
	ck_assert_int_eq(check_variant("Connection: Upgrade", "Connection: websocket", NULL), 400);
}
END_TEST

START_TEST(test_handshake_ws_version)
{
	ck_assert_int_eq(check_variant("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 8", NULL), 426);
	ck_assert_int_eq(check_variant("Sec-WebSocket-Version: 13\r\n", "", NULL), 426);
	ck_assert_int_eq(check_variant("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 013", NULL), 426);
	ck_assert_int_eq(check_variant("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 13, 8", NULL), 426);
	ck_assert_int_eq(check_variant("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version:", NULL), 426);
	ck_assert_int_eq(check_variant("Sec-WebSocket-Version: 13", "Sec-WebSocket-Version: 14", NULL), 426);
	/* surrounding blanks are not part of the value */
	ck_assert_int_eq(check_variant("Sec-WebSocket-Version: 13", "sec-websocket-version:  13 ", NULL), 0);
}
END_TEST

START_TEST(test_handshake_key)
{
	static const char *const bad[] = {
		"",                              /* empty */
		"dGhlIHNhbXBsZSBub25jZQ=",       /* 23 */
		"dGhlIHNhbXBsZSBub25jZQ===",     /* 25 */
		"dGhlIHNhbXBsZSBub25jZQ",        /* no padding */
		"dGhlIHNhbXBsZSBub25jZQAA",      /* padding replaced */
		"dGhlIHNhbXBsZSBub25jZQA=",
		"dGhlIHNhbXBsZSBub25jZ===",      /* '=' too early */
		"dGhlIHNhbXBsZSBub25jZ!==",      /* bad chars */
		"dGhlIHNhbXBsZSBub25j-Q==",      /* URL-safe base64 is not base64 */
		"dGhlIHNhbXBsZSBub25j_Q==",
		"dGhlIHNhbXBs ZSBub25jQ==",
		"dGhlIHNhbXBsZSBub25jZR==",      /* nonzero padding bits */
		"dGhlIHNhbXBsZSBub25jZB==",
		"dGhlIHNhbXBsZSBub25jZf==",
		"dGhlIHNhbXBsZSBub25jZ/==",
		"dGhlIHNhbXBsZSBub25jZQ==dGhlIHNhbXBsZSBub25jZQ==",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char repl[128];
		snprintf(repl, sizeof repl, "Sec-WebSocket-Key: %s", bad[i]);
		ck_assert_msg(check_variant("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==", repl, NULL) == 400,
		              "key \"%s\" accepted", bad[i]);
	}
	ck_assert_int_eq(check_variant("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "", NULL), 400);
	/* the last character before "==" carries 2 bits of the 16th byte: of
	 * the 64 characters only A, Q, g and w leave the other 4 bits zero */
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < 64; i++) {
		char find[] = "jZQ==", repl[] = "jZQ==";
		repl[2] = alphabet[i];
		int want = i % 16 == 0 ? 0 : 400;
		ck_assert_msg(check_variant(find, repl, NULL) == want, "last char '%c'", alphabet[i]);
	}
	/* every character position is checked against the alphabet */
	for (size_t pos = 0; pos < 22; pos++) {
		char repl[] = "dGhlIHNhbXBsZSBub25jZQ==";
		repl[pos] = '.';
		ck_assert_msg(check_variant("dGhlIHNhbXBsZSBub25jZQ==", repl, NULL) == 400, "'.' at %zu", pos);
	}
	/* a key with a NUL in it: the parser refuses it (a control character) */
	char buf[1024];
	const char *at = strstr(upgrade, "ZQ==");
	size_t n = sizeof upgrade - 1;
	memcpy(buf, upgrade, n);
	buf[at - upgrade - 5] = '\0';
	struct http_request req;
	ck_assert_int_eq(http_parse_request(buf, n, MAX_HEAD, &req), 400);
}
END_TEST

START_TEST(test_handshake_key_nul)
{
	/* and the key check refuses it too, in a request built by hand: a NUL
	 * is not a base64 character, at any position */
	struct http_request req;
	ck_assert_int_eq(parse(upgrade, &req), 1);
	struct http_header *key = NULL;
	for (size_t i = 0; i < req.n_headers; i++) {
		if (http_span_equals(req.headers[i].name, "Sec-WebSocket-Key"))
			key = &req.headers[i];
	}
	ck_assert_ptr_nonnull(key);
	for (size_t pos = 0; pos < 22; pos++) {
		char k[] = "dGhlIHNhbXBsZSBub25jZQ==";
		k[pos] = '\0';
		key->value = (struct http_span){ k, 24 };
		char accept[WS_ACCEPT_LEN];
		const char *why = NULL;
		ck_assert_msg(ws_handshake_check(&req, accept, &why) == 400, "NUL at %zu", pos);
	}
}
END_TEST

/* ---- response heads (the WebSocket client's upgrade answer) ---- */

static int parse_response(const char *s, struct http_request *head, int *status)
{
	return http_parse_response(s, strlen(s), MAX_HEAD, head, status);
}

START_TEST(test_response_101)
{
	struct http_request head;
	int status = 0;
	const char *text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
	                   "Connection: Upgrade\r\nSec-WebSocket-Accept: abc=\r\n\r\nframes";
	ck_assert_int_eq(parse_response(text, &head, &status), 1);
	ck_assert_int_eq(status, 101);
	ck_assert_int_eq(head.minor, 1);
	ck_assert_uint_eq(head.head_len, strlen(text) - strlen("frames"));
	ck_assert(http_header_has_token(&head, "connection", "upgrade"));
	ck_assert(http_span_equals(http_header(&head, "Sec-WebSocket-Accept")->value, "abc="));
	/* no reason phrase, and HTTP/1.0 */
	ck_assert_int_eq(parse_response("HTTP/1.0 404\r\n\r\n", &head, &status), 1);
	ck_assert_int_eq(status, 404);
	ck_assert_int_eq(head.minor, 0);
}
END_TEST

START_TEST(test_response_malformed)
{
	struct http_request head;
	int status = 0;
	static const char *const bad[] = {
		"HTTP/2 101 Switching\r\n\r\n", "HTTP/1.1 1O1 Switching\r\n\r\n", "HTTP/1.1 10\r\n\r\n",
		"HTTP/1.1 1011 x\r\n\r\n",      "ICY 200 OK\r\n\r\n",            "HTTP/1.1 101 x\nUpgrade: a\r\n\r\n",
		"HTTP/1.1 101 x\r\nno colon\r\n\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(parse_response(bad[i], &head, &status) == 400, "accepted: %s", bad[i]);
	ck_assert_int_eq(parse_response("HTTP/1.1 101 Switching\r\nUpgr", &head, &status), 0);
	char big[MAX_HEAD + 64];
	memset(big, 'a', sizeof big);
	memcpy(big, "HTTP/1.1 101 x\r\nX: ", 20);
	ck_assert_int_eq(http_parse_response(big, sizeof big, MAX_HEAD, &head, &status), 431);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("http_parse");
	TCase *tc = tcase_create("parse");
	tcase_add_test(tc, test_full_upgrade_request);
	tcase_add_test(tc, test_minimal_request);
	tcase_add_test(tc, test_incomplete);
	tcase_add_test(tc, test_http10);
	tcase_add_test(tc, test_bare_lf);
	tcase_add_test(tc, test_obs_fold);
	tcase_add_test(tc, test_malformed_headers);
	tcase_add_test(tc, test_bad_request_line);
	tcase_add_test(tc, test_version_not_1x);
	tcase_add_test(tc, test_head_too_large);
	tcase_add_test(tc, test_too_many_headers);
	suite_add_tcase(s, tc);

	tc = tcase_create("responses");
	tcase_add_test(tc, test_response_101);
	tcase_add_test(tc, test_response_malformed);
	suite_add_tcase(s, tc);

	tc = tcase_create("headers");
	tcase_add_test(tc, test_header_lookup);
	tcase_add_test(tc, test_span_equals);
	tcase_add_test(tc, test_header_tokens);
	suite_add_tcase(s, tc);

	tc = tcase_create("handshake");
	tcase_add_test(tc, test_accept_key);
	tcase_add_test(tc, test_handshake_valid);
	tcase_add_test(tc, test_handshake_method_and_version);
	tcase_add_test(tc, test_handshake_headers);
	tcase_add_test(tc, test_handshake_ws_version);
	tcase_add_test(tc, test_handshake_key);
	tcase_add_test(tc, test_handshake_key_nul);
	suite_add_tcase(s, tc);
	return s;
}
