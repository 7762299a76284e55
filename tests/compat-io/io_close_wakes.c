/* io_close_wakes.c: compat test of shutdown() waking threads blocked on the same socket.
 *
 * A thread blocks on a socket; another thread calls shutdown() on that same fd:
 *  - recv on TCP / read on an AF_UNIX pair, SHUT_RDWR or SHUT_RD: returns 0 (EOF), and
 *    so does every later read; recv MSG_WAITALL returns the partial count it had;
 *  - accept on a listener, SHUT_RDWR: -1 EINVAL;
 *  - send on a full TCP socket, SHUT_WR: -1 EPIPE (SIGPIPE ignored);
 *  - recvfrom on an unbound-peer UDP socket, SHUT_RD: shutdown itself fails with
 *    ENOTCONN, yet the blocked recvfrom returns 0 (Linux wakes it anyway);
 *  - poll and epoll_wait on the socket: woken, with the revents Linux gives.
 * (close() of an fd another thread waits on is covered by io_fd_reuse: natively it
 * does not wake the waiter.) Results are printed by the main thread, in a fixed
 * order, after a join. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_close_wakes: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)
/* A check on the outcome of a call made by another thread (struct with ret, err). */
#define CHECK_OP(o, c) do { if (!(c)) FAIL("%s (the thread's call returned %ld, errno %d %s)", \
	#c, (long)(o).ret, (o).err, strerror((o).err)); } while (0)
#define CHECK_ERR(call, e) do { errno = 0; long r_ = (long)(call); int e_ = errno; \
	if (r_ != -1 || e_ != (e)) FAIL("%s returned %ld errno %d (%s), want -1 %s", \
		#call, r_, e_, strerror(e_), #e); } while (0)

/* A sleep that only makes it likely the other thread is already blocked: no result
 * of this test depends on it. */
static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int tcp_listener(struct sockaddr_in *a)
{
	socklen_t len = sizeof *a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(l, (struct sockaddr *)a, sizeof *a) == 0);
	CHECK(listen(l, 4) == 0);
	CHECK(getsockname(l, (struct sockaddr *)a, &len) == 0);
	return l;
}

static void tcp_pair(int sv[2])
{
	struct sockaddr_in a;
	int l = tcp_listener(&a);
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(sv[0] >= 0);
	CHECK(connect(sv[0], (struct sockaddr *)&a, sizeof a) == 0);
	sv[1] = accept(l, NULL, NULL);
	CHECK(sv[1] >= 0);
	CHECK(close(l) == 0);
}

enum kind { K_RECV, K_READ, K_WAITALL, K_ACCEPT, K_SEND, K_RECVFROM, K_POLL, K_EPOLL };

struct op {
	enum kind kind;
	int fd;
	char buf[256];
	long ret;
	int err;
	int revents;
	pthread_t t;
};

static void *run_op(void *arg)
{
	struct op *o = arg;
	struct pollfd p = { o->fd, POLLIN | POLLRDHUP, 0 };
	struct epoll_event e;
	int ep;

	switch (o->kind) {
	case K_RECV: o->ret = recv(o->fd, o->buf, sizeof o->buf, 0); break;
	case K_READ: o->ret = read(o->fd, o->buf, sizeof o->buf); break;
	case K_WAITALL: o->ret = recv(o->fd, o->buf, 100, MSG_WAITALL); break;
	case K_ACCEPT: o->ret = accept(o->fd, NULL, NULL); break;
	case K_SEND: o->ret = send(o->fd, o->buf, 100, 0); break;
	case K_RECVFROM: o->ret = recvfrom(o->fd, o->buf, sizeof o->buf, 0, NULL, NULL); break;
	case K_POLL:
		o->ret = poll(&p, 1, -1);
		o->revents = p.revents;
		break;
	case K_EPOLL:
		ep = epoll_create1(0);
		e.events = EPOLLIN | EPOLLRDHUP;
		e.data.u64 = 0;
		if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, o->fd, &e) != 0) {
			o->ret = -5;
			break;
		}
		o->ret = epoll_wait(ep, &e, 1, -1);
		o->revents = e.events;
		close(ep);
		break;
	}
	o->err = errno;
	return NULL;
}

static void start(struct op *o, enum kind k, int fd)
{
	memset(o, 0, sizeof *o);
	o->kind = k;
	o->fd = fd;
	o->ret = -2;
	CHECK(pthread_create(&o->t, NULL, run_op, o) == 0);
	nap(40);
}

static void join(struct op *o)
{
	CHECK(pthread_join(o->t, NULL) == 0);
}

static void test_readers(void)
{
	static const int hows[2] = { SHUT_RDWR, SHUT_RD };
	static const char *how_name[2] = { "SHUT_RDWR", "SHUT_RD" };
	int sv[2];
	struct op o;
	char buf[8];

	for (int h = 0; h < 2; h++) {
		tcp_pair(sv);
		start(&o, K_RECV, sv[0]);
		CHECK(shutdown(sv[0], hows[h]) == 0);
		join(&o);
		CHECK_OP(o, o.ret == 0);
		CHECK(recv(sv[0], buf, sizeof buf, 0) == 0);
		printf("tcp recv blocked, shutdown(%s) of its fd: %ld (EOF), later recv 0\n",
		       how_name[h], o.ret);
		CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);

		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		start(&o, K_READ, sv[0]);
		CHECK(shutdown(sv[0], hows[h]) == 0);
		join(&o);
		CHECK_OP(o, o.ret == 0);
		CHECK(read(sv[0], buf, sizeof buf) == 0);
		printf("unix read blocked, shutdown(%s) of its fd: %ld (EOF), later read 0\n",
		       how_name[h], o.ret);
		CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
	}

	tcp_pair(sv);
	start(&o, K_WAITALL, sv[0]);
	CHECK(send(sv[1], "0123456789", 10, 0) == 10);
	nap(30);
	CHECK(shutdown(sv[0], SHUT_RD) == 0);
	join(&o);
	CHECK_OP(o, o.ret == 10 && memcmp(o.buf, "0123456789", 10) == 0);
	printf("tcp recv 100 MSG_WAITALL blocked with 10 received, shutdown(SHUT_RD): %ld\n", o.ret);
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
}

static void test_accept(void)
{
	struct sockaddr_in a;
	struct op o;
	int l = tcp_listener(&a);

	start(&o, K_ACCEPT, l);
	CHECK(shutdown(l, SHUT_RDWR) == 0);
	join(&o);
	if (o.ret != -1 || o.err != EINVAL)
		FAIL("accept after shutdown: %ld errno %d, want -1 EINVAL", o.ret, o.err);
	CHECK_ERR(accept(l, NULL, NULL), EINVAL);
	printf("accept blocked, shutdown(SHUT_RDWR) of the listener: -1 EINVAL, later accept too\n");
	CHECK(close(l) == 0);
}

static void test_sender(void)
{
	int sv[2];
	struct op o;
	static char junk[65536];

	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	tcp_pair(sv);
	for (;;) {
		ssize_t n = send(sv[0], junk, sizeof junk, MSG_DONTWAIT);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			break;
		}
	}
	start(&o, K_SEND, sv[0]);
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	join(&o);
	if (o.ret != -1 || o.err != EPIPE)
		FAIL("send after shutdown: %ld errno %d, want -1 EPIPE", o.ret, o.err);
	CHECK_ERR(send(sv[0], "x", 1, 0), EPIPE);
	printf("tcp send blocked on a full socket, shutdown(SHUT_WR): -1 EPIPE, later send too\n");
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
	CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
}

static void test_udp(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct op o;
	int u = socket(AF_INET, SOCK_DGRAM, 0);

	CHECK(u >= 0 && bind(u, (struct sockaddr *)&a, sizeof a) == 0);
	start(&o, K_RECVFROM, u);
	CHECK_ERR(shutdown(u, SHUT_RD), ENOTCONN);
	join(&o);
	CHECK_OP(o, o.ret == 0);
	printf("udp recvfrom blocked, shutdown(SHUT_RD): shutdown -1 ENOTCONN, recvfrom %ld\n", o.ret);
	CHECK(close(u) == 0);
}

static void test_waiters(void)
{
	int sv[2];
	struct op o;

	tcp_pair(sv);
	start(&o, K_POLL, sv[0]);
	CHECK(shutdown(sv[0], SHUT_RDWR) == 0);
	join(&o);
	CHECK_OP(o, o.ret == 1);
	printf("poll blocked on tcp, shutdown(SHUT_RDWR): 1, revents 0x%x\n", o.revents);
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);

	tcp_pair(sv);
	start(&o, K_EPOLL, sv[0]);
	CHECK(shutdown(sv[0], SHUT_RDWR) == 0);
	join(&o);
	CHECK_OP(o, o.ret == 1);
	printf("epoll_wait blocked on tcp, shutdown(SHUT_RDWR): 1, events 0x%x\n", o.revents);
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	start(&o, K_POLL, sv[0]);
	CHECK(shutdown(sv[0], SHUT_RD) == 0);
	join(&o);
	CHECK_OP(o, o.ret == 1);
	printf("poll blocked on unix, shutdown(SHUT_RD): 1, revents 0x%x\n", o.revents);
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_readers();
	test_accept();
	test_sender();
	test_udp();
	test_waiters();
	printf("io_close_wakes: ok\n");
	return 0;
}
