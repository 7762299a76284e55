/* io_eintr.c: compat test of signals interrupting blocked I/O calls (EINTR, SA_RESTART).
 *
 * A SIGUSR1 handler is sent with pthread_kill to a thread blocked in a call:
 *  - installed without SA_RESTART, read/readv/recv/accept/write (full pipe)/poll/ppoll/
 *    select/epoll_wait return -1 EINTR;
 *  - installed with SA_RESTART, read/recv/accept/write are restarted (they do not
 *    return while signals keep coming) and complete when data, a connection or
 *    space arrives, while poll/select/epoll_wait still return -1 EINTR (as Linux does),
 *    and so does recv on a socket with SO_RCVTIMEO set;
 * and the handler always runs in the thread the signal was sent to.
 * The signal is sent again every 20 ms until the call returns, so a signal that
 * arrives before the thread blocks does not matter. Results are printed by the main
 * thread, in a fixed order, after a join. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_eintr: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* What the handler saw: how often it ran, and whether always in the target. */
static pthread_t target;
static atomic_int hits;
static atomic_int wrong_thread;

static void on_usr1(int sig)
{
	(void)sig;
	int saved = errno;
	if (!pthread_equal(pthread_self(), target))
		atomic_fetch_add(&wrong_thread, 1);
	atomic_fetch_add(&hits, 1);
	errno = saved;
}

static void install(int restart)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sa.sa_flags = restart ? SA_RESTART : 0;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);
}

enum kind { K_READ, K_READV, K_RECV, K_RECV_TIMEO, K_ACCEPT, K_WRITE, K_POLL, K_PPOLL,
	    K_SELECT, K_EPOLL, NKINDS };
static const char *kind_name[NKINDS] = { "read(pipe)", "readv(pipe)", "recv(tcp)",
	"recv(tcp, SO_RCVTIMEO 10 s)", "accept", "write(full pipe)", "poll", "ppoll",
	"select", "epoll_wait" };

/* The fds of one round: a pipe, a TCP pair, a listener, an epoll set on the pipe. */
struct fds {
	int p[2];
	int sv[2];
	int l;
	struct sockaddr_in la;
	int ep;
};

struct op {
	enum kind kind;
	struct fds *f;
	char buf[128];
	long ret;
	int err;
	atomic_int done;
	pthread_t t;
};

static void *run_op(void *arg)
{
	struct op *o = arg;
	struct fds *f = o->f;
	struct iovec iov = { o->buf, sizeof o->buf };
	struct pollfd pf = { f->p[0], POLLIN, 0 };
	struct timespec ts = { 10, 0 };
	struct epoll_event e;
	fd_set r;

	switch (o->kind) {
	case K_READ: o->ret = read(f->p[0], o->buf, sizeof o->buf); break;
	case K_READV: o->ret = readv(f->p[0], &iov, 1); break;
	case K_RECV: case K_RECV_TIMEO: o->ret = recv(f->sv[0], o->buf, sizeof o->buf, 0); break;
	case K_ACCEPT: o->ret = accept(f->l, NULL, NULL); break;
	case K_WRITE: o->ret = write(f->p[1], o->buf, 100); break;
	case K_POLL: o->ret = poll(&pf, 1, 10000); break;
	case K_PPOLL: o->ret = ppoll(&pf, 1, &ts, NULL); break;
	case K_SELECT:
		FD_ZERO(&r);
		FD_SET(f->p[0], &r);
		o->ret = select(f->p[0] + 1, &r, NULL, NULL, NULL);
		break;
	case K_EPOLL: o->ret = epoll_wait(f->ep, &e, 1, 10000); break;
	case NKINDS: break;
	}
	o->err = errno;
	atomic_store(&o->done, 1);
	return NULL;
}

static void setup(struct fds *f, enum kind k)
{
	socklen_t len = sizeof f->la;

	CHECK(pipe(f->p) == 0);
	f->l = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(f->l >= 0);
	memset(&f->la, 0, sizeof f->la);
	f->la.sin_family = AF_INET;
	f->la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK(bind(f->l, (struct sockaddr *)&f->la, sizeof f->la) == 0);
	CHECK(listen(f->l, 4) == 0);
	CHECK(getsockname(f->l, (struct sockaddr *)&f->la, &len) == 0);
	f->sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	CHECK(f->sv[0] >= 0);
	CHECK(connect(f->sv[0], (struct sockaddr *)&f->la, sizeof f->la) == 0);
	f->sv[1] = accept(f->l, NULL, NULL);
	CHECK(f->sv[1] >= 0);
	if (k == K_RECV_TIMEO) {
		struct timeval tv = { 10, 0 };
		CHECK(setsockopt(f->sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
	}
	f->ep = epoll_create1(0);
	CHECK(f->ep >= 0);
	struct epoll_event e = { .events = EPOLLIN };
	CHECK(epoll_ctl(f->ep, EPOLL_CTL_ADD, f->p[0], &e) == 0);
	if (k == K_WRITE) {
		/* Fill the pipe: a write of exactly its capacity never blocks. */
		int cap = fcntl(f->p[1], F_GETPIPE_SZ);
		char *junk = calloc(1, cap);
		CHECK(cap > 0 && junk != NULL);
		CHECK(write(f->p[1], junk, cap) == cap);
		free(junk);
	}
}

static void teardown(struct fds *f)
{
	CHECK(close(f->p[0]) == 0 && close(f->p[1]) == 0 && close(f->sv[0]) == 0 &&
	      close(f->sv[1]) == 0 && close(f->l) == 0 && close(f->ep) == 0);
}

/* Signals the thread every 20 ms until its call returns (at most 5 s). */
static void kill_until_done(struct op *o)
{
	for (int i = 0; i < 250 && !atomic_load(&o->done); i++) {
		CHECK(pthread_kill(o->t, SIGUSR1) == 0);
		for (int j = 0; j < 4 && !atomic_load(&o->done); j++)
			nap(5);
	}
	CHECK(atomic_load(&o->done));
}

/* Gives the blocked call what it waits for. */
static void satisfy(struct op *o)
{
	struct fds *f = o->f;
	char junk[4096];
	switch (o->kind) {
	case K_READ: case K_READV: CHECK(write(f->p[1], "data", 4) == 4); break;
	case K_RECV: case K_RECV_TIMEO: CHECK(send(f->sv[1], "data", 4, 0) == 4); break;
	case K_ACCEPT: {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		CHECK(c >= 0 && connect(c, (struct sockaddr *)&f->la, sizeof f->la) == 0);
		/* Kept open until teardown by parking it on the peer's slot. */
		CHECK(close(f->sv[1]) == 0);
		f->sv[1] = c;
		break;
	}
	case K_WRITE: CHECK(read(f->p[0], junk, sizeof junk) == sizeof junk); break;
	default: CHECK(write(f->p[1], "data", 4) == 4); break;
	}
}

static int restartable(enum kind k)
{
	return k == K_READ || k == K_READV || k == K_RECV || k == K_ACCEPT || k == K_WRITE;
}

static void round_one(enum kind k, int restart)
{
	struct fds f;
	struct op o;

	setup(&f, k);
	memset(&o, 0, sizeof o);
	memset(o.buf, 'w', sizeof o.buf);
	o.kind = k;
	o.f = &f;
	o.ret = -2;
	atomic_store(&hits, 0);
	atomic_store(&wrong_thread, 0);
	CHECK(pthread_create(&o.t, NULL, run_op, &o) == 0);
	target = o.t;
	nap(20);
	if (restart && restartable(k)) {
		/* Restarted: it must not return while the signals come... */
		for (int i = 0; i < 5; i++) {
			CHECK(pthread_kill(o.t, SIGUSR1) == 0);
			nap(20);
			if (atomic_load(&o.done))
				FAIL("%s with SA_RESTART returned %ld errno %d on a signal",
				     kind_name[k], o.ret, o.err);
		}
		/* ...and completes when it can. */
		satisfy(&o);
		CHECK(pthread_join(o.t, NULL) == 0);
		long want = k == K_ACCEPT ? -3 : k == K_WRITE ? 100 : 4;
		if ((want == -3 && o.ret < 0) || (want != -3 && o.ret != want))
			FAIL("%s restarted: %ld errno %d", kind_name[k], o.ret, o.err);
		if (k == K_ACCEPT)
			CHECK(close((int)o.ret) == 0);
		printf("SA_RESTART    %-28s restarted, then completed: %s\n", kind_name[k],
		       k == K_ACCEPT ? "a new fd" : k == K_WRITE ? "100" : "4");
	} else {
		kill_until_done(&o);
		CHECK(pthread_join(o.t, NULL) == 0);
		if (o.ret != -1 || o.err != EINTR)
			FAIL("%s (%s): %ld errno %d, want -1 EINTR", kind_name[k],
			     restart ? "SA_RESTART" : "no SA_RESTART", o.ret, o.err);
		printf("%-13s %-28s -1 EINTR\n", restart ? "SA_RESTART" : "no SA_RESTART",
		       kind_name[k]);
	}
	if (atomic_load(&hits) < 1 || atomic_load(&wrong_thread) != 0)
		FAIL("%s: handler ran %d times, %d of them in another thread", kind_name[k],
		     atomic_load(&hits), atomic_load(&wrong_thread));
	teardown(&f);
}

int main(void)
{
	/* Line-buffered: after a hang the output shows how far the test got. */
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int restart = 0; restart < 2; restart++) {
		install(restart);
		for (int k = 0; k < NKINDS; k++)
			if (!(k == K_RECV_TIMEO && !restart))
				round_one(k, restart);
	}
	printf("the handler ran in the signalled thread every time\n");
	printf("io_eintr: ok\n");
	return 0;
}
