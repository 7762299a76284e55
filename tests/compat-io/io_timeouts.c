/* io_timeouts.c: compat test of SO_RCVTIMEO and SO_SNDTIMEO.
 *
 * Covers: getsockopt returning what setsockopt set (and EDOM for a bad value);
 * recv/read/recvmsg/recvfrom/accept timing out with EAGAIN on TCP, AF_UNIX and UDP
 * sockets; MSG_WAITALL returning the partial count at the timeout; data arriving
 * before the timeout; a timeout cleared back to 0 (wait forever); a send blocked on
 * a full socket buffer returning the partial count it wrote, then EAGAIN, with the
 * peer receiving exactly the bytes reported; connect timing out (EINPROGRESS) on a
 * listener whose accept queue is full.
 *
 * The only time measured is a lower bound: a call that times out must not return
 * before most of its timeout has passed (80 ms of 100 ms), which a kernel never
 * does; no upper bound is asserted. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_timeouts: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)
/* A check on the outcome of a call made by another thread (struct with ret, err). */
#define CHECK_OP(o, c) do { if (!(c)) FAIL("%s (the thread's call returned %ld, errno %d %s)", \
	#c, (long)(o).ret, (o).err, strerror((o).err)); } while (0)
#define CHECK_ERR(call, e) do { errno = 0; long r_ = (long)(call); int e_ = errno; \
	if (r_ != -1 || e_ != (e)) FAIL("%s returned %ld errno %d (%s), want -1 %s", \
		#call, r_, e_, strerror(e_), #e); } while (0)

enum { TIMEO_MS = 100, MIN_MS = 80 };

/* A sleep that only makes it likely the other thread is already blocked: no result
 * of this test depends on it. */
static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int tcp_listener(struct sockaddr_in *a, int backlog, int rcvbuf)
{
	socklen_t len = sizeof *a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0);
	if (rcvbuf)
		CHECK(setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) == 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(l, (struct sockaddr *)a, sizeof *a) == 0);
	CHECK(listen(l, backlog) == 0);
	CHECK(getsockname(l, (struct sockaddr *)a, &len) == 0);
	return l;
}

/* A connected TCP pair; buffers of bufsz bytes if bufsz != 0 (small buffers make
 * "full" come quickly and the partial count small). */
static void tcp_pair(int sv[2], int bufsz)
{
	struct sockaddr_in a;
	int l = tcp_listener(&a, 1, bufsz);
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(sv[0] >= 0);
	if (bufsz)
		CHECK(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &bufsz, sizeof bufsz) == 0);
	CHECK(connect(sv[0], (struct sockaddr *)&a, sizeof a) == 0);
	sv[1] = accept(l, NULL, NULL);
	CHECK(sv[1] >= 0);
	CHECK(close(l) == 0);
}

static void set_timeo(int fd, int opt, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	CHECK(setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof tv) == 0);
}

static void print_timeo(const char *what, int fd, int opt)
{
	struct timeval tv = { -1, -1 };
	socklen_t len = sizeof tv;
	CHECK(getsockopt(fd, SOL_SOCKET, opt, &tv, &len) == 0);
	CHECK(len == sizeof tv);
	printf("%s: getsockopt %s = %ld.%06ld\n", what,
	       opt == SO_RCVTIMEO ? "SO_RCVTIMEO" : "SO_SNDTIMEO", (long)tv.tv_sec, (long)tv.tv_usec);
}

/* Where K_CONNECT connects to. */
static struct sockaddr_in connect_to;

/* One call done by a thread, timed. */
enum kind { K_RECV, K_READ, K_RECVMSG, K_RECVFROM, K_ACCEPT, K_SEND, K_WRITE, K_CONNECT };

struct op {
	enum kind kind;
	int fd;
	int flags;
	char *buf;
	size_t len;
	struct sockaddr_in addr;	/* K_RECVFROM: the sender. */
	ssize_t ret;
	int err;
	long ms;
	pthread_t t;
};

static void *run_op(void *arg)
{
	struct op *o = arg;
	struct iovec iov = { o->buf, o->len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	socklen_t alen = sizeof o->addr;
	long t0 = now_ms();

	switch (o->kind) {
	case K_RECV: o->ret = recv(o->fd, o->buf, o->len, o->flags); break;
	case K_READ: o->ret = read(o->fd, o->buf, o->len); break;
	case K_RECVMSG: o->ret = recvmsg(o->fd, &m, o->flags); break;
	case K_RECVFROM:
		o->ret = recvfrom(o->fd, o->buf, o->len, o->flags, (struct sockaddr *)&o->addr, &alen);
		break;
	case K_ACCEPT: o->ret = accept(o->fd, NULL, NULL); break;
	case K_SEND: o->ret = send(o->fd, o->buf, o->len, o->flags); break;
	case K_WRITE: o->ret = write(o->fd, o->buf, o->len); break;
	case K_CONNECT:
		o->ret = connect(o->fd, (struct sockaddr *)&connect_to, sizeof connect_to);
		break;
	}
	o->err = errno;
	o->ms = now_ms() - t0;
	return NULL;
}

static void start(struct op *o, enum kind k, int fd, char *buf, size_t len, int flags)
{
	o->kind = k;
	o->fd = fd;
	o->buf = buf;
	o->len = len;
	o->flags = flags;
	o->ret = -2;
	o->err = 0;
	CHECK(pthread_create(&o->t, NULL, run_op, o) == 0);
}

static void join(struct op *o)
{
	CHECK(pthread_join(o->t, NULL) == 0);
}

/* Runs one call in a thread and requires -1 EAGAIN after at least MIN_MS. */
static void want_timeout(const char *what, enum kind k, int fd, char *buf, size_t len, int flags,
			 int err)
{
	struct op o;
	start(&o, k, fd, buf, len, flags);
	join(&o);
	if (o.ret != -1 || o.err != err)
		FAIL("%s: %zd errno %d (%s), want -1 %s", what, o.ret, o.err, strerror(o.err),
		     err == EAGAIN ? "EAGAIN" : "EINPROGRESS");
	if (o.ms < MIN_MS)
		FAIL("%s: timed out after %ld ms, before its %d ms timeout", what, o.ms, TIMEO_MS);
	printf("%s: -1 %s, not early\n", what, err == EAGAIN ? "EAGAIN" : "EINPROGRESS");
}

static void test_rcvtimeo(void)
{
	int sv[2];
	char buf[256];
	struct op o;

	tcp_pair(sv, 0);
	print_timeo("tcp new socket", sv[0], SO_RCVTIMEO);
	set_timeo(sv[0], SO_RCVTIMEO, TIMEO_MS);
	print_timeo("tcp after set 100 ms", sv[0], SO_RCVTIMEO);
	struct timeval bad = { 0, 1000000 };
	CHECK_ERR(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &bad, sizeof bad), EDOM);
	print_timeo("tcp after a rejected tv_usec 1000000 (EDOM)", sv[0], SO_RCVTIMEO);

	want_timeout("tcp recv with SO_RCVTIMEO", K_RECV, sv[0], buf, sizeof buf, 0, EAGAIN);
	want_timeout("tcp read with SO_RCVTIMEO", K_READ, sv[0], buf, sizeof buf, 0, EAGAIN);
	want_timeout("tcp recvmsg with SO_RCVTIMEO", K_RECVMSG, sv[0], buf, sizeof buf, 0, EAGAIN);

	/* MSG_WAITALL: what arrived before the timeout. */
	CHECK(send(sv[1], "ten bytes!", 10, 0) == 10);
	start(&o, K_RECV, sv[0], buf, 100, MSG_WAITALL);
	join(&o);
	CHECK_OP(o, o.ret == 10 && memcmp(buf, "ten bytes!", 10) == 0);
	CHECK(o.ms >= MIN_MS);
	printf("tcp recv 100 MSG_WAITALL with 10 sent and SO_RCVTIMEO: %zd\n", o.ret);

	/* Data in time. */
	set_timeo(sv[0], SO_RCVTIMEO, 2000);
	start(&o, K_RECV, sv[0], buf, sizeof buf, 0);
	nap(20);
	CHECK(send(sv[1], "in time", 7, 0) == 7);
	join(&o);
	CHECK_OP(o, o.ret == 7 && memcmp(buf, "in time", 7) == 0);
	printf("tcp recv with 2 s SO_RCVTIMEO, data after 20 ms: %zd\n", o.ret);

	/* Back to 0: wait as long as it takes, here longer than the old timeout. */
	set_timeo(sv[0], SO_RCVTIMEO, TIMEO_MS);
	set_timeo(sv[0], SO_RCVTIMEO, 0);
	print_timeo("tcp after set 0", sv[0], SO_RCVTIMEO);
	start(&o, K_RECV, sv[0], buf, sizeof buf, 0);
	nap(2 * TIMEO_MS);
	CHECK(send(sv[1], "late", 4, 0) == 4);
	join(&o);
	CHECK_OP(o, o.ret == 4 && memcmp(buf, "late", 4) == 0);
	printf("tcp recv with SO_RCVTIMEO back to 0, data after 200 ms: %zd\n", o.ret);
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	set_timeo(sv[0], SO_RCVTIMEO, TIMEO_MS);
	print_timeo("unix after set 100 ms", sv[0], SO_RCVTIMEO);
	want_timeout("unix recv with SO_RCVTIMEO", K_RECV, sv[0], buf, sizeof buf, 0, EAGAIN);
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);

	int u = socket(AF_INET, SOCK_DGRAM, 0);
	struct sockaddr_in ua = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	CHECK(u >= 0 && bind(u, (struct sockaddr *)&ua, sizeof ua) == 0);
	set_timeo(u, SO_RCVTIMEO, TIMEO_MS);
	want_timeout("udp recvfrom with SO_RCVTIMEO", K_RECVFROM, u, buf, sizeof buf, 0, EAGAIN);
	CHECK(close(u) == 0);

	struct sockaddr_in la;
	int l = tcp_listener(&la, 4, 0);
	set_timeo(l, SO_RCVTIMEO, TIMEO_MS);
	want_timeout("accept with SO_RCVTIMEO on the listener", K_ACCEPT, l, NULL, 0, 0, EAGAIN);
	CHECK(close(l) == 0);
}

static void test_sndtimeo(void)
{
	enum { BIG = 8 << 20 };
	int sv[2];
	struct op o;
	char *big = malloc(BIG);

	CHECK(big != NULL);
	memset(big, 's', BIG);
	tcp_pair(sv, 65536);
	set_timeo(sv[0], SO_SNDTIMEO, TIMEO_MS);
	print_timeo("tcp after set 100 ms", sv[0], SO_SNDTIMEO);

	/* Nobody reads: the send writes what fits and reports that count. */
	start(&o, K_SEND, sv[0], big, BIG, 0);
	join(&o);
	if (o.ret <= 0 || o.ret >= BIG)
		FAIL("send of 8 MiB into a stalled peer: %zd errno %d, want a partial count",
		     o.ret, o.err);
	CHECK(o.ms >= MIN_MS);
	ssize_t partial = o.ret;
	printf("tcp send of 8 MiB, peer not reading, SO_SNDTIMEO: a partial count, not early\n");
	want_timeout("tcp send again on the full socket", K_SEND, sv[0], big, BIG, 0, EAGAIN);
	want_timeout("tcp write of 1 byte on the full socket", K_WRITE, sv[0], big, 1, 0, EAGAIN);

	/* The peer gets exactly the bytes the send reported. */
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	long got = 0;
	for (;;) {
		ssize_t n = recv(sv[1], big, BIG, 0);
		CHECK(n >= 0);
		if (n == 0)
			break;
		got += n;
	}
	if (got != partial)
		FAIL("peer received %ld bytes, send reported %zd", got, partial);
	printf("tcp peer received exactly the partial count\n");
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	set_timeo(sv[0], SO_SNDTIMEO, TIMEO_MS);
	start(&o, K_SEND, sv[0], big, BIG, 0);
	join(&o);
	CHECK_OP(o, o.ret > 0 && o.ret < BIG && o.ms >= MIN_MS);
	partial = o.ret;
	printf("unix send of 8 MiB, peer not reading, SO_SNDTIMEO: a partial count, not early\n");
	want_timeout("unix send again on the full socket", K_SEND, sv[0], big, 4096, 0, EAGAIN);
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	got = 0;
	for (;;) {
		ssize_t n = recv(sv[1], big, BIG, 0);
		CHECK(n >= 0);
		if (n == 0)
			break;
		got += n;
	}
	CHECK(got == partial);
	printf("unix peer received exactly the partial count\n");
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
	free(big);

	/* connect: a listener with backlog 0 takes one connection into its accept
	 * queue and drops later SYNs, so a second connect waits for a retransmission
	 * (1 s away) and SO_SNDTIMEO ends it first. */
	struct sockaddr_in la;
	int l = tcp_listener(&la, 0, 0);
	int first = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(first >= 0 && connect(first, (struct sockaddr *)&la, sizeof la) == 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	set_timeo(c, SO_SNDTIMEO, TIMEO_MS);
	connect_to = la;
	want_timeout("connect to a full accept queue with SO_SNDTIMEO", K_CONNECT, c, NULL, 0, 0,
		     EINPROGRESS);
	CHECK(close(c) == 0 && close(first) == 0 && close(l) == 0);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_rcvtimeo();
	test_sndtimeo();
	printf("io_timeouts: ok\n");
	return 0;
}
