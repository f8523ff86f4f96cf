#include "build-config.h"

#include "rpc_id.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool rpc_id_encode(yajl_val id, char *out, size_t len)
{
	int n;
	if (YAJL_IS_INTEGER(id))
		n = snprintf(out, len, "n:%lld", YAJL_GET_INTEGER(id));
	else if (YAJL_IS_STRING(id) && strlen(id->u.string) <= RPC_ID_MAX)
		n = snprintf(out, len, "s:%s", id->u.string);
	else
		return false;
	return n > 0 && (size_t)n < len;
}

void rpc_id_gen(ab_json *g, const char *cid)
{
	if (cid && strncmp(cid, "s:", 2) == 0) {
		ab_json_string(g, cid + 2, strlen(cid + 2));
		return;
	}
	char *end;
	long long n = cid && strncmp(cid, "n:", 2) == 0 ? strtoll(cid + 2, &end, 10) : 0;
	if (cid && strncmp(cid, "n:", 2) == 0 && cid[2] && !*end)
		ab_json_integer(g, n);
	else
		ab_json_null(g);
}
