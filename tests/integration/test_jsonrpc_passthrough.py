"""MCP JSON-RPC clients through the broker (the websocket transport's
/mcp path and the jsonrpc_mcp translator), against real servers: the
bundled SQLite server under the default config, and server-everything over
stdio for progress. Ids come back with their JSON type; two clients using
the same ids get their own answers; the upstream's errors keep their
codes; malformed input gets the JSON-RPC error for it; a cancelled request
is cancelled upstream and gets no response."""

import json
import os
import time

from agentbus_test import (SLOW, TOP_BUILDDIR, TOP_SRCDIR, Daemon, RawWS, cleanup, default_broker, free_port,
                          run)

EVERYTHING = os.path.join(TOP_SRCDIR, "tests", "peers", "node_modules", "@modelcontextprotocol",
                          "server-everything", "dist", "index.js")


def rpc(ws, id_, method, params=None, timeout=10):
    msg = {"jsonrpc": "2.0", "id": id_, "method": method}
    if params is not None:
        msg["params"] = params
    ws.send_json(msg)
    return ws.recv_json(timeout=timeout * SLOW)


def test_a_client_initializes_lists_and_calls_with_its_own_ids():
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port, path="/mcp")
        hello = rpc(ws, 0, "initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                          "clientInfo": {"name": "test", "version": "1"}})
        assert hello["id"] == 0 and hello["result"]["serverInfo"]["name"] == "agentbus-sqlite-mcp", hello
        assert hello["result"]["protocolVersion"] == "2025-11-25", hello  # the upstream session's
        ws.send_json({"jsonrpc": "2.0", "method": "notifications/initialized"})  # no answer
        tools = rpc(ws, "list-1", "tools/list")
        assert tools["id"] == "list-1" and tools["jsonrpc"] == "2.0", tools
        assert [t["name"] for t in tools["result"]["tools"]] == \
            ["show_databases", "switch_database", "show_tables", "db_query", "db_execute"], tools
        rows = rpc(ws, 7, "tools/call", {"name": "db_query",
                                         "arguments": {"sql_stmt": "SELECT count(*) AS n FROM orders"}})
        assert rows["id"] == 7 and rows["result"]["structuredContent"]["result"] == [{"n": 8}], rows
        # The same id as a string is another request, answered as a string.
        same = rpc(ws, "7", "ping")
        assert same == {"jsonrpc": "2.0", "id": "7", "result": {}}, same
        # The upstream's own JSON-RPC error, its code kept.
        unknown = rpc(ws, 8, "resources/list")
        assert unknown["id"] == 8 and unknown["error"]["code"] == -32601, unknown
        ws.close()
    finally:
        cleanup(d, dirs)


def test_line_breaks_in_a_request_cannot_smuggle_lines_to_a_stdio_server():
    """The request's bytes are carried on as the client wrote them; a stdio
    server reads one message per line, so a request laid out over lines
    must still be one line there, not a second request of the client's."""
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port, path="/mcp")
        smuggled = ('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"db_execute",'
                    '"arguments":{"sql_stmt":"DELETE FROM orders"}}}')
        ws.send_frame(1, ('{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"db_query",\r\n'
                      '"arguments":{"sql_stmt":"SELECT 1 AS n"},\n"x":[\n' + smuggled + '\n]}}').encode())
        reply = ws.recv_json(timeout=10 * SLOW)
        assert reply["id"] == 9 and reply["result"]["structuredContent"]["result"] == [{"n": 1}], reply
        rows = rpc(ws, 10, "tools/call", {"name": "db_query",
                                          "arguments": {"sql_stmt": "SELECT count(*) AS n FROM orders"}})
        assert rows["result"]["structuredContent"]["result"] == [{"n": 8}], rows  # nothing deleted
        ws.close()
    finally:
        cleanup(d, dirs)


def test_two_clients_with_the_same_ids_get_their_own_answers():
    d, port, dirs = default_broker()
    try:
        clients = [RawWS(port, path="/mcp") for _ in range(4)]
        for n, ws in enumerate(clients):  # every client's request is id 1, in flight at once
            ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "db_query", "arguments": {"sql_stmt": "SELECT %d AS n" % n}}})
        for n, ws in enumerate(clients):
            reply = ws.recv_json(timeout=10 * SLOW)
            assert reply["id"] == 1 and reply["result"]["structuredContent"]["result"] == [{"n": n}], reply
            ws.close()
    finally:
        cleanup(d, dirs)


def test_malformed_input_gets_the_json_rpc_error_for_it():
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port, path="/mcp")
        ws.send_frame(1, b"{not json")
        err = ws.recv_json()
        assert err["id"] is None and err["error"]["code"] == -32700, err
        ws.send_json([{"jsonrpc": "2.0", "id": 1, "method": "ping"}])
        err = ws.recv_json()
        assert err["id"] is None and err["error"]["code"] == -32600, err
        ws.send_json({"jsonrpc": "2.0", "id": 1.5, "method": "ping"})
        err = ws.recv_json()
        assert err["id"] is None and err["error"]["code"] == -32600, err
        # Nested deeper than [broker] max_json_depth (64): refused as JSON
        # the broker does not take, not handed on.
        ws.send_frame(1, b'{"jsonrpc":"2.0","id":3,"method":"ping","params":{"a":' + b"[" * 100 + b"]" * 100 + b"}}")
        err = ws.recv_json()
        assert err["id"] is None and err["error"]["code"] == -32700, err
        # An id still in flight may not be used again.
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 20000000) SELECT count(*) FROM c"
        ws.send_json({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "db_query", "arguments": {"sql_stmt": slow}}})
        twice = rpc(ws, 2, "ping")
        assert twice["id"] == 2 and twice["error"]["code"] == -32600, twice
        first = ws.recv_json(timeout=30 * SLOW)
        assert first["id"] == 2 and "result" in first, first
        ws.close()
    finally:
        cleanup(d, dirs)


def test_a_cancelled_request_is_cancelled_upstream_and_gets_no_response():
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port, path="/mcp")
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000000) SELECT count(*) FROM c"
        ws.send_json({"jsonrpc": "2.0", "id": "long", "method": "tools/call",
                      "params": {"name": "db_query", "arguments": {"sql_stmt": slow}}})
        time.sleep(0.3)
        mark = d.mark()
        ws.send_json({"jsonrpc": "2.0", "method": "notifications/cancelled",
                      "params": {"requestId": "long", "reason": "the user gave up"}})
        d.wait_log(r"\[sqlite\] request \d+ abandoned \(cancelled\): notifications/cancelled sent", start=mark)
        # The next answer on this connection is the next request's.
        after = rpc(ws, "after", "ping")
        assert after == {"jsonrpc": "2.0", "id": "after", "result": {}}, after
        ws.close()
    finally:
        cleanup(d, dirs)


def test_a_client_that_leaves_mid_call_cancels_it_upstream():
    # The route is exclusive: a call left running would hold up everyone.
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port, path="/mcp")
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000000) SELECT count(*) FROM c"
        ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "db_query", "arguments": {"sql_stmt": slow}}})
        time.sleep(0.3)
        mark = d.mark()
        ws.close()
        d.wait_log(r"\[sqlite\] request \d+ abandoned \(cancelled\): notifications/cancelled sent", start=mark)
        other = RawWS(port, path="/mcp")
        started = time.time()
        answer = rpc(other, 1, "tools/call", {"name": "db_query", "arguments": {"sql_stmt": "SELECT 1 AS one"}})
        assert answer["result"]["structuredContent"]["result"] == [{"one": 1}], answer
        assert time.time() - started < 5 * SLOW  # not after the abandoned call's deadline
        other.close()
    finally:
        cleanup(d, dirs)


def everything_broker(extra=""):
    """server-everything over stdio behind the passthrough, and behind
    query_mcp for a frontend of the frontend protocol: (daemon, port)."""
    port = free_port()
    so = lambda name: os.path.join(TOP_BUILDDIR, "plugins", name, ".libs", name + ".so")
    d = Daemon(
        "[plugin:websocket]\nmodule = %s\nlisten = 127.0.0.1:%d\n"
        "[plugin:everything]\nmodule = %s\nurl = stdio:node %s stdio\nagent_type = everything\n"
        "env = {\"AGENTBUS_TEST_ENV\": \"from the config\"}\n%s"
        "[plugin:jsonrpc_mcp]\nmodule = %s\n[plugin:query_mcp]\nmodule = %s\n"
        "[route:jsonrpc]\nsource = frontend_rpc_*\ntype = jsonrpc\ndestination = everything_*\n"
        "translator = jsonrpc_mcp\ninterim = jsonrpc_notification\ntimeout = 20s\n"
        "[route:sample]\nsource = frontend_*\ntype = sample\ndestination = everything_*\ntranslator = query_mcp\n"
        "tool = trigger-sampling-request\narguments = {\"prompt\": \"hi\"}\nreply_type = sample_response\n"
        "error_reply = sample_error\ntimeout = 20s\n"
        % (so("websocket"), port, so("mcp"), EVERYTHING, extra, so("jsonrpc_mcp"), so("query_mcp"))).start()
    d.expect(r"\[everything\] ready as everything_", timeout=20 * SLOW)
    return d, port


def test_the_servers_requests_reach_the_client_whose_call_they_belong_to():
    d, port = everything_broker()
    try:
        ws = RawWS(port, path="/mcp")
        hello = rpc(ws, 0, "initialize", {"protocolVersion": "2025-11-25", "capabilities": {"sampling": {}},
                                          "clientInfo": {"name": "test", "version": "1"}})
        assert "result" in hello, hello
        ws.send_json({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                      "params": {"name": "trigger-sampling-request", "arguments": {"prompt": "the moon"}}})
        ask = ws.recv_json(timeout=10 * SLOW)
        assert ask["method"] == "sampling/createMessage" and ask["id"].startswith("s-"), ask
        assert "the moon" in ask["params"]["messages"][0]["content"]["text"], ask
        ws.send_json({"jsonrpc": "2.0", "id": ask["id"],
                      "result": {"role": "assistant", "model": "test-model",
                                 "content": {"type": "text", "text": "made of cheese"}}})
        answer = ws.recv_json(timeout=10 * SLOW)
        assert answer["id"] == 3 and "made of cheese" in json.dumps(answer["result"]), answer
        ws.close()
        # A client that did not say it samples is not asked: the server is
        # told at once, as for a frontend of the frontend protocol.
        quiet = RawWS(port, path="/mcp")
        answer = rpc(quiet, 4, "tools/call", {"name": "trigger-sampling-request", "arguments": {"prompt": "x"}})
        assert answer["id"] == 4 and ("error" in answer or answer["result"].get("isError")), answer
        quiet.close()
        # A frontend of the frontend protocol cannot answer either: the
        # frontend gets the tool's failure.
        front = RawWS(port)
        front.recv_json()
        front.send_json({"type": "connection_handshake", "correlation_id": "h"})
        front.recv_json()
        front.send_json({"type": "sample", "correlation_id": "s"})
        reply = front.recv_json(timeout=10 * SLOW)
        assert reply["type"] == "sample_error" and reply["correlation_id"] == "s", reply
        d.wait_log(r"\[everything\] the server's sampling/createMessage: no frontend in flight can answer it")
        front.close()
    finally:
        d.close()


def test_a_stdio_server_gets_the_environment_the_config_gives():
    d, port = everything_broker()
    try:
        ws = RawWS(port, path="/mcp")
        env = json.loads(rpc(ws, 1, "tools/call", {"name": "get-env", "arguments": {}})["result"]["content"][0]["text"])
        assert env["AGENTBUS_TEST_ENV"] == "from the config", env
        assert env.get("PATH"), env  # besides the broker's own
        ws.close()
    finally:
        d.close()


def test_isolated_clients_each_answer_their_own_servers_requests():
    # Two clients of an isolated upstream, asked at once: each ask has its
    # own key, and each answer reaches the server that asked it.
    d, port = everything_broker("session_mode = isolated\n")
    try:
        clients = [RawWS(port, path="/mcp") for _ in range(2)]
        for ws in clients:
            assert "result" in rpc(ws, 0, "initialize", {"protocolVersion": "2025-11-25",
                                                        "capabilities": {"sampling": {}},
                                                        "clientInfo": {"name": "t", "version": "1"}})
        for n, ws in enumerate(clients):
            ws.send_json({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                          "params": {"name": "trigger-sampling-request", "arguments": {"prompt": "client %d" % n}}})
        asks = [ws.recv_json(timeout=20 * SLOW) for ws in clients]
        assert [a["method"] for a in asks] == ["sampling/createMessage"] * 2, asks
        assert asks[0]["id"] != asks[1]["id"], asks
        for n, (ws, ask) in enumerate(zip(clients, asks)):
            assert "client %d" % n in ask["params"]["messages"][0]["content"]["text"], ask
            ws.send_json({"jsonrpc": "2.0", "id": ask["id"],
                          "result": {"role": "assistant", "model": "m",
                                     "content": {"type": "text", "text": "answer for %d" % n}}})
        for n, ws in enumerate(clients):
            answer = ws.recv_json(timeout=20 * SLOW)
            assert answer["id"] == 1 and "answer for %d" % n in json.dumps(answer["result"]), answer
            ws.close()
    finally:
        d.close()


def test_progress_comes_under_the_clients_token():
    d, port = everything_broker()
    try:
        ws = RawWS(port, path="/mcp")
        ws.send_json({"jsonrpc": "2.0", "id": 5, "method": "tools/call",
                      "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 1, "steps": 2},
                                 "_meta": {"progressToken": "tok"}}})
        frames = [ws.recv_json(timeout=10 * SLOW) for _ in range(3)]
        assert [f.get("method") for f in frames] == ["notifications/progress"] * 2 + [None], frames
        assert [f["params"]["progressToken"] for f in frames[:2]] == ["tok", "tok"], frames
        assert [f["params"]["progress"] for f in frames[:2]] == [1, 2] and frames[2]["id"] == 5, frames
        # Without a token it asked for no progress: only the answer comes.
        ws.send_json({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                      "params": {"name": "trigger-long-running-operation", "arguments": {"duration": 1, "steps": 2}}})
        answer = ws.recv_json(timeout=10 * SLOW)
        assert answer["id"] == 6 and "result" in answer, answer
        ws.close()
    finally:
        d.close()


if __name__ == "__main__":
    tests = [
        test_a_client_initializes_lists_and_calls_with_its_own_ids,
        test_line_breaks_in_a_request_cannot_smuggle_lines_to_a_stdio_server,
        test_two_clients_with_the_same_ids_get_their_own_answers,
        test_malformed_input_gets_the_json_rpc_error_for_it,
        test_a_cancelled_request_is_cancelled_upstream_and_gets_no_response,
        test_a_client_that_leaves_mid_call_cancels_it_upstream,
    ]
    with_everything = [
        test_progress_comes_under_the_clients_token,
        test_a_stdio_server_gets_the_environment_the_config_gives,
        test_the_servers_requests_reach_the_client_whose_call_they_belong_to,
        test_isolated_clients_each_answer_their_own_servers_requests,
    ]
    if os.path.exists(EVERYTHING):
        tests += with_everything
    else:  # as in make distcheck, which has no tests/peers/node_modules
        print("# %d tests skipped: no server-everything (npm ci in tests/peers)" % len(with_everything))
    run(tests)
