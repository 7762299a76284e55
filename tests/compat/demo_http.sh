# demo_http.sh: checks demos/http_server.c (built as the test binary by way of
# demo_http.c) over real connections on 127.0.0.1.
#
# Usage: bash demo_http.sh BUILT_BINARY   (the runner passes build/compat/demo_http)
# Makes a docroot (index.html, a.txt, big.txt of 100 KiB of known bytes,
# sub/index.html), starts "BINARY PORT DOCROOT" on a port in 30000-30999 picked
# from $$ (the next one if the bind fails), waits for its "ready", and then,
# speaking through bash's /dev/tcp only (no curl or nc needed), prints in a
# fixed order each response's status line, its headers but Date, and the size
# and cksum of its body, for: GET /, GET /a.txt, HEAD /a.txt, GET /big.txt,
# GET /sub/, two pipelined requests on one connection, one connection kept
# alive for three requests, HTTP/1.0 without keep-alive, GET /../etc/passwd,
# GET /missing, a POST, a chunked request, a malformed request line and a
# header block of 8192 bytes (the server's REQSZ) that never ends; after each
# exchange meant to end the connection it prints whether the server closed it.
# Then 200 connections, all open at once, each do 5 keep-alive GETs; only the
# count of correct responses is printed. The runner compares all of it with
# the native run; the script also checks status codes and bodies itself and
# exits 1 on a wrong one, so the native run is a test too.
# Only the server is preloaded (when the runner preloads): the shell and its
# tools run without LD_PRELOAD. Every read has a timeout (T seconds), so a hung
# server fails the test instead of blocking it. The server is killed and
# waited for at the end.
set -euo pipefail
export LC_ALL=C	# read -N counts bytes

bin=$1
preload=${LD_PRELOAD-}
unset LD_PRELOAD
T=10		# seconds any one read may wait
CONNS=200	# concurrent connections
REQS=5		# keep-alive requests on each

tmp=$(mktemp -d /tmp/demo_http.XXXXXX)
spid=""
cpids=()
cleanup() {
	local p
	for p in "${cpids[@]}"; do kill "$p" 2>/dev/null || true; done
	if [ -n "$spid" ]; then
		kill "$spid" 2>/dev/null || true
		wait "$spid" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

bad=0
fail() {
	echo "demo_http: FAIL: $*" >&2
	head -n 5 "$tmp/server.err" | sed 's/^/demo_http:   server: /' >&2 || true
	exit 1
}
# check WHAT GOT WANT: counts a wrong result (the output shows it anyway).
check() {
	if [ "$2" != "$3" ]; then
		echo "demo_http: wrong $1: got '$2', want '$3'" >&2
		bad=$((bad + 1))
	fi
}

# ---- docroot -------------------------------------------------------------------
www=$tmp/www
mkdir -p "$www/sub"
printf '<!doctype html>\n<title>demo_http</title>\n<p>the index</p>\n' > "$www/index.html"
printf 'hello from a.txt\n' > "$www/a.txt"
printf '<p>the index of sub/</p>\n' > "$www/sub/index.html"
# 100 KiB of known text: numbered lines, cut at 102400 bytes (no NUL bytes).
awk 'BEGIN { for (i = 0; i < 4500; i++) printf "line %06d of big.txt\n", i }' > "$www/big.txt"
truncate -s 102400 "$www/big.txt"
cksum_of() { cksum < "$1" | cut -d' ' -f1; }

# ---- server --------------------------------------------------------------------
run=()
[ -n "$preload" ] && run=(env "LD_PRELOAD=$preload")
port=$((30000 + $$ % 1000))
for ((try = 0; try < 20; try++)); do
	: > "$tmp/server.out"	# exists before the child opens it: polled at once
	"${run[@]}" "$bin" "$port" "$www" > "$tmp/server.out" 2> "$tmp/server.err" &
	spid=$!
	for ((i = 0; i < 200; i++)); do
		[ "$(head -c 6 "$tmp/server.out")" = "ready" ] && break 2
		kill -0 "$spid" 2>/dev/null || break
		sleep 0.05
	done
	kill -0 "$spid" 2>/dev/null && fail "the server is not ready after 10 s"
	wait "$spid" 2>/dev/null || true
	spid=""
	grep -qi "address already in use" "$tmp/server.err" || fail "the server exited at start"
	port=$((30000 + (port - 30000 + 1) % 1000))
done
[ -n "$spid" ] || fail "no free port in 30000-30999"
echo "server ready"

# ---- one exchange at a time ---------------------------------------------------------
fd=""
conn() { exec {fd}<>"/dev/tcp/127.0.0.1/$port" || fail "cannot connect to port $port"; }
hangup() { exec {fd}>&-; fd=""; }
send() { printf '%b' "$1" >&"$fd" || echo "  (send failed)"; }

# response [head]: reads one response from $fd and prints it; sets status and
# body_ck (the body's cksum, "" if none). Returns 1 if it did not come whole.
status="" body_ck=""
response() {
	local line len=0 rc=0
	status="" body_ck=""
	IFS= read -r -t "$T" line <&"$fd" || rc=$?
	if ((rc != 0)); then
		if ((rc > 128)); then echo "  no response: timeout"; else echo "  no response: closed"; fi
		return 1
	fi
	line=${line%$'\r'}
	echo "  $line"
	status=${line#* }
	status=${status%% *}
	while :; do
		IFS= read -r -t "$T" line <&"$fd" || { echo "  headers cut short"; return 1; }
		line=${line%$'\r'}
		[ -z "$line" ] && break
		case ${line,,} in
		date:*) continue ;;
		content-length:*) len=${line#*:}; len=${len//[ 	]/} ;;
		esac
		echo "  $line"
	done
	[ "${1-}" = head ] && return 0
	# head -c N never reads past N bytes, so a pipelined next response stays.
	timeout "$T" head -c "$len" <&"$fd" > "$tmp/body" || true
	body_ck=$(cksum_of "$tmp/body")
	echo "  body: $(wc -c < "$tmp/body") bytes, cksum $body_ck"
	if (($(wc -c < "$tmp/body") != len)); then
		echo "  body cut short"
		body_ck="short:$body_ck"
		return 1
	fi
}

# closed: prints whether the server has closed $fd (after a response meant to
# end the connection), then closes our end.
closed() {
	local x rc=0
	IFS= read -r -t "$T" -N 1 x <&"$fd" || rc=$?
	if ((rc == 0)); then
		echo "  more bytes after the response"; check "end of connection" more closed
	elif ((rc > 128)); then
		echo "  connection still open after ${T} s"; check "end of connection" open closed
	else
		echo "  connection closed by the server"
	fi
	hangup
}

# exchange NAME REQUEST WANT_STATUS [FILE [head]]: one request on a fresh
# connection (FILE: what the body must be; head: the response has none), after
# which the server must close the connection.
exchange() {
	echo "$1"
	conn
	send "$2"
	response "${5-}" || true
	check "status of $1" "$status" "$3"
	[ -n "${4-}" ] && check "body of $1" "$body_ck" "$(cksum_of "$4")"
	closed
}

H='Host: 127.0.0.1\r\n'
C='Connection: close\r\n'
exchange "GET /" "GET / HTTP/1.1\r\n$H$C\r\n" 200 "$www/index.html"
exchange "GET /a.txt" "GET /a.txt HTTP/1.1\r\n$H$C\r\n" 200 "$www/a.txt"
exchange "HEAD /a.txt" "HEAD /a.txt HTTP/1.1\r\n$H$C\r\n" 200 "" head
exchange "GET /big.txt (100 KiB)" "GET /big.txt HTTP/1.1\r\n$H$C\r\n" 200 "$www/big.txt"
exchange "GET /sub/" "GET /sub/ HTTP/1.1\r\n$H$C\r\n" 200 "$www/sub/index.html"

echo "two pipelined requests in one write"
conn
send "GET /a.txt HTTP/1.1\r\n$H\r\nGET /sub/ HTTP/1.1\r\n$H$C\r\n"
response || true
check "status of pipelined 1" "$status" 200
check "body of pipelined 1" "$body_ck" "$(cksum_of "$www/a.txt")"
response || true
check "status of pipelined 2" "$status" 200
check "body of pipelined 2" "$body_ck" "$(cksum_of "$www/sub/index.html")"
closed

echo "one connection kept alive for three requests"
conn
for path in / /a.txt /big.txt; do
	extra=""
	[ "$path" = /big.txt ] && extra=$C
	echo " request $path"
	send "GET $path HTTP/1.1\r\n$H$extra\r\n"
	response || true
	check "status of keep-alive $path" "$status" 200
done
check "body of keep-alive /big.txt" "$body_ck" "$(cksum_of "$www/big.txt")"
closed

exchange "HTTP/1.0 GET /a.txt without keep-alive" "GET /a.txt HTTP/1.0\r\n\r\n" 200 "$www/a.txt"
exchange "GET /../etc/passwd" "GET /../etc/passwd HTTP/1.1\r\n$H\r\n" 400
exchange "GET /sub/%2e%2e/%2e%2e/etc/passwd" "GET /sub/%2e%2e/%2e%2e/etc/passwd HTTP/1.1\r\n$H\r\n" 400
exchange "GET /missing" "GET /missing HTTP/1.1\r\n$H$C\r\n" 404
exchange "POST /a.txt with a body" \
	"POST /a.txt HTTP/1.1\r\n${H}Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello" 405
exchange "POST /a.txt chunked" "POST /a.txt HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n" 501
exchange "malformed request line" "GARBAGE\r\n\r\n" 400
# Exactly REQSZ (8192) bytes and no blank line: the server reads them all and
# answers 413 (sending more would leave unread bytes and make its close a RST).
big="GET / HTTP/1.1\r\n${H}X-Filler: "
filler=$(head -c 8192 /dev/zero | tr '\0' 'f')
big=$big${filler:0:$((8192 - 16 - 17 - 10))}
exchange "header block of 8192 bytes without an end" "$big" 413

# ---- many connections at once -------------------------------------------------------
echo "$CONNS connections at once, $REQS keep-alive GETs of /a.txt each"
want=$(cat "$www/a.txt")$'\n'
# A start barrier: the clients wait on this FIFO until its last writer (this
# shell, opened read-write so that nobody blocks in open) closes it.
mkfifo "$tmp/go"
exec 9<> "$tmp/go"
client() {	# client I: prints the number of correct responses to $tmp/ok.I
	local cfd ok=0 r line len body x
	exec 9>&-
	exec {cfd}<>"/dev/tcp/127.0.0.1/$port" || { echo 0 > "$tmp/ok.$1"; return; }
	: > "$tmp/up.$1"
	IFS= read -r -t 30 x < "$tmp/go" || true
	for ((r = 1; r <= REQS; r++)); do
		printf 'GET /a.txt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n' >&"$cfd" || break
		IFS= read -r -t "$T" line <&"$cfd" || break
		[ "$line" = $'HTTP/1.1 200 OK\r' ] || break
		len=-1
		while IFS= read -r -t "$T" line <&"$cfd"; do
			line=${line%$'\r'}
			[ -z "$line" ] && break
			case ${line,,} in content-length:*) len=${line#*: } ;; esac
		done
		[ "$len" -ge 0 ] || break
		IFS= read -r -t "$T" -N "$len" body <&"$cfd" || break
		[ "$body" = "$want" ] && ok=$((ok + 1))
	done
	exec {cfd}>&-
	echo "$ok" > "$tmp/ok.$1"
}
for ((i = 0; i < CONNS; i++)); do
	client "$i" &
	cpids+=($!)
done
# Wait (bounded) until every client is connected and the server holds all
# the connections (natively a thread each, preloaded a green thread each).
for ((i = 0; i < 400; i++)); do
	up=("$tmp"/up.*)
	[ -e "${up[0]}" ] || up=()
	socks=$(find "/proc/$spid/fd" -lname 'socket:*' 2>/dev/null | wc -l)
	((${#up[@]} >= CONNS && socks >= CONNS + 1)) && break
	kill -0 "$spid" 2>/dev/null || break
	sleep 0.05
done
if ((${#up[@]} >= CONNS && socks >= CONNS + 1)); then
	echo "  all $CONNS connections open at once"
else
	echo "  only ${#up[@]} clients connected, the server holds $((socks - 1)) connections"
	bad=$((bad + 1))
fi
exec 9>&-	# go
for p in "${cpids[@]}"; do wait "$p" || true; done
cpids=()
total=0
for ((i = 0; i < CONNS; i++)); do
	n=$(cat "$tmp/ok.$i" 2>/dev/null || echo 0)
	total=$((total + n))
done
echo "  correct responses: $total of $((CONNS * REQS))"
check "correct concurrent responses" "$total" $((CONNS * REQS))

# ---- end -----------------------------------------------------------------------
if kill -0 "$spid" 2>/dev/null; then
	echo "server still running at the end"
else
	echo "server died during the test"
	bad=$((bad + 1))
fi
kill "$spid" 2>/dev/null || true
wait "$spid" 2>/dev/null || true
spid=""
((bad == 0)) || fail "$bad wrong results (see above)"
echo "demo_http: ok"
