#!/usr/bin/env bash
# Runs agentbus (bench/agentbus-bench.ini: the echo upstream over stdio)
# under bench/loadgen and prints a table and the JSON lines behind it:
# the frontend protocol at C=20 W=4 and at C=1 W=1, the JSON-RPC
# passthrough at C=20 W=4, and the RSS of idle connections.
#   bench/run.sh [--quick] [BUILD_DIR]     (BUILD_DIR: default _build)
# --quick (CI): 2 s runs and 1,000 idle connections, to show the suite
# works; it fails on any error, never on a timing. Without it: 10 s runs
# and 10,000 idle connections. The comparisons with other relays are to
# come (docs/benchmarks.md).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
quick=false
if [ "${1:-}" = "--quick" ]; then
	quick=true
	shift
fi
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
print()
print(open(sys.argv[1]).read(), end="")
EOF
kill "$broker"
wait "$broker" || { echo "agentbusd did not stop cleanly" >&2; status=1; }
exit $status
