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

    def __init__(self, config, env=None, binary=None, plugin_dir=None, raw=False):
        self.dir = tempfile.mkdtemp(prefix="ab-it-")
        self.path = os.path.join(self.dir, "agentbus.ini")
        self.plugin_dir = plugin_dir or FIXTURE_PLUGIN_DIR
        self.raw = raw  # the config is a whole file: no [broker] plugin_dir added
        self.write(config)
        self.binary = binary or AGENTBUSD
        self.env = dict(os.environ, **(env or {}))
        self.proc = None
        self.lines = []
        self.eof = False  # stderr closed: no more lines will come
        self.cond = threading.Condition()

    def write(self, config):
        with open(self.path, "w") as f:
            if not self.raw:
                f.write("[broker]\nplugin_dir = %s\n" % self.plugin_dir)
            f.write(config)

    def start(self, ready=True):
        # A daemon expected to come up must also go down cleanly (close()
        # checks): that is where sanitizers and valgrind report.
        self.check_exit = ready
        cmd = [self.binary, "-f", "-l", "debug", "-c", self.path]
        if VALGRIND:
            cmd = ["valgrind", "-q", "--leak-check=full", "--error-exitcode=99"] + cmd
        self.proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, env=self.env, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        if ready:
            self.expect(r"ready as ", timeout=10 * SLOW)
        return self

    def expect(self, pattern, timeout=5):
        """wait_log for a helper still setting the daemon up: when the line
        does not come, the daemon is killed before the failure is raised
        (no test's finally owns it yet)."""
        try:
            self.wait_log(pattern, timeout)
        except AssertionError:
            self.proc.kill()
            self.proc.wait()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise

    def restart(self, ready_pattern=r"ready as "):
        """Stop (cleanly) and start again on the same config."""
        assert self.stop() == 0, self.log()
        self.reader.join(5)  # the old process's last lines, and its end of input
        mark = self.mark()
        with self.cond:
            self.eof = False
        self.start(ready=False)
        self.wait_log(ready_pattern, timeout=10 * SLOW, start=mark)
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
            code = self.proc.wait(timeout * SLOW)
            if code != 0:  # show why, in the test's log
                time.sleep(0.1)
                print("agentbusd exited with %d; its log:\n%s" % (code, self.log()))
            return code
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("agentbusd did not exit within %ss of SIGTERM" % timeout)

    def close(self):
        """Stop the daemon (SIGTERM) and fail if it did not exit cleanly."""
        code = None
        if self.proc:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(10 * SLOW)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
        if self.proc and getattr(self, "check_exit", False) and code != 0:
            time.sleep(0.1)
            raise AssertionError("agentbusd exited with %s; its log:\n%s" % (code, self.log()))


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


class RawWS:
    """A WebSocket client on a plain socket, frame by frame, so tests can
    send what real clients never would (unmasked frames, bad UTF-8, ...)."""

    GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    def __init__(self, port, path="/ws", headers=None, timeout=5):
        import base64
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        lines = ["GET %s HTTP/1.1" % path, "Host: 127.0.0.1:%d" % port, "Upgrade: websocket",
                 "Connection: Upgrade", "Sec-WebSocket-Key: " + key, "Sec-WebSocket-Version: 13"]
        for name, value in (headers or {}).items():
            lines = [l for l in lines if not l.lower().startswith(name.lower() + ":")]
            if value is not None:
                lines.append("%s: %s" % (name, value))
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        self.status, self.headers, self.body = self._response_head()
        self.key = key

    def _response_head(self):
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                break
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1]) if lines and len(lines[0].split()) > 1 else 0
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        body = b""
        if status != 101:
            length = int(headers.get("content-length", "0"))
            while len(self.buf) < length:
                chunk = self.sock.recv(65536)
                if not chunk:
                    break
                self.buf += chunk
            body, self.buf = self.buf[:length], self.buf[length:]
        return status, headers, body

    @staticmethod
    def frame(opcode, payload=b"", fin=True, mask=True, rsv=0, length=None):
        import struct
        b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
        n = len(payload) if length is None else length
        head = bytes([b0])
        m = 0x80 if mask else 0
        if n < 126:
            head += bytes([m | n])
        elif n < 65536:
            head += bytes([m | 126]) + struct.pack("!H", n)
        else:
            head += bytes([m | 127]) + struct.pack("!Q", n)
        if not mask:
            return head + payload
        key = os.urandom(4)
        return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))

    def send_frame(self, opcode, payload=b"", **kw):
        self.sock.sendall(self.frame(opcode, payload, **kw))

    def send_json(self, obj):
        self.send_frame(1, json.dumps(obj).encode())

    def recv_frame(self, timeout=5):
        """(opcode, payload) of the next frame from the server."""
        import struct
        self.sock.settimeout(timeout * SLOW)

        def need(n):
            while len(self.buf) < n:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("connection closed")
                self.buf += chunk

        need(2)
        b0, b1 = self.buf[0], self.buf[1]
        assert b1 & 0x80 == 0, "server frames must not be masked"
        n, at = b1 & 0x7F, 2
        if n == 126:
            need(4)
            n, at = struct.unpack("!H", self.buf[2:4])[0], 4
        elif n == 127:
            need(10)
            n, at = struct.unpack("!Q", self.buf[2:10])[0], 10
        need(at + n)
        payload, self.buf = self.buf[at:at + n], self.buf[at + n:]
        return b0 & 0x0F, payload

    def recv_json(self, timeout=5):
        """The next text message, skipping pings (answered) and pongs."""
        while True:
            op, payload = self.recv_frame(timeout)
            if op == 9:
                self.send_frame(10, payload)
                continue
            if op == 10:
                continue
            assert op == 1, "expected a text frame, got opcode %d (%r)" % (op, payload)
            return json.loads(payload)

    def recv_close(self, timeout=5):
        """Read until a close frame: its code (None when empty) and reason."""
        import struct
        while True:
            op, payload = self.recv_frame(timeout)
            if op == 8:
                if len(payload) < 2:
                    return None, ""
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def closed_by_server(self, timeout=5):
        """True when the server closes the TCP connection within timeout."""
        self.sock.settimeout(timeout * SLOW)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


def default_broker(edit=None):
    """The shipped default config (etc/agentbus.ini) on a free port, with the
    built plugins and the bundled SQLite server on a fresh data dir; edit,
    if given, rewrites the config text first. Returns (daemon, port, dirs)
    for cleanup()."""
    data = tempfile.mkdtemp(prefix="ab-e2e-data-")
    plugins = tempfile.mkdtemp(prefix="ab-e2e-plugins-")
    for name in ("websocket", "mcp", "query_mcp", "jsonrpc_mcp"):
        shutil.copy(os.path.join(TOP_BUILDDIR, "plugins", name, ".libs", name + ".so"), plugins)
    port = free_port()
    text = open(os.path.join(TOP_BUILDDIR, "etc", "agentbus.ini")).read()
    server = os.path.join(TOP_BUILDDIR, "tools", "sqlite-mcp", "agentbus-sqlite-mcp")
    text = re.sub(r"(?m)^;plugin_dir = .*$", "plugin_dir = " + plugins, text)
    text = re.sub(r"(?m)^listen = .*$", "listen = 127.0.0.1:%d" % port, text)
    text = re.sub(r"(?m)^url = stdio:.*$", "url = stdio:%s --data-dir %s" % (server, data), text)
    text = re.sub(r"(?m)^static_dir = .*$", "static_dir = " + os.path.join(TOP_SRCDIR, "www"), text)
    if edit:
        text = edit(text)
    d = Daemon(text, raw=True).start()
    d.expect(r"ready as sqlite_mcp_[0-9a-f]{8}")
    return d, port, (data, plugins)


def cleanup(d, dirs):
    d.close()
    for path in dirs:
        shutil.rmtree(path, ignore_errors=True)


def make_certificate(directory, name):
    """A self-signed certificate for 127.0.0.1 (openssl CLI): (cert, key)."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    return cert, key
