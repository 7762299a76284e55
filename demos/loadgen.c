/*
 * loadgen.c: an epoll load generator for the demo servers, one thread, one
 * epoll set, up to about 19000 connections.
 *
 * usage: loadgen HOST PORT N idle
 *        loadgen HOST PORT N echo SECONDS [SIZE]
 *        loadgen HOST PORT N churn TOTAL [EVERY]
 *
 * Opens N TCP connections to HOST:PORT in batches of LOADGEN_BATCH (default
 * 256) non-blocking connects, retrying a connection that fails with EAGAIN,
 * ECONNREFUSED, ETIMEDOUT, ECONNRESET or EADDRNOTAVAIL (a server still
 * starting, one whose accept queue overflowed, ports running out) or that
 * is stuck for 10 s, with a growing pause, up to 40 rounds per batch.
 * Every socket gets SO_LINGER 0, so closing it sends a reset and leaves no
 * TIME_WAIT entry behind to exhaust the ephemeral ports of the next run.
 * (That part, like the latency histogram, is demos/loadcommon.c, shared with
 * chatload: cc -O2 -g -pthread -Wall -o loadgen demos/loadgen.c
 * demos/loadcommon.c.)
 * Then it prints "connected N" and:
 *
 *   idle  holds the connections until a line arrives on stdin or SIGTERM or
 *         SIGINT (EOF on stdin is not a request to stop, so it can run in the
 *         background with stdin at /dev/null), then prints one line,
 *         "idle conns=N closed_by_peer=K", and exits.
 *   echo  keeps one SIZE-byte (default 64) message in flight on every
 *         connection for SECONDS: send it, read until SIZE bytes came back,
 *         check they equal what was sent (each message has its own bytes),
 *         repeat. It then prints one line of key=value fields:
 *         "echo conns= seconds= rounds= rounds_per_s= p50_us= p99_us=
 *         p999_us= max_us= starved= mismatches= errors=". Latency is send to
 *         last byte back, in microseconds, counted exactly up to 4 s, over
 *         the round trips that completed; starved counts the connections
 *         that completed none (a server that serves some connections and
 *         starves the rest shows a low p50 and a low rate, see Little's law).
 *
 *   churn TOTAL short connections, N in flight: connect, one 64-byte echo,
 *         close; after each EVERY (default 100000) it drains, prints
 *         "progress DONE conns_per_s=R" and waits for a line on stdin
 *         (run_churn). Ends with "churn total= seconds= conns_per_s= errors=
 *         mismatches=".
 *
 * Exit status: 0 if all N connected and (echo) no mismatch and no error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loadcommon.h"

#define MAXEV 512
#define MAXSIZE 65536
#define STDIN_TAG UINT32_MAX	/* epoll tag of stdin, not a connection index */

/* One client connection. */
struct conn {
	int fd;            /* the socket, -1 when closed or not yet open */
	int out;           /* echo: 1 while EPOLLOUT is armed */
	uint32_t seq;      /* echo: number of the message in flight */
	uint32_t sent;     /* echo: bytes of it written so far */
	uint32_t got;      /* echo: bytes of it read back so far */
	uint32_t rounds;   /* echo: round trips completed */
	uint64_t t0;       /* echo: ns timestamp of its first write */
};

static struct conn *conns;
static int nconns;

/* The byte at offset i of message seq on connection c: every message differs. */
static inline unsigned char msg_byte(uint32_t c, uint32_t seq, uint32_t i)
{
	return (unsigned char)(c * 131u + seq * 31u + i * 7u + (i >> 8));
}

static void watch(int i, int op, unsigned events)
{
	load_watch(conns[i].fd, (uint32_t)i, op, events);
}

static void run_idle(void)
{
	struct epoll_event ev, evs[MAXEV];
	int closed = 0, i;

	ev.events = EPOLLIN;
	ev.data.u32 = STDIN_TAG;
	/* stdin may be a regular file or /dev/null, which epoll refuses. */
	epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
	while (!stop) {
		int n = epoll_wait(epfd, evs, MAXEV, -1), k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (k = 0; k < n; k++) {
			uint32_t tag = evs[k].data.u32;

			if (tag == STDIN_TAG) {
				char line[256];
				ssize_t r = read(0, line, sizeof line);

				if (r > 0 && memchr(line, '\n', (size_t)r) != NULL)
					stop = 1;
				if (r <= 0)
					epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
				continue;
			}
			epoll_ctl(epfd, EPOLL_CTL_DEL, conns[tag].fd, NULL);
			close(conns[tag].fd);
			conns[tag].fd = -1;
			closed++;
		}
	}
	for (i = 0; i < nconns; i++)
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	printf("idle conns=%d closed_by_peer=%d\n", nconns, closed);
}

/* Writes what is left of the message in flight. Returns -1 on error. */
static int echo_send(int i, unsigned size)
{
	struct conn *c = &conns[i];
	unsigned char buf[MAXSIZE];
	uint32_t k;
	ssize_t w;

	if (c->sent == 0)
		c->t0 = now_ns();
	for (k = c->sent; k < size; k++)
		buf[k - c->sent] = msg_byte((uint32_t)i, c->seq, k);
	w = write(c->fd, buf, size - c->sent);
	if (w < 0)
		w = errno == EAGAIN || errno == EINTR ? 0 : -1;
	if (w < 0)
		return -1;
	c->sent += (uint32_t)w;
	/* One epoll_ctl per round would cost as much as the echo: arm EPOLLOUT
	 * only while a message is partly written. */
	if ((c->sent < size) != c->out) {
		c->out = c->sent < size;
		watch(i, EPOLL_CTL_MOD, c->out ? EPOLLIN | EPOLLOUT : EPOLLIN | EPOLLRDHUP);
	}
	return 0;
}

static void run_echo(double seconds, unsigned size)
{
	static struct latency lat;	/* lat.n: round trips completed */
	struct epoll_event evs[MAXEV];
	unsigned long long mismatches = 0;
	uint64_t t_start, t_end;
	int errors = 0, starved = 0, live = nconns, i;
	unsigned p50, p99, p999;
	double el;

	latency_init(&lat);
	for (i = 0; i < nconns; i++)
		if (echo_send(i, size) != 0) {
			close(conns[i].fd);
			conns[i].fd = -1;
			errors++;
			live--;
		}
	t_start = now_ns();
	t_end = t_start + (uint64_t)(seconds * 1e9);
	while (!stop && live > 0) {
		uint64_t t = now_ns();
		int n, k;

		if (t >= t_end)
			break;
		n = epoll_wait(epfd, evs, MAXEV, (int)((t_end - t) / 1000000) + 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (k = 0; k < n; k++) {
			int ci = (int)evs[k].data.u32;
			struct conn *c = &conns[ci];
			unsigned char buf[MAXSIZE];
			ssize_t r;
			uint32_t j;

			if (c->fd < 0)
				continue;
			if ((evs[k].events & EPOLLOUT) && c->sent < size &&
			    echo_send(ci, size) != 0)
				goto broken;
			if (!(evs[k].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
				continue;
			r = read(c->fd, buf, size - c->got);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r <= 0)
				goto broken;
			for (j = 0; j < (uint32_t)r; j++)
				if (buf[j] != msg_byte((uint32_t)ci, c->seq, c->got + j)) {
					mismatches++;
					break;
				}
			c->got += (uint32_t)r;
			if (c->got < size)
				continue;
			t = now_ns();
			latency_add(&lat, (t - c->t0) / 1000);
			c->rounds++;
			c->seq++;
			c->sent = c->got = 0;
			if (t < t_end && echo_send(ci, size) != 0)
				goto broken;
			continue;
broken:
			close(c->fd);
			c->fd = -1;
			errors++;
			live--;
		}
	}
	el = (double)(now_ns() - t_start) / 1e9;
	latency_percentiles(&lat, &p50, &p99, &p999);
	for (i = 0; i < nconns; i++) {
		starved += conns[i].rounds == 0;
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	}
	printf("echo conns=%d seconds=%.2f rounds=%llu rounds_per_s=%.0f p50_us=%u "
	       "p99_us=%u p999_us=%u max_us=%llu starved=%d mismatches=%llu errors=%d\n",
	       nconns, el, lat.n, lat.n / el, p50, p99, p999,
	       (unsigned long long)lat.max_us, starved, mismatches, errors);
	if (mismatches != 0 || errors != 0)
		exit(1);
}

/*
 * churn: TOTAL short connections, N at a time: connect, one 64-byte echo,
 * close (a reset: SO_LINGER 0). A connection that fails before its echo came
 * back whole is counted in errors and replaced. After every EVERY completed
 * ones it lets those in flight finish, prints "progress DONE conns_per_s=R"
 * and waits for a line on stdin before it goes on (a soak samples the server
 * meanwhile; EOF on stdin: go on at once).
 */
#define CHURN_SIZE 64

static void churn_start(int i, uint32_t seq)
{
	int fd;

	while ((fd = load_dial()) < 0)
		if (stop)
			exit(1);
	conns[i].fd = fd;
	conns[i].seq = seq;
	conns[i].sent = conns[i].got = 0;
	watch(i, EPOLL_CTL_ADD, EPOLLOUT);
}

static void run_churn(long total, long every)
{
	struct epoll_event evs[MAXEV];
	long launched = 0, done = 0, errors = 0, mismatches = 0, inflight = 0;
	long pause_at = every;
	uint64_t t0 = now_ns(), seg0 = t0;
	int i;

	for (i = 0; i < nconns && launched < total; i++, launched++, inflight++)
		churn_start(i, (uint32_t)launched);
	while (inflight > 0 && !stop) {
		int n = epoll_wait(epfd, evs, MAXEV, -1), k;

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("epoll_wait");
		for (k = 0; k < n; k++) {
			struct conn *c = &conns[evs[k].data.u32];
			unsigned char buf[CHURN_SIZE];
			int fail = 0, fin = 0;

			i = (int)evs[k].data.u32;
			if (c->sent < CHURN_SIZE) {
				int err = 0;
				socklen_t len = sizeof err;
				ssize_t w;

				for (uint32_t j = 0; j < CHURN_SIZE; j++)
					buf[j] = msg_byte((uint32_t)i, c->seq, j);
				if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err)
					fail = 1;
				else if ((w = write(c->fd, buf + c->sent, CHURN_SIZE - c->sent)) > 0)
					c->sent += (uint32_t)w;
				else if (w < 0 && errno != EAGAIN)
					fail = 1;
				if (!fail && c->sent == CHURN_SIZE)
					watch(i, EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
			} else {
				ssize_t r = read(c->fd, buf, CHURN_SIZE - c->got);

				if (r > 0) {
					for (ssize_t j = 0; j < r; j++)
						if (buf[j] != msg_byte((uint32_t)i, c->seq, c->got + (uint32_t)j))
							mismatches++;
					c->got += (uint32_t)r;
					fin = c->got == CHURN_SIZE;
				} else if (r == 0 || errno != EAGAIN) {
					fail = 1;
				}
			}
			if (!fail && !fin)
				continue;
			close(c->fd);
			c->fd = -1;
			inflight--;
			if (fail) {
				if (++errors > 10000) {
					fprintf(stderr, "loadgen: churn: too many failed connections\n");
					exit(1);
				}
				launched--;	/* replaced: it did not count */
			} else {
				done++;
			}
			if (done >= pause_at && inflight == 0) {
				uint64_t t = now_ns();
				char line[256];

				printf("progress %ld conns_per_s=%.0f\n", done,
				       (double)every * 1e9 / (double)(t - seg0));
				fflush(stdout);
				if (!fgets(line, sizeof line, stdin))
					clearerr(stdin);
				pause_at += every;
				seg0 = now_ns();
				for (int j = 0; j < nconns && launched < total; j++, launched++, inflight++)
					churn_start(j, (uint32_t)launched);
			} else if (launched < total && launched < pause_at) {
				churn_start(i, (uint32_t)launched);
				launched++;
				inflight++;
			}
		}
	}
	double el = (double)(now_ns() - t0) / 1e9;
	printf("churn total=%ld seconds=%.2f conns_per_s=%.0f errors=%ld mismatches=%ld\n",
	       done, el, (double)done / el, errors, mismatches);
	if (mismatches != 0 || done != total)
		exit(1);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s HOST PORT N idle\n"
		"       %s HOST PORT N echo SECONDS [SIZE]\n"
		"       %s HOST PORT N churn TOTAL [EVERY]\n", argv0, argv0, argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	int n;

	if (argc < 5)
		usage(argv[0]);
	n = atoi(argv[3]);
	if (n <= 0)
		usage(argv[0]);
	load_setup("loadgen", argv[1], argv[2]);
	nconns = n;
	conns = calloc((size_t)n, sizeof *conns);
	if (conns == NULL)
		die("calloc");
	if (strcmp(argv[4], "churn") == 0 && (argc == 6 || argc == 7)) {
		long total = atol(argv[5]);
		long every = argc == 7 ? atol(argv[6]) : 100000;

		if (total <= 0 || every <= 0)
			usage(argv[0]);
		run_churn(total, every);
		return 0;
	}
	load_connect(&conns[0].fd, sizeof *conns, n, "LOADGEN_BATCH", EPOLLIN | EPOLLRDHUP);
	printf("connected %d\n", n);

	if (strcmp(argv[4], "idle") == 0 && argc == 5) {
		run_idle();
	} else if (strcmp(argv[4], "echo") == 0 && (argc == 6 || argc == 7)) {
		double secs = atof(argv[5]);
		long size = argc == 7 ? atol(argv[6]) : 64;

		if (secs <= 0 || size <= 0 || size > MAXSIZE)
			usage(argv[0]);
		run_echo(secs, (unsigned)size);
	} else {
		usage(argv[0]);
	}
	return 0;
}
