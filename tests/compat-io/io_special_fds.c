/* io_special_fds.c: compat test of eventfd, timerfd and signalfd read from threads.
 *
 * eventfd: a blocked read woken by a write (the counter's value), accumulation,
 * EFD_SEMAPHORE, EFD_NONBLOCK (EAGAIN, F_GETFL), EINVAL for short buffers and for
 * 2^64-1, a write blocked on a full counter completing after a read, poll.
 * timerfd: a blocked read returns at expiry with the value 1 (and not before), EAGAIN
 * before expiry with TFD_NONBLOCK and when disarmed, TFD_TIMER_ABSTIME in the past,
 * CLOCK_REALTIME, timerfd_gettime after expiry, poll, EINVAL for a short buffer.
 * signalfd: with the signals blocked in every thread, a blocked read returns the
 * siginfo of a sigqueue() to the process and of a pthread_kill() to the reading
 * thread; two queued real-time signals in one read; EAGAIN when nothing is pending.
 * Results are printed by the main thread, in a fixed order, after a join. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_special_fds: FAIL at line %d: ", __LINE__); \
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

static long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* One read or write of a thread, timed. */
struct op {
	int fd;
	int is_write;
	void *buf;
	size_t len;
	ssize_t ret;
	int err;
	long ms;
	pthread_t t;
};

static void *run_op(void *arg)
{
	struct op *o = arg;
	long t0 = now_ms();
	o->ret = o->is_write ? write(o->fd, o->buf, o->len) : read(o->fd, o->buf, o->len);
	o->err = errno;
	o->ms = now_ms() - t0;
	return NULL;
}

static void start(struct op *o, int fd, int is_write, void *buf, size_t len)
{
	o->fd = fd;
	o->is_write = is_write;
	o->buf = buf;
	o->len = len;
	o->ret = -2;
	o->err = 0;
	CHECK(pthread_create(&o->t, NULL, run_op, o) == 0);
}

static void join(struct op *o)
{
	CHECK(pthread_join(o->t, NULL) == 0);
}

static void put(int fd, uint64_t v)
{
	CHECK(write(fd, &v, 8) == 8);
}

static uint64_t get(int fd)
{
	uint64_t v = 0;
	CHECK(read(fd, &v, 8) == 8);
	return v;
}

static void test_eventfd(void)
{
	uint64_t v = 0;
	struct op o;

	int e = eventfd(0, EFD_CLOEXEC);
	CHECK(e >= 0);
	start(&o, e, 0, &v, 8);
	nap(30);
	put(e, 3);
	join(&o);
	CHECK_OP(o, o.ret == 8 && v == 3);
	printf("eventfd: blocked read woken by write(3): %zd bytes, value %llu\n", o.ret,
	       (unsigned long long)v);
	put(e, 2);
	put(e, 5);
	uint64_t sum = get(e);
	CHECK(sum == 7);
	printf("eventfd: write 2, write 5, read: %llu\n", (unsigned long long)sum);
	CHECK_ERR(read(e, &v, 4), EINVAL);
	v = UINT64_MAX;
	CHECK_ERR(write(e, &v, 8), EINVAL);
	printf("eventfd: read of 4 bytes and write of 2^64-1: -1 EINVAL\n");

	/* A full counter: the write blocks until a read empties it. */
	put(e, UINT64_MAX - 1);
	uint64_t one = 1;
	start(&o, e, 1, &one, 8);
	nap(30);
	uint64_t big = get(e);
	join(&o);
	CHECK(big == UINT64_MAX - 1 && o.ret == 8);
	uint64_t after = get(e);
	CHECK(after == 1);
	printf("eventfd: write blocked on a full counter completes after a read: %zd, then "
	       "value %llu\n", o.ret, (unsigned long long)after);
	CHECK(close(e) == 0);

	e = eventfd(2, EFD_SEMAPHORE);
	CHECK(e >= 0);
	uint64_t a = get(e), b = get(e);
	start(&o, e, 0, &v, 8);
	nap(30);
	put(e, 1);
	join(&o);
	CHECK(a == 1 && b == 1 && o.ret == 8 && v == 1);
	printf("eventfd EFD_SEMAPHORE initial 2: reads %llu %llu, then a blocked read woken: %llu\n",
	       (unsigned long long)a, (unsigned long long)b, (unsigned long long)v);
	CHECK(close(e) == 0);

	e = eventfd(0, EFD_NONBLOCK);
	CHECK(e >= 0);
	int fl = fcntl(e, F_GETFL);
	CHECK(fl & O_NONBLOCK);
	CHECK_ERR(read(e, &v, 8), EAGAIN);
	start(&o, e, 0, &v, 8);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EAGAIN);
	struct pollfd p = { e, POLLIN | POLLOUT, 0 };
	CHECK(poll(&p, 1, 0) == 1);
	int re0 = p.revents;
	put(e, 9);
	CHECK(poll(&p, 1, 0) == 1);
	printf("eventfd EFD_NONBLOCK: F_GETFL 0%o, read -1 EAGAIN (main and thread), poll "
	       "0x%x, after a write 0x%x\n", fl, re0, p.revents);
	CHECK(close(e) == 0);
}

static void test_timerfd(void)
{
	uint64_t v = 0;
	struct op o;
	struct itimerspec its = { { 0, 0 }, { 0, 100 * 1000000L } };

	int t = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	CHECK(t >= 0);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK(timerfd_settime(t, 0, &its, NULL) == 0);
	start(&o, t, 0, &v, 8);
	join(&o);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	CHECK_OP(o, o.ret == 8 && v == 1);
	/* From the settime (the reader may start late on a loaded machine). */
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (ms < 99)
		FAIL("timerfd read returned %ld ms after the settime, before the 100 ms expiry", ms);
	struct itimerspec cur;
	CHECK(timerfd_gettime(t, &cur) == 0);
	CHECK(cur.it_value.tv_sec == 0 && cur.it_value.tv_nsec == 0);
	printf("timerfd 100 ms one-shot: blocked read %zd bytes, value %llu, not early; "
	       "gettime then 0\n", o.ret, (unsigned long long)v);
	CHECK_ERR(read(t, &v, 4), EINVAL);
	CHECK(close(t) == 0);

	t = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	CHECK(t >= 0);
	CHECK_ERR(read(t, &v, 8), EAGAIN);
	its.it_value.tv_sec = 10;
	its.it_value.tv_nsec = 0;
	CHECK(timerfd_settime(t, 0, &its, NULL) == 0);
	CHECK_ERR(read(t, &v, 8), EAGAIN);
	struct pollfd p = { t, POLLIN, 0 };
	int n0 = poll(&p, 1, 0);
	struct timespec now;
	CHECK(clock_gettime(CLOCK_MONOTONIC, &now) == 0);
	its.it_value.tv_sec = now.tv_sec - 1;
	its.it_value.tv_nsec = now.tv_nsec;
	CHECK(timerfd_settime(t, TFD_TIMER_ABSTIME, &its, NULL) == 0);
	int n1 = poll(&p, 1, -1);
	CHECK(n0 == 0 && n1 == 1 && p.revents == POLLIN);
	CHECK(get(t) == 1);
	printf("timerfd TFD_NONBLOCK: disarmed and armed for 10 s -1 EAGAIN, poll %d; "
	       "ABSTIME in the past: poll %d POLLIN, value 1\n", n0, n1);
	CHECK(close(t) == 0);

	t = timerfd_create(CLOCK_REALTIME, 0);
	CHECK(t >= 0);
	its.it_value.tv_sec = 0;
	its.it_value.tv_nsec = 50 * 1000000L;
	CHECK(timerfd_settime(t, 0, &its, NULL) == 0);
	start(&o, t, 0, &v, 8);
	join(&o);
	/* No lower bound here: the wall clock may be stepped. */
	CHECK_OP(o, o.ret == 8 && v == 1);
	printf("timerfd CLOCK_REALTIME 50 ms: blocked read value %llu\n",
	       (unsigned long long)v);

	/* Periodic: at least one expiry per read; how many is up to timing. */
	its.it_interval.tv_nsec = 10 * 1000000L;
	its.it_value.tv_nsec = 10 * 1000000L;
	CHECK(timerfd_settime(t, 0, &its, NULL) == 0);
	int good = 1;
	for (int i = 0; i < 3; i++) {
		start(&o, t, 0, &v, 8);
		join(&o);
		good &= o.ret == 8 && v >= 1;
	}
	CHECK(good);
	printf("timerfd periodic 10 ms: 3 blocked reads, each at least 1 expiry\n");
	CHECK(close(t) == 0);
}

static void test_signalfd(void)
{
	struct signalfd_siginfo si[2];
	struct op o;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN);
	int s = signalfd(-1, &set, SFD_CLOEXEC);
	CHECK(s >= 0);

	memset(si, 0, sizeof si);
	start(&o, s, 0, si, sizeof si[0]);
	nap(30);
	union sigval val = { .sival_int = 42 };
	CHECK(sigqueue(getpid(), SIGUSR2, val) == 0);
	join(&o);
	CHECK_OP(o, o.ret == sizeof si[0]);
	CHECK(si[0].ssi_signo == SIGUSR2 && si[0].ssi_code == SI_QUEUE &&
	      si[0].ssi_pid == (uint32_t)getpid() && si[0].ssi_uid == getuid() && si[0].ssi_int == 42);
	printf("signalfd: blocked read, sigqueue(SIGUSR2, 42) to the process: %zd bytes, signo %u, "
	       "code SI_QUEUE, our pid and uid, int %d\n", o.ret, si[0].ssi_signo, si[0].ssi_int);

	memset(si, 0, sizeof si);
	start(&o, s, 0, si, sizeof si[0]);
	nap(30);
	CHECK(pthread_kill(o.t, SIGUSR2) == 0);
	join(&o);
	CHECK_OP(o, o.ret == sizeof si[0] && si[0].ssi_signo == SIGUSR2 && si[0].ssi_code == SI_TKILL &&
	      si[0].ssi_pid == (uint32_t)getpid());
	printf("signalfd: blocked read, pthread_kill(SIGUSR2) to the reading thread: signo %u, "
	       "code SI_TKILL\n", si[0].ssi_signo);

	val.sival_int = 1;
	CHECK(sigqueue(getpid(), SIGRTMIN, val) == 0);
	val.sival_int = 2;
	CHECK(sigqueue(getpid(), SIGRTMIN, val) == 0);
	struct pollfd p = { s, POLLIN, 0 };
	CHECK(poll(&p, 1, 0) == 1 && p.revents == POLLIN);
	memset(si, 0, sizeof si);
	start(&o, s, 0, si, sizeof si);
	join(&o);
	CHECK_OP(o, o.ret == 2 * sizeof si[0] && si[0].ssi_signo == (uint32_t)SIGRTMIN &&
	      si[0].ssi_int == 1 && si[1].ssi_int == 2);
	printf("signalfd: two queued SIGRTMIN, poll POLLIN, one read: %zd bytes, ints %d %d\n",
	       o.ret, si[0].ssi_int, si[1].ssi_int);
	CHECK_ERR(read(s, si, 8), EINVAL);
	CHECK(close(s) == 0);

	s = signalfd(-1, &set, SFD_NONBLOCK);
	CHECK(s >= 0);
	CHECK_ERR(read(s, si, sizeof si[0]), EAGAIN);
	printf("signalfd SFD_NONBLOCK, nothing pending: -1 EAGAIN; short buffer: -1 EINVAL\n");
	CHECK(close(s) == 0);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* Blocked before any thread exists, so every thread has them blocked. */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	sigaddset(&set, SIGRTMIN);
	CHECK(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);

	test_eventfd();
	test_timerfd();
	test_signalfd();
	printf("io_special_fds: ok\n");
	return 0;
}
