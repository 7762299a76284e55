#!/usr/bin/env bash
# Installs what the library (build), `make test` (test), `make demo` (demo), `make bench`
# (bench), `make deb` (deb) or the aarch64 build and its run under qemu-user (aarch64:
# `make ARCH=aarch64`, `make cross`, `make check-aarch64`) needs on Debian 12 when it is missing: with apt-get when
# run as root, otherwise one line saying what to install. The Makefile runs it before
# the first compiler call.
set -euo pipefail
what=${1:-test}
pkgs="build-essential pkg-config libunwind-dev"
[ "$what" = deb ] && pkgs="$pkgs dpkg-dev debhelper lintian"
# aarch64: the cross compiler and C library, qemu-user, and libunwind and Check for
# arm64 from Debian's multiarch (the architecture is added to dpkg first).
foreign=""
if [ "$what" = aarch64 ]; then
	pkgs="gcc-aarch64-linux-gnu g++-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static libunwind-dev:arm64 check:arm64"
	foreign=arm64
fi
[ "$what" = build ] || [ "$what" = deb ] || [ "$what" = aarch64 ] || pkgs="$pkgs check strace dpkg-dev binutils python3"
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
	if [ -n "$foreign" ] && ! dpkg --print-foreign-architectures | grep -qx "$foreign"; then
		dpkg --add-architecture "$foreign"
		apt-get update -q >/dev/null 2>&1 || true
	fi
	apt-get install -y -q $missing >/dev/null 2>&1 || { apt-get update -q >/dev/null 2>&1 && apt-get install -y -q $missing >/dev/null; }
else
	echo "goshim: missing Debian packages:$missing (run:${foreign:+ sudo dpkg --add-architecture $foreign; sudo apt-get update;} sudo apt-get install$missing)" >&2
	exit 1
fi
