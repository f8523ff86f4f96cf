#include "build-config.h"

#include <limits.h>
#include <string.h>

#include "core/jsonparse.h"
#include "core/jsontree.h"

void jsontree_gen(ab_json *g, yajl_val v)
{
	if (!v || YAJL_IS_NULL(v)) {
		ab_json_null(g);
	} else if (YAJL_IS_STRING(v)) {
		ab_json_str(g, YAJL_GET_STRING(v));
	} else if (YAJL_IS_NUMBER(v)) {
		/* The number's own text: no rounding through a double. */
		ab_json_raw(g, YAJL_GET_NUMBER(v), strlen(YAJL_GET_NUMBER(v)));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		ab_json_bool(g, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_ARRAY(v)) {
		ab_json_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			jsontree_gen(g, v->u.array.values[i]);
		ab_json_array_close(g);
	} else {
		ab_json_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			ab_json_str(g, v->u.object.keys[i]);
			jsontree_gen(g, v->u.object.values[i]);
		}
		ab_json_map_close(g);
	}
}

/* The value at "a.b.c" under root, or NULL (also for an empty segment,
 * trailing ones included: "a..b", "a.", ""). */
static yajl_val lookup(yajl_val root, const char *path)
{
	char key[256];
	yajl_val v = root;
	for (const char *at = path; v && at;) {
		const char *dot = strchr(at, '.');
		size_t len = dot ? (size_t)(dot - at) : strlen(at);
		if (len == 0 || len >= sizeof key || !YAJL_IS_OBJECT(v))
			return NULL;
		memcpy(key, at, len);
		key[len] = '\0';
		yajl_val next = NULL;
		for (size_t i = 0; i < v->u.object.len && !next; i++) {
			if (strcmp(v->u.object.keys[i], key) == 0)
				next = v->u.object.values[i];
		}
		v = next;
		at = dot ? dot + 1 : NULL;
	}
	return v;
}

static bool is_reference(const char *text)
{
	return text && text[0] == '$' && (text[1] == '\0' || text[1] == '.');
}

yajl_val jsontree_path(yajl_val root, const char *ref)
{
	if (!is_reference(ref))
		return NULL;
	return ref[1] ? lookup(root, ref + 2) : root;
}

struct raw_find {
	const char *key;
	size_t key_len;
	size_t start, end;
	bool found;
};

static bool find_member(void *ctx, const struct jsonparse_member *m)
{
	struct raw_find *f = ctx;
	/* As C strings, the way lookup's strcmp sees a key with a NUL in it. */
	if (strlen(m->key) != f->key_len || memcmp(m->key, f->key, f->key_len) != 0)
		return true;
	f->start = m->start;
	f->end = m->end;
	f->found = true;
	return false; /* the first of two alike, as lookup finds it */
}

const char *jsontree_raw(const char *json, size_t len, const char *ref, size_t *raw_len)
{
	if (!is_reference(ref))
		return NULL;
	/* Segment by segment, as lookup reads them; each scan stops at its
	 * member, and the text was checked before (a message's bytes). */
	for (const char *at = ref[1] ? ref + 2 : NULL; at;) {
		const char *dot = strchr(at, '.');
		size_t n = dot ? (size_t)(dot - at) : strlen(at);
		if (n == 0 || n >= 256)
			return NULL;
		struct raw_find f = { at, n, 0, 0, false };
		jsonparse_scan(json, len, UINT_MAX, find_member, &f, NULL, NULL);
		if (!f.found)
			return NULL;
		json += f.start;
		len = f.end - f.start;
		at = dot ? dot + 1 : NULL;
	}
	*raw_len = len;
	return json;
}

/* A "$", "$.a.b" reference's value (NULL: absent), or the template value itself. */
static yajl_val resolve(yajl_val tmpl, yajl_val root, bool *absent)
{
	const char *ref = YAJL_IS_STRING(tmpl) ? YAJL_GET_STRING(tmpl) : NULL;
	*absent = false;
	if (!is_reference(ref))
		return tmpl;
	yajl_val v = jsontree_path(root, ref);
	*absent = v == NULL;
	return v;
}

void jsontree_gen_template(ab_json *g, yajl_val tmpl, yajl_val root)
{
	bool absent;
	yajl_val v = resolve(tmpl, root, &absent);
	if (v != tmpl || !(YAJL_IS_OBJECT(v) || YAJL_IS_ARRAY(v))) {
		jsontree_gen(g, absent ? NULL : v);
		return;
	}
	if (YAJL_IS_ARRAY(v)) {
		ab_json_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++) {
			resolve(v->u.array.values[i], root, &absent);
			if (!absent)
				jsontree_gen_template(g, v->u.array.values[i], root);
		}
		ab_json_array_close(g);
		return;
	}
	ab_json_map_open(g);
	for (size_t i = 0; i < v->u.object.len; i++) {
		resolve(v->u.object.values[i], root, &absent);
		if (absent)
			continue; /* a member whose source is missing is left out */
		ab_json_str(g, v->u.object.keys[i]);
		jsontree_gen_template(g, v->u.object.values[i], root);
	}
	ab_json_map_close(g);
}
