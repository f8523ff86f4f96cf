/* Where a network upstream is: the host, port and path of its URL, and
 * whether the scheme asks for TLS (https://, wss://). */
#ifndef AB_MCP_ENDPOINT_H
#define AB_MCP_ENDPOINT_H

#include <stdbool.h>
#include <stddef.h>

struct endpoint {
	char *host;
	char *path; /* with its query; "/" when the URL has none */
	int port;   /* the scheme's default when the URL has none */
	bool tls;
};

/* Accepts the schemes plain (port 80) and secure (port 443), e.g. "http"
 * and "https". 0, or -1 with the reason in why. */
int endpoint_parse(struct endpoint *e, const char *url, const char *plain, const char *secure, char *why,
                   size_t why_len);
void endpoint_free(struct endpoint *e);

#endif
