/* The correlation id a JSON-RPC request travels under through the broker,
 * and back: its id with the id's JSON type kept, "n:17" for 17 and "s:17"
 * for "17". Pure: unit-tested. */
#ifndef AB_WS_RPC_ID_H
#define AB_WS_RPC_ID_H

#include <stdbool.h>
#include <stddef.h>

#include <agentbus/json.h>
#include <yajl/yajl_tree.h>

/* The longest string id taken. */
#define RPC_ID_MAX 200

/* False for an id JSON-RPC requests may not have (null, a fraction, an
 * object, a string over RPC_ID_MAX bytes). */
bool rpc_id_encode(yajl_val id, char *out, size_t len);

/* Write the id a correlation id stands for into g; null for one that
 * stands for none. */
void rpc_id_gen(ab_json *g, const char *cid);

#endif
