#include "build-config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "core/msg.h"

struct ab_msg {
	unsigned refs;
	bool submitted;
	size_t len;
	char *json;           /* in the same allocation, NUL-terminated */
	char *type;           /* likewise */
	char *correlation_id; /* likewise, or NULL */
	char *source;         /* separate allocation, set at submit */
	yajl_val tree;        /* parsed on first use */
	/* Where the top-level correlation_id value (with its quotes) sits in
	 * json, for rewriting it without a re-serialization; 0/0 when absent. */
	size_t cid_start, cid_end;
};

static size_t limit_size = 1024 * 1024;
static unsigned limit_depth = 64;

void msg_set_limits(size_t max_size, unsigned max_depth)
{
	limit_size = max_size;
	limit_depth = max_depth;
}

/* ---- the extracting parse ---------------------------------------------- */

enum tracked_key { KEY_OTHER, KEY_TYPE, KEY_CID };

struct scan {
	yajl_handle handle;
	const char *json;
	size_t end; /* just past the message's closing brace */
	unsigned depth, max_depth;
	enum tracked_key key; /* the top-level key whose value comes next */
	size_t key_end;       /* offset just past that key */
	bool have_type, have_cid;
	char *type, *cid;
	size_t type_len, cid_len;
	size_t cid_start, cid_end;
	const char *problem; /* why we cancelled the parse (invalid_message) */
	char problem_text[96];
};

static int scan_fail(struct scan *s, const char *problem)
{
	snprintf(s->problem_text, sizeof s->problem_text, "%s", problem);
	s->problem = s->problem_text;
	return 0; /* cancels the parse */
}

/* A value at the top level of the object: it must not be the value of a
 * routing key unless that value is a string. */
static int scan_scalar(struct scan *s)
{
	if (s->depth == 0)
		return scan_fail(s, "a message must be a JSON object");
	if (s->depth == 1 && s->key == KEY_TYPE)
		return scan_fail(s, "'type' must be a string");
	if (s->depth == 1 && s->key == KEY_CID)
		return scan_fail(s, "'correlation_id' must be a string");
	return 1;
}

static int on_null(void *ctx)
{
	return scan_scalar(ctx);
}

static int on_boolean(void *ctx, int value)
{
	return scan_scalar(ctx);
}

static int on_number(void *ctx, const char *text, size_t len)
{
	return scan_scalar(ctx);
}

static char *copy_text(const unsigned char *text, size_t len)
{
	char *copy = malloc(len + 1);
	if (copy) {
		memcpy(copy, text, len);
		copy[len] = '\0';
	}
	return copy;
}

static int on_string(void *ctx, const unsigned char *text, size_t len)
{
	struct scan *s = ctx;
	if (s->depth == 0)
		return scan_fail(s, "a message must be a JSON object");
	if (s->depth != 1 || s->key == KEY_OTHER)
		return 1;
	if (memchr(text, '\0', len))
		return scan_fail(s, "routing fields must not contain NUL");
	if (s->key == KEY_TYPE) {
		if (len == 0)
			return scan_fail(s, "'type' must not be empty");
		s->type = copy_text(text, len);
		s->type_len = len;
		return s->type != NULL;
	}
	s->cid = copy_text(text, len);
	s->cid_len = len;
	/* The value starts after the key's closing quote, optional space, the
	 * colon and optional space; it ends where the lexer stands now. */
	size_t at = s->key_end;
	while (s->json[at] != '"')
		at++;
	s->cid_start = at;
	s->cid_end = yajl_get_bytes_consumed(s->handle);
	return s->cid != NULL;
}

static int open_container(struct scan *s)
{
	if (s->depth == 1 && s->key != KEY_OTHER)
		return scan_scalar(s);
	if (++s->depth > s->max_depth) {
		char text[48];
		snprintf(text, sizeof text, "nesting deeper than %u levels", s->max_depth);
		return scan_fail(s, text);
	}
	return 1;
}

static int on_start_map(void *ctx)
{
	return open_container(ctx);
}

static int on_start_array(void *ctx)
{
	struct scan *s = ctx;
	if (s->depth == 0)
		return scan_fail(s, "a message must be a JSON object");
	return open_container(s);
}

static int on_end_container(void *ctx)
{
	struct scan *s = ctx;
	if (--s->depth == 0)
		s->end = yajl_get_bytes_consumed(s->handle);
	s->key = KEY_OTHER;
	return 1;
}

/* yajl takes an unterminated string after the value ("{...} \"x") for data
 * still to come, and its complete_parse then lets it pass: only blanks may
 * follow the message. */
static bool only_blanks_after(const char *json, size_t end, size_t len)
{
	for (size_t i = end; i < len; i++) {
		if (!strchr(" \t\n\r\v\f", json[i]) || !json[i])
			return false;
	}
	return true;
}

static int on_map_key(void *ctx, const unsigned char *key, size_t len)
{
	struct scan *s = ctx;
	s->key = KEY_OTHER;
	if (s->depth != 1)
		return 1;
	if (len == 4 && memcmp(key, "type", 4) == 0)
		s->key = KEY_TYPE;
	else if (len == 14 && memcmp(key, "correlation_id", 14) == 0)
		s->key = KEY_CID;
	else
		return 1;
	/* Two values for a routing field would let two parsers disagree on where
	 * a message goes. */
	bool *seen = s->key == KEY_TYPE ? &s->have_type : &s->have_cid;
	if (*seen)
		return scan_fail(s, s->key == KEY_TYPE ? "duplicate 'type'" : "duplicate 'correlation_id'");
	*seen = true;
	s->key_end = yajl_get_bytes_consumed(s->handle);
	return 1;
}

static const yajl_callbacks scan_callbacks = {
	.yajl_null = on_null,
	.yajl_boolean = on_boolean,
	.yajl_number = on_number,
	.yajl_string = on_string,
	.yajl_start_map = on_start_map,
	.yajl_map_key = on_map_key,
	.yajl_end_map = on_end_container,
	.yajl_start_array = on_start_array,
	.yajl_end_array = on_end_container,
};

static void set_error(struct ab_parse_error *err, const char *type, const char *text)
{
	if (!err)
		return;
	err->error_type = type;
	snprintf(err->message, sizeof err->message, "%s", text);
}

/* Copy yajl's verbose error down to its first line. */
static void set_json_error(struct ab_parse_error *err, yajl_handle h, const char *json, size_t len)
{
	unsigned char *text = yajl_get_error(h, 0, (const unsigned char *)json, len);
	char line[160];
	snprintf(line, sizeof line, "malformed JSON: %s", text ? (const char *)text : "parse error");
	yajl_free_error(h, text);
	char *newline = strchr(line, '\n');
	if (newline)
		*newline = '\0';
	set_error(err, AB_ERR_INVALID_JSON, line);
}

static ab_msg *parse_limited(const char *json, size_t len, size_t max_size, unsigned max_depth,
                             struct ab_parse_error *err)
{
	if (len > max_size) {
		char text[96];
		snprintf(text, sizeof text, "message of %zu bytes exceeds the limit of %zu", len,
		         max_size);
		set_error(err, AB_ERR_MESSAGE_TOO_LARGE, text);
		return NULL;
	}
	struct scan s = { .json = json, .max_depth = max_depth };
	s.handle = yajl_alloc(&scan_callbacks, NULL, &s);
	if (!s.handle) {
		set_error(err, AB_ERR_INTERNAL_ERROR, "out of memory");
		return NULL;
	}
	yajl_status status = yajl_parse(s.handle, (const unsigned char *)json, len);
	if (status == yajl_status_ok)
		status = yajl_complete_parse(s.handle);

	ab_msg *msg = NULL;
	if (s.problem) {
		set_error(err, AB_ERR_INVALID_MESSAGE, s.problem);
	} else if (status != yajl_status_ok) {
		set_json_error(err, s.handle, json, len);
	} else if (!only_blanks_after(json, s.end, len)) {
		set_error(err, AB_ERR_INVALID_JSON, "malformed JSON: bytes after the message");
	} else if (!s.type) {
		set_error(err, AB_ERR_INVALID_MESSAGE, "a message needs a string 'type'");
	} else {
		size_t size = sizeof *msg + len + 1 + s.type_len + 1 + (s.cid ? s.cid_len + 1 : 0);
		msg = malloc(size);
		if (!msg) {
			set_error(err, AB_ERR_INTERNAL_ERROR, "out of memory");
		} else {
			*msg = (struct ab_msg){ .refs = 1, .len = len };
			msg->json = (char *)(msg + 1);
			memcpy(msg->json, json, len);
			msg->json[len] = '\0';
			msg->type = msg->json + len + 1;
			memcpy(msg->type, s.type, s.type_len + 1);
			if (s.cid) {
				msg->correlation_id = msg->type + s.type_len + 1;
				memcpy(msg->correlation_id, s.cid, s.cid_len + 1);
				msg->cid_start = s.cid_start;
				msg->cid_end = s.cid_end;
			}
		}
	}
	yajl_free(s.handle);
	free(s.type);
	free(s.cid);
	return msg;
}

ab_msg *msg_parse(const char *json, size_t len, struct ab_parse_error *err)
{
	return parse_limited(json, len, limit_size, limit_depth, err);
}

ab_msg *msg_build(const char *json, size_t len, struct ab_parse_error *err)
{
	return parse_limited(json, len, SIZE_MAX, UINT_MAX, err);
}

/* ---- references and accessors ------------------------------------------ */

ab_msg *msg_ref(ab_msg *msg)
{
	msg->refs++;
	return msg;
}

void msg_unref(ab_msg *msg)
{
	if (!msg || --msg->refs > 0)
		return;
	if (msg->tree)
		yajl_tree_free(msg->tree);
	free(msg->source);
	free(msg);
}

const char *msg_type(const ab_msg *msg)
{
	return msg->type;
}

const char *msg_correlation_id(const ab_msg *msg)
{
	return msg->correlation_id;
}

const char *msg_source(const ab_msg *msg)
{
	return msg->source;
}

const char *msg_json(const ab_msg *msg, size_t *len)
{
	if (len)
		*len = msg->len;
	return msg->json;
}

yajl_val msg_tree(ab_msg *msg)
{
	/* The bytes were validated at parse, so this fails only without memory. */
	if (!msg->tree)
		msg->tree = yajl_tree_parse(msg->json, NULL, 0);
	return msg->tree;
}

const char *msg_get_string(ab_msg *msg, const char *key)
{
	yajl_val tree = msg_tree(msg);
	const char *path[] = { key, NULL };
	yajl_val value = tree ? yajl_tree_get(tree, path, yajl_t_string) : NULL;
	return value ? YAJL_GET_STRING(value) : NULL;
}

bool msg_mark_submitted(ab_msg *msg, const char *source)
{
	if (msg->submitted)
		return false;
	char *copy = strdup(source);
	if (!copy)
		return false;
	msg->submitted = true;
	msg->source = copy;
	return true;
}

/* ---- rewriting --------------------------------------------------------- */

ab_msg *msg_with_correlation_id(const ab_msg *msg, const char *cid)
{
	yajl_gen gen = yajl_gen_alloc(NULL);
	if (!gen)
		return NULL;
	const unsigned char *quoted;
	size_t quoted_len;
	yajl_gen_string(gen, (const unsigned char *)cid, strlen(cid));
	yajl_gen_get_buf(gen, &quoted, &quoted_len);

	/* Replace the old value's span, or insert a member after the '{'. */
	static const char member[] = "\"correlation_id\":";
	size_t start, end;
	const char *prefix = "", *suffix = "";
	if (msg->correlation_id) {
		start = msg->cid_start;
		end = msg->cid_end;
	} else {
		start = end = (size_t)(strchr(msg->json, '{') - msg->json) + 1;
		prefix = member;
		suffix = ",";
	}
	size_t len = start + strlen(prefix) + quoted_len + strlen(suffix) + (msg->len - end);
	char *json = malloc(len + 1);
	ab_msg *copy = NULL;
	if (json) {
		char *at = json;
		memcpy(at, msg->json, start);
		at += start;
		at = stpcpy(at, prefix);
		memcpy(at, quoted, quoted_len);
		at += quoted_len;
		at = stpcpy(at, suffix);
		memcpy(at, msg->json + end, msg->len - end);
		/* The limits were checked on the way in; a longer id (or limits
		 * lowered by a reload since) must not make the copy fail. */
		copy = msg_build(json, len, NULL);
		free(json);
	}
	yajl_gen_free(gen);
	return copy;
}
