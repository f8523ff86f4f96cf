#include "build-config.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>

#include "core/jsonparse.h"

/* ---- the arena a tree lives in ------------------------------------------ */

struct chunk {
	struct chunk *next;
};

/* The root node sits at a fixed place in the first allocation, so that
 * jsonparse_free finds the whole arena from the root alone. */
struct doc {
	struct chunk *chunks; /* further chunks, once the first space is used */
	char *at, *limit;     /* what is left of the current space */
	size_t next_size;
	struct yajl_val_s root;
	/* the first space follows */
};

#define ALIGN_UP(n) (((n) + 7) & ~(size_t)7)

static void *arena_alloc(struct doc *d, size_t size)
{
	if (size == 0)
		return NULL;
	size = ALIGN_UP(size);
	if ((size_t)(d->limit - d->at) < size) {
		size_t space = d->next_size > size ? d->next_size : size;
		struct chunk *c = malloc(ALIGN_UP(sizeof *c) + space);
		if (!c)
			return NULL;
		c->next = d->chunks;
		d->chunks = c;
		d->at = (char *)c + ALIGN_UP(sizeof *c);
		d->limit = d->at + space;
		d->next_size = space * 2;
	}
	void *p = d->at;
	d->at += size;
	return p;
}

static struct doc *doc_of(yajl_val root)
{
	return (struct doc *)((char *)root - offsetof(struct doc, root));
}

void jsonparse_free(yajl_val root)
{
	if (!root)
		return;
	struct doc *d = doc_of(root);
	for (struct chunk *c = d->chunks, *next; c; c = next) {
		next = c->next;
		free(c);
	}
	free(d);
}

/* ---- the parser ---------------------------------------------------------- */

struct frame {
	bool object;
	size_t first;    /* tree: the slot of the first child */
	const char *key; /* tree: the key this container sits under */
};

struct slot {
	const char *key;
	yajl_val value;
};

/* A growable buffer that starts on the stack. */
struct buf {
	char *data;
	size_t cap;
	char local[128];
};

#define LOCAL_FRAMES 16
#define LOCAL_SLOTS 32

struct parser {
	const unsigned char *begin, *p, *end;
	unsigned max_depth;
	struct jsonparse_error *err;
	/* open containers */
	struct frame *frames;
	size_t depth, frame_cap;
	struct frame local_frames[LOCAL_FRAMES];
	/* tree mode: the arena, and the values of the open containers */
	struct doc *doc;
	struct slot *slots;
	size_t nslots, slot_cap;
	struct slot local_slots[LOCAL_SLOTS];
	const char *key; /* the key of the member being parsed */
	/* scan mode: the top-level member being parsed */
	jsonparse_member_cb member;
	void *ctx;
	struct jsonparse_member current;
	struct buf key_buf, string_buf;
};

static bool fail(struct parser *ps, enum jsonparse_status status, const char *what)
{
	if (ps->err) {
		ps->err->status = status;
		if (status == JSONPARSE_SYNTAX)
			snprintf(ps->err->text, sizeof ps->err->text, "%s at byte %zu", what,
			         (size_t)(ps->p - ps->begin));
		else
			snprintf(ps->err->text, sizeof ps->err->text, "%s", what);
	}
	return false;
}

static bool syntax(struct parser *ps, const char *what)
{
	return fail(ps, JSONPARSE_SYNTAX, what);
}

static bool no_memory(struct parser *ps)
{
	return fail(ps, JSONPARSE_NO_MEMORY, "out of memory");
}

/* Room for n more elements in an array that starts in local storage. */
static bool reserve(void **array, size_t *cap, size_t used, size_t n, size_t size, void *local)
{
	if (used + n <= *cap)
		return true;
	size_t want = *cap * 2 > used + n ? *cap * 2 : used + n;
	void *grown = *array == local ? malloc(want * size) : realloc(*array, want * size);
	if (!grown)
		return false;
	if (*array == local)
		memcpy(grown, local, used * size);
	*array = grown;
	*cap = want;
	return true;
}

static char *buf_room(struct buf *b, size_t n)
{
	if (!b->data) {
		b->data = b->local;
		b->cap = sizeof b->local;
	}
	if (!reserve((void **)&b->data, &b->cap, 0, n, 1, b->local))
		return NULL;
	return b->data;
}

static void buf_free(struct buf *b)
{
	if (b->data && b->data != b->local)
		free(b->data);
}

static void skip_blanks(struct parser *ps)
{
	const unsigned char *p = ps->p;
	while (p < ps->end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	ps->p = p;
}

/* ---- strings ------------------------------------------------------------- */

static int hex_value(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static long hex4(const unsigned char *p)
{
	long v = 0;
	for (int i = 0; i < 4; i++) {
		int d = hex_value(p[i]);
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	return v;
}

/* Bytes a string takes as they are: printable ASCII but for '"' (0x22)
 * and '\\' (0x5C). A table, because this loop is most of a parse. */
#define ROW(v) v, v, v, v, v, v, v, v, v, v, v, v, v, v, v, v
static const bool plain_byte[256] = {
	ROW(0), ROW(0),
	1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x20 */
	ROW(1), ROW(1),
	1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, /* 0x50 */
	ROW(1), ROW(1),
	/* 0x80 and up: UTF-8, checked sequence by sequence */
};
#undef ROW

/* Checks the string whose opening quote is at ps->p and moves past its
 * closing quote; *content, *content_end bound what is between the quotes. */
static bool lex_string(struct parser *ps, const unsigned char **content, const unsigned char **content_end,
                       bool *escaped)
{
	const unsigned char *p = ps->p + 1, *end = ps->end;
	*content = p;
	*escaped = false;
	for (;;) {
		while (p < end && plain_byte[*p])
			p++;
		if (p >= end) {
			ps->p = p;
			return syntax(ps, "unterminated string");
		}
		if (*p == '"')
			break;
		if (*p == '\\') {
			*escaped = true;
			if (p + 1 >= end) {
				ps->p = p;
				return syntax(ps, "unterminated string");
			}
			unsigned char e = p[1];
			if (e == 'u') {
				if (end - p < 6 || hex4(p + 2) < 0) {
					ps->p = p;
					return syntax(ps, "bad \\u escape");
				}
				p += 6;
			} else if (e && strchr("\"\\/bfnrt", e)) { /* e != 0: strchr would match the NUL */
				p += 2;
			} else {
				ps->p = p;
				return syntax(ps, "bad escape");
			}
			continue;
		}
		if (*p < 0x20) {
			ps->p = p;
			return syntax(ps, "control character in a string");
		}
		size_t n = ab_json_utf8_sequence(p, end);
		if (!n) {
			ps->p = p;
			return syntax(ps, "invalid UTF-8");
		}
		p += n;
	}
	*content_end = p;
	ps->p = p + 1;
	return true;
}

static char *put_utf8(char *out, unsigned long cp)
{
	if (cp < 0x80) {
		*out++ = (char)cp;
	} else if (cp < 0x800) {
		*out++ = (char)(0xC0 | cp >> 6);
		*out++ = (char)(0x80 | (cp & 0x3F));
	} else if (cp < 0x10000) {
		*out++ = (char)(0xE0 | cp >> 12);
		*out++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*out++ = (char)(0x80 | (cp & 0x3F));
	} else {
		*out++ = (char)(0xF0 | cp >> 18);
		*out++ = (char)(0x80 | (cp >> 12 & 0x3F));
		*out++ = (char)(0x80 | (cp >> 6 & 0x3F));
		*out++ = (char)(0x80 | (cp & 0x3F));
	}
	return out;
}

/* Decodes a lexed string's content into out, which has room for
 * end - s + 1 bytes (decoding never lengthens); returns the length. */
static size_t decode(const unsigned char *s, const unsigned char *end, bool escaped, char *out)
{
	if (!escaped) {
		memcpy(out, s, (size_t)(end - s));
		out[end - s] = '\0';
		return (size_t)(end - s);
	}
	char *o = out;
	while (s < end) {
		if (*s != '\\') {
			*o++ = (char)*s++;
			continue;
		}
		unsigned char e = s[1];
		s += 2;
		switch (e) {
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u': {
			unsigned long cp = (unsigned long)hex4(s);
			s += 4;
			if (cp >= 0xD800 && cp <= 0xDBFF && end - s >= 6 && s[0] == '\\' && s[1] == 'u') {
				long low = hex4(s + 2);
				if (low >= 0xDC00 && low <= 0xDFFF) {
					cp = 0x10000 + ((cp - 0xD800) << 10) + (unsigned long)(low - 0xDC00);
					s += 6;
				}
			}
			if (cp >= 0xD800 && cp <= 0xDFFF)
				cp = 0xFFFD; /* a lone surrogate is no character */
			o = put_utf8(o, cp);
			break;
		}
		default: *o++ = (char)e; break; /* " \ / */
		}
	}
	*o = '\0';
	return (size_t)(o - out);
}

size_t jsonparse_string(const char *quoted, size_t len, char *out)
{
	const unsigned char *s = (const unsigned char *)quoted;
	return decode(s + 1, s + len - 1, memchr(quoted, '\\', len) != NULL, out);
}

/* ---- tree nodes ---------------------------------------------------------- */

static yajl_val new_node(struct parser *ps, yajl_type type)
{
	yajl_val v = arena_alloc(ps->doc, sizeof *v);
	if (v)
		v->type = type;
	return v;
}

static char *arena_text(struct parser *ps, const unsigned char *s, const unsigned char *end, bool escaped)
{
	char *text = arena_alloc(ps->doc, (size_t)(end - s) + 1);
	if (text)
		decode(s, end, escaped, text);
	return text;
}

/* The value v completes a member or element of the open container. */
static bool add_value(struct parser *ps, const char *key, yajl_val v)
{
	if (!v)
		return no_memory(ps);
	if (ps->depth == 0) {
		ps->doc->root = *v;
		return true;
	}
	if (!reserve((void **)&ps->slots, &ps->slot_cap, ps->nslots, 1, sizeof *ps->slots, ps->local_slots))
		return no_memory(ps);
	ps->slots[ps->nslots++] = (struct slot){ key, v };
	return true;
}

/* yajl's rule: an integer that fits, digits only. */
static bool integer_value(const unsigned char *s, const unsigned char *end, long long *out)
{
	bool negative = *s == '-';
	unsigned long long v = 0;
	for (s += negative; s < end; s++) {
		if (*s < '0' || *s > '9')
			return false;
		unsigned digit = (unsigned)(*s - '0');
		if (v > ((unsigned long long)LLONG_MAX - digit) / 10)
			return false;
		v = v * 10 + digit;
	}
	*out = negative ? -(long long)v : (long long)v;
	return true;
}

static yajl_val number_node(struct parser *ps, const unsigned char *s, const unsigned char *end)
{
	yajl_val v = new_node(ps, yajl_t_number);
	char *text = arena_alloc(ps->doc, (size_t)(end - s) + 1);
	if (!v || !text)
		return NULL;
	memcpy(text, s, (size_t)(end - s));
	text[end - s] = '\0';
	v->u.number.r = text;
	v->u.number.flags = 0;
	v->u.number.i = 0;
	if (integer_value(s, end, &v->u.number.i))
		v->u.number.flags |= YAJL_NUMBER_INT_VALID;
	char *stop;
	errno = 0;
	v->u.number.d = strtod(text, &stop);
	if (errno == 0 && *stop == '\0')
		v->u.number.flags |= YAJL_NUMBER_DOUBLE_VALID;
	return v;
}

static bool close_container(struct parser *ps)
{
	struct frame f = ps->frames[--ps->depth];
	if (!ps->doc)
		return true;
	size_t n = ps->nslots - f.first;
	yajl_val v = new_node(ps, f.object ? yajl_t_object : yajl_t_array);
	yajl_val *values = arena_alloc(ps->doc, n * sizeof *values);
	const char **keys = f.object ? arena_alloc(ps->doc, n * sizeof *keys) : NULL;
	if (!v || (n && (!values || (f.object && !keys))))
		return no_memory(ps);
	for (size_t i = 0; i < n; i++) {
		values[i] = ps->slots[f.first + i].value;
		if (keys)
			keys[i] = ps->slots[f.first + i].key;
	}
	if (f.object) {
		v->u.object.keys = keys;
		v->u.object.values = values;
		v->u.object.len = n;
	} else {
		v->u.array.values = values;
		v->u.array.len = n;
	}
	ps->nslots = f.first;
	return add_value(ps, f.key, v);
}

static bool open_container(struct parser *ps, bool object)
{
	if (ps->depth >= ps->max_depth) {
		char text[48];
		snprintf(text, sizeof text, "nesting deeper than %u levels", ps->max_depth);
		return fail(ps, JSONPARSE_TOO_DEEP, text);
	}
	if (!reserve((void **)&ps->frames, &ps->frame_cap, ps->depth, 1, sizeof *ps->frames, ps->local_frames))
		return no_memory(ps);
	ps->frames[ps->depth++] = (struct frame){ object, ps->nslots, ps->key };
	ps->p++;
	return true;
}

/* ---- values -------------------------------------------------------------- */

static bool literal(struct parser *ps, const char *word, size_t len)
{
	if ((size_t)(ps->end - ps->p) < len || memcmp(ps->p, word, len) != 0)
		return syntax(ps, "unexpected character");
	ps->p += len;
	return true;
}

static bool lex_number(struct parser *ps)
{
	const unsigned char *p = ps->p, *end = ps->end;
	if (*p == '-')
		p++;
	if (p < end && *p == '0') {
		p++;
	} else if (p < end && *p >= '1' && *p <= '9') {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return syntax(ps, "bad number");
	}
	if (p < end && *p == '.') {
		p++;
		if (p >= end || *p < '0' || *p > '9')
			return syntax(ps, "bad number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p >= end || *p < '0' || *p > '9')
			return syntax(ps, "bad number");
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	}
	ps->p = p;
	return true;
}

/* A scalar at ps->p: checked, and in tree mode added to its container. */
static bool scalar(struct parser *ps, yajl_type *type)
{
	const unsigned char *start = ps->p, *content, *content_end;
	bool escaped, top = ps->depth == 1 && ps->member;
	yajl_val v = NULL;
	switch (*start) {
	case '"':
		*type = yajl_t_string;
		if (!lex_string(ps, &content, &content_end, &escaped))
			return false;
		if (top) {
			char *out = buf_room(&ps->string_buf, (size_t)(content_end - content) + 1);
			if (!out)
				return no_memory(ps);
			ps->current.string = out;
			ps->current.string_len = decode(content, content_end, escaped, out);
		}
		if (ps->doc && (v = new_node(ps, yajl_t_string)) &&
		    !(v->u.string = arena_text(ps, content, content_end, escaped)))
			v = NULL;
		break;
	case 't':
		*type = yajl_t_true;
		if (!literal(ps, "true", 4))
			return false;
		v = ps->doc ? new_node(ps, yajl_t_true) : NULL;
		break;
	case 'f':
		*type = yajl_t_false;
		if (!literal(ps, "false", 5))
			return false;
		v = ps->doc ? new_node(ps, yajl_t_false) : NULL;
		break;
	case 'n':
		*type = yajl_t_null;
		if (!literal(ps, "null", 4))
			return false;
		v = ps->doc ? new_node(ps, yajl_t_null) : NULL;
		break;
	default:
		*type = yajl_t_number;
		if (*start != '-' && (*start < '0' || *start > '9'))
			return syntax(ps, "unexpected character");
		if (!lex_number(ps))
			return false;
		v = ps->doc ? number_node(ps, start, ps->p) : NULL;
		break;
	}
	return ps->doc ? add_value(ps, ps->key, v) : true;
}

/* The key at ps->p, and the colon after it. */
static bool object_key(struct parser *ps)
{
	const unsigned char *content, *content_end;
	bool escaped;
	if (ps->p >= ps->end)
		return syntax(ps, "unexpected end");
	if (*ps->p != '"')
		return syntax(ps, "expected a string key");
	if (!lex_string(ps, &content, &content_end, &escaped))
		return false;
	if (ps->doc && !(ps->key = arena_text(ps, content, content_end, escaped)))
		return no_memory(ps);
	if (ps->depth == 1 && ps->member) {
		char *out = buf_room(&ps->key_buf, (size_t)(content_end - content) + 1);
		if (!out)
			return no_memory(ps);
		ps->current.key = out;
		ps->current.key_len = decode(content, content_end, escaped, out);
	}
	skip_blanks(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return syntax(ps, "expected ':'");
	ps->p++;
	return true;
}

static bool parse(struct parser *ps, yajl_type *root_type)
{
	yajl_type type;
	bool object;
value:
	skip_blanks(ps);
	if (ps->p >= ps->end)
		return syntax(ps, ps->depth ? "unexpected end" : "no value");
	{
		bool top = ps->depth == 1 && ps->member;
		if (top)
			ps->current.start = (size_t)(ps->p - ps->begin);
		if (*ps->p == '{' || *ps->p == '[') {
			object = *ps->p == '{';
			type = object ? yajl_t_object : yajl_t_array;
			if (top)
				ps->current.type = type;
			if (ps->depth == 0)
				*root_type = type;
			if (!open_container(ps, object))
				return false;
			skip_blanks(ps);
			if (ps->p < ps->end && *ps->p == (object ? '}' : ']')) {
				ps->p++;
				if (!close_container(ps))
					return false;
				goto done;
			}
			if (object)
				goto key;
			goto value;
		}
		if (!scalar(ps, &type))
			return false;
		if (top)
			ps->current.type = type;
		if (ps->depth == 0)
			*root_type = type;
	}
done:
	/* A value is complete at ps->depth. */
	if (ps->depth == 1 && ps->member && ps->frames[0].object) {
		ps->current.end = (size_t)(ps->p - ps->begin);
		if (ps->current.type != yajl_t_string)
			ps->current.string = NULL, ps->current.string_len = 0;
		if (!ps->member(ps->ctx, &ps->current))
			return fail(ps, JSONPARSE_STOPPED, "stopped");
	}
	if (ps->depth == 0) {
		skip_blanks(ps);
		return ps->p == ps->end || syntax(ps, "bytes after the message");
	}
	skip_blanks(ps);
	if (ps->p >= ps->end)
		return syntax(ps, "unexpected end");
	object = ps->frames[ps->depth - 1].object;
	if (*ps->p == ',') {
		ps->p++;
		if (!object)
			goto value;
		skip_blanks(ps);
		goto key;
	}
	if (*ps->p == (object ? '}' : ']')) {
		ps->p++;
		if (!close_container(ps))
			return false;
		goto done;
	}
	return syntax(ps, object ? "expected ',' or '}'" : "expected ',' or ']'");
key:
	if (!object_key(ps))
		return false;
	goto value;
}

static void parser_init(struct parser *ps, const char *json, size_t len, unsigned max_depth,
                        struct jsonparse_error *err)
{
	/* Field by field: zeroing the local arrays would cost more than a
	 * small message's parse. */
	ps->begin = ps->p = (const unsigned char *)json;
	ps->end = ps->begin + len;
	ps->max_depth = max_depth;
	ps->err = err;
	ps->frames = ps->local_frames;
	ps->depth = 0;
	ps->frame_cap = LOCAL_FRAMES;
	ps->doc = NULL;
	ps->slots = ps->local_slots;
	ps->nslots = 0;
	ps->slot_cap = LOCAL_SLOTS;
	ps->key = NULL;
	ps->member = NULL;
	ps->ctx = NULL;
	ps->current = (struct jsonparse_member){ 0 };
	ps->key_buf.data = ps->string_buf.data = NULL;
	*err = (struct jsonparse_error){ JSONPARSE_OK, "" };
}

static void parser_done(struct parser *ps)
{
	if (ps->frames != ps->local_frames)
		free(ps->frames);
	if (ps->slots != ps->local_slots)
		free(ps->slots);
	buf_free(&ps->key_buf);
	buf_free(&ps->string_buf);
}

enum jsonparse_status jsonparse_scan(const char *json, size_t len, unsigned max_depth,
                                     jsonparse_member_cb member, void *ctx, yajl_type *root_type,
                                     struct jsonparse_error *err)
{
	struct jsonparse_error local;
	struct parser ps;
	parser_init(&ps, json, len, max_depth, err ? err : &local);
	ps.member = member;
	ps.ctx = ctx;
	yajl_type root = yajl_t_any;
	bool ok = parse(&ps, &root);
	parser_done(&ps);
	if (root_type)
		*root_type = root;
	return ok ? JSONPARSE_OK : ps.err->status;
}

yajl_val jsonparse_tree(const char *json, size_t len, unsigned max_depth, struct jsonparse_error *err)
{
	struct jsonparse_error local;
	struct parser ps;
	parser_init(&ps, json, len, max_depth, err ? err : &local);
	/* A first space about the size of the input serves most messages. */
	size_t first = ALIGN_UP(len + len / 2 + 128);
	struct doc *d = malloc(sizeof *d + first);
	if (!d) {
		no_memory(&ps);
		return NULL;
	}
	d->chunks = NULL;
	d->at = (char *)(d + 1);
	d->limit = d->at + first;
	d->next_size = first * 2;
	ps.doc = d;
	yajl_type root;
	bool ok = parse(&ps, &root);
	parser_done(&ps);
	if (!ok) {
		jsonparse_free(&d->root);
		return NULL;
	}
	return &d->root;
}
