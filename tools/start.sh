#!/usr/bin/env bash
# Quick start: install the dependencies, build, install into ./_run (as a
# package would install into /usr), and run the broker in the foreground
# with the default config. Ctrl-C stops it; SIGHUP reloads it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p _build
cd _build
[ -f Makefile ] || ../configure --prefix="$top/_run" -q
make -j"$(nproc)" -s
make -s install >/dev/null
exec "$top/_run/sbin/agentbusd" -f -c "$top/_run/etc/agentbus/agentbus.ini" "$@"
