/* Whether two yajl trees hold the same value (types, text, number flags),
 * for the tests and the fuzz harness that compare core/jsonparse.c with
 * yajl's own parser. */
#ifndef AB_TEST_TREE_EQUAL_H
#define AB_TEST_TREE_EQUAL_H

#include <stdbool.h>

#include <yajl/yajl_tree.h>

bool tree_equal(yajl_val a, yajl_val b);

#endif
