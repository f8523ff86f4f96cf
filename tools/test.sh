#!/usr/bin/env bash
# Runs every test: installs the dependencies, builds with -Werror and runs
# the suite; rebuilds with AddressSanitizer+UBSan and runs it again; runs
# the daemon's integration tests under valgrind. Each stage prints its time.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs=$(nproc)

stage_start=$(date +%s)
stage() {
	local now
	now=$(date +%s)
	echo "=== $1 (previous stage took $((now - stage_start))s)"
	stage_start=$now
}

stage "dependencies"
tools/deps.sh
stage "bootstrap"
autoreconf -fi >/dev/null

build_and_check() { # build dir, configure flags...
	local dir=$1
	shift
	mkdir -p "$dir"
	# Debian's python3, which has the websockets package (not a pyenv one).
	(cd "$dir" && ../configure -q --enable-werror PYTHON=/usr/bin/python3 "$@" && make -j"$jobs" -s &&
		make -j"$jobs" check || { cat tests/*/*.log 2>/dev/null | tail -200; exit 1; })
}

passed=0
failed=0
# Add up what the suites' logs say: Check's "Checks: N, Failures: F,
# Errors: E", the integration scripts' "N passed, N failed", and Node's
# test runner's "# pass N" / "# fail N".
count() { # build dir
	local p f
	read -r p f < <(cat "$1"/tests/*/*.log | awk '
		/^[0-9]+%: Checks: / { gsub(",", ""); n += $3; bad += $5 + $7 }
		/^[0-9]+ passed, [0-9]+ failed$/ { n += $1 + $3; bad += $3 }
		/^# pass [0-9]+$/ { n += $3 }
		/^# fail [0-9]+$/ { n += $3; bad += $3 }
		END { print n - bad, bad }')
	passed=$((passed + p))
	failed=$((failed + f))
	echo "$1: $p passed, $f failed"
}

stage "build and test"
build_and_check _build
count _build
stage "build and test with ASan+UBSan"
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 build_and_check _build-asan --enable-sanitizers
count _build-asan
stage "daemon under valgrind"
valgrind_tests='tests/integration/test_daemon.py tests/integration/test_end_to_end.py tests/integration/test_http_api.py
	tests/integration/test_mcp_ws.py tests/integration/test_jsonrpc_passthrough.py'
(cd _build && AGENTBUS_VALGRIND=1 make check TESTS="$valgrind_tests" ||
	{ for t in $valgrind_tests; do cat "${t%.py}.log"; done; exit 1; })
stage "done"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
