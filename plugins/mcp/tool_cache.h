/* An upstream's tools: every page of tools/list, gathered when the server
 * is ready and again after notifications/tools/list_changed, so the
 * broker's tools/list (list_tools) is answered without asking the server
 * and /health can say how many tools each upstream has. No I/O: mcp.c
 * does the asking, and lends the broker's tree writer (services->gen_tree). */
#ifndef AB_MCP_TOOL_CACHE_H
#define AB_MCP_TOOL_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

/* Pages gathered beyond this many are a server that keeps paging: the
 * cache stays invalid and tools/list goes to the server. */
#define TOOL_CACHE_MAX_PAGES 64

struct tool_cache {
	ab_json *gathering; /* the tools of the pages so far; NULL when not gathering */
	size_t pages;
	int64_t count, gathered; /* tools in the cache (-1: none yet), in the pages so far */
	yajl_val result;         /* the cached tools/list result: {"tools":[...]}; NULL: none */
	int64_t request_id;      /* the tools/list in flight, or 0 */
};

void tool_cache_init(struct tool_cache *tc);

/* Forget everything (the server went away, or changed its tools). */
void tool_cache_clear(struct tool_cache *tc);

/* Take one page (a tools/list result). Returns its nextCursor when there is
 * another page to ask for (owned by result), else NULL: the cache is then
 * complete (or, past TOOL_CACHE_MAX_PAGES or on a malformed page, left
 * empty). */
const char *tool_cache_add_page(struct tool_cache *tc, yajl_val result,
                                void (*gen_tree)(ab_json *g, yajl_val value));

#endif
