/* io_nonblock_restore.c: the program half of io_nonblock_restore.sh: blocking I/O on
 * FIFO descriptions shared with the parent shell.
 *
 * Run by io_nonblock_restore.sh (never alone) with these fds, each an open file
 * description the shell keeps too:
 *   0  stdin, the read end of an anonymous pipe whose writer (a child of the shell)
 *      sends "stdin-data" after a while and exits: a thread reads it to EOF;
 * and FIFOs the shell opened O_RDWR:
 *   3  blocking: a thread blocks in read(3) until main writes to it, then a thread
 *      blocks in a 256 KiB write until main drains it;
 *   4  blocking: the program sets O_NONBLOCK itself (and leaves it set);
 *   5  O_NONBLOCK set by the shell: the program clears it with FIONBIO, then blocks;
 *   6  O_NONBLOCK set by the shell and left so: a thread polls, then reads.
 * While a thread is blocked, the program reads the real flags of the description
 * from /proc/self/fdinfo (which no hook rewrites) as well as F_GETFL: neither may
 * show an O_NONBLOCK the program did not ask for, since another process sharing the
 * description would see it too. The shell checks the flags again after exit.
 * "io_nonblock_restore --set-nonblock FD..." sets O_NONBLOCK on the given fds and
 * exits: the shell's helper for fds 5 and 6. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_nonblock_restore: FAIL at line %d: ", __LINE__); \
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

/* The description's flags as the kernel has them (octal "flags:" of fdinfo). */
static int real_flags(int fd)
{
	char path[64], line[128];
	int flags = -1;
	snprintf(path, sizeof path, "/proc/self/fdinfo/%d", fd);
	FILE *f = fopen(path, "r");
	CHECK(f != NULL);
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "flags: %o", &flags) == 1)
			break;
	fclose(f);
	CHECK(flags != -1);
	return flags;
}

static const char *nb(int flags)
{
	return (flags & O_NONBLOCK) ? "O_NONBLOCK" : "blocking";
}

/* Prints what F_GETFL and the kernel say about fd, requiring them to agree. */
static void report(const char *when, int fd)
{
	int fl = fcntl(fd, F_GETFL), real = real_flags(fd);
	CHECK(fl != -1);
	if ((fl & O_NONBLOCK) != (real & O_NONBLOCK))
		FAIL("fd %d %s: F_GETFL says %s, the description is %s", fd, when, nb(fl), nb(real));
	printf("fd %d %s: %s\n", fd, when, nb(real));
}

struct op {
	int fd;
	int kind;	/* 0 read, 1 write, 2 poll then read, 3 read to EOF */
	char *buf;
	size_t len;
	ssize_t ret;
	int err;
	pthread_t t;
};

static void *run_op(void *arg)
{
	struct op *o = arg;
	if (o->kind == 1) {
		o->ret = write(o->fd, o->buf, o->len);
	} else if (o->kind == 2) {
		struct pollfd p = { o->fd, POLLIN, 0 };
		o->ret = poll(&p, 1, -1);
		if (o->ret == 1)
			o->ret = read(o->fd, o->buf, o->len);
	} else if (o->kind == 3) {
		size_t got = 0;
		ssize_t n = 0;
		while (got < o->len && (n = read(o->fd, o->buf + got, o->len - got)) > 0)
			got += n;
		o->ret = n < 0 ? -1 : (ssize_t)got;
	} else {
		o->ret = read(o->fd, o->buf, o->len);
	}
	o->err = errno;
	return NULL;
}

static void start(struct op *o, int fd, int kind, char *buf, size_t len)
{
	o->fd = fd;
	o->kind = kind;
	o->buf = buf;
	o->len = len;
	o->ret = -2;
	CHECK(pthread_create(&o->t, NULL, run_op, o) == 0);
}

static void join(struct op *o)
{
	CHECK(pthread_join(o->t, NULL) == 0);
}

int main(int argc, char **argv)
{
	char buf[64] = "";
	struct op o, w;

	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (argc >= 2 && strcmp(argv[1], "--set-nonblock") == 0) {
		for (int i = 2; i < argc; i++) {
			int fd = atoi(argv[i]);
			int fl = fcntl(fd, F_GETFL);
			CHECK(fl != -1 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0);
		}
		return 0;
	}
	static const int fds[5] = { 0, 3, 4, 5, 6 };
	for (int i = 0; i < 5; i++) {
		struct stat st;
		if (fstat(fds[i], &st) != 0 || !S_ISFIFO(st.st_mode))
			FAIL("fd %d is not a FIFO: run me through io_nonblock_restore.sh", fds[i]);
	}

	/* 0: stdin, an anonymous pipe, read to EOF by a thread. */
	report("at start", 0);
	start(&o, 0, 3, buf, sizeof buf);
	nap(50);
	report("while a thread is reading it to EOF", 0);
	join(&o);
	CHECK_OP(o, o.ret == 10 && memcmp(buf, "stdin-data", 10) == 0);
	report("after the thread read 10 bytes and EOF", 0);

	/* 3: a blocked reader of a FIFO. */
	report("at start", 3);
	start(&o, 3, 0, buf, sizeof buf);
	nap(50);
	report("while a thread is blocked reading it", 3);
	CHECK(write(3, "fifo-data", 9) == 9);
	join(&o);
	CHECK_OP(o, o.ret == 9 && memcmp(buf, "fifo-data", 9) == 0);
	report("after the read returned 9", 3);

	/* 3: a writer blocked on a full FIFO. */
	enum { BIG = 256 * 1024 };
	char *big = malloc(BIG), *sink = malloc(BIG);
	CHECK(big && sink);
	memset(big, 'b', BIG);
	start(&w, 3, 1, big, BIG);
	nap(50);
	report("while a thread is blocked writing 256 KiB", 3);
	long got = 0;
	while (got < BIG) {
		ssize_t n = read(3, sink + got, BIG - got);
		CHECK(n > 0);
		got += n;
	}
	join(&w);
	CHECK_OP(w, w.ret == BIG && memcmp(big, sink, BIG) == 0);
	report("after the write returned 256 KiB", 3);

	/* 4: the program asks for O_NONBLOCK. */
	report("at start", 4);
	CHECK(fcntl(4, F_SETFL, fcntl(4, F_GETFL) | O_NONBLOCK) == 0);
	CHECK_ERR(read(4, buf, sizeof buf), EAGAIN);
	start(&o, 4, 0, buf, sizeof buf);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EAGAIN);
	report("after F_SETFL O_NONBLOCK and reads giving EAGAIN", 4);

	/* 5: inherited O_NONBLOCK, cleared by the program, then a blocked read. */
	report("at start", 5);
	CHECK_ERR(read(5, buf, sizeof buf), EAGAIN);
	int off = 0;
	CHECK(ioctl(5, FIONBIO, &off) == 0);
	start(&o, 5, 0, buf, sizeof buf);
	nap(50);
	report("after FIONBIO 0, while a thread is blocked reading it", 5);
	CHECK(write(5, "five", 4) == 4);
	join(&o);
	CHECK_OP(o, o.ret == 4);
	report("after the read returned 4", 5);

	/* 6: inherited O_NONBLOCK, kept: poll, read, EAGAIN. */
	report("at start", 6);
	start(&o, 6, 2, buf, sizeof buf);
	nap(50);
	CHECK(write(6, "six", 3) == 3);
	join(&o);
	CHECK_OP(o, o.ret == 3);
	CHECK_ERR(read(6, buf, sizeof buf), EAGAIN);
	report("after poll, a read of 3 and a read giving EAGAIN", 6);
	printf("io_nonblock_restore (program): ok\n");
	free(big);
	free(sink);
	return 0;
}
