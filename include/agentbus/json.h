/*
 * agentbus plugin SDK: the JSON writer every message is written with.
 *
 * Header-only (static inline, so a plugin links nothing for it), and about
 * ten times cheaper per string than yajl_gen, which it replaces on every
 * path: a string is one scan for the bytes that need escaping, 8 bytes at
 * a time, and a memcpy of the runs between them.
 *
 *     ab_json *g = ab_json_new();
 *     ab_json_map_open(g);
 *     ab_json_str(g, "type");     // in an object, strings alternate:
 *     ab_json_str(g, "query");    // a key, then its value
 *     ab_json_str(g, "rows");
 *     ab_json_integer(g, 3);
 *     ab_json_map_close(g);
 *     size_t len;
 *     const char *text = ab_json_output(g, &len); // {"type":"query","rows":3}
 *     ...
 *     ab_json_free(g);
 *
 * Misuse (a value where a key belongs, a close that does not match, a
 * second top-level value, nesting deeper than AB_JSON_MAX_DEPTH) and
 * running out of memory are sticky: every later call does nothing and
 * ab_json_output gives NULL. So is a NULL writer (ab_json_new without
 * memory): one check of the output covers every call. So is a string
 * that is not UTF-8 (a stray byte, an overlong form, a surrogate): the
 * writer checks it as it quotes, and escapes what JSON requires (quote,
 * backslash, control characters).
 *
 * What a writer wrote is JSON by construction, and msg_build takes it as
 * such: it finds the routing fields without checking the text again. The
 * one thing the writer cannot check is ab_json_raw's bytes, which must be
 * one JSON value from checked text (see there); builds configured with
 * --enable-sanitizers check every message whole and abort on one that is
 * not JSON.
 *
 * struct ab_json is ABI (the gen_tree and gen_template services write into
 * one): it changes only with AB_ABI_MAJOR.
 */
#ifndef AGENTBUS_JSON_H
#define AGENTBUS_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Deeper than any message may be (max_json_depth is at most 1000), with
 * room for the levels a writer adds around a carried tree. */
#define AB_JSON_MAX_DEPTH 1100

/* A message's text starts in the writer itself: most need no more. */
#define AB_JSON_FIRST 512

typedef struct ab_json {
	char *buf; /* first, until the text outgrows it */
	size_t len, cap;
	unsigned depth; /* open containers */
	bool failed;
	unsigned char here; /* the innermost level's AB_JSON_L_* */
	unsigned char objects[AB_JSON_MAX_DEPTH / 8 + 1]; /* bit d: level d is an object */
	char first[AB_JSON_FIRST];
} ab_json;

enum {
	AB_JSON_L_OBJECT = 1, /* an object (else an array, or the top) */
	AB_JSON_L_ANY = 2,    /* something written at this level already */
	AB_JSON_L_VALUE = 4,  /* in an object: a key is written, its value is next */
};

static inline ab_json *ab_json_new(void)
{
	ab_json *g = (ab_json *)malloc(sizeof *g);
	if (g) {
		g->buf = g->first;
		g->len = 0;
		g->cap = sizeof g->first;
		g->depth = 0;
		g->failed = false;
		g->here = 0;
		g->objects[0] = 0; /* the top is no object; deeper bits are set as levels open */
		g->first[0] = '\0';
	}
	return g;
}

static inline void ab_json_free(ab_json *g)
{
	if (g) {
		if (g->buf != g->first)
			free(g->buf);
		free(g);
	}
}

/* The whole text once every container is closed, else (or after a
 * failure) NULL. NUL-terminated; owned by g. */
static inline const char *ab_json_output(const ab_json *g, size_t *len)
{
	if (!g || g->failed || g->depth != 0 || !(g->here & AB_JSON_L_ANY)) {
		*len = 0;
		return NULL;
	}
	*len = g->len;
	return g->buf;
}

/* Room for n more bytes and a NUL. */
static inline bool ab_json__room(ab_json *g, size_t n)
{
	if (g->len + n < g->cap)
		return true;
	size_t cap = g->cap;
	while (cap <= g->len + n)
		cap *= 2;
	char *grown = (char *)(g->buf == g->first ? malloc(cap) : realloc(g->buf, cap));
	if (!grown) {
		g->failed = true;
		return false;
	}
	if (g->buf == g->first)
		memcpy(grown, g->first, g->len + 1);
	g->buf = grown;
	g->cap = cap;
	return true;
}

static inline void ab_json__put(ab_json *g, const char *s, size_t n)
{
	memcpy(g->buf + g->len, s, n);
	g->len += n;
	g->buf[g->len] = '\0';
}

/* Before a value (anything but a key): the separator it needs. False when
 * no value may come here. */
static inline bool ab_json__value(ab_json *g)
{
	if (!g || g->failed)
		return false;
	unsigned char *l = &g->here;
	if (*l & AB_JSON_L_OBJECT) {
		if (!(*l & AB_JSON_L_VALUE)) { /* a key belongs here */
			g->failed = true;
			return false;
		}
		*l &= (unsigned char)~AB_JSON_L_VALUE;
		return true;
	}
	if (*l & AB_JSON_L_ANY) {
		if (g->depth == 0) { /* one top-level value only */
			g->failed = true;
			return false;
		}
		if (!ab_json__room(g, 1))
			return false;
		ab_json__put(g, ",", 1);
	}
	*l |= AB_JSON_L_ANY;
	return true;
}

/* The length of the UTF-8 sequence at p (RFC 3629), or 0 when it is not one
 * (the writer's check of what it quotes, and the parser's). */
static inline size_t ab_json_utf8_sequence(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t n;
	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0; /* overlong */
	else if (c == 0xED)
		hi = 0x9F; /* surrogates */
	else if (c == 0xF0)
		lo = 0x90; /* overlong */
	else if (c == 0xF4)
		hi = 0x8F; /* past U+10FFFF */
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
	}
	return n;
}

/* Whether s[0..n) is UTF-8 throughout, as the writer requires of a string
 * (for text from elsewhere: a database, a file, the OS). */
static inline bool ab_json_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;
	while (p < end) {
		size_t len = *p < 0x80 ? 1 : ab_json_utf8_sequence(p, end);
		if (!len)
			return false;
		p += len;
	}
	return true;
}

/* The length of text without a multi-byte UTF-8 sequence cut short at its
 * end (what a bounded snprintf of a longer name can leave). */
static inline size_t ab_json_utf8_whole_length(const char *text)
{
	size_t len = strlen(text);
	size_t back = 0;
	while (back < len && back < 4 && ((unsigned char)text[len - 1 - back] & 0xC0) == 0x80)
		back++;
	if (back == len)
		return len;
	unsigned char lead = (unsigned char)text[len - 1 - back];
	size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
	return need > back + 1 ? len - 1 - back : len;
}

/* Whether any of 8 bytes needs an escape: below 0x20, '"' or '\\' (the
 * zero-byte test of each, run on all 8 at once). */
static inline bool ab_json__escapes8(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ULL, highs = 0x8080808080808080ULL;
	uint64_t quote = w ^ (ones * '"'), backslash = w ^ (ones * '\\');
	uint64_t hit = ((w - ones * 0x20) & ~w) | ((quote - ones) & ~quote) | ((backslash - ones) & ~backslash);
	return (hit & highs) != 0;
}

/* s as a JSON string, quoted and escaped: plain runs are found 8 bytes at
 * a time and copied whole. */
static inline void ab_json__quoted(ab_json *g, const char *s, size_t n)
{
	static const char hex[] = "0123456789ABCDEF";
	/* the worst case: every byte a \u00XX */
	if (n > (SIZE_MAX - 3) / 6) {
		g->failed = true;
		return;
	}
	if (!ab_json__room(g, n + 2))
		return;
	char *out = g->buf + g->len;
	*out++ = '"';
	size_t run = 0; /* bytes of s copied up to here */
	size_t i = 0;
	/* the last index an 8-byte load may start at, plus one */
	size_t blocks_end = n >= 8 ? n - 7 : 0;
	while (i < n) {
		if (i < blocks_end) {
			uint64_t w;
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
/* GCC warns for a string literal shorter than 8 that a load it cannot
 * reach would overrun it (i < blocks_end is false for every such n) */
#pragma GCC diagnostic ignored "-Warray-bounds"
#endif
			memcpy(&w, s + i, sizeof w);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
			if (!ab_json__escapes8(w) && !(w & 0x8080808080808080ULL)) {
				i += 8;
				continue;
			}
		}
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) { /* UTF-8 goes as it is, once it is checked */
			size_t len = ab_json_utf8_sequence((const unsigned char *)s + i, (const unsigned char *)s + n);
			if (!len) {
				g->failed = true;
				return;
			}
			i += len;
			continue;
		}
		if (c >= 0x20 && c != '"' && c != '\\') {
			i++;
			continue;
		}
		/* an escape: make room for the rest written this way */
		size_t at = (size_t)(out - g->buf);
		g->len = at;
		if (!ab_json__room(g, (i - run) + 6 + (n - i) + 1))
			return;
		out = g->buf + at;
		memcpy(out, s + run, i - run);
		out += i - run;
		*out++ = '\\';
		switch (c) {
		case '"': *out++ = '"'; break;
		case '\\': *out++ = '\\'; break;
		case '\b': *out++ = 'b'; break;
		case '\f': *out++ = 'f'; break;
		case '\n': *out++ = 'n'; break;
		case '\r': *out++ = 'r'; break;
		case '\t': *out++ = 't'; break;
		default:
			*out++ = 'u';
			*out++ = '0';
			*out++ = '0';
			*out++ = hex[c >> 4];
			*out++ = hex[c & 15];
		}
		run = ++i;
	}
	memcpy(out, s + run, n - run);
	out += n - run;
	*out++ = '"';
	g->len = (size_t)(out - g->buf);
	g->buf[g->len] = '\0';
}

/* A string of n bytes: in an object, a key or the value of the key before
 * it, in turn; elsewhere a value. */
static inline void ab_json_string(ab_json *g, const char *s, size_t n)
{
	if (!g || g->failed)
		return;
	unsigned char *l = &g->here;
	if ((*l & (AB_JSON_L_OBJECT | AB_JSON_L_VALUE)) == AB_JSON_L_OBJECT) { /* a key */
		if ((*l & AB_JSON_L_ANY) && ab_json__room(g, 1))
			ab_json__put(g, ",", 1);
		*l |= AB_JSON_L_ANY | AB_JSON_L_VALUE;
		ab_json__quoted(g, s, n);
		if (ab_json__room(g, 1))
			ab_json__put(g, ":", 1);
		return;
	}
	if (ab_json__value(g))
		ab_json__quoted(g, s, n);
}

/* A NUL-terminated string, as ab_json_string. */
static inline void ab_json_str(ab_json *g, const char *s)
{
	ab_json_string(g, s, strlen(s));
}

static inline void ab_json__open(ab_json *g, char c, unsigned char kind)
{
	if (!ab_json__value(g))
		return;
	if (g->depth == AB_JSON_MAX_DEPTH) {
		g->failed = true;
		return;
	}
	if (!ab_json__room(g, 1))
		return;
	ab_json__put(g, &c, 1);
	g->depth++;
	if (kind)
		g->objects[g->depth / 8] |= (unsigned char)(1u << (g->depth % 8));
	else
		g->objects[g->depth / 8] &= (unsigned char)~(1u << (g->depth % 8));
	g->here = kind; /* nothing in it yet */
}

static inline void ab_json__close(ab_json *g, char c, unsigned char kind)
{
	if (!g || g->failed)
		return;
	unsigned char l = g->here;
	if (g->depth == 0 || (l & AB_JSON_L_OBJECT) != kind || (l & AB_JSON_L_VALUE)) {
		g->failed = true; /* not open, the other kind, or a key without its value */
		return;
	}
	if (!ab_json__room(g, 1))
		return;
	ab_json__put(g, &c, 1);
	g->depth--;
	/* back in the parent, which holds this container now (its key's value
	 * was taken when it opened) */
	bool object = (g->objects[g->depth / 8] >> (g->depth % 8)) & 1;
	g->here = (unsigned char)((object ? AB_JSON_L_OBJECT : 0) | AB_JSON_L_ANY);
}

static inline void ab_json_map_open(ab_json *g)
{
	ab_json__open(g, '{', AB_JSON_L_OBJECT);
}

static inline void ab_json_map_close(ab_json *g)
{
	ab_json__close(g, '}', AB_JSON_L_OBJECT);
}

static inline void ab_json_array_open(ab_json *g)
{
	ab_json__open(g, '[', 0);
}

static inline void ab_json_array_close(ab_json *g)
{
	ab_json__close(g, ']', 0);
}

/* Bytes that are one JSON value already, written as they are: a number's
 * text, or a value carried on from JSON that was checked (a message's
 * bytes, a span json_spans or json_raw found, text tree_parse took).
 * Nothing checks them again (see the top of this file). Never a key. */
static inline void ab_json_raw(ab_json *g, const char *json, size_t n)
{
	if (ab_json__value(g) && ab_json__room(g, n))
		ab_json__put(g, json, n);
}

/* v in decimal at out (no NUL), which has room for 20; returns the length.
 * Cheaper than snprintf by a factor of ten, and the one way the project
 * writes a number. */
static inline size_t ab_json_udigits(char *out, unsigned long long v)
{
	char digits[20], *p = digits + sizeof digits;
	do
		*--p = (char)('0' + v % 10);
	while (v /= 10);
	size_t n = (size_t)(digits + sizeof digits - p);
	memcpy(out, p, n);
	return n;
}

static inline size_t ab_json_digits(char *out, long long v)
{
	if (v >= 0)
		return ab_json_udigits(out, (unsigned long long)v);
	out[0] = '-';
	return 1 + ab_json_udigits(out + 1, 0ULL - (unsigned long long)v);
}

static inline void ab_json_integer(ab_json *g, long long v)
{
	char digits[20];
	ab_json_raw(g, digits, ab_json_digits(digits, v));
}

/* v with 15 significant digits when they read back exactly, else 17,
 * and ".0" after a whole number so that it stays a double for its reader
 * (as yajl_gen wrote one); null for an infinity or a NaN, which JSON
 * cannot write. */
static inline void ab_json_double(ab_json *g, double v)
{
	if (!isfinite(v)) {
		ab_json_raw(g, "null", 4);
		return;
	}
	char text[40];
	int n = snprintf(text, sizeof text, "%.15g", v);
	if (strtod(text, NULL) != v)
		n = snprintf(text, sizeof text, "%.17g", v);
	if (strspn(text, "-0123456789") == (size_t)n) {
		memcpy(text + n, ".0", 3);
		n += 2;
	}
	ab_json_raw(g, text, (size_t)n);
}

/* "key": "value", both strings, the pair most messages are made of. */
static inline void ab_json_pair(ab_json *g, const char *key, const char *value)
{
	ab_json_str(g, key);
	ab_json_str(g, value);
}

static inline void ab_json_bool(ab_json *g, bool v)
{
	ab_json_raw(g, v ? "true" : "false", v ? 4 : 5);
}

static inline void ab_json_null(ab_json *g)
{
	ab_json_raw(g, "null", 4);
}

#ifdef __cplusplus
}
#endif

#endif /* AGENTBUS_JSON_H */
