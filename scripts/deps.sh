#!/usr/bin/env bash
# Installs what the library (build), `make test` (test), `make demo` (demo), `make bench`
# (bench) or `make deb` (deb) needs on Debian 12 when it is missing: with apt-get when
# run as root, otherwise one line saying what to install. The Makefile runs it before
# the first compiler call.
set -euo pipefail
what=${1:-test}
pkgs="build-essential pkg-config libunwind-dev"
[ "$what" = deb ] && pkgs="$pkgs dpkg-dev debhelper lintian"
[ "$what" = build ] || [ "$what" = deb ] || pkgs="$pkgs check strace dpkg-dev binutils python3"
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
