"""The HTTP API deployed frontends call (docs/protocol.md, "HTTP API"), on
the default config with the bundled SQLite server: curl and Node's fetch
get the exact bodies of PROTOCOL.md section 3; a database selected over
HTTP is the WebSocket session's too (and the other way round); CORS for an
allowed and a refused origin; bad bodies, unknown routes, keep-alive with
pipelining; a route's deadline (504) and an upstream killed mid-request
(an error body, not a hang); auth on the API."""

import json
import os
import re
import signal
import socket
import subprocess
import tempfile
import time

from agentbus_test import SLOW, TOP_SRCDIR, RawWS, cleanup, default_broker, run

PEERS = os.path.join(TOP_SRCDIR, "tests", "peers")
SLOW_QUERY = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000000) "
              "SELECT count(*) FROM c")


def curl(port, method, path, body=None, headers=None, raw=None):
    """(status, headers, body) of one request made by curl; the body is
    parsed when it is JSON."""
    cmd = ["curl", "-s", "-i", "--max-time", str(30 * SLOW), "-X", method]
    for k, v in (headers or {}).items():
        cmd += ["-H", "%s: %s" % (k, v)]
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    if data is not None:
        if not any(k.lower() == "content-type" for k in (headers or {})):
            cmd += ["-H", "Content-Type: application/json"]
        cmd += ["--data-binary", "@-"]
    cmd.append("http://127.0.0.1:%d%s" % (port, path))
    out = subprocess.run(cmd, input=data, capture_output=True, timeout=40 * SLOW).stdout
    # "HTTP/1.1 100 Continue" may come first.
    while out.startswith(b"HTTP/1.1 100"):
        out = out.split(b"\r\n\r\n", 1)[1]
    head, _, text = out.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    fields = {k.strip().lower(): v.strip() for k, _, v in (l.partition(":") for l in lines[1:])}
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text.decode()
    return int(lines[0].split()[1]), fields, parsed


def test_each_route_answers_with_the_protocol_body():
    d, port, dirs = default_broker()
    try:
        status, _, body = curl(port, "GET", "/api/database/list")
        assert status == 200, body
        assert body == {"success": True, "databases": [
            {"name": "analytics", "charset": None, "collation": None, "accessible": True},
            {"name": "demo", "charset": None, "collation": None, "accessible": True}]}, body

        status, _, body = curl(port, "POST", "/api/database/select",
                               {"database_name": "demo", "session_id": "web-1"})
        assert status == 200, body
        assert body == {"success": True, "database_name": "demo", "session_id": "web-1",
                        "tables": [{"name": "customers", "type": "table"},
                                   {"name": "orders", "type": "table"},
                                   {"name": "products", "type": "table"}],
                        "total_tables": 3, "schema_initialized": True,
                        "message": "Switched to database 'demo'"}, body

        # Without a session_id, one is made and returned.
        status, _, body = curl(port, "POST", "/api/database/select", {"database_name": "analytics"})
        assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", body["session_id"]), body
        assert body["total_tables"] == 1 and body["tables"] == [{"name": "daily_metrics", "type": "table"}], body

        status, _, body = curl(port, "GET", "/api/database/context/web-1")
        assert status == 200, body
        ctx = body["database_context"]
        assert body["success"] is True and body["context_available"] is True, body
        assert ctx["database_name"] == "demo" and ctx["session_id"] == "web-1", body
        assert ctx["table_names"] == ["customers", "orders", "products"] and ctx["total_tables"] == 3, body
        assert ctx["schema_initialized"] is True and ctx["selected_at"].endswith("Z"), body
        status, _, body = curl(port, "GET", "/api/database/context/never-selected")
        assert status == 200 and body == {"success": True, "context_available": False,
                                          "database_context": None}, body

        status, _, body = curl(port, "POST", "/api/query",
                               {"query": "SELECT name, country FROM customers WHERE country = 'US' ORDER BY name",
                                "session_id": "web-1", "query_id": "q-7"})
        assert status == 200, body
        rows = [{"name": "Grace Hopper", "country": "US"}, {"name": "Katherine Johnson", "country": "US"}]
        assert set(body) == {"query_id", "intent", "result"}, body
        assert body["query_id"] == "q-7" and body["intent"] == {"metric_type": None, "time_period": None}, body
        assert set(body["result"]) == {"data", "columns", "row_count", "processing_time_ms"}, body
        assert body["result"]["data"] == rows and body["result"]["columns"] == ["name", "country"], body
        assert body["result"]["row_count"] == 2 and body["result"]["processing_time_ms"] >= 0, body

        # The database's refusal is an answer: the same body with error for result.
        status, _, body = curl(port, "POST", "/api/query", {"query": "SELECT * FROM nowhere"})
        assert status == 200, body
        assert set(body) == {"query_id", "intent", "error"} and re.fullmatch(r"[0-9a-f]{32}", body["query_id"]), body
        assert body["error"] == {"error_type": "tool_error", "message": "no such table: nowhere"}, body
    finally:
        cleanup(d, dirs)


def test_node_fetch_gets_the_same_bodies():
    d, port, dirs = default_broker()
    try:
        requests = [
            {"method": "GET", "path": "/api/database/list", "headers": {"Origin": "http://localhost:3000"}},
            {"method": "POST", "path": "/api/database/select",
             "body": {"database_name": "demo", "session_id": "node-1"}},
            {"method": "POST", "path": "/api/query",
             "body": {"query": "SELECT count(*) AS n FROM orders", "session_id": "node-1"}},
            {"method": "GET", "path": "/api/database/context/node-1"},
        ]
        out = subprocess.run(["node", os.path.join(PEERS, "fetch_client.mjs"), "http://127.0.0.1:%d" % port,
                              json.dumps(requests)], capture_output=True, text=True, timeout=30 * SLOW)
        assert out.returncode == 0, out.stderr
        answers = [json.loads(line) for line in out.stdout.splitlines()]
        assert [a["status"] for a in answers] == [200, 200, 200, 200], answers
        assert answers[0]["headers"]["access-control-allow-origin"] == "http://localhost:3000", answers[0]
        assert [x["name"] for x in answers[0]["body"]["databases"]] == ["analytics", "demo"], answers[0]
        assert answers[1]["body"]["session_id"] == "node-1" and answers[1]["body"]["total_tables"] == 3, answers[1]
        assert answers[2]["body"]["result"]["data"] == [{"n": 8}], answers[2]
        assert answers[3]["body"]["database_context"]["database_name"] == "demo", answers[3]
    finally:
        cleanup(d, dirs)


def ws_session(port, user="u1"):
    ws = RawWS(port)
    ws.recv_json()
    ws.send_json({"type": "connection_handshake", "correlation_id": "h", "user_id": user})
    assert ws.recv_json()["type"] == "connection_acknowledged"
    return ws


def test_a_session_selects_over_http_and_queries_over_the_websocket():
    d, port, dirs = default_broker()
    try:
        status, _, body = curl(port, "POST", "/api/database/select",
                               {"database_name": "analytics", "session_id": "shared-1"})
        assert status == 200 and body["database_name"] == "analytics", body
        # Another session moves the shared upstream elsewhere meanwhile.
        assert curl(port, "POST", "/api/database/select", {"database_name": "demo", "session_id": "other"})[0] == 200
        ws = ws_session(port)
        ws.send_json({"type": "get_database_context", "correlation_id": "c1", "session_id": "shared-1"})
        ctx = ws.recv_json(timeout=10)
        assert ctx["database_context"]["database_name"] == "analytics", ctx
        ws.send_json({"type": "query", "correlation_id": "q1", "session_id": "shared-1",
                      "query": "SELECT count(*) AS days FROM daily_metrics"})
        reply = ws.recv_json(timeout=10)
        assert reply["type"] == "query_response", reply
        assert reply["response"]["data"][0]["days"] > 0, reply
        # And the other way round: a WebSocket selection, read over HTTP.
        ws.send_json({"type": "database_select", "correlation_id": "s2", "database_name": "demo",
                      "session_id": "shared-2"})
        assert ws.recv_json(timeout=10)["type"] == "database_select_response"
        status, _, body = curl(port, "GET", "/api/database/context/shared-2")
        assert body["database_context"]["database_name"] == "demo", body
        status, _, body = curl(port, "GET", "/api/database/context/shared-1")
        assert body["database_context"]["database_name"] == "analytics", body
        ws.close()
    finally:
        cleanup(d, dirs)


def test_cors_for_an_allowed_and_a_refused_origin():
    d, port, dirs = default_broker()
    try:
        preflight = {"Origin": "http://localhost:3000", "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "content-type"}
        status, h, _ = curl(port, "OPTIONS", "/api/database/select", headers=preflight)
        assert status == 204, h
        assert h["access-control-allow-origin"] == "http://localhost:3000", h
        assert h["access-control-allow-methods"] == "GET, POST, OPTIONS", h
        for name in ("Content-Type", "Cache-Control", "Pragma", "Expires"):
            assert name in h["access-control-allow-headers"].split(", "), h
        status, h, body = curl(port, "OPTIONS", "/api/database/select",
                               headers=dict(preflight, Origin="http://evil.example"))
        assert status == 403 and "access-control-allow-origin" not in h, (h, body)
        assert body == {"detail": "origin not allowed"}, body
        # The requests themselves.
        status, h, _ = curl(port, "GET", "/api/database/list", headers={"Origin": "http://localhost:3000"})
        assert status == 200 and h["access-control-allow-origin"] == "http://localhost:3000", h
        assert h["vary"] == "Origin", h
        status, h, body = curl(port, "POST", "/api/database/select", {"database_name": "demo"},
                               headers={"Origin": "http://evil.example"})
        assert status == 403 and "access-control-allow-origin" not in h, (h, body)
        # Same origin (the page the broker served itself) needs no listing.
        status, h, _ = curl(port, "GET", "/api/database/list",
                            headers={"Origin": "http://127.0.0.1:%d" % port})
        assert status == 200, h
    finally:
        cleanup(d, dirs)


def test_bad_requests_get_clear_statuses():
    d, port, dirs = default_broker()
    try:
        status, _, body = curl(port, "POST", "/api/query", raw=b'{"query": ')
        assert status == 400 and body == {"detail": "the body is not valid JSON"}, body
        # UTF-8 that is not (a surrogate, an overlong NUL): refused whole,
        # never sent on with the field left out
        for bad in (b'{"query": "SELECT \'\xed\xa0\x80\'", "session_id": "s1"}', b'{"query": "\xc0\x80"}'):
            status, _, body = curl(port, "POST", "/api/query", raw=bad)
            assert status == 400 and body == {"detail": "the body is not valid JSON"}, (bad, body)
        status, _, body = curl(port, "POST", "/api/query", raw=b'["a list"]')
        assert status == 400 and body == {"detail": "the body must be a JSON object"}, body
        big = json.dumps({"query": "SELECT '" + "x" * (1 << 20) + "'"}).encode()
        status, _, body = curl(port, "POST", "/api/query", raw=big)
        assert status == 413 and body == {"detail": "request body too large"}, body
        status, _, body = curl(port, "GET", "/api/nothing/here")
        assert status == 404 and body == {"detail": "not found"}, body
        status, _, body = curl(port, "GET", "/api/query")
        assert status == 405 and body == {"detail": "method not allowed"}, body
        status, _, body = curl(port, "GET", "/api/database/context/bad%20id")
        assert status == 404, body  # not an id: no route has such a path
        # Still serving.
        assert curl(port, "GET", "/api/database/list")[0] == 200
    finally:
        cleanup(d, dirs)


def test_keep_alive_and_pipelined_requests_are_answered_in_order():
    d, port, dirs = default_broker()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        query = json.dumps({"query": "SELECT 1 AS one", "query_id": "first"}).encode()
        # Three requests in one write: a routed one first, so the quick
        # /health behind it must wait its turn.
        s.sendall(b"POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                  b"Content-Length: %d\r\n\r\n%s" % (len(query), query) +
                  b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                  b"GET /api/database/list HTTP/1.1\r\nHost: x\r\n\r\n")
        answers = []
        sock_buf = b""
        for _ in range(3):
            data = sock_buf
            while b"\r\n\r\n" not in data:
                data += s.recv(65536)
            head, _, rest = data.partition(b"\r\n\r\n")
            fields = {k.strip().lower(): v.strip() for k, _, v in
                      (l.partition(":") for l in head.decode().split("\r\n")[1:])}
            length = int(fields["content-length"])
            while len(rest) < length:
                rest += s.recv(65536)
            answers.append((head.decode().split()[1], fields["connection"], json.loads(rest[:length])))
            sock_buf = rest[length:]
        assert [a[0] for a in answers] == ["200", "200", "200"], answers
        assert all(a[1] == "keep-alive" for a in answers), answers
        assert answers[0][2]["query_id"] == "first", answers[0]
        assert answers[1][2]["service"] == "agentbus", answers[1]
        # The upstream's tools as its cache knows them (the SQLite server has five).
        assert [(u["state"], u["tools"]) for u in answers[1][2]["upstreams"]] == [("ready", 5)], answers[1]
        assert "databases" in answers[2][2], answers[2]
        # Connection: close is honoured.
        s.sendall(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = sock_buf
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        assert data.startswith(b"HTTP/1.1 200") and b"Connection: close" in data, data
        s.close()
    finally:
        cleanup(d, dirs)


def test_a_routes_deadline_is_a_504_with_the_error_body():
    d, port, dirs = default_broker(lambda text: text.replace("timeout = 60s", "timeout = 1s"))
    try:
        start = time.monotonic()
        status, _, body = curl(port, "POST", "/api/query", {"query": SLOW_QUERY, "query_id": "slow"})
        assert status == 504, body
        assert body["query_id"] == "slow" and body["error"]["error_type"] == "timeout", body
        assert time.monotonic() - start < 10 * SLOW, "answered within the deadline, not much later"
    finally:
        cleanup(d, dirs)


def test_an_upstream_killed_mid_request_is_an_error_body_not_a_hang():
    d, port, dirs = default_broker()
    try:
        pid = int(re.search(r"agentbus-sqlite-mcp \(pid (\d+)\)", d.log()).group(1))
        child = subprocess.Popen(["curl", "-s", "-i", "--max-time", str(30 * SLOW), "-X", "POST",
                                  "-H", "Content-Type: application/json", "--data-binary",
                                  json.dumps({"query": SLOW_QUERY, "query_id": "doomed"}),
                                  "http://127.0.0.1:%d/api/query" % port], stdout=subprocess.PIPE)
        time.sleep(0.5 * SLOW)
        os.kill(pid, signal.SIGKILL)
        out = child.communicate(timeout=30 * SLOW)[0]
        head, _, text = out.partition(b"\r\n\r\n")
        body = json.loads(text)
        assert head.startswith(b"HTTP/1.1 503"), out
        assert body["query_id"] == "doomed" and body["error"]["error_type"] == "upstream_unavailable", body
        # The restarted server answers the next one.
        d.wait_log(r"ready as sqlite_mcp_", timeout=15 * SLOW, start=1)
        assert curl(port, "GET", "/api/database/list")[0] == 200
    finally:
        cleanup(d, dirs)


def raw_exchange(port, data):
    """Send raw bytes; read until the broker closes. Returns the bytes read."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
    s.sendall(data)
    out = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        out += chunk
    s.close()
    return out


def test_http_details_a_strict_client_relies_on():
    d, port, dirs = default_broker()
    try:
        # HEAD answers have no body, so the next answer on the connection
        # starts where the client expects it.
        out = raw_exchange(port, b"HEAD /nothing HTTP/1.1\r\nHost: x\r\n\r\n"
                                 b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        first, _, rest = out.partition(b"\r\n\r\n")
        assert first.startswith(b"HTTP/1.1 404 ") and rest.startswith(b"HTTP/1.1 200 "), out
        # Two lengths could mean two things to two servers: refused.
        out = raw_exchange(port, b"POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                                 b"Content-Length: 30\r\n\r\n{}")
        assert out.startswith(b"HTTP/1.1 400 ") and b"more than one Content-Length" in out, out
        # HTTP/1.0: answered, then closed.
        out = raw_exchange(port, b"GET /api/database/list HTTP/1.0\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in out, out
        assert json.loads(out.partition(b"\r\n\r\n")[2])["success"] is True, out
        # A body nested deeper than anything real: 400, and the broker lives.
        deep = b"[" * 500000 + b"]" * 500000
        status, _, body = curl(port, "POST", "/api/query", raw=deep)
        assert status == 400 and body == {"detail": "the body nests deeper than 64 levels"}, body
        # Methods are case-sensitive.
        out = raw_exchange(port, b"get /api/database/list HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert out.startswith(b"HTTP/1.1 405 "), out
        assert curl(port, "GET", "/api/database/list")[0] == 200
    finally:
        cleanup(d, dirs)


def test_a_client_that_leaves_mid_request_costs_nothing_after():
    d, port, dirs = default_broker()
    try:
        body = json.dumps({"query": SLOW_QUERY}).encode()
        s = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        s.sendall(b"POST /api/query HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        time.sleep(0.3 * SLOW)
        s.close()  # gone before its answer
        # Its request is cancelled upstream, and the next one is answered.
        d.wait_log(r"\[sqlite\] request \d+ abandoned \(cancelled\): notifications/cancelled sent",
                   timeout=10 * SLOW)
        status, _, reply = curl(port, "POST", "/api/query", {"query": "SELECT 2 AS two"})
        assert status == 200 and reply["result"]["data"] == [{"two": 2}], reply
    finally:
        cleanup(d, dirs)


def test_with_auth_on_the_api_needs_a_token():
    fd, tokens = tempfile.mkstemp(prefix="ab-tokens-")
    os.write(fd, b"s3cret-token alice\n")
    os.close(fd)
    os.chmod(tokens, 0o600)
    d, port, dirs = default_broker(lambda text: text.replace(
        "legacy_paths = true", "legacy_paths = true\nauth = token\nauth_tokens_file = " + tokens))
    try:
        status, _, body = curl(port, "GET", "/api/database/list")
        assert status == 401 and body == {"detail": "a token is required"}, body
        status, _, body = curl(port, "GET", "/api/database/list", headers={"Authorization": "Bearer wrong"})
        assert status == 401, body
        status, _, body = curl(port, "GET", "/api/database/list", headers={"Authorization": "Bearer s3cret-token"})
        assert status == 200 and body["success"] is True, body
        status, _, body = curl(port, "GET", "/api/database/list?access_token=s3cret-token")
        assert status == 200, body
        assert "s3cret-token" not in d.log(), "tokens never appear in logs"
    finally:
        cleanup(d, dirs)
        os.unlink(tokens)


if __name__ == "__main__":
    run([
        test_each_route_answers_with_the_protocol_body,
        test_node_fetch_gets_the_same_bodies,
        test_a_session_selects_over_http_and_queries_over_the_websocket,
        test_cors_for_an_allowed_and_a_refused_origin,
        test_bad_requests_get_clear_statuses,
        test_keep_alive_and_pipelined_requests_are_answered_in_order,
        test_a_routes_deadline_is_a_504_with_the_error_body,
        test_an_upstream_killed_mid_request_is_an_error_body_not_a_hang,
        test_http_details_a_strict_client_relies_on,
        test_a_client_that_leaves_mid_request_costs_nothing_after,
        test_with_auth_on_the_api_needs_a_token,
    ])
