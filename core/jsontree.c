#include "build-config.h"

#include <string.h>

#include "core/jsontree.h"

static void gen_text(yajl_gen g, const char *text)
{
	yajl_gen_string(g, (const unsigned char *)text, strlen(text));
}

void jsontree_gen(yajl_gen g, yajl_val v)
{
	if (!v || YAJL_IS_NULL(v)) {
		yajl_gen_null(g);
	} else if (YAJL_IS_STRING(v)) {
		gen_text(g, YAJL_GET_STRING(v));
	} else if (YAJL_IS_NUMBER(v)) {
		/* The number's own text: no rounding through a double. */
		yajl_gen_number(g, YAJL_GET_NUMBER(v), strlen(YAJL_GET_NUMBER(v)));
	} else if (YAJL_IS_TRUE(v) || YAJL_IS_FALSE(v)) {
		yajl_gen_bool(g, YAJL_IS_TRUE(v));
	} else if (YAJL_IS_ARRAY(v)) {
		yajl_gen_array_open(g);
		for (size_t i = 0; i < v->u.array.len; i++)
			jsontree_gen(g, v->u.array.values[i]);
		yajl_gen_array_close(g);
	} else {
		yajl_gen_map_open(g);
		for (size_t i = 0; i < v->u.object.len; i++) {
			gen_text(g, v->u.object.keys[i]);
			jsontree_gen(g, v->u.object.values[i]);
		}
		yajl_gen_map_close(g);
	}
}
