/*
 * chatload.c: an epoll load generator for the chat servers (demos/chat_server.c
 * and demos/peers/chat.go), one thread, one epoll set, up to about 19000
 * connections.
 *
 * usage: chatload HOST PORT N SECONDS
 *
 * Opens N (at least 2) TCP connections to HOST:PORT the way loadgen does,
 * with the same code (demos/loadcommon.c: batches of CHATLOAD_BATCH,
 * default 256, non-blocking connects, retrying EAGAIN, ECONNREFUSED,
 * ETIMEDOUT, ECONNRESET, EADDRNOTAVAIL or a connect stuck for 10 s with a
 * growing pause, up to 40 rounds per batch; SO_LINGER 0 so that closing
 * leaves no TIME_WAIT behind), then reads every connection's "welcome <id>"
 * line to learn its id.
 *
 * A greeted client is not yet subscribed: the server's writer sends the
 * greeting and only then takes the log lock to note where its client starts,
 * so a message appended in between is never sent to that client. Hence a
 * sync phase: the first connection sends "s <k>" (k = 1, 2, ...) until one
 * such line reaches every other connection within a second of being sent;
 * from then on every connection sees every message, and no sync line is
 * still on its way.
 *
 * Then, for SECONDS, exactly one broadcast is in flight: a sender (round
 * robin over the connections) writes "b <seq> <send time in ns>\n", and the
 * next broadcast starts when every other connection has received
 * "<sender id>: b <seq> <time>\n". Any other line (a malformed one, one from
 * the wrong sender, with the wrong sequence number or time, a repeat, the
 * sender's own line coming back, a "*** missed N messages" notice) counts as
 * a mismatch. A broadcast that does not complete within 10 s is an error and
 * ends the run; a connection that closes or fails is an error and is left
 * out from then on. The broadcast in flight when SECONDS run out is
 * completed and counted. Prints one line of key=value fields:
 *
 *   chat conns= seconds= broadcasts= broadcasts_per_s= deliveries_per_s=
 *        p50_us= p99_us= p999_us= max_us= mismatches= errors=
 *
 * Latency is from the send to the last receiver getting it (the broadcast's
 * completion), in microseconds, counted exactly up to about 4 s; deliveries
 * are lines received (N - 1 per broadcast). Progress lines go to stderr, the
 * last before the measured phase being "chatload: measuring for S s".
 *
 * Exit status: 0 if all N connected and subscribed and there was no mismatch
 * and no error; 1 otherwise; 2 for a usage error.
 *
 * Build: cc -O2 -g -pthread -Wall -o chatload demos/chatload.c demos/loadcommon.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "loadcommon.h"

#define MAXEV 512
#define INBUF 256		/* longest line expected, with room to spare */
#define STALL_NS 10000000000ull	/* 10 s: a step that makes no progress this long fails */
#define SYNC_ROUND_NS 1000000000ull	/* a sync line must reach everyone within 1 s */

/* One client connection. */
struct conn {
	int fd;			/* the socket, -1 when closed or not yet open */
	int dead;		/* 1 once it failed or closed after being up */
	int out;		/* 1 while EPOLLOUT is armed */
	unsigned long id;	/* from its "welcome <id>" line, 0 before */
	uint64_t last;		/* sync: last k received; run: last seq received + 1 */
	unsigned inlen;		/* bytes of a partial line in in[] */
	char in[INBUF];
};

enum phase { WELCOME, SYNC, RUN };

static struct conn *conns;
static int nconns, live;
static enum phase phase;

static unsigned long long mismatches, deliveries;
static int errors, welcomed;

/* The broadcast (or sync line) in flight. */
static int sender = -1;		/* index of the connection that sent it */
static uint64_t cur;		/* its sequence number (sync: k) */
static uint64_t cur_t0;		/* its send time, ns */
static int pending;		/* live receivers that have not got it yet */
static char outbuf[64];		/* what is left to write of it */
static size_t outlen, outoff;

static void watch(int i, int op, unsigned events)
{
	load_watch(conns[i].fd, (uint32_t)i, op, events);
}

/* Takes connection i out: an error, closed, no longer a receiver or sender. */
static void kill_conn(int i, const char *why)
{
	struct conn *c = &conns[i];

	if (c->dead)
		return;
	if (errors < 5)
		fprintf(stderr, "chatload: connection %d (id %lu): %s\n", i, c->id, why);
	errors++;
	c->dead = 1;
	close(c->fd);
	c->fd = -1;
	live--;
	/* A receiver that had not got the line in flight will not get it now. */
	if (sender >= 0 && i != sender && phase != WELCOME &&
	    (phase == RUN ? c->last != cur + 1 : c->last != cur))
		pending--;
	if (i == sender)
		outlen = outoff = 0;
}

/* Writes what is left of the line in flight; arms EPOLLOUT while some is. */
static void flush_out(void)
{
	struct conn *c = &conns[sender];
	ssize_t w;

	if (c->dead || outoff == outlen)
		return;
	w = write(c->fd, outbuf + outoff, outlen - outoff);
	if (w < 0 && errno != EAGAIN && errno != EINTR) {
		kill_conn(sender, "write failed");
		return;
	}
	if (w > 0)
		outoff += (size_t)w;
	/* One epoll_ctl per line would be wasted: arm EPOLLOUT only while a
	 * line is partly written. */
	if ((outoff < outlen) != c->out) {
		c->out = outoff < outlen;
		watch(sender, EPOLL_CTL_MOD, c->out ? EPOLLIN | EPOLLRDHUP | EPOLLOUT
						    : EPOLLIN | EPOLLRDHUP);
	}
}

/* Starts a line from connection i: "s <k>" in the sync phase, else a broadcast. */
static void send_line(int i)
{
	int r;

	sender = i;
	cur_t0 = now_ns();
	if (phase == SYNC)
		r = snprintf(outbuf, sizeof outbuf, "s %" PRIu64 "\n", cur);
	else
		r = snprintf(outbuf, sizeof outbuf, "b %" PRIu64 " %" PRIu64 "\n", cur, cur_t0);
	outlen = (size_t)r;
	outoff = 0;
	pending = live - 1;
	flush_out();
}

/* One complete line (without its "\n") received on connection i. */
static void on_line(int i, const char *line)
{
	struct conn *c = &conns[i];
	unsigned long id;
	uint64_t k;
	char want[96];
	int n, ok;

	switch (phase) {
	case WELCOME:
		ok = c->id == 0 && sscanf(line, "welcome %lu", &id) == 1 && id != 0;
		if (ok) {
			snprintf(want, sizeof want, "welcome %lu", id);
			ok = strcmp(line, want) == 0;
		}
		if (ok) {
			c->id = id;
			welcomed++;
		} else {
			mismatches++;
		}
		return;
	case SYNC:
		/* Lines "<id0>: s <k>", k increasing, none beyond the one in flight. */
		n = snprintf(want, sizeof want, "%lu: s ", conns[0].id);
		ok = 0;
		if (i != 0 && strncmp(line, want, (size_t)n) == 0 &&
		    sscanf(line + n, "%" SCNu64, &k) == 1) {
			snprintf(want + n, sizeof want - (size_t)n, "%" PRIu64, k);
			ok = strcmp(line, want) == 0 && k > c->last && k <= cur;
		}
		if (ok) {
			c->last = k;
			if (k == cur)
				pending--;
		} else {
			if (mismatches < 5)
				fprintf(stderr, "chatload: connection %d (id %lu) got '%s' "
					"while subscribing\n", i, c->id, line);
			mismatches++;
		}
		return;
	case RUN:
		id = sender >= 0 ? conns[sender].id : 0;
		snprintf(want, sizeof want, "%lu: b %" PRIu64 " %" PRIu64, id, cur, cur_t0);
		if (i != sender && c->last != cur + 1 && strcmp(line, want) == 0) {
			c->last = cur + 1;
			pending--;
			deliveries++;
		} else {
			if (mismatches < 5)
				fprintf(stderr, "chatload: connection %d (id %lu) got '%s' "
					"while broadcast %" PRIu64 " from id %lu is in flight\n",
					i, c->id, line, cur, id);
			mismatches++;
		}
		return;
	}
}

/* Handles one epoll event of connection i. */
static void on_event(int i, unsigned events)
{
	struct conn *c = &conns[i];
	ssize_t r;
	char *p, *nl;

	if (c->dead)
		return;
	if ((events & EPOLLOUT) && i == sender)
		flush_out();
	if (c->dead || !(events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
		return;
	r = read(c->fd, c->in + c->inlen, sizeof c->in - 1 - c->inlen);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		kill_conn(i, r == 0 ? "closed by the server" : "read failed");
		return;
	}
	c->inlen += (unsigned)r;
	c->in[c->inlen] = '\0';
	p = c->in;
	while ((nl = memchr(p, '\n', c->inlen - (size_t)(p - c->in))) != NULL) {
		*nl = '\0';
		on_line(i, p);
		p = nl + 1;
	}
	c->inlen -= (unsigned)(p - c->in);
	memmove(c->in, p, c->inlen);
	if (c->inlen == sizeof c->in - 1) {
		/* No line is this long: malformed; drop it. */
		mismatches++;
		c->inlen = 0;
	}
}

/*
 * Runs the event loop until done() is true, nothing has happened for
 * STALL_NS or, if limit is not 0, until the clock passes limit. Returns 0 if
 * done() became true.
 */
static int loop_until(int (*done)(void), uint64_t limit)
{
	struct epoll_event evs[MAXEV];
	uint64_t last_progress = now_ns();

	while (!done()) {
		uint64_t t = now_ns(), until = last_progress + STALL_NS;
		int n, k;

		if (stop || live < 2)
			return -1;
		if (limit != 0 && limit < until)
			until = limit;
		if (t >= until)
			return -1;
		n = epoll_wait(epfd, evs, MAXEV, (int)((until - t) / 1000000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		if (n > 0)
			last_progress = now_ns();
		for (k = 0; k < n; k++)
			on_event((int)evs[k].data.u32, evs[k].events);
	}
	return 0;
}

static int all_welcomed(void) { return welcomed + (nconns - live) >= nconns; }
static int line_done(void) { return pending <= 0 && outoff == outlen; }

static void run(double seconds)
{
	static struct latency lat;	/* lat.n: broadcasts completed */
	struct epoll_event evs[MAXEV];
	uint64_t t_start, t_end;
	unsigned p50, p99, p999;
	int i, next = 0, rounds;
	double el;

	latency_init(&lat);

	/* Greetings. */
	for (i = 0; i < nconns; i++)
		watch(i, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
	phase = WELCOME;
	if (loop_until(all_welcomed, 0) != 0 || welcomed < nconns || mismatches != 0) {
		fprintf(stderr, "chatload: %d of %d connections greeted (%llu bad lines)\n",
			welcomed, nconns, mismatches);
		exit(1);
	}
	fprintf(stderr, "chatload: %d greetings\n", welcomed);

	/* Subscription: see the header comment. */
	phase = SYNC;
	for (rounds = 1; ; rounds++) {
		uint64_t t = now_ns();

		if (conns[0].dead || rounds > 20 || stop) {
			fprintf(stderr, "chatload: could not get a line to every connection "
				"in %d rounds\n", rounds - 1);
			exit(1);
		}
		cur = (uint64_t)rounds;
		send_line(0);
		if (loop_until(line_done, t + SYNC_ROUND_NS) == 0)
			break;
	}
	if (mismatches != 0 || errors != 0) {
		fprintf(stderr, "chatload: %llu bad lines, %d errors while subscribing\n",
			mismatches, errors);
		exit(1);
	}
	fprintf(stderr, "chatload: subscribed after %d sync round%s\n", rounds,
		rounds == 1 ? "" : "s");
	fprintf(stderr, "chatload: measuring for %g s\n", seconds);

	/* The measured broadcasts. */
	phase = RUN;
	for (i = 0; i < nconns; i++)
		conns[i].last = 0;
	cur = 0;
	t_start = now_ns();
	t_end = t_start + (uint64_t)(seconds * 1e9);
	while (!stop && live >= 2) {
		uint64_t t;

		while (conns[next].dead)
			next = (next + 1) % nconns;
		send_line(next);
		next = (next + 1) % nconns;
		while (!line_done() && !stop && live >= 2) {
			int n, k;

			t = now_ns();
			if (t - cur_t0 >= STALL_NS) {
				fprintf(stderr, "chatload: broadcast %" PRIu64 " from id %lu: "
					"%d receivers still waiting after 10 s\n",
					cur, conns[sender].id, pending);
				errors++;
				stop = 1;
				break;
			}
			n = epoll_wait(epfd, evs, MAXEV,
				       (int)((cur_t0 + STALL_NS - t) / 1000000) + 1);
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("epoll_wait");
			for (k = 0; k < n; k++)
				on_event((int)evs[k].data.u32, evs[k].events);
		}
		if (!line_done())
			break;
		t = now_ns();
		latency_add(&lat, (t - cur_t0) / 1000);
		cur++;
		if (t >= t_end)
			break;
	}
	el = (double)(now_ns() - t_start) / 1e9;
	latency_percentiles(&lat, &p50, &p99, &p999);
	if (lat.over > 0 && p99 == 0)
		p99 = HIST_US;
	for (i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	printf("chat conns=%d seconds=%.2f broadcasts=%llu broadcasts_per_s=%.0f "
	       "deliveries_per_s=%.0f p50_us=%u p99_us=%u p999_us=%u max_us=%llu "
	       "mismatches=%llu errors=%d\n",
	       nconns, el, lat.n, lat.n / el, deliveries / el, p50, p99, p999,
	       (unsigned long long)lat.max_us, mismatches, errors);
	if (mismatches != 0 || errors != 0)
		exit(1);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s HOST PORT N SECONDS   (N >= 2)\n", argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	double secs;
	int n;

	if (argc != 5)
		usage(argv[0]);
	n = atoi(argv[3]);
	secs = atof(argv[4]);
	if (n < 2 || secs <= 0)
		usage(argv[0]);
	load_setup("chatload", argv[1], argv[2]);
	nconns = n;
	conns = calloc((size_t)n, sizeof *conns);
	if (conns == NULL)
		die("calloc");
	/* An established connection is watched for nothing until all are up:
	 * its greeting waits in the socket meanwhile. */
	load_connect(&conns[0].fd, sizeof *conns, n, "CHATLOAD_BATCH", 0);
	live = n;
	fprintf(stderr, "chatload: connected %d\n", n);
	run(secs);
	return 0;
}
