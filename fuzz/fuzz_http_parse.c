/* libFuzzer: the HTTP request-head parser and the upgrade check on
 * arbitrary bytes. Whatever it returns, the spans it reports lie inside the
 * input. */
#include <stddef.h>
#include <stdint.h>

#include "plugins/websocket/http_parse.h"
#include "plugins/websocket/ws_handshake.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void inside(const char *buf, size_t size, struct http_span s)
{
	if (s.len && (s.at < buf || s.at + s.len > buf + size))
		__builtin_trap();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct http_request req;
	if (http_parse_request(buf, size, 16384, &req) != 1)
		return 0;
	inside(buf, size, req.method);
	inside(buf, size, req.target);
	for (size_t i = 0; i < req.n_headers; i++) {
		inside(buf, size, req.headers[i].name);
		inside(buf, size, req.headers[i].value);
	}
	char accept[WS_ACCEPT_LEN];
	const char *why;
	ws_handshake_check(&req, accept, &why);
	http_header_has_token(&req, "Connection", "upgrade");
	return 0;
}
