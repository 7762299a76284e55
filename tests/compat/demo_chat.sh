# demo_chat.sh: the chat demo server (demos/chat_server.c, built by the runner as
# build/compat/demo_chat) driven by a deterministic scenario of clients; prints what
# the clients received, in an order that does not depend on scheduling, and checks
# every line against what the protocol says it must be.
#
# Usage: bash demo_chat.sh BUILT_BINARY   (the runner passes build/compat/demo_chat)
# Only the server is preloaded when the runner preloads: the client (a C program kept
# below, compiled into the binary's directory as demo_chat_client) and the tools run
# without LD_PRELOAD, so that a failure points at the server. The server gets a port
# in 31000-31999 picked from $$ (the next one if it is taken) and must print "ready".
#
# The scenario (the client's header comment has the details):
#   1. clients Z (the pinger), A, B, C connect one after another; each greeting is
#      printed. A greeted client is not yet subscribed (the server's writer sends the
#      greeting, then takes the lock to note where its client starts): Z sends
#      "ping <k>" lines until the new client got one, and every client drops Z's pings;
#   2. A, B and C talk, one step at a time, each step waiting until every other
#      client got the line(s): a plain line, CR LF, several lines in one write with an
#      empty one, a 1500-byte line (cut at 1024), a line sent in three writes;
#   3. C sends "bye" and half a line and shuts its side down: the others get "bye"
#      only, C sees the server close, and A and B go on;
#   4. X connects (small receive buffer) and stops reading while A sends 8000 lines of
#      1000 bytes, paced so that B (who reads) never falls behind; then X reads: the
#      first lines, one "*** missed N messages", then the last 1024 (the ring); only
#      the sums are printed, as the split depends on the socket buffers;
#   5. A, B, X leave; 50 clients connect, each sends 5 lines; each must get exactly
#      the 245 lines of the others, 5 from each in order, none of its own.
# Every wait has a 10 s limit: a hang fails the test (exit 1, the reason on stderr).
# shellcheck shell=bash
set -euo pipefail

bin=$1
preload=${LD_PRELOAD-}
unset LD_PRELOAD
dir=$(cd "$(dirname "$bin")" && pwd)
client=$dir/demo_chat_client

fail() {
	echo "demo_chat: FAIL: $*" >&2
	exit 1
}

tmp=$(mktemp -d /tmp/demo_chat.XXXXXX)
spid=""
cpid=""
cleanup() {
	# Only the processes this script started, by PID.
	local p
	for p in $cpid $spid; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

# ---- the client ------------------------------------------------------------------
cat > "$tmp/client.c" <<'EOF'
/* demo_chat_client PORT: the scenario of demo_chat.sh against a chat server on
 * 127.0.0.1:PORT. One thread, non-blocking sockets and poll(). Prints what the
 * clients received on stdout; any line other than the protocol's, or a wait longer
 * than 10 s, prints the reason on stderr and exits 1. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define STEP_MS 10000	/* the longest any wait may take */
#define RING 1024	/* LOG_SLOTS of the server */
#define CUT 1024	/* LINE_MAX_ of the server */
#define FLOOD 8000	/* lines A sends while X does not read */
#define FLOOD_LEN 1000	/* bytes of each, "\n" included */
#define CHUNK 100	/* lines sent before waiting for B to get them */
#define MANY 50		/* clients of the last step */
#define EACH 5		/* lines each of them sends */
#define MAXCL 64

struct cl {
	char name[8];
	int fd;			/* -1 once closed */
	unsigned long id;	/* from its greeting */
	int paused;		/* 1: not read (a client that does not read) */
	int eof;		/* 1 once the server closed its side */
	int discard;		/* 1: its lines are not kept (the pinger) */
	unsigned long long last_ping;	/* last of the pinger's lines it got */
	char *in;		/* a partial line */
	size_t inlen, incap;
	char **lines;		/* lines received and kept, without "\n" */
	size_t nlines, cap, shown;	/* lines[shown..] are new */
};

static struct cl *cls[MAXCL];
static int ncls;
static struct cl *pinger;
static unsigned long long pings;
static unsigned short port;

static void fail(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "demo_chat: FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (p == NULL)
		fail("out of memory");
	return p;
}

/* A line for printing: a run of 8 or more of one character becomes "{N*c}". */
static const char *shorten(const char *s)
{
	static char out[4096];
	size_t o = 0;

	while (*s && o < sizeof out - 32) {
		size_t r = 1;

		while (s[r] == s[0])
			r++;
		if (r >= 8) {
			o += (size_t)snprintf(out + o, sizeof out - o, "{%zu*%c}", r, s[0]);
		} else {
			memcpy(out + o, s, r);
			o += r;
		}
		s += r;
	}
	out[o] = '\0';
	return out;
}

/* One line received by c. The pinger's "ping <k>" lines only update last_ping. */
static void add_line(struct cl *c, const char *s)
{
	unsigned long long k;
	char want[64];

	if (pinger != NULL && c != pinger && sscanf(s, "%*u: ping %llu", &k) == 1) {
		snprintf(want, sizeof want, "%lu: ping %llu", pinger->id, k);
		if (strcmp(s, want) == 0) {
			if (k <= c->last_ping)
				fail("%s got '%s' after ping %llu", c->name, s, c->last_ping);
			c->last_ping = k;
			return;
		}
	}
	if (c->discard)
		return;
	if (c->nlines == c->cap) {
		c->cap = c->cap ? 2 * c->cap : 64;
		c->lines = realloc(c->lines, c->cap * sizeof *c->lines);
		if (c->lines == NULL)
			fail("out of memory");
	}
	c->lines[c->nlines++] = xstrdup(s);
}

/* Reads what c has; splits it into lines. */
static void on_readable(struct cl *c)
{
	char *p, *nl;
	ssize_t n;

	if (c->incap - c->inlen < 65536) {
		c->incap = c->inlen + 131072;
		c->in = realloc(c->in, c->incap);
		if (c->in == NULL)
			fail("out of memory");
	}
	n = read(c->fd, c->in + c->inlen, c->incap - c->inlen - 1);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0)
		fail("%s: read: %s", c->name, strerror(errno));
	if (n == 0) {
		if (c->inlen != 0)
			fail("%s: the connection ended within a line", c->name);
		c->eof = 1;
		return;
	}
	c->inlen += (size_t)n;
	c->in[c->inlen] = '\0';
	p = c->in;
	while ((nl = memchr(p, '\n', c->inlen - (size_t)(p - c->in))) != NULL) {
		*nl = '\0';
		if (memchr(p, '\0', (size_t)(nl - p)) != NULL)
			fail("%s: a NUL byte in a line", c->name);
		add_line(c, p);
		p = nl + 1;
	}
	c->inlen -= (size_t)(p - c->in);
	memmove(c->in, p, c->inlen);
}

/* Waits up to ms for input on every open client that reads (and for w, if not NULL,
 * to be writable); reads what came. */
static void pump(int ms, struct cl *w)
{
	struct pollfd p[MAXCL + 1];
	struct cl *who[MAXCL + 1];
	int n = 0, i, r;

	for (i = 0; i < ncls; i++) {
		struct cl *c = cls[i];
		int rd = c->fd >= 0 && !c->paused && !c->eof;

		if (c->fd < 0 || (!rd && c != w))
			continue;
		p[n].fd = c->fd;
		p[n].events = (short)((rd ? POLLIN : 0) | (c == w ? POLLOUT : 0));
		who[n++] = c;
	}
	r = poll(p, (nfds_t)n, ms);
	if (r < 0 && errno != EINTR)
		fail("poll: %s", strerror(errno));
	for (i = 0; r > 0 && i < n; i++)
		if ((p[i].revents & (POLLIN | POLLHUP | POLLERR)) && !who[i]->paused &&
		    !who[i]->eof)
			on_readable(who[i]);
}

/* Runs pump() until cond holds; fails after STEP_MS. The first argument after cond
 * is a string literal: what is awaited. */
#define WAIT_FOR(cond, ...)                                                  \
	do {                                                                 \
		long long dl_ = now_ms() + STEP_MS;                          \
		while (!(cond)) {                                            \
			long long t_ = now_ms();                             \
			if (t_ >= dl_)                                       \
				fail("waited 10 s for " __VA_ARGS__);        \
			pump((int)(dl_ - t_), NULL);                         \
		}                                                            \
	} while (0)

/* Sends len bytes from c, reading every client meanwhile. */
static void send_bytes(struct cl *c, const char *buf, size_t len)
{
	long long dl = now_ms() + STEP_MS;

	while (len > 0) {
		ssize_t w = write(c->fd, buf, len);

		if (w < 0 && errno != EAGAIN && errno != EINTR)
			fail("%s: write: %s", c->name, strerror(errno));
		if (w > 0) {
			buf += w;
			len -= (size_t)w;
			continue;
		}
		if (now_ms() >= dl)
			fail("%s: could not write for 10 s", c->name);
		pump((int)(dl - now_ms()) + 1, c);
	}
}

static void say(struct cl *c, const char *text, const char *shown)
{
	printf("%s sends %s\n", c->name, shown);
	send_bytes(c, text, strlen(text));
}

/* Connects a client and waits for its greeting ("welcome <id>"). */
static struct cl *open_client(const char *name, int rcvbuf)
{
	struct sockaddr_in sa;
	struct cl *c = calloc(1, sizeof *c);
	char want[64];

	if (c == NULL || ncls == MAXCL)
		fail("too many clients");
	snprintf(c->name, sizeof c->name, "%s", name);
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		fail("socket: %s", strerror(errno));
	if (rcvbuf > 0 && setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) != 0)
		fail("SO_RCVBUF: %s", strerror(errno));
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) != 0)
		fail("%s: connect: %s", name, strerror(errno));
	fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) | O_NONBLOCK);
	cls[ncls++] = c;
	WAIT_FOR(c->nlines >= 1 || c->eof, "%s's greeting", name);
	if (c->nlines != 1 || sscanf(c->lines[0], "welcome %lu", &c->id) != 1)
		fail("%s: the first line is '%s', not a greeting",
		     name, c->nlines ? c->lines[0] : "(none)");
	snprintf(want, sizeof want, "welcome %lu", c->id);
	if (strcmp(c->lines[0], want) != 0)
		fail("%s: the first line is '%s'", name, c->lines[0]);
	c->shown = 1;
	return c;
}

static void close_client(struct cl *c)
{
	close(c->fd);
	c->fd = -1;
}

/* Has every client of list[0..n) got the last ping? */
static int pinged(struct cl **list, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (list[i]->last_ping != pings)
			return 0;
	return 1;
}

/* Makes sure list[0..n) are subscribed: the pinger sends "ping <k>" until one of
 * them reached all of them within a round (100 ms, more after each miss). */
static void subscribe(struct cl **list, int n)
{
	long long dl = now_ms() + STEP_MS;
	int round;
	char buf[64];

	for (round = 1; ; round++) {
		long long rdl;

		if (now_ms() >= dl)
			fail("no ping reached %s and the others within 10 s", list[0]->name);
		snprintf(buf, sizeof buf, "ping %llu\n", ++pings);
		send_bytes(pinger, buf, strlen(buf));
		rdl = now_ms() + 100LL * round;
		while (!pinged(list, n) && now_ms() < rdl)
			pump((int)(rdl - now_ms()) + 1, NULL);
		if (pinged(list, n))
			return;
	}
}

/* Waits until c has n new lines, fails unless they are want[0..n), prints them. */
static void expect(struct cl *c, int n, char **want)
{
	int i;

	WAIT_FOR(c->nlines >= c->shown + (size_t)n, "%s to get %d line(s), has %zu",
		 c->name, n, c->nlines - c->shown);
	for (i = 0; i < n; i++) {
		const char *got = c->lines[c->shown + (size_t)i];

		printf("%s got: %s\n", c->name, shorten(got));
		if (strcmp(got, want[i]) != 0)
			fail("%s got '%s', want '%s'", c->name, got, want[i]);
	}
	c->shown += (size_t)n;
}

/* want[i] = "<id of from>: <text i>" */
static char **msgs(struct cl *from, int n, ...)
{
	static char *w[8];
	va_list ap;
	int i;

	va_start(ap, n);
	for (i = 0; i < n; i++) {
		const char *t = va_arg(ap, const char *);

		free(w[i]);
		if (asprintf(&w[i], "%lu: %s", from->id, t) < 0)
			fail("out of memory");
	}
	va_end(ap);
	return w;
}

/* The text of flood line k (1-based), "\n" not included. */
static void flood_text(char *buf, int k)
{
	int n = snprintf(buf, FLOOD_LEN, "f%05d ", k);

	memset(buf + n, 'y', (size_t)(FLOOD_LEN - 1 - n));
	buf[FLOOD_LEN - 1] = '\0';
}

/* Is s "<id>: <flood line k>"? Returns k, or 0 if s is not a flood line from id. */
static int flood_no(const char *s, unsigned long id)
{
	char want[FLOOD_LEN + 32];
	int k, n;

	n = snprintf(want, sizeof want, "%lu: f", id);
	if (strncmp(s, want, (size_t)n) != 0 || sscanf(s + n, "%5d", &k) != 1 || k < 1)
		return 0;
	flood_text(want + n - 1, k);
	return strcmp(s, want) == 0 ? k : 0;
}

/* Fails if c got lines not yet checked; then drops the lines kept. */
static void forget(struct cl *c)
{
	size_t i;

	if (c->nlines != c->shown)
		fail("%s got '%.60s' unexpectedly", c->name, c->lines[c->shown]);
	for (i = 0; i < c->nlines; i++)
		free(c->lines[i]);
	c->nlines = c->shown = 0;
}

int main(int argc, char **argv)
{
	struct cl *z, *a, *b, *c, *x, *many[MANY];
	char big[2048], line[CUT + 1], *w2[2];
	int i, k, j, missed_at = -1;
	unsigned long long missed = 0;

	if (argc != 2 || atoi(argv[1]) <= 0)
		fail("usage: demo_chat_client PORT");
	port = (unsigned short)atoi(argv[1]);
	setvbuf(stdout, NULL, _IOLBF, 0);

	/* 1. Greetings; each new client subscribed before the next connects. */
	z = open_client("Z", 0);
	z->discard = 1;
	pinger = z;
	printf("Z: welcome %lu (the pinger; its pings are not shown)\n", z->id);
	a = open_client("A", 0);
	subscribe(&a, 1);
	printf("A: welcome %lu\n", a->id);
	b = open_client("B", 0);
	subscribe(&b, 1);
	printf("B: welcome %lu\n", b->id);
	c = open_client("C", 0);
	subscribe(&c, 1);
	printf("C: welcome %lu\n", c->id);

	/* 2. Talk. */
	say(a, "hello from A\n", "\"hello from A\\n\"");
	expect(b, 1, msgs(a, 1, "hello from A"));
	expect(c, 1, msgs(a, 1, "hello from A"));
	say(b, "hi A\r\n", "\"hi A\\r\\n\"");
	expect(a, 1, msgs(b, 1, "hi A"));
	expect(c, 1, msgs(b, 1, "hi A"));
	say(c, "one\ntwo\n\nthree\n", "\"one\\ntwo\\n\\nthree\\n\" in one write");
	expect(a, 4, msgs(c, 4, "one", "two", "", "three"));
	expect(b, 4, msgs(c, 4, "one", "two", "", "three"));
	memset(big, 'x', 1500);
	big[1500] = '\n';
	big[1501] = '\0';
	say(a, big, "a line of 1500 x");
	memset(line, 'x', CUT);
	line[CUT] = '\0';
	if (asprintf(&w2[0], "%lu: %s", a->id, line) < 0 ||
	    asprintf(&w2[1], "%lu: %s", a->id, line + CUT - (1500 - CUT)) < 0)
		fail("out of memory");
	expect(b, 2, w2);
	expect(c, 2, w2);
	printf("B sends \"a line in \", \"three writes\", \"\\n\" in three writes\n");
	send_bytes(b, "a line in ", 10);
	pump(20, NULL);
	send_bytes(b, "three writes", 12);
	pump(20, NULL);
	send_bytes(b, "\n", 1);
	expect(a, 1, msgs(b, 1, "a line in three writes"));
	expect(c, 1, msgs(b, 1, "a line in three writes"));

	/* 3. C leaves, with half a line unsent. */
	say(c, "bye\nunterminated", "\"bye\\nunterminated\" and shuts its side down");
	if (shutdown(c->fd, SHUT_WR) != 0)
		fail("shutdown: %s", strerror(errno));
	expect(a, 1, msgs(c, 1, "bye"));
	expect(b, 1, msgs(c, 1, "bye"));
	WAIT_FOR(c->eof, "the server to close C's connection");
	if (c->nlines != c->shown)
		fail("C got '%s' before the end", c->lines[c->shown]);
	printf("C: the server closed the connection\n");
	close_client(c);
	say(a, "still here\n", "\"still here\\n\"");
	expect(b, 1, msgs(a, 1, "still here"));
	say(b, "me too\n", "\"me too\\n\"");
	expect(a, 1, msgs(b, 1, "me too"));

	/* 4. X does not read while A floods; B reads and must get everything. */
	forget(a);
	forget(b);
	x = open_client("X", 4096);
	subscribe(&x, 1);
	printf("X: welcome %lu (receive buffer 4 KiB)\n", x->id);
	x->paused = 1;
	printf("X stops reading; A sends %d lines of %d bytes, %d at a time, each time "
	       "waiting until B got them\n", FLOOD, FLOOD_LEN, CHUNK);
	{
		static char chunk[CHUNK * FLOOD_LEN];

		for (k = 1; k <= FLOOD; k += CHUNK) {
			for (i = 0; i < CHUNK; i++) {
				flood_text(chunk + i * FLOOD_LEN, k + i);
				chunk[i * FLOOD_LEN + FLOOD_LEN - 1] = '\n';
			}
			send_bytes(a, chunk, sizeof chunk);
			WAIT_FOR(b->nlines >= (size_t)(k + CHUNK - 1),
				 "B to get flood line %d, has %zu", k + CHUNK - 1, b->nlines);
			for (i = 0; i < CHUNK; i++)
				if (flood_no(b->lines[k - 1 + i], a->id) != k + i)
					fail("B got '%.60s...' for flood line %d",
					     b->lines[k - 1 + i], k + i);
		}
		b->shown = FLOOD;
		forget(b);
	}
	printf("B got the %d lines, in order\n", FLOOD);
	x->paused = 0;
	WAIT_FOR(x->nlines > x->shown && flood_no(x->lines[x->nlines - 1], a->id) == FLOOD,
		 "X to get flood line %d", FLOOD);
	/* X: f1..fj, "*** missed m messages", f(FLOOD-RING+1)..fFLOOD. */
	for (j = 0, i = (int)x->shown; i < (int)x->nlines; i++) {
		const char *s = x->lines[i];
		char want[64];

		if (strncmp(s, "*** missed ", 11) == 0) {
			if (missed_at >= 0)
				fail("X got a second '%s'", s);
			if (sscanf(s, "*** missed %llu messages", &missed) != 1)
				fail("X got '%s'", s);
			snprintf(want, sizeof want, "*** missed %llu messages", missed);
			if (strcmp(s, want) != 0 || missed == 0)
				fail("X got '%s'", s);
			missed_at = i;
			j = (int)(j + missed);
			continue;
		}
		if (flood_no(s, a->id) != ++j)
			fail("X got '%.60s...' as flood line %d", s, j);
	}
	if (missed_at < 0)
		fail("X got all %d lines without a '*** missed' line: the socket buffers "
		     "held the whole flood", FLOOD);
	if ((int)x->nlines - 1 - missed_at != RING)
		fail("X got %d lines after the missed line, want %d",
		     (int)x->nlines - 1 - missed_at, RING);
	printf("X reads: the first lines, one \"*** missed N messages\", then the last %d "
	       "(the server's ring); first + N + %d = %d\n", RING, RING, FLOOD);
	x->shown = x->nlines;
	forget(x);

	/* 5. Many clients at once. */
	forget(a);
	forget(b);
	close_client(a);
	close_client(b);
	close_client(x);
	printf("A, B and X disconnect\n");
	for (i = 0; i < MANY; i++) {
		char name[8];

		snprintf(name, sizeof name, "P%d", i);
		many[i] = open_client(name, 0);
		if (many[i]->id != many[0]->id + (unsigned long)i)
			fail("%s: welcome %lu after P0's %lu", name, many[i]->id, many[0]->id);
	}
	subscribe(many, MANY);
	printf("P0..P%d: welcome %lu..%lu\n", MANY - 1, many[0]->id, many[MANY - 1]->id);
	for (k = 0; k < EACH; k++)
		for (i = 0; i < MANY; i++) {
			char buf[32];

			snprintf(buf, sizeof buf, "p%d m%d\n", i, k);
			send_bytes(many[i], buf, strlen(buf));
		}
	printf("each of the %d sends %d lines \"p<i> m<k>\", all at once\n", MANY, EACH);
	for (i = 0; i < MANY; i++)
		WAIT_FOR(many[i]->nlines >= 1 + (size_t)(MANY - 1) * EACH,
			 "%s to get %d lines, has %zu", many[i]->name, (MANY - 1) * EACH,
			 many[i]->nlines - 1);
	send_bytes(z, "end\n", 4);
	for (i = 0; i < MANY; i++) {
		struct cl *p = many[i];
		int from[MANY] = { 0 };
		char want[64];
		size_t l;

		WAIT_FOR(p->nlines >= 1 + (size_t)(MANY - 1) * EACH + 1, "%s to get Z's end", p->name);
		for (l = 1; l < p->nlines - 1; l++) {
			int s, m;

			if (sscanf(p->lines[l], "%*u: p%d m%d", &s, &m) != 2 || s < 0 ||
			    s >= MANY || s == i)
				fail("%s got '%s'", p->name, p->lines[l]);
			snprintf(want, sizeof want, "%lu: p%d m%d", many[s]->id, s, from[s]);
			if (strcmp(p->lines[l], want) != 0)
				fail("%s got '%s', want '%s'", p->name, p->lines[l], want);
			from[s]++;
		}
		snprintf(want, sizeof want, "%lu: end", z->id);
		if (strcmp(p->lines[p->nlines - 1], want) != 0)
			fail("%s got '%s', want '%s'", p->name, p->lines[p->nlines - 1], want);
		if (p->nlines - 2 != (size_t)(MANY - 1) * EACH)
			fail("%s got %zu lines before Z's end", p->name, p->nlines - 2);
	}
	printf("each got exactly the %d lines of the other %d, %d from each in the order "
	       "sent, none of its own, then Z's \"end\"\n", (MANY - 1) * EACH, MANY - 1, EACH);
	for (i = 0; i < MANY; i++)
		close_client(many[i]);
	close_client(z);
	return 0;
}
EOF

# Built beside its final name and renamed, so a concurrent run never runs half a file.
cc -O2 -Wall -o "$client.$$" "$tmp/client.c" 2> "$tmp/cc.err" ||
	{ cat "$tmp/cc.err" >&2; rm -f "$client.$$"; fail "the client does not compile"; }
mv -f "$client.$$" "$client"

# ---- the server --------------------------------------------------------------------
run=()
if [ -n "$preload" ]; then
	run=(env "LD_PRELOAD=$preload")
fi
port=$((31000 + $$ % 1000))
ready=""
for ((try = 0; try < 20; try++)); do
	rm -f "$tmp/srv_out"
	mkfifo "$tmp/srv_out"
	"${run[@]}" "$bin" "$port" > "$tmp/srv_out" 2> "$tmp/srv_err" &
	spid=$!
	exec 5< "$tmp/srv_out"
	ready=""
	read -t 10 -r ready <&5 || true
	[ "$ready" = ready ] && break
	exec 5<&-
	if kill -0 "$spid" 2>/dev/null; then
		fail "the server did not say ready within 10 s"
	fi
	wait "$spid" 2>/dev/null || true
	spid=""
	grep -qi "address already in use" "$tmp/srv_err" ||
		{ cat "$tmp/srv_err" >&2; fail "the server exited at start"; }
	port=$((31000 + (port - 31000 + 1) % 1000))
done
[ "$ready" = ready ] || fail "no free port in 31000-31999 after 20 tries"
# ld.so only warns about a library it cannot preload: make sure the run is preloaded.
if [ "${GOSHIM_TEST_PRELOADED-}" = 1 ] &&
	! grep -qF "$(realpath "${preload%%:*}")" "/proc/$spid/maps"; then
	fail "the server does not have $preload mapped"
fi

# ---- the scenario ------------------------------------------------------------------
status=0
timeout -k 2 50 "$client" "$port" > "$tmp/client.out" 2> "$tmp/client.err" &
cpid=$!
wait "$cpid" || status=$?
cpid=""
cat "$tmp/client.out"
if [ "$status" -ne 0 ]; then
	cat "$tmp/client.err" >&2
	[ -s "$tmp/srv_err" ] && sed 's/^/server: /' "$tmp/srv_err" | head -5 >&2
	fail "the client exited with status $status"
fi
kill -0 "$spid" 2>/dev/null || fail "the server died during the scenario"
kill "$spid"
wait "$spid" 2>/dev/null || true
spid=""
echo "demo_chat: ok"
