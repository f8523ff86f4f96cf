#define _POSIX_C_SOURCE 200809L

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <yajl/yajl_tree.h>

#include "auth.h"

#define MAX_TOKEN 8192

struct token {
	char *token;
	char user[65];
};

struct auth {
	enum auth_mode mode;
	struct token *tokens;
	size_t n_tokens;
	char *secret;
	size_t secret_len;
	EVP_PKEY *public_key;
};

static bool valid_user(const char *user, size_t len)
{
	if (len == 0 || len > 64)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = user[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-' || c == '.'))
			return false;
	}
	return true;
}

static int load_tokens(struct auth *a, const char *file, char *why, size_t why_len)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		snprintf(why, why_len, "cannot open the tokens file %s", file);
		return -1;
	}
	char line[MAX_TOKEN + 128];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		char *token = strtok(line, " \t\r\n");
		if (!token || token[0] == '#')
			continue;
		char *user = strtok(NULL, " \t\r\n");
		if (!user || !valid_user(user, strlen(user)) || strtok(NULL, " \t\r\n")) {
			snprintf(why, why_len, "%s:%d: expected 'TOKEN USER' (a user of [A-Za-z0-9_.-])",
			         file, lineno);
			rc = -1;
			break;
		}
		struct token *grown = realloc(a->tokens, (a->n_tokens + 1) * sizeof *grown);
		if (!grown || !(grown[a->n_tokens].token = strdup(token))) {
			if (grown)
				a->tokens = grown;
			snprintf(why, why_len, "out of memory");
			rc = -1;
			break;
		}
		a->tokens = grown;
		snprintf(a->tokens[a->n_tokens].user, sizeof a->tokens[a->n_tokens].user, "%s", user);
		a->n_tokens++;
	}
	fclose(f);
	if (rc == 0 && a->n_tokens == 0) {
		snprintf(why, why_len, "the tokens file %s holds no token", file);
		rc = -1;
	}
	return rc;
}

static int load_public_key(struct auth *a, const char *file, char *why, size_t why_len)
{
	FILE *f = fopen(file, "r");
	if (!f) {
		snprintf(why, why_len, "cannot open the JWT public key %s", file);
		return -1;
	}
	a->public_key = PEM_read_PUBKEY(f, NULL, NULL, NULL);
	fclose(f);
	if (!a->public_key || EVP_PKEY_get_base_id(a->public_key) != EVP_PKEY_RSA) {
		snprintf(why, why_len, "%s is not an RSA public key in PEM", file);
		return -1;
	}
	return 0;
}

struct auth *auth_new(const struct auth_settings *s, char *why, size_t why_len)
{
	struct auth *a = calloc(1, sizeof *a);
	if (!a) {
		snprintf(why, why_len, "out of memory");
		return NULL;
	}
	a->mode = s->mode;
	int rc = 0;
	if (s->mode == AUTH_TOKEN) {
		rc = s->tokens_file ? load_tokens(a, s->tokens_file, why, why_len)
		                    : (snprintf(why, why_len, "auth = token needs auth_tokens_file"), -1);
	} else if (s->mode == AUTH_JWT) {
		if (s->jwt_secret && *s->jwt_secret) {
			a->secret = strdup(s->jwt_secret);
			a->secret_len = strlen(s->jwt_secret);
			rc = a->secret ? 0 : -1;
		}
		if (rc == 0 && s->jwt_public_key)
			rc = load_public_key(a, s->jwt_public_key, why, why_len);
		if (rc == 0 && !a->secret && !a->public_key) {
			snprintf(why, why_len, "auth = jwt needs jwt_secret (HS256) or jwt_public_key (RS256)");
			rc = -1;
		}
	}
	if (rc < 0) {
		auth_free(a);
		return NULL;
	}
	return a;
}

void auth_free(struct auth *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n_tokens; i++) {
		OPENSSL_cleanse(a->tokens[i].token, strlen(a->tokens[i].token));
		free(a->tokens[i].token);
	}
	free(a->tokens);
	if (a->secret)
		OPENSSL_cleanse(a->secret, a->secret_len);
	free(a->secret);
	EVP_PKEY_free(a->public_key);
	free(a);
}

int auth_enabled(const struct auth *a)
{
	return a && a->mode != AUTH_NONE;
}

/* ---- static tokens ------------------------------------------------------------ */

static int check_static(const struct auth *a, const char *token, size_t len, char user[65])
{
	/* Every entry is compared, in constant time, whatever matches. */
	int found = -1;
	for (size_t i = 0; i < a->n_tokens; i++) {
		const char *t = a->tokens[i].token;
		size_t tlen = strlen(t);
		if (tlen == len && CRYPTO_memcmp(t, token, len) == 0 && found < 0)
			found = (int)i;
	}
	if (found < 0)
		return -1;
	snprintf(user, 65, "%s", a->tokens[found].user);
	return 0;
}

/* ---- JWT ----------------------------------------------------------------------- */

/* base64url without padding; returns the decoded length, or -1. */
static long b64url_decode(const char *in, size_t len, unsigned char *out, size_t out_cap)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];
		int v = c >= 'A' && c <= 'Z' ? c - 'A'
		      : c >= 'a' && c <= 'z' ? c - 'a' + 26
		      : c >= '0' && c <= '9' ? c - '0' + 52
		      : c == '-' ? 62 : c == '_' ? 63 : -1;
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (n == out_cap)
				return -1;
			out[n++] = (unsigned char)(acc >> bits);
		}
	}
	return (long)n;
}

static yajl_val decode_json(const char *part, size_t len)
{
	unsigned char buf[MAX_TOKEN];
	long n = b64url_decode(part, len, buf, sizeof buf - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return yajl_tree_parse((const char *)buf, NULL, 0);
}

static const char *json_string(yajl_val obj, const char *key)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, path, yajl_t_string);
	return v ? YAJL_GET_STRING(v) : NULL;
}

static bool json_time(yajl_val obj, const char *key, long long *out)
{
	const char *path[] = { key, NULL };
	yajl_val v = yajl_tree_get(obj, path, yajl_t_number);
	if (!v || !YAJL_IS_INTEGER(v))
		return false;
	*out = YAJL_GET_INTEGER(v);
	return true;
}

static bool verify_hs256(const struct auth *a, const char *signed_part, size_t signed_len,
                         const unsigned char *sig, long sig_len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;
	if (!HMAC(EVP_sha256(), a->secret, (int)a->secret_len, (const unsigned char *)signed_part,
	          signed_len, mac, &mac_len))
		return false;
	return sig_len == (long)mac_len && CRYPTO_memcmp(mac, sig, mac_len) == 0;
}

static bool verify_rs256(const struct auth *a, const char *signed_part, size_t signed_len,
                         const unsigned char *sig, long sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, a->public_key) == 1 &&
	          EVP_DigestVerify(ctx, sig, (size_t)sig_len, (const unsigned char *)signed_part,
	                           signed_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

static int check_jwt(const struct auth *a, const char *token, size_t len, char user[65],
                     const char **why)
{
	const char *dot1 = memchr(token, '.', len);
	const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
	if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
		*why = "not a JWT";
		return -1;
	}
	yajl_val header = decode_json(token, (size_t)(dot1 - token));
	const char *alg = header ? json_string(header, "alg") : NULL;
	unsigned char sig[1024];
	long sig_len = b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof sig);
	size_t signed_len = (size_t)(dot2 - token);
	bool verified = false;
	/* The algorithm must be one we hold a key for: never "none", and never
	 * HS256 checked against a public key. */
	if (alg && sig_len > 0 && strcmp(alg, "HS256") == 0 && a->secret)
		verified = verify_hs256(a, token, signed_len, sig, sig_len);
	else if (alg && sig_len > 0 && strcmp(alg, "RS256") == 0 && a->public_key)
		verified = verify_rs256(a, token, signed_len, sig, sig_len);
	yajl_tree_free(header);
	if (!verified) {
		*why = "the token's signature does not verify";
		return -1;
	}
	yajl_val claims = decode_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
	const char *sub = claims ? json_string(claims, "sub") : NULL;
	long long exp, nbf, now = (long long)time(NULL);
	int rc = -1;
	if (!claims)
		*why = "the token's claims are not JSON";
	else if (!json_time(claims, "exp", &exp))
		*why = "the token has no exp";
	else if (now >= exp)
		*why = "the token has expired";
	else if (json_time(claims, "nbf", &nbf) && now < nbf)
		*why = "the token is not valid yet";
	else if (!sub || !valid_user(sub, strlen(sub)))
		*why = "the token's sub is not a user id";
	else {
		snprintf(user, 65, "%s", sub);
		rc = 0;
	}
	yajl_tree_free(claims);
	return rc;
}

int auth_check(const struct auth *a, const char *token, size_t len, char user[65],
               const char **why)
{
	*why = "invalid token";
	if (!a || a->mode == AUTH_NONE || len == 0 || len > MAX_TOKEN)
		return -1;
	if (a->mode == AUTH_TOKEN)
		return check_static(a, token, len, user);
	return check_jwt(a, token, len, user, why);
}
