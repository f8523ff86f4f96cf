/* Writing a parsed yajl tree back out (services->gen_tree). */
#ifndef AB_CORE_JSONTREE_H
#define AB_CORE_JSONTREE_H

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

void jsontree_gen(yajl_gen g, yajl_val value);

#endif
