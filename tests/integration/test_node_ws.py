"""Frontends on Node's ws package against the real daemon: greeting,
handshake, a fragmented message with pings in between, the close code a
binary frame earns, and a session taken over then resumed after a cut."""

import json
import os
import select
import subprocess
import sys
import time

from agentbus_test import TOP_SRCDIR, Tap, run
from test_websocket import answer, broker

PEERS = os.path.join(TOP_SRCDIR, "tests", "peers")


class NodeClients:
    """Real ws clients in one Node process, driven a command at a time
    (tests/peers/ws_driver.mjs)."""

    def __init__(self, url):
        self.url = url
        self.p = subprocess.Popen(["node", os.path.join(PEERS, "ws_driver.mjs")], text=True,
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def do(self, op, name, timeout=10, **fields):
        self.p.stdin.write(json.dumps(dict(op=op, name=name, **fields)) + "\n")
        self.p.stdin.flush()
        # One answer per command, read before the next: nothing waits in a buffer.
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        assert ready, "node: no answer to %s %s" % (op, name)
        got = json.loads(self.p.stdout.readline())
        assert "error" not in got, got
        return got

    def recv(self, name):
        return self.do("recv", name)["msg"]

    def send_handshake(self, name, **fields):
        self.do("open", name, url=self.url)
        assert self.recv(name)["type"] == "connection_established"
        msg = {"type": "connection_handshake", "user_id": "node", "capabilities": ["real_time_updates"]}
        msg.update(fields)
        self.do("send", name, msg=msg)

    def handshake(self, name, **fields):
        self.send_handshake(name, **fields)
        ack = self.recv(name)
        assert ack["type"] == "connection_acknowledged", ack
        return ack

    def close(self):
        # A command that never got its answer keeps Node waiting: then kill it.
        self.p.stdin.close()
        try:
            self.p.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()


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


def test_node_ws_takeover_then_resumption_after_a_cut():
    d, port, tap_port = broker()
    node = None
    try:
        node = NodeClients("ws://127.0.0.1:%d/ws" % port)
        up = Tap(tap_port)
        up.register("up_1")
        node.handshake("a", agent_id="frontend_node_same")
        node.do("send", "a", msg={"type": "query", "correlation_id": "t1"})
        up.deliver()
        # A second connection with the same agent_id takes over; the answer
        # to the first one's request reaches the new one.
        ack = node.handshake("b", agent_id="frontend_node_same")
        assert ack["agent_id"] == "frontend_node_same", ack
        assert node.do("closed", "a")["code"] == 4002
        answer(up, cid="t1")
        reply = node.recv("b")
        assert reply["correlation_id"] == "t1" and reply["seq"] > ack["seq"], (ack, reply)
        # Its TCP connection cut, answers arrive while it is away; a third
        # connection resumes from the last seq it saw and gets each once.
        for i in range(3):
            node.do("send", "b", msg={"type": "query", "correlation_id": "r%d" % i})
        cids = [up.deliver()[2]["correlation_id"] for _ in range(3)]
        node.do("cut", "b")
        time.sleep(0.2)
        for cid in cids:
            answer(up, cid=cid)
        time.sleep(0.2)
        node.send_handshake("c", agent_id="frontend_node_same", resume={"last_seq": reply["seq"]})
        got = [node.recv("c") for _ in range(4)]
        assert [m.get("correlation_id") for m in got[:3]] == cids, got
        assert [m["seq"] for m in got[:3]] == [reply["seq"] + 1, reply["seq"] + 2, reply["seq"] + 3], got
        assert got[3]["type"] == "connection_acknowledged" and got[3]["session_resumed"] is True, got[3]
    finally:
        d.close()
        if node:
            node.close()


if __name__ == "__main__":
    if not os.path.isdir(os.path.join(PEERS, "node_modules", "ws")):
        print("node_modules missing in tests/peers (run npm ci there): skipped")
        sys.exit(77)
    run([test_node_ws_client, test_node_ws_takeover_then_resumption_after_a_cut])
