/* The benchmarks' load generator: C WebSocket connections, each with W
 * requests in flight, for D seconds (after a warm-up), against a broker or
 * relay speaking the frontend protocol (handshake, then query messages)
 * or MCP JSON-RPC (tools/call echo). Prints one JSON line: requests/s,
 * latency percentiles (p50, p90, p99, p99.9, max, in microseconds), and
 * errors. --idle N instead opens N handshaken connections, holds them, and
 * reports the RSS of --pid before and after (KiB per connection); source
 * addresses spread over 127.0.0.x when one runs out of ports. --stdio CMD
 * measures the upstream alone, the ceiling of any relay in front of it: CMD
 * (an MCP stdio server) gets C x W tools/call requests in flight on its own
 * pipes, and its CPU time per request is reported too.
 *
 *   loadgen --port 8080 [--path /ws] [--mode frontend|jsonrpc] [-c 50] [-w 4]
 *           [-d 10] [--warmup 2]
 *   loadgen --stdio CMD [-c 50] [-w 4] [-d 10] [--warmup 2]
 *   loadgen --port 8080 --idle 10000 --pid PID
 * --tls speaks wss (the certificate is not checked: the benchmarks' own).
 * Every run also reports the generator's own CPU time per request, and
 * every request answered (warm-up included), by which a caller divides the
 * CPU time of the processes it watches. */
#include "build-config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/util.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>

#include "plugins/websocket/http_parse.h"
#include "plugins/websocket/ws_codec.h"
#include "plugins/websocket/ws_handshake.h"

#define MAX_IN_FLIGHT 256
/* Idle connections still in their handshakes, at most: 10,000 opened at
 * once would be a connection storm (TLS handshakes past the broker's
 * handshake_timeout), not the idle state measured. */
#define MAX_OPENING 200

enum mode { MODE_FRONTEND, MODE_JSONRPC };
enum phase { PH_UPGRADE, PH_GREETING, PH_ACK, PH_RUNNING };

struct options {
	int port, connections, in_flight, duration_s, warmup_s, idle;
	long pid;
	const char *path, *stdio_cmd;
	SSL_CTX *tls; /* --tls */
	enum mode mode;
};

struct conn;

struct run {
	struct options opt;
	struct event_base *base;
	struct conn *conns;
	int ready, failed;
	int opened; /* idle mode: connections started so far */
	bool measuring, done;
	long rss_before;
	uint64_t started_us, measure_from_us;
	uint64_t completed, errors, answered; /* answered: warm-up included */
	pid_t child; /* --stdio: the upstream */
	uint32_t *latencies; /* microseconds, of the measured requests */
	size_t n_lat, cap_lat;
};

struct conn {
	struct run *run;
	int index;
	struct bufferevent *bev;
	struct bufferevent *to_child; /* --stdio: the upstream's stdin (bev reads its stdout) */
	int to_child_fd;
	enum phase phase;
	char accept[WS_ACCEPT_LEN + 1];
	struct ws_reader reader;
	uint64_t sent_us[MAX_IN_FLIGHT];
	uint64_t next_id;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void send_text(struct conn *c, const char *data, size_t len)
{
	uint8_t head[14], mask[4] = { 0x12, 0x34, 0x56, 0x78 };
	size_t head_len = ws_frame_header(head, true, WS_OP_TEXT, len, mask);
	struct evbuffer *out = bufferevent_get_output(c->bev);
	evbuffer_add(out, head, head_len);
	struct evbuffer_iovec iov;
	if (evbuffer_reserve_space(out, (ev_ssize_t)len, &iov, 1) != 1)
		return;
	memcpy(iov.iov_base, data, len);
	ws_mask(iov.iov_base, len, mask, 0);
	iov.iov_len = len;
	evbuffer_commit_space(out, &iov, 1);
}

/* Request slot k of this connection (its correlation id or id names k). */
static void send_request(struct conn *c, int slot)
{
	char msg[256];
	int n;
	if (c->run->opt.mode == MODE_FRONTEND)
		n = snprintf(msg, sizeof msg, "{\"type\":\"query\",\"correlation_id\":\"s%d\",\"query\":\"SELECT 1\"}", slot);
	else
		n = snprintf(msg, sizeof msg,
		             "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tools/call\",\"params\":{\"name\":\"echo\","
		             "\"arguments\":{\"n\":%d}}}",
		             slot, slot);
	c->sent_us[slot] = now_us();
	if (c->to_child) {
		msg[n++] = '\n';
		bufferevent_write(c->to_child, msg, (size_t)n);
	} else {
		send_text(c, msg, (size_t)n);
	}
}

/* The slot a reply answers: "correlation_id":"sK" or "id":K, blanks
 * allowed around the colon (relays in other languages write them). -1:
 * none. */
static int slot_of(const struct conn *c, const char *msg, size_t len)
{
	bool frontend = c->run->opt.mode == MODE_FRONTEND;
	const char *key = frontend ? "\"correlation_id\"" : "\"id\"";
	const char *at = memmem(msg, len, key, strlen(key)), *end = msg + len;
	if (!at)
		return -1;
	at += strlen(key);
	while (at < end && (*at == ' ' || *at == ':'))
		at++;
	if (frontend) {
		if (end - at < 2 || at[0] != '"' || at[1] != 's')
			return -1;
		at += 2;
	}
	int slot = 0, digits = 0;
	while (at < end && *at >= '0' && *at <= '9' && digits < 6) {
		slot = slot * 10 + (*at++ - '0');
		digits++;
	}
	return digits && slot < c->run->opt.in_flight ? slot : -1;
}

static void record(struct run *r, uint64_t us)
{
	if (r->n_lat == r->cap_lat) {
		size_t cap = r->cap_lat ? r->cap_lat * 2 : 1 << 20;
		uint32_t *grown = realloc(r->latencies, cap * sizeof *grown);
		if (!grown) {
			r->errors++; /* a latency not recorded must not pass unseen */
			return;
		}
		r->latencies = grown;
		r->cap_lat = cap;
	}
	r->latencies[r->n_lat++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int open_conn(struct run *r, struct conn *c, int index);

/* Idle mode: start connections while fewer than MAX_OPENING are in their
 * handshakes. */
static void open_more(struct run *r)
{
	while (r->opened < r->opt.idle && r->opened - (r->ready + r->failed) < MAX_OPENING) {
		int i = r->opened++;
		if (open_conn(r, &r->conns[i], i) < 0)
			r->failed++;
	}
}

static void became_ready(struct conn *c)
{
	struct run *r = c->run;
	c->phase = PH_RUNNING;
	r->ready++;
	if (r->opt.idle) {
		open_more(r);
		return;
	}
	for (int k = 0; k < r->opt.in_flight; k++)
		send_request(c, k);
}

static void on_message(struct conn *c, const char *msg, size_t len)
{
	struct run *r = c->run;
	if (c->phase == PH_GREETING) { /* connection_established, then our handshake */
		static const char hello[] = "{\"type\":\"connection_handshake\",\"correlation_id\":\"h\"}";
		send_text(c, hello, sizeof hello - 1);
		c->phase = PH_ACK;
		return;
	}
	if (c->phase == PH_ACK) {
		if (memmem(msg, len, c->to_child ? "\"protocolVersion\"" : "connection_acknowledged",
		           c->to_child ? 17 : 23))
			became_ready(c);
		return;
	}
	int slot = slot_of(c, msg, len);
	if (slot < 0)
		return; /* not an answer of ours */
	bool final = r->opt.mode == MODE_JSONRPC || memmem(msg, len, "\"query_response\"", 16) ||
	             memmem(msg, len, "_error\"", 7) || memmem(msg, len, "\"type\":\"error\"", 14);
	if (!final)
		return; /* an interim reply: the request goes on */
	bool error = r->opt.mode == MODE_FRONTEND ? !memmem(msg, len, "\"query_response\"", 16)
	                                          : !memmem(msg, len, "\"result\"", 8);
	uint64_t now = now_us();
	r->answered++;
	if (r->measuring) {
		r->completed++;
		r->errors += error;
		record(r, now - c->sent_us[slot]);
	}
	if (!r->done)
		send_request(c, slot);
}

static void lose(struct conn *c);

static void on_child_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	char *line;
	size_t len;
	while ((line = evbuffer_readln(bufferevent_get_input(bev), &len, EVBUFFER_EOL_LF))) {
		on_message(c, line, len);
		free(line);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (c->phase == PH_UPGRADE) {
		size_t len = evbuffer_get_length(in);
		struct http_request head;
		int status = 0;
		int rc = http_parse_response((const char *)evbuffer_pullup(in, (ev_ssize_t)len), len, 16384, &head, &status);
		if (rc == 0)
			return;
		const struct http_header *accept = rc == 1 ? http_header(&head, "Sec-WebSocket-Accept") : NULL;
		if (rc != 1 || status != 101 || !accept || !http_span_equals(accept->value, c->accept)) {
			fprintf(stderr, "connection %d: upgrade refused (%d)\n", c->index, status);
			c->run->failed++;
			bufferevent_free(c->bev);
			c->bev = NULL;
			return;
		}
		evbuffer_drain(in, head.head_len);
		if (c->run->opt.mode == MODE_FRONTEND)
			c->phase = PH_GREETING;
		else
			became_ready(c);
	}
	while (evbuffer_get_length(in)) {
		size_t avail = evbuffer_get_contiguous_space(in);
		const uint8_t *data = evbuffer_pullup(in, (ev_ssize_t)avail);
		struct ws_event ev;
		size_t used = ws_reader_feed(&c->reader, data, avail, &ev);
		if (ev.kind == WS_EV_MESSAGE)
			on_message(c, (const char *)ev.data, ev.len);
		evbuffer_drain(in, used);
		if (ev.kind == WS_EV_CLOSE || ev.kind == WS_EV_FAIL) {
			lose(c);
			return;
		}
		if (used == 0)
			break;
	}
}

/* A connection lost: counted, and during a measured run what it had in
 * flight counts as errors. */
static void lose(struct conn *c)
{
	struct run *r = c->run;
	r->failed++;
	if (c->phase == PH_RUNNING) {
		r->ready--;
		if (r->measuring && !r->opt.idle)
			r->errors += (uint64_t)r->opt.in_flight;
	}
	bufferevent_free(c->bev);
	c->bev = NULL;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	lose(c);
}

static int open_conn(struct run *r, struct conn *c, int index)
{
	c->run = r;
	c->index = index;
	ws_reader_init(&c->reader, 16u << 20, WS_FROM_SERVER);
	/* 127.0.0.x as the source: ~28000 ports each, for the idle runs. */
	struct sockaddr_in src = { .sin_family = AF_INET };
	src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(index / 25000));
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)r->opt.port) };
	dst.sin_addr.s_addr = htonl(0x7f000001u);
	evutil_socket_t fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
		if (fd >= 0)
			evutil_closesocket(fd);
		return -1;
	}
	evutil_make_socket_nonblocking(fd);
	if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 && errno != EINPROGRESS) {
		evutil_closesocket(fd);
		return -1;
	}
	SSL *ssl = r->opt.tls ? SSL_new(r->opt.tls) : NULL;
	c->bev = ssl ? bufferevent_openssl_socket_new(r->base, fd, ssl, BUFFEREVENT_SSL_CONNECTING, BEV_OPT_CLOSE_ON_FREE)
	             : bufferevent_socket_new(r->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		return -1;
	bufferevent_setcb(c->bev, on_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	uint8_t nonce[16];
	char key[25];
	evutil_secure_rng_get_bytes(nonce, sizeof nonce);
	EVP_EncodeBlock((unsigned char *)key, nonce, sizeof nonce);
	ws_accept_key(key, strlen(key), c->accept);
	c->accept[WS_ACCEPT_LEN] = '\0';
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	                    "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	                    "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
	                    r->opt.path, r->opt.port, key);
	c->phase = PH_UPGRADE;
	return 0;
}

/* --stdio: the upstream on two pipes, initialized, then the load. */
static int open_stdio(struct run *r, struct conn *c)
{
	int to[2], from[2];
	if (pipe(to) < 0 || pipe(from) < 0)
		return -1;
	r->child = fork();
	if (r->child < 0)
		return -1;
	if (r->child == 0) {
		dup2(to[0], 0);
		dup2(from[1], 1);
		close(to[1]);
		close(from[0]);
		char command[4096];
		snprintf(command, sizeof command, "exec %s", r->opt.stdio_cmd); /* its CPU time is the child's */
		execl("/bin/sh", "sh", "-c", command, (char *)NULL);
		_exit(127);
	}
	close(to[0]);
	close(from[1]);
	evutil_make_socket_nonblocking(to[1]);
	evutil_make_socket_nonblocking(from[0]);
	c->run = r;
	c->bev = bufferevent_socket_new(r->base, from[0], BEV_OPT_CLOSE_ON_FREE);
	/* Closed by hand at the end: a freed bufferevent closes its fd only
	 * when the loop runs again, and the upstream stops at end of input. */
	c->to_child = bufferevent_socket_new(r->base, to[1], 0);
	c->to_child_fd = to[1];
	bufferevent_setcb(c->bev, on_child_read, NULL, on_event, c);
	bufferevent_enable(c->bev, EV_READ);
	bufferevent_enable(c->to_child, EV_WRITE);
	static const char init[] = "{\"jsonrpc\":\"2.0\",\"id\":\"init\",\"method\":\"initialize\",\"params\":{"
	                           "\"protocolVersion\":\"2025-11-25\",\"capabilities\":{},\"clientInfo\":{"
	                           "\"name\":\"loadgen\",\"version\":\"1\"}}}\n"
	                           "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n";
	bufferevent_write(c->to_child, init, sizeof init - 1);
	c->phase = PH_ACK;
	return 0;
}

static double cpu_us(const struct rusage *ru)
{
	return (double)ru->ru_utime.tv_sec * 1e6 + (double)ru->ru_utime.tv_usec + (double)ru->ru_stime.tv_sec * 1e6 +
	       (double)ru->ru_stime.tv_usec;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t pct(const struct run *r, double p)
{
	if (!r->n_lat)
		return 0;
	size_t i = (size_t)(p / 100.0 * (double)(r->n_lat - 1));
	return r->latencies[i];
}

static long rss_kib(long pid)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	long kib = -1;
	while (f && fgets(line, sizeof line, f)) {
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = strtol(line + 6, NULL, 10);
	}
	if (f)
		fclose(f);
	return kib;
}

static void report_idle(struct run *r)
{
	long rss_after = r->opt.pid ? rss_kib(r->opt.pid) : -1;
	printf("{\"mode\":\"idle\",\"connections\":%d,\"ready\":%d,\"failed\":%d,\"rss_before_kib\":%ld,"
	       "\"rss_after_kib\":%ld,\"kib_per_connection\":%.2f}\n",
	       r->opt.idle, r->ready, r->failed, r->rss_before, rss_after,
	       r->ready ? (double)(rss_after - r->rss_before) / r->ready : 0.0);
}

static void tick(evutil_socket_t fd, short what, void *arg)
{
	struct run *r = arg;
	uint64_t now = now_us();
	if (r->opt.idle) {
		open_more(r); /* after failures, which do not call it */
		if (r->ready + r->failed >= r->opt.idle || now - r->started_us > 120000000) {
			report_idle(r);
			event_base_loopbreak(r->base);
		}
		return;
	}
	if (!r->measuring && now - r->started_us >= (uint64_t)r->opt.warmup_s * 1000000) {
		r->measuring = true;
		r->measure_from_us = now;
	}
	if (r->measuring && now - r->measure_from_us >= (uint64_t)r->opt.duration_s * 1000000) {
		r->done = true;
		event_base_loopbreak(r->base);
	}
}

int main(int argc, char **argv)
{
	struct run r = { .opt = { .port = 8080, .connections = 50, .in_flight = 4, .duration_s = 10, .warmup_s = 2,
		                  .path = "/ws", .mode = MODE_FRONTEND } };
	static const struct option longs[] = {
		{ "port", required_argument, NULL, 'p' }, { "path", required_argument, NULL, 'P' },
		{ "mode", required_argument, NULL, 'm' }, { "warmup", required_argument, NULL, 'u' },
		{ "idle", required_argument, NULL, 'i' }, { "pid", required_argument, NULL, 'x' },
		{ "stdio", required_argument, NULL, 's' }, { "tls", no_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	for (int ch; (ch = getopt_long(argc, argv, "c:w:d:", longs, NULL)) != -1;) {
		switch (ch) {
		case 'p': r.opt.port = atoi(optarg); break;
		case 'P': r.opt.path = optarg; break;
		case 'm': r.opt.mode = strcmp(optarg, "jsonrpc") == 0 ? MODE_JSONRPC : MODE_FRONTEND; break;
		case 'u': r.opt.warmup_s = atoi(optarg); break;
		case 'i': r.opt.idle = atoi(optarg); break;
		case 'x': r.opt.pid = atol(optarg); break;
		case 's': r.opt.stdio_cmd = optarg; break;
		case 't': r.opt.tls = SSL_CTX_new(TLS_client_method()); break;
		case 'c': r.opt.connections = atoi(optarg); break;
		case 'w': r.opt.in_flight = atoi(optarg); break;
		case 'd': r.opt.duration_s = atoi(optarg); break;
		default: fprintf(stderr, "usage: see bench/loadgen.c\n"); return 2;
		}
	}
	if (r.opt.in_flight < 1 || r.opt.in_flight > MAX_IN_FLIGHT) {
		fprintf(stderr, "-w: 1 to %d\n", MAX_IN_FLIGHT);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a write to a closed connection is its error, not our end */
	if (r.opt.stdio_cmd) { /* one upstream with all the requests in flight */
		r.opt.mode = MODE_JSONRPC;
		r.opt.in_flight *= r.opt.connections;
		r.opt.connections = 1;
		if (r.opt.in_flight > MAX_IN_FLIGHT) {
			fprintf(stderr, "--stdio: at most %d requests in flight\n", MAX_IN_FLIGHT);
			return 2;
		}
	}
	int n = r.opt.idle ? r.opt.idle : r.opt.connections;
	r.rss_before = r.opt.pid ? rss_kib(r.opt.pid) : -1;
	r.base = event_base_new();
	r.conns = calloc((size_t)n, sizeof *r.conns);
	r.started_us = now_us();
	if (r.opt.idle) {
		open_more(&r);
	} else {
		for (int i = 0; i < n; i++) {
			if ((r.opt.stdio_cmd ? open_stdio(&r, &r.conns[i]) : open_conn(&r, &r.conns[i], i)) < 0)
				r.failed++;
		}
	}
	struct event *timer = event_new(r.base, -1, EV_PERSIST, tick, &r);
	struct timeval tv = { 0, 50000 };
	event_add(timer, &tv);
	event_base_dispatch(r.base);
	double measured_s = r.measure_from_us ? (double)(now_us() - r.measure_from_us) / 1e6 : 0;
	struct rusage self_ru, child_ru = { 0 };
	getrusage(RUSAGE_SELF, &self_ru);
	for (int i = 0; i < n; i++) { /* the upstream's end of input ends it */
		if (r.conns[i].to_child) {
			bufferevent_free(r.conns[i].to_child);
			close(r.conns[i].to_child_fd);
			r.conns[i].to_child = NULL;
		}
	}
	if (r.child > 0) {
		int status;
		wait4(r.child, &status, 0, &child_ru);
	}
	double per = r.answered ? 1.0 / (double)r.answered : 0;
	if (!r.opt.idle) {
		qsort(r.latencies, r.n_lat, sizeof *r.latencies, cmp_u32);
		printf("{\"connections\":%d,\"in_flight\":%d,\"seconds\":%d,\"requests\":%llu,\"rps\":%.0f,"
		       "\"p50_us\":%u,\"p90_us\":%u,\"p99_us\":%u,\"p999_us\":%u,\"max_us\":%u,\"errors\":%llu,"
		       "\"failed_connections\":%d,\"answered\":%llu,\"loadgen_cpu_us\":%.2f,\"upstream_cpu_us\":%.2f}\n",
		       r.opt.connections, r.opt.in_flight, r.opt.duration_s, (unsigned long long)r.completed,
		       measured_s > 0 ? (double)r.completed / measured_s : 0.0, pct(&r, 50), pct(&r, 90), pct(&r, 99), pct(&r, 99.9),
		       r.n_lat ? r.latencies[r.n_lat - 1] : 0, (unsigned long long)r.errors, r.failed,
		       (unsigned long long)r.answered, cpu_us(&self_ru) * per, cpu_us(&child_ru) * per);
	}
	for (int i = 0; i < n; i++) {
		if (r.conns[i].bev)
			bufferevent_free(r.conns[i].bev);
		ws_reader_free(&r.conns[i].reader);
	}
	event_free(timer);
	event_base_free(r.base);
	SSL_CTX_free(r.opt.tls);
	free(r.conns);
	free(r.latencies);
	return r.errors || (r.failed && !r.opt.idle) ? 1 : 0;
}
