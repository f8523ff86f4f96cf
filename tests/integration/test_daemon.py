"""The daemon as a user runs it: --check-config on every shipped config and
on broken ones, routing through the real process, SIGHUP reloads that are
all or nothing, SIGTERM, refusing broken plugins, daemonizing."""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

from agentbus_test import AGENTBUSD, FIXTURE_PLUGIN_DIR, TOP_BUILDDIR, TOP_SRCDIR, Daemon, Tap, free_port, run


def check_config(path, plugin_dir=None):
    cmd = [AGENTBUSD, "--check-config", "-c", path] + (["--plugin-dir", plugin_dir] if plugin_dir else [])
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stderr


def built_plugins():
    """A plugin dir holding every plugin this tree builds (as make install would)."""
    tmp = tempfile.mkdtemp(prefix="ab-plugins-")
    for so in glob.glob(os.path.join(TOP_BUILDDIR, "plugins", "*", ".libs", "*.so")):
        shutil.copy(so, tmp)
    return tmp


def tap_config(port, extra="", refuse_reload="false", drain="0ms"):
    return (
        "[plugin:tap]\nmodule = linetap\nlisten = 127.0.0.1:%d\nrefuse_reload = %s\ndrain = %s\n"
        "[route:query]\nsource = front_*\ntype = query\ndestination = up_1\n"
        "interim = query_progress\nerror_reply = query_error\ntimeout = 5s\n%s"
        % (port, refuse_reload, drain, extra)
    )


def test_every_shipped_config_checks_clean():
    # The default config is made from etc/agentbus.ini.in at build time.
    files = [os.path.join(TOP_BUILDDIR, "etc", "agentbus.ini")]
    files += sorted(glob.glob(os.path.join(TOP_SRCDIR, "etc", "**", "*.ini"), recursive=True))
    assert os.path.exists(files[0]), files
    plugins = built_plugins()
    try:
        assert os.path.exists(os.path.join(plugins, "websocket.so")), os.listdir(plugins)
        for path in files:
            rc, err = check_config(path, plugins)
            assert rc == 0, "%s: exit %d\n%s" % (path, rc, err)
            assert "configuration OK" in err, err
    finally:
        shutil.rmtree(plugins)


def test_check_config_names_file_and_line_of_a_misspelled_key():
    d = Daemon("request_timeout = 5s\nhold_windw = 5s\n")
    try:
        rc, err = check_config(d.path)
        assert rc == 1, (rc, err)
        expected = "%s:4: hold_windw: unknown key in [broker] (did you mean 'hold_window'?)" % d.path
        assert expected in err.splitlines(), err
    finally:
        d.close()


def test_check_config_refuses_a_comment_run_into_a_message_type():
    # Comments are whole lines: a ';' after a value is part of it, so a
    # reply type like this one would never match anything a frontend awaits.
    d = Daemon("[route:r]\nsource = a\ntype = t\ndestination = b\nerror_reply = query_error ; see below\n")
    try:
        rc, err = check_config(d.path)
        assert rc == 1, (rc, err)
        expected = ("%s:7: error_reply: 'query_error ; see below' is not a message type "
                    "(1 to 128 of [A-Za-z0-9_.:-])" % d.path)
        assert expected in err.splitlines(), err
    finally:
        d.close()


def test_check_config_refuses_a_max_timeout_shorter_than_the_timeout():
    d = Daemon("[route:r]\nsource = a\ntype = t\ndestination = b\ntimeout = 60s\nmax_timeout = 30s\n")
    try:
        rc, err = check_config(d.path)
        assert rc == 1, (rc, err)
        expected = "%s:8: max_timeout: shorter than the timeout (60000 ms)" % d.path
        assert expected in err.splitlines(), err
    finally:
        d.close()


def test_check_config_names_the_line_of_a_bad_http_route():
    plugins = built_plugins()
    d = Daemon("[plugin:websocket]\nmodule = websocket\n"
               "[http_route:list]\nmethod = GET\npth = /api/x\ntype = get_databases\n"
               "response = {\"success\": true,\n"
               "[http_route:orphan]\nplugin = nobody\nmethod = GET\npath = /y\ntype = t\n"
               "[htp_route:typo]\nmethod = GET\n")
    try:
        rc, err = check_config(d.path, plugins)
        assert rc == 1, (rc, err)
        lines = err.splitlines()
        assert d.path + ":7: pth: unknown key in [http_route:list] (did you mean 'path'?)" in lines, err
        assert d.path + ":5: path: required in [http_route:list]" in lines, err
        assert any(l.startswith(d.path + ":9: response: not JSON: ") for l in lines), err
        assert d.path + ":11: plugin: no loaded [plugin:nobody] takes [http_route:...] sections" in lines, err
        assert any(l.startswith(d.path + ":15: unknown section [htp_route:typo]") for l in lines), err
    finally:
        d.close()
        shutil.rmtree(plugins, ignore_errors=True)


def test_check_config_lists_every_error():
    # One mistake in each kind of section: all are listed in one run.
    d = Daemon(
        "hold_window = forever\n"
        "[plugin:tap]\nmodule = linetap\nlisten = 127.0.0.1:1\nlisten_backlog = 5\n"
        "[plugin:bad]\nmodule = abi_major\n"
        "[route:r]\nsource = a\ntype = t\n"
    )
    try:
        rc, err = check_config(d.path)
        assert rc == 1, (rc, err)
        lines = err.splitlines()
        assert d.path + ":3: hold_window: 'forever' is not a duration such as 500ms, 10s, 5m or 1h" in lines, err
        assert any(l.startswith(d.path + ":7: listen_backlog: unknown key") for l in lines), err
        assert any(l.startswith(d.path + ":9: module: refusing") and "ABI 2.0" in l for l in lines), err
        assert d.path + ":10: destination: required in [route:r]" in lines, err
    finally:
        d.close()


def test_routes_requests_and_replies_through_the_daemon():
    port = free_port()
    d = Daemon(tap_config(port)).start()
    try:
        front, up = Tap(port), Tap(port)
        front.register("front_1")
        up.register("up_1")
        assert front.send("front_1", {"type": "query", "correlation_id": "c1", "query": "q"}) == "ok send"
        agent, kind, msg = up.deliver()
        assert (agent, kind, msg["correlation_id"], msg["query"]) == ("up_1", "request", "c1", "q")
        up.send("up_1", {"type": "query_progress", "correlation_id": "c1", "progress": 1})
        up.send("up_1", {"type": "query_response", "correlation_id": "c1", "rows": [1, 2]})
        assert front.deliver()[1:] == ("reply+interim", {"type": "query_progress", "correlation_id": "c1", "progress": 1})
        agent, kind, msg = front.deliver()
        assert (agent, kind, msg["rows"]) == ("front_1", "reply", [1, 2])
        # A malformed message is refused at the transport, with the error type.
        answer = front.send("front_1", '{"type": 5}')
        assert answer.startswith("error send invalid_message "), answer
        answer = front.send("front_1", '{"type": "query"')
        assert answer.startswith("error send invalid_json "), answer
        # No route: an error reply, never silence.
        front.send("front_1", {"type": "nope", "correlation_id": "n1"})
        _, _, msg = front.deliver()
        assert msg["type"] == "error" and msg["error"]["error_type"] == "no_route", msg
        assert msg["correlation_id"] == "n1", msg
        assert d.stop() == 0
    finally:
        d.close()


def test_held_request_reaches_an_upstream_that_connects_late():
    port = free_port()
    d = Daemon(tap_config(port)).start()
    try:
        front = Tap(port)
        front.register("front_1")
        front.send("front_1", {"type": "query", "correlation_id": "late"})
        time.sleep(0.3)
        up = Tap(port)
        up.register("up_1")
        _, kind, msg = up.deliver()
        assert (kind, msg["correlation_id"]) == ("request", "late")
        # The upstream dies mid-request: the requester gets an error reply.
        up.close()
        _, _, msg = front.deliver()
        assert msg["type"] == "query_error", msg
        assert msg["error"]["error_type"] == "upstream_unavailable", msg
        assert d.stop() == 0
    finally:
        d.close()


def test_sighup_with_a_broken_config_keeps_the_old_routes():
    port = free_port()
    d = Daemon(tap_config(port)).start()
    try:
        front, up = Tap(port), Tap(port)
        front.register("front_1")
        up.register("up_1")

        # 1: a syntax error, plus a route that would have changed things.
        good = open(d.path).read()
        with open(d.path, "a") as f:
            f.write("[route:new]\nsource = front_*\ntype = other\ndestination = up_1\nthis is not ini\n")
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload rejected", start=mark)
        assert "syntax error" in d.log(), d.log()
        front.send("front_1", {"type": "other", "correlation_id": "o1"})
        _, _, msg = front.deliver()
        assert msg["error"]["error_type"] == "no_route", msg  # the new route did not land
        front.send("front_1", {"type": "query", "correlation_id": "q1"})
        assert up.deliver()[2]["correlation_id"] == "q1"  # the old one still works

        # 2: a valid file the plugin refuses in PREPARE: still all or nothing.
        d.write(tap_config(port, refuse_reload="true",
                           extra="[route:new]\nsource = front_*\ntype = other\ndestination = up_1\n"))
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_log(r"reload rejected", start=mark)
        front.send("front_1", {"type": "other", "correlation_id": "o2"})
        assert front.deliver()[2]["error"]["error_type"] == "no_route"

        # 3: a good config: the new route works on the same live connections.
        d.write(tap_config(port, extra="[route:new]\nsource = front_*\ntype = other\ndestination = up_1\n"))
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded: 2 routes", start=mark)
        front.send("front_1", {"type": "other", "correlation_id": "o3"})
        _, kind, msg = up.deliver()
        assert (kind, msg["correlation_id"]) == ("request", "o3")
        assert d.stop() == 0
    finally:
        d.close()


def test_reload_keeps_options_that_need_a_restart():
    port = free_port()
    d = Daemon(tap_config(port)).start()
    try:
        tap = Tap(port)
        tap.register("front_1")
        # drain is not reloadable: the new value waits for a restart.
        d.write(tap_config(port, drain="2s") + "[route:more]\nsource = a\ntype = b\ndestination = c\n")
        mark = d.mark()
        d.signal(signal.SIGHUP)
        d.wait_log(r"reloaded: 2 routes", start=mark)
        d.wait_log(r"\[plugin:tap\] drain: the change takes effect at the next restart", start=mark)
        start = time.monotonic()
        assert d.stop() == 0
        assert time.monotonic() - start < 1.5, "the 2s drain applied without a restart"
        assert "draining for" not in d.log()
    finally:
        d.close()


def test_sigterm_exits_zero_promptly():
    port = free_port()
    d = Daemon(tap_config(port)).start()
    try:
        Tap(port).register("front_1")
        start = time.monotonic()
        assert d.stop() == 0
        assert time.monotonic() - start < 5
        d.wait_log(r"stopped")
    finally:
        d.close()


def test_shutdown_waits_for_draining_plugins_but_not_forever():
    port = free_port()
    d = Daemon(tap_config(port, drain="300ms"))
    try:
        d.start()
        tap = Tap(port)
        tap.register("front_1")
        d.signal(signal.SIGTERM)
        d.wait_log(r"\[tap\] draining for 300 ms")
        # Still serving while it drains.
        tap.send("front_1", {"type": "query", "correlation_id": "d1"})
        assert d.proc.wait(5) == 0
        d.wait_log(r"\[tap\] drained")
    finally:
        d.close()
    port = free_port()
    d = Daemon("shutdown_timeout = 200ms\n" + tap_config(port, drain="1h"))
    try:
        d.start()
        start = time.monotonic()
        d.signal(signal.SIGTERM)
        assert d.proc.wait(5) == 0
        assert time.monotonic() - start < 3
        d.wait_log(r"1 plugins still draining after the shutdown timeout")
    finally:
        d.close()


def test_refuses_to_start_with_a_broken_plugin():
    for module, text in [
        ("abi_major", "the major must match"),
        ("abi_minor", "newer than this broker's"),
        ("missing_op", "must have the 'deliver' op"),
        ("no_symbol", "has no 'agentbus_plugin_v1' symbol"),
    ]:
        d = Daemon("[plugin:x]\nmodule = %s\n" % module)
        try:
            d.start(ready=False)
            rc = d.proc.wait(10)
            assert rc == 1, (module, rc, d.log())
            d.wait_log(text)
            d.wait_log("configuration rejected, not starting")
        finally:
            d.close()


def test_refuses_to_start_when_a_plugin_cannot_start():
    port = free_port()
    blocker = Daemon(tap_config(port)).start()
    d = Daemon(tap_config(port))  # the same port: linetap cannot listen
    try:
        d.start(ready=False)
        assert d.proc.wait(10) == 1, d.log()
        d.wait_log(r"cannot listen on 127\.0\.0\.1:%d" % port)
        d.wait_log(r"a plugin failed to start")
    finally:
        d.close()
        blocker.stop()
        blocker.close()


def test_default_stands_in_for_an_unset_variable_with_a_warning():
    port = free_port()
    env_free = {k: v for k, v in os.environ.items() if k != "AB_TEST_LISTEN"}
    d = Daemon(tap_config(port).replace("listen = 127.0.0.1:%d" % port,
                                         "listen = ${AB_TEST_LISTEN:-127.0.0.1:%d}" % port))
    d.env = env_free
    try:
        d.start()
        d.wait_log(r"%s:5: listen: AB_TEST_LISTEN is not set, using the default '127\.0\.0\.1:%d'"
                   % (re.escape(d.path), port))
        Tap(port).register("front_1")
        assert d.stop() == 0
    finally:
        d.close()


def test_daemonizes_and_reports_startup_failure():
    port = free_port()
    d = Daemon(tap_config(port))
    try:
        p = subprocess.run([AGENTBUSD, "-c", d.path], capture_output=True, text=True, timeout=10)
        assert p.returncode == 0, p.stderr
        tap = Tap(port)  # the background daemon serves
        tap.register("front_1")
        pids = [pid for pid in os.listdir("/proc") if pid.isdigit() and _cmdline(pid).endswith(d.path)]
        assert len(pids) == 1, pids
        os.kill(int(pids[0]), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while os.path.exists("/proc/" + pids[0]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not os.path.exists("/proc/" + pids[0]) or _state(pids[0]) == "Z"
        # A background start that fails says so in its exit status.
        d.write("[plugin:x]\nmodule = abi_major\n")
        p = subprocess.run([AGENTBUSD, "-c", d.path], capture_output=True, text=True, timeout=10)
        assert p.returncode == 1, p
        # ... and says why on the terminal it was started from, not only in syslog.
        assert "%s:4: module: refusing" % d.path in p.stderr, p.stderr
    finally:
        d.close()


def _cmdline(pid):
    try:
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return ""


def _state(pid):
    try:
        with open("/proc/%s/stat" % pid) as f:
            return f.read().split(") ", 1)[1][0]
    except OSError:
        return "gone"


if __name__ == "__main__":
    run([
        test_every_shipped_config_checks_clean,
        test_check_config_names_file_and_line_of_a_misspelled_key,
        test_check_config_refuses_a_comment_run_into_a_message_type,
        test_check_config_refuses_a_max_timeout_shorter_than_the_timeout,
        test_check_config_names_the_line_of_a_bad_http_route,
        test_check_config_lists_every_error,
        test_routes_requests_and_replies_through_the_daemon,
        test_held_request_reaches_an_upstream_that_connects_late,
        test_sighup_with_a_broken_config_keeps_the_old_routes,
        test_reload_keeps_options_that_need_a_restart,
        test_sigterm_exits_zero_promptly,
        test_shutdown_waits_for_draining_plugins_but_not_forever,
        test_refuses_to_start_with_a_broken_plugin,
        test_refuses_to_start_when_a_plugin_cannot_start,
        test_default_stands_in_for_an_unset_variable_with_a_warning,
        test_daemonizes_and_reports_startup_failure,
    ])
