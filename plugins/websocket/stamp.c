#include "build-config.h"

#include <stdint.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>
#include <yajl/yajl_parse.h>

#include "stamp.h"

/* Rebuilding copies the members as written, less the top-level seq and
 * timestamp ones. yajl's callbacks see the keys decoded (an escaped
 * "s\u0065q" is seq too) and, through the bytes consumed, where each
 * top-level member ends. A tree and a generator would lose strings with
 * NUL and refuse deep nesting. */
struct strip {
	yajl_handle h;
	const char *json;
	unsigned depth; /* 1 inside the message's object */
	bool drop;      /* the current top-level member is seq or timestamp */
	size_t from;    /* where its text begins: after the previous one */
	char *out;      /* the kept members, comma-separated */
	size_t len;
};

/* A top-level value ended: keep its member, less the comma and blanks before it. */
static int member_end(struct strip *s)
{
	size_t end = yajl_get_bytes_consumed(s->h);
	const char *p = s->json + s->from, *stop = s->json + end;
	s->from = end;
	if (s->drop)
		return 1;
	/* Only blanks (yajl's include \v and \f) and the comma come before a
	 * member's key: skip to its opening quote. */
	while (p < stop && *p != '"')
		p++;
	if (s->len)
		s->out[s->len++] = ',';
	memcpy(s->out + s->len, p, (size_t)(stop - p));
	s->len += (size_t)(stop - p);
	return 1;
}

static int strip_scalar(void *ctx)
{
	struct strip *s = ctx;
	return s->depth == 1 ? member_end(s) : 1;
}

static int strip_boolean(void *ctx, int value)
{
	return strip_scalar(ctx);
}

static int strip_number(void *ctx, const char *text, size_t len)
{
	return strip_scalar(ctx);
}

static int strip_string(void *ctx, const unsigned char *text, size_t len)
{
	return strip_scalar(ctx);
}

static int strip_map_key(void *ctx, const unsigned char *key, size_t len)
{
	struct strip *s = ctx;
	if (s->depth == 1)
		s->drop = (len == 3 && memcmp(key, "seq", 3) == 0) ||
		          (len == 9 && memcmp(key, "timestamp", 9) == 0);
	return 1;
}

static int strip_start_map(void *ctx)
{
	struct strip *s = ctx;
	if (s->depth++ == 0)
		s->from = yajl_get_bytes_consumed(s->h);
	return 1;
}

static int strip_start_array(void *ctx)
{
	struct strip *s = ctx;
	if (s->depth == 0)
		return 0; /* not an object */
	s->depth++;
	return 1;
}

static int strip_end(void *ctx)
{
	struct strip *s = ctx;
	return --s->depth == 1 ? member_end(s) : 1;
}

static const yajl_callbacks strip_callbacks = {
	.yajl_null = strip_scalar,
	.yajl_boolean = strip_boolean,
	.yajl_number = strip_number,
	.yajl_string = strip_string,
	.yajl_start_map = strip_start_map,
	.yajl_map_key = strip_map_key,
	.yajl_end_map = strip_end,
	.yajl_start_array = strip_start_array,
	.yajl_end_array = strip_end,
};

/* The members of the object, without top-level seq and timestamp, as the
 * text between the braces. */
static char *members_without_stamps(const char *json, size_t *len)
{
	struct strip s = { .json = json, .out = malloc(*len + 1) };
	if (!s.out || !(s.h = yajl_alloc(&strip_callbacks, NULL, &s))) {
		free(s.out);
		return NULL;
	}
	yajl_status status = yajl_parse(s.h, (const unsigned char *)json, *len);
	if (status == yajl_status_ok)
		status = yajl_complete_parse(s.h);
	yajl_free(s.h);
	if (status != yajl_status_ok) {
		free(s.out);
		return NULL;
	}
	*len = s.len;
	return s.out;
}

/* Whether the message may have a top-level seq or timestamp member: their
 * names appear, or a lower-case letter written as an escape (\u0073 for s).
 * From quote to quote and backslash to backslash with memchr: memmem's
 * setup cost more than the search for needles this short. */
static bool may_have_stamps(const char *json, size_t len)
{
	const char *end = json + len;
	for (const char *p = json; (p = memchr(p, '"', (size_t)(end - p))); p++) {
		size_t left = (size_t)(end - p);
		if ((left >= 5 && p[1] == 's' && memcmp(p, "\"seq\"", 5) == 0) ||
		    (left >= 11 && p[1] == 't' && memcmp(p, "\"timestamp\"", 11) == 0))
			return true;
	}
	for (const char *p = json; (p = memchr(p, '\\', (size_t)(end - p))); p++) {
		if (end - p > 4 && p[1] == 'u' && p[2] == '0' && p[3] == '0' && (p[4] == '6' || p[4] == '7'))
			return true;
	}
	return false;
}

int stamp_message(const char *json, size_t len, uint64_t seq, const char *timestamp,
                  struct stamped *out)
{
	/* {"seq":N,"timestamp":"T", written by hand: snprintf would cost more
	 * than the rest of the stamping. */
	char head[96], *h = head;
	if (seq) {
		h = stpcpy(h, "{\"seq\":");
		h += ab_json_udigits(h, seq);
		h = stpcpy(h, ",\"timestamp\":\"");
	} else {
		h = stpcpy(h, "{\"timestamp\":\"");
	}
	h = stpcpy(h, timestamp);
	*h++ = '"';
	size_t head_len = (size_t)(h - head);
	const char *body;
	size_t body_len;
	char *rebuilt = NULL;
	if (may_have_stamps(json, len)) {
		/* Perhaps only inside a string or a nested object: the parse says. */
		body_len = len;
		rebuilt = members_without_stamps(json, &body_len);
		if (!rebuilt)
			return -1;
		body = rebuilt;
	} else {
		const char *open = memchr(json, '{', len);
		const char *close = json + len;
		while (close > open && close[-1] != '}')
			close--;
		body = open + 1;
		body_len = (size_t)(close - 1 - body);
	}
	/* Skip blanks so we know whether a comma is needed. */
	while (body_len && strchr(" \t\n\r\v\f", *body) && *body) { /* yajl's blanks */
		body++;
		body_len--;
	}
	out->len = head_len + (body_len ? 1 + body_len : 0) + 1;
	out->data = malloc(out->len + 1);
	if (!out->data) {
		free(rebuilt);
		return -1;
	}
	char *at = out->data;
	memcpy(at, head, head_len);
	at += head_len;
	if (body_len) {
		*at++ = ',';
		memcpy(at, body, body_len);
		at += body_len;
	}
	*at++ = '}';
	*at = '\0';
	free(rebuilt);
	return 0;
}

void stamp_free(struct stamped *s)
{
	free(s->data);
	s->data = NULL;
}
