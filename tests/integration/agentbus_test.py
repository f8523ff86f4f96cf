"""Helpers for the integration tests: run the real agentbusd on 127.0.0.1
with a config written for the test, and talk to it through the linetap test
transport (tests/fixtures/plugins/linetap.c), whose line protocol lets a
test be any number of agents."""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import traceback

AGENTBUSD = os.environ.get("AGENTBUSD", "agentbusd")
FIXTURE_PLUGIN_DIR = os.environ.get("FIXTURE_PLUGIN_DIR", "")
TOP_SRCDIR = os.environ.get("TOP_SRCDIR", ".")
TOP_BUILDDIR = os.environ.get("TOP_BUILDDIR", ".")
# Under valgrind (AGENTBUS_VALGRIND=1) the daemon is slower; give it time.
VALGRIND = os.environ.get("AGENTBUS_VALGRIND") == "1"
SLOW = 10 if VALGRIND else 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """agentbusd -f with a config file in a temp dir; stderr is collected."""

    def __init__(self, config, env=None, binary=None, plugin_dir=None):
        self.dir = tempfile.mkdtemp(prefix="ab-it-")
        self.path = os.path.join(self.dir, "agentbus.ini")
        self.plugin_dir = plugin_dir or FIXTURE_PLUGIN_DIR
        self.write(config)
        self.binary = binary or AGENTBUSD
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.lines = []
        self.eof = False  # stderr closed: no more lines will come
        self.cond = threading.Condition()

    def write(self, config):
        with open(self.path, "w") as f:
            f.write("[broker]\nplugin_dir = %s\n" % self.plugin_dir)
            f.write(config)

    def start(self, ready=True):
        cmd = [self.binary, "-f", "-l", "debug", "-c", self.path]
        if VALGRIND:
            cmd = ["valgrind", "-q", "--leak-check=full", "--error-exitcode=99"] + cmd
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=self.env, text=True)
        threading.Thread(target=self._read, daemon=True).start()
        if ready:
            self.wait_log(r"ready as ", timeout=10 * SLOW)
        return self

    def _read(self):
        for line in self.proc.stderr:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def wait_log(self, pattern, timeout=5, start=0):
        """Wait for a log line matching pattern (after line index start)."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout * SLOW
        with self.cond:
            while True:
                for line in self.lines[start:]:
                    if rx.search(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0 or self.eof:
                    raise AssertionError("no log line matching %r; log:\n%s" % (pattern, self.log()))
                self.cond.wait(min(left, 0.1))

    def log(self):
        with self.cond:
            return "\n".join(self.lines)

    def mark(self):
        with self.cond:
            return len(self.lines)

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout * SLOW)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("agentbusd did not exit within %ss of SIGTERM" % timeout)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)


class Tap:
    """A connection to the linetap transport: register agents, send as them,
    and read what the broker delivers to them."""

    def __init__(self, port, timeout=5):
        deadline = time.monotonic() + timeout * SLOW
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.buf = b""
        self.pending = []  # deliveries read while waiting for a command's answer

    def _line(self, timeout):
        self.sock.settimeout(timeout * SLOW)
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise AssertionError("linetap connection closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def command(self, text, timeout=5):
        self.sock.sendall(text.encode() + b"\n")
        while True:
            line = self._line(timeout)
            if line.startswith("deliver "):
                self.pending.append(line)
                continue
            return line

    def register(self, agent):
        answer = self.command("register " + agent)
        assert answer == "ok register " + agent, answer

    def unregister(self, agent):
        answer = self.command("unregister " + agent)
        assert answer == "ok unregister " + agent, answer

    def send(self, agent, message):
        text = message if isinstance(message, str) else json.dumps(message)
        return self.command("send %s %s" % (agent, text))

    def deliver(self, timeout=5):
        """The next delivery: (agent, kind, message as a dict)."""
        line = self.pending.pop(0) if self.pending else self._line(timeout)
        assert line.startswith("deliver "), line
        _, agent, kind, body = line.split(" ", 3)
        return agent, kind, json.loads(body)

    def nothing(self, wait=0.3):
        """Assert nothing is delivered within wait seconds."""
        if self.pending:
            raise AssertionError("unexpected delivery: %s" % self.pending[0])
        try:
            line = self._line(wait)
        except socket.timeout:
            return
        raise AssertionError("unexpected delivery: %s" % line)

    def close(self):
        self.sock.close()


def run(tests):
    """Run test functions, print a line each and the closing count."""
    passed = failed = 0
    for test in tests:
        start = time.monotonic()
        try:
            test()
        except Exception:
            failed += 1
            print("FAIL %s (%.2fs)" % (test.__name__, time.monotonic() - start))
            traceback.print_exc(file=sys.stdout)
        else:
            passed += 1
            print("ok   %s (%.2fs)" % (test.__name__, time.monotonic() - start))
        sys.stdout.flush()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)
