"""The MCP client transport over stdio against the bundled SQLite MCP
server: the upstream's stable agent id, tools/call and tools/list through
the broker, JSON-RPC errors, kill -9 of the server mid-request (an error
reply, then recovery after the restart), requests held while it restarts,
and /health's upstream state."""

import hashlib
import json
import os
import shutil
import signal
import tempfile
import time
import urllib.request

from agentbus_test import TOP_BUILDDIR, TOP_SRCDIR, FIXTURE_PLUGIN_DIR, Daemon, Tap, free_port, run

MCP_SO = os.path.join(TOP_BUILDDIR, "plugins", "mcp", ".libs", "mcp.so")
WEBSOCKET_SO = os.path.join(TOP_BUILDDIR, "plugins", "websocket", ".libs", "websocket.so")
SERVER = os.path.join(TOP_BUILDDIR, "tools", "sqlite-mcp", "agentbus-sqlite-mcp")


def start(data):
    tap_port = free_port()
    command = "%s --data-dir %s" % (SERVER, data)
    d = Daemon(
        "hold_window = 10s\n"
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:sqlite]\nmodule = %s\nurl = stdio:%s\nagent_type = sqlite_mcp\n"
        "[route:mcp]\nsource = front_*\ntype = mcp_request\ndestination = sqlite_mcp_*\n"
        "interim = mcp_progress\ntimeout = 20s\n"
        % (FIXTURE_PLUGIN_DIR, tap_port, MCP_SO, command)).start()
    agent = "sqlite_mcp_" + hashlib.md5(("sqlite_mcp_" + command).encode()).hexdigest()[:8]
    d.wait_log(r"ready as %s \(protocol 2025-11-25\)" % agent)
    front = Tap(tap_port)
    front.register("front_1")
    return d, front, agent


def call(front, cid, method, params):
    front.send("front_1", {"type": "mcp_request", "correlation_id": cid, "method": method, "params": params})
    agent, kind, msg = front.deliver(timeout=20)
    assert msg["correlation_id"] == cid, msg
    return msg


def query(front, cid, sql):
    return call(front, cid, "tools/call", {"name": "db_query", "arguments": {"sql_stmt": sql}})


def server_pid(d):
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                stat = open("/proc/%s/stat" % pid).read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == d.proc.pid:
                return int(pid)
    return None


def test_calls_through_the_broker():
    data = tempfile.mkdtemp(prefix="ab-mcp-")
    d, front, agent = start(data)
    try:
        msg = query(front, "q1", "SELECT name FROM customers WHERE id = 2")
        assert msg["type"] == "mcp_response", msg
        assert msg["result"]["structuredContent"] == {"result": [{"name": "Grace Hopper"}]}, msg
        tools = call(front, "t1", "tools/list", {})
        assert [t["name"] for t in tools["result"]["tools"]][:2] == ["show_databases", "switch_database"]
        err = call(front, "e1", "tools/call", {"name": "no_such_tool", "arguments": {}})
        assert err["type"] == "mcp_error" and err["error"]["error_type"] == "upstream_error", err
        assert err["error"]["code"] == -32602 and err["error"]["message"] == "Unknown tool: no_such_tool", err
        bad = front.send("front_1", {"type": "mcp_request", "correlation_id": "b1"})
        assert bad == "ok send"
        assert front.deliver()[2]["error"]["error_type"] == "invalid_message"
    finally:
        d.close()
        shutil.rmtree(data)


def test_killed_server_fails_in_flight_then_recovers():
    data = tempfile.mkdtemp(prefix="ab-mcp-")
    d, front, agent = start(data)
    try:
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 100000000) SELECT count(*) AS n FROM c"
        front.send("front_1", {"type": "mcp_request", "correlation_id": "slow", "method": "tools/call",
                               "params": {"name": "db_query", "arguments": {"sql_stmt": slow}}})
        time.sleep(0.5)
        pid = server_pid(d)
        assert pid, "no server child"
        os.kill(pid, signal.SIGKILL)
        _, kind, msg = front.deliver(timeout=10)
        assert msg["correlation_id"] == "slow" and msg["type"] == "error", msg
        assert msg["error"]["error_type"] == "upstream_unavailable", msg
        # Sent while it restarts: held, then answered.
        msg = query(front, "after", "SELECT 41 + 1 AS answer")
        assert msg["result"]["structuredContent"] == {"result": [{"answer": 42}]}, msg
        d.wait_log(r"the server killed by signal 9; restarting")
        assert server_pid(d) not in (None, pid)
    finally:
        d.close()
        shutil.rmtree(data)


def test_broken_servers_are_restarted_not_trusted():
    # Faults a real server will not show on demand, played by tiny scripts:
    # one closes its stdout and runs on; one answers an unknown version.
    tap_port = free_port()
    mute = "sh -c 'exec >&-; sleep 60'"
    odd = ("python3 -c \"import json,sys; m=json.loads(sys.stdin.readline()); "
           "print(json.dumps({'jsonrpc':'2.0','id':m['id'],'result':{'protocolVersion':'1999-01-01',"
           "'capabilities':{},'serverInfo':{'name':'odd','version':'0'}}}),flush=True); sys.stdin.read()\"")
    d = Daemon(
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:mute]\nmodule = %s\nurl = stdio:%s\nagent_type = mute\n"
        "[plugin:odd]\nmodule = %s\nurl = stdio:%s\nagent_type = odd\n"
        % (FIXTURE_PLUGIN_DIR, tap_port, MCP_SO, mute, MCP_SO, odd)).start()
    try:
        d.wait_log(r"\[mute\] the server closed its stdout")
        d.wait_log(r"\[mute\] the server killed by signal 15; restarting in \d+ ms", timeout=10)
        d.wait_log(r"\[odd\] the server speaks protocol version 1999-01-01, which this client does not")
        d.wait_log(r"\[odd\] the server killed by signal 9; restarting in \d+ ms", timeout=10)
        assert "ready as" not in "\n".join(l for l in d.log().splitlines() if "[mute]" in l or "[odd]" in l)
    finally:
        d.close()



def test_tools_are_listed_once_every_page_and_again_when_they_change():
    tap_port, http_port = free_port(), free_port()
    server = "python3 " + os.path.join(TOP_SRCDIR, "tests", "fixtures", "paging_mcp_server.py")
    d = Daemon(
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:http]\nmodule = %s\nlisten = 127.0.0.1:%d\n"
        "[plugin:paging]\nmodule = %s\nurl = stdio:%s\nagent_type = paging\n"
        "[route:mcp]\nsource = front_*\ntype = mcp_request\ndestination = paging_*\ntimeout = 10s\n"
        % (FIXTURE_PLUGIN_DIR, tap_port, WEBSOCKET_SO, http_port, MCP_SO, server)).start()
    try:
        d.wait_log(r"\[paging\] 3 tools \(the server announces changes\)")
        front = Tap(tap_port)
        front.register("front_1")
        names = lambda reply: [t["name"] for t in reply["result"]["tools"]]
        for cid in ("l1", "l2"):
            reply = call(front, cid, "tools/list", {})
            assert names(reply) == ["tool_0", "tool_1", "tool_2"] and "nextCursor" not in reply["result"], reply
        # Both pages were asked for once, at start; the two lists came from the cache.
        asked = [l for l in d.log().splitlines() if "server: tools/list" in l]
        assert len(asked) == 2 and asked[0].endswith("cursor=None") and asked[1].endswith("cursor=2"), asked
        health = json.loads(urllib.request.urlopen("http://127.0.0.1:%d/health" % http_port, timeout=5).read())
        assert [u["tools"] for u in health["upstreams"]] == [3], health
        # The server changes its tools: listed again, and the cache follows.
        call(front, "add", "tools/call", {"name": "add_tool", "arguments": {}})
        d.wait_log(r"\[paging\] 4 tools")
        assert names(call(front, "l3", "tools/list", {})) == ["tool_0", "tool_1", "tool_2", "tool_3"]
        front.close()
    finally:
        d.close()


def test_our_pings_restart_a_server_that_stopped_answering():
    # deaf answers initialize and then reads on without a word: stuck.
    tap_port = free_port()
    deaf = ("python3 -c \"import json,sys; m=json.loads(sys.stdin.readline()); "
            "print(json.dumps({'jsonrpc':'2.0','id':m['id'],'result':{'protocolVersion':'2025-06-18',"
            "'capabilities':{},'serverInfo':{'name':'deaf','version':'0'}}}),flush=True); sys.stdin.read()\"")
    sqlite = "%s --data-dir %s" % (SERVER, tempfile.mkdtemp(prefix="ab-ping-"))
    d = Daemon(
        "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
        "[plugin:deaf]\nmodule = %s\nurl = stdio:%s\nagent_type = deaf\nping_interval = 300ms\n"
        "[plugin:sqlite]\nmodule = %s\nurl = stdio:%s\nagent_type = sqlite_mcp\nping_interval = 300ms\n"
        % (FIXTURE_PLUGIN_DIR, tap_port, MCP_SO, deaf, MCP_SO, sqlite)).start()
    try:
        d.wait_log(r"\[deaf\] ready as deaf_")
        d.wait_log(r"\[deaf\] the server did not answer a ping within 300 ms: restarting it", timeout=5)
        d.wait_log(r"\[deaf\] the server killed by signal", timeout=10)
        time.sleep(1)  # three more pings for the SQLite server, each answered
        assert "[sqlite] the server did not answer" not in d.log(), d.log()
        assert len([l for l in d.log().splitlines() if "[sqlite] ready as" in l]) == 1, d.log()
    finally:
        d.close()
        shutil.rmtree(sqlite.split()[-1], ignore_errors=True)

if __name__ == "__main__":
    run([
        test_calls_through_the_broker,
        test_killed_server_fails_in_flight_then_recovers,
        test_broken_servers_are_restarted_not_trusted,
        test_tools_are_listed_once_every_page_and_again_when_they_change,
        test_our_pings_restart_a_server_that_stopped_answering,
    ])
