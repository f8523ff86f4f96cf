/* The server's side of the RFC 6455 opening handshake (section 4.2): is this
 * request a valid WebSocket upgrade, and the Sec-WebSocket-Accept answer.
 * Pure apart from hashing (OpenSSL). */
#ifndef AB_WS_HANDSHAKE_H
#define AB_WS_HANDSHAKE_H

#include "http_parse.h"

/* The accept key is 28 base64 characters. */
#define WS_ACCEPT_LEN 29

/* Check the upgrade headers of req. Returns 0 and fills accept, or the HTTP
 * status to refuse with (400, or 426 for a version other than 13: answer
 * it with "Sec-WebSocket-Version: 13") and why. */
int ws_handshake_check(const struct http_request *req, char accept[WS_ACCEPT_LEN],
                       const char **why);

/* Sec-WebSocket-Accept for a key (exactly as sent). */
void ws_accept_key(const char *key, size_t key_len, char accept[WS_ACCEPT_LEN]);

#endif
