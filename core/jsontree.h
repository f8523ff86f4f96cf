/* Writing a parsed yajl tree back out (services->gen_tree), and filling a
 * JSON template from one (services->gen_template). */
#ifndef AB_CORE_JSONTREE_H
#define AB_CORE_JSONTREE_H

#include <stdbool.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

void jsontree_gen(yajl_gen g, yajl_val value);

/* See services->tree_path. */
yajl_val jsontree_path(yajl_val root, const char *ref);

/* See services->gen_template. */
void jsontree_gen_template(yajl_gen g, yajl_val tmpl, yajl_val root);

#endif
