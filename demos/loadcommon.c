/*
 * loadcommon.c: process setup, connection opening and the latency histogram
 * shared by the load generators loadgen.c and chatload.c; see loadcommon.h.
 * Built into each: cc -O2 -g -pthread -Wall -o loadgen demos/loadgen.c
 * demos/loadcommon.c (likewise chatload).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "loadcommon.h"

#define MAXEV 512
#define RETRIES 40

int epfd;
volatile sig_atomic_t stop;

static const char *prog;		/* the program's name: the prefix of messages */
static struct sockaddr_storage addr;	/* HOST:PORT */
static socklen_t addrlen;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void die(const char *what)
{
	fprintf(stderr, "%s: %s: %s\n", prog, what, strerror(errno));
	exit(1);
}

void load_setup(const char *name, const char *host, const char *port)
{
	struct addrinfo hints, *ai;
	struct sigaction sa;
	struct rlimit rl;
	int err;

	prog = name;
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	err = getaddrinfo(host, port, &hints, &ai);
	if (err != 0) {
		fprintf(stderr, "%s: %s:%s: %s\n", prog, host, port, gai_strerror(err));
		exit(2);
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
}

void load_watch(int fd, uint32_t tag, int op, unsigned events)
{
	struct epoll_event ev;

	ev.events = events;
	ev.data.u32 = tag;
	if (epoll_ctl(epfd, op, fd, &ev) != 0)
		die("epoll_ctl");
}

/* The fd of connection i: see load_connect() in loadcommon.h. */
static int *fd_base;
static size_t fd_stride;
#define FD(i) (*(int *)((char *)fd_base + (size_t)(i) * fd_stride))

int load_dial(void)
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
			return -1;
		errno = e;
		die("connect");
	}
	return fd;
}

/*
 * Starts a non-blocking connect for connection i. Returns 1 if it is under
 * way (watched for EPOLLOUT), 0 if it failed in a way worth a retry.
 */
static int start_connect(int i)
{
	int fd = load_dial();

	if (fd < 0)
		return 0;
	FD(i) = fd;
	load_watch(fd, (uint32_t)i, EPOLL_CTL_ADD, EPOLLOUT);
	return 1;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

/*
 * Connects connections lo..hi-1 and waits until each is established (up[i]
 * set, watched for up_events) or hopeless (fd -1).
 */
static void connect_batch(unsigned char *up, int lo, int hi, unsigned up_events)
{
	struct epoll_event evs[MAXEV];
	int i, round;

	for (i = lo; i < hi; i++)
		FD(i) = -1;
	for (round = 0; round < RETRIES && !stop; round++) {
		int pending = 0, down = 0;

		for (i = lo; i < hi; i++)
			if (FD(i) < 0)
				pending += start_connect(i);
		/* A SYN dropped by a full accept queue is resent after 1 s, 3 s... */
		while (pending > 0 && !stop) {
			int n = epoll_wait(epfd, evs, MAXEV, 10000), k;

			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0)
				die("epoll_wait");
			if (n == 0) {
				fprintf(stderr, "%s: %d connects stuck for 10 s\n", prog, pending);
				break;
			}
			for (k = 0; k < n; k++) {
				uint32_t c = evs[k].data.u32;
				int err = 0;
				socklen_t len = sizeof err;

				getsockopt(FD(c), SOL_SOCKET, SO_ERROR, &err, &len);
				pending--;
				if (err == 0) {
					up[c] = 1;
					load_watch(FD(c), c, EPOLL_CTL_MOD, up_events);
				} else {
					close(FD(c));
					FD(c) = -1;
				}
			}
		}
		for (i = lo; i < hi; i++)
			if (!up[i]) {
				if (FD(i) >= 0)
					close(FD(i));	/* stuck: start over */
				FD(i) = -1;
				down++;
			}
		if (down == 0)
			return;
		sleep_ms(10L << (round < 6 ? round : 6));
	}
}

void load_connect(int *fd0, size_t stride, int n, const char *batch_var,
		  unsigned up_events)
{
	int batch = 256, lo, ok = 0, i;
	const char *b = getenv(batch_var);
	unsigned char *up = calloc((size_t)n, 1);	/* 1 once established */

	if (up == NULL)
		die("calloc");
	fd_base = fd0;
	fd_stride = stride;
	if (b != NULL && atoi(b) > 0)
		batch = atoi(b);
	for (lo = 0; lo < n && !stop; lo += batch)
		connect_batch(up, lo, lo + batch < n ? lo + batch : n, up_events);
	for (i = 0; i < n; i++)
		ok += FD(i) >= 0;
	free(up);
	if (ok < n) {
		fprintf(stderr, "%s: only %d of %d connections established\n", prog, ok, n);
		exit(1);
	}
}

void latency_init(struct latency *l)
{
	memset(l, 0, sizeof *l);
	l->hist = calloc(HIST_US, sizeof *l->hist);
	if (l->hist == NULL)
		die("calloc");
}

void latency_add(struct latency *l, uint64_t us)
{
	if (us < HIST_US)
		l->hist[us]++;
	else
		l->over++;
	if (us > l->max_us)
		l->max_us = us;
	l->n++;
}

void latency_percentiles(const struct latency *l, unsigned *p50, unsigned *p99,
			 unsigned *p999)
{
	unsigned long long cum = 0, n = l->n;
	unsigned u;

	*p50 = *p99 = *p999 = 0;
	for (u = 0; u < HIST_US; u++) {
		unsigned long long before = cum;

		cum += l->hist[u];
		if (before < (n * 50 + 99) / 100 && cum >= (n * 50 + 99) / 100)
			*p50 = u;
		if (before < (n * 99 + 99) / 100 && cum >= (n * 99 + 99) / 100)
			*p99 = u;
		if (before < (n * 999 + 999) / 1000 && cum >= (n * 999 + 999) / 1000)
			*p999 = u;
	}
	if (l->over > 0 && *p999 == 0)
		*p999 = HIST_US;
}
