#!/usr/bin/env bash
# Installs what `make test` / `make demo` / `make bench` need on Debian 12 when it is missing:
# with apt-get when run as root, otherwise one line saying what to install.
set -euo pipefail
what=${1:-test}
pkgs="build-essential check pkg-config libunwind-dev strace dpkg-dev binutils python3"
[ "$what" = demo ] && pkgs="$pkgs golang-go gnuplot-nox"
[ "$what" = bench ] && pkgs="$pkgs golang-go gnuplot-nox wrk"
missing=""
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	echo "goshim: installing$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $missing >/dev/null; }
else
	echo "goshim: missing Debian packages:$missing (run: sudo apt-get install$missing)" >&2
	exit 1
fi
