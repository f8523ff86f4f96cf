"""A frontend on Node's ws package against the real daemon: greeting,
handshake, a fragmented message with pings in between, and the close
code a binary frame earns."""

import json
import os
import subprocess
import sys

from agentbus_test import TOP_SRCDIR, run
from test_websocket import broker

PEERS = os.path.join(TOP_SRCDIR, "tests", "peers")


def test_node_ws_client():
    d, port, _ = broker()
    try:
        p = subprocess.run(["node", os.path.join(PEERS, "ws_client.mjs"), "ws://127.0.0.1:%d/ws" % port],
                           capture_output=True, text=True, timeout=20)
        assert p.returncode == 0, p.stdout + p.stderr
        steps = {s["step"]: s for s in map(json.loads, p.stdout.splitlines())}
        assert steps["hello"]["type"] == "connection_established", steps
        assert steps["ack"]["type"] == "connection_acknowledged" and steps["ack"]["agent_id"].startswith("frontend_node_")
        frag = steps["fragmented"]
        assert frag["type"] == "heartbeat_response" and frag["correlation_id"] == "frag", frag
        assert steps["pongs"]["pongs"] == ["p1", "p2"], steps["pongs"]
        assert steps["closed"]["code"] == 1003, steps["closed"]
    finally:
        d.close()


if __name__ == "__main__":
    if not os.path.isdir(os.path.join(PEERS, "node_modules", "ws")):
        print("node_modules missing in tests/peers (run npm ci there): skipped")
        sys.exit(77)
    run([test_node_ws_client])
