#!/usr/bin/env bash
# man_page: man/goshim.1 renders without a warning (groff -man -ww -z, and man -l when
# man is installed), documents every GOSHIM_ variable the library reads and every option
# the command takes, and carries the version in the file VERSION. Without groff that check
# is skipped: exit 77 (a skip for scripts/test.sh) if nothing else failed.
set -uo pipefail
cd "$(dirname "$0")/../.."
fails=0
skipped=0
fail() { echo "FAIL man_page: $*"; fails=$((fails + 1)); }
if command -v groff >/dev/null; then
	w=$(groff -man -ww -z man/goshim.1 2>&1)
	[[ -z $w ]] || fail "groff warns: $w"
else
	echo "SKIP man_page: groff is not installed"
	skipped=1
fi
if command -v man >/dev/null; then
	w=$(MANWIDTH=80 man --warnings -l man/goshim.1 2>&1 >/dev/null)
	[[ -z $w ]] || fail "man -l warns: $w"
fi
for v in $(grep -ohE '"GOSHIM_[A-Z_]+"' sched/*.c shim/*.c | tr -d '"' | sort -u); do
	grep -q "^\.B $v\$" man/goshim.1 || fail "$v is not documented under ENVIRONMENT"
done
for o in '\-p' '\-s' '\-\-help' '\-\-version' '\-\-json' '\-\-watch' 'goshim dump' 'goshim stat'; do
	grep -qF -- "$o" man/goshim.1 || fail "the option $o is not documented"
done
grep -q "\"goshim $(cat VERSION)\"" man/goshim.1 || fail "the .TH line does not carry version $(cat VERSION)"
((fails == 0 && skipped == 0)) && echo "man_page: renders without warnings; every GOSHIM_ variable and option documented"
((fails > 0 || skipped == 0)) || exit 77
exit $((fails > 0))
