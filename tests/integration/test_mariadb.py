"""The deployed frontend's flow against a real MySQL-protocol database:
Debian's MariaDB, started here on a private port and socket with a
throwaway datadir, reached through the npm MCP server
@benborla29/mcp-server-mysql over stdio, with etc/examples/mysql-stdio.ini
(only its url pointed at the installed package). On the legacy path, with
no handshake: get_databases, database_select (the session's own server,
started on that database), a query with rows at response.data, the
database's own error as query_error, heartbeat: exactly one frame per
request. A session that selected nothing works in MYSQL_DB."""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

from agentbus_test import SLOW, TOP_BUILDDIR, TOP_SRCDIR, Daemon, RawWS, free_port, run

SERVER = os.path.join(TOP_SRCDIR, "tests", "peers", "node_modules", "@benborla29", "mcp-server-mysql", "dist",
                      "index.js")


class MariaDB:
    """mariadbd on 127.0.0.1:port with its own datadir; a database shop
    with a table, and a user for the MCP server."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="ab-mariadb-")
        self.port = free_port()
        self.socket = os.path.join(self.dir, "sock")
        subprocess.run(["mariadb-install-db", "--no-defaults", "--datadir=" + os.path.join(self.dir, "data"),
                        "--auth-root-authentication-method=normal", "--skip-test-db"],
                       check=True, capture_output=True)
        args = ["mariadbd", "--no-defaults", "--datadir=" + os.path.join(self.dir, "data"),
                "--socket=" + self.socket, "--port=%d" % self.port, "--bind-address=127.0.0.1",
                "--pid-file=" + os.path.join(self.dir, "pid")]
        if os.getuid() == 0:
            args.append("--user=root")
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 30 * SLOW
        while not os.path.exists(self.socket):
            assert self.proc.poll() is None and time.time() < deadline, "mariadbd did not start"
            time.sleep(0.1)
        self.sql("CREATE DATABASE shop; CREATE USER 'ab'@'127.0.0.1' IDENTIFIED BY 'pw';"
                 "GRANT ALL ON shop.* TO 'ab'@'127.0.0.1'; CREATE DATABASE crm; GRANT ALL ON crm.* TO 'ab'@'127.0.0.1';"
                 "CREATE TABLE crm.customers (id INT PRIMARY KEY, name VARCHAR(40));"
                 "CREATE VIEW crm.named AS SELECT name FROM crm.customers;"
                 "INSERT INTO crm.customers VALUES (1, 'Ada'), (2, 'Grace');"
                 "CREATE TABLE shop.products (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2));"
                 "INSERT INTO shop.products VALUES (1, 'widget', 2.50), (2, 'gadget', 10.00);")

    def sql(self, text):
        subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-u", "root", "-e", text], check=True)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def ask(ws, msg):
    ws.send_json(msg)
    return ws.recv_json(timeout=20 * SLOW)


def broker(db):
    plugins = tempfile.mkdtemp(prefix="ab-mariadb-plugins-")
    for name in ("websocket", "mcp", "query_mcp", "jsonrpc_mcp"):
        shutil.copy(os.path.join(TOP_BUILDDIR, "plugins", name, ".libs", name + ".so"), plugins)
    port = free_port()
    text = open(os.path.join(TOP_SRCDIR, "etc", "examples", "mysql-stdio.ini")).read()
    text = re.sub(r"(?m)^url = stdio:.*$", "url = stdio:node " + SERVER, text)
    text = "[broker]\nplugin_dir = %s\n" % plugins + text
    env = {"AGENTBUS_LISTEN": "127.0.0.1:%d" % port, "MYSQL_HOST": "127.0.0.1", "MYSQL_PORT": str(db.port),
           "MYSQL_USER": "ab", "MYSQL_PASS": "pw", "MYSQL_DB": "shop"}
    d = Daemon(text, env=env, raw=True).start()
    d.wait_log(r"ready as mysql_mcp_[0-9a-f]{8}", timeout=30 * SLOW)
    return d, port, plugins


def test_deployed_frontend_flow_against_mariadb():
    db = MariaDB()
    d = plugins = None
    try:
        d, port, plugins = broker(db)
        ws = RawWS(port, path="/ws/query/u1")
        assert ws.recv_json()["type"] == "connection_established"
        frames = []
        for msg in [{"type": "get_databases", "correlation_id": "a"},
                    {"type": "database_select", "correlation_id": "b", "database_name": "crm", "session_id": "s1"},
                    {"type": "query", "correlation_id": "c", "session_id": "s1",
                     "query": "SELECT id, name FROM customers ORDER BY id"},
                    {"type": "query", "correlation_id": "d", "session_id": "s1", "query": "SELECT * FROM nowhere"},
                    {"type": "query", "correlation_id": "e", "query": "SELECT id, name, price FROM products ORDER BY id"},
                    {"type": "get_database_context", "correlation_id": "g", "session_id": "s1"},
                    {"type": "heartbeat", "correlation_id": "f"}]:
            ws.send_json(msg)
            frames.append(ws.recv_json(timeout=20 * SLOW))
        assert [f["type"] for f in frames] == ["databases_response", "database_select_response", "query_response",
                                               "query_error", "query_response", "database_context_response",
                                               "heartbeat_response"], frames
        assert [f["correlation_id"] for f in frames] == ["a", "b", "c", "d", "e", "g", "f"], frames
        context = frames[5]["database_context"]
        assert context["database_name"] == "crm" and context["table_names"] == ["customers", "named"], frames[5]
        names = [x["name"] for x in frames[0]["databases"]]
        assert "shop" in names and "crm" in names and "information_schema" in names, frames[0]
        selected = frames[1]["response"]
        assert selected["success"] is True and selected["database_name"] == "crm", frames[1]
        assert selected["tables"] == [{"name": "customers", "type": "table"}, {"name": "named", "type": "view"}], frames[1]
        assert selected["table_count"] == 2, frames[1]
        # The session's queries run in crm, on its own server...
        assert frames[2]["response"]["data"] == [{"id": 1, "name": "Ada"}, {"id": 2, "name": "Grace"}], frames[2]
        assert frames[3]["error"]["error_type"] == "tool_error", frames[3]
        assert "Table 'crm.nowhere' doesn't exist" in frames[3]["error"]["message"], frames[3]
        # ... and a request of no session in MYSQL_DB (shop).
        rows = [{"id": 1, "name": "widget", "price": "2.50"}, {"id": 2, "name": "gadget", "price": "10.00"}]
        assert frames[4]["response"]["data"] == rows and frames[4]["response"]["result"]["data"] == rows, frames[4]
        assert frames[4]["response"]["result"]["columns"] == ["id", "name", "price"], frames[4]
        d.wait_log(r"\[mysql\] opening an isolated session for s1 on crm")
        # Moving to another database: a server on it, and the old one goes.
        moved = ask(ws, {"type": "database_select", "correlation_id": "m", "database_name": "shop",
                         "session_id": "s1"})
        assert moved["type"] == "database_select_response", moved
        assert moved["response"]["tables"] == [{"name": "products", "type": "table"}], moved
        d.wait_log(r"\[mysql\] closing the isolated session for s1 \(its frontend session moved to another database\)")
        # A select that names no database is refused before any server starts.
        empty = ask(ws, {"type": "database_select", "correlation_id": "x", "database_name": " ", "session_id": "s1"})
        assert empty["type"] == "database_select_error", empty
        assert empty["error"]["error_type"] == "invalid_message", empty
        # One frame per request: nothing else was sent after the last answer.
        try:
            extra = ws.recv_json(timeout=0.5)
        except Exception:
            extra = None
        assert extra is None, extra
        ws.close()
    finally:
        if d:
            d.close()
        if plugins:
            shutil.rmtree(plugins, ignore_errors=True)
        db.close()


if __name__ == "__main__":
    if not shutil.which("mariadbd") or not os.path.exists(SERVER):
        print("SKIP: no mariadbd or @benborla29/mcp-server-mysql (tools/deps.sh installs both)")
        sys.exit(77)
    run([test_deployed_frontend_flow_against_mariadb])
