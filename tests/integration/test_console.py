"""The web console in headless Chromium (Debian's, driven by playwright-core
from npm) against the real broker on its default config: connect, pick a
database, run a query and see the rows, sort them, see an SQL error; then
restart the broker and watch the console reconnect and query again. The
screenshot is kept as a test artifact (tests/integration/console.png in the
build tree; docs/console.png is a copy README.md shows)."""

import json
import os
import subprocess
import sys

from agentbus_test import SLOW, TOP_BUILDDIR, TOP_SRCDIR, cleanup, default_broker, run

PEERS = os.path.join(TOP_SRCDIR, "tests", "peers")
SCREENSHOT = os.path.join(TOP_BUILDDIR, "tests", "integration", "console.png")


def test_console_connects_queries_and_reconnects_after_a_restart():
    d, port, dirs = default_broker()
    browser = subprocess.Popen(["node", os.path.join(PEERS, "console_browser.mjs"),
                                "http://127.0.0.1:%d" % port, SCREENSHOT],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        def step(name):
            line = browser.stdout.readline()
            assert line, "the browser script ended early (exit %s)" % browser.wait(10)
            got = json.loads(line)
            assert got["step"] == name, got
            return got

        assert step("connected")["agent"].startswith("frontend_console_session_")
        assert "customers" in step("selected")["info"]
        rows = step("rows")
        assert rows["table"] == [["name", "country"], ["Grace Hopper", "US"], ["Katherine Johnson", "US"]], rows
        assert rows["summary"].startswith("2 rows in "), rows
        sorted_ = step("sorted")
        assert sorted_["sort"] == "descending" and sorted_["focused"] == "name", sorted_
        assert [r[0] for r in sorted_["table"][1:]] == ["Katherine Johnson", "Grace Hopper"], sorted_
        assert "no such table: nowhere" in step("error")["text"]

        step("restart-now")
        d.restart(r"ready as sqlite_mcp_")
        browser.stdin.write("restarted\n")
        browser.stdin.flush()
        after = step("after-restart")
        assert "reconnecting" in after["states"] and after["states"][-1] == "open", after
        assert after["table"] == [["days"], ["5"]], after
        assert after["error"] is None, after
        assert after["health"] == "healthy" and after["connections"] == "1", after
        done = step("done")
        assert done["consoleErrors"] == [], done
        assert browser.wait(30 * SLOW) == 0
        assert os.path.getsize(SCREENSHOT) > 10000
    finally:
        if browser.poll() is None:
            browser.kill()
        cleanup(d, dirs)


if __name__ == "__main__":
    if not os.path.isdir(os.path.join(PEERS, "node_modules", "playwright-core")):
        print("SKIP: no playwright-core (npm ci in tests/peers; tools/deps.sh does it)")
        sys.exit(77)
    if not os.path.exists(os.environ.get("CHROMIUM", "/usr/bin/chromium")):
        print("SKIP: no chromium (tools/deps.sh installs Debian's)")
        sys.exit(77)
    run([test_console_connects_queries_and_reconnects_after_a_restart])
