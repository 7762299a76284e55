/* io_poll_select.c: compat test of poll/ppoll/select/pselect on pipes and sockets.
 *
 * Covers: readiness (POLLIN/POLLOUT/POLLPRI, read/write/except sets), timeouts of 0
 * and > 0 returning 0 (select writing back the time left, 0), waits blocked in a
 * thread and woken by another, POLLHUP and POLLERR on pipes, POLLRDHUP, a never
 * connected socket, POLLNVAL for a closed fd, negative fds ignored (revents zeroed),
 * EBADF from select/pselect with a closed fd, EINVAL for a bad timeout; and two
 * single-threaded event loops (one on poll, one on select) serving 6 client threads.
 * Every result is printed by the main thread, in a fixed order, after a join.
 * The only time measured is a lower bound: a timed-out wait must not return before
 * most of its timeout (40 ms of 50 ms) has passed. */
#define _GNU_SOURCE
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
#include <sys/select.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_poll_select: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)
/* A check on the outcome of a call made by another thread (struct with ret, err). */
#define CHECK_OP(o, c) do { if (!(c)) FAIL("%s (the thread's call returned %ld, errno %d %s)", \
	#c, (long)(o).ret, (o).err, strerror((o).err)); } while (0)
#define CHECK_ERR(call, e) do { errno = 0; long r_ = (long)(call); int e_ = errno; \
	if (r_ != -1 || e_ != (e)) FAIL("%s returned %ld errno %d (%s), want -1 %s", \
		#call, r_, e_, strerror(e_), #e); } while (0)

enum { TIMEO_MS = 50, MIN_MS = 40 };

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

static int tcp_listener(struct sockaddr_in *a)
{
	socklen_t len = sizeof *a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(l, (struct sockaddr *)a, sizeof *a) == 0);
	CHECK(listen(l, 16) == 0);
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

/* poll of one fd with timeout 0; returns revents (and checks the count). */
static int poll1(int fd, short events)
{
	struct pollfd p = { fd, events, 0x7777 };
	int n = poll(&p, 1, 0);
	CHECK(n == (p.revents != 0));
	return p.revents;
}

/* A blocking wait done by a thread: poll, ppoll, select or pselect of one fd for
 * reading, with no timeout. */
enum kind { K_POLL, K_PPOLL, K_SELECT, K_PSELECT };

struct op {
	enum kind kind;
	int fd;
	int ret;
	int err;
	int revents;	/* For poll: revents; for select: 1 if the fd is in the read set. */
	pthread_t t;
};

static void *run_op(void *arg)
{
	struct op *o = arg;
	struct pollfd p = { o->fd, POLLIN, 0 };
	fd_set r;
	sigset_t mask;

	FD_ZERO(&r);
	FD_SET(o->fd, &r);
	sigemptyset(&mask);
	switch (o->kind) {
	case K_POLL: o->ret = poll(&p, 1, -1); o->revents = p.revents; break;
	case K_PPOLL: o->ret = ppoll(&p, 1, NULL, &mask); o->revents = p.revents; break;
	case K_SELECT: o->ret = select(o->fd + 1, &r, NULL, NULL, NULL); break;
	case K_PSELECT: o->ret = pselect(o->fd + 1, &r, NULL, NULL, NULL, &mask); break;
	}
	o->err = errno;
	if (o->kind == K_SELECT || o->kind == K_PSELECT)
		o->revents = FD_ISSET(o->fd, &r);
	return NULL;
}

static const char *kind_name[4] = { "poll", "ppoll", "select", "pselect" };

static void test_blocked_waits(void)
{
	for (int k = 0; k < 4; k++) {
		int p[2], sv[2];
		struct op o = { .kind = k };
		char c;

		CHECK(pipe(p) == 0);
		o.fd = p[0];
		CHECK(pthread_create(&o.t, NULL, run_op, &o) == 0);
		nap(30);
		CHECK(write(p[1], "x", 1) == 1);
		CHECK(pthread_join(o.t, NULL) == 0);
		CHECK_OP(o, o.ret == 1 && o.revents == (k < 2 ? POLLIN : 1));
		CHECK(read(p[0], &c, 1) == 1);

		/* Woken by the last write end going away. */
		CHECK(pthread_create(&o.t, NULL, run_op, &o) == 0);
		nap(30);
		CHECK(close(p[1]) == 0);
		CHECK(pthread_join(o.t, NULL) == 0);
		CHECK_OP(o, o.ret == 1 && o.revents == (k < 2 ? POLLHUP : 1));
		CHECK(close(p[0]) == 0);

		tcp_pair(sv);
		o.fd = sv[0];
		CHECK(pthread_create(&o.t, NULL, run_op, &o) == 0);
		nap(30);
		CHECK(send(sv[1], "y", 1, 0) == 1);
		CHECK(pthread_join(o.t, NULL) == 0);
		CHECK_OP(o, o.ret == 1 && o.revents == (k < 2 ? POLLIN : 1));
		CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
		printf("%s blocked in a thread: woken by a pipe write (1), by close of the write "
		       "end (1, %s), by a tcp send (1)\n", kind_name[k], k < 2 ? "POLLHUP" : "readable");
	}
}

static void test_poll_pipe(void)
{
	int p[2];
	char buf[8];

	CHECK(pipe(p) == 0);
	struct pollfd two[2] = { { p[0], POLLIN, 0 }, { p[1], POLLOUT, 0 } };
	CHECK(poll(two, 2, 0) == 1);
	printf("pipe, empty: poll revents read end 0x%x, write end 0x%x\n", two[0].revents, two[1].revents);

	struct pollfd one = { p[0], POLLIN, 0x7777 };
	long t0 = now_ms();
	int n = poll(&one, 1, TIMEO_MS);
	long ms = now_ms() - t0;
	CHECK(n == 0 && one.revents == 0 && ms >= MIN_MS);
	printf("pipe, empty: poll timeout 0 -> 0, poll timeout 50 ms -> %d, revents 0, not early\n", n);

	struct timespec ts = { 0, TIMEO_MS * 1000000L };
	t0 = now_ms();
	n = ppoll(&one, 1, &ts, NULL);
	ms = now_ms() - t0;
	CHECK(n == 0 && ms >= MIN_MS);
	struct timespec badts = { 0, 1000000000L };
	CHECK_ERR(ppoll(&one, 1, &badts, NULL), EINVAL);
	printf("pipe, empty: ppoll timeout 50 ms -> %d, not early; tv_nsec 1e9 -> -1 EINVAL\n", n);

	CHECK(write(p[1], "ab", 2) == 2);
	CHECK(poll(two, 2, 0) == 2);
	printf("pipe, 2 bytes: poll revents read end 0x%x, write end 0x%x\n", two[0].revents, two[1].revents);
	printf("pipe, 2 bytes, events 0: revents 0x%x\n", poll1(p[0], 0));

	CHECK(close(p[1]) == 0);
	printf("pipe, 2 bytes, write end closed: read end revents 0x%x\n", poll1(p[0], POLLIN));
	CHECK(read(p[0], buf, sizeof buf) == 2);
	printf("pipe, drained, write end closed: read end revents 0x%x, with events 0: 0x%x\n",
	       poll1(p[0], POLLIN), poll1(p[0], 0));
	CHECK(close(p[0]) == 0);

	CHECK(pipe(p) == 0);
	CHECK(close(p[0]) == 0);
	printf("pipe, read end closed: write end revents 0x%x\n", poll1(p[1], POLLOUT));

	/* p[0] is closed now: POLLNVAL, counted. Negative fds: ignored, revents zeroed. */
	struct pollfd three[3] = { { -1, POLLIN, 0x7777 }, { p[0], POLLIN, 0x7777 },
				   { ~p[1], POLLOUT, 0x7777 } };
	n = poll(three, 3, 0);
	CHECK(n == 1 && three[0].revents == 0 && three[1].revents == POLLNVAL && three[2].revents == 0);
	printf("poll of {-1, closed fd, ~fd}: %d, revents 0x%x 0x%x 0x%x\n", n,
	       three[0].revents, three[1].revents, three[2].revents);
	struct pollfd neg[2] = { { -1, POLLIN, 0x7777 }, { -5, POLLOUT, 0x7777 } };
	t0 = now_ms();
	n = poll(neg, 2, TIMEO_MS);
	ms = now_ms() - t0;
	CHECK(n == 0 && neg[0].revents == 0 && neg[1].revents == 0 && ms >= MIN_MS);
	t0 = now_ms();
	n = poll(NULL, 0, TIMEO_MS);
	ms = now_ms() - t0;
	CHECK(n == 0 && ms >= MIN_MS);
	printf("poll of only negative fds, and of no fds, timeout 50 ms: 0, not early\n");
	CHECK(close(p[1]) == 0);
}

static void test_select(void)
{
	int p[2], sv[2];
	fd_set r, w, x;
	struct timeval tv;

	CHECK(pipe(p) == 0);
	tcp_pair(sv);
	int maxfd = (p[0] > sv[1] ? p[0] : sv[1]) + 1;
	maxfd = (p[1] + 1 > maxfd) ? p[1] + 1 : maxfd;

	FD_ZERO(&r);
	FD_SET(p[0], &r);
	FD_SET(sv[0], &r);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	int n = select(maxfd, &r, NULL, NULL, &tv);
	CHECK(n == 0 && !FD_ISSET(p[0], &r) && !FD_ISSET(sv[0], &r));
	FD_SET(p[0], &r);
	FD_SET(sv[0], &r);
	tv.tv_sec = 0;
	tv.tv_usec = TIMEO_MS * 1000;
	long t0 = now_ms();
	n = select(maxfd, &r, NULL, NULL, &tv);
	long ms = now_ms() - t0;
	CHECK(n == 0 && !FD_ISSET(p[0], &r) && !FD_ISSET(sv[0], &r) && ms >= MIN_MS);
	printf("select, nothing ready: timeout 0 -> 0, timeout 50 ms -> 0 with sets cleared, "
	       "time left %ld.%06ld, not early\n", (long)tv.tv_sec, (long)tv.tv_usec);

	struct timespec ts = { 0, TIMEO_MS * 1000000L };
	FD_SET(p[0], &r);
	t0 = now_ms();
	n = pselect(maxfd, &r, NULL, NULL, &ts, NULL);
	ms = now_ms() - t0;
	CHECK(n == 0 && !FD_ISSET(p[0], &r) && ms >= MIN_MS);
	printf("pselect, nothing ready, timeout 50 ms -> 0, timespec left as %ld.%09ld, not early\n",
	       (long)ts.tv_sec, ts.tv_nsec);

	CHECK(write(p[1], "r", 1) == 1);
	CHECK(send(sv[1], "s", 1, 0) == 1);
	FD_ZERO(&r);
	FD_ZERO(&w);
	FD_SET(p[0], &r);
	FD_SET(sv[0], &r);
	FD_SET(p[1], &w);
	FD_SET(sv[0], &w);
	tv.tv_sec = 5;
	tv.tv_usec = 0;
	n = select(maxfd, &r, &w, NULL, &tv);
	CHECK(n == 4 && FD_ISSET(p[0], &r) && FD_ISSET(sv[0], &r) && FD_ISSET(p[1], &w) &&
	      FD_ISSET(sv[0], &w));
	printf("select, pipe and socket readable and writable: %d\n", n);

	/* Out-of-band data: the except set, and POLLPRI. */
	CHECK(send(sv[1], "!", 1, MSG_OOB) == 1);
	FD_ZERO(&x);
	FD_SET(sv[0], &x);
	n = select(maxfd, NULL, NULL, &x, NULL);
	CHECK(n == 1 && FD_ISSET(sv[0], &x));
	int re = poll1(sv[0], POLLIN | POLLPRI);
	CHECK(re & POLLPRI);
	printf("tcp MSG_OOB: select except set %d, poll revents 0x%x\n", n, re);

	/* A closed fd in a set. */
	int dead = p[0];
	CHECK(close(p[0]) == 0);
	FD_ZERO(&r);
	FD_SET(dead, &r);
	tv.tv_sec = 0;
	tv.tv_usec = 0;
	CHECK_ERR(select(maxfd, &r, NULL, NULL, &tv), EBADF);
	FD_ZERO(&r);
	FD_SET(dead, &r);
	CHECK_ERR(pselect(maxfd, &r, NULL, NULL, NULL, NULL), EBADF);
	tv.tv_sec = 0;
	tv.tv_usec = -1;
	CHECK_ERR(select(0, NULL, NULL, NULL, &tv), EINVAL);
	printf("select and pselect with a closed fd: -1 EBADF; negative tv_usec: -1 EINVAL\n");
	CHECK(close(p[1]) == 0 && close(sv[0]) == 0 && close(sv[1]) == 0);
}

static void test_poll_socket(void)
{
	int sv[2];
	char buf[8];
	struct sockaddr_in a;

	int fresh = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(fresh >= 0);
	printf("tcp never connected: revents 0x%x\n", poll1(fresh, POLLIN | POLLOUT | POLLRDHUP));
	CHECK(close(fresh) == 0);

	int l = tcp_listener(&a);
	printf("tcp listener, none pending: revents 0x%x\n", poll1(l, POLLIN | POLLOUT));
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0 && connect(c, (struct sockaddr *)&a, sizeof a) == 0);
	struct pollfd lp = { l, POLLIN, 0 };
	CHECK(poll(&lp, 1, -1) == 1);
	printf("tcp listener, one pending: revents 0x%x\n", lp.revents);
	CHECK(close(c) == 0 && close(l) == 0);

	tcp_pair(sv);
	short ev = POLLIN | POLLOUT | POLLRDHUP;
	printf("tcp connected, idle: revents 0x%x\n", poll1(sv[0], ev));
	CHECK(send(sv[1], "d", 1, 0) == 1);
	printf("tcp with data: revents 0x%x\n", poll1(sv[0], ev));
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	printf("tcp with data, peer SHUT_WR: revents 0x%x\n", poll1(sv[0], ev));
	CHECK(recv(sv[0], buf, sizeof buf, 0) == 1);
	printf("tcp drained, peer SHUT_WR: revents 0x%x (without POLLRDHUP asked: 0x%x)\n",
	       poll1(sv[0], ev), poll1(sv[0], POLLIN | POLLOUT));
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	printf("tcp both directions shut: revents 0x%x\n", poll1(sv[0], ev));
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);

	tcp_pair(sv);
	struct linger lg = { 1, 0 };
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
	CHECK(close(sv[1]) == 0);
	struct pollfd rp = { sv[0], ev, 0 };
	CHECK(poll(&rp, 1, -1) == 1);
	printf("tcp reset by the peer: revents 0x%x\n", rp.revents);
	CHECK(close(sv[0]) == 0);

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	printf("unix pair, idle: revents 0x%x\n", poll1(sv[0], ev));
	CHECK(close(sv[1]) == 0);
	printf("unix pair, peer closed: revents 0x%x\n", poll1(sv[0], ev));
	CHECK(close(sv[0]) == 0);
}

/* The event loops: one thread serving several clients, each of which sends ROUNDS
 * lines and expects each back upper-cased before sending the next. */
enum { NCLIENTS = 6, ROUNDS = 5 };

static struct sockaddr_in loop_addr;
static int client_ok[NCLIENTS];

static void *loop_client(void *arg)
{
	int id = (int)(long)arg;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&loop_addr, sizeof loop_addr) != 0)
		return NULL;
	for (int i = 0; i < ROUNDS; i++) {
		char msg[32], want[32], got[32];
		int len = snprintf(msg, sizeof msg, "client %d line %d\n", id, i);
		for (int j = 0; j <= len; j++)
			want[j] = (msg[j] >= 'a' && msg[j] <= 'z') ? msg[j] - 32 : msg[j];
		if (send(c, msg, len, 0) != len)
			break;
		int n = 0;
		while (n < len) {
			ssize_t r = recv(c, got + n, len - n, 0);
			if (r <= 0)
				break;
			n += r;
		}
		if (n != len || memcmp(got, want, len) != 0)
			break;
		client_ok[id]++;
	}
	close(c);
	return NULL;
}

/* Echoes what is readable on fd, upper-cased. Returns 0 when the peer is gone. */
static int serve(int fd, long *bytes)
{
	char buf[256];
	ssize_t n = read(fd, buf, sizeof buf);
	if (n < 0 && errno == EAGAIN)
		return 1;
	if (n <= 0)
		return 0;
	for (ssize_t i = 0; i < n; i++)
		if (buf[i] >= 'a' && buf[i] <= 'z')
			buf[i] -= 32;
	CHECK(write(fd, buf, n) == n);
	*bytes += n;
	return 1;
}

static void run_loop(int use_select)
{
	pthread_t t[NCLIENTS];
	int l = tcp_listener(&loop_addr);
	int fds[NCLIENTS + 1];
	int nfds = 1, accepted = 0, closed = 0, wakeups = 0;
	long bytes = 0;

	CHECK(fcntl(l, F_SETFL, O_NONBLOCK) == 0);
	fds[0] = l;
	memset(client_ok, 0, sizeof client_ok);
	for (int i = 0; i < NCLIENTS; i++)
		CHECK(pthread_create(&t[i], NULL, loop_client, (void *)(long)i) == 0);
	while (closed < NCLIENTS) {
		int ready[NCLIENTS + 1] = { 0 };
		if (use_select) {
			fd_set r;
			int maxfd = 0;
			FD_ZERO(&r);
			for (int i = 0; i < nfds; i++) {
				FD_SET(fds[i], &r);
				maxfd = fds[i] > maxfd ? fds[i] : maxfd;
			}
			int n = select(maxfd + 1, &r, NULL, NULL, NULL);
			CHECK(n > 0);
			for (int i = 0; i < nfds; i++)
				ready[i] = FD_ISSET(fds[i], &r);
		} else {
			struct pollfd p[NCLIENTS + 1];
			for (int i = 0; i < nfds; i++) {
				p[i].fd = fds[i];
				p[i].events = POLLIN;
			}
			int n = poll(p, nfds, -1);
			CHECK(n > 0);
			for (int i = 0; i < nfds; i++) {
				CHECK(!(p[i].revents & (POLLNVAL | POLLERR)));
				ready[i] = p[i].revents != 0;
			}
		}
		wakeups++;
		for (int i = nfds - 1; i >= 1; i--) {
			if (ready[i] && !serve(fds[i], &bytes)) {
				CHECK(close(fds[i]) == 0);
				fds[i] = fds[--nfds];
				closed++;
			}
		}
		if (ready[0]) {
			int a;
			while ((a = accept(l, NULL, NULL)) >= 0) {
				CHECK(fcntl(a, F_SETFL, O_NONBLOCK) == 0);
				CHECK(nfds < NCLIENTS + 1);
				fds[nfds++] = a;
				accepted++;
			}
			CHECK(errno == EAGAIN);
		}
	}
	int ok = 0;
	for (int i = 0; i < NCLIENTS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		ok += client_ok[i];
	}
	CHECK(close(l) == 0);
	if (ok != NCLIENTS * ROUNDS || accepted != NCLIENTS)
		FAIL("%s loop: %d of %d lines echoed, %d accepted", use_select ? "select" : "poll",
		     ok, NCLIENTS * ROUNDS, accepted);
	(void)wakeups;
	printf("single-threaded %s loop: %d clients accepted and closed, %d lines (%ld bytes) "
	       "echoed correctly\n", use_select ? "select" : "poll", accepted, ok, bytes);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_blocked_waits();
	test_poll_pipe();
	test_select();
	test_poll_socket();
	run_loop(0);
	run_loop(1);
	printf("io_poll_select: ok\n");
	return 0;
}
