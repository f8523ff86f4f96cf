"""RFC 6455 conformance of the WebSocket transport, case by case after
Autobahn|Testsuite's fuzzingclient categories 1 (framing), 2 (pings and
pongs), 3 (reserved bits), 4 (opcodes), 5 (fragmentation), 6 (UTF-8), 7
(close handling) and 9 (limits: large and many messages). Autobahn itself
cannot run here, so each of its cases is mirrored by a test named after
it (case_5_15 is Autobahn's 5.15), sending the same frames in the same
order, flags and chopping. Autobahn grades a case OK, NON-STRICT (allowed,
but not the best behaviour) or FAILED; each docstring notes what Autobahn
accepts, and each test demands the strict OK, exactly: the frames that
must come back, in order, with nothing else between them, then the TCP
connection closed by the server.

Our server is not an echo server, so where Autobahn expects its text
message echoed, the message sent is a frontend-protocol heartbeat
({"type":"heartbeat","correlation_id":ID,"pad":PAYLOAD}, after a
connection_handshake) and the echo is its heartbeat_response with the same
correlation_id. The response does not carry the pad back, so for cases
about payload content (sizes, UTF-8) a heartbeat_response arriving is the
proof that the message was accepted whole. Messages that cannot be a
heartbeat (an empty one; one whose valid UTF-8 holds a NUL, which JSON
does not allow raw) are answered with an invalid_json error: that too is
the server accepting the message at the WebSocket layer. Binary messages
are not supported: where Autobahn expects a binary echo, the strict outcome
here is a close with 1003 (the client answers it, and the server then
closes the TCP connection). A failed connection (1002 protocol error, 1007
invalid UTF-8, 1009 too big) must close with exactly that code, and the
server closes the TCP connection without waiting for the client's close.

Category 9 is reduced to run in seconds (sizes are noted per case), and
nothing in it is timed."""

import json
import os
import socket
import struct
import time

from agentbus_test import SLOW, RawWS, run
from test_websocket import broker, handshake

TEXT, BINARY, CONT, CLOSE, PING, PONG = 1, 2, 0, 8, 9, 10


# ---- the client side: frames, sending, strict reading -----------------------

def masked(data, key):
    """data XOR the repeated mask key (fast for megabytes)."""
    n = len(data)
    if not n:
        return b""
    stream = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def frame(opcode, payload=b"", fin=True, rsv=0, length=None):
    """One masked client frame; length overrides the header's payload length
    (then only the header and mask key are returned when payload is empty)."""
    n = len(payload) if length is None else length
    head = bytes([(0x80 if fin else 0) | (rsv << 4) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    key = os.urandom(4)
    return head + key + masked(payload, key)


def close_frame(code=None, reason=b""):
    return frame(CLOSE, b"" if code is None else struct.pack("!H", code) + reason)


def send(ws, *frames, chop=None, sync=False):
    """Send frames as Autobahn does: all at once; or each in its own write
    (sync: "frame-wise chops"); or each cut in pieces of chop octets
    ("octet-wise chops" for chop=1). A send the server has already closed
    the connection on is not an error: what it answered decides."""
    try:
        if not chop and not sync:
            ws.sock.sendall(b"".join(frames))
            return
        for f in frames:
            for at in range(0, len(f), chop or len(f) or 1):
                ws.sock.sendall(f[at:at + (chop or len(f))])
            if sync:
                time.sleep(0.005)
    except (BrokenPipeError, ConnectionResetError):
        pass


def read_frame(ws, timeout=5):
    """(opcode, payload) of the server's next frame, which must be a whole,
    unmasked frame without reserved bits (the server never fragments)."""
    ws.sock.settimeout(timeout * SLOW)

    def need(n):
        while len(ws.buf) < n:
            try:
                chunk = ws.sock.recv(1 << 20)
            except ConnectionResetError:
                chunk = b""
            except socket.timeout:
                raise AssertionError("nothing more from the server within %ss (have %r)"
                                     % (timeout, ws.buf[:40]))
            if not chunk:
                raise AssertionError("the server closed the TCP connection (have %r)" % ws.buf[:40])
            ws.buf += chunk

    need(2)
    b0, b1 = ws.buf[0], ws.buf[1]
    assert b0 & 0x80, "the server sent a fragment (FIN clear): %r" % ws.buf[:16]
    assert b0 & 0x70 == 0, "the server set reserved bits: %r" % ws.buf[:16]
    assert b1 & 0x80 == 0, "the server masked its frame"
    n, at = b1 & 0x7F, 2
    if n == 126:
        need(4)
        n, at = struct.unpack("!H", ws.buf[2:4])[0], 4
    elif n == 127:
        need(10)
        n, at = struct.unpack("!Q", ws.buf[2:10])[0], 10
    need(at + n)
    payload, ws.buf = ws.buf[at:at + n], ws.buf[at + n:]
    return b0 & 0x0F, payload


def expect_json(ws):
    op, payload = read_frame(ws)
    assert op == TEXT, "expected a text message, got opcode %d (%r)" % (op, payload[:80])
    return json.loads(payload)


def expect_reply(ws, cid):
    """The next frame is the heartbeat_response to the heartbeat cid."""
    msg = expect_json(ws)
    assert msg["type"] == "heartbeat_response" and msg["correlation_id"] == cid, (cid, msg)


def expect_accepted_unparsable(ws):
    """The next frame is the invalid_json error for a message that cannot
    be a heartbeat: the WebSocket layer accepted it."""
    msg = expect_json(ws)
    assert msg["type"] == "error" and msg["error"]["error_type"] == "invalid_json", msg


def expect_pong(ws, payload):
    got = read_frame(ws)
    assert got == (PONG, payload), "expected a pong with %r, got %r" % (payload[:40], got)


def expect_close(ws, code):
    """The next frame is a close with exactly code (None: an empty close)
    and, if any, a UTF-8 reason."""
    op, payload = read_frame(ws)
    assert op == CLOSE, "expected a close with %s, got opcode %d (%r)" % (code, op, payload[:80])
    got = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None
    assert len(payload) != 1, "a close frame with a 1-byte payload"
    assert got == code, "closed with %s (%r), expected %s" % (got, payload[2:], code)
    payload[2:].decode("utf-8")  # a reason must be UTF-8


def expect_tcp_closed(ws):
    """Nothing more arrives, and the server closes the TCP connection."""
    assert ws.buf == b"", "the server sent more after its close frame: %r" % ws.buf[:40]
    ws.sock.settimeout(5 * SLOW)
    try:
        more = ws.sock.recv(1 << 16)
    except ConnectionResetError:
        more = b""
    except socket.timeout:
        raise AssertionError("the server did not close the TCP connection")
    assert more == b"", "the server sent more after its close frame: %r" % more[:40]
    assert ws.closed_by_server()


def expect_fail(ws, code):
    """The server fails the connection: a close with exactly code, then it
    closes the TCP connection without waiting for the close handshake."""
    expect_close(ws, code)
    expect_tcp_closed(ws)


def expect_unsupported(ws):
    """A binary message: the server closes with 1003 and, once the client
    has answered that close, closes the TCP connection."""
    expect_close(ws, 1003)
    send(ws, close_frame(1003))
    expect_tcp_closed(ws)


def expect_nothing(ws, wait=0.5):
    """Nothing arrives within wait seconds (Autobahn's "timeout" events)."""
    ws.sock.settimeout(wait)
    try:
        chunk = ws.sock.recv(1 << 16)
    except socket.timeout:
        assert ws.buf == b"", ws.buf[:40]
        return
    raise AssertionError("expected nothing, got %r" % chunk[:60])


def goodbye(ws, code=1000, reason=b""):
    """The client closes: the server's close echoes the code, then the
    server closes the TCP connection (Autobahn's "clean close")."""
    send(ws, close_frame(code, reason))
    expect_close(ws, code)
    expect_tcp_closed(ws)


def heartbeat(cid, pad=b""):
    """A heartbeat (a frontend-protocol text message) with pad in it raw."""
    return (b'{"type":"heartbeat","correlation_id":"' + cid.encode() + b'","pad":"' + pad + b'"}')


def heartbeat_sized(cid, size, filler=b"*"):
    """A heartbeat of exactly size octets."""
    n = size - len(heartbeat(cid))
    assert n >= 0, size
    return heartbeat(cid, (filler * (n // len(filler) + 1))[:n])


# ---- groups: one daemon for each category -----------------------------------

class Group:
    """The daemon of a category's cases, started at its first case; each
    case opens its own connection, and after the handshake."""

    def __init__(self, options=""):
        self.options = options
        self.d = None
        self.port = None

    def connect(self):
        if not self.d:
            self.d, self.port, _ = broker(self.options)
        ws = RawWS(self.port)
        ws.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        handshake(ws)
        return ws

    def end(self):
        """Stop the daemon: it must exit cleanly (sanitizers report there)."""
        d, self.d = self.d, None
        if d:
            d.close()


TESTS = []


def case(group, name=None):
    """Register a case: fn(ws) runs on a fresh connection of the group."""
    def register(fn, name=name):
        def test():
            ws = group.connect()
            try:
                fn(ws)
            finally:
                ws.close()
        test.__name__ = name or fn.__name__
        test.__doc__ = fn.__doc__
        TESTS.append(test)
        return fn
    return register


def end_of(group, category):
    def test():
        group.end()
    test.__name__ = "category_%d_daemon_exits_cleanly" % category
    TESTS.append(test)


# ---- 1 Framing --------------------------------------------------------------

G1 = Group()

# 1.1.1-1.1.8 text messages of lengths around the 7/16/64-bit length
# encodings. Autobahn OK: the message echoed, then a clean close 1000.
TEXT_SIZES = [(1, 0, None), (2, 125, None), (3, 126, None), (4, 127, None), (5, 128, None),
              (6, 65535, None), (7, 65536, None), (8, 65536, 997)]


def text_case(n, size, chop):
    def fn(ws):
        cid = "c1.1.%d" % n
        if size == 0:  # an empty message can be no heartbeat: its invalid_json error is the echo
            send(ws, frame(TEXT, b""))
            expect_accepted_unparsable(ws)
        else:
            send(ws, frame(TEXT, heartbeat_sized(cid, size)), chop=chop)
            expect_reply(ws, cid)
        goodbye(ws)
    fn.__doc__ = "1.1.%d: text message of %d octets%s. OK: echo, clean close." % (
        n, size, " in chops of %d" % chop if chop else "")
    return fn


for n, size, chop in TEXT_SIZES:
    case(G1, "case_1_1_%d" % n)(text_case(n, size, chop))


# 1.2.1-1.2.8 the same sizes as binary messages. Autobahn OK: the binary
# message echoed; here binary is unsupported: close 1003.
def binary_case(n, size, chop):
    def fn(ws):
        send(ws, frame(BINARY, b"\xfe" * size), chop=chop)
        expect_unsupported(ws)
    fn.__doc__ = "1.2.%d: binary message of %d octets: closed with 1003 (not supported)." % (n, size)
    return fn


for n, size, chop in TEXT_SIZES:
    case(G1, "case_1_2_%d" % n)(binary_case(n, size, chop))

end_of(G1, 1)

# ---- 2 Pings/Pongs ----------------------------------------------------------

G2 = Group()


@case(G2)
def case_2_1(ws):
    """Ping without payload. OK: pong with empty payload, clean close."""
    send(ws, frame(PING))
    expect_pong(ws, b"")
    goodbye(ws)


@case(G2)
def case_2_2(ws):
    """Ping with a small text payload. OK: pong with it, clean close."""
    send(ws, frame(PING, b"Hello, world!"))
    expect_pong(ws, b"Hello, world!")
    goodbye(ws)


@case(G2)
def case_2_3(ws):
    """Ping with a small binary (not UTF-8) payload. OK: pong with it."""
    payload = b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff"
    send(ws, frame(PING, payload))
    expect_pong(ws, payload)
    goodbye(ws)


@case(G2)
def case_2_4(ws):
    """Ping with a 125-octet binary payload (the most allowed). OK: pong."""
    send(ws, frame(PING, b"\xfe" * 125))
    expect_pong(ws, b"\xfe" * 125)
    goodbye(ws)


@case(G2)
def case_2_5(ws):
    """Ping with a 126-octet payload. OK: failed at once with 1002 (control
    frames carry at most 125 octets)."""
    send(ws, frame(PING, b"\xfe" * 126))
    expect_fail(ws, 1002)


@case(G2)
def case_2_6(ws):
    """Ping with 125 octets, sent in octet-wise chops. OK: pong (TCP clean)."""
    send(ws, frame(PING, b"\xfe" * 125), chop=1)
    expect_pong(ws, b"\xfe" * 125)
    goodbye(ws)


@case(G2)
def case_2_7(ws):
    """Unsolicited pong without payload, then close. OK: nothing in reply to
    the pong (the close is the next frame), clean close."""
    send(ws, frame(PONG))
    goodbye(ws)


@case(G2)
def case_2_8(ws):
    """Unsolicited pong with payload, then close. OK: nothing, clean close."""
    send(ws, frame(PONG, b"unsolicited pong payload"))
    goodbye(ws)


@case(G2)
def case_2_9(ws):
    """Unsolicited pong, then a ping. OK: only the ping's pong comes."""
    send(ws, frame(PONG, b"unsolicited pong payload"), frame(PING, b"ping payload"))
    expect_pong(ws, b"ping payload")
    goodbye(ws)


@case(G2)
def case_2_10(ws):
    """10 pings with payloads. OK: 10 pongs, in order, with the payloads
    (Autobahn checks this though the RFC does not demand every one)."""
    send(ws, *[frame(PING, b"payload-%d" % i) for i in range(10)])
    for i in range(10):
        expect_pong(ws, b"payload-%d" % i)
    goodbye(ws)


@case(G2)
def case_2_11(ws):
    """As 2.10, sent in octet-wise chops. OK: the 10 pongs in order."""
    send(ws, *[frame(PING, b"payload-%d" % i) for i in range(10)], chop=1)
    for i in range(10):
        expect_pong(ws, b"payload-%d" % i)
    goodbye(ws)


end_of(G2, 2)

# ---- 3 Reserved bits --------------------------------------------------------

G3 = Group()


@case(G3)
def case_3_1(ws):
    """Small text message with RSV = 1. OK: failed at once with 1002."""
    send(ws, frame(TEXT, heartbeat("c3.1"), rsv=1))
    expect_fail(ws, 1002)


def rsv_after_message(name, rsv, chop=None, sync=False):
    def fn(ws):
        cid = "c" + name
        send(ws, frame(TEXT, heartbeat(cid)), frame(TEXT, heartbeat(cid + "-rsv"), rsv=rsv),
             frame(PING), chop=chop, sync=sync)
        expect_reply(ws, cid)
        expect_fail(ws, 1002)  # and no pong: nothing after the close
    fn.__doc__ = ("%s: a text message, then one with RSV = %d, then a ping%s. OK: the first "
                  "echoed, then failed with 1002, no pong; NON-STRICT: no echo." % (
                      name, rsv, " (octet-wise chops)" if chop else " (frame-wise chops)" if sync else ""))
    return fn


case(G3, "case_3_2")(rsv_after_message("3.2", 2))
case(G3, "case_3_3")(rsv_after_message("3.3", 3, sync=True))
case(G3, "case_3_4")(rsv_after_message("3.4", 4, chop=1))


@case(G3)
def case_3_5(ws):
    """Small binary message with RSV = 5. OK: failed at once with 1002 (the
    reserved bits, not the binary opcode, decide)."""
    send(ws, frame(BINARY, b"\x00\xff\xfe\xfd\xfc\xfb\x00\xff", rsv=5))
    expect_fail(ws, 1002)


@case(G3)
def case_3_6(ws):
    """"Ping with RSV = 6": Autobahn's code sends it with opcode 2 (binary);
    so do we, and then a real ping with RSV = 6 on a second connection.
    OK: failed at once with 1002, both times."""
    send(ws, frame(BINARY, b"Hello, world!", rsv=6))
    expect_fail(ws, 1002)
    ws2 = G3.connect()
    try:
        send(ws2, frame(PING, b"Hello, world!", rsv=6))
        expect_fail(ws2, 1002)
    finally:
        ws2.close()


@case(G3)
def case_3_7(ws):
    """Close with RSV = 7. OK: failed at once with 1002."""
    send(ws, frame(CLOSE, rsv=7))
    expect_fail(ws, 1002)


end_of(G3, 3)

# ---- 4 Opcodes --------------------------------------------------------------

G4 = Group()


def reserved_opcode(name, opcode, payload=b"", after_message=False, chop=None):
    def fn(ws):
        cid = "c" + name
        if not after_message:
            send(ws, frame(opcode, payload))
            expect_fail(ws, 1002)
            return
        send(ws, frame(TEXT, heartbeat(cid)), frame(opcode, payload), frame(PING), chop=chop)
        expect_reply(ws, cid)
        expect_fail(ws, 1002)  # no pong
    kind = "non-control" if opcode < 8 else "control"
    if after_message:
        fn.__doc__ = ("%s: a text message, a frame with reserved %s opcode %d%s, a ping%s. OK: "
                      "the echo, then failed with 1002, no pong; NON-STRICT: no echo." % (
                          name, kind, opcode, " and a payload" if payload else "",
                          " (octet-wise chops)" if chop else ""))
    else:
        fn.__doc__ = "%s: a frame with reserved %s opcode %d%s. OK: failed at once with 1002." % (
            name, kind, opcode, " and a payload" if payload else "")
    return fn


for name, opcode, payload, after, chop in [
        ("4.1.1", 3, b"", False, None),
        ("4.1.2", 4, b"reserved opcode payload", False, None),
        ("4.1.3", 5, b"", True, None),
        ("4.1.4", 6, b"Hello, world!", True, None),
        ("4.1.5", 7, b"Hello, world!", True, 1),
        ("4.2.1", 11, b"", False, None),
        ("4.2.2", 12, b"reserved opcode payload", False, None),
        ("4.2.3", 13, b"", True, None),
        ("4.2.4", 14, b"Hello, world!", True, None),
        ("4.2.5", 15, b"Hello, world!", True, 1)]:
    case(G4, "case_" + name.replace(".", "_"))(reserved_opcode(name, opcode, payload, after, chop))

end_of(G4, 4)

# ---- 5 Fragmentation --------------------------------------------------------

G5 = Group()


def halves(data, at=None):
    at = len(data) // 2 if at is None else at
    return data[:at], data[at:]


@case(G5)
def case_5_1(ws):
    """Ping fragmented into 2 fragments. OK: failed at once with 1002."""
    send(ws, frame(PING, b"fragment1", fin=False), frame(CONT, b"fragment2"))
    expect_fail(ws, 1002)


@case(G5)
def case_5_2(ws):
    """Pong fragmented into 2 fragments. OK: failed at once with 1002."""
    send(ws, frame(PONG, b"fragment1", fin=False), frame(CONT, b"fragment2"))
    expect_fail(ws, 1002)


def two_fragments(name, chop=None, sync=False, ping=False):
    def fn(ws):
        cid = "c" + name
        a, b = halves(heartbeat(cid))
        frames = [frame(TEXT, a, fin=False)]
        if ping:
            frames.append(frame(PING, b"ping payload"))
        frames.append(frame(CONT, b))
        send(ws, *frames, chop=chop, sync=sync)
        if ping:
            expect_pong(ws, b"ping payload")
        expect_reply(ws, cid)
        goodbye(ws)
    fn.__doc__ = "%s: a text message in 2 fragments%s%s. OK: %sthe message echoed." % (
        name, ", a ping between them" if ping else "",
        " (octet-wise chops)" if chop else " (frame-wise chops)" if sync else "",
        "the pong, then " if ping else "")
    return fn


case(G5, "case_5_3")(two_fragments("5.3"))
case(G5, "case_5_4")(two_fragments("5.4", sync=True))
case(G5, "case_5_5")(two_fragments("5.5", chop=1))
case(G5, "case_5_6")(two_fragments("5.6", ping=True))
case(G5, "case_5_7")(two_fragments("5.7", sync=True, ping=True))
case(G5, "case_5_8")(two_fragments("5.8", chop=1, ping=True))


def nothing_to_continue(name, fin, chop=None, sync=False):
    def fn(ws):
        send(ws, frame(CONT, b"non-continuation payload", fin=fin),
             frame(TEXT, heartbeat("c" + name)), chop=chop, sync=sync)
        expect_fail(ws, 1002)
    fn.__doc__ = ("%s: a continuation (FIN = %s) with nothing to continue, then a text "
                  "message%s. OK: failed at once with 1002." % (
                      name, fin, " (octet-wise chops)" if chop else " (frame-wise chops)" if sync else ""))
    return fn


case(G5, "case_5_9")(nothing_to_continue("5.9", True))
case(G5, "case_5_10")(nothing_to_continue("5.10", True, sync=True))
case(G5, "case_5_11")(nothing_to_continue("5.11", True, chop=1))
case(G5, "case_5_12")(nothing_to_continue("5.12", False))
case(G5, "case_5_13")(nothing_to_continue("5.13", False, sync=True))
case(G5, "case_5_14")(nothing_to_continue("5.14", False, chop=1))


@case(G5)
def case_5_15(ws):
    """A text message in 2 fragments, then a continuation (FIN = false) with
    nothing to continue, then a text message. OK: the first message echoed,
    then failed with 1002; NON-STRICT: no echo."""
    a, b = halves(heartbeat("c5.15"))
    send(ws, frame(TEXT, a, fin=False), frame(CONT, b),
         frame(CONT, b"fragment3", fin=False), frame(TEXT, heartbeat("c5.15-4")))
    expect_reply(ws, "c5.15")
    expect_fail(ws, 1002)


@case(G5)
def case_5_16(ws):
    """Twice: a continuation (FIN = false) with nothing to continue, then a
    text message in 2 fragments. OK: failed at once with 1002."""
    a, b = halves(heartbeat("c5.16"))
    one = [frame(CONT, b"fragment1", fin=False), frame(TEXT, a, fin=False), frame(CONT, b)]
    send(ws, *(one + one))
    expect_fail(ws, 1002)


@case(G5)
def case_5_17(ws):
    """Twice: a continuation (FIN = true) with nothing to continue, then a
    text message in 2 fragments. OK: failed at once with 1002."""
    a, b = halves(heartbeat("c5.17"))
    one = [frame(CONT, b"fragment1"), frame(TEXT, a, fin=False), frame(CONT, b)]
    send(ws, *(one + one))
    expect_fail(ws, 1002)


@case(G5)
def case_5_18(ws):
    """A text message in 2 fragments, both with the text opcode. OK: failed
    at once with 1002 (frames after the first must be continuations)."""
    a, b = halves(heartbeat("c5.18"))
    send(ws, frame(TEXT, a, fin=False), frame(TEXT, b))
    expect_fail(ws, 1002)


def five_fragments_two_pings(name, sync):
    def fn(ws):
        cid = "c" + name
        msg = heartbeat(cid)
        cut = [0, 8, 16, 24, 32, len(msg)]
        parts = [msg[cut[i]:cut[i + 1]] for i in range(5)]
        send(ws, frame(TEXT, parts[0], fin=False), frame(CONT, parts[1], fin=False),
             frame(PING, b"pongme 1!"), sync=sync)
        # Answered at once, before the message is complete (Autobahn waits 1 s
        # here; waiting for the pong itself is stricter).
        expect_pong(ws, b"pongme 1!")
        send(ws, frame(CONT, parts[2], fin=False), frame(CONT, parts[3], fin=False),
             frame(PING, b"pongme 2!"), frame(CONT, parts[4]), sync=sync)
        expect_pong(ws, b"pongme 2!")
        expect_reply(ws, cid)
        goodbye(ws)
    fn.__doc__ = ("%s: a text message in 5 fragments, a ping after the 2nd, a pause, a ping "
                  "before the 5th%s. OK: the first pong before the rest is sent, the second, "
                  "then the message echoed." % (name, " (frame-wise chops)" if sync else ""))
    return fn


case(G5, "case_5_19")(five_fragments_two_pings("5.19", False))
case(G5, "case_5_20")(five_fragments_two_pings("5.20", True))

end_of(G5, 5)

# ---- 6 UTF-8 handling -------------------------------------------------------

G6 = Group()

KOSME = b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5"  # "κόσμε"
GREETING = "Hello-µ@ßöäüàá-UTF-8!!".encode()


def expect_accepted(ws, cid, payload):
    """The heartbeat carrying payload was accepted: its reply, or (payload
    holds a character JSON does not allow raw) the invalid_json error."""
    if any(b < 0x20 or b in b'"\\' for b in payload):
        expect_accepted_unparsable(ws)
    else:
        expect_reply(ws, cid)


@case(G6)
def case_6_1_1(ws):
    """Text message of length 0. OK: echoed (here: its invalid_json error)."""
    send(ws, frame(TEXT, b""))
    expect_accepted_unparsable(ws)
    goodbye(ws)


@case(G6)
def case_6_1_2(ws):
    """A text message in 3 fragments, each of length 0. OK: an empty message
    echoed (here: its invalid_json error)."""
    send(ws, frame(TEXT, b"", fin=False), frame(CONT, b"", fin=False), frame(CONT, b""))
    expect_accepted_unparsable(ws)
    goodbye(ws)


@case(G6)
def case_6_1_3(ws):
    """3 fragments, the first and last empty. OK: the middle one echoed."""
    send(ws, frame(TEXT, b"", fin=False), frame(CONT, heartbeat("c6.1.3"), fin=False),
         frame(CONT, b""))
    expect_reply(ws, "c6.1.3")
    goodbye(ws)


@case(G6)
def case_6_2_1(ws):
    """Valid UTF-8 in one fragment. OK: echoed."""
    send(ws, frame(TEXT, heartbeat("c6.2.1", GREETING)))
    expect_reply(ws, "c6.2.1")
    goodbye(ws)


@case(G6)
def case_6_2_2(ws):
    """Valid UTF-8 in 2 fragments, cut on a code point boundary. OK: echoed."""
    msg = heartbeat("c6.2.2", GREETING)
    a, b = halves(msg, msg.index("ü".encode()))
    send(ws, frame(TEXT, a, fin=False), frame(CONT, b))
    expect_reply(ws, "c6.2.2")
    goodbye(ws)


def one_octet_fragments(data):
    return [frame(TEXT if i == 0 else CONT, data[i:i + 1], fin=i == len(data) - 1)
            for i in range(len(data))]


@case(G6)
def case_6_2_3(ws):
    """Valid UTF-8 in fragments of 1 octet (fragments ending inside code
    points). OK: echoed."""
    send(ws, *one_octet_fragments(heartbeat("c6.2.3", GREETING)))
    expect_reply(ws, "c6.2.3")
    goodbye(ws)


@case(G6)
def case_6_2_4(ws):
    """As 6.2.3 with "κόσμε". OK: echoed."""
    send(ws, *one_octet_fragments(heartbeat("c6.2.4", KOSME)))
    expect_reply(ws, "c6.2.4")
    goodbye(ws)


# Invalid at its 13th octet (0xa0 after 0xed: a surrogate).
INVALID_6_3 = KOSME + b"\xed\xa0\x80" + b"edited"


@case(G6)
def case_6_3_1(ws):
    """Invalid UTF-8 in one frame. OK: failed at once with 1007."""
    send(ws, frame(TEXT, INVALID_6_3))
    expect_fail(ws, 1007)


@case(G6)
def case_6_3_2(ws):
    """Invalid UTF-8 in 1-octet fragments. OK: failed at once with 1007."""
    send(ws, *one_octet_fragments(INVALID_6_3))
    expect_fail(ws, 1007)


# Fail fast: 0xf4 0x90 would be above U+10FFFF, invalid at octet 13 (0x90).
INVALID_6_4 = KOSME + b"\xf4\x90\x80\x80" + b"edited"


def fail_fast(name, parts, one_frame):
    def fn(ws):
        if one_frame:  # one frame, its payload in 3 chops
            head = frame(TEXT, b"", length=len(INVALID_6_4))
            key = head[-4:]
            body = masked(INVALID_6_4, key)
            cut = [0, len(parts[0]), len(parts[0]) + len(parts[1]), len(INVALID_6_4)]
            chunks = [head + body[:cut[1]], body[cut[1]:cut[2]], body[cut[2]:]]
        else:  # 3 frames
            chunks = [frame(TEXT, parts[0], fin=False), frame(CONT, parts[1], fin=False),
                      frame(CONT, parts[2])]
        send(ws, chunks[0])
        expect_nothing(ws)  # Autobahn's timeout A: the first part is fine
        send(ws, chunks[1])
        expect_fail(ws, 1007)  # before the third part: fail fast
    fn.__doc__ = ("%s: invalid UTF-8 in 3 %s, with pauses; the 2nd makes it invalid. OK: "
                  "nothing after the 1st, failed with 1007 right after the 2nd (before the "
                  "3rd); NON-STRICT: failed only after the 3rd." % (
                      name, "chops of one frame" if one_frame else "frames"))
    return fn


case(G6, "case_6_4_1")(fail_fast("6.4.1", [KOSME, b"\xf4\x90\x80\x80", b"edited"], False))
case(G6, "case_6_4_2")(fail_fast("6.4.2", [INVALID_6_4[:12], INVALID_6_4[12:13], INVALID_6_4[13:]], False))
case(G6, "case_6_4_3")(fail_fast("6.4.3", [KOSME, b"\xf4\x90\x80\x80", b"edited"], True))
case(G6, "case_6_4_4")(fail_fast("6.4.4", [INVALID_6_4[:12], INVALID_6_4[12:13], INVALID_6_4[13:]], True))


def utf8_ok(data):
    try:
        data.decode("utf-8")  # Python's decoder is strict RFC 3629
        return True
    except UnicodeDecodeError:
        return False


def utf8_sequences():
    """Autobahn's cases 6.5 to 6.23, in its order: (subcategory, [(valid,
    payload), ...]), from Markus Kuhn's UTF-8 decoder stress test."""
    h = bytes.fromhex
    missing_last = [h(x) for x in ["c0", "e080", "f08080", "f8808080", "fc80808080",
                                   "df", "efbf", "f7bfbf", "fbbfbfbf", "fdbfbfbfbf"]]
    nonchars = [h("efbfbe"), h("efbfbf")]
    for z1 in b"\xf0\xf1\xf2\xf3\xf4":
        for z2 in b"\x8f\x9f\xaf\xbf":
            if z1 == 0xf4 and z2 != 0x8f:
                continue  # above U+10FFFF
            for z3 in b"\xbe\xbf":
                zz = bytes([z1, z2, 0xbf, z3])
                if zz not in (h("f08fbfbe"), h("f08fbfbf")):  # overlong
                    nonchars.append(zz)
    groups = [
        ("some valid UTF-8", True, [b"hello\x24world", b"hello\xc2\xa2world",
                                    b"hello\xe2\x82\xacworld", b"hello\xf0\xa4\xad\xa2world", KOSME]),
        ("all prefixes of a valid string with multi-octet code points", None,
         [KOSME[:i] for i in range(1, len(KOSME) + 1)]),
        ("first possible sequence of a length", True, [h("00"), h("c280"), h("e0a080"), h("f0908080")]),
        ("first possible sequence of length 5 and 6 (invalid code points)", False,
         [h("f888808080"), h("fc8480808080")]),
        ("last possible sequence of a length", True, [h("7f"), h("dfbf"), h("efbfbf"), h("f48fbfbf")]),
        ("last possible sequence of length 4, 5 and 6 (invalid code points)", False,
         [h("f7bfbfbf"), h("fbbfbfbfbf"), h("fdbfbfbfbfbf")]),
        ("other boundary conditions", None,
         [h("ed9fbf"), h("ee8080"), h("efbfbd"), h("f48fbfbf"), h("f4908080")]),
        ("unexpected continuation octets", False,
         [h("80"), h("bf"), h("80bf"), h("80bf80"), h("80bf80bf"), h("80bf80bf80"), h("80bf80bf80bf"),
          bytes(range(0x80, 0xbf))]),
        ("lonely start characters", False,
         [b"".join(bytes([i, 0x20]) for i in range(lo, hi))
          for lo, hi in [(0xc0, 0xdf), (0xe0, 0xef), (0xf0, 0xf7), (0xf8, 0xfb), (0xfc, 0xfd)]]),
        ("sequences with the last continuation octet missing", False, missing_last),
        ("concatenation of incomplete sequences", False, [b"".join(missing_last)]),
        ("impossible octets", False, [h("fe"), h("ff"), h("fefeffff")]),
        ("overlong ASCII", False,
         [h("c0af"), h("e080af"), h("f08080af"), h("f8808080af"), h("fc80808080af")]),
        ("maximum overlong sequences", False,
         [h("c1bf"), h("e09fbf"), h("f08fbfbf"), h("f887bfbfbf"), h("fc83bfbfbfbf")]),
        ("overlong NUL", False, [h("c080"), h("e08080"), h("f0808080"), h("f880808080"), h("fc8080808080")]),
        ("single UTF-16 surrogates", False,
         [h(x) for x in ["eda080", "edadbf", "edae80", "edafbf", "edb080", "edbe80", "edbfbf"]]),
        ("paired UTF-16 surrogates", False,
         [h(x) for x in ["eda080edb080", "eda080edbfbf", "edadbfedb080", "edadbfedbfbf",
                         "edae80edb080", "edae80edbfbf", "edafbfedb080", "edafbfedbfbf"]]),
        ("non-character code points (valid UTF-8)", True, nonchars),
        ("Unicode specials", True,
         [h(x) for x in ["efbfb9", "efbfba", "efbfbb", "efbfbc", "efbfbd", "efbfbe", "efbfbf"]]),
    ]
    out = []
    for title, valid, payloads in groups:
        cases = [(utf8_ok(p) if valid is None else valid, p) for p in payloads]
        for v, p in cases:  # the table agrees with a strict decoder
            assert v == utf8_ok(p), (title, p)
        out.append((title, cases))
    return out


def utf8_case(name, valid, payload):
    def fn(ws):
        cid = "c" + name
        if valid:  # in a heartbeat, as one frame
            send(ws, frame(TEXT, heartbeat(cid, payload)))
            expect_accepted(ws, cid, payload)
            goodbye(ws)
        else:  # the payload alone, as Autobahn sends it
            send(ws, frame(TEXT, payload))
            expect_fail(ws, 1007)
    fn.__doc__ = "%s: text message %s (%s UTF-8). OK: %s." % (
        name, payload.hex(), "valid" if valid else "invalid",
        "echoed, clean close" if valid else "failed at once with 1007")
    return fn


UTF8_CASES = 0
for i, (title, cases) in enumerate(utf8_sequences(), start=5):
    for j, (valid, payload) in enumerate(cases, start=1):
        case(G6, "case_6_%d_%d" % (i, j))(utf8_case("6.%d.%d" % (i, j), valid, payload))
        UTF8_CASES += 1
assert UTF8_CASES == 132, UTF8_CASES  # Autobahn's 6.5.1 to 6.23.7

end_of(G6, 6)

# ---- 7 Close handling -------------------------------------------------------

G7 = Group()


@case(G7)
def case_7_1_1(ws):
    """A text message, then a close. OK: the echo, then a clean close 1000."""
    send(ws, frame(TEXT, heartbeat("c7.1.1")), close_frame(1000))
    expect_reply(ws, "c7.1.1")
    expect_close(ws, 1000)
    expect_tcp_closed(ws)


@case(G7)
def case_7_1_2(ws):
    """Two close frames. OK: a clean close 1000; the second is ignored."""
    send(ws, close_frame(1000), close_frame())
    expect_close(ws, 1000)
    expect_tcp_closed(ws)


@case(G7)
def case_7_1_3(ws):
    """A ping after the close. OK: a clean close 1000, no pong."""
    send(ws, close_frame(1000), frame(PING))
    expect_close(ws, 1000)
    expect_tcp_closed(ws)


@case(G7)
def case_7_1_4(ws):
    """A text message after the close. OK: a clean close 1000, the message
    ignored."""
    send(ws, close_frame(1000), frame(TEXT, heartbeat("c7.1.4")))
    expect_close(ws, 1000)
    expect_tcp_closed(ws)


@case(G7)
def case_7_1_5(ws):
    """A message's first fragment, the close, then its last fragment. OK: a
    clean close 1000."""
    a, b = halves(heartbeat("c7.1.5"))
    send(ws, frame(TEXT, a, fin=False), close_frame(1000), frame(CONT, b))
    expect_close(ws, 1000)
    expect_tcp_closed(ws)


@case(G7)
def case_7_1_6(ws):
    """A 256K message, a small one, the close, then a ping, back to back.
    INFORMATIONAL in Autobahn: OK when the messages are processed before the
    close (here required), NON-STRICT when the close is first. No pong."""
    send(ws, frame(TEXT, heartbeat_sized("c7.1.6-big", 256 << 10, b"BAsd7&jh23")),
         frame(TEXT, heartbeat("c7.1.6")), close_frame(1000), frame(PING))
    expect_reply(ws, "c7.1.6-big")
    expect_reply(ws, "c7.1.6")
    expect_close(ws, 1000)
    expect_tcp_closed(ws)


@case(G7)
def case_7_3_1(ws):
    """A close with payload length 0 (no code). OK: a clean close; the reply
    may carry 1000 or no code: ours echoes the empty close."""
    send(ws, close_frame())
    expect_close(ws, None)
    expect_tcp_closed(ws)


@case(G7)
def case_7_3_2(ws):
    """A close with a 1-octet payload. OK: a close with 1002 or a dropped
    TCP connection; ours: 1002."""
    send(ws, frame(CLOSE, b"a"))
    expect_fail(ws, 1002)


@case(G7)
def case_7_3_3(ws):
    """A close with payload length 2 (code 1000, no reason). OK: clean 1000."""
    goodbye(ws, 1000)


@case(G7)
def case_7_3_4(ws):
    """A close with code 1000 and a reason. OK: a clean close 1000."""
    goodbye(ws, 1000, b"Hello World!")


@case(G7)
def case_7_3_5(ws):
    """A close with code 1000 and a reason of 123 octets (the longest that
    fits). OK: a clean close 1000."""
    goodbye(ws, 1000, b"*" * 123)


@case(G7)
def case_7_3_6(ws):
    """A close with a reason of 124 octets (a 126-octet payload). OK: a
    close with 1002 or a dropped TCP connection; ours: 1002."""
    send(ws, close_frame(1000, b"*" * 124))
    expect_fail(ws, 1002)


@case(G7)
def case_7_5_1(ws):
    """A close with an invalid UTF-8 reason. OK: a close with 1002 or 1007,
    or a dropped TCP connection; ours: 1007."""
    send(ws, close_frame(1000, INVALID_6_3))
    expect_fail(ws, 1007)


def valid_close_code(name, code):
    def fn(ws):
        goodbye(ws, code)
    fn.__doc__ = ("%s: a close with valid code %d. OK: a clean close with 1000 or the code "
                  "echoed; ours echoes it." % (name, code))
    return fn


def invalid_close_code(name, code):
    def fn(ws):
        send(ws, close_frame(code))
        expect_fail(ws, 1002)
    fn.__doc__ = ("%s: a close with invalid code %d. OK: a close with 1002 or a dropped TCP "
                  "connection; ours: 1002." % (name, code))
    return fn


# Autobahn's lists (since its 2018 fix, issue #88: 1014 and 1015 are no longer
# called invalid; they are tested in neither list).
for j, code in enumerate([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999],
                         start=1):
    case(G7, "case_7_7_%d" % j)(valid_close_code("7.7.%d" % j, code))
for j, code in enumerate([0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999], start=1):
    case(G7, "case_7_9_%d" % j)(invalid_close_code("7.9.%d" % j, code))


@case(G7)
def case_7_7_extra_iana_codes(ws):
    """Not an Autobahn case: 1012, 1013 and 1014, registered with IANA after
    RFC 6455, are accepted (echoed); 1015 (TLS handshake, which RFC 6455
    7.4.1 says must never be sent) is a protocol error. (Autobahn before
    2018 had 1014 and 1015 as its 7.9.6 and 7.9.7.)"""
    ws.close()
    for code in (1012, 1013, 1014):
        one = G7.connect()
        try:
            goodbye(one, code)
        finally:
            one.close()
    one = G7.connect()
    try:
        send(one, close_frame(1015))
        expect_fail(one, 1002)
    finally:
        one.close()


@case(G7)
def case_7_13_1(ws):
    """A close with code 5000. INFORMATIONAL in Autobahn (1000, 5000 or
    1002 accepted); strictly a protocol error (codes end at 4999): 1002."""
    send(ws, close_frame(5000))
    expect_fail(ws, 1002)


@case(G7)
def case_7_13_2(ws):
    """A close with code 65535. INFORMATIONAL; strictly 1002, as 7.13.1."""
    send(ws, close_frame(65535))
    expect_fail(ws, 1002)


end_of(G7, 7)

# ---- 9 Limits/performance (reduced) -----------------------------------------
# Autobahn's sizes go to 16M; here they are scaled down to at most 1 MiB
# (noted per case), with max_message_size raised and no rate limit. The
# message sizes are those of the whole heartbeat. Nothing is timed.

G9 = Group("max_message_size = 16M\nrate_limit = 0\n")
FILLER = b"BAsd7&jh23"
K, M = 1 << 10, 1 << 20


def big_text(name, size, fragment=None, chop=None):
    def fn(ws):
        cid = "c" + name
        msg = heartbeat_sized(cid, size, FILLER)
        if fragment:
            pieces = [msg[at:at + fragment] for at in range(0, len(msg), fragment)]
            frames = [frame(TEXT if i == 0 else CONT, p, fin=i == len(pieces) - 1)
                      for i, p in enumerate(pieces)]
        else:
            frames = [frame(TEXT, msg)]
        send(ws, *frames, chop=chop)
        expect_reply(ws, cid)
        goodbye(ws)
    return fn


def big_binary(size, fragment=None, chop=None):
    def fn(ws):
        data = b"\xfe" * size
        if fragment:
            pieces = [data[at:at + fragment] for at in range(0, size, fragment)]
            frames = [frame(BINARY if i == 0 else CONT, p, fin=i == len(pieces) - 1)
                      for i, p in enumerate(pieces)]
        else:
            frames = [frame(BINARY, data)]
        send(ws, *frames, chop=chop)
        expect_unsupported(ws)
    return fn


def size_name(n):
    return "%dM" % (n // M) if n >= M and n % M == 0 else "%dK" % (n // K) if n >= K else "%d" % n


# 9.1.x text / 9.2.x binary, one frame: Autobahn 64K..16M, here 1/16 of it.
for j, size in enumerate([64 * K, 256 * K, 1 * M, 4 * M, 8 * M, 16 * M], start=1):
    ours = size // 16
    fn = big_text("9.1.%d" % j, ours)
    fn.__doc__ = "9.1.%d: a %s text message (Autobahn: %s). OK: echoed." % (
        j, size_name(ours), size_name(size))
    case(G9, "case_9_1_%d" % j)(fn)
for j, size in enumerate([64 * K, 256 * K, 1 * M, 4 * M, 8 * M, 16 * M], start=1):
    ours = size // 16
    fn = big_binary(ours)
    fn.__doc__ = "9.2.%d: a %s binary message (Autobahn: %s): closed with 1003." % (
        j, size_name(ours), size_name(size))
    case(G9, "case_9_2_%d" % j)(fn)

# 9.3.x text / 9.4.x binary, fragmented: Autobahn 4M in fragments of 64 to
# 4M; here 1M in fragments a quarter of those (16 to 1M).
for j, frag in enumerate([64, 256, 1 * K, 4 * K, 16 * K, 64 * K, 256 * K, 1 * M, 4 * M], start=1):
    fn = big_text("9.3.%d" % j, 1 * M, fragment=frag // 4)
    fn.__doc__ = "9.3.%d: a 1M text message in fragments of %s (Autobahn: 4M in %s). OK: echoed." % (
        j, size_name(frag // 4), size_name(frag))
    case(G9, "case_9_3_%d" % j)(fn)
for j, frag in enumerate([64, 256, 1 * K, 4 * K, 16 * K, 64 * K, 256 * K, 1 * M, 4 * M], start=1):
    fn = big_binary(1 * M, fragment=frag // 4)
    fn.__doc__ = ("9.4.%d: a 1M binary message in fragments of %s (Autobahn: 4M in %s): "
                  "closed with 1003." % (j, size_name(frag // 4), size_name(frag)))
    case(G9, "case_9_4_%d" % j)(fn)

# 9.5.x text / 9.6.x binary: 1M in one frame, sent in chops of 64 to 2048
# octets: Autobahn's sizes.
for j, chop in enumerate([64, 128, 256, 512, 1024, 2048], start=1):
    fn = big_text("9.5.%d" % j, 1 * M, chop=chop)
    fn.__doc__ = "9.5.%d: a 1M text message sent in chops of %d. OK: echoed." % (j, chop)
    case(G9, "case_9_5_%d" % j)(fn)
for j, chop in enumerate([64, 128, 256, 512, 1024, 2048], start=1):
    fn = big_binary(1 * M, chop=chop)
    fn.__doc__ = "9.6.%d: a 1M binary message sent in chops of %d: closed with 1003." % (j, chop)
    case(G9, "case_9_6_%d" % j)(fn)


# 9.7.x: 1000 text messages, each sent when the previous one's echo came
# (Autobahn's sizes and count; the payload size is the pad's).
def round_trips(name, size, count=1000):
    def fn(ws):
        pad = (FILLER * (size // len(FILLER) + 1))[:size]
        for n in range(count):
            cid = "c%s-%d" % (name, n)
            ws.sock.sendall(frame(TEXT, heartbeat(cid, pad)))
            expect_reply(ws, cid)
        goodbye(ws)
    fn.__doc__ = "%s: %d text messages with %d-octet payloads, one at a time. OK: each echoed." % (
        name, count, size)
    return fn


SIZES_9_7 = [0, 16, 64, 256, 1024, 4096]
for j, size in enumerate(SIZES_9_7, start=1):
    case(G9, "case_9_7_%d" % j)(round_trips("9.7.%d" % j, size))


# 9.8.x: 1000 binary messages: the first is closed with 1003, so only it is sent.
def first_binary(size):
    def fn(ws):
        send(ws, frame(BINARY, b"\xfe" * size))
        expect_unsupported(ws)
    fn.__doc__ = "9.8.x: the first of 1000 binary messages of %d octets: closed with 1003." % size
    return fn


for j, size in enumerate(SIZES_9_7, start=1):
    case(G9, "case_9_8_%d" % j)(first_binary(size))


@case(G9)
def case_9_extra_over_limit_1009(ws):
    """Not an Autobahn case: a frame header announcing a message over
    max_message_size (16M + 1). Failed with 1009 at the header, before any
    of its payload is sent."""
    send(ws, frame(TEXT, b"", length=16 * M + 1))
    expect_fail(ws, 1009)


end_of(G9, 9)


if __name__ == "__main__":
    run(TESTS)
