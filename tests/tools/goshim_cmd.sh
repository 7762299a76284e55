#!/usr/bin/env bash
# goshim_cmd: the goshim command's interface (cmd/goshim.c), exit statuses and output:
#   --version: "goshim VERSION" (the file VERSION) on stdout, exit 0; --help and -h: the
#   usage on stdout, exit 0; an unknown option, a missing value, no program: one line and
#   the usage on stderr, nothing on stdout, exit 2; a program not found: one line, exit 127;
#   one that cannot be executed: one line, exit 126; a malformed -p: the library's line,
#   exit 2; -p/-s/-- reach the program as GOSHIM_PROCS/GOSHIM_STACK, the library is
#   mapped in it and LD_PRELOAD keeps what was there; the program's exit status and
#   arguments pass through.
set -uo pipefail
cd "$(dirname "$0")/../.."
GOSHIM=${GOSHIM:-$PWD/build/goshim}
tmp=$(mktemp -d /tmp/goshim_cmd.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
# check RC OUT_PATTERN ERR_PATTERN cmd...: '' as a pattern means "empty"
check() {
	local rc=$1 op=$2 ep=$3; shift 3
	"$@" >"$tmp/o" 2>"$tmp/e"
	local got=$? ok=1
	[[ $got == "$rc" ]] || ok=0
	if [[ -z $op ]]; then [[ ! -s $tmp/o ]] || ok=0; else grep -q -- "$op" "$tmp/o" || ok=0; fi
	if [[ -z $ep ]]; then [[ ! -s $tmp/e ]] || ok=0; else grep -q -- "$ep" "$tmp/e" || ok=0; fi
	if ((ok)); then
		echo "ok   goshim $*: exit $got"
	else
		echo "FAIL goshim_cmd: $*: exit $got (want $rc); stdout: $(head -2 "$tmp/o"); stderr: $(head -2 "$tmp/e")"
		fails=$((fails + 1))
	fi
}
check 0 "^goshim $(cat VERSION)\$" '' "$GOSHIM" --version
check 0 "^goshim $(cat VERSION)\$" '' "$GOSHIM" -V
check 0 '^usage: goshim \[-p PROCS\]' '' "$GOSHIM" --help
check 0 'goshim dump PID' '' "$GOSHIM" -h
check 2 '' '^usage: goshim' "$GOSHIM"
check 2 '' 'unknown option -x' "$GOSHIM" -x true
check 2 '' 'unknown option --bogus' "$GOSHIM" --bogus true
check 2 '' 'option -p needs a value' "$GOSHIM" -p
check 2 '' '^usage: goshim' "$GOSHIM" -p 2
check 127 '' '^goshim: no-such-program-here: No such file or directory$' "$GOSHIM" no-such-program-here
check 126 '' '^goshim: /etc/passwd: Permission denied$' "$GOSHIM" /etc/passwd
check 2 '' 'GOSHIM_PROCS=abc: expected an integer' "$GOSHIM" -p abc true
check 7 '^3 1M -x mapped$' '' "$GOSHIM" -p 3 -s 1M -- sh -c \
	'grep -q /libgoshim.so /proc/$$/maps && m=mapped; echo $GOSHIM_PROCS $GOSHIM_STACK $1 $m; exit 7' sh -x
check 0 '^kept$' '' env LD_PRELOAD=libm.so.6 "$GOSHIM" sh -c 'case $LD_PRELOAD in */libgoshim.so:libm.so.6) echo kept;; esac'
# A malformed setting gives exactly one line.
"$GOSHIM" -p abc true 2>"$tmp/e"
[[ $(wc -l <"$tmp/e") == 1 ]] || { echo "FAIL goshim_cmd: -p abc gave $(wc -l <"$tmp/e") lines"; fails=$((fails + 1)); }
"$GOSHIM" -x 2>"$tmp/e"
[[ $(wc -l <"$tmp/e") == 5 ]] || { echo "FAIL goshim_cmd: -x gave $(wc -l <"$tmp/e") lines, want the option's and the usage's 4"; fails=$((fails + 1)); }
((fails == 0)) && echo "goshim_cmd: all passed"
exit $((fails > 0))
