#include "build-config.h"

#include <stdlib.h>
#include <string.h>

#include "tool_cache.h"

void tool_cache_init(struct tool_cache *tc)
{
	*tc = (struct tool_cache){ .count = -1 };
}

void tool_cache_clear(struct tool_cache *tc)
{
	if (tc->gathering)
		ab_json_free(tc->gathering);
	yajl_tree_free(tc->result);
	tool_cache_init(tc);
}

static void give_up(struct tool_cache *tc)
{
	ab_json_free(tc->gathering);
	tc->gathering = NULL;
	tc->pages = 0;
	tc->gathered = 0;
}

const char *tool_cache_add_page(struct tool_cache *tc, yajl_val result,
                                void (*gen_tree)(ab_json *g, yajl_val value))
{
	const char *tools_path[] = { "tools", NULL }, *cursor_path[] = { "nextCursor", NULL };
	yajl_val tools = result ? yajl_tree_get(result, tools_path, yajl_t_array) : NULL;
	if (!tools || tc->pages >= TOOL_CACHE_MAX_PAGES) {
		give_up(tc);
		return NULL;
	}
	if (!tc->gathering) {
		tc->gathering = ab_json_new();
		ab_json_map_open(tc->gathering);
		ab_json_str(tc->gathering, "tools");
		ab_json_array_open(tc->gathering);
	}
	for (size_t i = 0; i < tools->u.array.len; i++)
		gen_tree(tc->gathering, tools->u.array.values[i]);
	tc->gathered += (int64_t)tools->u.array.len;
	tc->pages++;
	yajl_val cursor = yajl_tree_get(result, cursor_path, yajl_t_string);
	if (cursor && *cursor->u.string)
		return cursor->u.string;
	ab_json_array_close(tc->gathering);
	ab_json_map_close(tc->gathering);
	size_t len;
	const char *text = ab_json_output(tc->gathering, &len); /* NUL-terminated */
	yajl_tree_free(tc->result);
	tc->result = text ? yajl_tree_parse(text, NULL, 0) : NULL;
	tc->count = tc->result ? tc->gathered : -1;
	give_up(tc); /* done gathering */
	return NULL;
}
