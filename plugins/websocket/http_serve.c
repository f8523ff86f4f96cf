#include "websocket.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <agentbus/json.h>

#include "conn.h"
#include "http_serve.h"

/* The largest static file served (the console's bundle is far smaller). */
#define MAX_STATIC_FILE (16 * 1024 * 1024)

static const char *status_text(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 413: return "Content Too Large";
	case 422: return "Unprocessable Content";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 504: return "Gateway Timeout";
	case 426: return "Upgrade Required";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

/* The one writer of plain HTTP answers: a HEAD request gets the head only. */
static void respond(struct conn *c, int status, const char *content_type, const char *extra_headers,
                    const char *body, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n"
	                    "Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
	                    "Connection: %s\r\n%s%s%s%s",
	                    status, status_text(status), len, c->keep_alive ? "keep-alive" : "close",
	                    content_type ? "Content-Type: " : "", content_type ? content_type : "",
	                    content_type ? "\r\n" : "", extra_headers);
	if (c->origin[0]) /* an allowed browser origin may read the answer */
		evbuffer_add_printf(out, "Access-Control-Allow-Origin: %s\r\n", c->origin);
	/* Answers differ by Origin wherever one could be allowed. */
	evbuffer_add_printf(out, "Vary: Origin\r\n\r\n");
	if (len && !c->head_request)
		evbuffer_add(out, body, len);
	conn_http_answered(c);
}

void http_respond(struct conn *c, int status, const char *content_type, const char *body,
                  size_t len)
{
	respond(c, status, content_type, status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "", body, len);
}

void http_preflight(struct conn *c)
{
	respond(c, 204, NULL,
	        "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
	        "Access-Control-Allow-Headers: Content-Type, Cache-Control, Pragma, Expires, Authorization\r\n"
	        "Access-Control-Max-Age: 600\r\n",
	        NULL, 0);
}

void http_error(struct conn *c, int status, const char *why)
{
	ws_log(c->listener, AB_LOG_INFO, "%s: HTTP %d: %s", c->peer, status, why);
	ab_json *g = ab_json_new();
	ab_json_map_open(g);
	ab_json_str(g, "detail");
	ab_json_str(g, why);
	ab_json_map_close(g);
	size_t len;
	const char *body = ab_json_output(g, &len);
	if (body)
		http_respond(c, status, "application/json", body, len);
	else
		http_respond(c, 500, "text/plain", "out of memory\n", 14);
	ab_json_free(g);
}

/* ---- /health, /ready, /metrics ------------------------------------------------- */

static void serve_health(struct conn *c, bool ready_only)
{
	const struct ab_services *svc = c->listener->svc;
	size_t len;
	bool ready;
	char *health = svc->render_health(&len, &ready);
	if (!health) {
		http_error(c, 500, "out of memory");
		return;
	}
	if (ready_only) {
		const char *body = ready ? "{\"ready\":true}" : "{\"ready\":false}";
		http_respond(c, ready ? 200 : 503, "application/json", body, strlen(body));
	} else {
		/* /health answers 200 while the process runs; its status says more. */
		http_respond(c, 200, "application/json", health, len);
	}
	svc->report_free(health);
}

static void serve_metrics(struct conn *c)
{
	const struct ab_services *svc = c->listener->svc;
	size_t len;
	char *text = svc->render_metrics(&len);
	if (!text) {
		http_error(c, 500, "out of memory");
		return;
	}
	http_respond(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
	svc->report_free(text);
}

/* ---- static files --------------------------------------------------------------- */

static const char *content_type_of(const char *path)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },  { ".js", "text/javascript; charset=utf-8" },
		{ ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
		{ ".json", "application/json" },          { ".svg", "image/svg+xml" },
		{ ".png", "image/png" },                  { ".ico", "image/x-icon" },
		{ ".txt", "text/plain; charset=utf-8" },  { ".map", "application/json" },
		{ ".woff2", "font/woff2" },
	};
	const char *dot = strrchr(path, '.');
	for (size_t i = 0; dot && i < sizeof types / sizeof *types; i++) {
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	}
	return "application/octet-stream";
}

/* A request path we would serve: plain characters, no "..", no empty or
 * hidden segment. Everything else is refused before touching the disk. */
static bool safe_path(const char *path, size_t len)
{
	if (len == 0 || path[0] != '/' || len > 512)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = path[i];
		bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9') || ch == '/' || ch == '.' || ch == '-' || ch == '_';
		if (!plain)
			return false;
		if (ch == '/' && i + 1 < len && (path[i + 1] == '/' || path[i + 1] == '.'))
			return false; /* "//", "/..", "/.hidden" */
	}
	return true;
}

static bool serve_static(struct conn *c, const struct http_request *req)
{
	struct listener *l = c->listener;
	if (!l->static_dir)
		return false;
	size_t len = http_request_path(req).len;
	if (!safe_path(req->target.at, len))
		return false;
	char path[PATH_MAX];
	bool dir = req->target.at[len - 1] == '/';
	int n = snprintf(path, sizeof path, "%s%.*s%s", l->static_dir, (int)len, req->target.at,
	                 dir ? "index.html" : "");
	if (n < 0 || (size_t)n >= sizeof path)
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > MAX_STATIC_FILE) {
		if (fd >= 0)
			close(fd);
		return false;
	}
	char *body = malloc((size_t)st.st_size + 1);
	ssize_t got = body ? read(fd, body, (size_t)st.st_size) : -1;
	close(fd);
	if (got != st.st_size) {
		free(body);
		http_error(c, 500, "cannot read the file");
		return true;
	}
	http_respond(c, 200, content_type_of(path), body, (size_t)got);
	free(body);
	return true;
}

bool http_serve(struct conn *c, const struct http_request *req)
{
	bool get = http_span_equals(req->method, "GET"), head = http_span_equals(req->method, "HEAD");
	struct http_span path = http_request_path(req);
	if (http_span_equals(path, "/health") || http_span_equals(path, "/ready") ||
	    http_span_equals(path, "/metrics")) {
		if (!get) {
			http_error(c, 405, "use GET");
			return true;
		}
		if (http_span_equals(path, "/metrics"))
			serve_metrics(c);
		else
			serve_health(c, http_span_equals(path, "/ready"));
		return true;
	}
	return (get || head) && serve_static(c, req);
}
