#!/usr/bin/env python3
"""The benchmark suite (docs/benchmarks.md): agentbus under bench/loadgen,
in one run and on one machine, next to what users would pick instead.

    bench/run.py [--quick] [--compare] [--scale] [--repeat N] [--json FILE]
                 [--plot FILE.svg] [BUILD_DIR]        (BUILD_DIR: default _build)

Always: agentbus (bench/agentbus-bench.ini: the echo upstream over
stdio) with the frontend protocol at C=20 W=4 and C=1 W=1, the same with
[broker] busy_poll_us = 50, and the JSON-RPC passthrough at C=20 W=4;
the upstream alone (loadgen --stdio, the ceiling of any relay in front of
it) at the same loads; idle connections' RSS.
--compare adds a Python relay on websockets, a Node relay on ws (both
bench/relays/) and supergateway's WebSocket mode (npm, against the
passthrough), each in front of the same echo server. --scale measures the
frontend load with 10 to 100,000 registered agents (bench/crowd) and 5
to 1,000 routes. Every measured run is repeated N times (default 3,
interleaved across the systems so that drift hits them alike); the table
gives the median and the spread, and the CPU time each process spent per
request, which is where the two cores go.

--quick (CI): one repeat of 2 s runs, 1,000 idle connections, two small
scaling points; it fails on any error, never on a timing."""

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK_US = 1e6 / os.sysconf("SC_CLK_TCK")
# The idle run's connections need descriptors in the broker and in loadgen.
FILES = 400000
STARTED = []  # every process started, killed at exit if it still runs


def raise_file_limit():
    """FILES descriptors: root may raise the hard limit too; others get
    their hard limit (and a scaling point may then fail, and says so)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (FILES, max(FILES, hard)))
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(port, proc, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit("%s exited (%d) before listening" % (proc.args[0], proc.returncode))
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("nothing listens on %d" % port)


def cpu_us(pid):
    """utime + stime of a live process, in microseconds (0 when it is gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) * TICK_US
    except OSError:
        return 0.0


def descendants(pid):
    """Every process below pid (children, theirs, and so on)."""
    found, unvisited = [], [pid]
    while unvisited:
        parent = unvisited.pop()
        try:
            with open("/proc/%d/task/%d/children" % (parent, parent)) as f:
                kids = [int(c) for c in f.read().split()]
        except OSError:
            kids = []
        found += kids
        unvisited += kids
    return found


class System:
    """A broker or relay on a port of its own ("PORT" in its command and
    environment), and the processes whose CPU it costs."""

    def __init__(self, name, command, env=None, stderr=subprocess.DEVNULL):
        self.name, self.port = name, free_port()
        put = lambda text: text.replace("PORT", str(self.port))
        self.proc = subprocess.Popen([put(part) for part in command],
                                     env=dict(os.environ, **{k: put(v) for k, v in (env or {}).items()}),
                                     stdout=subprocess.DEVNULL, stderr=stderr, preexec_fn=raise_file_limit)
        STARTED.append(self.proc)
        wait_listening(self.port, self.proc)
        time.sleep(0.5)  # the upstream's initialize

    def watched(self):
        """{role: pid}: the broker or relay, and the echo server it started
        (a child, or deeper when a shell starts it)."""
        pids = {"broker": self.proc.pid}
        for pid in descendants(self.proc.pid):
            try:
                with open("/proc/%d/cmdline" % pid) as f:
                    if "mcp_echo" in f.read().split("\0")[0]:
                        pids["upstream"] = pid
            except OSError:
                pass
        return pids

    def stop(self):
        self.proc.terminate()
        try:
            return self.proc.wait(60)  # 100,000 connections take a while to close
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def loadgen(build, args, watch=None):
    """One loadgen run; adds the CPU time per request of each watched pid."""
    watch = watch or {}
    before = {role: cpu_us(pid) for role, pid in watch.items()}
    out = subprocess.run([os.path.join(build, "bench", "loadgen")] + args, stdout=subprocess.PIPE,
                         text=True, preexec_fn=raise_file_limit)
    lines = out.stdout.strip().splitlines()
    if not lines:  # it died: a run with every request failed, and why
        print("loadgen %s exited %d with no report" % (" ".join(args), out.returncode), file=sys.stderr)
        return {"rps": 0, "p50_us": 0, "p99_us": 0, "max_us": 0, "errors": 1, "failed_connections": 0,
                "answered": 0, "loadgen_cpu_us": 0.0, "exit": out.returncode or 1, "ready": 0, "failed": 1,
                "kib_per_connection": 0.0, "rss_before_kib": 0, "rss_after_kib": 0}
    result = json.loads(lines[-1])
    result["exit"] = out.returncode
    answered = result.get("answered") or 0
    for role, pid in watch.items():
        result[role + "_cpu_us"] = (cpu_us(pid) - before[role]) / answered if answered else 0.0
    return result


def load_args(c, w, seconds, warmup):
    return ["-c", str(c), "-w", str(w), "-d", str(seconds), "--warmup", str(warmup)]


def agentbus(build, plugins, config, name="agentbus"):
    return System(name, [os.path.join(build, "core", "agentbusd"), "-f", "-l", "warning", "-c", config],
                  env={"BENCH_PLUGINS": plugins, "BENCH_PORT": "PORT",
                       "BENCH_ECHO": os.path.join(build, "bench", "mcp_echo")}, stderr=None)


def scaled_config(agents, routes, directory):
    """bench/agentbus-bench.ini with the crowd's agents registered (bench/
    crowd: no connections, so no file limit) and routes - 2 more routes
    before its own two (first match wins in file order), each for a type
    of its own."""
    path = os.path.join(directory, "scale-%d-%d.ini" % (agents, routes))
    with open(os.path.join(TOP, "bench", "agentbus-bench.ini")) as f:
        base = f.read()
    head, own = base.split("[route:query]", 1)
    crowd = "[plugin:crowd]\nmodule = crowd\nagents = %d\n\n" % agents
    extra = "".join("[route:extra_%d]\nsource = frontend_x%d_*\ntype = extra_type_%d\n"
                    "destination = crowd_%d\n\n" % (i, i, i, i % agents) for i in range(routes - 2))
    with open(path, "w") as f:
        f.write(head + crowd + extra + "[route:query]" + own)
    return path


def tls_config(directory):
    """bench/agentbus-bench.ini with wss on its listener (a self-signed
    certificate from the openssl command)."""
    cert, key = os.path.join(directory, "bench.pem"), os.path.join(directory, "bench.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    path = os.path.join(directory, "wss.ini")
    with open(os.path.join(TOP, "bench", "agentbus-bench.ini")) as f:
        base = f.read()
    with open(path, "w") as f:
        f.write(base.replace("[plugin:websocket]\n", "[plugin:websocket]\ntls_certificate = %s\ntls_key = %s\n"
                             % (cert, key), 1))
    return path


BUSY_POLL_US = 50


def busy_poll_config(directory):
    """bench/agentbus-bench.ini with [broker] busy_poll_us (core/loop.h)."""
    path = os.path.join(directory, "busy-poll.ini")
    with open(os.path.join(TOP, "bench", "agentbus-bench.ini")) as f:
        base = f.read()
    assert "[broker]\n" in base, "bench/agentbus-bench.ini has no [broker] section"
    us = BUSY_POLL_US
    with open(path, "w") as f:
        f.write(base.replace("[broker]\n", "[broker]\nbusy_poll_us = %d\n" % us, 1))
    return path


def spread(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values), "runs": values}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--scale", action="store_true")
    ap.add_argument("--repeat", type=int)
    ap.add_argument("--json")
    ap.add_argument("--plot")
    ap.add_argument("build", nargs="?", default=os.path.join(TOP, "_build"))
    opt = ap.parse_args()
    build = os.path.abspath(opt.build)
    seconds, warmup, idle = (2, 1, 1000) if opt.quick else (10, 2, 10000)
    repeat = opt.repeat or (1 if opt.quick else 3)
    scale_points = [(10, 5), (1000, 100)] if opt.quick else [(10, 5), (1000, 100), (10000, 300), (100000, 1000)]
    raise_file_limit()

    work = tempfile.mkdtemp(prefix="agentbus-bench-")
    plugins = os.path.join(work, "plugins")
    os.mkdir(plugins)
    dirs = [os.path.join(build, "plugins", name) for name in os.listdir(os.path.join(build, "plugins"))]
    for libs in [os.path.join(d, ".libs") for d in dirs + [os.path.join(build, "bench", "crowd")]]:
        for so in os.listdir(libs) if os.path.isdir(libs) else []:
            if so.endswith(".so"):
                shutil.copy(os.path.join(libs, so), plugins)
    config = os.path.join(TOP, "bench", "agentbus-bench.ini")
    echo = os.path.join(build, "bench", "mcp_echo")

    # name: (system, loadgen arguments); a system None is the upstream alone.
    systems = {"agentbus": agentbus(build, plugins, config),
               "agentbus_busy_poll": agentbus(build, plugins, busy_poll_config(work), "agentbus_busy_poll")}
    ab, busy = systems["agentbus"], systems["agentbus_busy_poll"]
    runs = {
        "agentbus_frontend_c20_w4": ("agentbus", ["--port", str(ab.port)] + load_args(20, 4, seconds, warmup)),
        "agentbus_frontend_c1_w1": ("agentbus", ["--port", str(ab.port)] + load_args(1, 1, seconds, warmup)),
        "busy_poll_frontend_c20_w4": ("agentbus_busy_poll", ["--port", str(busy.port)]
                                      + load_args(20, 4, seconds, warmup)),
        "busy_poll_frontend_c1_w1": ("agentbus_busy_poll", ["--port", str(busy.port)]
                                     + load_args(1, 1, seconds, warmup)),
        "agentbus_jsonrpc_c20_w4": ("agentbus", ["--port", str(ab.port), "--path", "/mcp", "--mode", "jsonrpc"]
                                    + load_args(20, 4, seconds, warmup)),
        "upstream_alone_c20_w4": (None, ["--stdio", echo] + load_args(20, 4, seconds, warmup)),
        "upstream_alone_c1_w1": (None, ["--stdio", echo] + load_args(1, 1, seconds, warmup)),
    }
    if opt.compare:
        peers = os.path.join(TOP, "tests", "peers", "node_modules")
        relay_dir = os.path.join(work, "relay")
        os.mkdir(relay_dir)
        shutil.copy(os.path.join(TOP, "bench", "relays", "node_relay.mjs"), relay_dir)
        os.symlink(peers, os.path.join(relay_dir, "node_modules"))  # where its import of ws looks
        systems["python"] = System("python", ["/usr/bin/python3", os.path.join(TOP, "bench", "relays", "python_relay.py"),
                                              "PORT", echo])
        systems["node"] = System("node", ["node", os.path.join(relay_dir, "node_relay.mjs"), "PORT", echo])
        systems["supergateway"] = System("supergateway", [
            "node", os.path.join(peers, "supergateway", "dist", "index.js"), "--stdio", echo,
            "--outputTransport", "ws", "--port", "PORT", "--logLevel", "none"])
        for name in ("python", "node"):
            runs[name + "_c20_w4"] = (name, ["--port", str(systems[name].port)] + load_args(20, 4, seconds, warmup))
            runs[name + "_c1_w1"] = (name, ["--port", str(systems[name].port)] + load_args(1, 1, seconds, warmup))
        runs["supergateway_c20_w4"] = ("supergateway", ["--port", str(systems["supergateway"].port), "--path",
                                                        "/message", "--mode", "jsonrpc"]
                                       + load_args(20, 4, seconds, warmup))

    results, problems = {name: [] for name in runs}, []
    for round_ in range(repeat):
        for name, (system, args) in runs.items():
            r = loadgen(build, args, systems[system].watched() if system else None)
            if system is None:
                r["broker_cpu_us"] = 0.0
            results[name].append(r)
            if r["errors"] or r["failed_connections"] or r["exit"]:
                problems.append("%s: %d errors, %d failed connections, loadgen exit %d"
                                % (name, r["errors"], r["failed_connections"], r["exit"]))
            print("round %d %-28s %8.0f req/s  p50 %5d us" % (round_ + 1, name, r["rps"], r["p50_us"]),
                  file=sys.stderr)

    report = {"machine": machine(), "settings": {"seconds": seconds, "warmup": warmup, "repeat": repeat,
                                                 "busy_poll_us": BUSY_POLL_US},
              "runs": {}}
    for name, rs in results.items():
        report["runs"][name] = {
            "rps": spread([r["rps"] for r in rs]), "p50_us": spread([r["p50_us"] for r in rs]),
            "p99_us": spread([r["p99_us"] for r in rs]), "max_us": max(r["max_us"] for r in rs),
            "errors": sum(r["errors"] for r in rs),
            "cpu_us_per_request": {role: statistics.median(r.get(role + "_cpu_us", 0.0) for r in rs)
                                   for role in ("broker", "upstream", "loadgen")},
        }

    report["idle"] = loadgen(build, ["--port", str(ab.port), "--idle", str(idle), "--pid", str(ab.proc.pid)])
    for s in systems.values():
        code = s.stop()
        if s.name.startswith("agentbus") and code != 0:
            problems.append("%s exited %d" % (s.name, code))  # it must stop cleanly
    wss = agentbus(build, plugins, tls_config(work))
    report["idle_wss"] = loadgen(build, ["--port", str(wss.port), "--tls", "--idle", str(idle),
                                         "--pid", str(wss.proc.pid)])
    if wss.stop() != 0:
        problems.append("agentbus (wss) did not stop cleanly")
    for kind in ("idle", "idle_wss"):
        if report[kind]["failed"] or report[kind]["ready"] < idle:
            problems.append("%s: %d of %d connections ready, %d failed"
                            % (kind, report[kind]["ready"], idle, report[kind]["failed"]))

    if opt.scale:
        report["scale"] = []
        # Every point's broker runs at once, and the repeats go round them, so
        # that the machine's drift does not pass for a slope.
        brokers = [agentbus(build, plugins, scaled_config(agents, routes, work)) for agents, routes in scale_points]
        rps = [[] for _ in scale_points]
        for _ in range(repeat):
            for i, ((agents, routes), s) in enumerate(zip(scale_points, brokers)):
                r = loadgen(build, ["--port", str(s.port)] + load_args(20, 4, seconds, warmup), s.watched())
                if r["errors"] or r["exit"]:
                    problems.append("scale %d/%d: %d errors, loadgen exit %d" % (agents, routes, r["errors"], r["exit"]))
                rps[i].append(r["rps"])
                print("scale %6d agents %4d routes %8.0f req/s" % (agents, routes, r["rps"]), file=sys.stderr)
        for (agents, routes), s, point in zip(scale_points, brokers, rps):
            if s.stop() != 0:
                problems.append("scale %d/%d: agentbus did not stop cleanly" % (agents, routes))
            report["scale"].append({"agents": agents, "routes": routes, "rps": spread(point)})

    print_table(report)
    if opt.json:
        with open(opt.json, "w") as f:
            json.dump(report, f, indent=1)
    if opt.plot:
        plot(report, opt.plot, work)
    shutil.rmtree(work, ignore_errors=True)
    for problem in problems:
        print("FAILED: " + problem, file=sys.stderr)
    return 1 if problems else 0


def machine():
    with open("/proc/cpuinfo") as f:
        model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    return {"cpu": model, "cores": os.cpu_count(), "kernel": os.uname().release,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def print_table(report):
    print("%-26s %9s %15s %8s %8s  %s" % ("run", "req/s", "(min..max)", "p50 us", "p99 us",
                                          "CPU us/request: broker upstream loadgen"))
    for name, r in report["runs"].items():
        cpu = r["cpu_us_per_request"]
        print("%-26s %9.0f %7.0f..%-7.0f %8d %8d  %6.1f %8.1f %7.1f" % (
            name, r["rps"]["median"], r["rps"]["min"], r["rps"]["max"], r["p50_us"]["median"],
            r["p99_us"]["median"], cpu["broker"], cpu["upstream"], cpu["loadgen"]))
    runs = report["runs"]
    for ours, theirs in (("agentbus_frontend_c20_w4", "python_c20_w4"), ("agentbus_frontend_c20_w4", "node_c20_w4"),
                         ("agentbus_jsonrpc_c20_w4", "supergateway_c20_w4"),
                         ("agentbus_frontend_c20_w4", "upstream_alone_c20_w4")):
        if theirs in runs and runs[theirs]["rps"]["median"]:
            print("agentbus / %s: %.2fx the requests/s (medians)" % (
                theirs.rsplit("_c", 1)[0], runs[ours]["rps"]["median"] / runs[theirs]["rps"]["median"]))
    for name, what in (("agentbus_frontend_c1_w1", "agentbus"),
                       ("busy_poll_frontend_c1_w1", "agentbus with busy_poll_us = %d" % report["settings"]["busy_poll_us"])):
        added = runs[name]["p50_us"]["median"] - runs["upstream_alone_c1_w1"]["p50_us"]["median"]
        print("C=1 W=1: %s adds %d us to the upstream's median round trip" % (what, added))
    for kind in ("idle", "idle_wss"):
        i = report[kind]
        print("%s: %d connections, %.2f KiB each (RSS %d -> %d KiB), %d failed" % (
            kind, i["ready"], i["kib_per_connection"], i["rss_before_kib"], i["rss_after_kib"], i["failed"]))
    for p in report.get("scale", []):
        print("scale: %6d agents, %4d routes: %8.0f req/s (%.0f..%.0f)" % (
            p["agents"], p["routes"], p["rps"]["median"], p["rps"]["min"], p["rps"]["max"]))
    print(json.dumps(report))


def plot(report, path, work):
    """Requests/s per system (median, min..max bars), and the scaling curve,
    with gnuplot (Debian's gnuplot-nox)."""
    if not shutil.which("gnuplot"):
        print("no gnuplot: no plot", file=sys.stderr)
        return
    bars = os.path.join(work, "bars.dat")
    with open(bars, "w") as f:
        for i, name in enumerate(n for n in report["runs"] if n.endswith("c20_w4")):
            r = report["runs"][name]["rps"]
            f.write('%d "%s" %f %f %f\n' % (i, name.replace("_c20_w4", "").replace("_", " "), r["median"], r["min"],
                                             r["max"]))
    scale = os.path.join(work, "scale.dat")
    with open(scale, "w") as f:
        for p in report.get("scale", []):
            f.write('"%d agents, %d routes" %f %f %f\n' % (p["agents"], p["routes"], p["rps"]["median"],
                                                           p["rps"]["min"], p["rps"]["max"]))
    script = """set terminal svg size 900,{height} dynamic font "sans,11"
set output "{path}"
set multiplot layout {rows},1
set title "requests/s at C=20 W=4 (median of {repeat}, bars: min..max) - {date}"
set style fill solid 0.5
set boxwidth 0.6
set yrange [0:*]
set xtics rotate by -20
plot "{bars}" using 1:3:xtic(2) with boxes notitle, "" using 1:3:4:5 with yerrorbars notitle
""".format(path=path, bars=bars, repeat=report["settings"]["repeat"], date=report["machine"]["date"],
           rows=2 if report.get("scale") else 1, height=900 if report.get("scale") else 450)
    if report.get("scale"):
        script += """set title "agentbus frontend protocol, C=20 W=4, as agents and routes grow"
plot "{scale}" using 0:2:xtic(1) with linespoints notitle, "" using 0:2:3:4 with yerrorbars notitle
""".format(scale=scale)
    subprocess.run(["gnuplot"], input=script + "unset multiplot\n", text=True, check=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        for proc in STARTED:  # what a failure left running
            if proc.poll() is None:
                proc.kill()
