#!/usr/bin/env bash
# Builds the libFuzzer harnesses in fuzz/ with clang (ASan+UBSan) against
# the codecs' sources and runs each for SECONDS (default 20), from the seed
# corpus in fuzz/corpus/NAME. Any crash, leak or trap fails the script.
#   tools/fuzz.sh [SECONDS]
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-20}
out=$top/_fuzz
mkdir -p "$out"
cc="clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
inc="-I$top -I$top/include -I$top/_build"
ws=$top/plugins/websocket
libs="$(pkg-config --cflags --libs yajl openssl libevent_core inih)"
build() { # name sources...
	local name=$1
	shift
	$cc $inc -o "$out/$name" "$top/fuzz/$name.c" "$@" $libs -ldl -lm
}
[ -f "$top/_build/build-config.h" ] || { echo "build first (tools/test.sh makes _build)"; exit 1; }
build fuzz_ws_reader "$ws/ws_codec.c" "$ws/utf8.c"
build fuzz_http_parse "$ws/http_parse.c" "$ws/ws_handshake.c"
build fuzz_stamp "$ws/stamp.c" "$top/core/msg.c" "$top/core/jsonparse.c" "$top/core/jsonskim.c"
build fuzz_msg_parse "$top/core/msg.c" "$top/core/jsonparse.c" "$top/core/jsonskim.c" "$top/core/jsontree.c"
build fuzz_jsonparse "$top/core/jsonparse.c" "$top/core/jsontree.c" "$top/tests/unit/tree_equal.c"
build fuzz_sse "$top/plugins/mcp/sse.c"
build fuzz_legacy "$top/plugins/mcp/legacy.c" "$top/core/jsontree.c" "$top/core/jsonparse.c"
for name in fuzz_ws_reader fuzz_http_parse fuzz_stamp fuzz_msg_parse fuzz_jsonparse fuzz_sse fuzz_legacy; do
	corpus=$out/corpus/$name
	mkdir -p "$corpus"
	cp -n "$top/fuzz/corpus/$name/"* "$corpus/" 2>/dev/null || true
	echo "=== $name for ${seconds}s"
	"$out/$name" -max_total_time="$seconds" -max_len=65536 -print_final_stats=0 "$corpus" 2>&1 | tail -3
done
