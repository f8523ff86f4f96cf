#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "core/pattern.h"

static enum pattern_shape classify(const char *text, size_t len)
{
	const char *star = memchr(text, '*', len);
	if (!star)
		return PATTERN_EXACT;
	if (len == 1)
		return PATTERN_ANY;
	if (star == text + len - 1)
		return PATTERN_PREFIX;
	return PATTERN_GLOB;
}

int pattern_list_compile(const char *text, struct pattern_list *out)
{
	*out = (struct pattern_list){ 0 };
	size_t commas = 0;
	for (const char *c = text; *c; c++)
		commas += *c == ',';
	out->items = calloc(commas + 1, sizeof *out->items);
	if (!out->items)
		return -1;
	for (const char *at = text;;) {
		const char *comma = strchr(at, ',');
		const char *end = comma ? comma : at + strlen(at);
		while (at < end && (*at == ' ' || *at == '\t'))
			at++;
		while (end > at && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		size_t len = (size_t)(end - at);
		if (len == 0)
			goto fail;
		struct pattern *p = &out->items[out->count++];
		p->text = strndup(at, len);
		if (!p->text)
			goto fail;
		p->len = len;
		p->shape = classify(p->text, len);
		if (!comma)
			break;
		at = comma + 1;
	}
	return 0;
fail:
	pattern_list_free(out);
	return -1;
}

void pattern_list_free(struct pattern_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i].text);
	free(list->items);
	*list = (struct pattern_list){ 0 };
}

/* Greedy wildcard match with backtracking to the last '*': linear in
 * practice, O(n*m) at worst for patterns with many stars. */
static bool glob_match(const char *p, const char *s)
{
	const char *star = NULL, *resume = NULL;
	while (*s) {
		if (*p == '*') {
			star = p++;
			resume = s;
		} else if (*p == *s) {
			p++;
			s++;
		} else if (star) {
			p = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*p == '*')
		p++;
	return *p == '\0';
}

bool pattern_match(const struct pattern *p, const char *subject)
{
	switch (p->shape) {
	case PATTERN_EXACT:
		return strcmp(p->text, subject) == 0;
	case PATTERN_ANY:
		return true;
	case PATTERN_PREFIX:
		return strncmp(p->text, subject, p->len - 1) == 0;
	case PATTERN_GLOB:
	default:
		return glob_match(p->text, subject);
	}
}

bool pattern_list_match(const struct pattern_list *list, const char *subject)
{
	for (size_t i = 0; i < list->count; i++) {
		if (pattern_match(&list->items[i], subject))
			return true;
	}
	return false;
}

const char *pattern_list_exact(const struct pattern_list *list)
{
	if (list->count == 1 && list->items[0].shape == PATTERN_EXACT)
		return list->items[0].text;
	return NULL;
}
