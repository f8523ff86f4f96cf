/* A strict RFC 8259 JSON parser, in one pass and with no I/O, for the
 * message path. yajl's parser costs a callback per token and its tree a
 * malloc per node; this one validates at a few instructions per byte and
 * builds yajl's own tree type (struct yajl_val_s) in one arena, so code
 * that reads trees is unchanged and a tree is one free.
 *
 * Stricter than yajl: no comments, UTF-8 checked as RFC 3629 (no overlong
 * forms, no surrogates, nothing past U+10FFFF); an escaped lone surrogate
 * decodes to U+FFFD. Numbers carry yajl's flags: INT_VALID when the text
 * is an integer that fits a long long, DOUBLE_VALID when strtod takes it. */
#ifndef AB_CORE_JSONPARSE_H
#define AB_CORE_JSONPARSE_H

#include <stdbool.h>
#include <stddef.h>

#include <yajl/yajl_tree.h>

enum jsonparse_status {
	JSONPARSE_OK,
	JSONPARSE_SYNTAX,    /* not JSON: text says what and where */
	JSONPARSE_TOO_DEEP,  /* nested deeper than max_depth */
	JSONPARSE_STOPPED,   /* the member callback said stop */
	JSONPARSE_NO_MEMORY,
};

struct jsonparse_error {
	enum jsonparse_status status;
	char text[96];
};

/* One member of a top-level object, as jsonparse_scan meets it. key (and
 * string, for a string value) are decoded and NUL-terminated, valid during
 * the call; start/end are the value's bytes in the input. */
struct jsonparse_member {
	const char *key;
	size_t key_len;
	yajl_type type;
	const char *string;
	size_t string_len;
	size_t start, end;
};

/* Return false to stop the parse (JSONPARSE_STOPPED). */
typedef bool (*jsonparse_member_cb)(void *ctx, const struct jsonparse_member *member);

/* Validates json[0..len) and calls member for each member of the top-level
 * value when it is an object; *root_type says what the top-level value is.
 * Nothing is allocated but for decoding long keys and strings. */
enum jsonparse_status jsonparse_scan(const char *json, size_t len, unsigned max_depth,
                                     jsonparse_member_cb member, void *ctx, yajl_type *root_type,
                                     struct jsonparse_error *err);

/* Decodes a string value that a parse has checked, quotes included (a
 * member's start..end), into out, which has room for len - 1 bytes;
 * returns the decoded length (out is NUL-terminated). */
size_t jsonparse_string(const char *quoted, size_t len, char *out);

/* The tree of json[0..len), or NULL (err says why; err may be NULL). Free it
 * with jsonparse_free, never with yajl_tree_free. */
yajl_val jsonparse_tree(const char *json, size_t len, unsigned max_depth, struct jsonparse_error *err);
void jsonparse_free(yajl_val root); /* NULL is fine */

#endif
