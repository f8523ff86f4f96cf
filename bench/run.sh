#!/usr/bin/env bash
# Runs agentbus (bench/agentbus-bench.ini: the echo upstream over stdio)
# under bench/loadgen and prints a table and the JSON lines behind it:
# the frontend protocol at C=20 W=4 and at C=1 W=1, the JSON-RPC
# passthrough at C=20 W=4, and the RSS of idle connections.
#   bench/run.sh [--quick|--compare] [BUILD_DIR]     (BUILD_DIR: default _build)
# --quick (CI): 2 s runs and 1,000 idle connections, to show the suite
# works; it fails on any error, never on a timing. Without it: 10 s runs
# and 10,000 idle connections. --compare: also the same load, in the same
# run, against the Python relay (bench/relays/python_relay.py, websockets),
# the Node relay (bench/relays/node_relay.mjs, ws) and supergateway (npm,
# its WebSocket mode, against the passthrough), each in front of the same
# echo server.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
quick=false compare=false
case "${1:-}" in
--quick) quick=true; shift ;;
--compare) compare=true; shift ;;
esac
build=$(cd "${1:-$top/_build}" && pwd)
seconds=10 warmup=2 idle=10000
if $quick; then
	seconds=2 warmup=1 idle=1000
fi

plugins=$(mktemp -d)
trap 'rm -rf "$plugins"' EXIT
cp "$build"/plugins/*/.libs/*.so "$plugins"/
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BENCH_PLUGINS=$plugins BENCH_PORT=$port BENCH_ECHO=$build/bench/mcp_echo \
	"$build/core/agentbusd" -f -l warning -c "$top/bench/agentbus-bench.ini" &
broker=$!
for _ in $(seq 100); do
	(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
	sleep 0.1
done
sleep 0.5 # the upstream's initialize

results=$(mktemp)
trap 'rm -rf "$plugins" "$results"; kill "$broker" 2>/dev/null || true' EXIT
status=0
run() { # name, loadgen arguments...
	local name=$1
	shift
	local line
	line=$("$build/bench/loadgen" --port "$port" "$@") || status=1
	echo "$name $line" >>"$results"
}
run "frontend_c20_w4" -c 20 -w 4 -d "$seconds" --warmup "$warmup"
run "frontend_c1_w1" -c 1 -w 1 -d "$seconds" --warmup "$warmup"
run "jsonrpc_c20_w4" --path /mcp --mode jsonrpc -c 20 -w 4 -d "$seconds" --warmup "$warmup"
run "idle" --idle "$idle" --pid "$broker"

# The alternatives, one at a time, with the same load.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
alternative() { # name, loadgen arguments (after --port)..., --, command...
	local name=$1 args=() port pid
	shift
	while [ "$1" != "--" ]; do args+=("$1"); shift; done
	shift
	port=$(free_port)
	"${@//PORT/$port}" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
		sleep 0.1
	done
	sleep 0.5
	run "$name" "${args[@]}" --port "$port"
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
if $compare; then
	peers=$top/tests/peers/node_modules
	relay_dir=$(mktemp -d)
	cp "$top/bench/relays/node_relay.mjs" "$relay_dir/"
	ln -s "$peers" "$relay_dir/node_modules" # where the relay's import of ws looks
	alternative python_c20_w4 -c 20 -w 4 -d "$seconds" --warmup "$warmup" -- \
		/usr/bin/python3 "$top/bench/relays/python_relay.py" PORT "$build/bench/mcp_echo"
	alternative node_c20_w4 -c 20 -w 4 -d "$seconds" --warmup "$warmup" -- \
		node "$relay_dir/node_relay.mjs" PORT "$build/bench/mcp_echo"
	alternative supergateway_c20_w4 --path /message --mode jsonrpc -c 20 -w 4 -d "$seconds" --warmup "$warmup" -- \
		node "$peers/supergateway/dist/index.js" --stdio "$build/bench/mcp_echo" --outputTransport ws --port PORT \
		--logLevel none
	rm -rf "$relay_dir"
fi

python3 - "$results" <<'EOF'
import json, sys
print("%-18s %10s %9s %9s %9s %7s" % ("run", "req/s", "p50 us", "p99 us", "max us", "errors"))
for line in open(sys.argv[1]):
    name, data = line.split(" ", 1)
    r = json.loads(data)
    if name == "idle":
        print("%-18s %d connections, %.2f KiB each (RSS %d -> %d KiB), %d failed"
              % (name, r["ready"], r["kib_per_connection"], r["rss_before_kib"], r["rss_after_kib"], r["failed"]))
    else:
        print("%-18s %10.0f %9d %9d %9d %7d" % (name, r["rps"], r["p50_us"], r["p99_us"], r["max_us"], r["errors"]))
rows = {line.split(" ", 1)[0]: json.loads(line.split(" ", 1)[1]) for line in open(sys.argv[1])}
for ours, theirs in (("frontend_c20_w4", "python_c20_w4"), ("frontend_c20_w4", "node_c20_w4"),
                     ("jsonrpc_c20_w4", "supergateway_c20_w4")):
    if theirs in rows and rows[theirs]["rps"]:
        print("agentbus / %s: %.2fx the requests/s" % (theirs.split("_")[0], rows[ours]["rps"] / rows[theirs]["rps"]))
print()
print(open(sys.argv[1]).read(), end="")
EOF
kill "$broker"
wait "$broker" || { echo "agentbusd did not stop cleanly" >&2; status=1; }
exit $status
