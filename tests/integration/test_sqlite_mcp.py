"""The bundled SQLite MCP server (tools/sqlite-mcp), spoken to over stdio
as an MCP client does: lifecycle and version negotiation, the TiDB MCP
server's tools with their results as JSON text and structuredContent,
read-only db_query, one-transaction db_execute, JSON-RPC errors."""

import json
import os
import shutil
import subprocess
import tempfile
import time

from agentbus_test import TOP_BUILDDIR, run

SERVER = os.path.join(TOP_BUILDDIR, "tools", "sqlite-mcp", "agentbus-sqlite-mcp")


class Client:
    def __init__(self, data_dir):
        self.proc = subprocess.Popen([SERVER, "--data-dir", data_dir], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.next_id = 0

    def send(self, msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def request(self, method, params=None, id_=None):
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": self.next_id if id_ is None else id_, "method": method}
        if params is not None:
            msg["params"] = params
        self.send(msg)
        return json.loads(self.proc.stdout.readline())

    def call(self, name, **arguments):
        reply = self.request("tools/call", {"name": name, "arguments": arguments})
        result = reply["result"]
        if result["isError"]:
            return None, result["content"][0]["text"]
        text = json.loads(result["content"][0]["text"])
        assert result["structuredContent"] == {"result": text}, result
        return text, None

    def close(self):
        self.proc.stdin.close()
        assert self.proc.wait(5) == 0
        return self.proc.stderr.read()


def start():
    data = tempfile.mkdtemp(prefix="ab-sqlite-")
    c = Client(data)
    init = c.request("initialize", {"protocolVersion": "2025-06-18", "capabilities": {},
                                    "clientInfo": {"name": "test", "version": "1"}})
    c.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    return c, data, init


def test_lifecycle_and_tools_list():
    c, data, init = start()
    try:
        result = init["result"]
        assert result["protocolVersion"] == "2025-06-18", result  # the client's, since we speak it
        assert result["serverInfo"]["name"] == "agentbus-sqlite-mcp" and "tools" in result["capabilities"]
        newer = c.request("initialize", {"protocolVersion": "2099-01-01", "capabilities": {},
                                         "clientInfo": {"name": "t", "version": "1"}})
        assert newer["result"]["protocolVersion"] == "2025-11-25", newer  # else our newest
        assert c.request("ping", id_="p-1") == {"jsonrpc": "2.0", "id": "p-1", "result": {}}
        tools = c.request("tools/list")["result"]["tools"]
        assert [t["name"] for t in tools] == ["show_databases", "switch_database", "show_tables",
                                             "db_query", "db_execute"], tools
        query = tools[3]
        assert query["inputSchema"]["required"] == ["sql_stmt"] and query["annotations"]["readOnlyHint"] is True
        assert "creating the demo databases" in c.close()
    finally:
        shutil.rmtree(data)


def test_tools_on_the_demo_databases():
    c, data, _ = start()
    try:
        assert c.call("show_databases") == ([{"Database": "analytics"}, {"Database": "demo"}], None)
        assert c.call("show_tables") == (["customers", "orders", "products"], None)
        rows, _ = c.call("db_query", sql_stmt="SELECT id, name, country FROM customers WHERE country = 'GB' ORDER BY id")
        assert rows == [{"id": 1, "name": "Ada Lovelace", "country": "GB"},
                        {"id": 3, "name": "Alan Turing", "country": "GB"}], rows
        assert c.call("switch_database", db_name="analytics") == (None, None)
        assert c.call("show_tables") == (["daily_metrics"], None)
        rows, _ = c.call("db_query", sql_stmt="SELECT sum(visits) AS visits, max(revenue) AS best FROM daily_metrics")
        assert rows == [{"visits": 6650, "best": 3020.25}], rows
        # TEXT that is not UTF-8 (SQLite keeps any bytes) comes as hex, as
        # a BLOB does; UTF-8 text as it is
        rows, err = c.call("db_query", sql_stmt="SELECT CAST(x'ff41' AS TEXT) AS bad, 'caf\u00e9' AS good, x'00ff' AS blob")
        assert err is None and rows == [{"bad": "ff41", "good": "caf\u00e9", "blob": "00ff"}], (rows, err)
        assert c.call("switch_database", db_name="nope")[1] == "Unknown database 'nope'"
        assert c.call("switch_database", db_name="../etc")[1] == "Unknown database '../etc'"
        c.close()
    finally:
        shutil.rmtree(data)


def test_read_only_query_and_transactional_execute():
    c, data, _ = start()
    try:
        _, err = c.call("db_query", sql_stmt="DELETE FROM customers")
        assert err == "db_query runs read-only statements only: use db_execute to change data", err
        for sneaky in ["ATTACH '%s/analytics.db' AS a" % data, "BEGIN", "SAVEPOINT s",
                       "PRAGMA writable_schema = ON", "PRAGMA locking_mode = EXCLUSIVE", "REINDEX"]:
            _, err = c.call("db_query", sql_stmt=sneaky)
            assert err == "db_query runs read-only statements only: use db_execute to change data", (sneaky, err)
        _, err = c.call("db_execute", sql_stmts="ATTACH '%s/analytics.db' AS a" % data)
        assert err.startswith("rolled back: too many attached databases"), err
        _, err = c.call("db_query", sql_stmt="SELECT 1; DELETE FROM customers")
        assert err == "db_query runs one statement at a time", err
        _, err = c.call("db_query", sql_stmt="SELECT * FROM nowhere")
        assert err == "no such table: nowhere", err
        results, _ = c.call("db_execute", sql_stmts=["INSERT INTO products VALUES (6,'Cable','hardware',5.0)",
                                                     "UPDATE products SET price = price + 1 WHERE category = 'hardware'"])
        assert results == [{"rowcount": 1, "success": True, "message": None},
                           {"rowcount": 4, "success": True, "message": None}], results
        # One failing statement rolls back the whole call.
        _, err = c.call("db_execute", sql_stmts="INSERT INTO products VALUES (7,'Hub','hardware',9.0); INSERT INTO products VALUES (1,'dup','x',1)")
        assert err.startswith("rolled back: UNIQUE constraint failed"), err
        rows, _ = c.call("db_query", sql_stmt="SELECT count(*) AS n FROM products")
        assert rows == [{"n": 6}], rows
        c.close()
    finally:
        shutil.rmtree(data)


def test_json_rpc_errors():
    c, data, _ = start()
    try:
        assert c.request("tools/call", {"name": "drop_everything", "arguments": {}})["error"] == \
            {"code": -32602, "message": "Unknown tool: drop_everything"}
        assert c.request("resources/list")["error"]["code"] == -32601
        c.proc.stdin.write("{not json\n")
        c.proc.stdin.flush()
        assert json.loads(c.proc.stdout.readline()) == {"jsonrpc": "2.0", "id": None,
                                                       "error": {"code": -32700, "message": "parse error"}}
        c.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
        assert c.request("ping", id_=7)["id"] == 7  # the notification got no answer
        c.close()
    finally:
        shutil.rmtree(data)



def test_a_cancelled_query_stops_and_gets_no_answer():
    c, data, _ = start()
    try:
        slow = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 3000000000) "
                "SELECT count(*) FROM c")  # minutes, if nothing stops it
        c.send({"jsonrpc": "2.0", "id": "long-1", "method": "tools/call",
                "params": {"name": "db_query", "arguments": {"sql_stmt": slow}}})
        time.sleep(0.3)
        started = time.monotonic()
        c.send({"jsonrpc": "2.0", "method": "notifications/cancelled",
                "params": {"requestId": "long-1", "reason": "the user gave up"}})
        # The next request is answered at once, and it is the first thing on stdout.
        reply = c.request("ping", id_=8)
        assert reply == {"jsonrpc": "2.0", "id": 8, "result": {}}, reply
        assert time.monotonic() - started < 5, "the cancelled statement kept running"
        assert "request cancelled: the statement was interrupted" in c.close()
    finally:
        shutil.rmtree(data)

if __name__ == "__main__":
    run([
        test_lifecycle_and_tools_list,
        test_tools_on_the_demo_databases,
        test_read_only_query_and_transactional_execute,
        test_json_rpc_errors,
        test_a_cancelled_query_stops_and_gets_no_answer,
    ])
