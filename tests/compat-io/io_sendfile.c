/* io_sendfile.c: compat test of sendfile to sockets and pipes, and pread/pwrite on files.
 *
 * Covers: pwrite/pread/pwritev/preadv on a regular file (the file offset untouched,
 * holes read as zeros, short reads at EOF, 0 past it, ESPIPE on a pipe, EINVAL for a
 * negative offset, 4 threads reading disjoint ranges of one fd concurrently);
 * sendfile of 3 MiB from the file to a TCP socket (with an offset pointer, which
 * advances, and with NULL, which moves the file offset instead), to an AF_UNIX socket
 * and to a pipe, each read whole by a slow reader thread; sendfile to a full
 * non-blocking socket giving EAGAIN; sendfile errors (EBADF, ESPIPE) and count 0.
 * A program loops on sendfile's short counts as it must; how many calls it took is
 * not printed. Results are printed by the main thread, in a fixed order, after joins. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_sendfile: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)
#define CHECK_ERR(call, e) do { errno = 0; long r_ = (long)(call); int e_ = errno; \
	if (r_ != -1 || e_ != (e)) FAIL("%s returned %ld errno %d (%s), want -1 %s", \
		#call, r_, e_, strerror(e_), #e); } while (0)

enum { FILE_SZ = 3 << 20, CHUNK = 65536 };

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static unsigned char pattern(long i)
{
	return (unsigned char)((i * 31 + (i >> 12)) % 241);
}

static int file_fd;

static void test_pread_pwrite(void)
{
	char path[] = "/tmp/io_sendfile.XXXXXX";
	static unsigned char buf[CHUNK];

	file_fd = mkstemp(path);
	CHECK(file_fd >= 0 && unlink(path) == 0);
	/* Written back to front: pwrite never needs the offset to be anywhere. */
	for (long off = FILE_SZ - CHUNK; off >= 0; off -= CHUNK) {
		for (int i = 0; i < CHUNK; i++)
			buf[i] = pattern(off + i);
		CHECK(pwrite(file_fd, buf, CHUNK, off) == CHUNK);
	}
	CHECK(lseek(file_fd, 0, SEEK_CUR) == 0);
	CHECK(lseek(file_fd, 0, SEEK_END) == FILE_SZ);
	CHECK(lseek(file_fd, 0, SEEK_SET) == 0);
	printf("pwrite of %d bytes back to front: file size %d, offset still 0\n", FILE_SZ, FILE_SZ);

	ssize_t n = pread(file_fd, buf, 1000, 12345);
	CHECK(n == 1000);
	for (int i = 0; i < 1000; i++)
		CHECK(buf[i] == pattern(12345 + i));
	ssize_t tail = pread(file_fd, buf, 1000, FILE_SZ - 300);
	ssize_t past = pread(file_fd, buf, 1000, FILE_SZ + 10);
	CHECK(tail == 300 && past == 0);
	CHECK(lseek(file_fd, 0, SEEK_CUR) == 0);
	printf("pread 1000 at 12345: %zd, at size-300: %zd, past the end: %zd; offset still 0\n",
	       n, tail, past);

	/* A hole, with vectors. */
	char hole_path[] = "/tmp/io_sendfile.XXXXXX";
	int h = mkstemp(hole_path);
	CHECK(h >= 0 && unlink(hole_path) == 0);
	struct iovec w[2] = { { "head", 4 }, { "tail", 4 } };
	CHECK(pwritev(h, w, 2, 8192) == 8);
	char z[8192], a[4], b[4];
	struct iovec r[3] = { { z, sizeof z }, { a, 4 }, { b, 4 } };
	n = preadv(h, r, 3, 0);
	int zeros = 1;
	for (size_t i = 0; i < sizeof z; i++)
		zeros &= z[i] == 0;
	CHECK(n == 8200 && zeros && memcmp(a, "head", 4) == 0 && memcmp(b, "tail", 4) == 0);
	printf("pwritev 4+4 at 8192, preadv 8192+4+4 at 0: %zd, the hole reads as zeros\n", n);
	CHECK_ERR(pread(h, z, 10, -1), EINVAL);
	CHECK_ERR(pwrite(h, z, 10, -1), EINVAL);
	CHECK(close(h) == 0);
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK_ERR(pread(p[0], z, 10, 0), ESPIPE);
	CHECK_ERR(pwrite(p[1], z, 10, 0), ESPIPE);
	CHECK(close(p[0]) == 0 && close(p[1]) == 0);
	printf("pread/pwrite with offset -1: -1 EINVAL; on a pipe: -1 ESPIPE\n");
}

/* Four threads pread disjoint quarters of the same fd at once. */
struct quarter {
	int idx;
	long bad;
	pthread_t t;
};

static void *read_quarter(void *arg)
{
	struct quarter *q = arg;
	static __thread unsigned char buf[4096];
	long from = (long)q->idx * (FILE_SZ / 4), to = from + FILE_SZ / 4;
	for (long off = from; off < to; off += sizeof buf) {
		ssize_t n = pread(file_fd, buf, sizeof buf, off);
		if (n != (ssize_t)sizeof buf) {
			q->bad = -1;
			return NULL;
		}
		for (size_t i = 0; i < sizeof buf; i++)
			q->bad += buf[i] != pattern(off + i);
	}
	return NULL;
}

static void test_concurrent_pread(void)
{
	struct quarter q[4];
	for (int i = 0; i < 4; i++) {
		q[i].idx = i;
		q[i].bad = 0;
		CHECK(pthread_create(&q[i].t, NULL, read_quarter, &q[i]) == 0);
	}
	for (int i = 0; i < 4; i++) {
		CHECK(pthread_join(q[i].t, NULL) == 0);
		if (q[i].bad)
			FAIL("quarter %d: %ld bad", i, q[i].bad);
	}
	CHECK(lseek(file_fd, 0, SEEK_CUR) == 0);
	printf("4 threads pread disjoint quarters of one fd: all intact, offset still 0\n");
}

/* A slow reader: reads until EOF, checking the bytes against the pattern from
 * a starting offset. */
struct sink {
	int fd;
	long start;
	long total;
	long bad;
	pthread_t t;
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	static __thread unsigned char buf[16384];
	int reads = 0;
	for (;;) {
		ssize_t n = read(s->fd, buf, sizeof buf);
		if (n < 0) {
			s->bad = -errno;
			return NULL;
		}
		if (n == 0)
			return NULL;
		for (ssize_t i = 0; i < n; i++)
			s->bad += buf[i] != pattern(s->start + s->total + i);
		s->total += n;
		if (++reads % 16 == 0)
			nap(1);
	}
}

/* Sends [from, from+len) of the file to out with sendfile, looping on short counts.
 * With use_off the offset pointer is used; else the file offset. */
static void send_range(int out, long from, long len, int use_off)
{
	off_t off = from;
	long sent = 0;
	if (!use_off)
		CHECK(lseek(file_fd, from, SEEK_SET) == from);
	while (sent < len) {
		ssize_t n = use_off ? sendfile(out, file_fd, &off, len - sent)
				    : sendfile(out, file_fd, NULL, len - sent);
		if (n <= 0)
			FAIL("sendfile returned %zd (errno %d) after %ld of %ld", n, errno, sent, len);
		sent += n;
	}
	if (use_off) {
		CHECK(off == from + len);
		CHECK(lseek(file_fd, 0, SEEK_CUR) == 0);
	} else {
		CHECK(lseek(file_fd, 0, SEEK_CUR) == from + len);
		CHECK(lseek(file_fd, 0, SEEK_SET) == 0);
	}
}

static void tcp_pair(int sv[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0 && bind(l, (struct sockaddr *)&a, sizeof a) == 0 && listen(l, 1) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(sv[0] >= 0 && connect(sv[0], (struct sockaddr *)&a, sizeof a) == 0);
	sv[1] = accept(l, NULL, NULL);
	CHECK(sv[1] >= 0 && close(l) == 0);
}

static void test_sendfile(void)
{
	static const char *name[3] = { "tcp socket", "unix socket", "pipe" };
	for (int kind = 0; kind < 3; kind++) {
		for (int use_off = 1; use_off >= 0; use_off--) {
			int sv[2];
			struct sink s = { 0 };
			long from = use_off ? 0 : 1 << 20, len = FILE_SZ - from;

			if (kind == 0)
				tcp_pair(sv);
			else if (kind == 1)
				CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
			else {
				int p[2];
				CHECK(pipe(p) == 0);
				sv[0] = p[1];
				sv[1] = p[0];
			}
			s.fd = sv[1];
			s.start = from;
			CHECK(pthread_create(&s.t, NULL, sink_main, &s) == 0);
			send_range(sv[0], from, len, use_off);
			CHECK(close(sv[0]) == 0);
			CHECK(pthread_join(s.t, NULL) == 0);
			if (s.total != len || s.bad)
				FAIL("sendfile to a %s: reader got %ld of %ld, %ld bad", name[kind],
				     s.total, len, s.bad);
			printf("sendfile to a %s, %s: %ld bytes read whole by a slow reader, %s\n",
			       name[kind], use_off ? "offset pointer from 0" : "NULL offset from 1 MiB",
			       s.total, use_off ? "pointer advanced, file offset unchanged"
						: "file offset advanced");
			CHECK(close(sv[1]) == 0);
		}
	}
}

static void test_sendfile_errors(void)
{
	int sv[2];
	static char junk[65536];

	tcp_pair(sv);
	CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK | fcntl(sv[0], F_GETFL)) == 0);
	for (;;) {
		ssize_t n = send(sv[0], junk, sizeof junk, 0);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			break;
		}
	}
	off_t off = 0;
	CHECK_ERR(sendfile(sv[0], file_fd, &off, 4096), EAGAIN);
	CHECK(off == 0);
	printf("sendfile to a full non-blocking socket: -1 EAGAIN, offset unchanged\n");

	CHECK(sendfile(sv[0], file_fd, &off, 0) == 0);
	int p[2];
	CHECK(pipe(p) == 0);
	CHECK_ERR(sendfile(sv[0], p[0], &off, 10), ESPIPE);
	CHECK(close(p[0]) == 0 && close(p[1]) == 0);
	int dead = dup(file_fd);
	CHECK(dead >= 0 && close(dead) == 0);
	CHECK_ERR(sendfile(sv[0], dead, &off, 10), EBADF);
	char path[] = "/tmp/io_sendfile.XXXXXX";
	int ro = mkstemp(path);
	CHECK(ro >= 0);
	int rofd = open(path, O_RDONLY);
	CHECK(rofd >= 0 && unlink(path) == 0);
	CHECK_ERR(sendfile(rofd, file_fd, &off, 10), EBADF);
	printf("sendfile count 0: 0; from a pipe with an offset: -1 ESPIPE; from a closed fd or "
	       "to a read-only file: -1 EBADF\n");
	CHECK(close(ro) == 0 && close(rofd) == 0);
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	test_pread_pwrite();
	test_concurrent_pread();
	test_sendfile();
	test_sendfile_errors();
	CHECK(close(file_fd) == 0);
	printf("io_sendfile: ok\n");
	return 0;
}
