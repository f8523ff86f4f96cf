#include <string.h>
#include <strings.h>

#include "http_parse.h"

/* RFC 9110 tchar: the characters of tokens (methods, header names). */
static bool is_tchar(unsigned char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Field-value characters: visible ASCII, blanks, and obs-text. */
static bool is_value_char(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7F);
}

static size_t find_crlf(const char *buf, size_t from, size_t len)
{
	for (size_t i = from; i + 1 < len; i++) {
		if (buf[i] == '\r' && buf[i + 1] == '\n')
			return i;
	}
	return len;
}

static int parse_request_line(const char *line, size_t len, struct http_request *out)
{
	size_t i = 0;
	while (i < len && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i == len || line[i] != ' ')
		return 400;
	out->method = (struct http_span){ line, i };
	size_t start = ++i;
	while (i < len && line[i] > 0x20 && line[i] != 0x7F)
		i++;
	if (i == start || i == len || line[i] != ' ')
		return 400;
	out->target = (struct http_span){ line + start, i - start };
	i++;
	if (len - i != 8 || memcmp(line + i, "HTTP/", 5) != 0 || line[i + 6] != '.' ||
	    line[i + 5] < '0' || line[i + 5] > '9' || line[i + 7] < '0' || line[i + 7] > '9')
		return 400;
	if (line[i + 5] != '1')
		return 505;
	out->minor = line[i + 7] - '0';
	return 0;
}

static int parse_header(const char *line, size_t len, struct http_header *h)
{
	size_t i = 0;
	while (i < len && is_tchar((unsigned char)line[i]))
		i++;
	if (i == 0 || i == len || line[i] != ':')
		return 400; /* also a folded line, which starts with a blank */
	h->name = (struct http_span){ line, i };
	i++;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	size_t end = len;
	while (end > i && (line[end - 1] == ' ' || line[end - 1] == '\t'))
		end--;
	for (size_t j = i; j < end; j++) {
		if (!is_value_char((unsigned char)line[j]))
			return 400;
	}
	h->value = (struct http_span){ line + i, end - i };
	return 0;
}

/* A response's status line: HTTP/1.x, a three-digit code, a reason. */
static int parse_status_line(const char *line, size_t len, struct http_request *out, int *status)
{
	if (len < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' || line[7] > '9' || line[8] != ' ')
		return 400;
	for (size_t i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9')
			return 400;
	}
	if (len > 12 && line[12] != ' ')
		return 400;
	out->minor = line[7] - '0';
	*status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
	return 0;
}

/* A head of either kind: a request line, or with status a status line. */
static int parse_head(const char *buf, size_t len, size_t max_head, struct http_request *out, int *status)
{
	memset(out, 0, sizeof *out);
	/* A bare LF anywhere in the head is refused rather than guessed at. */
	size_t scan = len < max_head ? len : max_head;
	size_t end = 0;
	for (size_t i = 0; i < scan; i++) {
		if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r'))
			return 400;
		if (buf[i] == '\n' && i >= 3 && buf[i - 3] == '\r' && buf[i - 2] == '\n') {
			end = i + 1;
			break;
		}
	}
	if (!end)
		return len >= max_head ? 431 : 0;

	size_t eol = find_crlf(buf, 0, end);
	int rc = status ? parse_status_line(buf, eol, out, status) : parse_request_line(buf, eol, out);
	if (rc)
		return rc;
	for (size_t at = eol + 2; at < end - 2; at = eol + 2) {
		eol = find_crlf(buf, at, end);
		if (out->n_headers == HTTP_MAX_HEADERS)
			return 431;
		rc = parse_header(buf + at, eol - at, &out->headers[out->n_headers++]);
		if (rc)
			return rc;
	}
	out->head_len = end;
	return 1;
}

int http_parse_request(const char *buf, size_t len, size_t max_head, struct http_request *out)
{
	return parse_head(buf, len, max_head, out, NULL);
}

int http_parse_response(const char *buf, size_t len, size_t max_head, struct http_request *out, int *status)
{
	return parse_head(buf, len, max_head, out, status);
}

struct http_span http_request_path(const struct http_request *req)
{
	const char *q = memchr(req->target.at, '?', req->target.len);
	return (struct http_span){ req->target.at, q ? (size_t)(q - req->target.at) : req->target.len };
}

bool http_span_equals(struct http_span s, const char *text)
{
	return strlen(text) == s.len && strncasecmp(s.at, text, s.len) == 0;
}

const struct http_header *http_header(const struct http_request *req, const char *name)
{
	for (size_t i = 0; i < req->n_headers; i++) {
		if (http_span_equals(req->headers[i].name, name))
			return &req->headers[i];
	}
	return NULL;
}

bool http_header_has_token(const struct http_request *req, const char *name, const char *token)
{
	size_t token_len = strlen(token);
	for (size_t i = 0; i < req->n_headers; i++) {
		if (!http_span_equals(req->headers[i].name, name))
			continue;
		const char *at = req->headers[i].value.at, *end = at + req->headers[i].value.len;
		while (at < end) {
			while (at < end && (*at == ' ' || *at == '\t' || *at == ','))
				at++;
			const char *start = at;
			while (at < end && *at != ',')
				at++;
			const char *stop = at;
			while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
				stop--;
			if ((size_t)(stop - start) == token_len && strncasecmp(start, token, token_len) == 0)
				return true;
		}
	}
	return false;
}
