/* TLS towards an upstream (https://, wss://): TLS 1.2 or later, and the
 * server's certificate checked against the configured CA file (or the
 * system's trusted CAs) and against the URL's host, a name or an address. */
#ifndef AB_MCP_CLIENT_TLS_H
#define AB_MCP_CLIENT_TLS_H

#include <stddef.h>

#include <openssl/ssl.h>

/* ca_file NULL: the system's CAs. NULL with the reason in why. */
SSL_CTX *client_tls_context(const char *ca_file, char *why, size_t why_len);

/* One connection's TLS state, verifying host (with SNI for a name). NULL
 * when out of memory. */
SSL *client_tls_session(SSL_CTX *ctx, const char *host);

#endif
