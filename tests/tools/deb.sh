#!/usr/bin/env bash
# deb: `make deb` builds the Debian package (debian/) and lintian reports no error or
# warning on it; the .deb holds the library under /usr/lib/<multiarch>/goshim/, the command
# in /usr/bin and goshim(1); unpacked into a temporary root (dpkg-deb -x), its command runs
# demos/echo_server with no GOSHIM_ variable set: the unpacked library is mapped in the
# server, a line sent to it comes back, and the unpacked command's `goshim dump` lists the
# connection's thread (conn_main) and main's. SKIP when debhelper or lintian is missing
# (scripts/deps.sh deb installs them as root), exit 77: scripts/test.sh counts a skip.
set -uo pipefail
cd "$(dirname "$0")/../.."
if ! command -v dh >/dev/null || ! command -v lintian >/dev/null || ! command -v dpkg-buildpackage >/dev/null; then
	echo "SKIP deb: needs debhelper, lintian and dpkg-dev (scripts/deps.sh deb)"
	exit 77
fi
fail() { echo "FAIL deb: $*"; exit 1; }
log=$(mktemp)
root=$(mktemp -d /tmp/goshim_deb.XXXXXX)
spid=""
trap '[[ -n $spid ]] && kill "$spid" 2>/dev/null; rm -rf "$root" "$log"' EXIT
env -u MAKEFLAGS -u MAKELEVEL make deb >"$log" 2>&1 || { tail -20 "$log"; fail "make deb: exit status"; }
deb=$(ls build/deb/goshim_"$(cat VERSION)"_*.deb)
tags=$(sed -n '/^lintian /,$p' "$log" | grep -E '^[EW]: ' || true)
[[ -z $tags ]] || fail "lintian: $tags"
echo "deb: lintian on $deb: $(sed -n '/^lintian /,$p' "$log" | grep -cE '^[EWIPX]: ') tags, none an error or warning"
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
files=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ {print $6}' | grep -v '^./usr/share/doc/' | sort | tr '\n' ' ')
want="./usr/bin/goshim ./usr/lib/$ma/goshim/libgoshim.so ./usr/share/man/man1/goshim.1.gz "
[[ $files == "$want" ]] || fail "the package holds $files, want $want"
dpkg-deb -x "$deb" "$root"
cc -O2 -g -pthread -Wall -o "$root/echo_server" demos/echo_server.c || fail "cannot build demos/echo_server.c"
port=$((21000 + $$ % 8000))
env -u GOSHIM_PROCS -u GOSHIM_STACK -u GOSHIM_DEBUG -u GOSHIM_DUMP_SIGNAL \
	timeout -k 5 60 "$root/usr/bin/goshim" "$root/echo_server" "$port" >"$root/out" 2>&1 &
spid=$!
for _ in $(seq 50); do grep -q ready "$root/out" && break; sleep 0.1; done
grep -q ready "$root/out" || fail "the server did not start: $(cat "$root/out")"
pid=$(pgrep -P "$spid" -f echo_server | head -1)
[[ -n $pid ]] || fail "no server process under $spid"
grep -q "$root/usr/lib/$ma/goshim/libgoshim.so" "/proc/$pid/maps" || fail "the unpacked library is not mapped in the server"
exec 3<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to the server"
echo "hello goshim" >&3
read -r -t 10 line <&3
[[ $line == "hello goshim" ]] || fail "echo: got '$line'"
dump=$("$root/usr/bin/goshim" dump "$pid") || fail "goshim dump: exit $?"
[[ $(grep -c ' conn_main+' <<<"$dump") == 1 && $(grep -c '(main)$' <<<"$dump") == 1 ]] ||
	fail "dump: $(head -5 <<<"$dump")"
exec 3>&-
echo "deb: $want unpacked; the echo server ran under the unpacked command with its library, echoed, and was dumped: $(head -1 <<<"$dump")"
