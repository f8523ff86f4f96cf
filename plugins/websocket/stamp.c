#define _GNU_SOURCE /* memmem */

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "stamp.h"

static void gen_value(yajl_gen g, yajl_val v)
{
	if (YAJL_IS_STRING(v)) {
		const char *s = YAJL_GET_STRING(v);
		yajl_gen_string(g, (const unsigned char *)s, strlen(s));
	} else if (YAJL_IS_NUMBER(v)) {
		const char *n = YAJL_GET_NUMBER(v);
		yajl_gen_number(g, n, strlen(n));
	} else if (YAJL_IS_OBJECT(v)) {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			const char *k = v->u.object.keys[i];
			yajl_gen_string(g, (const unsigned char *)k, strlen(k));
			gen_value(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			gen_value(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	} else {
		yajl_gen_null(g);
	}
}

/* The members of the object, without top-level seq and timestamp, as the
 * text between the braces. */
static char *members_without_stamps(const char *json, size_t *len)
{
	char *copy = strndup(json, *len);
	yajl_val tree = copy ? yajl_tree_parse(copy, NULL, 0) : NULL;
	free(copy);
	if (!tree || !YAJL_IS_OBJECT(tree)) {
		yajl_tree_free(tree);
		return NULL;
	}
	yajl_gen g = yajl_gen_alloc(NULL);
	yajl_gen_map_open(g);
	for (size_t i = 0; i < tree->u.object.len; i++) {
		const char *k = tree->u.object.keys[i];
		if (strcmp(k, "seq") == 0 || strcmp(k, "timestamp") == 0)
			continue;
		yajl_gen_string(g, (const unsigned char *)k, strlen(k));
		gen_value(g, tree->u.object.values[i]);
	}
	yajl_gen_map_close(g);
	const unsigned char *buf;
	size_t buf_len;
	yajl_gen_get_buf(g, &buf, &buf_len);
	char *members = strndup((const char *)buf + 1, buf_len - 2); /* without { } */
	*len = buf_len - 2;
	yajl_gen_free(g);
	yajl_tree_free(tree);
	return members;
}

int stamp_message(const char *json, size_t len, uint64_t seq, const char *timestamp,
                  struct stamped *out)
{
	char head[96];
	int head_len = seq ? snprintf(head, sizeof head, "{\"seq\":%" PRIu64 ",\"timestamp\":\"%s\"", seq, timestamp)
	                   : snprintf(head, sizeof head, "{\"timestamp\":\"%s\"", timestamp);
	const char *body;
	size_t body_len;
	char *rebuilt = NULL;
	if (memmem(json, len, "\"seq\"", 5) || memmem(json, len, "\"timestamp\"", 11)) {
		/* Perhaps only inside a string or a nested object: the tree says. */
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
	while (body_len && (*body == ' ' || *body == '\t' || *body == '\n' || *body == '\r')) {
		body++;
		body_len--;
	}
	out->len = (size_t)head_len + (body_len ? 1 + body_len : 0) + 1;
	out->data = malloc(out->len + 1);
	if (!out->data) {
		free(rebuilt);
		return -1;
	}
	char *at = out->data;
	memcpy(at, head, (size_t)head_len);
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
