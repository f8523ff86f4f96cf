#include <stdio.h>

#include <openssl/err.h>

#include "tls.h"

/* TLS 1.2's forward-secret AEAD suites; TLS 1.3 keeps OpenSSL's defaults
 * (all of which are). */
static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

static SSL_CTX *fail(SSL_CTX *ctx, const char *what, const char *file, char *why, size_t why_len)
{
	char reason[160];
	ERR_error_string_n(ERR_get_error(), reason, sizeof reason);
	ERR_clear_error();
	snprintf(why, why_len, "%s %s: %s", what, file, reason);
	SSL_CTX_free(ctx);
	return NULL;
}

SSL_CTX *tls_context_new(const char *cert_file, const char *key_file, char *why, size_t why_len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx)
		return fail(NULL, "cannot create a TLS context for", cert_file, why, why_len);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* An idle connection gives its record buffers back (an idle wss
	 * connection's RSS went from 54 to 50 KiB; docs/benchmarks.md). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	                             SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1)
		return fail(ctx, "cannot set the ciphers for", cert_file, why, why_len);
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1)
		return fail(ctx, "cannot load the certificate", cert_file, why, why_len);
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1)
		return fail(ctx, "cannot load the key", key_file, why, why_len);
	if (SSL_CTX_check_private_key(ctx) != 1)
		return fail(ctx, "the key does not match the certificate", cert_file, why, why_len);
	return ctx;
}
