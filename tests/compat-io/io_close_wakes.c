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
 * And close() of the fd another thread waits on, which natively does NOT end the call:
 * it goes on with the open file it started on (the kernel holds a reference) until
 * data, EOF or its own timeout, while the number is free at once:
 *  - recv on TCP: the socket lives on (the peer sees no EOF, its writes succeed, no
 *    SIGPIPE), a new socket gets the number, the peer's next data reaches the waiter;
 *    when the call returns the socket is released and the peer then sees EOF;
 *  - read on a pipe: the writer's data reaches the waiter; the peer closing: EOF;
 *  - recv with SO_RCVTIMEO: -1 EAGAIN at its own timeout;
 *  - send on a full TCP socket: completes when the peer drains;
 *  - accept on a listener: the next connection reaches it;
 *  - poll and select: they sleep on until the old file has an event, then look at the
 *    number again: poll reports POLLNVAL, select the fd ready in every set it was in;
 *  - epoll_wait, its epoll fd closed: it goes on with the epoll instance and returns
 *    the next event of its set;
 *  - dup2 of another file onto the number: the same, the waiter keeps the old file.
 * The closer waits until the waiter is in its call: natively it reads
 * /proc/self/task/TID/syscall; under goshim (GOSHIM_TEST_PRELOADED=1), where the waiter
 * has no task of its own, it waits for its "about to call" flag and then 20 ms.
 * (io_fd_reuse covers a new file at the number never feeding the waiter.) Results
 * are printed by the main thread, in a fixed order, after a join. */
#define _GNU_SOURCE
// compat-skip-runner: qemu-aarch64-static: under qemu-user /proc/TID/syscall shows the host's system calls (x86-64 numbers), which this test reads to know a thread is blocked
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>
#ifndef SYS_poll
#define SYS_poll SYS_ppoll		/* aarch64: poll() is ppoll */
#endif
#ifndef SYS_epoll_wait
#define SYS_epoll_wait SYS_epoll_pwait	/* aarch64: epoll_wait() is epoll_pwait */
#endif

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

enum kind { K_RECV, K_READ, K_WAITALL, K_ACCEPT, K_SEND, K_RECVFROM, K_POLL, K_EPOLL, K_SELECT,
	    K_EPOLL_WAIT };

struct op {
	enum kind kind;
	int fd;
	char buf[256];
	long ret;
	int err;
	int revents;
	atomic_int ready;	/* set just before the call */
	atomic_int tid;
	pthread_t t;
};

static void *run_op(void *arg)
{
	struct op *o = arg;
	struct pollfd p = { o->fd, POLLIN | POLLRDHUP, 0 };
	struct epoll_event e;
	fd_set rd;
	int ep;

	atomic_store(&o->tid, (int)syscall(SYS_gettid));
	atomic_store(&o->ready, 1);
	switch (o->kind) {
	case K_EPOLL_WAIT:	/* o->fd is the epoll fd */
		e.data.u64 = 0;
		o->ret = epoll_wait(o->fd, &e, 1, -1);
		o->revents = (int)e.data.u64;
		break;
	case K_SELECT:
		FD_ZERO(&rd);
		FD_SET(o->fd, &rd);
		o->ret = select(o->fd + 1, &rd, NULL, NULL, NULL);
		o->revents = FD_ISSET(o->fd, &rd);
		break;
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

/* ---- close() of the fd a thread waits on ---- */

static int preloaded;

/* Starts o and returns once it is in its call (see the header comment). */
static void start_blocked(struct op *o, enum kind k, int fd, long nr)
{
	memset(o, 0, sizeof *o);
	o->kind = k;
	o->fd = fd;
	o->ret = -2;
	CHECK(pthread_create(&o->t, NULL, run_op, o) == 0);
	while (!atomic_load(&o->ready))
		nap(1);
	if (preloaded) {
		nap(20);
		return;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", atomic_load(&o->tid));
	for (int i = 0; i < 20000; i++) {
		FILE *f = fopen(path, "r");
		long n = -1;
		unsigned long arg0 = ~0UL;
		CHECK(f != NULL);
		int got = fscanf(f, "%ld %lx", &n, &arg0);
		fclose(f);
		if (got == 2 && n == nr && (nr == SYS_pselect6 || nr == SYS_poll || arg0 == (unsigned long)fd)) {
			nap(1);	/* past the entry, into the wait */
			return;
		}
		nap(1);
	}
	FAIL("the thread never blocked in its call on fd %d", fd);
}

/* What a recv on fd finds without waiting: data, EOF, or nothing. */
static const char *peer_state(int fd)
{
	char c;
	ssize_t n = recv(fd, &c, 1, MSG_DONTWAIT);
	if (n == 0)
		return "EOF";
	if (n < 0 && errno == EAGAIN)
		return "nothing (connection alive)";
	return n > 0 ? "data" : strerror(errno);
}

static void test_close(void)
{
	int sv[2], p[2];
	struct op o;

	/* recv on TCP, closed: the socket lives on until the call returns. */
	tcp_pair(sv);
	start_blocked(&o, K_RECV, sv[0], SYS_recvfrom);
	CHECK(close(sv[0]) == 0);
	printf("tcp recv blocked, close(its fd): the peer sees %s\n", peer_state(sv[1]));
	errno = 0;
	int fl = fcntl(sv[0], F_GETFD);
	printf("  the number is closed at once: fcntl(F_GETFD) %d %s\n", fl, strerror(errno));
	CHECK(send(sv[1], "late", 4, 0) == 4);
	join(&o);
	CHECK_OP(o, o.ret == 4 && memcmp(o.buf, "late", 4) == 0);
	printf("  the peer's send 4: the blocked recv returns %ld \"%.4s\"\n", o.ret, o.buf);
	nap(20);
	printf("  after it returned the peer sees %s\n", peer_state(sv[1]));
	CHECK(close(sv[1]) == 0);

	tcp_pair(sv);
	start_blocked(&o, K_RECV, sv[0], SYS_recvfrom);
	CHECK(close(sv[0]) == 0);
	CHECK(close(sv[1]) == 0);
	join(&o);
	CHECK_OP(o, o.ret == 0);
	printf("tcp recv blocked, close(its fd), then the peer closes: %ld (EOF)\n", o.ret);

	tcp_pair(sv);
	struct timeval tv = { 0, 100000 };
	CHECK(setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	start_blocked(&o, K_RECV, sv[0], SYS_recvfrom);
	CHECK(close(sv[0]) == 0);
	join(&o);
	if (o.ret != -1 || o.err != EAGAIN)
		FAIL("recv with SO_RCVTIMEO after close: %ld errno %d, want -1 EAGAIN", o.ret, o.err);
	printf("tcp recv with SO_RCVTIMEO 100 ms blocked, close(its fd): -1 EAGAIN at its timeout\n");
	CHECK(close(sv[1]) == 0);

	/* read on a pipe, closed: the writer's data still reaches it, no SIGPIPE. */
	CHECK(pipe(p) == 0);
	start_blocked(&o, K_READ, p[0], SYS_read);
	CHECK(close(p[0]) == 0);
	CHECK(write(p[1], "late", 4) == 4);
	join(&o);
	CHECK_OP(o, o.ret == 4 && memcmp(o.buf, "late", 4) == 0);
	printf("pipe read blocked, close(its fd), then a write: %ld \"%.4s\"\n", o.ret, o.buf);
	CHECK(close(p[1]) == 0);

	CHECK(pipe(p) == 0);
	start_blocked(&o, K_READ, p[0], SYS_read);
	CHECK(close(p[0]) == 0);
	CHECK(close(p[1]) == 0);
	join(&o);
	CHECK_OP(o, o.ret == 0);
	printf("pipe read blocked, close(its fd), then the writer closes: %ld (EOF)\n", o.ret);

	/* dup2 of another pipe onto the number. */
	int q[2];
	CHECK(pipe(p) == 0 && pipe(q) == 0);
	CHECK(write(q[1], "new!", 4) == 4);
	start_blocked(&o, K_READ, p[0], SYS_read);
	CHECK(dup2(q[0], p[0]) == p[0]);
	nap(20);
	CHECK(write(p[1], "old!", 4) == 4);
	join(&o);
	CHECK_OP(o, o.ret == 4 && memcmp(o.buf, "old!", 4) == 0);
	char b4[8];
	CHECK(read(p[0], b4, sizeof b4) == 4 && memcmp(b4, "new!", 4) == 0);
	printf("pipe read blocked, dup2(another pipe, its fd): %ld \"%.4s\"; the number now "
	       "reads the other pipe\n", o.ret, o.buf);
	CHECK(close(p[0]) == 0 && close(p[1]) == 0 && close(q[0]) == 0 && close(q[1]) == 0);

	/* send on a full socket, closed: it completes when the peer drains. */
	static char junk[65536];
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	tcp_pair(sv);
	long filled = 0;
	for (;;) {
		ssize_t n = send(sv[0], junk, sizeof junk, MSG_DONTWAIT);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			break;
		}
		filled += n;
	}
	start_blocked(&o, K_SEND, sv[0], SYS_sendto);
	CHECK(close(sv[0]) == 0);
	long drained = 0;
	while (drained < filled + 100) {
		ssize_t n = recv(sv[1], junk, sizeof junk, 0);
		CHECK(n > 0);
		drained += n;
	}
	join(&o);
	CHECK_OP(o, o.ret == 100);
	printf("tcp send blocked on a full socket, close(its fd), the peer drains: %ld\n", o.ret);
	nap(20);
	printf("  after it returned the peer sees %s\n", peer_state(sv[1]));
	CHECK(close(sv[1]) == 0);
	CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);

	/* accept on a listener, closed: the next connection reaches it. */
	struct sockaddr_in a;
	int l = tcp_listener(&a);
	start_blocked(&o, K_ACCEPT, l, SYS_accept);
	CHECK(close(l) == 0);
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	int cr = connect(c, (struct sockaddr *)&a, sizeof a);
	join(&o);
	printf("accept blocked, close(the listener), a client connects: connect %d, accept %s\n",
	       cr, o.ret >= 0 ? "a connection" : strerror(o.err));
	if (o.ret >= 0)
		CHECK(close((int)o.ret) == 0);
	CHECK(close(c) == 0);

	/* poll and select: asleep until the old file has an event, then the number is
	 * looked at again. */
	tcp_pair(sv);
	start_blocked(&o, K_POLL, sv[0], SYS_poll);
	CHECK(close(sv[0]) == 0);
	nap(30);
	int still = o.ret == -2;
	CHECK(send(sv[1], "x", 1, 0) == 1);
	join(&o);
	printf("poll blocked on tcp, close(its fd): %s; the peer sends: %ld, revents 0x%x\n",
	       still ? "still waiting" : "returned", o.ret, o.revents);
	CHECK(close(sv[1]) == 0);

	/* Many readers of one socket (more than the runtime wakes in one batch). */
	enum { NREADERS = 40 };
	static struct op many[NREADERS];
	tcp_pair(sv);
	for (int i = 0; i < NREADERS; i++)
		start_blocked(&many[i], K_RECV, sv[0], SYS_recvfrom);
	CHECK(close(sv[0]) == 0);
	CHECK(send(sv[1], "0123456789", 10, 0) == 10);
	nap(30);
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	long total = 0;
	int eofs = 0;
	for (int i = 0; i < NREADERS; i++) {
		join(&many[i]);
		CHECK_OP(many[i], many[i].ret >= 0);
		total += many[i].ret;
		eofs += many[i].ret == 0;
	}
	nap(20);
	printf("%d tcp recvs blocked on one fd, close(it): the peer's 10 bytes went to them (%ld "
	       "in all), its shutdown gave the rest EOF; then the peer sees %s\n", NREADERS,
	       total, peer_state(sv[1]));
	CHECK(total == 10 && eofs >= NREADERS - 10);
	CHECK(close(sv[1]) == 0);

	CHECK(pipe(p) == 0);
	int ep = epoll_create1(0);
	struct epoll_event ee = { .events = EPOLLIN, .data.u64 = 42 };
	CHECK(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ee) == 0);
	start_blocked(&o, K_EPOLL_WAIT, ep, SYS_epoll_wait);
	CHECK(close(ep) == 0);
	nap(30);
	still = o.ret == -2;
	CHECK(write(p[1], "x", 1) == 1);
	join(&o);
	printf("epoll_wait blocked, close(the epoll fd): %s; an event in its set: %ld, data %d\n",
	       still ? "still waiting" : "returned", o.ret, o.revents);
	CHECK(close(p[0]) == 0 && close(p[1]) == 0);

	tcp_pair(sv);
	start_blocked(&o, K_SELECT, sv[0], SYS_pselect6);
	CHECK(close(sv[0]) == 0);
	nap(30);
	still = o.ret == -2;
	CHECK(send(sv[1], "x", 1, 0) == 1);
	join(&o);
	printf("select blocked on tcp, close(its fd): %s; the peer sends: %ld %s, the fd's bit %d\n",
	       still ? "still waiting" : "returned", o.ret, o.ret < 0 ? strerror(o.err) : "",
	       o.revents);
	CHECK(close(sv[1]) == 0);
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
	const char *pl = getenv("GOSHIM_TEST_PRELOADED");
	preloaded = pl && strcmp(pl, "1") == 0;
	test_close();
	printf("io_close_wakes: ok\n");
	return 0;
}
