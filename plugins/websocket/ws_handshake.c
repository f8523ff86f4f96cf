#include <string.h>

#include <openssl/evp.h>

#include "ws_handshake.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

void ws_accept_key(const char *key, size_t key_len, char accept[WS_ACCEPT_LEN])
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int digest_len = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
	EVP_DigestUpdate(ctx, key, key_len);
	EVP_DigestUpdate(ctx, ws_guid, sizeof ws_guid - 1);
	EVP_DigestFinal_ex(ctx, digest, &digest_len);
	EVP_MD_CTX_free(ctx);
	EVP_EncodeBlock((unsigned char *)accept, digest, (int)digest_len);
}

/* A key must be the base64 of 16 bytes: 22 characters and "==". */
static bool valid_key(struct http_span key)
{
	if (key.len != 24 || key.at[22] != '=' || key.at[23] != '=')
		return false;
	static const char alphabet[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	for (size_t i = 0; i < 22; i++) {
		if (!memchr(alphabet, key.at[i], 64))
			return false;
	}
	/* The last character carries 2 bits; the 4 unused bits must be 0. */
	return (strchr(alphabet, key.at[21]) - alphabet) % 16 == 0;
}

int ws_handshake_check(const struct http_request *req, char accept[WS_ACCEPT_LEN],
                       const char **why)
{
	/* Methods are case-sensitive (RFC 9110 9.1): "get" is not GET. */
	if (req->method.len != 3 || memcmp(req->method.at, "GET", 3) != 0) {
		*why = "a WebSocket upgrade must be a GET";
		return 400;
	}
	if (req->minor < 1) {
		*why = "a WebSocket upgrade needs HTTP/1.1";
		return 400;
	}
	if (!http_header(req, "Host")) {
		*why = "no Host header";
		return 400;
	}
	if (!http_header_has_token(req, "Upgrade", "websocket") ||
	    !http_header_has_token(req, "Connection", "upgrade")) {
		*why = "not a WebSocket upgrade (Upgrade: websocket, Connection: Upgrade)";
		return 400;
	}
	const struct http_header *version = http_header(req, "Sec-WebSocket-Version");
	if (!version || !http_span_equals(version->value, "13")) {
		*why = "unsupported Sec-WebSocket-Version (this server speaks 13)";
		return 426;
	}
	const struct http_header *key = http_header(req, "Sec-WebSocket-Key");
	if (!key || !valid_key(key->value)) {
		*why = "missing or malformed Sec-WebSocket-Key";
		return 400;
	}
	ws_accept_key(key->value.at, key->value.len, accept);
	return 0;
}
