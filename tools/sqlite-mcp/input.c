#include "build-config.h"

#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input.h"

/* Read what is there (at most one read; blocking only when asked). */
static void fill(struct input *in, bool block)
{
	if (in->eof)
		return;
	struct pollfd p = { .fd = 0, .events = POLLIN };
	if (!block && poll(&p, 1, 0) <= 0)
		return;
	if (in->cap - in->len < 4096) {
		size_t cap = in->cap ? in->cap * 2 : 65536;
		char *grown = realloc(in->buf, cap);
		if (!grown) {
			in->eof = true;
			return;
		}
		in->buf = grown;
		in->cap = cap;
	}
	ssize_t n;
	do
		n = read(0, in->buf + in->len, in->cap - in->len - 1);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		in->eof = true;
	else
		in->len += (size_t)n;
}

char *input_next_line(struct input *in)
{
	static char *line; /* the line handed out last, kept until the next call */
	free(line);
	line = NULL;
	for (;;) {
		char *nl = in->len ? memchr(in->buf, '\n', in->len) : NULL;
		if (nl || (in->eof && in->len)) {
			size_t n = nl ? (size_t)(nl - in->buf) : in->len;
			line = strndup(in->buf, n);
			size_t used = nl ? n + 1 : n;
			memmove(in->buf, in->buf + used, in->len - used);
			in->len -= used;
			in->scanned = in->scanned > used ? in->scanned - used : 0;
			return line;
		}
		if (in->eof)
			return NULL;
		fill(in, true);
	}
}

/* Is this line a notifications/cancelled naming id? */
static bool cancels(const char *line, size_t len, yajl_val id)
{
	if (!memmem(line, len, "notifications/cancelled", 23))
		return false;
	char *text = strndup(line, len);
	yajl_val msg = text ? yajl_tree_parse(text, NULL, 0) : NULL;
	free(text);
	const char *path[] = { "params", "requestId", NULL };
	yajl_val named = msg ? yajl_tree_get(msg, path, yajl_t_any) : NULL;
	/* The same JSON value: a number written the same way, or a string. */
	bool same = named && ((YAJL_IS_NUMBER(named) && YAJL_IS_NUMBER(id) &&
	                       strcmp(named->u.number.r, id->u.number.r) == 0) ||
	                      (YAJL_IS_STRING(named) && YAJL_IS_STRING(id) &&
	                       strcmp(named->u.string, id->u.string) == 0));
	yajl_tree_free(msg);
	return same;
}

bool input_cancelled(struct input *in, yajl_val id)
{
	fill(in, false);
	while (in->scanned < in->len) {
		char *at = in->buf + in->scanned;
		char *nl = memchr(at, '\n', in->len - in->scanned);
		if (!nl)
			break;
		in->scanned = (size_t)(nl - in->buf) + 1;
		if (cancels(at, (size_t)(nl - at), id))
			return true;
	}
	return false;
}

void input_free(struct input *in)
{
	input_next_line(in); /* frees the last line handed out */
	free(in->buf);
	*in = (struct input){ 0 };
}
