#include <stdlib.h>
#include <string.h>

#include "ws_codec.h"

void ws_reader_init(struct ws_reader *r, uint64_t max_message, enum ws_sender sender)
{
	memset(r, 0, sizeof *r);
	r->max_message = max_message;
	r->sender = sender;
	r->head_need = 2;
}

void ws_reader_free(struct ws_reader *r)
{
	free(r->message);
	r->message = NULL;
}

bool ws_reader_mid_message(const struct ws_reader *r)
{
	return r->in_message || r->head_len > 0; /* head_len is kept until the frame ends */
}

bool ws_close_code_valid(unsigned code)
{
	return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
	       (code >= 3000 && code <= 4999);
}

void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		data[i] ^= mask[(offset + i) & 3];
}

size_t ws_frame_header(uint8_t out[14], bool fin, enum ws_opcode op, uint64_t len,
                       const uint8_t *mask)
{
	size_t n = 0;
	out[n++] = (uint8_t)((fin ? 0x80 : 0) | op);
	uint8_t mask_bit = mask ? 0x80 : 0;
	if (len < 126) {
		out[n++] = (uint8_t)(mask_bit | len);
	} else if (len <= 0xFFFF) {
		out[n++] = mask_bit | 126;
		out[n++] = (uint8_t)(len >> 8);
		out[n++] = (uint8_t)len;
	} else {
		out[n++] = mask_bit | 127;
		for (int shift = 56; shift >= 0; shift -= 8)
			out[n++] = (uint8_t)(len >> shift);
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

static void fail(struct ws_reader *r, struct ws_event *ev, uint16_t code, const char *why)
{
	r->done = true;
	ev->kind = WS_EV_FAIL;
	ev->close_code = code;
	ev->why = why;
}

static bool is_control(uint8_t opcode)
{
	return opcode & 0x8;
}

/* The header is complete: check it, and get ready for the payload. */
static void begin_payload(struct ws_reader *r, struct ws_event *ev)
{
	const uint8_t *h = r->head;
	r->fin = h[0] & 0x80;
	r->opcode = h[0] & 0x0F;
	r->masked = h[1] & 0x80;
	uint64_t len = h[1] & 0x7F;
	size_t at = 2;
	if (len == 126) {
		len = (uint64_t)h[2] << 8 | h[3];
		at = 4;
	} else if (len == 127) {
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | h[2 + i];
		at = 10;
	}
	if (r->masked)
		memcpy(r->mask, h + at, 4);
	r->payload_len = len;
	r->payload_got = 0;
	r->control_len = 0;

	if (h[0] & 0x70)
		return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "reserved bits set without an extension");
	bool known = r->opcode <= WS_OP_BINARY || (r->opcode >= WS_OP_CLOSE && r->opcode <= WS_OP_PONG);
	if (!known)
		return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "reserved opcode");
	if (r->sender == WS_FROM_CLIENT && !r->masked)
		return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "client frames must be masked");
	if (r->sender == WS_FROM_SERVER && r->masked)
		return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "server frames must not be masked");
	if (len >> 63)
		return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "payload length with the top bit set");
	if (is_control(r->opcode)) {
		if (!r->fin)
			return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "fragmented control frame");
		if (len > 125)
			return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "control frame payload over 125 bytes");
	} else if (r->opcode == WS_OP_CONTINUATION) {
		if (!r->in_message)
			return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "continuation without a message to continue");
	} else {
		if (r->in_message)
			return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "new message before the last one ended");
		r->in_message = true;
		r->message_binary = r->opcode == WS_OP_BINARY;
		r->message_len = 0;
		r->utf8 = (struct utf8_state)UTF8_STATE_INIT;
	}
	if (!is_control(r->opcode) && len > r->max_message - r->message_len)
		return fail(r, ev, WS_CLOSE_TOO_BIG, "message larger than the limit");
	r->in_payload = true;
}

/* How many header bytes the frame needs, from what we have of it. */
static size_t header_size(const uint8_t *h, size_t have)
{
	if (have < 2)
		return 2;
	size_t n = 2 + ((h[1] & 0x7F) == 126 ? 2 : (h[1] & 0x7F) == 127 ? 8 : 0);
	return n + (h[1] & 0x80 ? 4 : 0);
}

static bool grow_message(struct ws_reader *r, size_t more)
{
	if (r->message_len + more <= r->message_cap)
		return true;
	size_t cap = r->message_cap ? r->message_cap : 256;
	while (cap < r->message_len + more)
		cap *= 2;
	uint8_t *grown = realloc(r->message, cap);
	if (!grown)
		return false;
	r->message = grown;
	r->message_cap = cap;
	return true;
}

/* The frame's payload is all here: finish what it completes. */
static void end_frame(struct ws_reader *r, struct ws_event *ev)
{
	r->in_payload = false;
	r->head_len = 0;
	r->head_need = 2;
	switch (r->opcode) {
	case WS_OP_PING:
	case WS_OP_PONG:
		ev->kind = r->opcode == WS_OP_PING ? WS_EV_PING : WS_EV_PONG;
		ev->data = r->control;
		ev->len = r->control_len;
		return;
	case WS_OP_CLOSE:
		if (r->control_len == 1)
			return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "close frame with a 1-byte payload");
		ev->close_code = WS_CLOSE_NO_STATUS;
		if (r->control_len >= 2) {
			ev->close_code = (uint16_t)(r->control[0] << 8 | r->control[1]);
			if (!ws_close_code_valid(ev->close_code))
				return fail(r, ev, WS_CLOSE_PROTOCOL_ERROR, "invalid close code");
			if (!utf8_valid(r->control + 2, r->control_len - 2))
				return fail(r, ev, WS_CLOSE_INVALID_DATA, "close reason is not UTF-8");
		}
		r->done = true;
		ev->kind = WS_EV_CLOSE;
		ev->data = r->control + (r->control_len >= 2 ? 2 : 0);
		ev->len = r->control_len >= 2 ? r->control_len - 2 : 0;
		return;
	default:
		if (!r->fin)
			return;
		if (!r->message_binary && !utf8_complete(&r->utf8))
			return fail(r, ev, WS_CLOSE_INVALID_DATA, "text message ends inside a UTF-8 sequence");
		r->in_message = false;
		ev->kind = WS_EV_MESSAGE;
		ev->binary = r->message_binary;
		ev->data = r->message ? r->message : (const uint8_t *)"";
		ev->len = r->message_len;
		return;
	}
}

size_t ws_reader_feed(struct ws_reader *r, const uint8_t *in, size_t len, struct ws_event *ev)
{
	memset(ev, 0, sizeof *ev);
	size_t used = 0;
	while (used < len && !r->done) {
		if (!r->in_payload) {
			while (r->head_len < r->head_need && used < len) {
				r->head[r->head_len++] = in[used++];
				r->head_need = header_size(r->head, r->head_len);
			}
			if (r->head_len < r->head_need)
				break;
			begin_payload(r, ev);
			if (r->done)
				break;
		}
		size_t take = (size_t)(r->payload_len - r->payload_got);
		if (take > len - used)
			take = len - used;
		if (take) {
			uint8_t *dst;
			if (is_control(r->opcode)) {
				dst = r->control + r->control_len;
				r->control_len += take;
			} else {
				if (!grow_message(r, take)) {
					fail(r, ev, WS_CLOSE_INTERNAL_ERROR, "out of memory");
					break;
				}
				dst = r->message + r->message_len;
				r->message_len += take;
			}
			memcpy(dst, in + used, take);
			if (r->masked)
				ws_mask(dst, take, r->mask, r->payload_got);
			r->payload_got += take;
			used += take;
			if (!is_control(r->opcode) && !r->message_binary && !utf8_feed(&r->utf8, dst, take)) {
				fail(r, ev, WS_CLOSE_INVALID_DATA, "text message is not UTF-8");
				break;
			}
		}
		if (r->payload_got == r->payload_len) {
			end_frame(r, ev);
			if (ev->kind != WS_EV_NONE)
				break;
		}
	}
	return used;
}
