/* io_socket_rw.c: compat test of the recv and send families on sockets between threads.
 *
 * On an AF_UNIX socketpair and on TCP over 127.0.0.1: recv/recvfrom/recvmsg woken by
 * send/sendto/sendmsg, MSG_DONTWAIT, MSG_PEEK, MSG_WAITALL (across several sends and
 * cut short by EOF), SCM_RIGHTS, shutdown(SHUT_WR) giving EOF, ECONNRESET after a
 * SO_LINGER 0 close, 4 MiB blocking sends arriving whole. On UDP: recvfrom reporting
 * the sender, sendmmsg/recvmmsg (blocking for all, MSG_WAITFORONE, MSG_DONTWAIT).
 * On an AF_UNIX datagram pair: message boundaries and MSG_TRUNC.
 * Every result is printed by the main thread, in a fixed order, after a join. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_socket_rw: FAIL at line %d: ", __LINE__); \
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

/* A connected TCP pair on 127.0.0.1 (the listener is closed again). */
static void tcp_pair(int sv[2])
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	int l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(l >= 0);
	CHECK(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
	CHECK(listen(l, 1) == 0);
	CHECK(getsockname(l, (struct sockaddr *)&a, &len) == 0);
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(sv[0] >= 0);
	CHECK(connect(sv[0], (struct sockaddr *)&a, sizeof a) == 0);
	sv[1] = accept(l, NULL, NULL);
	CHECK(sv[1] >= 0);
	CHECK(close(l) == 0);
}

static void make_pair(int kind, int sv[2])
{
	if (kind == 0)
		CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	else
		tcp_pair(sv);
}

static const char *kind_name[2] = { "unix", "tcp" };

static void close_pair(int sv[2])
{
	CHECK(close(sv[0]) == 0 && close(sv[1]) == 0);
}

/* One receive done by a thread; ret, err and the outputs are read after the join. */
struct op {
	int fd;
	int flags;
	char buf[256];
	size_t len;
	struct sockaddr_in from;
	socklen_t fromlen;
	struct msghdr msg;
	ssize_t ret;
	int err;
	pthread_t t;
};

static void *do_recv(void *arg)
{
	struct op *o = arg;
	o->ret = recv(o->fd, o->buf, o->len, o->flags);
	o->err = errno;
	return NULL;
}

static void *do_recvfrom(void *arg)
{
	struct op *o = arg;
	o->fromlen = sizeof o->from;
	o->ret = recvfrom(o->fd, o->buf, o->len, o->flags, (struct sockaddr *)&o->from, &o->fromlen);
	o->err = errno;
	return NULL;
}

static void *do_recvmsg(void *arg)
{
	struct op *o = arg;
	o->ret = recvmsg(o->fd, &o->msg, o->flags);
	o->err = errno;
	return NULL;
}

static void start(struct op *o, void *(*fn)(void *), int fd, size_t len, int flags)
{
	o->fd = fd;
	o->len = len;
	o->flags = flags;
	o->ret = -2;
	o->err = 0;
	memset(o->buf, 0, sizeof o->buf);
	CHECK(pthread_create(&o->t, NULL, fn, o) == 0);
}

static void join(struct op *o)
{
	CHECK(pthread_join(o->t, NULL) == 0);
}

static void want(struct op *o, ssize_t ret, const char *data)
{
	if (o->ret != ret || (data && memcmp(o->buf, data, ret) != 0))
		FAIL("got %zd errno %d \"%.*s\", want %zd \"%s\"", o->ret, o->err,
		     o->ret > 0 ? (int)o->ret : 0, o->buf, ret, data ? data : "");
}

static void test_stream_basic(int kind)
{
	int sv[2];
	struct op o;
	const char *k = kind_name[kind];

	make_pair(kind, sv);
	start(&o, do_recv, sv[0], 64, 0);
	nap(30);
	CHECK(send(sv[1], "ping", 4, 0) == 4);
	join(&o);
	want(&o, 4, "ping");
	printf("%s: blocked recv woken by send: %zd\n", k, o.ret);

	start(&o, do_recvfrom, sv[0], 64, 0);
	nap(30);
	CHECK(sendto(sv[1], "pong!", 5, 0, NULL, 0) == 5);
	join(&o);
	want(&o, 5, "pong!");
	printf("%s: blocked recvfrom woken by sendto: %zd, fromlen %u\n", k, o.ret,
	       (unsigned)o.fromlen);

	/* recvmsg scatter, sendmsg gather. */
	char a[4], b[16];
	struct iovec riov[2] = { { a, sizeof a }, { b, sizeof b } };
	struct iovec wiov[3] = { { "gat", 3 }, { "her", 3 }, { "-me", 3 } };
	struct msghdr wm = { .msg_iov = wiov, .msg_iovlen = 3 };
	memset(&o.msg, 0, sizeof o.msg);
	o.msg.msg_iov = riov;
	o.msg.msg_iovlen = 2;
	start(&o, do_recvmsg, sv[0], 0, 0);
	nap(30);
	CHECK(sendmsg(sv[1], &wm, 0) == 9);
	join(&o);
	CHECK_OP(o, o.ret == 9 && memcmp(a, "gath", 4) == 0 && memcmp(b, "er-me", 5) == 0);
	printf("%s: blocked recvmsg into 4+16 woken by sendmsg 3+3+3: %zd, msg_flags %d\n",
	       k, o.ret, o.msg.msg_flags);

	/* MSG_DONTWAIT on a blocking socket: EAGAIN, never a wait. */
	CHECK_ERR(recv(sv[0], o.buf, 64, MSG_DONTWAIT), EAGAIN);
	start(&o, do_recv, sv[0], 64, MSG_DONTWAIT);
	join(&o);
	CHECK_OP(o, o.ret == -1 && o.err == EAGAIN);
	printf("%s: recv MSG_DONTWAIT on empty blocking socket, main and thread: -1 EAGAIN\n", k);

	/* Fill with MSG_DONTWAIT until EAGAIN; one more is EAGAIN again. */
	static char junk[65536];
	long filled = 0;
	for (;;) {
		ssize_t n = send(sv[0], junk, sizeof junk, MSG_DONTWAIT);
		if (n < 0) {
			CHECK(errno == EAGAIN);
			break;
		}
		filled += n;
	}
	CHECK(filled > 0);
	CHECK_ERR(send(sv[0], junk, 1, MSG_DONTWAIT), EAGAIN);
	printf("%s: send MSG_DONTWAIT on a full socket: -1 EAGAIN\n", k);
	long drained = 0;
	while (drained < filled) {
		ssize_t n = recv(sv[1], junk, sizeof junk, 0);
		CHECK(n > 0);
		drained += n;
	}
	CHECK(drained == filled);

	/* MSG_PEEK blocks like recv but leaves the data. */
	start(&o, do_recv, sv[0], 4, MSG_PEEK);
	nap(30);
	CHECK(send(sv[1], "peekaboo", 8, 0) == 8);
	join(&o);
	want(&o, 4, "peek");
	start(&o, do_recv, sv[0], 8, 0);
	join(&o);
	want(&o, 8, "peekaboo");
	printf("%s: blocked recv MSG_PEEK of 4: %s, then recv of 8: %s\n", k, "peek", "peekaboo");

	/* MSG_WAITALL waits across several sends... */
	start(&o, do_recv, sv[0], 100, MSG_WAITALL);
	char hundred[100];
	for (int i = 0; i < 100; i++)
		hundred[i] = 'A' + i % 26;
	CHECK(send(sv[1], hundred, 30, 0) == 30);
	nap(20);
	CHECK(send(sv[1], hundred + 30, 30, 0) == 30);
	nap(20);
	CHECK(send(sv[1], hundred + 60, 40, 0) == 40);
	join(&o);
	CHECK_OP(o, o.ret == 100 && memcmp(o.buf, hundred, 100) == 0);
	printf("%s: recv 100 MSG_WAITALL over sends of 30+30+40: %zd\n", k, o.ret);

	/* ...and is cut short by EOF (shutdown SHUT_WR of the peer). */
	start(&o, do_recv, sv[0], 100, MSG_WAITALL);
	CHECK(send(sv[1], hundred, 50, 0) == 50);
	nap(30);
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	join(&o);
	CHECK_OP(o, o.ret == 50 && memcmp(o.buf, hundred, 50) == 0);
	printf("%s: recv 100 MSG_WAITALL, 50 sent then SHUT_WR: %zd\n", k, o.ret);
	CHECK(recv(sv[0], o.buf, 10, 0) == 0);
	/* The other direction still works after SHUT_WR. */
	CHECK(send(sv[0], "back", 4, 0) == 4);
	CHECK(recv(sv[1], o.buf, 10, 0) == 4 && memcmp(o.buf, "back", 4) == 0);
	close_pair(sv);

	/* A blocked recv woken by SHUT_WR of the peer gets 0. */
	make_pair(kind, sv);
	start(&o, do_recv, sv[0], 64, 0);
	nap(30);
	CHECK(shutdown(sv[1], SHUT_WR) == 0);
	join(&o);
	want(&o, 0, NULL);
	printf("%s: blocked recv, peer shutdown(SHUT_WR): %zd (EOF)\n", k, o.ret);
	close_pair(sv);
}

/* A reader thread that takes everything until EOF and checks it. */
struct sink {
	int fd;
	long total;
	long bad;
	pthread_t t;
};

static unsigned char pattern(long i)
{
	return (unsigned char)((i * 13 + (i >> 11)) % 253);
}

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	static __thread unsigned char chunk[8192];
	for (;;) {
		ssize_t n = recv(s->fd, chunk, sizeof chunk, 0);
		if (n <= 0) {
			if (n < 0)
				s->bad = -errno;
			return NULL;
		}
		for (ssize_t i = 0; i < n; i++)
			if (chunk[i] != pattern(s->total + i))
				s->bad++;
		s->total += n;
		if (s->total % (256 * 1024) < 8192)
			nap(1);
	}
}

static void test_big_send(int kind)
{
	enum { BIG = 4 << 20 };
	int sv[2];
	struct sink s = { 0 };
	unsigned char *big = malloc(BIG);

	CHECK(big != NULL);
	for (long i = 0; i < BIG; i++)
		big[i] = pattern(i);
	make_pair(kind, sv);
	s.fd = sv[1];
	CHECK(pthread_create(&s.t, NULL, sink_main, &s) == 0);
	ssize_t n = send(sv[0], big, BIG, 0);
	CHECK(n == BIG);
	CHECK(shutdown(sv[0], SHUT_WR) == 0);
	CHECK(pthread_join(s.t, NULL) == 0);
	if (s.total != BIG || s.bad)
		FAIL("%s: reader got %ld bytes, %ld bad", kind_name[kind], s.total, s.bad);
	printf("%s: one blocking send of 4 MiB: %zd, reader got %ld intact\n",
	       kind_name[kind], n, s.total);
	close_pair(sv);
	free(big);
}

static void test_reset(void)
{
	int sv[2];
	struct op o;
	struct linger lg = { 1, 0 };

	tcp_pair(sv);
	start(&o, do_recv, sv[0], 64, 0);
	nap(30);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
	CHECK(close(sv[1]) == 0);
	join(&o);
	if (o.ret != -1 || o.err != ECONNRESET)
		FAIL("blocked recv after RST: %zd errno %d, want -1 ECONNRESET", o.ret, o.err);
	printf("tcp: blocked recv, peer closed with SO_LINGER 0: -1 ECONNRESET\n");
	ssize_t again = recv(sv[0], o.buf, 64, 0);
	CHECK(again == 0);
	CHECK(signal(SIGPIPE, SIG_IGN) != SIG_ERR);
	CHECK_ERR(send(sv[0], "x", 1, 0), EPIPE);
	CHECK(signal(SIGPIPE, SIG_DFL) != SIG_ERR);
	printf("tcp: after the reset recv gives %zd and send -1 EPIPE\n", again);
	CHECK(close(sv[0]) == 0);

	/* The peer closes (SO_LINGER 0) with data we sent it still unread: a later
	 * recv, which does not block, reports ECONNRESET. */
	tcp_pair(sv);
	CHECK(send(sv[0], "unread", 6, 0) == 6);
	nap(10);
	CHECK(setsockopt(sv[1], SOL_SOCKET, SO_LINGER, &lg, sizeof lg) == 0);
	CHECK(close(sv[1]) == 0);
	start(&o, do_recv, sv[0], 64, 0);
	join(&o);
	if (o.ret != -1 || o.err != ECONNRESET)
		FAIL("recv after RST with unread data: %zd errno %d, want -1 ECONNRESET", o.ret, o.err);
	printf("tcp: recv after the peer reset with its own data unread: -1 ECONNRESET\n");
	CHECK(close(sv[0]) == 0);
}

static int udp_socket(struct sockaddr_in *a)
{
	socklen_t len = sizeof *a;
	int s = socket(AF_INET, SOCK_DGRAM, 0);
	CHECK(s >= 0);
	memset(a, 0, sizeof *a);
	a->sin_family = AF_INET;
	a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(s, (struct sockaddr *)a, sizeof *a) == 0);
	CHECK(getsockname(s, (struct sockaddr *)a, &len) == 0);
	return s;
}

struct mm {
	int fd;
	int flags;
	unsigned vlen;
	struct mmsghdr v[5];
	struct iovec iov[5];
	char buf[5][32];
	int ret;
	int err;
	pthread_t t;
};

static void mm_setup(struct mm *m, int fd, unsigned vlen, int flags)
{
	memset(m, 0, sizeof *m);
	m->fd = fd;
	m->vlen = vlen;
	m->flags = flags;
	for (int i = 0; i < 5; i++) {
		m->iov[i].iov_base = m->buf[i];
		m->iov[i].iov_len = sizeof m->buf[i];
		m->v[i].msg_hdr.msg_iov = &m->iov[i];
		m->v[i].msg_hdr.msg_iovlen = 1;
	}
}

static void *do_recvmmsg(void *arg)
{
	struct mm *m = arg;
	m->ret = recvmmsg(m->fd, m->v, m->vlen, m->flags, NULL);
	m->err = errno;
	return NULL;
}

static void send_dgrams(int fd, struct sockaddr_in *to, int first, int count)
{
	struct mmsghdr v[5];
	struct iovec iov[5];
	char buf[5][16];

	memset(v, 0, sizeof v);
	for (int i = 0; i < count; i++) {
		snprintf(buf[i], sizeof buf[i], "dgram-%d", first + i);
		iov[i].iov_base = buf[i];
		iov[i].iov_len = strlen(buf[i]);
		v[i].msg_hdr.msg_iov = &iov[i];
		v[i].msg_hdr.msg_iovlen = 1;
		v[i].msg_hdr.msg_name = to;
		v[i].msg_hdr.msg_namelen = sizeof *to;
	}
	CHECK(sendmmsg(fd, v, count, 0) == count);
	for (int i = 0; i < count; i++)
		CHECK(v[i].msg_len == iov[i].iov_len);
}

static void test_udp(void)
{
	struct sockaddr_in ra, sa;
	int r = udp_socket(&ra), s = udp_socket(&sa);
	struct op o;
	struct mm m;

	start(&o, do_recvfrom, r, 64, 0);
	nap(30);
	CHECK(sendto(s, "datagram", 8, 0, (struct sockaddr *)&ra, sizeof ra) == 8);
	join(&o);
	want(&o, 8, "datagram");
	CHECK(o.fromlen == sizeof(struct sockaddr_in) && o.from.sin_family == AF_INET &&
	      o.from.sin_port == sa.sin_port && o.from.sin_addr.s_addr == sa.sin_addr.s_addr);
	printf("udp: blocked recvfrom woken by sendto: %zd, fromlen %u, sender's address\n",
	       o.ret, (unsigned)o.fromlen);

	/* Without MSG_WAITFORONE recvmmsg waits for all vlen datagrams. */
	mm_setup(&m, r, 3, 0);
	CHECK(pthread_create(&m.t, NULL, do_recvmmsg, &m) == 0);
	nap(30);
	send_dgrams(s, &ra, 0, 1);
	nap(30);
	send_dgrams(s, &ra, 1, 2);
	CHECK(pthread_join(m.t, NULL) == 0);
	CHECK_OP(m, m.ret == 3);
	for (int i = 0; i < 3; i++) {
		char w[16];
		snprintf(w, sizeof w, "dgram-%d", i);
		CHECK(m.v[i].msg_len == strlen(w) && memcmp(m.buf[i], w, strlen(w)) == 0);
	}
	printf("udp: blocked recvmmsg vlen 3, sent 1 then sendmmsg 2: %d in order\n", m.ret);

	mm_setup(&m, r, 5, MSG_WAITFORONE);
	send_dgrams(s, &ra, 3, 2);
	CHECK(pthread_create(&m.t, NULL, do_recvmmsg, &m) == 0);
	CHECK(pthread_join(m.t, NULL) == 0);
	CHECK_OP(m, m.ret == 2 && memcmp(m.buf[0], "dgram-3", 7) == 0 && memcmp(m.buf[1], "dgram-4", 7) == 0);
	printf("udp: recvmmsg vlen 5 MSG_WAITFORONE with 2 queued: %d\n", m.ret);

	mm_setup(&m, r, 5, MSG_WAITFORONE);
	CHECK(pthread_create(&m.t, NULL, do_recvmmsg, &m) == 0);
	nap(30);
	send_dgrams(s, &ra, 5, 1);
	CHECK(pthread_join(m.t, NULL) == 0);
	CHECK_OP(m, m.ret == 1 && memcmp(m.buf[0], "dgram-5", 7) == 0);
	printf("udp: blocked recvmmsg MSG_WAITFORONE woken by one: %d\n", m.ret);

	mm_setup(&m, r, 5, MSG_DONTWAIT);
	CHECK_ERR(recvmmsg(r, m.v, 5, MSG_DONTWAIT, NULL), EAGAIN);
	printf("udp: recvmmsg MSG_DONTWAIT on empty: -1 EAGAIN\n");
	CHECK(close(r) == 0 && close(s) == 0);
}

static void test_unix_dgram(void)
{
	int sv[2];
	struct op o;
	char buf[16];

	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	CHECK(send(sv[1], "one", 3, 0) == 3);
	CHECK(send(sv[1], "second", 6, 0) == 6);
	CHECK(recv(sv[0], buf, sizeof buf, 0) == 3);
	CHECK(recv(sv[0], buf, 3, MSG_TRUNC) == 6 && memcmp(buf, "sec", 3) == 0);
	printf("unix dgram: boundaries kept, recv 3 with MSG_TRUNC of a 6-byte message: 6\n");

	struct iovec iov = { buf, 4 };
	memset(&o.msg, 0, sizeof o.msg);
	o.msg.msg_iov = &iov;
	o.msg.msg_iovlen = 1;
	start(&o, do_recvmsg, sv[0], 0, 0);
	nap(30);
	CHECK(send(sv[1], "truncated", 9, 0) == 9);
	join(&o);
	CHECK_OP(o, o.ret == 4 && (o.msg.msg_flags & MSG_TRUNC) && memcmp(buf, "trun", 4) == 0);
	printf("unix dgram: blocked recvmsg into 4 of 9: %zd, MSG_TRUNC in msg_flags\n", o.ret);
	close_pair(sv);
}

static void test_scm_rights(void)
{
	int sv[2], p[2];
	struct op o;
	char data[1];
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(int))];
	} rc, wc;

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	CHECK(pipe(p) == 0);
	struct iovec riov = { data, 1 };
	memset(&o.msg, 0, sizeof o.msg);
	memset(&rc, 0, sizeof rc);
	o.msg.msg_iov = &riov;
	o.msg.msg_iovlen = 1;
	o.msg.msg_control = rc.space;
	o.msg.msg_controllen = sizeof rc.space;
	start(&o, do_recvmsg, sv[0], 0, 0);
	nap(30);

	struct iovec wiov = { "F", 1 };
	struct msghdr wm = { .msg_iov = &wiov, .msg_iovlen = 1,
			     .msg_control = wc.space, .msg_controllen = sizeof wc.space };
	memset(&wc, 0, sizeof wc);
	struct cmsghdr *c = CMSG_FIRSTHDR(&wm);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &p[0], sizeof(int));
	CHECK(sendmsg(sv[1], &wm, 0) == 1);
	join(&o);
	CHECK_OP(o, o.ret == 1 && data[0] == 'F');
	c = CMSG_FIRSTHDR(&o.msg);
	CHECK(c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	      c->cmsg_len == CMSG_LEN(sizeof(int)));
	int got;
	memcpy(&got, CMSG_DATA(c), sizeof got);
	CHECK(got >= 0 && got != p[0]);
	CHECK(write(p[1], "via", 3) == 3);
	char buf[8];
	CHECK(read(got, buf, sizeof buf) == 3 && memcmp(buf, "via", 3) == 0);
	printf("unix: blocked recvmsg got an fd by SCM_RIGHTS that reads the pipe\n");
	CHECK(close(got) == 0 && close(p[0]) == 0 && close(p[1]) == 0);
	close_pair(sv);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int kind = 0; kind < 2; kind++)
		test_stream_basic(kind);
	for (int kind = 0; kind < 2; kind++)
		test_big_send(kind);
	test_reset();
	test_udp();
	test_unix_dgram();
	test_scm_rights();
	printf("io_socket_rw: ok\n");
	return 0;
}
