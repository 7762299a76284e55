/* io_err_state.c: compat test of what a blocking call leaves in the caller's
 * arguments when it ends without success (DESIGN.md §2.4, §2.6): the sets,
 * pollfd revents, event arrays, buffers, timeouts and remaining times after
 * EINTR, a timeout, EBADF and EINVAL.
 *
 * Interrupted calls: a thread blocks in the call; main sends SIGUSR1 (handler
 * without SA_RESTART) every 20 ms until it returns. Natively (Linux 6.x, glibc
 * 2.36):
 *  - select: -1 EINTR, the three sets exactly as passed (POSIX: unchanged on
 *    error), the timeval updated to the time left (0 < left < passed);
 *  - pselect: -1 EINTR, sets as passed, the timespec untouched (glibc passes a copy);
 *  - select, pselect timing out: 0, every set cleared, select's timeval 0;
 *  - select with a closed fd in a set: -1 EBADF, sets as passed; nfds < 0: -1
 *    EINVAL, sets as passed; a negative timeval: -1 EINVAL, timeval untouched;
 *  - select with nfds above FD_SETSIZE (a larger set the program allocated):
 *    works, on fds above 1023;
 *  - poll: -1 EINTR, every revents 0; epoll_wait: -1 EINTR, the event array
 *    untouched; read, recv: -1 EINTR, the buffer untouched;
 *  - nanosleep, relative clock_nanosleep: EINTR, rem = the time left (0 < rem <
 *    req); TIMER_ABSTIME: rem untouched; completed sleeps leave rem untouched;
 *  - recvmmsg with a timeout, after vlen datagrams: the timeout is updated to
 *    the time left;
 *  - pthread_cond_timedwait: signal handlers running during the wait do not end
 *    it: ETIMEDOUT at the deadline.
 * Only exact facts are printed (no durations). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define FAIL(...) do { fprintf(stderr, "io_err_state: FAIL at line %d: ", __LINE__); \
	fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)
#define CHECK(c) do { if (!(c)) { int e_ = errno; \
	FAIL("%s (errno %d %s)", #c, e_, strerror(e_)); } } while (0)

static void nap(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void on_usr1(int sig)
{
	(void)sig;
}

enum kind { K_SELECT, K_SELECT_NULL, K_PSELECT, K_POLL, K_EPOLL, K_READ, K_RECV,
	    K_NANOSLEEP, K_CLOCK_REL, K_CLOCK_ABS, NKINDS };
static const char *kind_name[NKINDS] = { "select(5 s)", "select(NULL)", "pselect(5 s)",
	"poll", "epoll_wait", "read(pipe)", "recv(unix)", "nanosleep(5 s)",
	"clock_nanosleep(5 s)", "clock_nanosleep(TIMER_ABSTIME)" };

struct op {
	enum kind kind;
	int p[2], sv[2], ep;		/* an empty pipe, a unix pair, epoll on the pipe */
	fd_set rd, wr, ex;		/* as passed; the call's copies are below */
	fd_set crd, cwr, cex;
	struct timeval tv;
	struct timespec ts;
	struct pollfd pf[2];
	struct epoll_event ev[2];
	char buf[64];
	long ret;
	int err;
	atomic_int done;
	pthread_t t;
};

static void *run_op(void *arg)
{
	struct op *o = arg;
	int nfds = (o->p[1] > o->sv[1] ? o->p[1] : o->sv[1]) + 1;
	struct timespec req = { 5, 0 };

	switch (o->kind) {
	case K_SELECT:
		o->ret = select(nfds, &o->crd, &o->cwr, &o->cex, &o->tv);
		break;
	case K_SELECT_NULL:
		o->ret = select(nfds, &o->crd, &o->cwr, &o->cex, NULL);
		break;
	case K_PSELECT:
		o->ret = pselect(nfds, &o->crd, &o->cwr, &o->cex, &o->ts, NULL);
		break;
	case K_POLL: o->ret = poll(o->pf, 2, 10000); break;
	case K_EPOLL: o->ret = epoll_wait(o->ep, o->ev, 2, 10000); break;
	case K_READ: o->ret = read(o->p[0], o->buf, sizeof o->buf); break;
	case K_RECV: o->ret = recv(o->sv[0], o->buf, sizeof o->buf, 0); break;
	case K_NANOSLEEP: o->ret = nanosleep(&req, &o->ts); break;
	case K_CLOCK_REL:
		o->ret = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &o->ts);
		break;
	case K_CLOCK_ABS: {
		struct timespec until;
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += 5;
		o->ret = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &until, &o->ts);
		break;
	}
	case NKINDS: break;
	}
	o->err = errno;
	atomic_store(&o->done, 1);
	return NULL;
}

static void sets_init(struct op *o)
{
	FD_ZERO(&o->rd);
	FD_ZERO(&o->wr);
	FD_ZERO(&o->ex);
	FD_SET(o->p[0], &o->rd);
	FD_SET(o->sv[0], &o->rd);
	FD_SET(o->sv[0], &o->ex);
	FD_SET(o->p[0], &o->ex);
	o->crd = o->rd;
	o->cwr = o->wr;
	o->cex = o->ex;
}

static const char *sets_state(struct op *o)
{
	static fd_set zero;
	if (!memcmp(&o->crd, &o->rd, sizeof zero) && !memcmp(&o->cwr, &o->wr, sizeof zero) &&
	    !memcmp(&o->cex, &o->ex, sizeof zero))
		return "as passed";
	if (!memcmp(&o->crd, &zero, sizeof zero) && !memcmp(&o->cwr, &zero, sizeof zero) &&
	    !memcmp(&o->cex, &zero, sizeof zero))
		return "cleared";
	return "changed";
}

static void interrupted(enum kind k)
{
	struct op o;
	memset(&o, 0, sizeof o);
	o.kind = k;
	o.ret = -2;
	CHECK(pipe(o.p) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, o.sv) == 0);
	CHECK((o.ep = epoll_create1(0)) >= 0);
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = 7 };
	CHECK(epoll_ctl(o.ep, EPOLL_CTL_ADD, o.p[0], &e) == 0);
	sets_init(&o);
	o.tv = (struct timeval){ 5, 0 };
	o.ts = (struct timespec){ k == K_PSELECT ? 5 : 1234, k == K_PSELECT ? 0 : 5678 };
	o.pf[0] = (struct pollfd){ o.p[0], POLLIN, 0x5a5a };
	o.pf[1] = (struct pollfd){ o.sv[0], POLLIN | POLLPRI, 0x0404 };
	memset(o.ev, 0xab, sizeof o.ev);
	memset(o.buf, 'z', sizeof o.buf);

	CHECK(pthread_create(&o.t, NULL, run_op, &o) == 0);
	nap(30);
	for (int i = 0; i < 250 && !atomic_load(&o.done); i++) {
		CHECK(pthread_kill(o.t, SIGUSR1) == 0);
		for (int j = 0; j < 4 && !atomic_load(&o.done); j++)
			nap(5);
	}
	CHECK(pthread_join(o.t, NULL) == 0);

	int rc = (k == K_CLOCK_REL || k == K_CLOCK_ABS) ? (int)o.ret : (o.ret == -1 ? o.err : 0);
	if ((k == K_CLOCK_REL || k == K_CLOCK_ABS) ? o.ret != EINTR : (o.ret != -1 || o.err != EINTR))
		FAIL("%s: returned %ld errno %d, want EINTR", kind_name[k], o.ret, o.err);
	printf("%-32s interrupted: %s;", kind_name[k], strerror(rc));
	switch (k) {
	case K_SELECT:
		printf(" sets %s; timeval %s\n", sets_state(&o),
		       (o.tv.tv_sec > 0 || o.tv.tv_usec > 0) && o.tv.tv_sec < 5 ? "the time left" :
		       o.tv.tv_sec == 5 && o.tv.tv_usec == 0 ? "untouched" : "other");
		break;
	case K_SELECT_NULL:
		printf(" sets %s\n", sets_state(&o));
		break;
	case K_PSELECT:
		printf(" sets %s; timespec %s\n", sets_state(&o),
		       o.ts.tv_sec == 5 && o.ts.tv_nsec == 0 ? "untouched" : "changed");
		break;
	case K_POLL:
		printf(" revents 0x%x 0x%x\n", (unsigned)(unsigned short)o.pf[0].revents,
		       (unsigned)(unsigned short)o.pf[1].revents);
		break;
	case K_EPOLL: {
		unsigned char want[sizeof o.ev];
		memset(want, 0xab, sizeof want);
		printf(" event array %s\n", memcmp(o.ev, want, sizeof want) ? "written" : "untouched");
		break;
	}
	case K_READ: case K_RECV: {
		char want[sizeof o.buf];
		memset(want, 'z', sizeof want);
		printf(" buffer %s\n", memcmp(o.buf, want, sizeof want) ? "written" : "untouched");
		break;
	}
	case K_NANOSLEEP: case K_CLOCK_REL: case K_CLOCK_ABS:
		printf(" rem %s\n", o.ts.tv_sec == 1234 && o.ts.tv_nsec == 5678 ? "untouched" :
		       (o.ts.tv_sec > 0 || o.ts.tv_nsec > 0) && o.ts.tv_sec < 5 &&
		       o.ts.tv_nsec >= 0 && o.ts.tv_nsec < 1000000000L ? "the time left" : "other");
		break;
	case NKINDS: break;
	}
	close(o.p[0]);
	close(o.p[1]);
	close(o.sv[0]);
	close(o.sv[1]);
	close(o.ep);
}

/* Calls that end by themselves, from a thread (a G under the shim). */
static void *timeouts(void *arg)
{
	(void)arg;
	struct op o;
	memset(&o, 0, sizeof o);
	CHECK(pipe(o.p) == 0);
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, o.sv) == 0);
	int nfds = o.sv[1] + 1;

	sets_init(&o);
	o.tv = (struct timeval){ 0, 30000 };
	long r = select(nfds, &o.crd, &o.cwr, &o.cex, &o.tv);
	printf("select timing out: %ld; sets %s; timeval %ld.%06ld\n", r, sets_state(&o),
	       (long)o.tv.tv_sec, (long)o.tv.tv_usec);

	sets_init(&o);
	o.ts = (struct timespec){ 0, 30000000 };
	r = pselect(nfds, &o.crd, &o.cwr, &o.cex, &o.ts, NULL);
	printf("pselect timing out: %ld; sets %s; timespec %ld.%09ld\n", r, sets_state(&o),
	       (long)o.ts.tv_sec, o.ts.tv_nsec);

	/* A closed fd in the read set: EBADF, sets as passed. */
	int bad = dup(o.p[0]);
	CHECK(bad >= 0 && close(bad) == 0);
	sets_init(&o);
	FD_SET(bad, &o.rd);
	o.crd = o.rd;
	o.tv = (struct timeval){ 1, 0 };
	errno = 0;
	r = select(nfds > bad ? nfds : bad + 1, &o.crd, &o.cwr, &o.cex, &o.tv);
	printf("select with a closed fd: %ld %s; sets %s; timeval %s\n", r, strerror(errno),
	       sets_state(&o), o.tv.tv_sec <= 1 ? "at most as passed" : "other");
	sets_init(&o);
	FD_SET(bad, &o.rd);
	o.crd = o.rd;
	errno = 0;
	o.ts = (struct timespec){ 1, 0 };
	r = pselect(nfds > bad ? nfds : bad + 1, &o.crd, &o.cwr, &o.cex, &o.ts, NULL);
	printf("pselect with a closed fd: %ld %s; sets %s\n", r, strerror(errno), sets_state(&o));

	sets_init(&o);
	o.tv = (struct timeval){ 1, 0 };
	errno = 0;
	r = select(-1, &o.crd, &o.cwr, &o.cex, &o.tv);
	printf("select nfds -1: %ld %s; sets %s\n", r, strerror(errno), sets_state(&o));
	o.tv = (struct timeval){ -1, 0 };
	errno = 0;
	r = select(nfds, &o.crd, &o.cwr, &o.cex, &o.tv);
	printf("select negative timeval: %ld %s; sets %s; timeval %ld.%06ld\n", r, strerror(errno),
	       sets_state(&o), (long)o.tv.tv_sec, (long)o.tv.tv_usec);

	/* nfds above FD_SETSIZE: a set of 2048 bits, fds at 1500 and 1501. */
#define BIG_BITS (8 * sizeof(unsigned long))
#define BIG_SET(b, fd) ((b)[(fd) / BIG_BITS] |= 1UL << ((fd) % BIG_BITS))
#define BIG_ISSET(b, fd) (!!((b)[(fd) / BIG_BITS] & (1UL << ((fd) % BIG_BITS))))
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &rl) == 0);
	if (rl.rlim_cur < 2048 && rl.rlim_max >= 2048) {
		rl.rlim_cur = 2048;
		CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	}
	if (rl.rlim_cur >= 2048) {
		unsigned long big[2048 / (8 * sizeof(unsigned long))];
		int hi_r = dup2(o.p[0], 1500), hi_w = dup2(o.p[1], 1501);
		CHECK(hi_r == 1500 && hi_w == 1501);
		memset(big, 0, sizeof big);
		BIG_SET(big, 1500);	/* fortified FD_SET would abort past FD_SETSIZE */
		o.tv = (struct timeval){ 0, 20000 };
		r = select(1502, (fd_set *)big, NULL, NULL, &o.tv);
		printf("select nfds 1502, nothing ready: %ld; bit 1500 %d\n", r,
		       BIG_ISSET(big, 1500));
		CHECK(write(hi_w, "x", 1) == 1);
		BIG_SET(big, 1500);
		o.tv = (struct timeval){ 5, 0 };
		r = select(1502, (fd_set *)big, NULL, NULL, &o.tv);
		printf("select nfds 1502, fd 1500 readable: %ld; bit 1500 %d\n", r,
		       BIG_ISSET(big, 1500));
		close(hi_r);
		close(hi_w);
	} else {
		printf("skip-part: select nfds 1502 (RLIMIT_NOFILE below 2048)\n");
	}

	/* Completed sleeps leave rem alone. */
	struct timespec req = { 0, 1000000 }, rem = { 1234, 5678 };
	r = nanosleep(&req, &rem);
	printf("nanosleep completed: %ld; rem %s\n", r,
	       rem.tv_sec == 1234 && rem.tv_nsec == 5678 ? "untouched" : "written");
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
	printf("clock_nanosleep completed: %ld; rem %s\n", r,
	       rem.tv_sec == 1234 && rem.tv_nsec == 5678 ? "untouched" : "written");
	req = (struct timespec){ -1, 0 };
	r = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &req, &rem);
	printf("clock_nanosleep TIMER_ABSTIME, negative tv_sec: %s\n", strerror((int)r));
	r = clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem);
	printf("clock_nanosleep relative, negative tv_sec: %s\n", strerror((int)r));

	/* recvmmsg with a timeout: after vlen datagrams, the timeout holds the time left. */
	int u[2];
	CHECK(socketpair(AF_UNIX, SOCK_DGRAM, 0, u) == 0);
	CHECK(send(u[1], "a", 1, 0) == 1 && send(u[1], "b", 1, 0) == 1);
	char b0[4], b1[4];
	struct iovec iv[2] = { { b0, 4 }, { b1, 4 } };
	struct mmsghdr mm[2];
	memset(mm, 0, sizeof mm);
	mm[0].msg_hdr.msg_iov = &iv[0];
	mm[0].msg_hdr.msg_iovlen = 1;
	mm[1].msg_hdr.msg_iov = &iv[1];
	mm[1].msg_hdr.msg_iovlen = 1;
	struct timespec to = { 5, 0 };
	r = recvmmsg(u[0], mm, 2, 0, &to);
	printf("recvmmsg 2 of 2 with a 5 s timeout: %ld; timeout %s\n", r,
	       to.tv_sec == 5 && to.tv_nsec == 0 ? "untouched" :
	       to.tv_sec < 5 && to.tv_sec >= 0 ? "the time left" : "other");
	close(u[0]);
	close(u[1]);
	close(o.p[0]);
	close(o.p[1]);
	close(o.sv[0]);
	close(o.sv[1]);
	return NULL;
}

/* pthread_cond_timedwait: a signal handler that runs during the wait does not
 * end it (glibc waits on to the deadline): ETIMEDOUT, never a spurious 0. */
static pthread_mutex_t cmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ccv = PTHREAD_COND_INITIALIZER;
static atomic_int cdone;

static void *cond_waiter(void *arg)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += 300000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	CHECK(pthread_mutex_lock(&cmu) == 0);
	*(int *)arg = pthread_cond_timedwait(&ccv, &cmu, &ts);
	CHECK(pthread_mutex_unlock(&cmu) == 0);
	atomic_store(&cdone, 1);
	return NULL;
}

static void cond_interrupted(void)
{
	int r = -1;
	pthread_t t;
	CHECK(pthread_create(&t, NULL, cond_waiter, &r) == 0);
	nap(30);
	for (int i = 0; i < 100 && !atomic_load(&cdone); i++) {
		CHECK(pthread_kill(t, SIGUSR1) == 0);
		nap(20);
	}
	CHECK(pthread_join(t, NULL) == 0);
	printf("pthread_cond_timedwait(300 ms), signal handlers during the wait: %s\n",
	       r == ETIMEDOUT ? "ETIMEDOUT" : r == 0 ? "0 (woken early)" : strerror(r));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_usr1;
	sigemptyset(&sa.sa_mask);
	CHECK(sigaction(SIGUSR1, &sa, NULL) == 0);

	for (int k = 0; k < NKINDS; k++)
		interrupted((enum kind)k);
	cond_interrupted();
	pthread_t t;
	CHECK(pthread_create(&t, NULL, timeouts, NULL) == 0);
	CHECK(pthread_join(t, NULL) == 0);
	printf("io_err_state: ok\n");
	return 0;
}
