#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "sse.h"

void sse_init(struct sse *s, size_t max_event)
{
	*s = (struct sse){ .retry_ms = -1, .max_event = max_event };
}

void sse_free(struct sse *s)
{
	free(s->line);
	free(s->data);
	*s = (struct sse){ 0 };
}

static bool append(char **buf, size_t *len, size_t *cap, const char *bytes, size_t n, size_t max)
{
	if (*len + n + 1 > max)
		return false;
	if (*len + n + 1 > *cap) {
		size_t want = *cap ? *cap : 256;
		while (want < *len + n + 1)
			want *= 2;
		char *grown = realloc(*buf, want);
		if (!grown)
			return false;
		*buf = grown;
		*cap = want;
	}
	memcpy(*buf + *len, bytes, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

static void reset_event(struct sse *s)
{
	s->data_len = 0;
	s->has_data = false;
	s->type[0] = '\0';
	s->type_too_long = false;
	if (s->data)
		s->data[0] = '\0';
}

/* Too large: this event is dropped, to its blank line. */
static void drop_event(struct sse *s)
{
	s->dropped++;
	reset_event(s);
	s->skipping = true;
}

/* One whole line (without its end). */
static void take_line(struct sse *s, sse_event_cb on_event, void *arg)
{
	const char *line = s->line ? s->line : "";
	size_t len = s->line_len;
	if (len == 0) { /* dispatch */
		if (s->has_data && !s->skipping)
			on_event(arg, s->type_too_long ? "?" : s->type[0] ? s->type : "message", s->data ? s->data : "",
			         s->data_len);
		reset_event(s);
		s->skipping = false;
		return;
	}
	if (line[0] == ':')
		return; /* a comment (keep-alive) */
	const char *colon = memchr(line, ':', len);
	size_t name_len = colon ? (size_t)(colon - line) : len;
	const char *value = colon ? colon + 1 : line + len;
	size_t value_len = colon ? len - name_len - 1 : 0;
	if (value_len && *value == ' ') {
		value++;
		value_len--;
	}
	if (name_len == 4 && memcmp(line, "data", 4) == 0) {
		if (s->skipping)
			return; /* the rest of an event already dropped */
		bool ok = (!s->has_data || append(&s->data, &s->data_len, &s->data_cap, "\n", 1, s->max_event)) &&
		          append(&s->data, &s->data_len, &s->data_cap, value, value_len, s->max_event);
		if (!ok) {
			drop_event(s);
			return;
		}
		s->has_data = true;
	} else if (name_len == 2 && memcmp(line, "id", 2) == 0) {
		if (value_len < sizeof s->last_id && !memchr(value, '\0', value_len)) {
			memcpy(s->last_id, value, value_len);
			s->last_id[value_len] = '\0';
		}
	} else if (name_len == 5 && memcmp(line, "retry", 5) == 0) {
		int64_t ms = 0;
		size_t i = 0;
		while (i < value_len && value[i] >= '0' && value[i] <= '9' && ms < 86400000)
			ms = ms * 10 + (value[i++] - '0');
		if (i == value_len && value_len)
			s->retry_ms = ms;
	} else if (name_len == 5 && memcmp(line, "event", 5) == 0) {
		s->type_too_long = value_len >= sizeof s->type || memchr(value, '\0', value_len);
		if (!s->type_too_long) {
			memcpy(s->type, value, value_len);
			s->type[value_len] = '\0';
		}
	}
	/* unknown fields are ignored */
}

void sse_feed(struct sse *s, const char *bytes, size_t len, sse_event_cb on_event, void *arg)
{
	size_t i = 0;
	/* A byte order mark may open the stream; it is not part of a field. */
	static const char bom[] = "\xEF\xBB\xBF";
	while (s->bom_seen < 3 && i < len) {
		if (bytes[i] != bom[s->bom_seen]) {
			if (s->bom_seen) /* a partial mark: those bytes were the line's */
				append(&s->line, &s->line_len, &s->line_cap, bom, s->bom_seen, s->max_event + 64);
			s->bom_seen = 3;
			break;
		}
		s->bom_seen++;
		i++;
	}
	while (i < len) {
		if (s->after_cr) { /* CRLF: the LF belongs to the line the CR ended */
			s->after_cr = false;
			if (bytes[i] == '\n') {
				i++;
				continue;
			}
		}
		size_t end = i;
		while (end < len && bytes[end] != '\n' && bytes[end] != '\r')
			end++;
		/* A line longer than any event: it and its event are dropped. */
		if (!s->line_too_long &&
		    !append(&s->line, &s->line_len, &s->line_cap, bytes + i, end - i, s->max_event + 64))
			s->line_too_long = true;
		if (end == len)
			return; /* the line goes on in the next bytes */
		s->after_cr = bytes[end] == '\r';
		if (s->line_too_long) {
			drop_event(s);
		} else {
			take_line(s, on_event, arg);
		}
		s->line_too_long = false;
		s->line_len = 0;
		i = end + 1;
	}
}
