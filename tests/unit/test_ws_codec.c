/* Unit tests for plugins/websocket/ws_codec.c: the RFC 6455 frame reader of
 * a strict server, and the frame header writer. Client frames are built
 * with ws_frame_header + ws_mask (whose bytes are themselves checked
 * exactly), malformed ones by hand. Every refusal is checked for the close
 * code the server would send. */
#include "build-config.h"

#include <check.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/websocket/ws_codec.h"
#include "tests/unit/unit_suite.h"

#define MAX_MSG (1024 * 1024)

static const uint8_t test_mask[4] = { 0x37, 0xFA, 0x21, 0x3D };

/* Out of memory cannot be provoked for one buffer of a running reader, so
 * this binary links with -Wl,--wrap=realloc: while refuse_realloc_from is
 * set, the codec's reallocs of at least that many bytes fail. */
void *__real_realloc(void *p, size_t n);
void *__wrap_realloc(void *p, size_t n);
static size_t refuse_realloc_from;

void *__wrap_realloc(void *p, size_t n)
{
	if (refuse_realloc_from && n >= refuse_realloc_from)
		return NULL;
	return __real_realloc(p, n);
}

/* ---- building frames --------------------------------------------------------- */

struct bytes {
	uint8_t *p;
	size_t len, cap;
};

static void bytes_put(struct bytes *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		size_t cap = b->cap ? b->cap : 64;
		while (cap < b->len + len)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void bytes_free(struct bytes *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* A frame: first-byte bits `extra` (RSV) on top of fin/opcode, payload
 * masked with `mask` (NULL: an unmasked frame). The opcode is raw, so that
 * reserved ones can be written too. */
static void add_frame_raw(struct bytes *b, uint8_t extra, bool fin, unsigned op, const void *payload,
                          size_t len, const uint8_t *mask)
{
	uint8_t head[14];
	size_t n = ws_frame_header(head, fin, (enum ws_opcode)op, len, mask);
	head[0] |= extra;
	bytes_put(b, head, n);
	size_t at = b->len;
	bytes_put(b, payload, len);
	if (mask)
		ws_mask(b->p + at, len, mask, 0);
}

/* A masked client frame. */
static void add_frame(struct bytes *b, bool fin, unsigned op, const void *payload, size_t len)
{
	add_frame_raw(b, 0, fin, op, payload, len, test_mask);
}

static void add_str(struct bytes *b, bool fin, unsigned op, const char *s)
{
	add_frame(b, fin, op, s, strlen(s));
}

/* A masked close frame with a code and a reason. */
static void add_close(struct bytes *b, unsigned code, const void *reason, size_t reason_len)
{
	uint8_t payload[125];
	payload[0] = (uint8_t)(code >> 8);
	payload[1] = (uint8_t)code;
	if (reason_len)
		memcpy(payload + 2, reason, reason_len);
	add_frame(b, true, WS_OP_CLOSE, payload, 2 + reason_len);
}

/* ---- reading them ---------------------------------------------------------- */

struct got {
	enum ws_event_kind kind;
	bool binary;
	uint16_t code;
	uint8_t *data;
	size_t len;
};

#define MAX_EVENTS 64

struct events {
	struct got ev[MAX_EVENTS];
	size_t n;
	size_t consumed; /* bytes the reader took before it stopped reading */
};

static void events_free(struct events *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->ev[i].data);
	e->n = 0;
}

/* Feed `in` in chunks of `chunk` bytes (0: all at once), calling again with
 * the rest of a chunk after each event, and record every event. Checks the
 * feed contract: without an event, all bytes are consumed unless the reader
 * is done (then none are). */
static void run(struct ws_reader *r, const uint8_t *in, size_t len, size_t chunk, struct events *out)
{
	memset(out, 0, sizeof *out);
	size_t at = 0;
	while (at < len) {
		size_t n = chunk && chunk < len - at ? chunk : len - at;
		size_t off = 0;
		while (off < n) {
			struct ws_event ev;
			memset(&ev, 0xA5, sizeof ev);
			size_t used = ws_reader_feed(r, in + at + off, n - off, &ev);
			ck_assert_uint_le(used, n - off);
			off += used;
			if (ev.kind == WS_EV_NONE) {
				if (off < n) {
					ck_assert_uint_eq(used, 0); /* done: nothing read */
					out->consumed = at + off;
					return;
				}
				continue;
			}
			ck_assert_uint_lt(out->n, MAX_EVENTS);
			struct got *g = &out->ev[out->n++];
			g->kind = ev.kind;
			g->binary = ev.kind == WS_EV_MESSAGE && ev.binary;
			g->code = ev.kind == WS_EV_CLOSE || ev.kind == WS_EV_FAIL ? ev.close_code : 0;
			g->len = ev.kind == WS_EV_FAIL ? 0 : ev.len;
			g->data = malloc(g->len + 1);
			ck_assert_ptr_nonnull(g->data);
			if (g->len) {
				ck_assert_ptr_nonnull(ev.data);
				memcpy(g->data, ev.data, g->len);
			}
			if (ev.kind == WS_EV_FAIL) {
				ck_assert_ptr_nonnull(ev.why);
				ck_assert_uint_gt(strlen(ev.why), 0);
			}
		}
		at += n;
	}
	out->consumed = at;
}

/* Read one buffer all at once with a fresh server reader. */
static void read_all(const struct bytes *b, uint64_t max, enum ws_sender sender, struct events *out)
{
	struct ws_reader r;
	ws_reader_init(&r, max, sender);
	run(&r, b->p, b->len, 0, out);
	ws_reader_free(&r);
}

/* The nth event must be of this kind with this payload. */
#define ck_event(e, i, k, bytes_, len_)                                                       \
	do {                                                                                   \
		ck_assert_uint_gt((e)->n, (i));                                                \
		ck_assert_int_eq((e)->ev[i].kind, (k));                                        \
		ck_assert_uint_eq((e)->ev[i].len, (len_));                                     \
		if ((len_) > 0)                                                                \
			ck_assert_mem_eq((e)->ev[i].data, (bytes_), (len_));                   \
	} while (0)

#define ck_message(e, i, bin, str)                                                            \
	do {                                                                                   \
		ck_event((e), (i), WS_EV_MESSAGE, (str), strlen(str));                         \
		ck_assert_int_eq((e)->ev[i].binary, (bin));                                    \
	} while (0)

#define ck_fail(e, i, code_)                                                                  \
	do {                                                                                   \
		ck_assert_uint_eq((e)->n, (i) + 1);                                            \
		ck_assert_int_eq((e)->ev[i].kind, WS_EV_FAIL);                                 \
		ck_assert_uint_eq((e)->ev[i].code, (code_));                                   \
	} while (0)

/* The buffer must be refused with this code, as the only event. */
static void expect_fail(const struct bytes *b, uint16_t code)
{
	struct events e;
	read_all(b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_fail(&e, 0, code);
	events_free(&e);
}

/* ---- the header writer ----------------------------------------------------- */

START_TEST(test_header_7bit)
{
	uint8_t h[14];
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_TEXT, 0, NULL), 2);
	ck_assert_mem_eq(h, "\x81\x00", 2);
	ck_assert_uint_eq(ws_frame_header(h, false, WS_OP_BINARY, 125, NULL), 2);
	ck_assert_mem_eq(h, "\x02\x7D", 2);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_TEXT, 5, test_mask), 6);
	ck_assert_mem_eq(h, "\x81\x85\x37\xFA\x21\x3D", 6);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_PING, 125, test_mask), 6);
	ck_assert_mem_eq(h, "\x89\xFD\x37\xFA\x21\x3D", 6);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_CLOSE, 2, NULL), 2);
	ck_assert_mem_eq(h, "\x88\x02", 2);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_PONG, 0, NULL), 2);
	ck_assert_mem_eq(h, "\x8A\x00", 2);
	ck_assert_uint_eq(ws_frame_header(h, false, WS_OP_CONTINUATION, 1, NULL), 2);
	ck_assert_mem_eq(h, "\x00\x01", 2);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_CONTINUATION, 0, test_mask), 6);
	ck_assert_mem_eq(h, "\x80\x80\x37\xFA\x21\x3D", 6);
}
END_TEST

START_TEST(test_header_16bit)
{
	uint8_t h[14];
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_BINARY, 126, NULL), 4);
	ck_assert_mem_eq(h, "\x82\x7E\x00\x7E", 4);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_TEXT, 127, NULL), 4);
	ck_assert_mem_eq(h, "\x81\x7E\x00\x7F", 4);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_TEXT, 0x1234, NULL), 4);
	ck_assert_mem_eq(h, "\x81\x7E\x12\x34", 4);
	ck_assert_uint_eq(ws_frame_header(h, false, WS_OP_TEXT, 65535, NULL), 4);
	ck_assert_mem_eq(h, "\x01\x7E\xFF\xFF", 4);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_BINARY, 126, test_mask), 8);
	ck_assert_mem_eq(h, "\x82\xFE\x00\x7E\x37\xFA\x21\x3D", 8);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_BINARY, 65535, test_mask), 8);
	ck_assert_mem_eq(h, "\x82\xFE\xFF\xFF\x37\xFA\x21\x3D", 8);
}
END_TEST

START_TEST(test_header_64bit)
{
	uint8_t h[14];
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_BINARY, 65536, NULL), 10);
	ck_assert_mem_eq(h, "\x82\x7F\x00\x00\x00\x00\x00\x01\x00\x00", 10);
	ck_assert_uint_eq(ws_frame_header(h, false, WS_OP_TEXT, 0x0123456789ABCDEFull, NULL), 10);
	ck_assert_mem_eq(h, "\x01\x7F\x01\x23\x45\x67\x89\xAB\xCD\xEF", 10);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_BINARY, 65536, test_mask), 14);
	ck_assert_mem_eq(h, "\x82\xFF\x00\x00\x00\x00\x00\x01\x00\x00\x37\xFA\x21\x3D", 14);
	ck_assert_uint_eq(ws_frame_header(h, true, WS_OP_TEXT, 0x7FFFFFFFFFFFFFFFull, test_mask), 14);
	ck_assert_mem_eq(h, "\x81\xFF\x7F\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x37\xFA\x21\x3D", 14);
}
END_TEST

START_TEST(test_mask_bytes)
{
	uint8_t d[6] = { 0x00, 0x11, 0x22, 0x33, 0x44, 0x55 };
	ws_mask(d, sizeof d, test_mask, 0);
	ck_assert_mem_eq(d, "\x37\xEB\x03\x0E\x73\xAF", 6);
	ws_mask(d, sizeof d, test_mask, 0); /* its own inverse */
	ck_assert_mem_eq(d, "\x00\x11\x22\x33\x44\x55", 6);
	/* offset: the mask key continues from the data's place in the payload */
	uint8_t e[3] = { 0x00, 0x00, 0x00 };
	ws_mask(e, 3, test_mask, 3);
	ck_assert_mem_eq(e, "\x3D\x37\xFA", 3);
	ws_mask(e, 3, test_mask, 3 + 0x100000000ull); /* offsets past 4 GiB too */
	ck_assert_mem_eq(e, "\x00\x00\x00", 3);
	/* masking in pieces equals masking at once */
	static const char text[] = "The quick brown fox";
	uint8_t whole[sizeof text], parts[sizeof text];
	memcpy(whole, text, sizeof text);
	memcpy(parts, text, sizeof text);
	ws_mask(whole, sizeof text, test_mask, 0);
	ws_mask(parts, 5, test_mask, 0);
	ws_mask(parts + 5, 6, test_mask, 5);
	ws_mask(parts + 11, sizeof text - 11, test_mask, 11);
	ck_assert_mem_eq(whole, parts, sizeof text);
	ws_mask(d, 0, test_mask, 0); /* nothing */
}
END_TEST

START_TEST(test_close_code_valid)
{
	static const unsigned ok[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
		                       1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	static const unsigned bad[] = { 0, 1, 999, 1004, 1005, 1006, 1015, 1016,
		                        1100, 2000, 2999, 5000, 65535, 70000 };
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		ck_assert_msg(ws_close_code_valid(ok[i]), "%u refused", ok[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(!ws_close_code_valid(bad[i]), "%u accepted", bad[i]);
}
END_TEST

/* ---- opcodes --------------------------------------------------------------- */

START_TEST(test_text_frame)
{
	/* The RFC 6455 5.7 example: a masked "Hello". */
	static const uint8_t hello[] = { 0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	struct bytes b = { 0 };
	bytes_put(&b, hello, sizeof hello);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 1);
	ck_message(&e, 0, false, "Hello");
	ck_assert_uint_eq(e.consumed, sizeof hello);
	events_free(&e);
	/* the same built by the helpers */
	struct bytes c = { 0 };
	add_str(&c, true, WS_OP_TEXT, "Hello");
	ck_assert_uint_eq(c.len, b.len);
	ck_assert_mem_eq(c.p, b.p, b.len);
	bytes_free(&b);
	bytes_free(&c);
}
END_TEST

START_TEST(test_binary_frame)
{
	static const uint8_t payload[] = { 0x00, 0xFF, 0xC0, 0x80, 0xED, 0xA0, 0x80, 0x01 };
	struct bytes b = { 0 };
	add_frame(&b, true, WS_OP_BINARY, payload, sizeof payload);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 1);
	ck_event(&e, 0, WS_EV_MESSAGE, payload, sizeof payload);
	ck_assert(e.ev[0].binary); /* not UTF-8, and fine: binary */
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_ping_pong)
{
	struct bytes b = { 0 };
	add_str(&b, true, WS_OP_PING, "are you there");
	add_str(&b, true, WS_OP_PONG, "yes");
	add_frame(&b, true, WS_OP_PING, NULL, 0);
	add_frame(&b, true, WS_OP_PONG, NULL, 0);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 4);
	ck_event(&e, 0, WS_EV_PING, "are you there", 13);
	ck_event(&e, 1, WS_EV_PONG, "yes", 3);
	ck_event(&e, 2, WS_EV_PING, "", 0);
	ck_event(&e, 3, WS_EV_PONG, "", 0);
	ck_assert_uint_eq(e.consumed, b.len);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_empty_messages)
{
	struct bytes b = { 0 };
	add_frame(&b, true, WS_OP_TEXT, NULL, 0);
	add_frame(&b, true, WS_OP_BINARY, NULL, 0);
	add_frame(&b, false, WS_OP_TEXT, NULL, 0);
	add_frame(&b, true, WS_OP_CONTINUATION, NULL, 0);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 3);
	ck_message(&e, 0, false, "");
	ck_message(&e, 1, true, "");
	ck_message(&e, 2, false, "");
	events_free(&e);
	bytes_free(&b);
	/* the event's data is never NULL, even for an empty first message */
	struct ws_reader r;
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	uint8_t h[14];
	size_t n = ws_frame_header(h, true, WS_OP_TEXT, 0, test_mask);
	struct ws_event ev;
	ck_assert_uint_eq(ws_reader_feed(&r, h, n, &ev), n);
	ck_assert_int_eq(ev.kind, WS_EV_MESSAGE);
	ck_assert_ptr_nonnull(ev.data);
	ck_assert_uint_eq(ev.len, 0);
	ws_reader_free(&r);
}
END_TEST

START_TEST(test_reserved_opcodes)
{
	static const unsigned reserved[] = { 3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF };
	for (size_t i = 0; i < sizeof reserved / sizeof *reserved; i++) {
		for (int fin = 0; fin <= 1; fin++) {
			struct bytes b = { 0 };
			add_frame_raw(&b, 0, fin, reserved[i], "xy", 2, test_mask);
			struct events e;
			read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
			ck_fail(&e, 0, WS_CLOSE_PROTOCOL_ERROR);
			ck_assert_uint_eq(e.consumed, 6); /* refused at its header */
			events_free(&e);
			bytes_free(&b);
		}
	}
	/* and by hand: a reserved opcode in the middle of a fragmented message */
	static const uint8_t raw[] = { 0x01, 0x81, 1, 2, 3, 4, 'a' ^ 1, 0x83, 0x80, 0, 0, 0, 0 };
	struct bytes b = { 0 };
	bytes_put(&b, raw, sizeof raw);
	expect_fail(&b, WS_CLOSE_PROTOCOL_ERROR);
	bytes_free(&b);
}
END_TEST

/* ---- lengths --------------------------------------------------------------- */

static void check_length(size_t len, bool binary)
{
	uint8_t *payload = malloc(len ? len : 1);
	ck_assert_ptr_nonnull(payload);
	for (size_t i = 0; i < len; i++)
		payload[i] = binary ? (uint8_t)(i * 7 + 3) : (uint8_t)('a' + i % 26);
	struct bytes b = { 0 };
	add_frame(&b, true, binary ? WS_OP_BINARY : WS_OP_TEXT, payload, len);
	size_t head = len < 126 ? 6 : len <= 65535 ? 8 : 14;
	ck_assert_uint_eq(b.len, head + len);
	for (size_t chunk = 0; chunk <= 1; chunk++) {
		struct ws_reader r;
		ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
		struct events e;
		/* all at once, then in uneven pieces */
		run(&r, b.p, b.len, chunk ? 1000 : 0, &e);
		ck_assert_uint_eq(e.n, 1);
		ck_event(&e, 0, WS_EV_MESSAGE, payload, len);
		ck_assert_int_eq(e.ev[0].binary, binary);
		ck_assert_uint_eq(e.consumed, b.len);
		events_free(&e);
		ws_reader_free(&r);
	}
	bytes_free(&b);
	free(payload);
}

START_TEST(test_lengths)
{
	static const size_t lengths[] = { 0, 1, 125, 126, 127, 65535, 65536, 70001 };
	for (size_t i = 0; i < sizeof lengths / sizeof *lengths; i++) {
		check_length(lengths[i], false);
		check_length(lengths[i], true);
	}
}
END_TEST

START_TEST(test_length_64bit_huge)
{
	/* A 4 GiB + 5 frame is accepted when the limit allows it: the reader
	 * waits for it, assembling what comes. */
	uint8_t h[14];
	uint64_t len = 0x100000005ull;
	size_t n = ws_frame_header(h, true, WS_OP_BINARY, len, test_mask);
	ck_assert_uint_eq(n, 14);
	ck_assert_mem_eq(h, "\x82\xFF\x00\x00\x00\x01\x00\x00\x00\x05", 10);
	struct ws_reader r;
	ws_reader_init(&r, UINT64_MAX, WS_FROM_CLIENT);
	struct ws_event ev;
	ck_assert_uint_eq(ws_reader_feed(&r, h, n, &ev), n);
	ck_assert_int_eq(ev.kind, WS_EV_NONE);
	uint8_t some[1000];
	memset(some, 0x5A, sizeof some);
	ck_assert_uint_eq(ws_reader_feed(&r, some, sizeof some, &ev), sizeof some);
	ck_assert_int_eq(ev.kind, WS_EV_NONE);
	ws_reader_free(&r);

	/* the largest legal length, 2^63 - 1, is a length like any other */
	n = ws_frame_header(h, true, WS_OP_BINARY, 0x7FFFFFFFFFFFFFFFull, test_mask);
	ws_reader_init(&r, UINT64_MAX, WS_FROM_CLIENT);
	ck_assert_uint_eq(ws_reader_feed(&r, h, n, &ev), n);
	ck_assert_int_eq(ev.kind, WS_EV_NONE);
	ck_assert_uint_eq(ws_reader_feed(&r, some, 3, &ev), 3);
	ck_assert_int_eq(ev.kind, WS_EV_NONE);
	ws_reader_free(&r);

	/* and refused (1009) under a 1 MiB limit, at its header */
	n = ws_frame_header(h, true, WS_OP_BINARY, len, test_mask);
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	ck_assert_uint_eq(ws_reader_feed(&r, h, n, &ev), n);
	ck_assert_int_eq(ev.kind, WS_EV_FAIL);
	ck_assert_uint_eq(ev.close_code, WS_CLOSE_TOO_BIG);
	ws_reader_free(&r);
}
END_TEST

START_TEST(test_length_top_bit)
{
	/* RFC 6455 5.2: the most significant bit of a 64-bit length must be 0. */
	static const uint8_t raw[] = { 0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4 };
	struct ws_reader r;
	ws_reader_init(&r, UINT64_MAX, WS_FROM_CLIENT);
	struct ws_event ev;
	ck_assert_uint_eq(ws_reader_feed(&r, raw, sizeof raw, &ev), sizeof raw);
	ck_assert_int_eq(ev.kind, WS_EV_FAIL);
	ck_assert_uint_eq(ev.close_code, WS_CLOSE_PROTOCOL_ERROR);
	ws_reader_free(&r);
}
END_TEST

/* ---- masking and reserved bits --------------------------------------------- */

START_TEST(test_unmasked_refused)
{
	struct bytes b = { 0 };
	add_frame_raw(&b, 0, true, WS_OP_TEXT, "hi", 2, NULL);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_fail(&e, 0, WS_CLOSE_PROTOCOL_ERROR);
	ck_assert_uint_eq(e.consumed, 2);
	events_free(&e);
	bytes_free(&b);
	/* control frames too */
	add_frame_raw(&b, 0, true, WS_OP_PING, NULL, 0, NULL);
	expect_fail(&b, WS_CLOSE_PROTOCOL_ERROR);
	bytes_free(&b);
	/* and a continuation of a masked start */
	add_frame(&b, false, WS_OP_TEXT, "a", 1);
	add_frame_raw(&b, 0, true, WS_OP_CONTINUATION, "b", 1, NULL);
	expect_fail(&b, WS_CLOSE_PROTOCOL_ERROR);
	bytes_free(&b);
}
END_TEST

START_TEST(test_server_frames_unmasked_only)
{
	/* A client's reader: unmasked frames are read, a masked one fails. */
	struct bytes b = { 0 };
	add_frame_raw(&b, 0, true, WS_OP_TEXT, "hi", 2, NULL);
	add_frame_raw(&b, 0, true, WS_OP_PING, "p", 1, NULL);
	add_frame(&b, true, WS_OP_TEXT, "masked", 6);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_SERVER, &e);
	ck_message(&e, 0, false, "hi");
	ck_event(&e, 1, WS_EV_PING, "p", 1);
	ck_fail(&e, 2, WS_CLOSE_PROTOCOL_ERROR);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_masked_payload_is_unmasked)
{
	/* A mask whose 4 bytes all differ, over lengths not a multiple of 4,
	 * fed in odd pieces: the mask position carries across feeds. */
	static const uint8_t mask[4] = { 0x01, 0x80, 0xFE, 0x5C };
	static const char text[] = "masking keeps its place across feeds";
	for (size_t chunk = 0; chunk <= 7; chunk++) {
		struct bytes b = { 0 };
		add_frame_raw(&b, 0, true, WS_OP_TEXT, text, sizeof text - 1, mask);
		add_frame_raw(&b, 0, true, WS_OP_PING, text, 13, mask);
		ck_assert(memcmp(b.p + 6, text, 4) != 0); /* really masked on the wire */
		struct ws_reader r;
		ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
		struct events e;
		run(&r, b.p, b.len, chunk, &e);
		ck_assert_uint_eq(e.n, 2);
		ck_message(&e, 0, false, text);
		ck_event(&e, 1, WS_EV_PING, text, 13);
		events_free(&e);
		ws_reader_free(&r);
		bytes_free(&b);
	}
}
END_TEST

START_TEST(test_reserved_bits)
{
	static const uint8_t rsv[] = { 0x40, 0x20, 0x10, 0x70 };
	static const unsigned ops[] = { WS_OP_TEXT, WS_OP_BINARY, WS_OP_PING, WS_OP_CLOSE };
	for (size_t i = 0; i < sizeof rsv; i++) {
		for (size_t j = 0; j < sizeof ops / sizeof *ops; j++) {
			struct bytes b = { 0 };
			add_frame_raw(&b, rsv[i], true, ops[j], "\x03\xE8", 2, test_mask);
			struct events e;
			read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
			ck_fail(&e, 0, WS_CLOSE_PROTOCOL_ERROR);
			ck_assert_uint_eq(e.consumed, 6);
			events_free(&e);
			bytes_free(&b);
		}
	}
	/* on a continuation frame too */
	struct bytes b = { 0 };
	add_frame(&b, false, WS_OP_TEXT, "a", 1);
	add_frame_raw(&b, 0x40, true, WS_OP_CONTINUATION, "b", 1, test_mask);
	expect_fail(&b, WS_CLOSE_PROTOCOL_ERROR);
	bytes_free(&b);
}
END_TEST

/* ---- fragmentation --------------------------------------------------------- */

START_TEST(test_three_fragments)
{
	struct bytes b = { 0 };
	add_str(&b, false, WS_OP_TEXT, "frag");
	add_str(&b, false, WS_OP_CONTINUATION, "men");
	add_str(&b, true, WS_OP_CONTINUATION, "ted");
	struct ws_reader r;
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	struct events e;
	/* no event until the last fragment */
	size_t last = b.len - 9;
	run(&r, b.p, last, 0, &e);
	ck_assert_uint_eq(e.n, 0);
	ck_assert_uint_eq(e.consumed, last);
	run(&r, b.p + last, b.len - last, 0, &e);
	ck_assert_uint_eq(e.n, 1);
	ck_message(&e, 0, false, "fragmented");
	events_free(&e);
	/* and the reader is ready for the next message */
	bytes_free(&b);
	add_frame(&b, false, WS_OP_BINARY, "\xFF", 1);
	add_frame(&b, true, WS_OP_CONTINUATION, "\xFE", 1);
	add_str(&b, true, WS_OP_TEXT, "next");
	run(&r, b.p, b.len, 0, &e);
	ck_assert_uint_eq(e.n, 2);
	ck_event(&e, 0, WS_EV_MESSAGE, "\xFF\xFE", 2);
	ck_assert(e.ev[0].binary);
	ck_message(&e, 1, false, "next");
	events_free(&e);
	ws_reader_free(&r);
	bytes_free(&b);
}
END_TEST

START_TEST(test_mid_message)
{
	/* A text message in two fragments with a ping between them, fed a byte
	 * at a time: mid-message from its first byte until its last. A lone
	 * ping afterwards is mid-message only while its own frame is read. */
	struct bytes b = { 0 };
	add_str(&b, false, WS_OP_TEXT, "one ");
	add_str(&b, true, WS_OP_PING, "p");
	add_str(&b, true, WS_OP_CONTINUATION, "two");
	size_t message_end = b.len;
	add_str(&b, true, WS_OP_PING, "q");
	struct ws_reader r;
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	ck_assert(!ws_reader_mid_message(&r));
	size_t events = 0;
	for (size_t i = 0; i < b.len; i++) {
		struct ws_event ev;
		ck_assert_uint_eq(ws_reader_feed(&r, b.p + i, 1, &ev), 1);
		events += ev.kind != WS_EV_NONE;
		bool last_of_a_frame = i + 1 == message_end || i + 1 == b.len;
		if (last_of_a_frame)
			ck_assert_msg(!ws_reader_mid_message(&r), "byte %zu ends a message", i);
		else
			ck_assert_msg(ws_reader_mid_message(&r), "byte %zu is inside a message", i);
	}
	ck_assert_uint_eq(events, 3); /* ping, message, ping */
	ws_reader_free(&r);
	bytes_free(&b);
}
END_TEST

START_TEST(test_control_between_fragments)
{
	struct bytes b = { 0 };
	add_str(&b, false, WS_OP_TEXT, "one ");
	add_str(&b, true, WS_OP_PING, "ping!");
	add_str(&b, false, WS_OP_CONTINUATION, "two ");
	add_str(&b, true, WS_OP_PONG, "pong!");
	add_frame(&b, true, WS_OP_PING, NULL, 0);
	add_str(&b, true, WS_OP_CONTINUATION, "three");
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 4);
	ck_event(&e, 0, WS_EV_PING, "ping!", 5);
	ck_event(&e, 1, WS_EV_PONG, "pong!", 5);
	ck_event(&e, 2, WS_EV_PING, "", 0);
	ck_message(&e, 3, false, "one two three");
	ck_assert_uint_eq(e.consumed, b.len);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_close_between_fragments)
{
	/* A close in the middle of a message is delivered, and ends reading. */
	struct bytes b = { 0 };
	add_str(&b, false, WS_OP_TEXT, "never ");
	add_close(&b, 1001, "away", 4);
	size_t close_end = b.len;
	add_str(&b, true, WS_OP_CONTINUATION, "finished");
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 1);
	ck_event(&e, 0, WS_EV_CLOSE, "away", 4);
	ck_assert_uint_eq(e.ev[0].code, 1001);
	ck_assert_uint_eq(e.consumed, close_end);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_continuation_without_start)
{
	struct bytes b = { 0 };
	add_str(&b, true, WS_OP_CONTINUATION, "orphan");
	expect_fail(&b, WS_CLOSE_PROTOCOL_ERROR);
	bytes_free(&b);
	add_str(&b, false, WS_OP_CONTINUATION, "orphan");
	expect_fail(&b, WS_CLOSE_PROTOCOL_ERROR);
	bytes_free(&b);
	/* after a finished message there is nothing to continue either */
	add_str(&b, true, WS_OP_TEXT, "done");
	add_str(&b, true, WS_OP_CONTINUATION, "more");
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_message(&e, 0, false, "done");
	ck_fail(&e, 1, WS_CLOSE_PROTOCOL_ERROR);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_new_message_during_fragmented)
{
	static const unsigned starts[] = { WS_OP_TEXT, WS_OP_BINARY };
	for (size_t i = 0; i < 2; i++) {
		for (size_t j = 0; j < 2; j++) {
			struct bytes b = { 0 };
			add_str(&b, false, starts[i], "first");
			add_str(&b, true, starts[j], "second");
			struct events e;
			read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
			ck_fail(&e, 0, WS_CLOSE_PROTOCOL_ERROR);
			events_free(&e);
			bytes_free(&b);
		}
	}
}
END_TEST

START_TEST(test_fragmented_control)
{
	static const unsigned ops[] = { WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE };
	for (size_t i = 0; i < 3; i++) {
		struct bytes b = { 0 };
		add_frame(&b, false, ops[i], "\x03\xE8", 2);
		add_frame(&b, true, WS_OP_CONTINUATION, "", 0);
		struct events e;
		read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
		ck_fail(&e, 0, WS_CLOSE_PROTOCOL_ERROR);
		ck_assert_uint_eq(e.consumed, 6);
		events_free(&e);
		bytes_free(&b);
	}
}
END_TEST

START_TEST(test_control_payload_limit)
{
	static const unsigned ops[] = { WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE };
	uint8_t payload[126];
	memset(payload, 'x', sizeof payload);
	payload[0] = 0x03; /* a valid close code 1000 */
	payload[1] = 0xE8;
	for (size_t i = 0; i < 3; i++) {
		struct bytes b = { 0 };
		add_frame(&b, true, ops[i], payload, 126);
		struct events e;
		read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
		ck_fail(&e, 0, WS_CLOSE_PROTOCOL_ERROR);
		ck_assert_uint_eq(e.consumed, 8); /* at its header */
		events_free(&e);
		bytes_free(&b);
		/* 125 is the most allowed */
		add_frame(&b, true, ops[i], payload, 125);
		read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
		ck_assert_uint_eq(e.n, 1);
		if (ops[i] == WS_OP_CLOSE) {
			ck_event(&e, 0, WS_EV_CLOSE, payload + 2, 123);
			ck_assert_uint_eq(e.ev[0].code, 1000);
		} else {
			ck_event(&e, 0, ops[i] == WS_OP_PING ? WS_EV_PING : WS_EV_PONG, payload, 125);
		}
		events_free(&e);
		bytes_free(&b);
	}
	/* a 16-bit-encoded length under 126 is still a length, not a refusal */
	static const uint8_t raw[] = { 0x89, 0xFE, 0x00, 0x02, 0, 0, 0, 0, 'h', 'i' };
	struct bytes b = { 0 };
	bytes_put(&b, raw, sizeof raw);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 1);
	ck_event(&e, 0, WS_EV_PING, "hi", 2);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

/* ---- close frames ---------------------------------------------------------- */

START_TEST(test_close_empty)
{
	struct bytes b = { 0 };
	add_frame(&b, true, WS_OP_CLOSE, NULL, 0);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 1);
	ck_event(&e, 0, WS_EV_CLOSE, "", 0);
	ck_assert_uint_eq(e.ev[0].code, WS_CLOSE_NO_STATUS);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_close_one_byte)
{
	struct bytes b = { 0 };
	add_frame(&b, true, WS_OP_CLOSE, "\x03", 1);
	expect_fail(&b, WS_CLOSE_PROTOCOL_ERROR);
	bytes_free(&b);
}
END_TEST

START_TEST(test_close_valid_codes)
{
	static const unsigned codes[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011,
		                          1012, 1013, 1014, 3000, 3999, 4000, 4999 };
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
		struct bytes b = { 0 };
		add_close(&b, codes[i], NULL, 0);
		struct events e;
		read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
		ck_assert_msg(e.n == 1 && e.ev[0].kind == WS_EV_CLOSE, "code %u not a close", codes[i]);
		ck_assert_uint_eq(e.ev[0].code, codes[i]);
		ck_assert_uint_eq(e.ev[0].len, 0);
		events_free(&e);
		bytes_free(&b);
	}
}
END_TEST

START_TEST(test_close_invalid_codes)
{
	static const unsigned codes[] = { 0, 999, 1004, 1005, 1006, 1015, 1016,
		                          1100, 2000, 2999, 5000, 65535 };
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++) {
		struct bytes b = { 0 };
		add_close(&b, codes[i], "r", 1);
		struct events e;
		read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
		ck_assert_msg(e.n == 1 && e.ev[0].kind == WS_EV_FAIL, "code %u accepted", codes[i]);
		ck_assert_uint_eq(e.ev[0].code, WS_CLOSE_PROTOCOL_ERROR);
		events_free(&e);
		bytes_free(&b);
	}
}
END_TEST

START_TEST(test_close_reason)
{
	struct bytes b = { 0 };
	add_close(&b, 1000, "bye \xC3\xBC\xE2\x82\xAC", 9);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 1);
	ck_event(&e, 0, WS_EV_CLOSE, "bye \xC3\xBC\xE2\x82\xAC", 9);
	ck_assert_uint_eq(e.ev[0].code, 1000);
	events_free(&e);
	bytes_free(&b);

	static const char *const bad[] = { "\xFF", "ok\xC3", "\xED\xA0\x80", "\xC0\x80", "a\x80" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		add_close(&b, 1000, bad[i], strlen(bad[i]));
		read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
		ck_assert_msg(e.n == 1 && e.ev[0].kind == WS_EV_FAIL, "reason %zu accepted", i);
		ck_assert_uint_eq(e.ev[0].code, WS_CLOSE_INVALID_DATA);
		events_free(&e);
		bytes_free(&b);
	}
}
END_TEST

START_TEST(test_nothing_after_close_or_fail)
{
	struct bytes b = { 0 };
	add_close(&b, 1000, "x", 1);
	size_t close_len = b.len;
	add_str(&b, true, WS_OP_TEXT, "after");
	struct ws_reader r;
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	struct ws_event ev;
	ck_assert_uint_eq(ws_reader_feed(&r, b.p, b.len, &ev), close_len);
	ck_assert_int_eq(ev.kind, WS_EV_CLOSE);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(ws_reader_feed(&r, b.p + close_len, b.len - close_len, &ev), 0);
		ck_assert_int_eq(ev.kind, WS_EV_NONE);
	}
	ws_reader_free(&r);
	bytes_free(&b);

	add_frame_raw(&b, 0, true, 0x3, NULL, 0, test_mask);
	add_str(&b, true, WS_OP_TEXT, "after");
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	ck_assert_uint_eq(ws_reader_feed(&r, b.p, b.len, &ev), 6);
	ck_assert_int_eq(ev.kind, WS_EV_FAIL);
	ck_assert_uint_eq(ev.close_code, WS_CLOSE_PROTOCOL_ERROR);
	for (int i = 0; i < 2; i++) {
		ck_assert_uint_eq(ws_reader_feed(&r, b.p + 6, b.len - 6, &ev), 0);
		ck_assert_int_eq(ev.kind, WS_EV_NONE);
	}
	ws_reader_free(&r);
	bytes_free(&b);
}
END_TEST

/* ---- UTF-8 of text messages ------------------------------------------------ */

START_TEST(test_text_invalid_utf8)
{
	static const char *const bad[] = { "\xFF", "abc\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
		                           "x\x80y", "\xE0\x9F\xBF" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		struct bytes b = { 0 };
		add_str(&b, true, WS_OP_TEXT, bad[i]);
		struct events e;
		read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
		ck_assert_msg(e.n == 1 && e.ev[0].kind == WS_EV_FAIL, "text %zu accepted", i);
		ck_assert_uint_eq(e.ev[0].code, WS_CLOSE_INVALID_DATA);
		events_free(&e);
		bytes_free(&b);
	}
}
END_TEST

START_TEST(test_text_fail_fast)
{
	/* The bad byte fails the message when it arrives, before the rest of
	 * the frame (and well before FIN). */
	uint8_t payload[100];
	memset(payload, 'a', sizeof payload);
	payload[10] = 0xFF;
	struct bytes b = { 0 };
	add_frame(&b, false, WS_OP_TEXT, payload, sizeof payload);
	struct ws_reader r;
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	struct ws_event ev;
	ck_assert_uint_eq(ws_reader_feed(&r, b.p, 6 + 10, &ev), 16);
	ck_assert_int_eq(ev.kind, WS_EV_NONE);
	ck_assert_uint_eq(ws_reader_feed(&r, b.p + 16, 1, &ev), 1);
	ck_assert_int_eq(ev.kind, WS_EV_FAIL);
	ck_assert_uint_eq(ev.close_code, WS_CLOSE_INVALID_DATA);
	ws_reader_free(&r);
	bytes_free(&b);

	/* a first fragment with a bad byte fails without waiting for the rest */
	add_str(&b, false, WS_OP_TEXT, "ok\xC3(");
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_fail(&e, 0, WS_CLOSE_INVALID_DATA);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_text_invalid_split_across_fragments)
{
	/* E0 | 80: each fragment fine alone, the pair an overlong */
	struct bytes b = { 0 };
	add_str(&b, false, WS_OP_TEXT, "ab\xE0");
	size_t first = b.len;
	add_str(&b, true, WS_OP_CONTINUATION, "\x80\x80z");
	struct ws_reader r;
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	struct events e;
	run(&r, b.p, first, 0, &e);
	ck_assert_uint_eq(e.n, 0);
	run(&r, b.p + first, b.len - first, 0, &e);
	ck_fail(&e, 0, WS_CLOSE_INVALID_DATA);
	events_free(&e);
	ws_reader_free(&r);
	bytes_free(&b);
	/* a surrogate split over three fragments */
	add_str(&b, false, WS_OP_TEXT, "\xED");
	add_str(&b, false, WS_OP_CONTINUATION, "\xA0");
	add_str(&b, true, WS_OP_CONTINUATION, "\x80");
	expect_fail(&b, WS_CLOSE_INVALID_DATA);
	bytes_free(&b);
}
END_TEST

START_TEST(test_text_valid_split_across_fragments)
{
	/* each character split at each of its byte boundaries */
	static const char *const chars[] = { "\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80", "\xF4\x8F\xBF\xBF" };
	for (size_t i = 0; i < sizeof chars / sizeof *chars; i++) {
		size_t n = strlen(chars[i]);
		for (size_t at = 1; at < n; at++) {
			struct bytes b = { 0 };
			add_frame(&b, false, WS_OP_TEXT, chars[i], at);
			add_frame(&b, true, WS_OP_CONTINUATION, chars[i] + at, n - at);
			struct events e;
			read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
			ck_assert_uint_eq(e.n, 1);
			ck_message(&e, 0, false, chars[i]);
			events_free(&e);
			bytes_free(&b);
		}
	}
	/* and one byte per fragment, with a ping in the middle */
	struct bytes b = { 0 };
	add_frame(&b, false, WS_OP_TEXT, "\xF0", 1);
	add_frame(&b, false, WS_OP_CONTINUATION, "\x9F", 1);
	add_str(&b, true, WS_OP_PING, "p");
	add_frame(&b, false, WS_OP_CONTINUATION, "\x98", 1);
	add_frame(&b, true, WS_OP_CONTINUATION, "\x80", 1);
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 2);
	ck_event(&e, 0, WS_EV_PING, "p", 1);
	ck_message(&e, 1, false, "\xF0\x9F\x98\x80");
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_text_ends_mid_sequence)
{
	struct bytes b = { 0 };
	add_str(&b, true, WS_OP_TEXT, "abc\xE2\x82");
	expect_fail(&b, WS_CLOSE_INVALID_DATA);
	bytes_free(&b);
	add_str(&b, false, WS_OP_TEXT, "abc");
	add_str(&b, true, WS_OP_CONTINUATION, "\xF0\x9F\x98");
	expect_fail(&b, WS_CLOSE_INVALID_DATA);
	bytes_free(&b);
	/* an empty last fragment after a cut sequence */
	add_str(&b, false, WS_OP_TEXT, "\xC3");
	add_frame(&b, true, WS_OP_CONTINUATION, NULL, 0);
	expect_fail(&b, WS_CLOSE_INVALID_DATA);
	bytes_free(&b);
}
END_TEST

START_TEST(test_binary_not_checked)
{
	struct bytes b = { 0 };
	add_frame(&b, false, WS_OP_BINARY, "\xE2\x82", 2);
	add_frame(&b, true, WS_OP_CONTINUATION, "\xFF\xC0", 2);
	add_frame(&b, true, WS_OP_BINARY, "\xF0\x9F", 2); /* ends mid-sequence: fine */
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 2);
	ck_event(&e, 0, WS_EV_MESSAGE, "\xE2\x82\xFF\xC0", 4);
	ck_assert(e.ev[0].binary);
	ck_event(&e, 1, WS_EV_MESSAGE, "\xF0\x9F", 2);
	ck_assert(e.ev[1].binary);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

START_TEST(test_utf8_state_reset_between_messages)
{
	/* A binary message's bytes leave no UTF-8 state for the next text. */
	struct bytes b = { 0 };
	add_frame(&b, true, WS_OP_BINARY, "\xE2", 1);
	add_str(&b, true, WS_OP_TEXT, "A");
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 2);
	ck_message(&e, 1, false, "A");
	events_free(&e);
	bytes_free(&b);
}
END_TEST

/* ---- the message size limit ------------------------------------------------ */

START_TEST(test_limit_single_frame)
{
	uint8_t payload[101];
	memset(payload, 'z', sizeof payload);
	/* over the limit: refused at the header, before any payload */
	struct bytes b = { 0 };
	add_frame(&b, true, WS_OP_TEXT, payload, 101);
	struct ws_reader r;
	ws_reader_init(&r, 100, WS_FROM_CLIENT);
	struct ws_event ev;
	ck_assert_uint_eq(ws_reader_feed(&r, b.p, 6, &ev), 6);
	ck_assert_int_eq(ev.kind, WS_EV_FAIL);
	ck_assert_uint_eq(ev.close_code, WS_CLOSE_TOO_BIG);
	ck_assert_uint_eq(ws_reader_feed(&r, b.p + 6, b.len - 6, &ev), 0);
	ws_reader_free(&r);
	bytes_free(&b);
	/* exactly at the limit: fine */
	add_frame(&b, true, WS_OP_BINARY, payload, 100);
	struct events e;
	read_all(&b, 100, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 1);
	ck_event(&e, 0, WS_EV_MESSAGE, payload, 100);
	events_free(&e);
	bytes_free(&b);
	/* a 16-bit length over the limit, also at its header */
	uint8_t h[14];
	size_t n = ws_frame_header(h, true, WS_OP_BINARY, 65535, test_mask);
	ws_reader_init(&r, 65534, WS_FROM_CLIENT);
	ck_assert_uint_eq(ws_reader_feed(&r, h, n, &ev), n);
	ck_assert_int_eq(ev.kind, WS_EV_FAIL);
	ck_assert_uint_eq(ev.close_code, WS_CLOSE_TOO_BIG);
	ws_reader_free(&r);
}
END_TEST

START_TEST(test_limit_fragments)
{
	/* 40 + 40 + 21 > 100: refused at the third fragment's header */
	uint8_t payload[100];
	memset(payload, 'q', sizeof payload);
	struct bytes b = { 0 };
	add_frame(&b, false, WS_OP_TEXT, payload, 40);
	add_frame(&b, false, WS_OP_CONTINUATION, payload, 40);
	size_t before = b.len;
	add_frame(&b, true, WS_OP_CONTINUATION, payload, 21);
	struct ws_reader r;
	ws_reader_init(&r, 100, WS_FROM_CLIENT);
	struct ws_event ev;
	ck_assert_uint_eq(ws_reader_feed(&r, b.p, before, &ev), before);
	ck_assert_int_eq(ev.kind, WS_EV_NONE);
	ck_assert_uint_eq(ws_reader_feed(&r, b.p + before, 6, &ev), 6);
	ck_assert_int_eq(ev.kind, WS_EV_FAIL);
	ck_assert_uint_eq(ev.close_code, WS_CLOSE_TOO_BIG);
	ws_reader_free(&r);
	bytes_free(&b);
	/* 40 + 40 + 20 = 100, with control frames that do not count: fine */
	uint8_t ping[125];
	memset(ping, 'p', sizeof ping);
	add_frame(&b, false, WS_OP_BINARY, payload, 40);
	add_frame(&b, true, WS_OP_PING, ping, 125);
	add_frame(&b, false, WS_OP_CONTINUATION, payload, 40);
	add_frame(&b, true, WS_OP_PONG, ping, 125);
	add_frame(&b, true, WS_OP_CONTINUATION, payload, 20);
	add_frame(&b, true, WS_OP_TEXT, payload, 100); /* the count restarts per message */
	struct events e;
	read_all(&b, 100, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 4);
	ck_event(&e, 0, WS_EV_PING, ping, 125);
	ck_event(&e, 1, WS_EV_PONG, ping, 125);
	ck_assert_int_eq(e.ev[2].kind, WS_EV_MESSAGE);
	ck_assert_uint_eq(e.ev[2].len, 100);
	ck_assert(e.ev[2].binary);
	ck_assert_int_eq(e.ev[3].kind, WS_EV_MESSAGE);
	ck_assert_uint_eq(e.ev[3].len, 100);
	ck_assert(!e.ev[3].binary);
	events_free(&e);
	bytes_free(&b);
	/* a limit below a control frame's size does not apply to it */
	add_frame(&b, true, WS_OP_PING, ping, 50);
	add_frame(&b, true, WS_OP_TEXT, "12345", 5);
	read_all(&b, 4, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 2);
	ck_event(&e, 0, WS_EV_PING, ping, 50);
	ck_fail(&e, 1, WS_CLOSE_TOO_BIG);
	events_free(&e);
	bytes_free(&b);
}
END_TEST

/* A message the reader has no memory to hold ends the connection with
 * 1011, after every byte it could hold was delivered whole. */
START_TEST(test_out_of_memory)
{
	uint8_t payload[300];
	memset(payload, 'm', sizeof payload);
	struct bytes b = { 0 };
	add_frame(&b, true, WS_OP_TEXT, payload, 100); /* fits the first 256 bytes */
	add_frame(&b, false, WS_OP_TEXT, payload, 200);
	add_frame(&b, true, WS_OP_CONTINUATION, payload, 300); /* needs 512 */
	add_str(&b, true, WS_OP_TEXT, "never read");
	refuse_realloc_from = 512;
	struct events e;
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	refuse_realloc_from = 0;
	ck_assert_uint_eq(e.n, 2);
	ck_event(&e, 0, WS_EV_MESSAGE, payload, 100);
	ck_fail(&e, 1, WS_CLOSE_INTERNAL_ERROR);
	events_free(&e);
	/* with the memory back, the same bytes are one message more */
	read_all(&b, MAX_MSG, WS_FROM_CLIENT, &e);
	ck_assert_uint_eq(e.n, 3);
	ck_assert_uint_eq(e.ev[1].len, 500);
	ck_message(&e, 2, false, "never read");
	events_free(&e);
	bytes_free(&b);
}
END_TEST

/* ---- feeding --------------------------------------------------------------- */

static void build_mixed_stream(struct bytes *b)
{
	add_str(b, true, WS_OP_PING, "hello?");
	add_str(b, false, WS_OP_TEXT, "Gr\xC3");
	add_str(b, false, WS_OP_CONTINUATION, "\xBC\xC3\x9F" "e \xE2");
	add_str(b, true, WS_OP_PONG, "");
	add_str(b, true, WS_OP_CONTINUATION, "\x82\xAC!");
	uint8_t big[300];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31);
	add_frame(b, true, WS_OP_BINARY, big, sizeof big);
	add_frame(b, true, WS_OP_TEXT, NULL, 0);
	add_close(b, 4002, "taken over", 10);
}

static void check_mixed_events(const struct events *e)
{
	uint8_t big[300];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31);
	ck_assert_uint_eq(e->n, 6);
	ck_event(e, 0, WS_EV_PING, "hello?", 6);
	ck_event(e, 1, WS_EV_PONG, "", 0);
	ck_message(e, 2, false, "Gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC!");
	ck_event(e, 3, WS_EV_MESSAGE, big, sizeof big);
	ck_assert(e->ev[3].binary);
	ck_message(e, 4, false, "");
	ck_event(e, 5, WS_EV_CLOSE, "taken over", 10);
	ck_assert_uint_eq(e->ev[5].code, 4002);
}

START_TEST(test_chunked_feeding_same_events)
{
	struct bytes b = { 0 };
	build_mixed_stream(&b);
	static const size_t chunks[] = { 0, 1, 2, 3, 5, 7, 13, 64 };
	for (size_t i = 0; i < sizeof chunks / sizeof *chunks; i++) {
		struct ws_reader r;
		ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
		struct events e;
		run(&r, b.p, b.len, chunks[i], &e);
		check_mixed_events(&e);
		ck_assert_uint_eq(e.consumed, b.len);
		events_free(&e);
		ws_reader_free(&r);
	}
	bytes_free(&b);
}
END_TEST

START_TEST(test_bytewise_failure_same)
{
	/* A failure is found at the same byte fed one at a time. */
	struct bytes b = { 0 };
	add_str(&b, true, WS_OP_TEXT, "ok");
	add_str(&b, false, WS_OP_TEXT, "x\xE2\x82");
	size_t bad_at = b.len + 6; /* the first byte of the next payload */
	add_str(&b, true, WS_OP_CONTINUATION, "Zmore");
	for (size_t chunk = 0; chunk <= 1; chunk++) {
		struct ws_reader r;
		ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
		struct events e;
		run(&r, b.p, b.len, chunk, &e);
		ck_message(&e, 0, false, "ok");
		ck_fail(&e, 1, WS_CLOSE_INVALID_DATA);
		if (chunk)
			ck_assert_uint_eq(e.consumed, bad_at + 1);
		events_free(&e);
		ws_reader_free(&r);
	}
	bytes_free(&b);
}
END_TEST

START_TEST(test_two_frames_one_buffer)
{
	struct bytes b = { 0 };
	add_str(&b, true, WS_OP_TEXT, "first");
	size_t first = b.len;
	add_str(&b, true, WS_OP_BINARY, "second");
	struct ws_reader r;
	ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
	struct ws_event ev;
	ck_assert_uint_eq(ws_reader_feed(&r, b.p, b.len, &ev), first);
	ck_assert_int_eq(ev.kind, WS_EV_MESSAGE);
	ck_assert(!ev.binary);
	ck_assert_uint_eq(ev.len, 5);
	ck_assert_mem_eq(ev.data, "first", 5);
	ck_assert_uint_eq(ws_reader_feed(&r, b.p + first, b.len - first, &ev), b.len - first);
	ck_assert_int_eq(ev.kind, WS_EV_MESSAGE);
	ck_assert(ev.binary);
	ck_assert_uint_eq(ev.len, 6);
	ck_assert_mem_eq(ev.data, "second", 6);
	/* nothing left: an empty feed gives nothing */
	ck_assert_uint_eq(ws_reader_feed(&r, b.p, 0, &ev), 0);
	ck_assert_int_eq(ev.kind, WS_EV_NONE);
	ws_reader_free(&r);
	ws_reader_free(&r); /* safe twice */
	bytes_free(&b);
}
END_TEST

START_TEST(test_header_split_everywhere)
{
	/* A 64-bit-length masked header (14 bytes) split at every byte. */
	static const size_t len = 65536 + 3;
	uint8_t *payload = malloc(len);
	ck_assert_ptr_nonnull(payload);
	for (size_t i = 0; i < len; i++)
		payload[i] = (uint8_t)(i ^ (i >> 8));
	struct bytes b = { 0 };
	add_frame(&b, true, WS_OP_BINARY, payload, len);
	for (size_t at = 1; at <= 14; at++) {
		struct ws_reader r;
		ws_reader_init(&r, MAX_MSG, WS_FROM_CLIENT);
		struct ws_event ev;
		ck_assert_uint_eq(ws_reader_feed(&r, b.p, at, &ev), at);
		ck_assert_int_eq(ev.kind, WS_EV_NONE);
		ck_assert_uint_eq(ws_reader_feed(&r, b.p + at, b.len - at, &ev), b.len - at);
		ck_assert_int_eq(ev.kind, WS_EV_MESSAGE);
		ck_assert_uint_eq(ev.len, len);
		ck_assert_mem_eq(ev.data, payload, len);
		ws_reader_free(&r);
	}
	bytes_free(&b);
	free(payload);
}
END_TEST

Suite *unit_suite(void)
{
	Suite *s = suite_create("ws_codec");
	TCase *tc = tcase_create("writer");
	tcase_add_test(tc, test_header_7bit);
	tcase_add_test(tc, test_header_16bit);
	tcase_add_test(tc, test_header_64bit);
	tcase_add_test(tc, test_mask_bytes);
	tcase_add_test(tc, test_close_code_valid);
	suite_add_tcase(s, tc);

	tc = tcase_create("frames");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_text_frame);
	tcase_add_test(tc, test_binary_frame);
	tcase_add_test(tc, test_ping_pong);
	tcase_add_test(tc, test_empty_messages);
	tcase_add_test(tc, test_reserved_opcodes);
	tcase_add_test(tc, test_lengths);
	tcase_add_test(tc, test_length_64bit_huge);
	tcase_add_test(tc, test_length_top_bit);
	tcase_add_test(tc, test_unmasked_refused);
	tcase_add_test(tc, test_server_frames_unmasked_only);
	tcase_add_test(tc, test_masked_payload_is_unmasked);
	tcase_add_test(tc, test_reserved_bits);
	suite_add_tcase(s, tc);

	tc = tcase_create("fragmentation");
	tcase_add_test(tc, test_three_fragments);
	tcase_add_test(tc, test_mid_message);
	tcase_add_test(tc, test_control_between_fragments);
	tcase_add_test(tc, test_close_between_fragments);
	tcase_add_test(tc, test_continuation_without_start);
	tcase_add_test(tc, test_new_message_during_fragmented);
	tcase_add_test(tc, test_fragmented_control);
	tcase_add_test(tc, test_control_payload_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("close");
	tcase_add_test(tc, test_close_empty);
	tcase_add_test(tc, test_close_one_byte);
	tcase_add_test(tc, test_close_valid_codes);
	tcase_add_test(tc, test_close_invalid_codes);
	tcase_add_test(tc, test_close_reason);
	tcase_add_test(tc, test_nothing_after_close_or_fail);
	suite_add_tcase(s, tc);

	tc = tcase_create("utf8");
	tcase_add_test(tc, test_text_invalid_utf8);
	tcase_add_test(tc, test_text_fail_fast);
	tcase_add_test(tc, test_text_invalid_split_across_fragments);
	tcase_add_test(tc, test_text_valid_split_across_fragments);
	tcase_add_test(tc, test_text_ends_mid_sequence);
	tcase_add_test(tc, test_binary_not_checked);
	tcase_add_test(tc, test_utf8_state_reset_between_messages);
	suite_add_tcase(s, tc);

	tc = tcase_create("limits");
	tcase_add_test(tc, test_limit_single_frame);
	tcase_add_test(tc, test_limit_fragments);
	tcase_add_test(tc, test_out_of_memory);
	suite_add_tcase(s, tc);

	tc = tcase_create("feeding");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_chunked_feeding_same_events);
	tcase_add_test(tc, test_bytewise_failure_same);
	tcase_add_test(tc, test_two_frames_one_buffer);
	tcase_add_test(tc, test_header_split_everywhere);
	suite_add_tcase(s, tc);
	return s;
}
