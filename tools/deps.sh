#!/usr/bin/env bash
# Installs what agentbus needs to build and test on Debian 12, with apt.
# Run as root, or with sudo available. The one list of dependencies.
set -euo pipefail

packages=(
	build-essential autoconf automake libtool pkg-config
	libevent-dev libyajl-dev libinih-dev libssl-dev
	check python3 python3-websockets valgrind openssl
)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
echo "installing: ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
