/* libFuzzer: core/jsonparse.c against yajl on arbitrary bytes. The scan
 * and the tree agree on what is JSON; what yajl takes we take too, with
 * the same tree, unless RFC 3629 or the depth limit says otherwise; each
 * top-level member's bytes, parsed alone, give that member's value; and
 * the tree written back with the JSON writer (include/agentbus/json.h)
 * parses to the same tree. */
#include "build-config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

#include "core/jsonparse.h"
#include "core/jsontree.h"
#include "tests/unit/tree_equal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct members {
	const char *json;
	yajl_val root;
	size_t index;
};

static bool check_member(void *ctx, const struct jsonparse_member *m)
{
	struct members *ms = ctx;
	yajl_val alone = jsonparse_tree(ms->json + m->start, m->end - m->start, 64, NULL);
	if (!alone || ms->index >= ms->root->u.object.len ||
	    strcmp(ms->root->u.object.keys[ms->index], m->key) != 0 ||
	    !tree_equal(alone, ms->root->u.object.values[ms->index]))
		__builtin_trap();
	jsonparse_free(alone);
	ms->index++;
	return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *json = (const char *)data;
	struct jsonparse_error err;
	yajl_val ours = jsonparse_tree(json, size, 64, &err);
	struct members ms = { json, ours, 0 };
	yajl_type root;
	enum jsonparse_status scanned =
		jsonparse_scan(json, size, 64, ours && YAJL_IS_OBJECT(ours) ? check_member : NULL, &ms, &root, NULL);
	if ((scanned == JSONPARSE_OK) != (ours != NULL) || (ours && root != ours->type))
		__builtin_trap();
	if (ours) {
		ab_json *g = ab_json_new();
		jsontree_gen(g, ours);
		size_t len;
		const char *written = ab_json_output(g, &len);
		yajl_val again = written ? jsonparse_tree(written, len, 64, NULL) : NULL;
		/* a NUL in a string ends it in the tree, so the trees still agree */
		if (!again || !tree_equal(ours, again))
			__builtin_trap();
		jsonparse_free(again);
		ab_json_free(g);
	}

	/* yajl reads up to a NUL and takes comments: compare where it cannot. */
	if (!memchr(data, '\0', size) && !memchr(data, '/', size)) {
		char *text = strndup(json, size);
		yajl_val theirs = text ? yajl_tree_parse(text, NULL, 0) : NULL;
		/* Where RFC 8259 and 3629 are stricter than yajl: bytes past ASCII
		 * (UTF-8), and \v or \f, which yajl takes for blanks. */
		bool stricter = false, surrogate_escape = false;
		for (size_t i = 0; i < size; i++) {
			stricter |= data[i] >= 0x80 || data[i] == '\v' || data[i] == '\f';
			surrogate_escape |= i + 2 < size && data[i] == '\\' && data[i + 1] == 'u' &&
			                    (data[i + 2] | 0x20) == 'd';
		}
		if (ours && !theirs)
			__builtin_trap(); /* we take what yajl refuses */
		/* yajl takes an unterminated string after the value for data still
		 * to come (see tests/unit/test_msg.c), hence "bytes after". */
		bool yajl_waits = strstr(err.text, "bytes after the message") != NULL;
		if (!ours && theirs && !stricter && !yajl_waits && err.status != JSONPARSE_TOO_DEEP)
			__builtin_trap(); /* we refuse JSON that yajl takes */
		if (ours && theirs && !surrogate_escape && !tree_equal(ours, theirs))
			__builtin_trap();
		yajl_tree_free(theirs);
		free(text);
	}
	jsonparse_free(ours);
	return 0;
}
