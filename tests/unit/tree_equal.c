#include "build-config.h"

#include <string.h>

#include "tests/unit/tree_equal.h"

static bool numbers_equal(yajl_val a, yajl_val b)
{
	if (strcmp(a->u.number.r, b->u.number.r) != 0 || a->u.number.flags != b->u.number.flags)
		return false;
	if ((a->u.number.flags & YAJL_NUMBER_INT_VALID) && a->u.number.i != b->u.number.i)
		return false;
	return !(a->u.number.flags & YAJL_NUMBER_DOUBLE_VALID) || a->u.number.d == b->u.number.d;
}

bool tree_equal(yajl_val a, yajl_val b)
{
	if (!a || !b || a->type != b->type)
		return a == b;
	switch (a->type) {
	case yajl_t_string:
		return strcmp(a->u.string, b->u.string) == 0;
	case yajl_t_number:
		return numbers_equal(a, b);
	case yajl_t_object:
		if (a->u.object.len != b->u.object.len)
			return false;
		for (size_t i = 0; i < a->u.object.len; i++) {
			if (strcmp(a->u.object.keys[i], b->u.object.keys[i]) != 0 ||
			    !tree_equal(a->u.object.values[i], b->u.object.values[i]))
				return false;
		}
		return true;
	case yajl_t_array:
		if (a->u.array.len != b->u.array.len)
			return false;
		for (size_t i = 0; i < a->u.array.len; i++) {
			if (!tree_equal(a->u.array.values[i], b->u.array.values[i]))
				return false;
		}
		return true;
	default:
		return true; /* true, false, null */
	}
}
