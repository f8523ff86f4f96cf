"""The plugin SDK as an out-of-tree author uses it: install agentbus into a
staging root, build examples/echo-plugin with nothing but its own Makefile
and `pkg-config agentbus-plugin`, and have the installed daemon load it and
route a request to it."""

import glob
import signal
import os
import shutil
import subprocess
import tempfile

from agentbus_test import TOP_BUILDDIR, TOP_SRCDIR, FIXTURE_PLUGIN_DIR, Daemon, Tap, free_port, run

MAKE = os.environ.get("MAKE", "make")


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert p.returncode == 0, "%s failed:\n%s\n%s" % (" ".join(cmd), p.stdout, p.stderr)
    return p.stdout


def test_out_of_tree_plugin_builds_from_the_installed_sdk_and_loads():
    tmp = tempfile.mkdtemp(prefix="ab-sdk-")
    try:
        root = os.path.join(tmp, "root")
        sh([MAKE, "-C", TOP_BUILDDIR, "install", "DESTDIR=" + root])
        pcs = glob.glob(os.path.join(root, "**", "agentbus-plugin.pc"), recursive=True)
        assert len(pcs) == 1, pcs
        daemons = glob.glob(os.path.join(root, "**", "sbin", "agentbusd"), recursive=True)
        assert len(daemons) == 1, daemons
        headers = glob.glob(os.path.join(root, "**", "include", "agentbus", "plugin.h"), recursive=True)
        assert len(headers) == 1, headers

        src = os.path.join(tmp, "echo")
        shutil.copytree(os.path.join(TOP_SRCDIR, "examples", "echo-plugin"), src)
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]), PKG_CONFIG_SYSROOT_DIR=root)
        # Only the staged SDK: the source tree's include/ is not on the path.
        cflags = sh(["pkg-config", "--cflags", "agentbus-plugin"], env=env)
        assert root in cflags and TOP_SRCDIR not in cflags, cflags
        sh([MAKE, "-C", src], env=env)
        plugindir = sh(["pkg-config", "--variable=plugindir", "agentbus-plugin"], env=env).strip()
        assert plugindir.endswith("/agentbus/plugins"), plugindir

        port = free_port()
        d = Daemon(
            "[plugin:tap]\nmodule = %s/linetap.so\nlisten = 127.0.0.1:%d\n"
            "[plugin:echo]\nmodule = %s/echo.so\nagent_id = echo_1\n"
            "[route:echo]\nsource = front_*\ntype = ping\ndestination = echo_1\n"
            % (FIXTURE_PLUGIN_DIR, port, src),
            binary=daemons[0],
        )
        try:
            d.start()
            d.wait_log(r"\[echo\] answering as echo_1")
            # A reload must not pull the option strings a plugin kept from
            # under it (echo keeps agent_id until stop).
            mark = d.mark()
            d.signal(signal.SIGHUP)
            d.wait_log(r"reloaded", start=mark)
            front = Tap(port)
            front.register("front_1")
            front.send("front_1", {"type": "ping", "correlation_id": "p1", "n": 7})
            agent, kind, msg = front.deliver()
            assert (agent, kind) == ("front_1", "reply"), (agent, kind)
            assert msg["type"] == "echo_response" and msg["correlation_id"] == "p1", msg
            assert msg["echo"] == {"type": "ping", "correlation_id": "p1", "n": 7}, msg
            assert d.stop() == 0
        finally:
            d.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    run([test_out_of_tree_plugin_builds_from_the_installed_sdk_and_loads])
