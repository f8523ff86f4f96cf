"""The frontend WebSocket transport against the real daemon: the frontend
protocol of docs/protocol.md (greeting, handshake, ids, seq and timestamps,
heartbeat, legacy implicit sessions, takeover, interim replies), the HTTP
upgrade's refusals, RFC 6455 violations and their close codes, timeouts.
Clients: a raw-socket client (for what real clients never send) and
Python's websockets."""

import asyncio
import json
import os
import re
import signal
import socket
import struct
import time

from agentbus_test import TOP_BUILDDIR, FIXTURE_PLUGIN_DIR, Daemon, RawWS, Tap, free_port, run, make_certificate

WEBSOCKET_SO = os.path.join(TOP_BUILDDIR, "plugins", "websocket", ".libs", "websocket.so")
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def broker(ws_options="", routes=True, broker_options="", extra=""):
    """A daemon with the websocket plugin and a linetap for upstream agents.
    (Clients that never answer the shutdown's close frame are not waited
    for long: shutdown_timeout is short.)"""
    port, tap_port = free_port(), free_port()
    config = "shutdown_timeout = 1s\n" + broker_options + (
        "[plugin:websocket]\nmodule = %s\nlisten = 127.0.0.1:%d\n%s"
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        % (WEBSOCKET_SO, port, ws_options, FIXTURE_PLUGIN_DIR, tap_port)
    )
    if routes:
        config += ("[route:query]\nsource = frontend_*\ntype = query\ndestination = up_1\n"
                   "interim = query_progress, query_processing_started\nerror_reply = query_error\n")
    d = Daemon(config + extra).start()
    return d, port, tap_port


def handshake(ws, **fields):
    ws.recv_json()  # connection_established
    msg = {"type": "connection_handshake", "correlation_id": "h1", "user_id": "u1",
           "capabilities": ["query_processing", "real_time_updates", "heartbeat"]}
    msg.update(fields)
    msg = {k: v for k, v in msg.items() if v is not None}  # a field given as None is left out
    ws.send_json(msg)
    ack = ws.recv_json()
    assert ack["type"] == "connection_acknowledged", ack
    return ack


def test_greeting_handshake_and_acknowledgement():
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        assert ws.status == 101 and ws.headers["upgrade"].lower() == "websocket", (ws.status, ws.headers)
        hello = ws.recv_json()
        assert hello["type"] == "connection_established", hello
        assert re.match(r"^[0-9a-f]{16}$", hello["connection_id"]), hello
        assert hello["protocol_version"] == 1 and "seq" not in hello, hello
        assert TIMESTAMP.match(hello["timestamp"]), hello
        ws.send_json({"type": "connection_handshake", "correlation_id": "h1",
                      "agent_id": "frontend_u1_session_1", "user_id": "u1"})
        ack = ws.recv_json()
        assert ack["type"] == "connection_acknowledged", ack
        assert ack["correlation_id"] == "h1" and ack["agent_id"] == "frontend_u1_session_1", ack
        assert ack["server_agent_id"].startswith("agentbus_"), ack
        assert ack["session_established"] is True and ack["session_resumed"] is False, ack
        assert ack["seq"] == 1 and ack["heartbeat_interval"] == 30, ack
        assert "heartbeat" in ack["server_capabilities"], ack
    finally:
        d.close()


def test_assigned_agent_id_and_correlation_id():
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "user_id": "alice"})
        ack = ws.recv_json()
        assert re.match(r"^frontend_alice_[0-9a-f]{16}$", ack["agent_id"]), ack
        assert ack["correlation_id"], ack  # assigned, since the request had none
    finally:
        d.close()


def test_messages_before_the_handshake_get_handshake_required():
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "query", "correlation_id": "q0", "query": "x"})
        err = ws.recv_json()
        assert err["type"] == "error" and err["correlation_id"] == "q0", err
        assert err["error"] == {"error_type": "handshake_required", "message": "send connection_handshake first"}, err
        ws.send_json({"type": "connection_handshake", "correlation_id": "h2"})
        assert ws.recv_json()["type"] == "connection_acknowledged"  # still usable afterwards
    finally:
        d.close()


def test_bad_agent_id_is_refused_with_1008():
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "correlation_id": "h", "agent_id": "no spaces allowed"})
        err = ws.recv_json()
        assert err["error"]["error_type"] == "invalid_message", err
        assert ws.recv_close()[0] == 1008
    finally:
        d.close()


def test_handshake_timeout_closes_with_4001():
    d, port, _ = broker("handshake_timeout = 300ms\n")
    try:
        ws = RawWS(port)
        ws.recv_json()
        start = time.monotonic()
        assert ws.recv_close()[0] == 4001
        assert time.monotonic() - start < 3
    finally:
        d.close()


def test_heartbeat_ping_seq_and_timestamps_tell_the_truth():
    d, port, _ = broker()
    try:
        others = [RawWS(port) for _ in range(2)]
        ws = RawWS(port)
        handshake(ws)
        ws.send_json({"type": "heartbeat", "correlation_id": "hb1"})
        hb = ws.recv_json()
        assert hb["type"] == "heartbeat_response" and hb["correlation_id"] == "hb1", hb
        assert hb["server_status"] == "healthy" and re.match(r"^[0-9a-f]{16}$", hb["connection_id"]), hb
        assert hb["metrics"]["active_connections"] == 3, hb
        first = hb["metrics"]["uptime_seconds"]
        time.sleep(0.3)
        ws.send_json({"type": "ping", "correlation_id": "p1"})
        pong = ws.recv_json()
        assert pong["type"] == "pong" and pong["correlation_id"] == "p1", pong
        assert pong["metrics"]["uptime_seconds"] >= first + 0.25, (first, pong)
        assert [hb["seq"], pong["seq"]] == [2, 3], (hb, pong)
        assert TIMESTAMP.match(hb["timestamp"]) and TIMESTAMP.match(pong["timestamp"])
        for o in others:
            o.close()
    finally:
        d.close()


def test_interim_replies_only_for_real_time_sessions():
    d, port, tap_port = broker()
    try:
        up = Tap(tap_port)
        up.register("up_1")
        rt = RawWS(port)
        handshake(rt, agent_id="frontend_u1_rt")
        plain = RawWS(port)
        handshake(plain, agent_id="frontend_u1_plain", capabilities=[])
        for ws, cid in ((rt, "r1"), (plain, "p1")):
            ws.send_json({"type": "query", "correlation_id": cid, "query": "SELECT 1"})
            _, kind, req = up.deliver()
            assert kind == "request" and req["correlation_id"] == cid, req
            up.send("up_1", {"type": "query_progress", "correlation_id": cid, "progress": 50})
            up.send("up_1", {"type": "query_response", "correlation_id": cid, "response": {"data": [1]}})
        got = [rt.recv_json(), rt.recv_json()]
        assert [m["type"] for m in got] == ["query_progress", "query_response"], got
        assert [m["seq"] for m in got] == [2, 3], got
        final = plain.recv_json()
        assert final["type"] == "query_response" and final["correlation_id"] == "p1", final
        plain.send_json({"type": "heartbeat", "correlation_id": "after"})
        assert plain.recv_json()["correlation_id"] == "after"  # nothing came in between
    finally:
        d.close()


def test_legacy_path_without_handshake_gets_one_frame_per_request():
    d, port, tap_port = broker()
    try:
        up = Tap(tap_port)
        up.register("up_1")
        ws = RawWS(port, path="/ws/query/u42")
        hello = ws.recv_json()
        assert hello["type"] == "connection_established" and hello["user_id"] == "u42", hello
        ws.send_json({"type": "query", "correlation_id": "lq1", "query": "SELECT 1"})
        agent, kind, req = up.deliver()
        assert (agent, kind, req["correlation_id"]) == ("up_1", "request", "lq1"), (agent, kind, req)
        up.send("up_1", {"type": "query_processing_started", "correlation_id": "lq1"})
        up.send("up_1", {"type": "query_progress", "correlation_id": "lq1"})
        up.send("up_1", {"type": "query_response", "correlation_id": "lq1", "response": {"data": [[1]]}})
        reply = ws.recv_json()
        assert reply["type"] == "query_response" and reply["correlation_id"] == "lq1", reply
        ws.send_json({"type": "heartbeat", "correlation_id": "hb"})
        assert ws.recv_json()["type"] == "heartbeat_response"  # and nothing in between
        # /ws/chat/{user} works the same way.
        chat = RawWS(port, path="/ws/chat/u43")
        assert chat.recv_json()["user_id"] == "u43"
    finally:
        d.close()


def test_second_connection_takes_the_session_over():
    d, port, tap_port = broker()
    try:
        up = Tap(tap_port)
        up.register("up_1")
        old = RawWS(port)
        handshake(old, agent_id="frontend_u1_same")
        old.send_json({"type": "query", "correlation_id": "t1"})
        up.deliver()
        new = RawWS(port)
        ack = handshake(new, agent_id="frontend_u1_same")
        assert ack["agent_id"] == "frontend_u1_same", ack
        assert old.recv_close()[0] == 4002
        up.send("up_1", {"type": "query_response", "correlation_id": "t1"})
        reply = new.recv_json()
        assert reply["correlation_id"] == "t1" and reply["seq"] > ack["seq"], (ack, reply)
    finally:
        d.close()


def answer(up, kind="query_response", cid=None, **fields):
    """The upstream answers its next request (or the given correlation id)."""
    if cid is None:
        cid = up.deliver()[2]["correlation_id"]
    msg = {"type": kind, "correlation_id": cid}
    msg.update(fields)
    up.send("up_1", msg)
    return cid


def test_resumption_after_a_cut_loses_and_duplicates_nothing():
    d, port, tap_port = broker()
    try:
        up = Tap(tap_port)
        up.register("up_1")
        seen = []
        ws = RawWS(port)
        seen.append(handshake(ws, agent_id="frontend_u1_resume")["seq"])
        ws.send_json({"type": "query", "correlation_id": "q1"})
        cid = answer(up, "query_progress")
        answer(up, cid=cid)
        seen += [ws.recv_json()["seq"], ws.recv_json()["seq"]]
        ws.send_json({"type": "query", "correlation_id": "q2"})
        cid2 = up.deliver()[2]["correlation_id"]
        ws.sock.close()  # the TCP connection is cut, no close frame
        time.sleep(0.2)
        # Replies for the absent frontend are kept, not dropped.
        answer(up, "query_progress", cid=cid2, progress=1)
        answer(up, cid=cid2, rows=[1, 2, 3])
        time.sleep(0.2)
        ws2 = RawWS(port)
        ws2.recv_json()
        ws2.send_json({"type": "connection_handshake", "correlation_id": "h2",
                       "agent_id": "frontend_u1_resume", "capabilities": ["real_time_updates"],
                       "resume": {"last_seq": seen[-1]}})
        replayed = [ws2.recv_json(), ws2.recv_json()]
        ack = ws2.recv_json()
        assert [m["type"] for m in replayed] == ["query_progress", "query_response"], replayed
        assert replayed[1]["rows"] == [1, 2, 3] and replayed[1]["correlation_id"] == "q2", replayed
        assert ack["type"] == "connection_acknowledged" and ack["session_resumed"] is True, ack
        assert "messages_lost" not in ack, ack
        seen += [m["seq"] for m in replayed] + [ack["seq"]]
        assert seen == list(range(1, len(seen) + 1)), seen  # in order, none twice, none missing
        # A client that missed frames in flight asks from further back.
        ws2.sock.close()
        time.sleep(0.2)
        ws3 = RawWS(port)
        ws3.recv_json()
        ws3.send_json({"type": "connection_handshake", "agent_id": "frontend_u1_resume",
                       "resume": {"last_seq": 3}})
        again = [ws3.recv_json() for _ in range(4)]
        assert [m["seq"] for m in again[:3]] == [4, 5, 6], again
        assert again[3]["type"] == "connection_acknowledged" and again[3]["session_resumed"] is True
    finally:
        d.close()


def resume_after_answers_while_away(tap_port, port, agent_id, n, read, **fields):
    """A frontend sends n queries and its connection is cut; the answers
    (with fields) arrive while it is away; a new connection resumes from
    seq 1 (the first one's acknowledgement). Returns the query ids and the
    first `read` messages the new connection gets after its greeting."""
    up = Tap(tap_port)
    up.register("up_1")
    ws = RawWS(port)
    handshake(ws, agent_id=agent_id)  # seq 1
    for i in range(n):
        ws.send_json({"type": "query", "correlation_id": "away%d" % i})
    cids = [up.deliver()[2]["correlation_id"] for _ in range(n)]
    ws.sock.close()
    time.sleep(0.2)
    for cid in cids:  # seq 2 .. n + 1
        answer(up, cid=cid, **fields)
    time.sleep(0.2)
    ws2 = RawWS(port)
    ws2.recv_json()
    ws2.send_json({"type": "connection_handshake", "agent_id": agent_id, "resume": {"last_seq": 1}})
    return cids, [ws2.recv_json() for _ in range(read)]


def test_exceeded_replay_window_says_messages_lost():
    d, port, tap_port = broker("replay_max_messages = 2\n")
    try:
        # seq 2, 3, 4 while away; only 3 and 4 are kept
        cids, got = resume_after_answers_while_away(tap_port, port, "frontend_u1_lossy", 3, 3)
        assert [m.get("seq") for m in got[:2]] == [3, 4], got
        assert [m["correlation_id"] for m in got[:2]] == cids[1:], got
        ack = got[2]
        assert ack["session_resumed"] is False and ack["messages_lost"] is True, ack
    finally:
        d.close()


def test_replay_byte_bound_keeps_the_newest_and_says_messages_lost():
    d, port, tap_port = broker("replay_max_bytes = 4K\n")
    try:
        # seq 2..6 while away, ~1.5 KiB each: only two fit in 4 KiB
        cids, got = resume_after_answers_while_away(tap_port, port, "frontend_u1_bytes", 5, 3,
                                                    response={"pad": "p" * 1500})
        assert [m.get("seq") for m in got[:2]] == [5, 6], got
        assert [m["correlation_id"] for m in got[:2]] == cids[3:], got
        ack = got[2]
        assert ack["type"] == "connection_acknowledged", ack
        assert ack["session_resumed"] is False and ack["messages_lost"] is True, ack
    finally:
        d.close()


def test_session_ends_after_the_replay_window_or_a_goodbye():
    d, port, _ = broker("replay_window = 300ms\n")
    try:
        ws = RawWS(port)
        handshake(ws, agent_id="frontend_u1_gone")
        ws.sock.close()
        time.sleep(0.6)
        ws2 = RawWS(port)
        ws2.recv_json()
        ws2.send_json({"type": "connection_handshake", "agent_id": "frontend_u1_gone",
                       "resume": {"last_seq": 1}})
        ack = ws2.recv_json()
        assert ack["session_resumed"] is False and ack["messages_lost"] is True and ack["seq"] == 1, ack
        ws2.send_frame(8, b"\x03\xe8")  # 1000: goodbye ends the session at once
        assert ws2.recv_close()[0] == 1000
        ws3 = RawWS(port)
        ws3.recv_json()
        ws3.send_json({"type": "connection_handshake", "agent_id": "frontend_u1_gone",
                       "resume": {"last_seq": 1}})
        ack = ws3.recv_json()
        assert ack["seq"] == 1 and ack["messages_lost"] is True, ack
    finally:
        d.close()


def test_malformed_messages_get_error_replies():
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        handshake(ws)
        ws.send_frame(1, b"{not json")
        assert ws.recv_json()["error"]["error_type"] == "invalid_json"
        ws.send_json({"no_type": 1})
        assert ws.recv_json()["error"]["error_type"] == "invalid_message"
        ws.send_json(["an", "array"])
        assert ws.recv_json()["error"]["error_type"] == "invalid_message"
        ws.send_json({"type": "nope", "correlation_id": "n1"})
        err = ws.recv_json()
        assert err["error"]["error_type"] == "no_route" and err["correlation_id"] == "n1", err
        status, _, body = http_get(port, "/metrics")
        assert 'agentbus_ws_errors_total{error_type="invalid_json"} 1\n' in body.decode(), body
        assert 'agentbus_ws_errors_total{error_type="invalid_message"} 2\n' in body.decode(), body
    finally:
        d.close()


def test_a_translator_that_does_nothing_gives_internal_error():
    """A translator's bug (a request neither forwarded nor answered) reaches
    the frontend as an internal_error reply to that request, not silence,
    and the session goes on."""
    extra = ("[plugin:rename]\nmodule = %s/rename.so\n"
             "[route:renamed]\nsource = frontend_*\ntype = ask\ndestination = up_1\ntranslator = rename\n"
             "forward_type = asked\nreply_type = answered\ndrop_on = lost\n" % FIXTURE_PLUGIN_DIR)
    d, port, tap_port = broker(extra=extra)
    try:
        tap = Tap(tap_port)
        tap.register("up_1")
        ws = RawWS(port)
        handshake(ws)
        ws.send_json({"type": "ask", "correlation_id": "a1", "payload": "lost"})
        err = ws.recv_json()
        assert err["type"] == "error" and err["correlation_id"] == "a1", err
        assert err["error"]["error_type"] == "internal_error", err
        assert "rename" in err["error"]["message"], err
        # the next request is translated and answered as usual
        ws.send_json({"type": "ask", "correlation_id": "a2", "payload": "kept"})
        _, kind, got = tap.deliver()
        assert got["type"] == "asked" and kind == "request", (kind, got)
        tap.send("up_1", {"type": "done", "correlation_id": got["correlation_id"]})
        reply = ws.recv_json()
        assert reply["type"] == "answered" and reply["correlation_id"] == "a2", reply
    finally:
        d.close()


def test_message_over_the_brokers_limit_gets_message_too_large():
    # The frame is within the transport's limit, the message over the broker's.
    d, port, _ = broker("max_message_size = 1M\n", broker_options="max_message_size = 1K\n")
    try:
        ws = RawWS(port)
        handshake(ws)
        ws.send_json({"type": "heartbeat", "correlation_id": "big", "pad": "x" * 2000})
        err = ws.recv_json()
        assert err["type"] == "error" and err["error"]["error_type"] == "message_too_large", err
        assert "exceeds the limit of 1024" in err["error"]["message"], err
        ws.send_json({"type": "heartbeat", "correlation_id": "small"})
        assert ws.recv_json()["correlation_id"] == "small"  # the connection lives on
    finally:
        d.close()


def test_protocol_violations_close_with_the_right_code():
    d, port, _ = broker("max_message_size = 1K\n")
    try:
        cases = [
            ("binary frame", lambda ws: ws.send_frame(2, b"\x00\x01"), 1003),
            ("invalid UTF-8", lambda ws: ws.send_frame(1, b"\xce\xba\xe1\xbd"), 1007),
            ("bad UTF-8 across fragments", lambda ws: (ws.send_frame(1, b"\xce", fin=False),
                                                       ws.send_frame(0, b"\x41")), 1007),
            ("unmasked frame", lambda ws: ws.send_frame(1, b"{}", mask=False), 1002),
            ("reserved bits", lambda ws: ws.send_frame(1, b"{}", rsv=1), 1002),
            ("reserved opcode", lambda ws: ws.send_frame(3, b""), 1002),
            ("fragmented ping", lambda ws: ws.send_frame(9, b"x", fin=False), 1002),
            ("bare continuation", lambda ws: ws.send_frame(0, b"x"), 1002),
            ("oversize message", lambda ws: ws.send_frame(1, b"x" * 2048), 1009),
            ("invalid close code", lambda ws: ws.send_frame(8, b"\x03\xed"), 1002),
        ]
        for name, act, code in cases:
            ws = RawWS(port)
            handshake(ws)
            act(ws)
            got = ws.recv_close()[0]
            assert got == code, "%s: closed with %s, expected %d" % (name, got, code)
            try:  # answer the close, as a client does (the server may be gone already)
                ws.send_frame(8, b"\x03\xe8")
            except OSError:
                pass
            assert ws.closed_by_server(), name
    finally:
        d.close()


def test_fragments_with_interleaved_pings_assemble():
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        handshake(ws)
        text = json.dumps({"type": "heartbeat", "correlation_id": "frag", "pad": "é" * 10}).encode()
        ws.send_frame(1, text[:10], fin=False)
        ws.send_frame(9, b"ping-1")
        ws.send_frame(0, text[10:21], fin=False)  # splits a 2-byte character
        ws.send_frame(9, b"ping-2")
        ws.send_frame(0, text[21:])
        assert ws.recv_frame() == (10, b"ping-1")
        assert ws.recv_frame() == (10, b"ping-2")
        assert ws.recv_json()["correlation_id"] == "frag"
    finally:
        d.close()


def test_close_handshake_is_answered():
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        handshake(ws)
        ws.send_frame(8, b"\x03\xe8bye")
        assert ws.recv_close() == (1000, "")
        assert ws.closed_by_server()
    finally:
        d.close()


def test_upgrade_refusals():
    d, port, _ = broker("allowed_origins = http://localhost:3000\n")
    try:
        ws = RawWS(port, headers={"Sec-WebSocket-Version": "8"})
        assert ws.status == 426 and ws.headers["sec-websocket-version"] == "13", ws.headers
        assert RawWS(port, headers={"Sec-WebSocket-Key": None}).status == 400
        assert RawWS(port, headers={"Sec-WebSocket-Key": "short"}).status == 400
        assert RawWS(port, headers={"Upgrade": None}).status == 400
        refused = RawWS(port, headers={"Origin": "http://evil.example"})
        assert refused.status == 403 and json.loads(refused.body) == {"detail": "origin not allowed"}
        assert RawWS(port, headers={"Origin": "http://localhost:3000"}).status == 101
        assert RawWS(port, headers={"Origin": "http://127.0.0.1:%d" % port}).status == 101  # same origin
        assert RawWS(port, path="/nowhere").status == 404
        assert RawWS(port, path="/ws/query/bad%20user").status == 404
        big = RawWS(port, headers={"X-Padding": "a" * 17000})
        assert big.status == 431, big.status
        # HTTP/1.0 and non-HTTP.
        s = socket.create_connection(("127.0.0.1", port))
        s.sendall(b"GET /ws HTTP/2.0\r\nHost: x\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 505 ")
    finally:
        d.close()


def test_slowloris_is_timed_out_while_others_are_served():
    d, port, _ = broker("handshake_timeout = 500ms\n")
    try:
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # a byte at a time, never finishing the head
            time.sleep(0.1)
            slow.sendall(b"X")
        ws = RawWS(port)
        handshake(ws)  # served meanwhile
        slow.settimeout(3)
        answer = b""
        while True:  # the answer, then the server closes
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 408 "), answer
    finally:
        d.close()


def test_silent_connection_is_pinged_then_closed_with_4000():
    d, port, _ = broker("ping_interval = 200ms\nidle_timeout = 600ms\n")
    try:
        ws = RawWS(port)
        handshake(ws)
        op, payload = ws.recv_frame(timeout=2)
        assert op == 9, (op, payload)  # the broker's ping, which we do not answer
        start = time.monotonic()
        assert ws.recv_close(timeout=3)[0] == 4000
        assert time.monotonic() - start < 1.5
        # Answering pings keeps a connection open.
        live = RawWS(port)
        handshake(live)
        deadline = time.monotonic() + 1.2
        while time.monotonic() < deadline:
            op, payload = live.recv_frame(timeout=2)
            assert op == 9, op
            live.send_frame(10, payload)
        live.send_json({"type": "heartbeat", "correlation_id": "alive"})
        assert live.recv_json()["correlation_id"] == "alive"
    finally:
        d.close()


def test_trickled_fragments_do_not_keep_a_connection_open():
    d, port, _ = broker("ping_interval = 200ms\nidle_timeout = 800ms\n")
    try:
        ws = RawWS(port)
        handshake(ws)
        # A text message's first fragment, then a one-byte continuation every
        # 150 ms (pongs answered): never silent, never finished.
        ws.sock.sendall(RawWS.frame(1, b'{"type":"query",', fin=False))
        start = time.monotonic()
        code = None
        while time.monotonic() - start < 3:
            ws.sock.sendall(RawWS.frame(0, b" ", fin=False))
            try:
                op, payload = ws.recv_frame(timeout=0.15)
            except (socket.timeout, TimeoutError):
                continue
            if op == 9:
                ws.send_frame(10, payload)
            elif op == 8:
                code = struct.unpack("!H", payload[:2])[0]
                break
        assert code == 4000, code
        assert time.monotonic() - start < 1.6, time.monotonic() - start
        # A message sent in fragments that finishes in time is answered.
        ok = RawWS(port)
        handshake(ok)
        ok.sock.sendall(RawWS.frame(1, b'{"type":"heartbeat",', fin=False))
        time.sleep(0.3)
        ok.sock.sendall(RawWS.frame(0, b'"correlation_id":"slow"}'))
        assert ok.recv_json()["correlation_id"] == "slow"
    finally:
        d.close()


def test_shutdown_answers_requests_in_flight_then_closes_with_1001():
    d, port, tap_port = broker()
    try:
        up = Tap(tap_port)
        up.register("up_1")
        ws = RawWS(port)
        handshake(ws)
        ws.send_json({"type": "query", "correlation_id": "inflight", "query_id": "q7"})
        up.deliver()  # the upstream has it, and will never answer
        d.signal(signal.SIGTERM)
        err = ws.recv_json()
        assert err["type"] == "query_error" and err["correlation_id"] == "inflight", err
        assert err["query_id"] == "q7", err
        assert err["error"]["error_type"] == "upstream_unavailable", err
        assert ws.recv_close()[0] == 1001
        ws.send_frame(8, b"\x03\xe9")
        assert d.proc.wait(5) == 0
    finally:
        d.close()


def http_get(port, path, method="GET"):
    """(status, headers, body) of one plain HTTP request."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(("%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n\r\n" % (method, path, port)).encode())
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    if method != "HEAD":
        assert int(headers.get("content-length", len(body))) == len(body), headers
    return int(lines[0].split()[1]), headers, body


def test_connection_limits_total_and_per_address():
    d, port, _ = broker("max_connections = 3\nmax_connections_per_ip = 2\n")
    try:
        a, b = RawWS(port), RawWS(port)
        assert a.status == b.status == 101
        third = RawWS(port)
        assert third.status == 503 and json.loads(third.body)["detail"] == "too many connections from this address"
        a.close()
        time.sleep(0.2)
        assert RawWS(port).status == 101  # a slot came free
    finally:
        d.close()


def test_rate_limit_errors_then_closes_with_4003():
    d, port, _ = broker("rate_limit = 5\nrate_burst = 5\n")
    try:
        ws = RawWS(port)
        handshake(ws)  # takes one token
        for i in range(8):
            ws.send_json({"type": "heartbeat", "correlation_id": "r%d" % i})
        got = [ws.recv_json() for _ in range(8)]
        answered = [m["correlation_id"] for m in got if m["type"] == "heartbeat_response"]
        limited = [m for m in got if m["type"] == "error"]
        assert len(answered) == 4 and len(limited) == 4, got
        assert all(m["error"]["error_type"] == "rate_limited" for m in limited), limited
        assert [m["correlation_id"] for m in limited] == ["r4", "r5", "r6", "r7"], limited
        for i in range(10):  # it keeps flooding
            ws.send_json({"type": "heartbeat", "correlation_id": "f%d" % i})
        assert ws.recv_close()[0] == 4003
    finally:
        d.close()


def test_slow_reader_is_dropped_and_resumes_without_loss():
    d, port, tap_port = broker("max_output_buffer = 64K\nrate_limit = 0\n")
    try:
        up = Tap(tap_port)
        up.register("up_1")
        ws = RawWS.__new__(RawWS)  # a client with a tiny receive buffer, reading nothing
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", port))
        ws2 = RawWS(port)  # (for the handshake text) then reuse its code on our socket
        ws2.close()
        ws.sock, ws.buf = sock, b""
        import base64
        sock.sendall(("GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                      % base64.b64encode(os.urandom(16)).decode()).encode())
        ws.status, ws.headers, ws.body = ws._response_head()
        ack = handshake(ws, agent_id="frontend_u1_slow")
        n, pad = 200, "x" * 50000
        for i in range(n):
            ws.send_json({"type": "query", "correlation_id": "s%03d" % i})
        for _ in range(n):
            answer(up, pad=pad)
        d.wait_log(r"dropping the connection .*: a slow reader", timeout=10)
        sock.close()
        again = RawWS(port)
        again.recv_json()
        again.send_json({"type": "connection_handshake", "agent_id": "frontend_u1_slow",
                         "resume": {"last_seq": ack["seq"]}})
        got = [again.recv_json(timeout=10) for _ in range(n + 1)]
        assert [m["correlation_id"] for m in got[:n]] == ["s%03d" % i for i in range(n)], got[:3]
        assert got[n]["type"] == "connection_acknowledged" and got[n]["session_resumed"] is True, got[n]
    finally:
        d.close()


def test_health_ready_and_metrics_tell_the_truth():
    d, port, tap_port = broker()
    try:
        time.sleep(0.2)
        clients = [RawWS(port) for _ in range(2)]
        handshake(clients[0])
        status, headers, body = http_get(port, "/health")
        health = json.loads(body)
        assert status == 200 and headers["content-type"] == "application/json", (status, headers)
        assert health["status"] == "healthy" and health["service"] == "agentbus", health
        assert health["active_connections"] == 2, health  # the two WebSockets, not this request
        assert health["uptime_seconds"] >= 0.2, health
        assert health["plugins"] == ["websocket", "tap"], health
        assert health["mcp_status"] == "healthy" and health["upstreams"] == [], health
        assert health["node"].startswith("agentbus_"), health
        status, _, body = http_get(port, "/ready")
        assert status == 200 and json.loads(body) == {"ready": True}
        clients[0].send_json({"type": "nope", "correlation_id": "n1"})
        clients[0].recv_json()
        status, headers, body = http_get(port, "/metrics")
        text = body.decode()
        assert status == 200 and headers["content-type"].startswith("text/plain; version=0.0.4"), headers
        assert "\nagentbus_ws_connections 2\n" in text, text
        assert 'agentbus_router_errors_total{error_type="no_route"} 1\n' in text, text
        assert 'agentbus_ws_messages_total{direction="in"} 2\n' in text, text  # handshake, nope
        assert 'agentbus_ws_messages_in_by_type_total{type="connection_handshake"} 1\n' in text, text
        assert 'agentbus_ws_messages_in_by_type_total{type="other"} 1\n' in text, text
        assert text.count("# TYPE agentbus_ws_sessions gauge") == 1, text
        assert 'agentbus_request_duration_seconds_bucket{le="+Inf"}' in text, text
        assert http_get(port, "/metrics", "POST")[0] == 405
        for c in clients:
            c.close()
    finally:
        d.close()


def test_static_files_without_traversal():
    import tempfile
    root = tempfile.mkdtemp(prefix="ab-www-")
    outside = tempfile.mkdtemp(prefix="ab-secret-")
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<!doctype html><title>agentbus</title>")
    os.mkdir(os.path.join(root, "js"))
    with open(os.path.join(root, "js", "agentbus.js"), "w") as f:
        f.write("export const x = 1;\n")
    with open(os.path.join(outside, "secret.txt"), "w") as f:
        f.write("secret")
    os.symlink(os.path.join(outside, "secret.txt"), os.path.join(root, "link.txt"))
    with open(os.path.join(root, ".hidden"), "w") as f:
        f.write("hidden")
    d, port, _ = broker("static_dir = %s/\n" % root)
    try:
        status, headers, body = http_get(port, "/")
        assert status == 200 and headers["content-type"] == "text/html; charset=utf-8", headers
        assert body == b"<!doctype html><title>agentbus</title>", body
        status, headers, body = http_get(port, "/js/agentbus.js?v=1")
        assert status == 200 and headers["content-type"] == "text/javascript; charset=utf-8", headers
        assert http_get(port, "/js/agentbus.js", "HEAD")[2] == b""
        for bad in ["/../" + os.path.basename(outside) + "/secret.txt", "/js/../index.html",
                    "/%2e%2e/etc/passwd", "/link.txt", "/.hidden", "/missing.html", "//etc/passwd"]:
            assert http_get(port, bad)[0] == 404, bad
    finally:
        d.close()


def test_wss_with_certificate_reload():
    import ssl
    import tempfile
    import websockets

    certs = tempfile.mkdtemp(prefix="ab-tls-")
    cert, key = make_certificate(certs, "one")
    d, port, _ = broker("tls_certificate = %s\ntls_key = %s\n" % (cert, key))

    def context(ca):
        ctx = ssl.create_default_context(cafile=ca)
        return ctx

    async def session(ca):
        async with websockets.connect("wss://127.0.0.1:%d/ws" % port, ssl=context(ca)) as ws:
            assert json.loads(await ws.recv())["type"] == "connection_established"
            await ws.send(json.dumps({"type": "connection_handshake", "correlation_id": "t"}))
            ack = json.loads(await ws.recv())
            assert ack["type"] == "connection_acknowledged", ack
            return ws.transport.get_extra_info("ssl_object").version()

    try:
        version = asyncio.run(asyncio.wait_for(session(cert), 10))
        assert version in ("TLSv1.2", "TLSv1.3"), version
        # TLS 1.2 is accepted, TLS 1.1 refused by the server (the client is
        # set to offer it: security level 0).
        import warnings

        def handshake_with(version):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                ctx.minimum_version = ctx.maximum_version = version
            raw = socket.create_connection(("127.0.0.1", port), timeout=5)
            try:
                tls = ctx.wrap_socket(raw)
                tls.close()
                return None
            except ssl.SSLError as e:
                return e.reason or str(e)

        assert handshake_with(ssl.TLSVersion.TLSv1_2) is None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            refused = handshake_with(ssl.TLSVersion.TLSv1_1)
        assert refused == "TLSV1_ALERT_PROTOCOL_VERSION", refused  # the server said no
        # HTTPS on the same port.
        https = ssl.create_default_context(cafile=cert)
        s = https.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname="127.0.0.1")
        s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
        assert s.recv(100).startswith(b"HTTP/1.1 200 ")
        s.close()
        # A renewed certificate is picked up at SIGHUP; a broken one is refused whole.
        cert2, key2 = make_certificate(certs, "two")
        with open(cert, "w") as f:
            f.write(open(cert2).read())
        with open(key, "w") as f:
            f.write(open(key2).read())
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded", start=mark)
        assert asyncio.run(asyncio.wait_for(session(cert2), 10))
        with open(key, "w") as f:
            f.write("not a key")
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload rejected", start=mark)
        assert asyncio.run(asyncio.wait_for(session(cert2), 10))  # the running context stayed
    finally:
        d.close()


def test_python_websockets_resumes_after_a_cut():
    import websockets

    d, port, tap_port = broker()
    up = Tap(tap_port)
    up.register("up_1")

    async def scenario():
        url = "ws://127.0.0.1:%d/ws" % port
        seen = []
        ws = await websockets.connect(url)
        await ws.recv()
        await ws.send(json.dumps({"type": "connection_handshake", "agent_id": "frontend_py_cut",
                                  "capabilities": ["real_time_updates"]}))
        seen.append(json.loads(await ws.recv())["seq"])
        await ws.send(json.dumps({"type": "query", "correlation_id": "r1"}))
        cid = await asyncio.get_running_loop().run_in_executor(None, lambda: up.deliver()[2]["correlation_id"])
        ws.transport.abort()  # the TCP connection is cut mid-stream
        for i in range(3):
            up.send("up_1", {"type": "query_progress", "correlation_id": cid, "progress": i})
        up.send("up_1", {"type": "query_response", "correlation_id": cid})
        await asyncio.sleep(0.3)
        ws = await websockets.connect(url)
        await ws.recv()
        await ws.send(json.dumps({"type": "connection_handshake", "agent_id": "frontend_py_cut",
                                  "capabilities": ["real_time_updates"], "resume": {"last_seq": seen[-1]}}))
        got = [json.loads(await ws.recv()) for _ in range(5)]
        await ws.close()
        return seen, got

    try:
        seen, got = asyncio.run(asyncio.wait_for(scenario(), 15))
        assert [m["type"] for m in got] == ["query_progress"] * 3 + ["query_response", "connection_acknowledged"], got
        assert [m["seq"] for m in got] == [2, 3, 4, 5, 6], got  # in order, once each
        assert got[4]["session_resumed"] is True, got
    finally:
        d.close()


def test_python_websockets_client():
    import websockets

    d, port, tap_port = broker()

    async def session():
        async with websockets.connect("ws://127.0.0.1:%d/ws" % port) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "connection_established"
            await ws.send(json.dumps({"type": "connection_handshake", "correlation_id": "h",
                                      "user_id": "py", "capabilities": ["real_time_updates"]}))
            ack = json.loads(await ws.recv())
            assert ack["type"] == "connection_acknowledged" and ack["agent_id"].startswith("frontend_py_")
            big = "x" * 200000  # fragmented or not, as the library likes
            await ws.send(json.dumps({"type": "heartbeat", "correlation_id": "big", "pad": big}))
            hb = json.loads(await ws.recv())
            assert hb["correlation_id"] == "big"
            await ws.ping()
            return True

    try:
        assert asyncio.run(asyncio.wait_for(session(), 10))
    finally:
        d.close()


if __name__ == "__main__":
    run([
        test_greeting_handshake_and_acknowledgement,
        test_assigned_agent_id_and_correlation_id,
        test_messages_before_the_handshake_get_handshake_required,
        test_bad_agent_id_is_refused_with_1008,
        test_handshake_timeout_closes_with_4001,
        test_heartbeat_ping_seq_and_timestamps_tell_the_truth,
        test_interim_replies_only_for_real_time_sessions,
        test_legacy_path_without_handshake_gets_one_frame_per_request,
        test_second_connection_takes_the_session_over,
        test_resumption_after_a_cut_loses_and_duplicates_nothing,
        test_exceeded_replay_window_says_messages_lost,
        test_replay_byte_bound_keeps_the_newest_and_says_messages_lost,
        test_session_ends_after_the_replay_window_or_a_goodbye,
        test_malformed_messages_get_error_replies,
        test_a_translator_that_does_nothing_gives_internal_error,
        test_message_over_the_brokers_limit_gets_message_too_large,
        test_protocol_violations_close_with_the_right_code,
        test_fragments_with_interleaved_pings_assemble,
        test_close_handshake_is_answered,
        test_upgrade_refusals,
        test_slowloris_is_timed_out_while_others_are_served,
        test_silent_connection_is_pinged_then_closed_with_4000,
        test_trickled_fragments_do_not_keep_a_connection_open,
        test_shutdown_answers_requests_in_flight_then_closes_with_1001,
        test_connection_limits_total_and_per_address,
        test_rate_limit_errors_then_closes_with_4003,
        test_slow_reader_is_dropped_and_resumes_without_loss,
        test_health_ready_and_metrics_tell_the_truth,
        test_static_files_without_traversal,
        test_wss_with_certificate_reload,
        test_python_websockets_resumes_after_a_cut,
        test_python_websockets_client,
    ])
