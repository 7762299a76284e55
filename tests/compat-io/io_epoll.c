/* io_epoll.c: compat test of the program's own epoll: epoll_wait/epoll_pwait/epoll_pwait2.
 *
 * Covers: level- and edge-triggered readiness on pipes, EPOLLONESHOT and re-arming,
 * timeouts of 0 and > 0 returning 0, a wait blocked in a thread woken by a write
 * (epoll_wait, epoll_pwait, epoll_pwait2), EPOLLHUP/EPOLLERR, epoll_ctl and
 * epoll_wait errors, an fd leaving the set when closed, an epoll fd polled with poll()
 * and nested in another epoll, and two single-threaded event loops (edge-triggered
 * with non-blocking sockets drained to EAGAIN, and level-triggered) serving 6 client
 * threads. Every result is printed by the main thread, in a fixed order, after a join.
 * The only time measured is a lower bound: a timed-out wait must not return before
 * most of its timeout (40 ms of 50 ms) has passed. */
// compat-skip-runner: qemu-aarch64-static: qemu-user 7.2 has no epoll_pwait2 (ENOSYS), the native run fails
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
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_epoll: FAIL at line %d: ", __LINE__); \
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

static void add(int ep, int fd, unsigned events, unsigned long long tag)
{
	struct epoll_event e = { .events = events, .data.u64 = tag };
	CHECK(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e) == 0);
}

/* epoll_wait with timeout 0 returning n events; the first is returned in *e. */
static int wait0(int ep, struct epoll_event *e)
{
	struct epoll_event evs[8];
	int n = epoll_wait(ep, evs, 8, 0);
	CHECK(n >= 0);
	if (n > 0 && e)
		*e = evs[0];
	return n;
}

static void test_triggers(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int lt[2], et[2], os[2];
	struct epoll_event e;
	char buf[16];

	CHECK(ep >= 0);
	CHECK(fcntl(ep, F_GETFD) == FD_CLOEXEC);
	CHECK(pipe(lt) == 0 && pipe(et) == 0 && pipe(os) == 0);
	add(ep, lt[0], EPOLLIN, 0x1111);
	add(ep, et[0], EPOLLIN | EPOLLET, 0x2222);
	add(ep, os[0], EPOLLIN | EPOLLONESHOT, 0x3333);

	int n0 = wait0(ep, NULL);
	struct epoll_event evs[4];
	long t0 = now_ms();
	int n1 = epoll_wait(ep, evs, 4, TIMEO_MS);
	long ms = now_ms() - t0;
	CHECK(n0 == 0 && n1 == 0 && ms >= MIN_MS);
	sigset_t mask;
	sigemptyset(&mask);
	t0 = now_ms();
	int n2 = epoll_pwait(ep, evs, 4, TIMEO_MS, &mask);
	ms = now_ms() - t0;
	CHECK(n2 == 0 && ms >= MIN_MS);
	struct timespec ts = { 0, TIMEO_MS * 1000000L };
	t0 = now_ms();
	int n3 = epoll_pwait2(ep, evs, 4, &ts, NULL);
	ms = now_ms() - t0;
	CHECK(n3 == 0 && ms >= MIN_MS);
	printf("nothing ready: epoll_wait timeout 0 -> 0, epoll_wait/epoll_pwait/epoll_pwait2 "
	       "50 ms -> 0, not early\n");

	CHECK(write(lt[1], "ab", 2) == 2);
	int a = wait0(ep, &e);
	CHECK(a == 1 && e.events == EPOLLIN && e.data.u64 == 0x1111);
	int b = wait0(ep, &e);
	CHECK(b == 1 && e.data.u64 == 0x1111);
	CHECK(read(lt[0], buf, 1) == 1);
	int c = wait0(ep, &e);
	CHECK(c == 1);
	CHECK(read(lt[0], buf, 1) == 1);
	int d = wait0(ep, NULL);
	CHECK(d == 0);
	printf("level-triggered: %d, again %d, after reading half %d, after draining %d; "
	       "events 0x%x, data kept\n", a, b, c, d, EPOLLIN);

	CHECK(write(et[1], "ab", 2) == 2);
	a = wait0(ep, &e);
	CHECK(a == 1 && e.events == EPOLLIN && e.data.u64 == 0x2222);
	b = wait0(ep, NULL);
	CHECK(read(et[0], buf, 1) == 1);
	c = wait0(ep, NULL);
	CHECK(write(et[1], "c", 1) == 1);
	d = wait0(ep, &e);
	CHECK(b == 0 && c == 0 && d == 1 && e.data.u64 == 0x2222);
	printf("edge-triggered: %d, again %d, after a partial read %d, after a new write %d\n",
	       a, b, c, d);
	CHECK(read(et[0], buf, sizeof buf) == 2);

	CHECK(write(os[1], "x", 1) == 1);
	a = wait0(ep, &e);
	CHECK(a == 1 && e.data.u64 == 0x3333);
	CHECK(write(os[1], "y", 1) == 1);
	b = wait0(ep, NULL);
	struct epoll_event mod = { .events = EPOLLIN | EPOLLONESHOT, .data.u64 = 0x4444 };
	CHECK(epoll_ctl(ep, EPOLL_CTL_MOD, os[0], &mod) == 0);
	c = wait0(ep, &e);
	CHECK(b == 0 && c == 1 && e.data.u64 == 0x4444);
	d = wait0(ep, NULL);
	CHECK(d == 0);
	printf("oneshot: %d, with more data %d, after EPOLL_CTL_MOD %d (new data), then %d\n",
	       a, b, c, d);
	CHECK(read(os[0], buf, sizeof buf) == 2);

	/* Hang-ups and errors. */
	CHECK(close(lt[1]) == 0);
	a = wait0(ep, &e);
	CHECK(a == 1 && e.data.u64 == 0x1111);
	printf("write end closed: 1 event 0x%x\n", e.events);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, lt[0], NULL) == 0);
	CHECK(close(lt[0]) == 0);
	CHECK(close(et[0]) == 0);
	add(ep, et[1], EPOLLOUT, 0x5555);
	a = wait0(ep, &e);
	CHECK(a == 1 && e.data.u64 == 0x5555);
	printf("read end closed, write end registered for EPOLLOUT: 1 event 0x%x\n", e.events);
	CHECK(close(et[1]) == 0);

	/* Closing the only descriptor of a file removes it from the set, even with
	 * data ready. */
	CHECK(pipe(lt) == 0);
	add(ep, lt[0], EPOLLIN, 0x6666);
	CHECK(write(lt[1], "r", 1) == 1);
	a = wait0(ep, NULL);
	CHECK(close(lt[0]) == 0);
	b = wait0(ep, NULL);
	CHECK(a == 1 && b == 0);
	printf("registered fd with data: %d, after closing it: %d\n", a, b);
	CHECK(close(lt[1]) == 0);

	/* Errors. */
	CHECK(pipe(lt) == 0);
	add(ep, lt[0], EPOLLIN, 1);
	struct epoll_event x = { .events = EPOLLIN };
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, lt[0], &x), EEXIST);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_MOD, lt[1], &x), ENOENT);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_DEL, lt[1], NULL), ENOENT);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, ep, &x), EINVAL);
	char path[] = "/tmp/io_epoll.XXXXXX";
	int reg = mkstemp(path);
	CHECK(reg >= 0 && unlink(path) == 0);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, reg, &x), EPERM);
	CHECK(close(reg) == 0);
	CHECK_ERR(epoll_wait(ep, evs, 0, 0), EINVAL);
	CHECK_ERR(epoll_wait(lt[0], evs, 4, 0), EINVAL);
	CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, lt[0], NULL) == 0);
	CHECK(close(lt[0]) == 0 && close(lt[1]) == 0);
	CHECK_ERR(epoll_wait(lt[0], evs, 4, 0), EBADF);
	CHECK_ERR(epoll_ctl(ep, EPOLL_CTL_ADD, lt[0], &x), EBADF);
	printf("errors: ADD twice EEXIST, MOD/DEL unknown ENOENT, ADD self EINVAL, ADD regular "
	       "file EPERM, maxevents 0 EINVAL, wait on a pipe EINVAL, closed fd EBADF\n");
	CHECK(close(os[0]) == 0 && close(os[1]) == 0 && close(ep) == 0);
}

/* A wait blocked in a thread. */
struct op {
	int kind;	/* 0 epoll_wait, 1 epoll_pwait, 2 epoll_pwait2 */
	int ep;
	int ret;
	int err;
	struct epoll_event e;
	pthread_t t;
};

static void *run_wait(void *arg)
{
	struct op *o = arg;
	sigset_t mask;
	sigemptyset(&mask);
	switch (o->kind) {
	case 0: o->ret = epoll_wait(o->ep, &o->e, 1, -1); break;
	case 1: o->ret = epoll_pwait(o->ep, &o->e, 1, -1, &mask); break;
	case 2: o->ret = epoll_pwait2(o->ep, &o->e, 1, NULL, &mask); break;
	}
	o->err = errno;
	return NULL;
}

static void test_blocked(void)
{
	static const char *name[3] = { "epoll_wait", "epoll_pwait", "epoll_pwait2" };
	for (int k = 0; k < 3; k++) {
		int p[2], sv[2];
		struct op o = { .kind = k };
		char buf[4];

		o.ep = epoll_create1(0);
		CHECK(o.ep >= 0 && pipe(p) == 0);
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
		add(o.ep, p[0], EPOLLIN, 7);
		add(o.ep, sv[0], EPOLLIN | EPOLLET, 8);
		CHECK(pthread_create(&o.t, NULL, run_wait, &o) == 0);
		nap(30);
		CHECK(write(p[1], "w", 1) == 1);
		CHECK(pthread_join(o.t, NULL) == 0);
		CHECK_OP(o, o.ret == 1 && o.e.events == EPOLLIN && o.e.data.u64 == 7);
		CHECK(read(p[0], buf, sizeof buf) == 1);
		CHECK(pthread_create(&o.t, NULL, run_wait, &o) == 0);
		nap(30);
		CHECK(send(sv[1], "s", 1, 0) == 1);
		CHECK(pthread_join(o.t, NULL) == 0);
		CHECK_OP(o, o.ret == 1 && o.e.events == EPOLLIN && o.e.data.u64 == 8);
		printf("%s blocked in a thread: woken by a pipe write (1 EPOLLIN), by a send on an "
		       "edge-triggered socket (1 EPOLLIN)\n", name[k]);
		CHECK(close(p[0]) == 0 && close(p[1]) == 0 && close(sv[0]) == 0 && close(sv[1]) == 0);
		CHECK(close(o.ep) == 0);
	}
}

static void test_nested(void)
{
	int ep = epoll_create1(0), outer = epoll_create1(0);
	int p[2];
	struct epoll_event e;

	CHECK(ep >= 0 && outer >= 0 && pipe(p) == 0);
	add(ep, p[0], EPOLLIN, 1);
	add(outer, ep, EPOLLIN, 2);
	struct pollfd pf = { ep, POLLIN, 0 };
	int a = poll(&pf, 1, 0);
	int b = wait0(outer, NULL);
	CHECK(a == 0 && b == 0);
	CHECK(write(p[1], "n", 1) == 1);
	a = poll(&pf, 1, -1);
	CHECK(a == 1 && pf.revents == POLLIN);
	b = wait0(outer, &e);
	CHECK(b == 1 && e.data.u64 == 2 && e.events == EPOLLIN);
	printf("epoll fd in poll(): 0 then 1 POLLIN; nested in another epoll: 0 then 1 EPOLLIN\n");
	CHECK(close(p[0]) == 0 && close(p[1]) == 0 && close(ep) == 0 && close(outer) == 0);
}

/* The event loops: one thread serving several clients, each of which sends ROUNDS
 * lines and expects each back reversed-case before sending the next. */
enum { NCLIENTS = 6, ROUNDS = 5 };

static struct sockaddr_in loop_addr;
static int client_ok[NCLIENTS];

static char flip(char c)
{
	if (c >= 'a' && c <= 'z')
		return c - 32;
	if (c >= 'A' && c <= 'Z')
		return c + 32;
	return c;
}

static void *loop_client(void *arg)
{
	int id = (int)(long)arg;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&loop_addr, sizeof loop_addr) != 0)
		return NULL;
	for (int i = 0; i < ROUNDS; i++) {
		char msg[48], got[48];
		int len = snprintf(msg, sizeof msg, "Client %d Line %d of the Epoll test\n", id, i);
		if (send(c, msg, len, 0) != len)
			break;
		int n = 0;
		while (n < len) {
			ssize_t r = recv(c, got + n, len - n, 0);
			if (r <= 0)
				break;
			n += r;
		}
		int same = n == len;
		for (int j = 0; same && j < len; j++)
			same = got[j] == flip(msg[j]);
		if (!same)
			break;
		client_ok[id]++;
	}
	close(c);
	return NULL;
}

static void run_loop(int et)
{
	pthread_t t[NCLIENTS];
	int ep = epoll_create1(EPOLL_CLOEXEC);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	socklen_t len = sizeof loop_addr;
	int accepted = 0, closed = 0;
	long bytes = 0;

	CHECK(ep >= 0 && l >= 0);
	memset(&loop_addr, 0, sizeof loop_addr);
	loop_addr.sin_family = AF_INET;
	loop_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(l, (struct sockaddr *)&loop_addr, sizeof loop_addr) == 0);
	CHECK(listen(l, 16) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&loop_addr, &len) == 0);
	add(ep, l, EPOLLIN | (et ? EPOLLET : 0), (unsigned)l);
	memset(client_ok, 0, sizeof client_ok);
	for (int i = 0; i < NCLIENTS; i++)
		CHECK(pthread_create(&t[i], NULL, loop_client, (void *)(long)i) == 0);
	while (closed < NCLIENTS) {
		struct epoll_event evs[4];	/* Fewer than the clients: events carry over. */
		int n = et ? epoll_wait(ep, evs, 4, -1) : epoll_pwait(ep, evs, 4, 5000, NULL);
		CHECK(n > 0);
		for (int i = 0; i < n; i++) {
			int fd = (int)evs[i].data.u64;
			if (fd == l) {
				int a;
				while ((a = accept4(l, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					add(ep, a, EPOLLIN | EPOLLRDHUP | (et ? EPOLLET : 0), (unsigned)a);
					accepted++;
				}
				CHECK(errno == EAGAIN);
				continue;
			}
			/* Edge-triggered: read until EAGAIN. Level-triggered: one read. */
			for (;;) {
				char buf[64];
				ssize_t r = read(fd, buf, sizeof buf);
				if (r < 0 && errno == EAGAIN)
					break;
				CHECK(r >= 0);
				if (r == 0) {
					CHECK(epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL) == 0);
					CHECK(close(fd) == 0);
					closed++;
					break;
				}
				for (ssize_t j = 0; j < r; j++)
					buf[j] = flip(buf[j]);
				CHECK(write(fd, buf, r) == r);
				bytes += r;
				if (!et)
					break;
			}
		}
	}
	int ok = 0;
	for (int i = 0; i < NCLIENTS; i++) {
		CHECK(pthread_join(t[i], NULL) == 0);
		ok += client_ok[i];
	}
	CHECK(close(l) == 0 && close(ep) == 0);
	if (ok != NCLIENTS * ROUNDS || accepted != NCLIENTS)
		FAIL("%s loop: %d of %d lines echoed, %d accepted", et ? "edge" : "level",
		     ok, NCLIENTS * ROUNDS, accepted);
	printf("single-threaded %s epoll loop: %d clients accepted and closed, %d lines "
	       "(%ld bytes) echoed correctly\n", et ? "edge-triggered" : "level-triggered",
	       accepted, ok, bytes);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_triggers();
	test_blocked();
	test_nested();
	run_loop(1);
	run_loop(0);
	printf("io_epoll: ok\n");
	return 0;
}
