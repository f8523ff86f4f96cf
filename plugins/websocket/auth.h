/* Frontend authentication (off by default): static bearer tokens from a
 * file ("TOKEN USER" per line), or JWTs signed HS256 (a shared secret) or
 * RS256 (a public key), with exp and nbf checked. A valid token names the
 * session's user. Tokens are never logged. */
#ifndef AB_WS_AUTH_H
#define AB_WS_AUTH_H

#include <stddef.h>

enum auth_mode { AUTH_NONE, AUTH_TOKEN, AUTH_JWT };

struct auth;

struct auth_settings {
	enum auth_mode mode;
	const char *tokens_file;     /* AUTH_TOKEN */
	const char *jwt_secret;      /* AUTH_JWT, HS256 */
	const char *jwt_public_key;  /* AUTH_JWT, RS256: a PEM file */
};

/* NULL with the reason in why when the settings do not make an auth (a
 * missing file, no key). For AUTH_NONE, an auth that admits anyone. */
struct auth *auth_new(const struct auth_settings *s, char *why, size_t why_len);
void auth_free(struct auth *a);

int auth_enabled(const struct auth *a);

/* Check a token: 0 and its user (1 to 64 of [A-Za-z0-9_.-]) in user, or -1
 * with why (static text, without the token). */
int auth_check(const struct auth *a, const char *token, size_t len, char user[65],
               const char **why);

#endif
