"""The MCP client over a WebSocket (ws://, wss://), with frontends asking
through the broker:
- the legacy dialect with the event handshake, against a server of the
  kind deployed before agentbus (tests/fixtures/legacy_ws_mcp_server.py):
  agent_connected carries the upstream's stable agent id, then query,
  get_databases, list_tools and an SQL error come back in the frontend
  protocol; the server killed mid-request turns it into
  upstream_unavailable, and the broker reconnects when it is back;
- wss:// verified against the configured CA, and refused with a clear
  error against another CA;
- a server whose 101 carries the wrong Sec-WebSocket-Accept is refused;
- MCP JSON-RPC over supergateway's WebSocket mode (npm), in front of the
  bundled SQLite server, with the default config's routes: the whole
  frontend flow."""

import base64
import hashlib
import json
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from agentbus_test import (SLOW, TOP_BUILDDIR, TOP_SRCDIR, Daemon, RawWS, cleanup, default_broker, free_port,
                          make_certificate, run)

SO = {name: os.path.join(TOP_BUILDDIR, "plugins", name, ".libs", name + ".so")
      for name in ("websocket", "mcp", "query_mcp")}
LEGACY_SERVER = os.path.join(TOP_SRCDIR, "tests", "fixtures", "legacy_ws_mcp_server.py")
SUPERGATEWAY = os.path.join(TOP_SRCDIR, "tests", "peers", "node_modules", "supergateway", "dist", "index.js")
SQLITE_MCP = os.path.join(TOP_BUILDDIR, "tools", "sqlite-mcp", "agentbus-sqlite-mcp")


def start_legacy(port, cert=None, key=None):
    cmd = [sys.executable, LEGACY_SERVER, "--port", str(port)]
    if cert:
        cmd += ["--cert", cert, "--key", key]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().startswith("listening on"), "the legacy server did not start"
    return proc


def legacy_broker(url, extra=""):
    http_port = free_port()
    config = (
        "[plugin:front]\nmodule = %s\nlisten = 127.0.0.1:%d\n"
        "[plugin:tidb]\nmodule = %s\nurl = %s\nagent_type = tidb_ws\nws_dialect = legacy\n"
        "legacy_tools = [\"discover_databases\", \"execute_query\", \"slow_query\"]\nping_interval = 1s\n%s"
        "[plugin:query_mcp]\nmodule = %s\n"
        "[route:query]\nsource = frontend_*\ntype = query\ndestination = tidb_ws_*\ntranslator = query_mcp\n"
        "tool = execute_query\narguments = {\"query\": \"$.query\"}\nrows = $.data\n"
        "reply_type = query_response\nerror_reply = query_error\ntimeout = 20s\n"
        "[route:slow]\nsource = frontend_*\ntype = slow\ndestination = tidb_ws_*\ntranslator = query_mcp\n"
        "tool = slow_query\narguments = {\"seconds\": 30}\nreply_type = query_response\nerror_reply = query_error\n"
        "[route:get_databases]\nsource = frontend_*\ntype = get_databases\ndestination = tidb_ws_*\n"
        "translator = query_mcp\ntool = discover_databases\nshape = databases\nrows = $.databases\n"
        "reply_type = databases_response\nerror_reply = databases_error\n"
        "[route:list_tools]\nsource = frontend_*\ntype = list_tools\ndestination = tidb_ws_*\n"
        "translator = query_mcp\nmethod = tools/list\nshape = tools\nreply_type = tools_response\n"
        "error_reply = tools_error\n"
        % (SO["websocket"], http_port, SO["mcp"], url, extra, SO["query_mcp"]))
    return Daemon(config), http_port


def frontend(port):
    ws = RawWS(port)
    ws.recv_json()
    ws.send_json({"type": "connection_handshake", "correlation_id": "h", "user_id": "u1"})
    assert ws.recv_json()["type"] == "connection_acknowledged"
    return ws


def ask(ws, msg, timeout=10):
    ws.send_json(msg)
    return ws.recv_json(timeout=timeout * SLOW)


def health(port):
    return json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % port, timeout=5).read())


def expected_agent_id(agent_type, url):
    return "%s_%s" % (agent_type, hashlib.md5(("%s_%s" % (agent_type, url)).encode()).hexdigest()[:8])


def test_legacy_dialect_serves_the_frontend_protocol():
    port = free_port()
    url = "ws://127.0.0.1:%d/ws" % port
    server = start_legacy(port)
    d, http_port = legacy_broker(url)
    try:
        d.start()
        agent_id = expected_agent_id("tidb_ws", url)
        d.wait_log(r"\[tidb\] ready as %s" % agent_id, timeout=10 * SLOW)
        hello = server.stdout.readline()
        assert hello.startswith("agent_connected "), hello
        payload = json.loads(hello[len("agent_connected "):])
        assert payload == {"agent_id": agent_id, "agent_type": "tidb_ws",
                           "capabilities": ["batch_requests", "event_subscriptions", "schema_caching"]}, payload
        ws = frontend(http_port)
        reply = ask(ws, {"type": "query", "correlation_id": "q1",
                         "query": "SELECT name, price FROM products ORDER BY id"})
        assert reply["type"] == "query_response" and reply["correlation_id"] == "q1", reply
        rows = [{"name": "widget", "price": 2.5}, {"name": "gadget", "price": 10.0}]
        assert reply["response"]["data"] == rows and reply["response"]["result"]["row_count"] == 2, reply
        assert reply["response"]["result"]["columns"] == ["name", "price"], reply
        # The server's own failure ("success": false) is the tool's error.
        bad = ask(ws, {"type": "query", "correlation_id": "q2", "query": "SELECT * FROM nowhere"})
        assert bad["type"] == "query_error" and bad["error"]["error_type"] == "tool_error", bad
        assert bad["error"]["message"] == "no such table: nowhere", bad
        dbs = ask(ws, {"type": "get_databases", "correlation_id": "d1"})
        assert [x["name"] for x in dbs["databases"]] == ["main", "analytics"], dbs
        tools = ask(ws, {"type": "list_tools", "correlation_id": "t1"})
        assert [t["name"] for t in tools["agents"][0]["tools"]] == \
            ["discover_databases", "execute_query", "slow_query"], tools
        # Pings (every second here) go out as the dialect's ping and come
        # back as pong: the upstream stays ready.
        time.sleep(2.5)
        (up,) = health(http_port)["upstreams"]
        assert up == {"agent_id": agent_id, "transport": "ws", "state": "ready", "required": True,
                      "tools": 3}, up
        assert "did not answer a ping" not in d.log()
        ws.close()
    finally:
        d.close()
        server.kill()
        server.wait()


def test_a_killed_server_fails_the_request_and_the_broker_reconnects():
    port = free_port()
    server = start_legacy(port)
    d, http_port = legacy_broker("ws://127.0.0.1:%d/ws" % port)
    try:
        d.start()
        d.wait_log(r"\[tidb\] ready as tidb_ws_", timeout=10 * SLOW)
        ws = frontend(http_port)
        ws.send_json({"type": "slow", "correlation_id": "long"})
        time.sleep(0.5)
        server.kill()
        server.wait()
        reply = ws.recv_json(timeout=10 * SLOW)
        assert reply["correlation_id"] == "long" and reply["error"]["error_type"] == "upstream_unavailable", reply
        (up,) = health(http_port)["upstreams"]
        assert up["state"] == "connecting" and "127.0.0.1:%d" % port in up["last_error"], up
        mark = d.mark()
        server = start_legacy(port)
        d.wait_log(r"\[tidb\] ready as tidb_ws_", timeout=40 * SLOW, start=mark)
        again = ask(ws, {"type": "query", "correlation_id": "q", "query": "SELECT count(*) AS n FROM products"})
        assert again["type"] == "query_response" and again["response"]["data"] == [{"n": 2}], again
        ws.close()
    finally:
        d.close()
        server.kill()
        server.wait()


def test_wss_verifies_the_server_against_the_configured_ca():
    certs = tempfile.mkdtemp(prefix="ab-wss-")
    cert, key = make_certificate(certs, "server")
    other, _ = make_certificate(certs, "other")
    port = free_port()
    server = start_legacy(port, cert, key)
    trusting, http_port = legacy_broker("wss://127.0.0.1:%d/ws" % port, "tls_ca = %s\n" % cert)
    doubting, doubting_port = legacy_broker("wss://127.0.0.1:%d/ws" % port, "tls_ca = %s\n" % other)
    try:
        trusting.start()
        trusting.wait_log(r"\[tidb\] ready as tidb_ws_", timeout=10 * SLOW)
        ws = frontend(http_port)
        reply = ask(ws, {"type": "query", "correlation_id": "q", "query": "SELECT id FROM products ORDER BY id"})
        assert reply["response"]["data"] == [{"id": 1}, {"id": 2}], reply
        ws.close()
        doubting.start(ready=False)
        doubting.wait_log(r"\[tidb\] .*certificate verify failed", timeout=10 * SLOW)
        assert "ready as tidb_ws_" not in doubting.log()
    finally:
        trusting.close()
        doubting.close()
        server.kill()
        server.wait()
        shutil.rmtree(certs, ignore_errors=True)


def test_a_wrong_accept_key_is_refused():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    port = listener.getsockname()[1]

    def serve():  # a 101 whose accept key answers no key of ours
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(4096)
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    d, http_port = legacy_broker("ws://127.0.0.1:%d/ws" % port)
    try:
        d.start(ready=False)
        d.wait_log(r"\[tidb\] .*Sec-WebSocket-Accept does not match our key", timeout=10 * SLOW)
        d.wait_log(r"broker ready|ready as ", timeout=10 * SLOW)
        (up,) = health(http_port)["upstreams"]
        assert up["state"] == "connecting" and "Sec-WebSocket-Accept" in up["last_error"], up
    finally:
        d.close()
        listener.close()


def raw_ws_server(behave):
    """A WebSocket server on a raw socket that answers the upgrade
    correctly, then runs behave(conn) once per connection; returns
    (listener, port). For what no real server does on demand."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)

    def serve():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            head = b""
            while b"\r\n\r\n" not in head:
                head += conn.recv(4096)
            key = re.search(rb"Sec-WebSocket-Key: (\S+)", head).group(1)
            accept = base64.b64encode(hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest())
            conn.sendall(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                         b"Sec-WebSocket-Accept: " + accept + b"\r\n\r\n")
            behave(conn)

    threading.Thread(target=serve, daemon=True).start()
    return listener, listener.getsockname()[1]


def jsonrpc_broker(url):
    """Just the MCP client, speaking JSON-RPC at once (no event handshake)."""
    return Daemon("[plugin:tidb]\nmodule = %s\nurl = %s\nagent_type = tidb_ws\nws_handshake = none\n"
                  "required = false\n" % (SO["mcp"], url))


def read_frame(conn):
    """One frame from a client: (opcode, unmasked payload, was it masked)."""
    def exactly(n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            assert chunk, "the client closed the connection"
            data += chunk
        return data
    b0, b1 = exactly(2)
    length = b1 & 0x7F
    if length == 126:
        length = struct.unpack("!H", exactly(2))[0]
    elif length == 127:
        length = struct.unpack("!Q", exactly(8))[0]
    mask = exactly(4) if b1 & 0x80 else b"\0\0\0\0"
    payload = bytes(c ^ mask[i % 4] for i, c in enumerate(exactly(length)))
    return b0 & 0x0F, payload, bool(b1 & 0x80)


def test_the_client_answers_close_frames_and_refuses_binary_ones():
    seen = []

    def close_at_once(conn):  # handshake none: the client's initialize comes first
        opcode, payload, masked = read_frame(conn)
        seen.append(("first", opcode, masked, json.loads(payload)["method"]))
        conn.sendall(bytes([0x88, 2]) + struct.pack("!H", 1000))  # Close 1000, unmasked
        seen.append(("answer",) + read_frame(conn))
        conn.close()

    listener, port = raw_ws_server(close_at_once)
    d = jsonrpc_broker("ws://127.0.0.1:%d/ws" % port)
    try:
        d.start(ready=False)
        d.wait_log(r"\[tidb\] .*the server closed the WebSocket", timeout=10 * SLOW)
        deadline = time.time() + 5 * SLOW
        while len(seen) < 2:
            assert time.time() < deadline, seen
            time.sleep(0.05)
        assert seen[0] == ("first", 1, True, "initialize"), seen  # masked text, as a client's must be
        assert seen[1] == ("answer", 8, struct.pack("!H", 1000), True), seen  # our close echoes its code
    finally:
        d.close()
        listener.close()

    seen.clear()

    def send_binary(conn):
        read_frame(conn)  # initialize
        conn.sendall(bytes([0x82, 1, 0]))  # a binary frame
        seen.append(read_frame(conn))
        conn.close()

    listener, port = raw_ws_server(send_binary)
    d = jsonrpc_broker("ws://127.0.0.1:%d/ws" % port)
    try:
        d.start(ready=False)
        d.wait_log(r"\[tidb\] .*the server sent a binary message", timeout=10 * SLOW)
        deadline = time.time() + 5 * SLOW
        while not seen:
            assert time.time() < deadline
            time.sleep(0.05)
        assert seen[0] == (8, struct.pack("!H", 1003), True), seen  # closed with 1003
    finally:
        d.close()
        listener.close()


def is_supergateway(port):
    """Does 127.0.0.1:port reach supergateway (Express's own 404 page), and
    not a server of another test that took the same port on that address?"""
    try:
        urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5)
    except urllib.error.HTTPError as e:
        return b"Cannot GET /" in e.read()
    except OSError:
        return False
    return False


def port_below_ephemeral():
    """A free port below the kernel's ephemeral range. supergateway listens
    on every address, so a parallel test's free_port() (an ephemeral port
    on 127.0.0.1) could otherwise take 127.0.0.1 on the same port from it
    while it runs."""
    with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
        low = int(f.read().split()[0])
    if low <= 10000:  # no room below it: take the chance
        return free_port()
    while True:
        port = random.randrange(10000, low)
        try:
            with socket.socket(socket.AF_INET6) as s:
                s.bind(("::", port))
            return port
        except OSError:
            continue


def start_supergateway(data):
    """supergateway's WebSocket mode in front of the bundled SQLite server,
    on a free port: (process, port). It says when it listens; a port taken
    meanwhile by another test's server is given up for another."""
    for _ in range(5):
        port = port_below_ephemeral()
        proc = subprocess.Popen(["node", SUPERGATEWAY, "--stdio", "%s --data-dir %s" % (SQLITE_MCP, data),
                                 "--outputTransport", "ws", "--port", str(port)],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            if "Listening on port" in line:
                threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep its pipe drained
                if is_supergateway(port):
                    return proc, port
                break  # another test's server has 127.0.0.1 on that port
        proc.kill()
        proc.wait()
    raise AssertionError("supergateway did not start")


def test_jsonrpc_over_supergateway_serves_the_default_routes():
    if not os.path.exists(SUPERGATEWAY):
        print("# supergateway is not installed (npm ci in tests/peers)")
        sys.exit(77)
    data = tempfile.mkdtemp(prefix="ab-sg-data-")
    gateway, port = start_supergateway(data)

    def over_ws(text):
        return re.sub(r"(?m)^url = stdio:.*$",
                      "url = ws://127.0.0.1:%d/message\nws_handshake = none" % port, text)

    d, http_port, dirs = default_broker(over_ws)
    try:
        ws = frontend(http_port)
        dbs = ask(ws, {"type": "get_databases", "correlation_id": "d1"})
        assert [x["name"] for x in dbs["databases"]] == ["analytics", "demo"], dbs
        sel = ask(ws, {"type": "database_select", "correlation_id": "s1", "database_name": "demo",
                       "session_id": "sess-1"})
        assert sel["response"]["success"] is True and sel["response"]["table_count"] == 3, sel
        reply = ask(ws, {"type": "query", "correlation_id": "q1", "session_id": "sess-1",
                         "query": "SELECT name FROM customers WHERE country = 'US' ORDER BY name"})
        assert reply["type"] == "query_response", reply
        assert reply["response"]["data"] == [{"name": "Grace Hopper"}, {"name": "Katherine Johnson"}], reply
        (up,) = health(http_port)["upstreams"]
        assert up["transport"] == "ws" and up["state"] == "ready" and up["tools"] == 5, up
        ws.close()
    finally:
        cleanup(d, dirs + (data,))
        gateway.kill()
        gateway.wait()


if __name__ == "__main__":
    run([test_legacy_dialect_serves_the_frontend_protocol,
         test_a_killed_server_fails_the_request_and_the_broker_reconnects,
         test_wss_verifies_the_server_against_the_configured_ca,
         test_a_wrong_accept_key_is_refused,
         test_the_client_answers_close_frames_and_refuses_binary_ones,
         test_jsonrpc_over_supergateway_serves_the_default_routes])
