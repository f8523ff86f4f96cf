#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_access.h"

/* Is the Host an address or localhost (with a port or not)? A page served
 * under any other name could be a DNS-rebinding attacker's, who picks both
 * Origin and Host: "same origin" only counts for these. */
static bool host_is_literal(struct http_span host)
{
	char name[256];
	if (host.len == 0 || host.len >= sizeof name)
		return false;
	memcpy(name, host.at, host.len);
	name[host.len] = '\0';
	char *end = name[0] == '[' ? strchr(name, ']') : strrchr(name, ':');
	if (name[0] == '[') {
		if (!end)
			return false;
		*end = '\0';
		struct in6_addr a6;
		return inet_pton(AF_INET6, name + 1, &a6) == 1;
	}
	if (end)
		*end = '\0';
	struct in_addr a4;
	return strcmp(name, "localhost") == 0 || inet_pton(AF_INET, name, &a4) == 1;
}

/* A browser's Origin must be listed, or be this server itself (reached by
 * address or as localhost). Clients that send no Origin (not browsers) are
 * not subject to it. */
bool origin_allowed(const char *allowed_origins, const struct http_request *req)
{
	const struct http_header *origin = http_header(req, "Origin");
	if (!origin)
		return true;
	const struct http_header *host = http_header(req, "Host");
	if (host && !host_is_literal(host->value))
		host = NULL; /* a name: only the allow-list speaks for it */
	const char *o = origin->value.at;
	size_t olen = origin->value.len;
	for (size_t skip = 0; host && skip < 2; skip++) {
		const char *scheme = skip ? "https://" : "http://";
		size_t slen = strlen(scheme);
		if (olen == slen + host->value.len && strncmp(o, scheme, slen) == 0 &&
		    strncmp(o + slen, host->value.at, host->value.len) == 0)
			return true;
	}
	for (const char *at = allowed_origins; at && *at;) {
		while (*at == ' ' || *at == ',')
			at++;
		const char *end = at;
		while (*end && *end != ',' && *end != ' ')
			end++;
		if ((size_t)(end - at) == olen && strncmp(at, o, olen) == 0)
			return true;
		if (end - at == 1 && *at == '*')
			return true;
		at = end;
	}
	return false;
}

/* A query value as the browser sent it, %XX-decoded into buf ('+' is a
 * space in forms but a literal '+' in tokens, so it stays). */
bool percent_decode(struct http_span *value, char *buf, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < value->len; i++) {
		char ch = value->at[i];
		if (ch == '%' && i + 2 < value->len && isxdigit((unsigned char)value->at[i + 1]) &&
		    isxdigit((unsigned char)value->at[i + 2])) {
			char hex[3] = { value->at[i + 1], value->at[i + 2], 0 };
			ch = (char)strtol(hex, NULL, 16);
			i += 2;
		}
		if (n + 1 >= cap)
			return false;
		buf[n++] = ch;
	}
	buf[n] = '\0';
	*value = (struct http_span){ buf, n };
	return true;
}

bool request_token(const struct http_request *req, struct http_span *token, char *decoded,
                   size_t decoded_cap)
{
	const struct http_header *h = http_header(req, "Authorization");
	if (h && h->value.len > 7 && strncasecmp(h->value.at, "Bearer ", 7) == 0) {
		*token = (struct http_span){ h->value.at + 7, h->value.len - 7 };
		return true;
	}
	const char *q = memchr(req->target.at, '?', req->target.len);
	const char *end = req->target.at + req->target.len;
	for (const char *at = q; at && at < end;) {
		at++;
		const char *amp = memchr(at, '&', (size_t)(end - at));
		const char *stop = amp ? amp : end;
		if ((size_t)(stop - at) > 13 && memcmp(at, "access_token=", 13) == 0) {
			*token = (struct http_span){ at + 13, (size_t)(stop - at - 13) };
			return percent_decode(token, decoded, decoded_cap);
		}
		at = amp;
	}
	return false;
}

