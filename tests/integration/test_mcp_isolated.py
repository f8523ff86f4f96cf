"""Isolated MCP sessions (session_mode = isolated): the default config with
its sqlite upstream isolated and the translator's re-selection taken out
(session_tool) and the serialising of requests (exclusive), so that only
isolation keeps sessions apart. Two frontend
sessions select different databases of the bundled SQLite server and each
queries its own: each has a child process of its own. Idle sessions are
closed; a full pool makes room by closing the idlest, and refuses when
every session is busy."""

import os
import re
import subprocess
import time

from agentbus_test import SLOW, RawWS, cleanup, default_broker, run


def isolated(max_sessions=2, idle="2s"):
    def edit(text):
        # Isolation alone keeps sessions apart, and lets them run at once.
        text = re.sub(r"(?m)^(session_tool|default_database|exclusive) = .*\n", "", text)
        return re.sub(r"(?m)^agent_type = sqlite_mcp$",
                      "agent_type = sqlite_mcp\nsession_mode = isolated\nmax_sessions = %d\nsession_idle = %s"
                      % (max_sessions, idle), text)
    return edit


def frontend(port):
    ws = RawWS(port)
    ws.recv_json()
    ws.send_json({"type": "connection_handshake", "correlation_id": "h"})
    ws.recv_json()
    return ws


def ask(ws, msg, timeout=15):
    ws.send_json(msg)
    return ws.recv_json(timeout=timeout * SLOW)


def children(d):
    out = subprocess.run(["pgrep", "-P", str(d.proc.pid)], capture_output=True, text=True).stdout
    return len(out.split())


def test_two_sessions_each_get_their_own_server():
    d, port, dirs = default_broker(isolated())
    try:
        ws = frontend(port)
        for session, db in (("A", "analytics"), ("B", "demo")):
            reply = ask(ws, {"type": "database_select", "correlation_id": "s" + session, "database_name": db,
                             "session_id": session})
            assert reply["type"] == "database_select_response" and reply["response"]["success"], reply
        d.wait_log(r"\[sqlite\] opening an isolated session for A \(1 of 2\)")
        d.wait_log(r"\[sqlite\] opening an isolated session for B \(2 of 2\)")
        assert children(d) == 3, d.log()  # the upstream's own, and one per session
        ok = ask(ws, {"type": "query", "correlation_id": "qA", "session_id": "A",
                      "query": "SELECT count(*) AS n FROM daily_metrics"})
        assert ok["type"] == "query_response" and ok["response"]["data"][0]["n"] > 0, ok
        ok = ask(ws, {"type": "query", "correlation_id": "qB", "session_id": "B",
                      "query": "SELECT count(*) AS n FROM customers"})
        assert ok["type"] == "query_response" and ok["response"]["data"][0]["n"] > 0, ok
        # B's select did not move A: A's server still has analytics, not demo.
        wrong = ask(ws, {"type": "query", "correlation_id": "qA2", "session_id": "A",
                         "query": "SELECT count(*) AS n FROM customers"})
        assert wrong["type"] == "query_error" and "no such table: customers" in wrong["error"]["message"], wrong
        # Idle for session_idle: both close, their children with them.
        d.wait_log(r"\[sqlite\] closing the isolated session for A \(idle\)", timeout=10 * SLOW)
        d.wait_log(r"\[sqlite\] closing the isolated session for B \(idle\)", timeout=10 * SLOW)
        deadline = time.time() + 10 * SLOW
        while children(d) != 1:
            assert time.time() < deadline, "the idle sessions' servers are still running"
            time.sleep(0.1)
        ws.close()
    finally:
        cleanup(d, dirs)


def test_a_full_pool_closes_the_idlest_and_refuses_when_all_are_busy():
    d, port, dirs = default_broker(isolated(max_sessions=1, idle="5m"))
    try:
        ws = frontend(port)
        ask(ws, {"type": "query", "correlation_id": "a", "session_id": "A", "query": "SELECT 1"})
        # A is idle: B takes its place.
        reply = ask(ws, {"type": "query", "correlation_id": "b", "session_id": "B", "query": "SELECT 2 AS n"})
        assert reply["type"] == "query_response" and reply["response"]["data"] == [{"n": 2}], reply
        d.wait_log(r"\[sqlite\] closing the isolated session for A \(making room for another\)")
        # B busy with a long statement: C is refused, at once.
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 20000000) SELECT count(*) FROM c"
        ws.send_json({"type": "query", "correlation_id": "long", "session_id": "B", "query": slow})
        time.sleep(0.2)
        refused = ask(ws, {"type": "query", "correlation_id": "c", "session_id": "C", "query": "SELECT 3"})
        assert refused["type"] == "query_error" and refused["correlation_id"] == "c", refused
        assert refused["error"]["error_type"] == "upstream_unavailable", refused
        assert "all 1 isolated sessions are busy" in refused["error"]["message"], refused
        done = ws.recv_json(timeout=60 * SLOW)
        assert done["correlation_id"] == "long" and done["type"] == "query_response", done
        ws.close()
    finally:
        cleanup(d, dirs)


if __name__ == "__main__":
    run([test_two_sessions_each_get_their_own_server,
         test_a_full_pool_closes_the_idlest_and_refuses_when_all_are_busy])
