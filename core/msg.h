/* Messages: raw JSON bytes plus the routing fields, extracted in one pass
 * that also validates the JSON. The full tree is parsed only when someone
 * asks for it. Immutable once submitted; reference counted. */
#ifndef AB_CORE_MSG_H
#define AB_CORE_MSG_H

#include <stdbool.h>
#include <stddef.h>

#include <agentbus/json.h>
#include <agentbus/types.h>
#include <yajl/yajl_tree.h>

/* Limits every parse applies ([broker] max_message_size, max_json_depth). */
void msg_set_limits(size_t max_size, unsigned max_depth);
unsigned msg_max_depth(void);

/* Ingress: what arrives from outside, checked against the limits. */
ab_msg *msg_parse(const char *json, size_t len, struct ab_parse_error *err);

/* Messages made inside the broker (replies, translations): checked, but not
 * against the size and depth limits, which are for what clients send. */
ab_msg *msg_build(const char *json, size_t len, struct ab_parse_error *err);

/* msg_build of what g wrote (services->msg_build): NULL, with err saying
 * so, when g has no text (out of memory, or misused). */
ab_msg *msg_build_written(const ab_json *g, struct ab_parse_error *err);
ab_msg *msg_ref(ab_msg *msg);
void msg_unref(ab_msg *msg);

const char *msg_type(const ab_msg *msg);
const char *msg_correlation_id(const ab_msg *msg);
const char *msg_source(const ab_msg *msg);
const char *msg_json(const ab_msg *msg, size_t *len);
yajl_val msg_tree(ab_msg *msg);

/* The top-level string member `key` from the tree, or NULL. */
const char *msg_get_string(ab_msg *msg, const char *key);

/* A copy of msg whose top-level correlation_id is `cid` (added when absent).
 * Returns a new message with one reference, or NULL when out of memory. */
ab_msg *msg_with_correlation_id(const ab_msg *msg, const char *cid);

/* Submission: marks the message immutable and records its source. Returns
 * false when it was submitted before. */
bool msg_mark_submitted(ab_msg *msg, const char *source);

#endif
