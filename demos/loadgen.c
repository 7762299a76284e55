/*
 * loadgen.c: an epoll load generator for the demo servers, one thread, one
 * epoll set, up to about 19000 connections.
 *
 * usage: loadgen HOST PORT N idle
 *        loadgen HOST PORT N echo SECONDS [SIZE]
 *
 * Opens N TCP connections to HOST:PORT in batches of LOADGEN_BATCH (default
 * 256) non-blocking connects, retrying a connection that fails with EAGAIN,
 * ECONNREFUSED, ETIMEDOUT, ECONNRESET or EADDRNOTAVAIL (a server still
 * starting, one whose accept queue overflowed, ports running out) or that
 * is stuck for 10 s, with a growing pause, up to 40 rounds per batch.
 * Every socket gets SO_LINGER 0, so closing it sends a reset and leaves no
 * TIME_WAIT entry behind to exhaust the ephemeral ports of the next run.
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
 * Exit status: 0 if all N connected and (echo) no mismatch and no error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXEV 512
#define MAXSIZE 65536
#define RETRIES 40
#define HIST_US (1u << 22)	/* exact latency histogram range: about 4.2 s */
#define STDIN_TAG UINT32_MAX	/* epoll tag of stdin, not a connection index */

/* One client connection. */
struct conn {
	int fd;            /* the socket, -1 when closed or not yet open */
	int up;            /* 1 once established */
	int out;           /* echo: 1 while EPOLLOUT is armed */
	uint32_t seq;      /* echo: number of the message in flight */
	uint32_t sent;     /* echo: bytes of it written so far */
	uint32_t got;      /* echo: bytes of it read back so far */
	uint32_t rounds;   /* echo: round trips completed */
	uint64_t t0;       /* echo: ns timestamp of its first write */
};

static struct conn *conns;
static int nconns;
static struct sockaddr_storage addr;
static socklen_t addrlen;
static int epfd;
static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "loadgen: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The byte at offset i of message seq on connection c: every message differs. */
static inline unsigned char msg_byte(uint32_t c, uint32_t seq, uint32_t i)
{
	return (unsigned char)(c * 131u + seq * 31u + i * 7u + (i >> 8));
}

static void watch(int i, int op, unsigned events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.u32 = (uint32_t)i;
	if (epoll_ctl(epfd, op, conns[i].fd, &ev) != 0)
		die("epoll_ctl");
}

/*
 * Starts a non-blocking connect for conns[i]. Returns 1 if it is under way
 * (watched for EPOLLOUT), 0 if it failed in a way worth a retry.
 */
static int start_connect(int i)
{
	struct linger lg = { 1, 0 };
	int fd, one = 1;

	fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&addr, addrlen) != 0 &&
	    errno != EINPROGRESS) {
		int e = errno;

		close(fd);
		if (e == EAGAIN || e == ECONNREFUSED || e == ETIMEDOUT ||
		    e == ECONNRESET || e == EADDRNOTAVAIL)
			return 0;
		errno = e;
		die("connect");
	}
	conns[i].fd = fd;
	watch(i, EPOLL_CTL_ADD, EPOLLOUT);
	return 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/* Connects conns[lo..hi) and waits until each is established or hopeless. */
static void connect_batch(int lo, int hi)
{
	struct epoll_event evs[MAXEV];
	int i, round;

	for (i = lo; i < hi; i++)
		conns[i].fd = -1;
	for (round = 0; round < RETRIES && !stop; round++) {
		int pending = 0, down = 0;

		for (i = lo; i < hi; i++)
			if (conns[i].fd < 0)
				pending += start_connect(i);
		/* A SYN dropped by a full accept queue is resent after 1 s, 3 s... */
		while (pending > 0 && !stop) {
			int n = epoll_wait(epfd, evs, MAXEV, 10000), k;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("epoll_wait");
			if (n == 0) {
				fprintf(stderr, "loadgen: %d connects stuck for 10 s\n", pending);
				break;
			}
			for (k = 0; k < n; k++) {
				struct conn *c = &conns[evs[k].data.u32];
				int err = 0;
				socklen_t len = sizeof err;

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				pending--;
				if (err == 0) {
					c->up = 1;
					watch((int)(c - conns), EPOLL_CTL_MOD, EPOLLIN | EPOLLRDHUP);
				} else {
					close(c->fd);
					c->fd = -1;
				}
			}
		}
		for (i = lo; i < hi; i++)
			if (!conns[i].up) {
				if (conns[i].fd >= 0)
					close(conns[i].fd);	/* stuck: start over */
				conns[i].fd = -1;
				down++;
			}
		if (down == 0)
			return;
		sleep_ms(10L << (round < 6 ? round : 6));
	}
}

static int connect_all(int n)
{
	int batch = 256, lo, ok = 0, i;
	const char *b = getenv("LOADGEN_BATCH");

	if (b != NULL && atoi(b) > 0)
		batch = atoi(b);
	for (lo = 0; lo < n && !stop; lo += batch)
		connect_batch(lo, lo + batch < n ? lo + batch : n);
	for (i = 0; i < n; i++)
		ok += conns[i].fd >= 0;
	return ok;
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
	static uint32_t *hist;
	struct epoll_event evs[MAXEV];
	unsigned long long rounds = 0, mismatches = 0, over = 0, cum;
	uint64_t t_start, t_end, maxlat = 0;
	int errors = 0, starved = 0, live = nconns, i;
	unsigned p50 = 0, p99 = 0, p999 = 0, u;
	double el;

	hist = calloc(HIST_US, sizeof *hist);
	if (hist == NULL)
		die("calloc");
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
			{
				uint64_t us = (t - c->t0) / 1000;

				if (us < HIST_US)
					hist[us]++;
				else
					over++;
				if (us > maxlat)
					maxlat = us;
			}
			rounds++;
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
	cum = 0;
	for (u = 0; u < HIST_US; u++) {
		unsigned long long before = cum;

		cum += hist[u];
		if (before < (rounds * 50 + 99) / 100 && cum >= (rounds * 50 + 99) / 100)
			p50 = u;
		if (before < (rounds * 99 + 99) / 100 && cum >= (rounds * 99 + 99) / 100)
			p99 = u;
		if (before < (rounds * 999 + 999) / 1000 && cum >= (rounds * 999 + 999) / 1000)
			p999 = u;
	}
	if (over > 0 && p999 == 0)
		p999 = HIST_US;
	for (i = 0; i < nconns; i++) {
		starved += conns[i].rounds == 0;
		if (conns[i].fd >= 0)
			close(conns[i].fd);
	}
	printf("echo conns=%d seconds=%.2f rounds=%llu rounds_per_s=%.0f p50_us=%u "
	       "p99_us=%u p999_us=%u max_us=%llu starved=%d mismatches=%llu errors=%d\n",
	       nconns, el, rounds, rounds / el, p50, p99, p999,
	       (unsigned long long)maxlat, starved, mismatches, errors);
	if (mismatches != 0 || errors != 0)
		exit(1);
}

static void usage(const char *argv0)
{
	fprintf(stderr, "usage: %s HOST PORT N idle\n"
		"       %s HOST PORT N echo SECONDS [SIZE]\n", argv0, argv0);
	exit(2);
}

int main(int argc, char **argv)
{
	struct addrinfo hints, *ai;
	struct sigaction sa;
	struct rlimit rl;
	int n, ok, err;

	if (argc < 5)
		usage(argv[0]);
	n = atoi(argv[3]);
	if (n <= 0)
		usage(argv[0]);
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	err = getaddrinfo(argv[1], argv[2], &hints, &ai);
	if (err != 0) {
		fprintf(stderr, "loadgen: %s:%s: %s\n", argv[1], argv[2], gai_strerror(err));
		return 2;
	}
	memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
	addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;	/* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	setvbuf(stdout, NULL, _IOLBF, 0);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		die("epoll_create1");
	nconns = n;
	conns = calloc((size_t)n, sizeof *conns);
	if (conns == NULL)
		die("calloc");
	ok = connect_all(n);
	if (ok < n) {
		fprintf(stderr, "loadgen: only %d of %d connections established\n", ok, n);
		return 1;
	}
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
