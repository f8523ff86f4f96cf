/* Writing a parsed yajl tree back out (services->gen_tree), filling a JSON
 * template from one (services->gen_template), and a member's bytes found
 * and written without a tree (services->json_raw). */
#ifndef AB_CORE_JSONTREE_H
#define AB_CORE_JSONTREE_H

#include <stdbool.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

void jsontree_gen(ab_json *g, yajl_val value);

/* See services->tree_path. */
yajl_val jsontree_path(yajl_val root, const char *ref);

/* See services->json_raw. */
const char *jsontree_raw(const char *json, size_t len, const char *ref, size_t *raw_len);

/* See services->gen_template. */
void jsontree_gen_template(ab_json *g, yajl_val tmpl, yajl_val root);

#endif
