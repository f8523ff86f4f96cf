/* wss: the listener's TLS context (OpenSSL), from a certificate chain and a
 * key in PEM files: TLS 1.2 at the least, forward-secret AEAD ciphers only.
 * A reload builds a new context from the files (so a renewed certificate
 * is picked up) and swaps it in for new connections. */
#ifndef AB_WS_TLS_H
#define AB_WS_TLS_H

#include <openssl/ssl.h>

/* A new context, or NULL with the reason (OpenSSL's) in why. */
SSL_CTX *tls_context_new(const char *cert_file, const char *key_file, char *why, size_t why_len);

#endif
