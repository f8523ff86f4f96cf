/* RFC 6455 framing as a pure codec: bytes in, events out, no I/O, so it is
 * unit-tested exhaustively and fuzzed. The reader validates everything a
 * strict server must (RFC 6455 section 5, 7.4 and 8.1): reserved bits and
 * opcodes, masking, control-frame rules, fragmentation order, the message
 * size limit (checked at each frame header, before its payload arrives),
 * UTF-8 of text messages incrementally across fragments (failing at the
 * first bad byte), and close frames' codes and reasons. */
#ifndef AB_WS_CODEC_H
#define AB_WS_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utf8.h"

enum ws_opcode {
	WS_OP_CONTINUATION = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close codes (RFC 6455 7.4.1, and the protocol's own 4000-4003). */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL_ERROR = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005, /* never sent: "the close frame had no code" */
	WS_CLOSE_ABNORMAL = 1006,  /* never sent: "the connection dropped without a close" */
	WS_CLOSE_INVALID_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL_ERROR = 1011,
	WS_CLOSE_IDLE_TIMEOUT = 4000,
	WS_CLOSE_HANDSHAKE_TIMEOUT = 4001,
	WS_CLOSE_SESSION_TAKEN_OVER = 4002,
	WS_CLOSE_RATE_LIMITED = 4003,
};

enum ws_event_kind {
	WS_EV_NONE,    /* need more bytes */
	WS_EV_MESSAGE, /* a whole text or binary message */
	WS_EV_PING,
	WS_EV_PONG,
	WS_EV_CLOSE, /* the peer's close frame (valid) */
	WS_EV_FAIL,  /* the peer broke the protocol: close with close_code */
};

struct ws_event {
	enum ws_event_kind kind;
	bool binary;         /* MESSAGE: a binary message */
	const uint8_t *data; /* MESSAGE/PING/PONG payload, CLOSE reason; valid until the next feed */
	size_t len;
	uint16_t close_code; /* CLOSE: the peer's code (1005: none); FAIL: ours to send */
	const char *why;     /* FAIL: what was wrong (static) */
};

/* Who sends the frames a reader reads: a client masks every frame, a
 * server none (RFC 6455 5.1); either mistake fails the connection. */
enum ws_sender { WS_FROM_SERVER, WS_FROM_CLIENT };

struct ws_reader {
	uint64_t max_message;
	enum ws_sender sender;
	/* the frame being read */
	uint8_t head[14];
	size_t head_len, head_need;
	bool in_payload;
	bool fin, masked;
	uint8_t opcode;
	uint8_t mask[4];
	uint64_t payload_len, payload_got;
	/* the message being assembled */
	bool in_message, message_binary;
	struct utf8_state utf8;
	uint8_t *message;
	size_t message_len, message_cap;
	/* a control frame's payload (at most 125 bytes) */
	uint8_t control[125];
	size_t control_len;
	bool done; /* after CLOSE or FAIL nothing more is read */
};

void ws_reader_init(struct ws_reader *r, uint64_t max_message, enum ws_sender sender);
void ws_reader_free(struct ws_reader *r);

/* Part of a frame, or of a fragmented message, has been read and waits for
 * the rest. */
bool ws_reader_mid_message(const struct ws_reader *r);

/* Consume bytes until one event completes (or all are consumed). Returns
 * how many bytes it consumed; *ev says what completed (WS_EV_NONE: none
 * yet). Call again with the rest. After CLOSE or FAIL it consumes nothing. */
size_t ws_reader_feed(struct ws_reader *r, const uint8_t *in, size_t len, struct ws_event *ev);

/* May a close frame carry this code? (1000-1003, 1007-1014, 3000-4999.) */
bool ws_close_code_valid(unsigned code);

/* Write a frame header into out; returns its length (2 to 14 bytes). With
 * mask (a client's frame), the mask key is included and the caller masks
 * the payload with ws_mask. */
size_t ws_frame_header(uint8_t out[14], bool fin, enum ws_opcode op, uint64_t len,
                       const uint8_t *mask);

/* XOR data with the mask key; offset is data's position in the payload. */
void ws_mask(uint8_t *data, size_t len, const uint8_t mask[4], uint64_t offset);

#endif
