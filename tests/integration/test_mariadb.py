"""The deployed frontend's flow against a real MySQL-protocol database:
Debian's MariaDB, started here on a private port and socket with a
throwaway datadir, reached through the npm MCP server
@benborla29/mcp-server-mysql over stdio, with etc/examples/mysql-stdio.ini
(only its url pointed at the installed package). On the legacy path, with
no handshake: get_databases, a query with rows at response.data, the
database's own error as query_error, heartbeat: exactly one frame per
request."""

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
                 "GRANT ALL ON shop.* TO 'ab'@'127.0.0.1';"
                 "CREATE TABLE shop.products (id INT PRIMARY KEY, name VARCHAR(40), price DECIMAL(8,2));"
                 "INSERT INTO shop.products VALUES (1, 'widget', 2.50), (2, 'gadget', 10.00);")

    def sql(self, text):
        subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-u", "root", "-e", text], check=True)

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        shutil.rmtree(self.dir, ignore_errors=True)


def broker(db):
    plugins = tempfile.mkdtemp(prefix="ab-mariadb-plugins-")
    for name in ("websocket", "mcp", "query_mcp"):
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
                    {"type": "query", "correlation_id": "b", "query": "SELECT id, name, price FROM products ORDER BY id"},
                    {"type": "query", "correlation_id": "c", "query": "SELECT * FROM nowhere"},
                    {"type": "heartbeat", "correlation_id": "d"}]:
            ws.send_json(msg)
            frames.append(ws.recv_json(timeout=15 * SLOW))
        assert [f["type"] for f in frames] == ["databases_response", "query_response", "query_error",
                                               "heartbeat_response"], frames
        assert [f["correlation_id"] for f in frames] == ["a", "b", "c", "d"], frames
        names = [x["name"] for x in frames[0]["databases"]]
        assert "shop" in names and "information_schema" in names, frames[0]
        rows = [{"id": 1, "name": "widget", "price": "2.50"}, {"id": 2, "name": "gadget", "price": "10.00"}]
        assert frames[1]["response"]["data"] == rows and frames[1]["response"]["result"]["data"] == rows, frames[1]
        assert frames[1]["response"]["result"]["columns"] == ["id", "name", "price"], frames[1]
        assert frames[2]["error"]["error_type"] == "tool_error", frames[2]
        assert "Table 'shop.nowhere' doesn't exist" in frames[2]["error"]["message"], frames[2]
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
