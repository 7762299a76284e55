/* io_accept_connect.c: compat test of accept/accept4/connect on TCP over 127.0.0.1.
 *
 * Covers: a blocked accept woken by a connect (addresses reported right), accept4
 * with every combination of SOCK_NONBLOCK/SOCK_CLOEXEC (and flags never inherited by
 * plain accept), EAGAIN from a non-blocking listener, error returns (EINVAL, EBADF,
 * ENOTSOCK, EISCONN; accept4 with unknown flags is io_accept4_flags.c), ECONNREFUSED from a bound but not listening port (blocking and
 * non-blocking), a non-blocking connect completing (EINPROGRESS, POLLOUT, SO_ERROR 0),
 * and a pre-threaded server: 8 threads blocked in accept() on one listening socket
 * serving 64 connections from 8 client threads, then 8 "quit" connections.
 * Every result is printed by the main thread, in a fixed order, after a join. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_accept_connect: FAIL at line %d: ", __LINE__); \
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

/* A TCP socket bound to 127.0.0.1 on an ephemeral port, listening if backlog >= 0. */
static int tcp_bound(struct sockaddr_in *a, int backlog, int type_flags)
{
	socklen_t len = sizeof *a;
	int s = socket(AF_INET, SOCK_STREAM | type_flags, 0);
	CHECK(s >= 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(s, (struct sockaddr *)a, sizeof *a) == 0);
	if (backlog >= 0)
		CHECK(listen(s, backlog) == 0);
	CHECK(getsockname(s, (struct sockaddr *)a, &len) == 0);
	return s;
}

static int tcp_connect(const struct sockaddr_in *a)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	CHECK(connect(c, (const struct sockaddr *)a, sizeof *a) == 0);
	return c;
}

static int same_addr(const struct sockaddr_in *x, const struct sockaddr_in *y)
{
	return x->sin_family == y->sin_family && x->sin_port == y->sin_port &&
	       x->sin_addr.s_addr == y->sin_addr.s_addr;
}

/* One accept4 (flags < 0: accept) or connect done by a thread. */
struct op {
	int fd;
	int flags;
	struct sockaddr_in addr;
	socklen_t addrlen;
	int ret;
	int err;
	pthread_t t;
};

static void *do_accept(void *arg)
{
	struct op *o = arg;
	o->addrlen = sizeof o->addr;
	if (o->flags < 0)
		o->ret = accept(o->fd, (struct sockaddr *)&o->addr, &o->addrlen);
	else
		o->ret = accept4(o->fd, (struct sockaddr *)&o->addr, &o->addrlen, o->flags);
	o->err = errno;
	return NULL;
}

static void *do_connect(void *arg)
{
	struct op *o = arg;
	o->ret = connect(o->fd, (struct sockaddr *)&o->addr, sizeof o->addr);
	o->err = errno;
	return NULL;
}

static void start(struct op *o, void *(*fn)(void *), int fd, int flags)
{
	o->fd = fd;
	o->flags = flags;
	o->ret = -2;
	o->err = 0;
	CHECK(pthread_create(&o->t, NULL, fn, o) == 0);
}

static void join(struct op *o)
{
	CHECK(pthread_join(o->t, NULL) == 0);
}

static const char *nb(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	CHECK(fl != -1);
	return (fl & O_NONBLOCK) ? "O_NONBLOCK" : "blocking";
}

static const char *cloexec(int fd)
{
	int fl = fcntl(fd, F_GETFD);
	CHECK(fl != -1);
	return (fl & FD_CLOEXEC) ? "FD_CLOEXEC" : "no-cloexec";
}

static void test_accept(void)
{
	struct sockaddr_in la, ca, pa;
	socklen_t len;
	struct op o;
	int l = tcp_bound(&la, 16, 0);

	start(&o, do_accept, l, -1);
	nap(30);
	int c = tcp_connect(&la);
	join(&o);
	CHECK_OP(o, o.ret >= 0);
	len = sizeof ca;
	CHECK(getsockname(c, (struct sockaddr *)&ca, &len) == 0);
	len = sizeof pa;
	CHECK(getpeername(o.ret, (struct sockaddr *)&pa, &len) == 0);
	CHECK(o.addrlen == sizeof(struct sockaddr_in) && same_addr(&o.addr, &ca) && same_addr(&pa, &ca));
	int fl = fcntl(o.ret, F_GETFL);
	printf("blocked accept woken by connect: addrlen %u, peer is the client, "
	       "F_GETFL 0%o %s %s\n", (unsigned)o.addrlen, fl, nb(o.ret), cloexec(o.ret));
	/* The accepted socket works both ways, and stays blocking after use. */
	char buf[8];
	CHECK(send(c, "hi", 2, 0) == 2 && recv(o.ret, buf, sizeof buf, 0) == 2);
	CHECK(send(o.ret, "yo", 2, 0) == 2 && recv(c, buf, sizeof buf, 0) == 2);
	CHECK(fcntl(o.ret, F_GETFL) == fl);
	CHECK(close(o.ret) == 0 && close(c) == 0);

	/* accept4 flags land on the result exactly. */
	static const int fl4[4] = { 0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC };
	for (int i = 0; i < 4; i++) {
		start(&o, do_accept, l, fl4[i]);
		nap(20);
		c = tcp_connect(&la);
		join(&o);
		CHECK_OP(o, o.ret >= 0);
		printf("blocked accept4(%s%s%s): result %s %s\n",
		       fl4[i] & SOCK_NONBLOCK ? "SOCK_NONBLOCK" : "",
		       fl4[i] == (SOCK_NONBLOCK | SOCK_CLOEXEC) ? "|" : "",
		       fl4[i] & SOCK_CLOEXEC ? "SOCK_CLOEXEC" : (fl4[i] ? "" : "0"),
		       nb(o.ret), cloexec(o.ret));
		if (fl4[i] & SOCK_NONBLOCK)
			CHECK_ERR(recv(o.ret, buf, sizeof buf, 0), EAGAIN);
		CHECK(close(o.ret) == 0 && close(c) == 0);
	}

	/* A non-blocking listener: EAGAIN with nothing pending; plain accept does not
	 * pass O_NONBLOCK on to the result. */
	int fl0 = fcntl(l, F_GETFL);
	CHECK(fcntl(l, F_SETFL, fl0 | O_NONBLOCK) == 0);
	CHECK_ERR(accept(l, NULL, NULL), EAGAIN);
	start(&o, do_accept, l, -1);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EAGAIN);
	start(&o, do_accept, l, SOCK_CLOEXEC);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EAGAIN);
	printf("non-blocking listener, none pending: accept and accept4 -1 EAGAIN in main and thread\n");
	c = tcp_connect(&la);
	struct pollfd pfd = { l, POLLIN, 0 };
	CHECK(poll(&pfd, 1, -1) == 1 && pfd.revents == POLLIN);
	int a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	printf("non-blocking listener, one pending: accept result %s %s\n", nb(a), cloexec(a));
	CHECK(close(a) == 0 && close(c) == 0);
	CHECK(fcntl(l, F_SETFL, fl0) == 0);
	CHECK(fcntl(l, F_GETFL) == fl0);

	/* Errors. */
	int notl = tcp_bound(&pa, -1, 0);
	CHECK_ERR(accept(notl, NULL, NULL), EINVAL);
	start(&o, do_accept, notl, 0);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EINVAL);
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK_ERR(accept(p[0], NULL, NULL), ENOTSOCK);
	CHECK(close(p[0]) == 0 && close(p[1]) == 0);
	CHECK_ERR(accept(p[0], NULL, NULL), EBADF);
	/* accept4 with bad flags: io_accept4_flags.c. */
	printf("accept on a non-listening socket -1 EINVAL, on a pipe ENOTSOCK, on a closed fd "
	       "EBADF\n");
	CHECK(close(notl) == 0);
	CHECK(close(l) == 0);
}

static void test_connect(void)
{
	struct sockaddr_in ra, la;
	struct op o;
	/* Bound but not listening: a SYN to it gets an RST, and keeping the socket open
	 * keeps the port from being taken by anybody else meanwhile. */
	int refuser = tcp_bound(&ra, -1, 0);

	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	CHECK_ERR(connect(c, (struct sockaddr *)&ra, sizeof ra), ECONNREFUSED);
	CHECK(close(c) == 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	o.addr = ra;
	start(&o, do_connect, c, 0);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == ECONNREFUSED);
	CHECK(close(c) == 0);
	printf("blocking connect to a closed port, main and thread: -1 ECONNREFUSED\n");

	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(c >= 0);
	CHECK_ERR(connect(c, (struct sockaddr *)&ra, sizeof ra), EINPROGRESS);
	struct pollfd pfd = { c, POLLOUT, 0 };
	CHECK(poll(&pfd, 1, -1) == 1);
	int soerr = -1;
	socklen_t len = sizeof soerr;
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0);
	CHECK(soerr == ECONNREFUSED);
	int soerr2 = -1;
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr2, &len) == 0);
	CHECK(soerr2 == 0);
	printf("non-blocking connect to a closed port: EINPROGRESS, poll revents 0x%x, "
	       "SO_ERROR ECONNREFUSED then 0\n", pfd.revents);
	CHECK(close(c) == 0);
	CHECK(close(refuser) == 0);

	int l = tcp_bound(&la, 16, 0);
	c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	CHECK(c >= 0);
	CHECK_ERR(connect(c, (struct sockaddr *)&la, sizeof la), EINPROGRESS);
	pfd.fd = c;
	pfd.events = POLLOUT;
	CHECK(poll(&pfd, 1, -1) == 1);
	CHECK(getsockopt(c, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0);
	CHECK(soerr == 0);
	/* Linux: the first connect after completion reports it (0), the next EISCONN. */
	CHECK(connect(c, (struct sockaddr *)&la, sizeof la) == 0);
	CHECK_ERR(connect(c, (struct sockaddr *)&la, sizeof la), EISCONN);
	printf("non-blocking connect: EINPROGRESS, poll revents 0x%x, SO_ERROR 0, connect again "
	       "0, then -1 EISCONN, still %s\n", pfd.revents, nb(c));
	int a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	char buf[4];
	CHECK(send(c, "nb", 2, 0) == 2 && recv(a, buf, sizeof buf, 0) == 2);
	CHECK(close(a) == 0 && close(c) == 0);

	/* Blocking connect from a thread, then EISCONN. */
	c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	o.addr = la;
	start(&o, do_connect, c, 0);
	join(&o);
	CHECK_OP(o, o.ret == 0);
	CHECK_ERR(connect(c, (struct sockaddr *)&la, sizeof la), EISCONN);
	a = accept(l, NULL, NULL);
	CHECK(a >= 0);
	printf("blocking connect in a thread: 0, again -1 EISCONN, socket %s\n", nb(c));
	CHECK(close(a) == 0 && close(c) == 0 && close(l) == 0);
}

/* The pre-threaded server. */
enum { SERVERS = 8, CLIENTS = 8, PER_CLIENT = 8 };

static int srv_listener;
static struct sockaddr_in srv_addr;
static pthread_mutex_t srv_lock = PTHREAD_MUTEX_INITIALIZER;
static int srv_served;	/* Connections answered. srv_lock. */
static int srv_bad;	/* Malformed requests or failed calls. srv_lock. */

/* Reads one line ending in '\n' (at most cap-1 bytes), byte by byte as a naive
 * program would. Returns its length, 0 on EOF first, -1 on error. */
static int read_line(int fd, char *buf, int cap)
{
	int n = 0;
	while (n < cap - 1) {
		ssize_t r = recv(fd, buf + n, 1, 0);
		if (r <= 0)
			return r == 0 && n == 0 ? 0 : -1;
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	return n;
}

static void *server_main(void *arg)
{
	(void)arg;
	for (;;) {
		char line[64], reply[80];
		int a = accept(srv_listener, NULL, NULL);
		if (a < 0) {
			pthread_mutex_lock(&srv_lock);
			srv_bad++;
			pthread_mutex_unlock(&srv_lock);
			return NULL;
		}
		int n = read_line(a, line, sizeof line);
		int quit = n > 0 && strcmp(line, "quit\n") == 0;
		int c, i;
		if (!quit && n > 0 && sscanf(line, "req %d %d", &c, &i) == 2) {
			int len = snprintf(reply, sizeof reply, "ans %d %d %d\n", c, i, c * 100 + i);
			int ok = send(a, reply, len, 0) == len;
			pthread_mutex_lock(&srv_lock);
			if (ok)
				srv_served++;
			else
				srv_bad++;
			pthread_mutex_unlock(&srv_lock);
		} else if (!quit) {
			pthread_mutex_lock(&srv_lock);
			srv_bad++;
			pthread_mutex_unlock(&srv_lock);
		}
		close(a);
		if (quit)
			return NULL;
	}
}

static int client_ok[CLIENTS];

static void *client_main(void *arg)
{
	int id = (int)(long)arg;
	for (int i = 0; i < PER_CLIENT; i++) {
		char req[32], want[48], got[64];
		int c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0 || connect(c, (struct sockaddr *)&srv_addr, sizeof srv_addr) != 0)
			return NULL;
		int len = snprintf(req, sizeof req, "req %d %d\n", id, i);
		snprintf(want, sizeof want, "ans %d %d %d\n", id, i, id * 100 + i);
		if (send(c, req, len, 0) != len || read_line(c, got, sizeof got) <= 0 ||
		    strcmp(got, want) != 0) {
			close(c);
			return NULL;
		}
		close(c);
		client_ok[id]++;
	}
	return NULL;
}

static void test_prethreaded(void)
{
	pthread_t srv[SERVERS], cli[CLIENTS];

	srv_listener = tcp_bound(&srv_addr, 64, 0);
	for (int i = 0; i < SERVERS; i++)
		CHECK(pthread_create(&srv[i], NULL, server_main, NULL) == 0);
	nap(30);
	for (int i = 0; i < CLIENTS; i++)
		CHECK(pthread_create(&cli[i], NULL, client_main, (void *)(long)i) == 0);
	int ok = 0;
	for (int i = 0; i < CLIENTS; i++) {
		CHECK(pthread_join(cli[i], NULL) == 0);
		ok += client_ok[i];
	}
	/* One quit per server thread; each takes exactly one and leaves. */
	for (int i = 0; i < SERVERS; i++) {
		int c = tcp_connect(&srv_addr);
		CHECK(send(c, "quit\n", 5, 0) == 5);
		CHECK(close(c) == 0);
	}
	for (int i = 0; i < SERVERS; i++)
		CHECK(pthread_join(srv[i], NULL) == 0);
	if (ok != CLIENTS * PER_CLIENT || srv_served != CLIENTS * PER_CLIENT || srv_bad)
		FAIL("pre-threaded: clients ok %d, served %d, bad %d, want %d %d 0",
		     ok, srv_served, srv_bad, CLIENTS * PER_CLIENT, CLIENTS * PER_CLIENT);
	printf("pre-threaded server: %d threads in accept, %d connections answered correctly, "
	       "all %d threads quit\n", SERVERS, ok, SERVERS);
	CHECK(close(srv_listener) == 0);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_accept();
	test_connect();
	test_prethreaded();
	printf("io_accept_connect: ok\n");
	return 0;
}
