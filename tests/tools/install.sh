#!/usr/bin/env bash
# install: `make install DESTDIR=D PREFIX=/usr/local` puts exactly the library, the command
# and the man page under D; the installed command runs a program with the installed library
# (found relative to the command: D/usr/local/lib/goshim/libgoshim.so is mapped) and prints
# the version; `make uninstall DESTDIR=D` leaves D empty.
set -uo pipefail
cd "$(dirname "$0")/../.."
d=$(mktemp -d /tmp/goshim_install.XXXXXX)
trap 'rm -rf "$d"' EXIT
fail() { echo "FAIL install: $*"; exit 1; }
make -s install DESTDIR="$d" PREFIX=/usr/local >/dev/null || fail "make install: exit $?"
files=$(cd "$d" && find . -type f | sort | tr '\n' ' ')
want="./usr/local/bin/goshim ./usr/local/lib/goshim/libgoshim.so ./usr/local/share/man/man1/goshim.1 "
[[ $files == "$want" ]] || fail "installed: $files, want $want"
got=$("$d/usr/local/bin/goshim" sh -c 'grep -c "'"$d"'/usr/local/lib/goshim/libgoshim.so" /proc/$$/maps')
((got > 0)) || fail "the installed command did not preload the installed library"
[[ $("$d/usr/local/bin/goshim" --version) == "goshim $(cat VERSION)" ]] || fail "installed --version"
make -s uninstall DESTDIR="$d" PREFIX=/usr/local >/dev/null || fail "make uninstall: exit $?"
left=$(cd "$d" && find . -mindepth 1 | tr '\n' ' ')
[[ -z $left ]] || fail "make uninstall left: $left"
echo "install: make install DESTDIR put $files; the installed command preloads the installed library; make uninstall left the directory empty"
