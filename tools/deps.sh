#!/usr/bin/env bash
# Installs what agentbus needs to build and test on Debian 12, with apt.
# Run as root, or with sudo available. The one list of dependencies.
set -euo pipefail

packages=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libyajl-dev libinih-dev libssl-dev libsqlite3-dev
	check python3 python3-websockets valgrind openssl clang libclang-rt-14-dev curl chromium mariadb-server
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
command -v npm >/dev/null || missing+=(nodejs npm)

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
if [ ${#missing[@]} -gt 0 ]; then
	echo "installing: ${missing[*]}"
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
	"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The Node test peers (tests/peers): the registry's packages, as locked.
peers="$(cd "$(dirname "$0")/.." && pwd)/tests/peers"
# Again whenever the lock is newer than what is installed.
if [ ! -f "$peers/node_modules/.package-lock.json" ] ||
	[ "$peers/package-lock.json" -nt "$peers/node_modules/.package-lock.json" ]; then
	(cd "$peers" && npm ci --no-audit --no-fund --loglevel=error)
fi
