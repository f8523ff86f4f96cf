#!/usr/bin/env bash
# Quick start: install the dependencies, build, install into ./_run (as a
# package would install into /usr), and run the broker in the foreground
# with the default config. Ctrl-C stops it; SIGHUP reloads it.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
tools/deps.sh
[ -x configure ] || autoreconf -fi
# A build tree of its own: tools/test.sh's _build installs elsewhere.
mkdir -p _build-run
cd _build-run
[ -f Makefile ] || ../configure --prefix="$top/_run" -q
make -j"$(nproc)" -s
make -s install >/dev/null
echo "agentbus: starting; the web console will be at http://localhost:8080/ (Ctrl-C stops)"
exec "$top/_run/sbin/agentbusd" -f -c "$top/_run/etc/agentbus/agentbus.ini" "$@"
