/* The few tree helpers every part of the MCP client uses: a member of a
 * parsed object, a string member. It brings the JSON writer in too. */
#ifndef AB_MCP_JSON_H
#define AB_MCP_JSON_H

#include <string.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

/* v's member key (any type), or NULL; v may be NULL. */
static inline yajl_val tree_member(yajl_val v, const char *key)
{
	const char *path[] = { key, NULL };
	return v ? yajl_tree_get(v, path, yajl_t_any) : NULL;
}

/* v's member key when it is a string, or NULL. */
static inline const char *tree_string(yajl_val v, const char *key)
{
	yajl_val s = tree_member(v, key);
	return YAJL_IS_STRING(s) ? YAJL_GET_STRING(s) : NULL;
}

#endif
