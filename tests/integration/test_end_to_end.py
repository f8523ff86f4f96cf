"""The product end to end: the default config (etc/agentbus.ini, with only
its port, plugin folder and SQLite paths pointed at this build), the
bundled SQLite MCP server, and frontends that speak the deployed protocol:
handshake -> get_databases -> database_select -> query -> rows, over /ws
with interim replies, and over a legacy path with exactly one frame per
request; a tool error and an SQL error come back as query_error."""

import asyncio
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from agentbus_test import RawWS, cleanup, default_broker, run

def ask(ws, msg):
    ws.send_json(msg)
    return ws.recv_json(timeout=10)


def test_handshake_databases_select_query_over_ws():
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "correlation_id": "h", "user_id": "u1",
                      "capabilities": ["real_time_updates"]})
        assert ws.recv_json()["type"] == "connection_acknowledged"
        dbs = ask(ws, {"type": "get_databases", "correlation_id": "d1"})
        assert dbs["type"] == "databases_response" and dbs["correlation_id"] == "d1", dbs
        assert [x["name"] for x in dbs["databases"]] == ["analytics", "demo"], dbs
        assert dbs["databases"][0]["accessible"] is True, dbs
        sel = ask(ws, {"type": "database_select", "correlation_id": "s1", "database_name": "demo",
                       "session_id": "sess-1"})
        assert sel["type"] == "database_select_response", sel
        assert sel["response"]["success"] is True and sel["response"]["database_name"] == "demo", sel
        # The switch, then show_tables: the reply knows the database's tables.
        assert sel["response"]["table_count"] == 3, sel
        assert sel["response"]["tables"] == [{"name": n, "type": "table"} for n in
                                             ("customers", "orders", "products")], sel
        assert sel["response"]["schema_initialized"] is True, sel
        ws.send_json({"type": "query", "correlation_id": "q1", "query_id": "qid-1", "session_id": "sess-1",
                      "query": "SELECT name, country FROM customers WHERE country = 'US' ORDER BY name"})
        started = ws.recv_json(timeout=10)
        assert started["type"] == "query_processing_started" and started["correlation_id"] == "q1", started
        reply = ws.recv_json(timeout=10)
        assert reply["type"] == "query_response" and reply["correlation_id"] == "q1", reply
        rows = [{"name": "Grace Hopper", "country": "US"}, {"name": "Katherine Johnson", "country": "US"}]
        response = reply["response"]
        assert response["data"] == rows and response["result"]["data"] == rows, reply
        assert response["query_id"] == "qid-1" and reply["query_id"] == "qid-1", reply
        assert response["result"]["columns"] == ["name", "country"], reply
        assert response["result"]["row_count"] == 2, reply
        assert response["result"]["sql_query"].startswith("SELECT name"), reply
        assert response["result"]["processing_time_ms"] >= 0, reply
        ctx = ask(ws, {"type": "get_database_context", "correlation_id": "c1", "session_id": "sess-1"})
        assert ctx["type"] == "database_context_response", ctx
        assert ctx["database_context"]["database_name"] == "demo", ctx
        assert ctx["database_context"]["table_names"] == ["customers", "orders", "products"], ctx
        none = ask(ws, {"type": "get_database_context", "correlation_id": "c2", "session_id": "other"})
        assert none["database_context"] is None, none
        tools = ask(ws, {"type": "list_tools", "correlation_id": "t1"})
        assert tools["type"] == "tools_response" and len(tools["agents"]) == 1, tools
        assert tools["agents"][0]["agent_id"].startswith("sqlite_mcp_"), tools
        assert [t["name"] for t in tools["agents"][0]["tools"]] == \
            ["show_databases", "switch_database", "show_tables", "db_query", "db_execute"], tools
        # The database's own errors come back as query_error, with its message.
        bad = ask(ws, {"type": "query", "correlation_id": "q2", "query": "SELECT * FROM nowhere"})
        if bad["type"] == "query_processing_started":
            bad = ws.recv_json(timeout=10)
        assert bad["type"] == "query_error" and bad["error"]["error_type"] == "tool_error", bad
        assert bad["error"]["message"] == "no such table: nowhere", bad
    finally:
        cleanup(d, dirs)


def test_two_sessions_with_different_databases_never_see_each_others():
    # One upstream session serves both: the translator puts each session's
    # database back before its query (session_tool).
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "correlation_id": "h"})
        ws.recv_json()
        for session, db in (("A", "demo"), ("B", "analytics")):
            reply = ask(ws, {"type": "database_select", "correlation_id": "s" + session,
                             "database_name": db, "session_id": session})
            assert reply["response"]["database_name"] == db, reply
        for session, table in (("A", "customers"), ("B", "daily_metrics"), ("A", "orders"), ("B", "daily_metrics")):
            reply = ask(ws, {"type": "query", "correlation_id": "q" + session + table, "session_id": session,
                             "query": "SELECT count(*) AS n FROM " + table})
            assert reply["type"] == "query_response", (session, table, reply)
            assert reply["response"]["data"][0]["n"] > 0, reply
        # All at once: each session's restore and query run together (exclusive routes).
        sent = []
        for i in range(12):
            session, table = (("A", "customers"), ("B", "daily_metrics"))[i % 2]
            cid = "burst-%d" % i
            ws.send_json({"type": "query", "correlation_id": cid, "session_id": session,
                          "query": "SELECT count(*) AS n FROM " + table})
            sent.append(cid)
        replies = {}
        for _ in sent:
            reply = ws.recv_json(timeout=10)
            replies[reply["correlation_id"]] = reply
        assert sorted(replies) == sorted(sent), replies
        wrong = {cid: r for cid, r in replies.items() if r["type"] != "query_response"}
        assert not wrong, wrong
        ctx = ask(ws, {"type": "get_database_context", "correlation_id": "cA", "session_id": "A"})
        assert ctx["database_context"]["table_names"] == ["customers", "orders", "products"], ctx
        # A request of no session (or of one that selected nothing) gets the
        # default database (default_database = demo), whoever switched last.
        ask(ws, {"type": "query", "correlation_id": "b-last", "session_id": "B", "query": "SELECT 1"})
        reply = ask(ws, {"type": "query", "correlation_id": "none", "query": "SELECT count(*) AS n FROM customers"})
        assert reply["type"] == "query_response" and reply["response"]["data"][0]["n"] > 0, reply
    finally:
        cleanup(d, dirs)


def test_two_frontends_using_the_same_correlation_ids_get_their_own_answers():
    # Deployed frontends number their requests from 1: the broker keeps
    # them apart, and so must the translator's per-request state.
    d, port, dirs = default_broker()
    try:
        clients = []
        for user in ("x", "y"):
            ws = RawWS(port)
            ws.recv_json()
            ws.send_json({"type": "connection_handshake", "correlation_id": "h", "user_id": user})
            ws.recv_json()
            clients.append(ws)
        x, y = clients
        assert ask(x, {"type": "database_select", "correlation_id": "0", "database_name": "analytics",
                       "session_id": "sx"})["type"] == "database_select_response"
        # Both send correlation_id "1" at once; x's needs its database restored first.
        x.send_json({"type": "query", "correlation_id": "1", "session_id": "sx",
                     "query": "SELECT count(*) AS n FROM daily_metrics"})
        y.send_json({"type": "query", "correlation_id": "1", "query": "SELECT 42 AS answer"})
        rx, ry = x.recv_json(timeout=10), y.recv_json(timeout=10)
        assert rx["type"] == "query_response" and rx["response"]["data"][0]["n"] > 0, rx
        assert ry["type"] == "query_response" and ry["response"]["data"] == [{"answer": 42}], ry
    finally:
        cleanup(d, dirs)


def test_a_hundred_concurrent_frontends_each_get_exactly_their_own_replies():
    # Every frontend uses the same correlation ids, all in flight at once:
    # each must get its own three answers, and nothing else (a heartbeat
    # sent after them is the next frame).
    d, port, dirs = default_broker()
    try:
        clients = []
        for n in range(100):
            ws = RawWS(port)
            ws.recv_json()
            ws.send_json({"type": "connection_handshake", "correlation_id": "h", "user_id": "u%d" % n})
            assert ws.recv_json()["type"] == "connection_acknowledged"
            clients.append(ws)
        for n, ws in enumerate(clients):
            for i in range(3):
                ws.send_json({"type": "query", "correlation_id": "q%d" % i,
                              "query": "SELECT %d AS n" % (n * 10 + i)})
        answered = 0
        for n, ws in enumerate(clients):
            got = {}
            for _ in range(3):
                reply = ws.recv_json(timeout=30)
                assert reply["type"] == "query_response", reply
                got[reply["correlation_id"]] = reply["response"]["data"]
            assert got == {"q%d" % i: [{"n": n * 10 + i}] for i in range(3)}, (n, got)
            answered += len(got)
            ws.send_json({"type": "heartbeat", "correlation_id": "last"})
            last = ws.recv_json(timeout=10)
            assert last["type"] == "heartbeat_response" and last["correlation_id"] == "last", last
            ws.close()
        assert answered == 300
    finally:
        cleanup(d, dirs)


def test_an_unknown_tool_and_a_killed_upstream_are_query_errors_and_the_next_query_works():
    def with_bad_route(text):
        return text + ("\n[route:bad_query]\nsource = frontend_*\ntype = bad_query\ndestination = sqlite_mcp_*\n"
                       "translator = query_mcp\ntool = no_such_tool\nreply_type = query_response\n"
                       "error_reply = query_error\n")

    d, port, dirs = default_broker(with_bad_route)
    try:
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "correlation_id": "h"})
        ws.recv_json()
        bad = ask(ws, {"type": "bad_query", "correlation_id": "t"})
        assert bad["type"] == "query_error" and bad["error"]["error_type"] == "upstream_error", bad
        assert bad["error"]["message"] == "Unknown tool: no_such_tool", bad
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000000) SELECT count(*) FROM c"
        ws.send_json({"type": "query", "correlation_id": "long", "query": slow})
        time.sleep(0.3)
        mark = d.mark()
        server = subprocess.run(["pgrep", "-P", str(d.proc.pid)], capture_output=True, text=True).stdout.split()
        assert len(server) == 1, server
        os.kill(int(server[0]), signal.SIGKILL)
        lost = ws.recv_json(timeout=10)
        assert lost["type"] == "query_error" and lost["correlation_id"] == "long", lost
        assert lost["error"]["error_type"] == "upstream_unavailable", lost
        d.wait_log(r"ready as sqlite_mcp_", timeout=30, start=mark)
        again = ask(ws, {"type": "query", "correlation_id": "again", "query": "SELECT count(*) AS n FROM orders"})
        assert again["type"] == "query_response" and again["response"]["data"] == [{"n": 8}], again
    finally:
        cleanup(d, dirs)


def test_cancel_ends_a_long_query():
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port)
        ws.recv_json()
        ws.send_json({"type": "connection_handshake", "correlation_id": "h"})
        ws.recv_json()
        slow = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000000) SELECT count(*) FROM c"
        ws.send_json({"type": "query", "correlation_id": "long", "query": slow})
        time.sleep(0.3)
        ws.send_json({"type": "cancel", "correlation_id": "long"})
        err = ws.recv_json(timeout=5)
        assert err["type"] == "query_error" and err["correlation_id"] == "long", err
        assert err["error"]["error_type"] == "cancelled", err
        ws.send_json({"type": "heartbeat", "correlation_id": "after"})
        assert ws.recv_json()["correlation_id"] == "after"  # and nothing else came for "long"
    finally:
        cleanup(d, dirs)


def test_deployed_frontend_on_the_legacy_path_gets_one_frame_per_request():
    d, port, dirs = default_broker()
    try:
        ws = RawWS(port, path="/ws/query/u7")
        assert ws.recv_json()["type"] == "connection_established"
        frames = []
        for msg in [{"type": "get_databases", "correlation_id": "a"},
                    {"type": "database_select", "correlation_id": "b", "database_name": "analytics",
                     "session_id": "s7"},
                    {"type": "query", "correlation_id": "c", "session_id": "s7",
                     "query": "SELECT day, visits FROM daily_metrics ORDER BY day LIMIT 2"},
                    {"type": "heartbeat", "correlation_id": "d"}]:
            ws.send_json(msg)
            frames.append(ws.recv_json(timeout=10))
        assert [f["type"] for f in frames] == ["databases_response", "database_select_response",
                                               "query_response", "heartbeat_response"], frames
        assert [f["correlation_id"] for f in frames] == ["a", "b", "c", "d"], frames
        assert frames[2]["response"]["data"] == [{"day": "2026-04-01", "visits": 1200},
                                                 {"day": "2026-04-02", "visits": 1340}], frames[2]
    finally:
        cleanup(d, dirs)


def test_python_websockets_client_end_to_end():
    import websockets

    d, port, dirs = default_broker()

    async def session():
        async with websockets.connect("ws://127.0.0.1:%d/ws" % port) as ws:
            await ws.recv()
            await ws.send(json.dumps({"type": "connection_handshake", "correlation_id": "h"}))
            await ws.recv()
            await ws.send(json.dumps({"type": "query", "correlation_id": "q",
                                      "query": "SELECT count(*) AS n FROM orders"}))
            return json.loads(await ws.recv())

    try:
        reply = asyncio.run(asyncio.wait_for(session(), 15))
        assert reply["type"] == "query_response" and reply["response"]["data"] == [{"n": 8}], reply
    finally:
        cleanup(d, dirs)


if __name__ == "__main__":
    run([
        test_handshake_databases_select_query_over_ws,
        test_two_sessions_with_different_databases_never_see_each_others,
        test_two_frontends_using_the_same_correlation_ids_get_their_own_answers,
        test_a_hundred_concurrent_frontends_each_get_exactly_their_own_replies,
        test_an_unknown_tool_and_a_killed_upstream_are_query_errors_and_the_next_query_works,
        test_cancel_ends_a_long_query,
        test_deployed_frontend_on_the_legacy_path_gets_one_frame_per_request,
        test_python_websockets_client_end_to_end,
    ])
