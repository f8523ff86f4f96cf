#include "build-config.h"

#include "client_tls.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>

#include <openssl/x509v3.h>

SSL_CTX *client_tls_context(const char *ca_file, char *why, size_t why_len)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(why, why_len, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if ((ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx)) != 1) {
		snprintf(why, why_len, "tls_ca: cannot load %s", ca_file ? ca_file : "the system's CAs");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

SSL *client_tls_session(SSL_CTX *ctx, const char *host)
{
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		return NULL;
	X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
	unsigned char addr[16];
	bool literal = inet_pton(AF_INET, host, addr) == 1 || inet_pton(AF_INET6, host, addr) == 1;
	int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host)
	                 : X509_VERIFY_PARAM_set1_host(param, host, 0) && SSL_set_tlsext_host_name(ssl, host);
	if (!ok) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}
