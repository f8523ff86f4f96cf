"""The WebSocket transport under hostile or unlucky clients (the review of
issue 3): refusals after a dropped output, ping floods, closing with output
pending, a resumption whose backlog overflows, acknowledgements that must
always come, sessions of other users, odd user ids, ids on the transport's
own errors. Every daemon must also exit cleanly (sanitizers report there)."""

import base64
import json
import os
import re
import socket
import tempfile
import time

from agentbus_test import SLOW, RawWS, Tap, run
from test_websocket import answer, broker, handshake


def slow_client(port, path="/ws"):
    """A client with a tiny receive buffer that reads only when told to."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    ws = RawWS.__new__(RawWS)
    ws.sock, ws.buf = sock, b""
    sock.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n"
                  % (path, base64.b64encode(os.urandom(16)).decode())).encode())
    ws.status, ws.headers, ws.body = ws._response_head()
    return ws


def test_refusal_after_a_dropped_output_is_safe():
    d, port, _ = broker("max_output_buffer = 4096\nrate_limit = 0\n")
    try:
        ws = slow_client(port)
        filler = RawWS.frame(1, json.dumps({"type": "x"}).encode())  # each earns an error reply
        bad = RawWS.frame(1, json.dumps({"type": "connection_handshake", "agent_id": "bad id"}).encode())
        # Their replies (some 170 bytes each) fill the socket's kernel
        # buffers before any output queues (the broker writes to the socket
        # itself while nothing queues): the burst outgrows the largest send
        # buffer this machine allows, so that the drop comes before `bad`.
        with open("/proc/sys/net/ipv4/tcp_wmem") as f:
            wmem_max = int(f.read().split()[2])
        try:
            ws.sock.sendall(filler * (2 * wmem_max // 150 + 10000) + bad)
        except OSError:
            pass  # dropped before it all went in
        d.wait_log(r"dropping the connection .*: a slow reader")
        assert ws.closed_by_server(5)
        assert RawWS(port).recv_json()["type"] == "connection_established"  # still serving
    finally:
        d.close()  # exits 0: no use of the freed session


def test_ping_flood_cannot_grow_the_output():
    d, port, _ = broker("max_output_buffer = 4096\nrate_limit = 0\n")
    try:
        ws = slow_client(port)
        ping = RawWS.frame(9, b"p" * 125)
        try:
            for _ in range(100):
                ws.sock.sendall(ping * 400)  # 5 MB of pings, no pong read
        except OSError:
            pass  # dropped meanwhile
        d.wait_log(r"dropping the connection .*: a slow reader")
        assert RawWS(port).recv_json()["type"] == "connection_established"
    finally:
        d.close()


def test_close_delivers_pending_output_first():
    d, port, tap_port = broker("rate_limit = 0\n")
    try:
        up = Tap(tap_port)
        up.register("up_1")
        ws = slow_client(port)
        handshake(ws, agent_id="frontend_u1_flush")
        for i in range(6):
            ws.send_json({"type": "query", "correlation_id": "q%d" % i})
        for _ in range(6):
            answer(up, pad="x" * 500000)
        time.sleep(0.5)
        ws.send_frame(8, b"\x03\xe8")  # closes with 3 MB still queued for it
        got, close = [], None
        while close is None:
            op, payload = ws.recv_frame(timeout=10)
            if op == 8:
                close = payload
            elif op == 1:
                got.append(json.loads(payload)["correlation_id"])
        assert got == ["q%d" % i for i in range(6)], got
        assert close == b"\x03\xe8", close
    finally:
        d.close()


def test_overflowing_backlog_ends_the_resumption_visibly():
    d, port, tap_port = broker("replay_max_messages = 30\nmax_output_buffer = 64K\nrate_limit = 0\n")
    try:
        up = Tap(tap_port)
        up.register("up_1")
        ws = RawWS(port)
        ack = handshake(ws, agent_id="frontend_u1_over")
        n = 160
        for i in range(n):
            ws.send_json({"type": "query", "correlation_id": "q%03d" % i})
        cids = [up.deliver()[2]["correlation_id"] for _ in range(n)]
        ws.sock.close()
        time.sleep(0.2)
        pad = "x" * 100000
        for cid in cids[:30]:
            answer(up, cid=cid, pad=pad)
        time.sleep(0.2)
        c = slow_client(port)
        c.recv_json()
        c.send_json({"type": "connection_handshake", "agent_id": "frontend_u1_over",
                     "resume": {"last_seq": ack["seq"]}})
        time.sleep(0.3)
        for cid in cids[30:]:  # more than the buffer can hold arrive while it is paced out
            answer(up, cid=cid, pad=pad)
        d.wait_log(r"a resumption's backlog overflowed the replay buffer", timeout=10)
        seqs = []
        try:
            while True:
                seqs.append(c.recv_json(timeout=3)["seq"])
        except (EOFError, OSError):
            pass
        # What arrived is in order with no gap, and no acknowledgement claimed success.
        assert seqs == list(range(ack["seq"] + 1, ack["seq"] + 1 + len(seqs))), seqs
        again = RawWS(port)
        again.recv_json()
        again.send_json({"type": "connection_handshake", "agent_id": "frontend_u1_over",
                         "resume": {"last_seq": seqs[-1] if seqs else ack["seq"]}})
        while True:
            m = again.recv_json(timeout=10)
            if m["type"] == "connection_acknowledged":
                break
        assert m["session_resumed"] is False and m["messages_lost"] is True, m
    finally:
        d.close()


def test_acknowledgement_always_comes():
    d, port, _ = broker("replay_max_messages = 0\n")
    try:
        first = RawWS(port)
        handshake(first, agent_id="frontend_u1_ack")
        second = RawWS(port)
        ack = handshake(second, agent_id="frontend_u1_ack")  # a takeover, nothing kept
        assert ack["session_established"] is True, ack
    finally:
        d.close()
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        handshake(ws, agent_id="frontend_u1_far")
        ws.sock.close()
        time.sleep(0.2)
        again = RawWS(port)
        again.recv_json()
        again.send_json({"type": "connection_handshake", "agent_id": "frontend_u1_far",
                         "resume": {"last_seq": 100}})  # further than the session ever went
        ack = again.recv_json()
        assert ack["type"] == "connection_acknowledged" and ack["session_resumed"] is False, ack
        assert ack["messages_lost"] is True and ack["seq"] == 2, ack
    finally:
        d.close()


def test_a_user_cannot_take_another_users_session():
    tokens = os.path.join(tempfile.mkdtemp(prefix="ab-owner-"), "tokens")
    with open(tokens, "w") as f:
        f.write("t-john john\nt-john-doe john_doe\n")
    d, port, _ = broker("auth = token\nauth_tokens_file = %s\n" % tokens)
    try:
        victim = RawWS(port)
        ack = handshake(victim, token="t-john-doe", user_id=None)
        assert ack["agent_id"].startswith("frontend_john_doe_"), ack
        thief = RawWS(port)
        thief.recv_json()
        # "frontend_john_" is a prefix of john_doe's ids: ownership is not read from the id.
        thief.send_json({"type": "connection_handshake", "token": "t-john", "agent_id": ack["agent_id"],
                         "resume": {"last_seq": 0}})
        err = thief.recv_json()
        assert err["error"]["error_type"] == "forbidden", err
        assert thief.recv_close()[0] == 1008
        victim.send_json({"type": "heartbeat", "correlation_id": "still-mine"})
        assert victim.recv_json()["correlation_id"] == "still-mine"
    finally:
        d.close()


def test_odd_user_ids_make_valid_agent_ids():
    d, port, _ = broker()
    try:
        for user, id_part in [("John Doe", "John_Doe"), ("jürgen", "j__rgen"), ("a@b.example", "a_b.example")]:
            ack = handshake(RawWS(port), user_id=user, agent_id=None)
            assert re.match(r"^frontend_%s_[0-9a-f]{16}$" % re.escape(id_part), ack["agent_id"]), ack
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "agent_id": 42})
        err = ws.recv_json()
        assert err["error"] == {"error_type": "invalid_message", "message": "agent_id must be a string"}, err
        assert ws.recv_close()[0] == 1008
    finally:
        d.close()


def test_the_transports_own_errors_carry_the_ids():
    d, port, _ = broker()
    try:
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "query", "query_id": "qid-9"})  # no correlation_id, before the handshake
        err = ws.recv_json()
        assert err["error"]["error_type"] == "handshake_required", err
        assert err["correlation_id"] and err["query_id"] == "qid-9", err
    finally:
        d.close()


def test_same_origin_only_by_address_or_localhost():
    d, port, _ = broker("allowed_origins = http://app.example\n")
    try:
        # A rebinding page picks both Origin and Host: a name is not "same origin".
        evil = "evil.example:%d" % port
        assert RawWS(port, headers={"Origin": "http://" + evil, "Host": evil}).status == 403
        local = "localhost:%d" % port
        assert RawWS(port, headers={"Origin": "http://" + local, "Host": local}).status == 101
        assert RawWS(port, headers={"Origin": "http://app.example", "Host": "app.example"}).status == 101
    finally:
        d.close()


def test_access_token_is_percent_decoded():
    tokens = os.path.join(tempfile.mkdtemp(prefix="ab-pct-"), "tokens")
    with open(tokens, "w") as f:
        f.write("a/b+c= pat\n")
    d, port, _ = broker("auth = token\nauth_tokens_file = %s\n" % tokens)
    try:
        ws = RawWS(port, path="/ws?access_token=a%2Fb%2Bc%3D")
        assert handshake(ws, user_id=None)["agent_id"].startswith("frontend_pat_")
    finally:
        d.close()


def test_session_limit_ends_the_longest_waiting():
    d, port, _ = broker("max_sessions = 2\n")
    try:
        for name in ("frontend_u1_a", "frontend_u1_b"):
            ws = RawWS(port)
            handshake(ws, agent_id=name)
            ws.sock.close()
            time.sleep(0.1)
        live = RawWS(port)
        handshake(live, agent_id="frontend_u1_c")  # a, the longest waiting, is ended to make room
        # b was kept (resuming it makes no new session); a was not.
        for name, lost in (("frontend_u1_b", False), ("frontend_u1_a", True)):
            ws = RawWS(port)
            ws.recv_json()
            ws.send_json({"type": "connection_handshake", "agent_id": name, "resume": {"last_seq": 1}})
            ack = ws.recv_json()
            assert ack.get("messages_lost", False) is lost and ack["session_resumed"] is not lost, (name, ack)
            ws.sock.close()
            time.sleep(0.1)
    finally:
        d.close()


def test_shutdown_does_not_wait_for_a_request_head():
    d, port, _ = broker("handshake_timeout = 30s\n")
    try:
        slow = socket.create_connection(("127.0.0.1", port))
        slow.sendall(b"GET /ws HTTP/1.1\r\nHost: x\r\n")  # never finishes
        time.sleep(0.2)
        start = time.monotonic()
        assert d.stop() == 0
        assert time.monotonic() - start < 1.5, "shutdown waited for the half-sent request"
    finally:
        d.close()


if __name__ == "__main__":
    run([
        test_refusal_after_a_dropped_output_is_safe,
        test_ping_flood_cannot_grow_the_output,
        test_close_delivers_pending_output_first,
        test_overflowing_backlog_ends_the_resumption_visibly,
        test_acknowledgement_always_comes,
        test_a_user_cannot_take_another_users_session,
        test_odd_user_ids_make_valid_agent_ids,
        test_the_transports_own_errors_carry_the_ids,
        test_same_origin_only_by_address_or_localhost,
        test_access_token_is_percent_decoded,
        test_session_limit_ends_the_longest_waiting,
        test_shutdown_does_not_wait_for_a_request_head,
    ])
