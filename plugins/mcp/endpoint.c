#include "build-config.h"

#include "endpoint.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

int endpoint_parse(struct endpoint *e, const char *url, const char *plain, const char *secure, char *why,
                   size_t why_len)
{
	memset(e, 0, sizeof *e);
	struct evhttp_uri *uri = evhttp_uri_parse(url);
	const char *scheme = uri ? evhttp_uri_get_scheme(uri) : NULL;
	if (!uri || !scheme || !evhttp_uri_get_host(uri)) {
		snprintf(why, why_len, "not a URL");
		if (uri)
			evhttp_uri_free(uri);
		return -1;
	}
	e->tls = strcmp(scheme, secure) == 0;
	if (!e->tls && strcmp(scheme, plain) != 0) {
		snprintf(why, why_len, "not a %s:// or %s:// URL", plain, secure);
		evhttp_uri_free(uri);
		return -1;
	}
	const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
	e->host = strdup(evhttp_uri_get_host(uri));
	e->port = evhttp_uri_get_port(uri) > 0 ? evhttp_uri_get_port(uri) : e->tls ? 443 : 80;
	if (asprintf(&e->path, "%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "") < 0)
		e->path = NULL;
	evhttp_uri_free(uri);
	if (!e->host || !e->path) {
		snprintf(why, why_len, "out of memory");
		endpoint_free(e);
		return -1;
	}
	return 0;
}

void endpoint_free(struct endpoint *e)
{
	free(e->host);
	free(e->path);
	e->host = e->path = NULL;
}
