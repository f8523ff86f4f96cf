/* The error replies the core itself makes, in the protocol's one error shape:
 *   {"type":"<reply type>","correlation_id":"...","query_id":...,
 *    "error":{"error_type":"...","message":"..."},"timestamp":"..."}
 * query_id is echoed when the request had one. */
#ifndef AB_CORE_REPLIES_H
#define AB_CORE_REPLIES_H

#include <agentbus/types.h>

/* A new message (one reference) answering `request` (may be NULL for a
 * message that could not be parsed: then cid is used as given, or left out
 * when NULL). NULL only without memory. */
ab_msg *replies_error(ab_msg *request, const char *cid, const char *reply_type,
                      const char *error_type, const char *message);

#endif
