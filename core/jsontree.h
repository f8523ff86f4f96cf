/* Writing a parsed yajl tree back out (services->gen_tree), filling a JSON
 * template from one (services->gen_template), and a member's bytes found
 * and written without a tree (services->json_raw, gen_raw). */
#ifndef AB_CORE_JSONTREE_H
#define AB_CORE_JSONTREE_H

#include <stdbool.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

void jsontree_gen(yajl_gen g, yajl_val value);

/* See services->tree_path. */
yajl_val jsontree_path(yajl_val root, const char *ref);

/* See services->json_raw and services->gen_raw. */
const char *jsontree_raw(const char *json, size_t len, const char *ref, size_t *raw_len);
void jsontree_gen_raw(yajl_gen g, const char *json, size_t len);

/* See services->gen_template. */
void jsontree_gen_template(yajl_gen g, yajl_val tmpl, yajl_val root);

#endif
