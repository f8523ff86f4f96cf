/* Agent-id and message-type patterns: literal text where '*' matches any run
 * of characters (including none). A pattern list is several patterns
 * separated by commas; it matches when any of them does. Compiled once at
 * config load; the common shapes (exact, prefix*, *) match without a scan. */
#ifndef AB_CORE_PATTERN_H
#define AB_CORE_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

enum pattern_shape {
	PATTERN_EXACT,  /* no '*' */
	PATTERN_ANY,    /* "*" */
	PATTERN_PREFIX, /* "text*" */
	PATTERN_GLOB,   /* anything else */
};

struct pattern {
	char *text;
	size_t len;
	enum pattern_shape shape;
};

struct pattern_list {
	struct pattern *items;
	size_t count;
};

/* Compile "a, b*, *c" (blanks around commas are ignored). Returns 0, or -1
 * for an empty list or an empty item. */
int pattern_list_compile(const char *text, struct pattern_list *out);
void pattern_list_free(struct pattern_list *list);

bool pattern_match(const struct pattern *p, const char *subject);
bool pattern_list_match(const struct pattern_list *list, const char *subject);

/* The one literal this list matches, when it is a single exact pattern. */
const char *pattern_list_exact(const struct pattern_list *list);

#endif
