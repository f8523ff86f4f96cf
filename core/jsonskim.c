#include "build-config.h"

#include <string.h>

#include "core/jsonskim.h"

static bool is_blank(char c)
{
	return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

static const char *blanks(const char *p, const char *end)
{
	while (p < end && is_blank(*p))
		p++;
	return p;
}

/* p just past a string's opening quote: just past its closing quote, or
 * end. A quote closes the string when an even number of backslashes comes
 * before it. memchr, since a message's long strings (a query, rows carried
 * as text) are most of its bytes. */
static const char *past_string(const char *p, const char *end)
{
	for (const char *q = p; q < end; q++) {
		q = memchr(q, '"', (size_t)(end - q));
		if (!q)
			break;
		const char *b = q;
		while (b > p && b[-1] == '\\')
			b--;
		if ((q - b) % 2 == 0)
			return q + 1;
	}
	return end;
}

/* p at a value: past it (or end). */
static const char *past_value(const char *p, const char *end)
{
	if (p < end && *p == '"')
		return past_string(p + 1, end);
	if (p < end && *p != '{' && *p != '[') { /* a number, true, false, null */
		while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_blank(*p))
			p++;
		return p;
	}
	size_t depth = 0;
	while (p < end) {
		char c = *p++;
		if (c == '"')
			p = past_string(p, end);
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return p;
	}
	return end;
}

bool jsonskim_members(const char *json, size_t len, jsonskim_member_cb member, void *ctx)
{
	const char *end = json + len, *p = blanks(json, end);
	if (p >= end || *p != '{')
		return false;
	for (p = blanks(p + 1, end); p < end && *p == '"'; p = blanks(p + 1, end)) {
		const char *key = p + 1, *key_end = past_string(key, end);
		p = blanks(key_end, end);
		if (p >= end || *p != ':')
			break;
		struct jsonskim_member m = { key, (size_t)(key_end - 1 - key), blanks(p + 1, end), 0 };
		p = past_value(m.value, end);
		m.value_len = (size_t)(p - m.value);
		if (!member(ctx, &m))
			return false;
		p = blanks(p, end);
		if (p >= end || *p != ',')
			break;
	}
	return true;
}
