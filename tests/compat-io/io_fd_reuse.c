/* io_fd_reuse.c: compat test of "never cross the streams" when an fd number is reused.
 *
 * Read rounds (200, alternating TCP and pipe): thread A blocks in read(N); thread B
 * closes N, opens a new TCP connection (or pipe) that gets the number N (lowest free
 * fd) and has data ("NEW!") sent on it; then the old peer writes "OLD!" and closes.
 * As natively (DESIGN.md §2.5), A's read keeps the old file and returns "OLD!": never
 * an error, EOF or the new connection's data; and the new connection must still
 * deliver "NEW!" whole to whoever reads N next.
 * Write rounds (50, TCP): A blocks in send(N) on a full socket; B closes N and
 * reconnects as N; the old peer drains: A's send completes on the old connection, and
 * none of its bytes reach the new connection's peer.
 *
 * B must close N only once A is blocked in its call (else A's call would legitimately
 * use the new file). Natively that is read from /proc/self/task/TID/syscall; under
 * goshim (GOSHIM_TEST_PRELOADED=1), where A is a green thread with no task of its own,
 * B waits for A's "about to call" flag and then 20 ms, which is ample for A to park. */
#define _GNU_SOURCE
// compat-skip-runner: qemu-aarch64-static: under qemu-user /proc/TID/syscall shows the host's system calls (x86-64 numbers), which this test reads to know a thread is blocked
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "../raw_syscall.h"
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_fd_reuse: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)

enum { READ_ROUNDS = 200, WRITE_ROUNDS = 50 };

static void nap_us(long us)
{
	struct timespec ts = { us / 1000000, (us % 1000000) * 1000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int preloaded;
static int listener;
static struct sockaddr_in laddr;

/* Thread A's call and its outcome. */
struct a_state {
	int fd;
	int is_write;
	atomic_int ready;	/* Set just before the call. */
	atomic_int tid;
	char buf[64];
	char wbuf[100];
	long ret;
	int err;
	pthread_t t;
};

static void *a_main(void *arg)
{
	struct a_state *a = arg;
	atomic_store(&a->tid, (int)raw_gettid());
	atomic_store(&a->ready, 1);
	if (a->is_write)
		a->ret = send(a->fd, a->wbuf, sizeof a->wbuf, 0);
	else
		a->ret = read(a->fd, a->buf, sizeof a->buf);
	a->err = errno;
	return NULL;
}

/* Returns once A is blocked in its call (see the header comment). */
static void wait_blocked(struct a_state *a)
{
	while (!atomic_load(&a->ready))
		nap_us(100);
	if (preloaded) {
		nap_us(20000);
		return;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", atomic_load(&a->tid));
	long want_nr = a->is_write ? SYS_sendto : SYS_read;
	for (int i = 0; i < 20000; i++) {
		FILE *f = fopen(path, "r");
		long nr = -1;
		unsigned long arg0 = ~0UL;
		CHECK(f != NULL);
		int n = fscanf(f, "%ld %lx", &nr, &arg0);
		fclose(f);
		if (n == 2 && nr == want_nr && arg0 == (unsigned long)a->fd) {
			nap_us(200);	/* Past the syscall entry, into the wait. */
			return;
		}
		nap_us(100);
	}
	FAIL("thread A never blocked in its call on fd %d", a->fd);
}

static int tcp_connect(void)
{
	int c = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(c >= 0);
	CHECK(connect(c, (struct sockaddr *)&laddr, sizeof laddr) == 0);
	return c;
}

/* One read round, done by thread B. */
struct b_state {
	struct a_state *a;
	int tcp;
	int old_peer;
	int new_peer;	/* The other end of the new file. */
	int round;
	pthread_t t;
};

static void *b_read_main(void *arg)
{
	struct b_state *b = arg;
	int n = b->a->fd;

	wait_blocked(b->a);
	CHECK(close(n) == 0);
	if (b->tcp) {
		int s = tcp_connect();
		if (s != n)
			FAIL("round %d: socket() returned %d, not the lowest free fd %d", b->round, s, n);
		b->new_peer = accept(listener, NULL, NULL);
		CHECK(b->new_peer >= 0);
		CHECK(send(b->new_peer, "NEW!", 4, 0) == 4);
	} else {
		int q[2];
		CHECK(pipe(q) == 0);
		if (q[0] != n)
			FAIL("round %d: pipe() gave %d, not the lowest free fd %d", b->round, q[0], n);
		b->new_peer = q[1];
		CHECK(write(q[1], "NEW!", 4) == 4);
	}
	/* Give a wrongly woken A every chance to take the new data. */
	nap_us(1000 + (b->round % 3) * 500);
	/* Wakes A: the old file lives on while A waits, so this write succeeds. */
	CHECK(write(b->old_peer, "OLD!", 4) == 4);
	close(b->old_peer);
	return NULL;
}

static int outcome_ok(struct a_state *a)
{
	return a->ret == 4 && memcmp(a->buf, "OLD!", 4) == 0;
}

static void read_round(int i)
{
	struct a_state a;
	struct b_state b;
	int tcp = i % 2 == 0;

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	if (tcp) {
		a.fd = tcp_connect();
		b.old_peer = accept(listener, NULL, NULL);
		CHECK(b.old_peer >= 0);
	} else {
		int p[2];
		CHECK(pipe(p) == 0);
		a.fd = p[0];
		b.old_peer = p[1];
	}
	b.a = &a;
	b.tcp = tcp;
	b.round = i;
	a.ret = -2;
	CHECK(pthread_create(&a.t, NULL, a_main, &a) == 0);
	CHECK(pthread_create(&b.t, NULL, b_read_main, &b) == 0);
	CHECK(pthread_join(b.t, NULL) == 0);
	CHECK(pthread_join(a.t, NULL) == 0);
	if (!outcome_ok(&a))
		FAIL("round %d (%s): A's read of the old fd %d returned %ld \"%.*s\" errno %d, "
		     "want 4 \"OLD!\"", i, tcp ? "tcp" : "pipe", a.fd, a.ret,
		     a.ret > 0 ? (int)a.ret : 0, a.buf, a.err);
	/* The new file's data is all there, for the next reader of N. */
	char buf[16];
	ssize_t n = read(a.fd, buf, sizeof buf);
	if (n != 4 || memcmp(buf, "NEW!", 4) != 0)
		FAIL("round %d (%s): the new file on fd %d gave %zd bytes, want \"NEW!\"", i,
		     tcp ? "tcp" : "pipe", a.fd, n);
	CHECK(close(a.fd) == 0 && close(b.new_peer) == 0);
}

static void *b_write_main(void *arg)
{
	struct b_state *b = arg;
	int n = b->a->fd;

	wait_blocked(b->a);
	CHECK(close(n) == 0);
	int s = tcp_connect();
	if (s != n)
		FAIL("round %d: socket() returned %d, not the lowest free fd %d", b->round, s, n);
	b->new_peer = accept(listener, NULL, NULL);
	CHECK(b->new_peer >= 0);
	return NULL;
}

static void write_round(int i)
{
	struct a_state a;
	struct b_state b;
	static char junk[65536];
	int small = 16384;

	memset(&a, 0, sizeof a);
	memset(&b, 0, sizeof b);
	a.fd = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(a.fd >= 0);
	CHECK(setsockopt(a.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof small) == 0);
	CHECK(connect(a.fd, (struct sockaddr *)&laddr, sizeof laddr) == 0);
	b.old_peer = accept(listener, NULL, NULL);
	CHECK(b.old_peer >= 0);
	long filled = 0;
	for (;;) {
		ssize_t n = send(a.fd, junk, sizeof junk, MSG_DONTWAIT);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			break;
		}
		filled += n;
	}
	memset(a.wbuf, 'A', sizeof a.wbuf);
	a.is_write = 1;
	a.ret = -2;
	b.a = &a;
	b.round = i;
	CHECK(pthread_create(&a.t, NULL, a_main, &a) == 0);
	CHECK(pthread_create(&b.t, NULL, b_write_main, &b) == 0);
	CHECK(pthread_join(b.t, NULL) == 0);
	/* Make room on the old connection: natively A's send completes there. */
	long drained = 0;
	while (drained < filled) {
		ssize_t n = recv(b.old_peer, junk, sizeof junk, 0);
		CHECK(n > 0);
		drained += n;
	}
	CHECK(pthread_join(a.t, NULL) == 0);
	/* Everything sent on the new connection precedes its FIN: its peer must see
	 * EOF with no bytes at all. */
	CHECK(close(a.fd) == 0);
	long foreign = 0;
	for (;;) {
		ssize_t n = recv(b.new_peer, junk, sizeof junk, 0);
		CHECK(n >= 0);
		if (n == 0)
			break;
		foreign += n;
	}
	if (foreign)
		FAIL("round %d: the new connection on fd %d carried %ld bytes of A's send "
		     "(A returned %ld errno %d)", i, a.fd, foreign, a.ret, a.err);
	if (a.ret != (long)sizeof a.wbuf)
		FAIL("round %d: A's send returned %ld errno %d", i, a.ret, a.err);
	CHECK(close(b.new_peer) == 0 && close(b.old_peer) == 0);
}

int main(void)
{
	const char *p = getenv("GOSHIM_TEST_PRELOADED");

	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	preloaded = p && strcmp(p, "1") == 0;
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);

	socklen_t len = sizeof laddr;
	int small = 16384;
	listener = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(listener >= 0);
	CHECK(setsockopt(listener, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
	memset(&laddr, 0, sizeof laddr);
	laddr.sin_family = AF_INET;
	laddr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(listener, (struct sockaddr *)&laddr, sizeof laddr) == 0);
	CHECK(listen(listener, 16) == 0);
	CHECK(getsockname(listener, (struct sockaddr *)&laddr, &len) == 0);

	/* Warm-up: one read that waits, so that no round pays for first-time setup
	 * (under goshim: the poller, more OS threads) between A's flag and its wait. */
	struct a_state w;
	int wp[2];
	memset(&w, 0, sizeof w);
	CHECK(pipe(wp) == 0);
	w.fd = wp[0];
	CHECK(pthread_create(&w.t, NULL, a_main, &w) == 0);
	wait_blocked(&w);
	CHECK(write(wp[1], "warm", 4) == 4);
	CHECK(pthread_join(w.t, NULL) == 0 && w.ret == 4);
	CHECK(close(wp[0]) == 0 && close(wp[1]) == 0);

	for (int i = 0; i < READ_ROUNDS; i++)
		read_round(i);
	printf("%d read rounds (tcp and pipe): fd number reused every time, A read the old "
	       "file's \"OLD!\", the new file's data arrived whole\n", READ_ROUNDS);
	for (int i = 0; i < WRITE_ROUNDS; i++)
		write_round(i);
	printf("%d write rounds (tcp): fd number reused every time, A's send completed on the "
	       "old connection, none of its bytes reached the new one\n", WRITE_ROUNDS);
	CHECK(close(listener) == 0);
	printf("io_fd_reuse: ok\n");
	return 0;
}
