#!/usr/bin/env bash
# scripts/bench.sh: builds the benchmarks of bench/ into build/bench/, runs each
# natively, preloaded with the goshim library and (switch, spawn) its Go peer,
# all in the same run, and prints a side-by-side table with the ratios
# preloaded/native and preloaded/Go. Writes results/bench/bench.csv,
# results/bench/bench.json (with the date, kernel, CPU model and whether the
# kernel enabled FSGSBASE) and the bar chart results/bench/switch.png.
#
# Benchmarks report figures; nothing here judges them. A missing library or a
# failed preloaded run prints "preloaded: not built" and leaves its column empty.
#
# Environment:
#   GOSHIM_LIB     the library to preload (default $PWD/build/libgoshim.so,
#                  $PWD being the repository root)
#   BENCH_TIMEOUT  seconds allowed to each run (default 60)
#   CC             C compiler (default gcc)
set -euo pipefail

lib=${GOSHIM_LIB:-}
[[ -n $lib && $lib != /* ]] && lib=$PWD/$lib
cd "$(dirname "$0")/.."
root=$PWD
lib=${lib:-$root/build/libgoshim.so}
bin=$root/build/bench
res=$root/results/bench
timeout_s=${BENCH_TIMEOUT:-60}
cc=${CC:-gcc}
cflags=(-O2 -g -pthread -Wall)
mkdir -p "$bin" "$res"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0

# ---- build -------------------------------------------------------------------
for p in switch spawn tlsopt pthread_switch; do
	"$cc" "${cflags[@]}" -o "$bin/$p" "bench/$p.c" -ldl
done
have_go=0
if command -v go >/dev/null 2>&1; then
	have_go=1
	for p in switch spawn chan_switch; do
		GOCACHE=$root/build/gocache GOPATH=$root/build/gopath \
			go build -o "$bin/go_$p" "bench/go/$p.go"
	done
else
	echo "go: not installed, Go column left empty" >&2
fi

# ---- run ---------------------------------------------------------------------
# run NAME CMD...: runs CMD with a timeout, stdout to $tmp/NAME.out, stderr to
# $tmp/NAME.err; returns its exit status.
run() {
	local name=$1 rc=0
	shift
	echo "running $name" >&2
	timeout -k 5 "$timeout_s" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
	return "$rc"
}

# The preloaded runs go through env so that timeout itself is not preloaded.
pre_state="not built"
[[ -f $lib ]] && pre_state=ok
for p in switch spawn tlsopt; do
	run "native_$p" "$bin/$p" || {
		echo "native $p failed (exit $?):" >&2
		tail -n 5 "$tmp/native_$p.err" >&2
		status=1
	}
	if [[ -f $lib ]]; then
		procs=()
		[[ $p == switch ]] && procs=(GOSHIM_PROCS=1)
		run "pre_$p" env LD_PRELOAD="$lib" "${procs[@]}" "$bin/$p" || {
			rc=$?
			echo "preloaded: not built ($p exited $rc)" >&2
			tail -n 5 "$tmp/pre_$p.err" >&2
			: >"$tmp/pre_$p.out"
			pre_state=failed
		}
	fi
done
[[ $pre_state == "not built" ]] && echo "preloaded: not built ($lib missing)" >&2
if ((have_go)); then
	for p in switch spawn; do
		run "go_$p" "$bin/go_$p" || {
			echo "Go $p failed (exit $?):" >&2
			tail -n 5 "$tmp/go_$p.err" >&2
			status=1
		}
	done
fi

# The switch as a program measures it (bench/pthread_switch.c): no pinning, the
# default GOSHIM_PROCS, LD_PRELOAD only, 20 runs each, taken in turns with Go's
# channel hand-off at default GOMAXPROCS (bench/go/chan_switch.go), preloaded in
# the default mode and in each mode named; the median and the worst run of each.
# (Natively 3 runs: each takes seconds.)
SWITCH_RUNS=${SWITCH_RUNS:-20}
: >"$tmp/ps_native.all"
for ((r = 0; r < 3; r++)); do
	if run ps_native "$bin/pthread_switch"; then
		awk '$1 == "pthread_switch_ns" { print $2 }' "$tmp/ps_native.out" >>"$tmp/ps_native.all"
	fi
done
ps_modes=(default move=1 move=0 pinned=1)
for m in "${ps_modes[@]}" go; do : >"$tmp/ps_$m.all"; done
for ((r = 0; r < SWITCH_RUNS; r++)); do
	if [[ -f $lib ]]; then
		for m in "${ps_modes[@]}"; do
			dbg=()
			[[ $m != default ]] && dbg=(GOSHIM_DEBUG=$m)
			if run "ps_$m" env LD_PRELOAD="$lib" "${dbg[@]}" "$bin/pthread_switch"; then
				awk '$1 == "pthread_switch_ns" { print $2 }' "$tmp/ps_$m.out" >>"$tmp/ps_$m.all"
			fi
		done
	fi
	if ((have_go)) && run ps_go "$bin/go_chan_switch"; then
		awk '$1 == "chan_switch_ns" { print $2 }' "$tmp/ps_go.out" >>"$tmp/ps_go.all"
	fi
done
# stats FILE: "runs median worst" of the figures in FILE, or nothing.
stats() {
	sort -g "$1" | awk '{ v[NR] = $1 } END { if (NR) printf "%d %.1f %.1f", NR, (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR] }'
}
{
	echo "run,runs,median_ns,worst_ns"
	for m in native "${ps_modes[@]}" go; do
		read -r k med worst <<<"$(stats "$tmp/ps_$m.all")"
		echo "$m,${k:-0},$med,$worst"
	done
} >"$res/pthread_switch.csv"
printf '\npthread_switch (no pinning, default GOSHIM_PROCS / GOMAXPROCS), ns per switch:\n'
printf '%-28s %5s %10s %10s\n' run runs median worst
for m in native "${ps_modes[@]}" go; do
	read -r k med worst <<<"$(stats "$tmp/ps_$m.all")"
	label="preloaded, $m"
	[[ $m == default ]] && label="preloaded (default mode)"
	[[ $m == native ]] && label="native"
	[[ $m == go ]] && label="Go channel"
	printf '%-28s %5s %10s %10s\n' "$label" "${k:-0}" "${med:--}" "${worst:--}"
done

# get FILE KEY: the value of `KEY value` in $tmp/FILE.out, or nothing.
get() {
	[[ -f $tmp/$1.out ]] || return 0
	awk -v k="$2" '$1 == k && $2 ~ /^[0-9.]+$/ { print $2; exit }' "$tmp/$1.out"
}

# ratio A B: A/B with two decimals, or nothing when either is missing.
ratio() {
	[[ -n $1 && -n $2 ]] || return 0
	awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'
}

# ---- collect -----------------------------------------------------------------
# Each row: measure|C source|key in C output|Go source|key in Go output|Go peer.
rows=(
	"switch_ns|switch|switch_ns|go_switch|switch_ns|unbuffered channel, GOMAXPROCS=1"
	"switch_vs_gosched_ns|switch|switch_ns|go_switch|gosched_ns|runtime.Gosched, GOMAXPROCS=1"
	"spawn_join_ns|spawn|spawn_join_ns|go_spawn|spawn_join_ns|go func + WaitGroup"
	"spawn_batch_ns|spawn|spawn_batch_ns|go_spawn|spawn_batch_ns|10000 goroutines + WaitGroup"
	"tls_arch_prctl_ns|tlsopt|tls_arch_prctl_ns|||"
	"tls_wrfsbase_ns|tlsopt|tls_wrfsbase_ns|||"
	"tls_syscall_ns|tlsopt|tls_syscall_ns|||"
	"tls_copy_used_ns|tlsopt|tls_copy_used_ns|||"
	"tls_copy_static_ns|tlsopt|tls_copy_static_ns|||"
	"tls_used_bytes|tlsopt|tls_used_bytes|||"
	"tls_static_bytes|tlsopt|tls_static_bytes|||"
)

csv=$res/bench.csv
echo "measure,native,preloaded,go,preloaded_over_native,preloaded_over_go,go_peer" >"$csv"
json_rows=()
# json_num V: V or null.
json_num() { if [[ -n $1 ]]; then printf '%s' "$1"; else printf null; fi; }
# json_str S: S as a JSON string.
json_str() {
	local s=${1//\\/\\\\}
	s=${s//\"/\\\"}
	printf '"%s"' "$s"
}

printf '\n%-22s %12s %12s %12s %9s %9s  %s\n' measure native preloaded Go pre/nat pre/Go "Go peer"
for row in "${rows[@]}"; do
	IFS='|' read -r m csrc ckey gsrc gkey peer <<<"$row"
	nat=$(get "native_$csrc" "$ckey")
	pre=$(get "pre_$csrc" "$ckey")
	gov=""
	[[ -n $gsrc ]] && gov=$(get "$gsrc" "$gkey")
	rn=$(ratio "$pre" "$nat")
	rg=$(ratio "$pre" "$gov")
	printf '%-22s %12s %12s %12s %9s %9s  %s\n' "$m" "${nat:--}" "${pre:--}" \
		"${gov:--}" "${rn:--}" "${rg:--}" "$peer"
	echo "$m,$nat,$pre,$gov,$rn,$rg,\"$peer\"" >>"$csv"
	json_rows+=("$(printf '{"measure": %s, "native": %s, "preloaded": %s, "go": %s, "preloaded_over_native": %s, "preloaded_over_go": %s, "go_peer": %s}' \
		"$(json_str "$m")" "$(json_num "$nat")" "$(json_num "$pre")" "$(json_num "$gov")" \
		"$(json_num "$rn")" "$(json_num "$rg")" "$(json_str "$peer")")")
done
[[ $pre_state != ok ]] && echo "preloaded: not built"
if [[ -n $(get native_tlsopt fsgsbase) ]]; then
	grep -q '^wrfsbase unavailable' "$tmp/native_tlsopt.out" && echo "wrfsbase unavailable"
fi

# ---- bench.json --------------------------------------------------------------
fsg=$(get native_tlsopt fsgsbase)
case $fsg in 1) fsg=true ;; 0) fsg=false ;; *) fsg=null ;; esac
cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo)
gover=""
((have_go)) && gover=$(go version)
{
	printf '{\n'
	printf '  "date": %s,\n' "$(json_str "$(date -Iseconds)")"
	printf '  "kernel": %s,\n' "$(json_str "$(uname -r)")"
	printf '  "cpu_model": %s,\n' "$(json_str "$cpu")"
	printf '  "cpus": %s,\n' "$(nproc)"
	printf '  "fsgsbase": %s,\n' "$fsg"
	printf '  "glibc": %s,\n' "$(json_str "$(getconf GNU_LIBC_VERSION)")"
	printf '  "go": %s,\n' "$(json_str "$gover")"
	printf '  "goshim_lib": %s,\n' "$(json_str "$lib")"
	printf '  "preloaded": %s,\n' "$(json_str "$pre_state")"
	printf '  "results": [\n'
	for i in "${!json_rows[@]}"; do
		sep=,
		((i == ${#json_rows[@]} - 1)) && sep=
		printf '    %s%s\n' "${json_rows[$i]}" "$sep"
	done
	printf '  ]\n}\n'
} >"$res/bench.json"

# ---- switch.png --------------------------------------------------------------
dat=$res/switch.dat
{
	echo "# ns per switch (what bench.sh measured; missing bars were not measured)"
	for bar in "native_switch switch_ns pthreads (native)" \
		"pre_switch switch_ns goshim (GOSHIM_PROCS=1)" \
		"go_switch switch_ns Go channel" "go_switch gosched_ns Go Gosched"; do
		read -r src key label <<<"$bar"
		v=$(get "$src" "$key")
		if [[ -n $v ]]; then echo "\"$label\" $v"; fi
	done
} >"$dat"
nbars=$(grep -vc '^#' "$dat" || true)
if command -v gnuplot >/dev/null 2>&1 && ((nbars > 0)); then
	gnuplot <<-EOF
		set terminal pngcairo size 800,500 font "sans,10"
		set output "$res/switch.png"
		set title "ns per switch, two threads through mutex+cond on one core ($(date +%F))"
		set ylabel "ns per switch (log scale)"
		set logscale y
		set yrange [10:*]
		set style fill solid 0.6 border -1
		set boxwidth 0.6
		set xrange [-0.6:$nbars - 0.4]
		unset key
		set grid ytics
		plot "$dat" using 0:2:xtic(1) with boxes lc rgb "#4477aa", \
		     "" using 0:2:(sprintf("%.0f", \$2)) with labels offset 0,0.8
	EOF
else
	echo "gnuplot missing or nothing measured: no switch.png" >&2
fi
echo
echo "wrote $csv, $res/bench.json, $res/switch.png"
exit "$status"
