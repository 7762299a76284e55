/* io_pipe_rw.c: compat test of read/write/readv/writev on pipes between threads.
 *
 * Covers: a blocked reader woken by a writer, partial reads, EOF after the write end
 * is closed, EPIPE with SIGPIPE ignored (also for a writer blocked on a full pipe),
 * death by SIGPIPE with the default action (in forked children), a 1 MiB write to a
 * slow reader arriving whole, and the program's own O_NONBLOCK (fcntl, ioctl FIONBIO,
 * pipe2) giving EAGAIN and being reported back by F_GETFL exactly as it was set.
 * Every result is printed by the main thread, in a fixed order, after a join. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_pipe_rw: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)
/* The call must fail with -1 and exactly errno e. */
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

/* One read or write done by a thread; ret and err are read after the join. */
struct op {
	int fd;
	char *buf;
	size_t len;
	ssize_t ret;
	int err;
	pthread_t t;
};

static void *do_read(void *arg)
{
	struct op *o = arg;
	o->ret = read(o->fd, o->buf, o->len);
	o->err = errno;
	return NULL;
}

static void *do_write(void *arg)
{
	struct op *o = arg;
	o->ret = write(o->fd, o->buf, o->len);
	o->err = errno;
	return NULL;
}

static void start(struct op *o, void *(*fn)(void *), int fd, char *buf, size_t len)
{
	o->fd = fd;
	o->buf = buf;
	o->len = len;
	o->ret = -2;
	o->err = 0;
	CHECK(pthread_create(&o->t, NULL, fn, o) == 0);
}

static void join(struct op *o)
{
	CHECK(pthread_join(o->t, NULL) == 0);
}

/* Fills an empty pipe to its capacity with one blocking write that never blocks:
 * a write of exactly the capacity fits into an empty pipe. Returns the capacity. */
static int fill(int wfd)
{
	int cap = fcntl(wfd, F_GETPIPE_SZ);
	CHECK(cap > 0);
	char *junk = malloc(cap);
	CHECK(junk != NULL);
	memset(junk, 'j', cap);
	CHECK(write(wfd, junk, cap) == cap);
	free(junk);
	return cap;
}

static void test_wakeup_and_partial(void)
{
	int p[2];
	char buf[128];
	struct op o;

	CHECK(pipe(p) == 0);
	start(&o, do_read, p[0], buf, sizeof buf);
	nap(50);
	CHECK(write(p[1], "hello", 5) == 5);
	join(&o);
	CHECK_OP(o, o.ret == 5 && memcmp(buf, "hello", 5) == 0);
	printf("blocked read woken by write: %zd bytes \"%.5s\"\n", o.ret, buf);

	/* A read returns what is there, never waits for the full count. */
	CHECK(write(p[1], "0123456789", 10) == 10);
	ssize_t a = read(p[0], buf, 4), b = read(p[0], buf + 4, 4), c = read(p[0], buf + 8, 4);
	CHECK(a == 4 && b == 4 && c == 2 && memcmp(buf, "0123456789", 10) == 0);
	printf("partial reads of 10 bytes by 4: %zd %zd %zd\n", a, b, c);

	start(&o, do_read, p[0], buf, sizeof buf);
	nap(20);
	CHECK(write(p[1], "abcdefghij", 10) == 10);
	join(&o);
	CHECK_OP(o, o.ret == 10 && memcmp(buf, "abcdefghij", 10) == 0);
	printf("blocked read of 128 given 10: %zd\n", o.ret);

	/* readv/writev scatter and gather. */
	struct iovec w[3] = { { "ab", 2 }, { "cde", 3 }, { "fghij", 5 } };
	char r1[3], r2[3], r3[10];
	struct iovec r[3] = { { r1, 3 }, { r2, 3 }, { r3, 10 } };
	CHECK(writev(p[1], w, 3) == 10);
	ssize_t n = readv(p[0], r, 3);
	CHECK(n == 10 && memcmp(r1, "abc", 3) == 0 && memcmp(r2, "def", 3) == 0 &&
	      memcmp(r3, "ghij", 4) == 0);
	printf("writev 2+3+5, readv 3+3+10: %zd \"%.3s|%.3s|%.4s\"\n", n, r1, r2, r3);

	/* EOF once the last write end is closed, for a reader blocked at the time. */
	start(&o, do_read, p[0], buf, sizeof buf);
	nap(50);
	CHECK(close(p[1]) == 0);
	join(&o);
	CHECK_OP(o, o.ret == 0);
	printf("blocked read after close of write end: %zd (EOF)\n", o.ret);
	CHECK(read(p[0], buf, sizeof buf) == 0);
	CHECK(close(p[0]) == 0);
}

static void test_epipe(void)
{
	int p[2];
	char buf[100];
	struct op o;

	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	CHECK(pipe(p) == 0);
	CHECK(close(p[0]) == 0);
	CHECK_ERR(write(p[1], "x", 1), EPIPE);
	struct iovec v = { "xy", 2 };
	CHECK_ERR(writev(p[1], &v, 1), EPIPE);
	CHECK(close(p[1]) == 0);
	printf("write/writev with no reader, SIGPIPE ignored: -1 EPIPE\n");

	/* A writer blocked on a full pipe whose reader goes away. 100 bytes is below
	 * PIPE_BUF, so the write is atomic and nothing of it was written. */
	CHECK(pipe(p) == 0);
	fill(p[1]);
	memset(buf, 'w', sizeof buf);
	start(&o, do_write, p[1], buf, sizeof buf);
	nap(50);
	CHECK(close(p[0]) == 0);
	join(&o);
	if (o.ret != -1 || o.err != EPIPE)
		FAIL("blocked write after reader closed: %zd errno %d, want -1 EPIPE", o.ret, o.err);
	printf("write blocked on full pipe, reader closed: -1 EPIPE\n");
	CHECK(close(p[1]) == 0);
	CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
}

struct child_arg {
	int p[2];
	int blocked;	/* 1: the thread blocks on a full pipe before the reader goes. */
};

static void *child_writer(void *arg)
{
	struct child_arg *c = arg;
	char buf[100];
	memset(buf, 'c', sizeof buf);
	(void)!write(c->p[1], buf, sizeof buf);
	return NULL;
}

/* In a forked child: SIGPIPE with its default action kills the whole process when a
 * thread writes to a pipe without a reader. Returns the child's wait status. */
static int sigpipe_child(int blocked)
{
	fflush(stdout);
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		static struct child_arg c;
		pthread_t t;
		signal(SIGPIPE, SIG_DFL);
		if (pipe(c.p) != 0)
			_exit(4);
		c.blocked = blocked;
		if (blocked)
			fill(c.p[1]);
		else
			close(c.p[0]);
		if (pthread_create(&t, NULL, child_writer, &c) != 0)
			_exit(5);
		if (blocked) {
			nap(50);
			close(c.p[0]);
		}
		pthread_join(t, NULL);
		_exit(3);	/* Still alive: wrong. */
	}
	int st;
	CHECK(waitpid(pid, &st, 0) == pid);
	return st;
}

static void test_sigpipe_death(void)
{
	for (int blocked = 0; blocked < 2; blocked++) {
		int st = sigpipe_child(blocked);
		if (!WIFSIGNALED(st) || WTERMSIG(st) != SIGPIPE)
			FAIL("child (blocked=%d) status 0x%x, want death by signal %d",
			     blocked, st, SIGPIPE);
		printf("child thread writing to %s pipe without reader: killed by signal %d\n",
		       blocked ? "a full" : "a", WTERMSIG(st));
	}
}

#define BIG (1 << 20)

static unsigned char pattern(size_t i)
{
	return (unsigned char)((i * 7 + (i >> 9)) % 251);
}

/* The slow reader: 4 KiB at a time with a pause, checking every byte. */
static void *slow_reader(void *arg)
{
	struct op *o = arg;
	static unsigned char chunk[4096];
	size_t total = 0;
	int bad = 0;

	for (;;) {
		ssize_t n = read(o->fd, chunk, sizeof chunk);
		if (n < 0) {
			o->err = errno;
			o->ret = -1;
			return NULL;
		}
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			if (chunk[i] != pattern(total + i))
				bad++;
		total += n;
		nap(1);
	}
	o->ret = bad ? -3 : (ssize_t)total;
	return NULL;
}

static void test_big_write(void)
{
	int p[2];
	struct op r;
	unsigned char *big = malloc(BIG);

	CHECK(big != NULL);
	for (size_t i = 0; i < BIG; i++)
		big[i] = pattern(i);
	CHECK(pipe(p) == 0);
	r.fd = p[0];
	r.ret = -2;
	CHECK(pthread_create(&r.t, NULL, slow_reader, &r) == 0);
	ssize_t n = write(p[1], big, BIG);
	CHECK(n == BIG);
	CHECK(close(p[1]) == 0);
	join(&r);
	if (r.ret != BIG)
		FAIL("slow reader got %zd (errno %d), want %d intact bytes", r.ret, r.err, BIG);
	printf("1 MiB write to a slow reader: write returned %zd, reader got %zd intact\n",
	       n, r.ret);
	CHECK(close(p[0]) == 0);
	free(big);
}

static void print_fl(const char *what, int fd)
{
	int fl = fcntl(fd, F_GETFL);
	CHECK(fl != -1);
	printf("%s: F_GETFL 0%o (O_NONBLOCK %s)\n", what, fl, (fl & O_NONBLOCK) ? "set" : "clear");
}

static void test_nonblock(void)
{
	int p[2];
	char buf[16];
	struct op o;

	CHECK(pipe(p) == 0);
	int fl0 = fcntl(p[0], F_GETFL), fl1 = fcntl(p[1], F_GETFL);
	CHECK(fl0 != -1 && fl1 != -1);
	/* A blocking read in progress must not show through as O_NONBLOCK. */
	start(&o, do_read, p[0], buf, sizeof buf);
	nap(50);
	print_fl("read end while a thread is blocked in read", p[0]);
	CHECK(write(p[1], "z", 1) == 1);
	join(&o);
	CHECK_OP(o, o.ret == 1);
	print_fl("read end after that read", p[0]);
	print_fl("write end", p[1]);

	CHECK(fcntl(p[0], F_SETFL, fl0 | O_NONBLOCK) == 0);
	CHECK(fcntl(p[0], F_GETFL) == (fl0 | O_NONBLOCK));
	print_fl("read end after F_SETFL O_NONBLOCK", p[0]);
	CHECK_ERR(read(p[0], buf, sizeof buf), EAGAIN);
	start(&o, do_read, p[0], buf, sizeof buf);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EAGAIN);
	printf("read on empty O_NONBLOCK pipe, main and thread: -1 EAGAIN\n");

	/* Non-blocking write: as much as fits, then EAGAIN. */
	int cap = fcntl(p[1], F_GETPIPE_SZ);
	CHECK(cap > 0);
	CHECK(fcntl(p[1], F_SETFL, fl1 | O_NONBLOCK) == 0);
	char *many = calloc(1, cap + 10000);
	CHECK(many != NULL);
	ssize_t n = write(p[1], many, cap + 10000);
	CHECK(n == cap);
	CHECK_ERR(write(p[1], many, 1), EAGAIN);
	printf("non-blocking write of capacity+10000: capacity written, then -1 EAGAIN\n");
	free(many);
	CHECK(fcntl(p[1], F_SETFL, fl1) == 0);
	CHECK(fcntl(p[1], F_GETFL) == fl1);
	CHECK(fcntl(p[0], F_SETFL, fl0) == 0);
	CHECK(fcntl(p[0], F_GETFL) == fl0);
	print_fl("read end after F_SETFL back", p[0]);
	print_fl("write end after F_SETFL back", p[1]);
	CHECK(close(p[0]) == 0 && close(p[1]) == 0);

	/* ioctl FIONBIO sets and clears the same flag. */
	CHECK(pipe(p) == 0);
	int on = 1, off = 0;
	CHECK(ioctl(p[0], FIONBIO, &on) == 0);
	print_fl("read end after FIONBIO 1", p[0]);
	CHECK_ERR(read(p[0], buf, sizeof buf), EAGAIN);
	start(&o, do_read, p[0], buf, sizeof buf);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EAGAIN);
	CHECK(ioctl(p[0], FIONBIO, &off) == 0);
	print_fl("read end after FIONBIO 0", p[0]);
	start(&o, do_read, p[0], buf, sizeof buf);
	nap(50);
	CHECK(write(p[1], "fion", 4) == 4);
	join(&o);
	CHECK_OP(o, o.ret == 4 && memcmp(buf, "fion", 4) == 0);
	printf("FIONBIO: EAGAIN while on, blocked read woken after off: %zd\n", o.ret);
	CHECK(close(p[0]) == 0 && close(p[1]) == 0);

	/* pipe2(O_NONBLOCK): the flag is there from the start. */
	CHECK(pipe2(p, O_NONBLOCK) == 0);
	print_fl("pipe2(O_NONBLOCK) read end", p[0]);
	print_fl("pipe2(O_NONBLOCK) write end", p[1]);
	start(&o, do_read, p[0], buf, sizeof buf);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EAGAIN);
	printf("pipe2(O_NONBLOCK) read in a thread: -1 EAGAIN\n");
	CHECK(close(p[0]) == 0 && close(p[1]) == 0);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_wakeup_and_partial();
	test_epipe();
	test_sigpipe_death();
	test_big_write();
	test_nonblock();
	printf("io_pipe_rw: ok\n");
	return 0;
}
