"""The MCP client over Streamable HTTP against the reference server,
@modelcontextprotocol/server-everything from npm (streamableHttp mode; its
sse mode for the fallback to the HTTP+SSE transport of 2024-11-05):
initialize over an SSE answer, the session id and protocol version on every
later request (its tools are listed and cached), tools/call answered over
SSE with progress forwarded as mcp_progress, /health's transport; the
server killed mid-request (an error reply, not a hang), then started again:
the client initializes a new session by itself."""

import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from agentbus_test import (SLOW, TOP_BUILDDIR, TOP_SRCDIR, FIXTURE_PLUGIN_DIR, Daemon, Tap, free_port,
                          RawWS, make_certificate, run)

MCP_SO = os.path.join(TOP_BUILDDIR, "plugins", "mcp", ".libs", "mcp.so")
WEBSOCKET_SO = os.path.join(TOP_BUILDDIR, "plugins", "websocket", ".libs", "websocket.so")
EVERYTHING = os.path.join(TOP_SRCDIR, "tests", "peers", "node_modules", "@modelcontextprotocol",
                          "server-everything", "dist", "index.js")


def start_everything(port, mode="streamableHttp"):
    proc = subprocess.Popen(["node", EVERYTHING, mode], env=dict(os.environ, PORT=str(port)),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    while True:  # it says when it listens
        line = proc.stderr.readline()
        assert line, "server-everything did not start"
        if "listening on port" in line or "running on port" in line:
            return proc


def broker(server_port, path="/mcp"):
    tap_port, http_port = free_port(), free_port()
    d = Daemon(
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:http]\nmodule = %s\nlisten = 127.0.0.1:%d\n"
        "[plugin:everything]\nmodule = %s\nurl = http://127.0.0.1:%d%s\nagent_type = everything\n"
        "[route:mcp]\nsource = front_*\ntype = mcp_request\ndestination = everything_*\n"
        "interim = mcp_progress\ntimeout = 20s\n"
        % (FIXTURE_PLUGIN_DIR, tap_port, WEBSOCKET_SO, http_port, MCP_SO, server_port, path)).start()
    d.expect(r"\[everything\] ready as everything_[0-9a-f]{8} \(protocol 2025-11-25\)", timeout=10 * SLOW)
    front = Tap(tap_port)
    front.register("front_1")
    return d, front, http_port


def call(front, cid, method, params, timeout=20):
    front.send("front_1", {"type": "mcp_request", "correlation_id": cid, "method": method, "params": params})
    frames = []
    while True:
        _, kind, msg = front.deliver(timeout=timeout * SLOW)
        assert msg["correlation_id"] == cid, msg
        frames.append(msg)
        if msg["type"] != "mcp_progress":
            return frames


def test_streamable_http_session_tools_progress_and_health():
    port = free_port()
    server = start_everything(port)
    d, front, http_port = broker(port)
    try:
        d.wait_log(r"\[everything\] \d+ tools \(the server announces changes\)")
        tools = call(front, "t1", "tools/list", {})[-1]["result"]["tools"]
        names = [t["name"] for t in tools]
        assert "echo" in names and "trigger-long-running-operation" in names, names
        echo = call(front, "e1", "tools/call", {"name": "echo", "arguments": {"message": "over http"}})
        assert echo == [{"type": "mcp_response", "correlation_id": "e1",
                         "result": {"content": [{"type": "text", "text": "Echo: over http"}]}}], echo
        frames = call(front, "p1", "tools/call",
                      {"name": "trigger-long-running-operation", "arguments": {"duration": 1, "steps": 3}})
        assert [f["type"] for f in frames] == ["mcp_progress"] * 3 + ["mcp_response"], frames
        assert [f["progress"] for f in frames[:3]] == [1, 2, 3] and frames[0]["total"] == 3, frames
        health = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % http_port, timeout=5).read())
        (up,) = health["upstreams"]
        assert up["transport"] == "http" and up["state"] == "ready" and up["tools"] == len(names), health
        bad = call(front, "b1", "tools/call", {"name": "no-such-tool", "arguments": {}})[-1]
        # The reference server answers an unknown tool with a tool error.
        assert bad["type"] == "mcp_response" and bad["result"]["isError"] is True, bad
        assert "no-such-tool not found" in bad["result"]["content"][0]["text"], bad
        front.close()
    finally:
        d.close()
        server.kill()
        server.wait()


def test_a_killed_server_fails_what_is_in_flight_and_a_new_one_gets_a_new_session():
    port = free_port()
    server = start_everything(port)
    d, front, _ = broker(port)
    try:
        front.send("front_1", {"type": "mcp_request", "correlation_id": "long", "method": "tools/call",
                               "params": {"name": "trigger-long-running-operation",
                                          "arguments": {"duration": 30, "steps": 30}}})
        _, _, first = front.deliver(timeout=10 * SLOW)
        assert first["type"] == "mcp_progress", first
        server.send_signal(signal.SIGKILL)
        server.wait()
        while True:  # progress that was on its way, then the end
            _, _, msg = front.deliver(timeout=10 * SLOW)
            if msg["type"] != "mcp_progress":
                break
        # As with a stdio server that dies: the broker answers for it.
        assert msg["correlation_id"] == "long" and msg["error"]["error_type"] == "upstream_unavailable", msg
        mark = d.mark()
        server = start_everything(port)  # the same address, no session of ours
        d.wait_log(r"\[everything\] ready as everything_", timeout=30, start=mark)
        echo = call(front, "after", "tools/call", {"name": "echo", "arguments": {"message": "again"}})
        assert echo[-1]["result"]["content"][0]["text"] == "Echo: again", echo
        # A restart between two requests: the GET stream ends with the old
        # server, so the client starts a new session by itself, before the
        # next request needs it.
        mark = d.mark()
        server.kill()
        server.wait()
        server = start_everything(port)
        d.wait_log(r"\[everything\] ready as everything_", timeout=30, start=mark)
        # The server forgets the session while running (as when it expires
        # one): its GET stream ends, the next GET is refused with 404, and
        # the client initializes again.
        session = re.findall(r"\[everything\] session (\S+)", d.log())[-1]  # the newest
        mark = d.mark()
        gone = urllib.request.Request("http://127.0.0.1:%d/mcp" % port, method="DELETE",
                                      headers={"Mcp-Session-Id": session})
        assert urllib.request.urlopen(gone, timeout=5).status == 200
        d.wait_log(r"\[everything\] the server refused the session \(HTTP 40[04]\): initializing again",
                   timeout=10 * SLOW, start=mark)
        d.wait_log(r"\[everything\] ready as everything_", timeout=30, start=mark)
        echo = call(front, "fresh", "tools/call", {"name": "echo", "arguments": {"message": "fresh"}})
        assert echo[-1]["result"]["content"][0]["text"] == "Echo: fresh", echo
        front.close()
    finally:
        d.close()
        server.kill()
        server.wait()



def test_a_server_of_the_old_http_sse_transport_is_reached_by_the_fallback():
    # server-everything's sse mode: POST to /sse is refused, so the client
    # opens the GET stream, learns the endpoint from it, and everything
    # (answers, progress) comes back on that stream.
    port = free_port()
    server = start_everything(port, "sse")
    d, front, _ = broker(port, "/sse")
    try:
        d.wait_log(r"\[everything\] the server refused initialize by POST \(HTTP 404\): trying the HTTP\+SSE")
        d.wait_log(r"\[everything\] HTTP\+SSE session: posting to /message\?sessionId=")
        echo = call(front, "e1", "tools/call", {"name": "echo", "arguments": {"message": "over sse"}})
        assert echo == [{"type": "mcp_response", "correlation_id": "e1",
                         "result": {"content": [{"type": "text", "text": "Echo: over sse"}]}}], echo
        frames = call(front, "p1", "tools/call",
                      {"name": "trigger-long-running-operation", "arguments": {"duration": 1, "steps": 2}})
        assert [f["type"] for f in frames] == ["mcp_progress"] * 2 + ["mcp_response"], frames
        # The server dies mid-request: the stream ends, the request fails,
        # and a new server gets a new session by the same fallback.
        front.send("front_1", {"type": "mcp_request", "correlation_id": "long", "method": "tools/call",
                               "params": {"name": "trigger-long-running-operation",
                                          "arguments": {"duration": 30, "steps": 30}}})
        assert front.deliver(timeout=10 * SLOW)[2]["type"] == "mcp_progress"
        server.kill()
        server.wait()
        while True:
            _, _, msg = front.deliver(timeout=10 * SLOW)
            if msg["type"] != "mcp_progress":
                break
        assert msg["correlation_id"] == "long" and msg["error"]["error_type"] == "upstream_unavailable", msg
        mark = d.mark()
        server = start_everything(port, "sse")
        d.wait_log(r"\[everything\] ready as everything_", timeout=40 * SLOW, start=mark)
        again = call(front, "e2", "tools/call", {"name": "echo", "arguments": {"message": "again"}})
        assert again[-1]["result"]["content"][0]["text"] == "Echo: again", again
        front.close()
    finally:
        d.close()
        server.kill()
        server.wait()


def test_the_get_stream_brings_what_the_server_sends_on_its_own():
    # After toggle-simulated-logging the reference server sends a log
    # message every 5 s, tied to no request: those come on the GET stream.
    port = free_port()
    server = start_everything(port)
    d, front, _ = broker(port)
    try:
        result = call(front, "log", "tools/call", {"name": "toggle-simulated-logging", "arguments": {}})[-1]
        assert result["type"] == "mcp_response", result
        mark = d.mark()  # after the answer: its POST stream is over
        d.wait_log(r"\[everything\] server says: .*\"method\":\"notifications/message\"", timeout=12 * SLOW,
                   start=mark)
        front.close()
    finally:
        d.close()
        server.kill()
        server.wait()


def test_progress_extends_the_timeout_up_to_max_timeout():
    # timeout 1 s: a 3 s operation that reports progress every half second
    # finishes where max_timeout allows it, and times out where it does not.
    port, tap_port = free_port(), free_port()
    server = start_everything(port)
    d = Daemon(
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:everything]\nmodule = %s\nurl = http://127.0.0.1:%d/mcp\nagent_type = everything\n"
        "[route:patient]\nsource = front_*\ntype = mcp_request\ndestination = everything_*\n"
        "interim = mcp_progress\ntimeout = 1s\nmax_timeout = 20s\n"
        "[route:strict]\nsource = strict_*\ntype = mcp_request\ndestination = everything_*\n"
        "interim = mcp_progress\ntimeout = 1s\n"
        % (FIXTURE_PLUGIN_DIR, tap_port, MCP_SO, port)).start()
    try:
        d.wait_log(r"\[everything\] ready as everything_", timeout=10 * SLOW)
        front = Tap(tap_port)
        front.register("front_1")
        long_op = {"name": "trigger-long-running-operation", "arguments": {"duration": 3, "steps": 6}}
        frames = call(front, "patient", "tools/call", long_op)
        assert frames[-1]["type"] == "mcp_response" and len(frames) == 7, frames
        front.register("strict_1")
        front.send("strict_1", {"type": "mcp_request", "correlation_id": "strict", "method": "tools/call",
                                "params": long_op})
        while True:
            _, _, msg = front.deliver(timeout=10 * SLOW)
            if msg["type"] != "mcp_progress":
                break
        assert msg["correlation_id"] == "strict" and msg["error"]["error_type"] == "timeout", msg
        front.close()
    finally:
        d.close()
        server.kill()
        server.wait()


def rpc_call(ws, params, id_=1):
    ws.send_json({"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params})
    return ws.recv_json(timeout=20 * SLOW)


def test_isolated_sessions_get_their_own_mcp_session_id():
    # Two passthrough clients of an isolated upstream: each is a frontend
    # session of its own, so each gets an MCP session (an Mcp-Session-Id)
    # of its own, besides the upstream's.
    port, ws_port = free_port(), free_port()
    server = start_everything(port)
    plugins = os.path.join(TOP_BUILDDIR, "plugins")
    d = Daemon(
        "[plugin:websocket]\nmodule = %s/websocket/.libs/websocket.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:everything]\nmodule = %s\nurl = http://127.0.0.1:%d/mcp\nagent_type = everything\n"
        "session_mode = isolated\nsession_idle = 1s\n"
        "[plugin:jsonrpc_mcp]\nmodule = %s/jsonrpc_mcp/.libs/jsonrpc_mcp.so\n"
        "[route:jsonrpc]\nsource = frontend_rpc_*\ntype = jsonrpc\ndestination = everything_*\n"
        "translator = jsonrpc_mcp\ninterim = jsonrpc_notification\ntimeout = 20s\n"
        % (plugins, ws_port, MCP_SO, port, plugins)).start()
    try:
        d.wait_log(r"\[everything\] ready as everything_", timeout=10 * SLOW)
        clients = [RawWS(ws_port, path="/mcp") for _ in range(2)]
        for n, ws in enumerate(clients):
            ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "echo", "arguments": {"message": "client %d" % n}}})
        for n, ws in enumerate(clients):
            reply = ws.recv_json(timeout=20 * SLOW)
            assert reply["result"]["content"][0]["text"] == "Echo: client %d" % n, reply
        for ws in clients:
            ws.close()
        sessions = set(re.findall(r"\[everything\] session (\S+)", d.log()))
        assert len(sessions) == 3, d.log()  # the upstream's, and one per client
        assert len(re.findall(r"opening an isolated session for frontend_rpc_", d.log())) == 2, d.log()
        # Idle, they are closed (each ends its session with DELETE), and a
        # client that comes back gets a new one.
        d.wait_log(r"closing the isolated session for frontend_rpc_\S+ \(idle\)", timeout=10 * SLOW)
        again = RawWS(ws_port, path="/mcp")
        reply = rpc_call(again, {"name": "echo", "arguments": {"message": "again"}})
        assert reply["result"]["content"][0]["text"] == "Echo: again", reply
        again.close()
    finally:
        d.close()
        server.kill()
        server.wait()


class CuttingServer(http.server.BaseHTTPRequestHandler):
    """A Streamable HTTP server whose first GET stream sends one event (with
    an id and a retry) and is then cut, and whose second GET is refused
    with 404 (the session forgotten): faults a real server gives only by
    chance. It records the Last-Event-ID each GET carries, and counts the
    initializes."""
    protocol_version = "HTTP/1.1"
    gets = []
    initializes = 0

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "id" not in body:
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        result = {"tools": []} if body["method"] == "tools/list" else {}
        if body["method"] == "initialize":
            CuttingServer.initializes += 1
            result = {"protocolVersion": "2025-11-25", "capabilities": {"tools": {}},
                      "serverInfo": {"name": "cutting", "version": "1"}}
        answer = json.dumps({"jsonrpc": "2.0", "id": body["id"], "result": result}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Mcp-Session-Id", "s-1")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self):
        CuttingServer.gets.append((time.monotonic(), self.headers.get("Last-Event-ID")))
        if len(CuttingServer.gets) == 2:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        if len(CuttingServer.gets) == 1:
            note = {"jsonrpc": "2.0", "method": "notifications/message", "params": {"level": "info", "data": "one"}}
            self.wfile.write(b"id: ev-1\nretry: 300\ndata: " + json.dumps(note).encode() + b"\n\n")
            self.wfile.flush()
            self.close_connection = True
            return
        time.sleep(5)  # the second stream stays open, quiet


def test_a_cut_get_stream_is_resumed_with_last_event_id_and_a_404_starts_over():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), CuttingServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    d, front, _ = (None, None, None)
    try:
        tap_port = free_port()
        d = Daemon("[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
                   "[plugin:cutting]\nmodule = %s\nurl = http://127.0.0.1:%d/mcp\nagent_type = cutting\n"
                   % (FIXTURE_PLUGIN_DIR, tap_port, MCP_SO, httpd.server_address[1])).start()
        d.wait_log(r"\[cutting\] server says: .*\"data\": ?\"one\"", timeout=10 * SLOW)
        deadline = time.time() + 10 * SLOW
        while len(CuttingServer.gets) < 2:
            assert time.time() < deadline, CuttingServer.gets
            time.sleep(0.05)
        (first, no_id), (second, last_id) = CuttingServer.gets[:2]
        assert no_id is None and last_id == "ev-1", CuttingServer.gets
        assert second - first >= 0.25, CuttingServer.gets  # the server's retry (300 ms), honoured
        # That second GET was refused (404): the session is gone, and the
        # client initializes a new one, with a new stream.
        d.wait_log(r"\[cutting\] the server refused the session \(HTTP 404\): initializing again",
                   timeout=10 * SLOW)
        deadline = time.time() + 10 * SLOW
        while CuttingServer.initializes < 2 or len(CuttingServer.gets) < 3 or d.log().count("ready as cutting_") < 2:
            assert time.time() < deadline, (CuttingServer.initializes, CuttingServer.gets)
            time.sleep(0.05)
        assert CuttingServer.gets[2][1] is None, CuttingServer.gets  # a new session resumes nothing
    finally:
        if d:
            d.close()
        httpd.shutdown()


class RefusingSseServer(http.server.BaseHTTPRequestHandler):
    """An HTTP+SSE (2024-11-05) server whose answer to initialize, sent on
    its event stream, names a protocol version no client speaks: the
    client must refuse it from inside the stream's own callback, and try
    again later."""
    protocol_version = "HTTP/1.1"
    streams = []

    def log_message(self, *args):
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if self.path == "/sse":  # no Streamable HTTP here
            self.send_response(405)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(202)
        self.send_header("Content-Length", "0")
        self.end_headers()
        if body.get("method") == "initialize":
            answer = {"jsonrpc": "2.0", "id": body["id"],
                      "result": {"protocolVersion": "1999-01-01", "capabilities": {},
                                 "serverInfo": {"name": "old", "version": "0"}}}
            stream = RefusingSseServer.streams[-1]
            stream.write(b"event: message\ndata: " + json.dumps(answer).encode() + b"\n\n")
            stream.flush()

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        RefusingSseServer.streams.append(self.wfile)  # before the client can post to it
        self.wfile.write(b"event: endpoint\ndata: /messages?session=1\n\n")
        self.wfile.flush()
        time.sleep(3)


def test_an_http_sse_server_that_fails_initialize_is_retried():
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingSseServer)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    d = None
    try:
        tap_port = free_port()
        d = Daemon("[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
                   "[plugin:old]\nmodule = %s\nurl = http://127.0.0.1:%d/sse\nagent_type = old\nrequired = false\n"
                   % (FIXTURE_PLUGIN_DIR, tap_port, MCP_SO, httpd.server_address[1])).start()
        refused = r"\[old\] the server speaks protocol version 1999-01-01, which this client does not"
        d.wait_log(refused, timeout=10 * SLOW)
        mark = d.mark()
        d.wait_log(r"\[old\] HTTP\+SSE session: posting to /messages\?session=1", timeout=10 * SLOW, start=mark)
        d.wait_log(refused, timeout=10 * SLOW, start=mark)  # a second session, refused the same way
    finally:
        if d:
            d.close()  # and under the sanitizers, nothing was used after it was freed
        httpd.shutdown()


def test_a_server_whose_name_does_not_resolve_is_retried_not_fatal():
    tap_port, http_port = free_port(), free_port()
    d = Daemon(
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:http]\nmodule = %s\nlisten = 127.0.0.1:%d\n"
        "[plugin:nowhere]\nmodule = %s\nurl = http://no-such-host.invalid:8080/mcp\nagent_type = nowhere\n"
        "required = false\n"
        % (FIXTURE_PLUGIN_DIR, tap_port, WEBSOCKET_SO, http_port, MCP_SO)).start()
    try:
        d.wait_log(r"\[nowhere\] cannot reach no-such-host.invalid:8080", timeout=15)
        health = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % http_port, timeout=5).read())
        (up,) = health["upstreams"]
        assert up["transport"] == "http" and up["state"] != "ready", health
        assert health["status"] == "healthy", health  # not required: the broker is not degraded
    finally:
        d.close()


def test_https_verifies_the_server_and_works_with_its_ca():
    port, tls_port = free_port(), free_port()
    server = start_everything(port)
    certs = tempfile.mkdtemp(prefix="ab-mcp-tls-")
    cert, key = make_certificate(certs, "server")
    proxy = subprocess.Popen(["node", os.path.join(TOP_SRCDIR, "tests", "peers", "tls_proxy.mjs"),
                              cert, key, str(tls_port), str(port)], stdout=subprocess.PIPE, text=True)
    assert proxy.stdout.readline().strip() == "listening"
    tap_port = free_port()
    d = Daemon(
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:trusting]\nmodule = %s\nurl = https://127.0.0.1:%d/mcp\nagent_type = trusting\n"
        "tls_ca = %s\n"
        "[plugin:default]\nmodule = %s\nurl = https://127.0.0.1:%d/mcp\nagent_type = default\n"
        "required = false\n"
        "[route:mcp]\nsource = front_*\ntype = mcp_request\ndestination = trusting_*\ntimeout = 20s\n"
        % (FIXTURE_PLUGIN_DIR, tap_port, MCP_SO, tls_port, cert, MCP_SO, tls_port)).start()
    try:
        # With the CA it trusts the server; with the system's CAs alone it does not.
        d.wait_log(r"\[trusting\] ready as trusting_[0-9a-f]{8}", timeout=15)
        d.wait_log(r"\[default\] cannot reach 127.0.0.1:%d \(TLS: .*certificate verify failed" % tls_port,
                   timeout=15)
        front = Tap(tap_port)
        front.register("front_1")
        echo = call(front, "e1", "tools/call", {"name": "echo", "arguments": {"message": "over https"}})
        assert echo[-1]["result"]["content"][0]["text"] == "Echo: over https", echo
        assert "[default] ready as" not in d.log()
        front.close()
    finally:
        d.close()
        proxy.kill()
        server.kill()
        proxy.wait()
        server.wait()
        shutil.rmtree(certs, ignore_errors=True)


def test_mcp_progress_reaches_a_frontend_as_query_progress():
    # Through the query translator, as a frontend sees it: interim
    # query_progress frames from the tool's progress, then the final reply.
    port, ws_port = free_port(), free_port()
    server = start_everything(port)
    plugins = os.path.join(TOP_BUILDDIR, "plugins")
    d = Daemon(
        "[plugin:websocket]\nmodule = %s/websocket/.libs/websocket.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:everything]\nmodule = %s\nurl = http://127.0.0.1:%d/mcp\nagent_type = everything\n"
        "[plugin:query_mcp]\nmodule = %s/query_mcp/.libs/query_mcp.so\n"
        "[route:long]\nsource = frontend_*\ntype = long_operation\ndestination = everything_*\n"
        "translator = query_mcp\ntool = trigger-long-running-operation\n"
        "arguments = {\"duration\": \"$.duration\", \"steps\": \"$.steps\"}\n"
        "reply_type = long_operation_response\nerror_reply = long_operation_error\n"
        "interim = query_progress\ntimeout = 20s\n"
        % (plugins, ws_port, MCP_SO, port, plugins)).start()
    try:
        d.wait_log(r"\[everything\] ready as everything_", timeout=10)
        ws = RawWS(ws_port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "correlation_id": "h", "capabilities": ["real_time_updates"]})
        assert ws.recv_json()["type"] == "connection_acknowledged"
        ws.send_json({"type": "long_operation", "correlation_id": "op", "duration": 1, "steps": 2})
        frames = [ws.recv_json(timeout=10 * SLOW) for _ in range(3)]
        assert [f["type"] for f in frames] == ["query_progress", "query_progress", "long_operation_response"], frames
        assert [(f["progress"], f["total"]) for f in frames[:2]] == [(1, 2), (2, 2)], frames
        assert all(f["correlation_id"] == "op" for f in frames), frames
        ws.close()
    finally:
        d.close()
        server.kill()
        server.wait()

if __name__ == "__main__":
    if not os.path.exists(EVERYTHING):
        print("SKIP: no server-everything (npm ci in tests/peers; tools/deps.sh does it)")
        sys.exit(77)
    run([
        test_streamable_http_session_tools_progress_and_health,
        test_a_killed_server_fails_what_is_in_flight_and_a_new_one_gets_a_new_session,
        test_a_server_of_the_old_http_sse_transport_is_reached_by_the_fallback,
        test_the_get_stream_brings_what_the_server_sends_on_its_own,
        test_a_cut_get_stream_is_resumed_with_last_event_id_and_a_404_starts_over,
        test_an_http_sse_server_that_fails_initialize_is_retried,
        test_a_server_whose_name_does_not_resolve_is_retried_not_fatal,
        test_https_verifies_the_server_and_works_with_its_ca,
        test_mcp_progress_reaches_a_frontend_as_query_progress,
        test_isolated_sessions_get_their_own_mcp_session_id,
        test_progress_extends_the_timeout_up_to_max_timeout,
    ])
