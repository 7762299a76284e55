/* cancel_read.c: compat test of cancelling threads blocked in I/O cancellation points
 * (DESIGN.md §2.1, §2.4): a thread blocked in read() on an empty pipe, recv() on a
 * socketpair, accept() on a listening socket, poll(), and then readv, recvmsg, recvfrom,
 * write to a full pipe, select, ppoll, epoll_wait and accept4, is cancelled
 * with pthread_cancel: its cleanup handler runs, join returns PTHREAD_CANCELED, and the
 * fd is left working (data written afterwards is read by main; a connection afterwards is
 * accepted by main), as nobody else consumed it. A cancel made pending while disabled acts
 * at the next read() even though data is waiting, and consumes none of it.
 */
#include "compat.h"
#include <fcntl.h>
#include <poll.h>
#include <semaphore.h>
#include <stddef.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

enum call { READ, RECV, ACCEPT, POLL, READV, RECVMSG, RECVFROM, WRITE_FULL, SELECT, PPOLL,
	    EPOLL_WAIT, ACCEPT4, NCALLS };
static const char *names[NCALLS] = { "read", "recv", "accept", "poll", "readv", "recvmsg",
				     "recvfrom", "write(full pipe)", "select", "ppoll",
				     "epoll_wait", "accept4" };

static sem_t started;
static pid_t blocker_tid;
static char trace[64];
static int pipefd[2], sp[2], lfd, epfd;
static struct sockaddr_un addr;
static socklen_t addrlen;

static void cleanup(void *arg)
{
	strcat(trace, arg);
}

static void *blocker(void *arg)
{
	enum call c = (enum call)(long)arg;
	char buf[16];
	struct iovec iov = { buf, sizeof(buf) };
	struct msghdr mh;
	struct pollfd pfd = { pipefd[0], POLLIN, 0 };
	struct epoll_event ev;
	fd_set rs;

	pthread_cleanup_push(cleanup, "[cleanup]");
	blocker_tid = gettid();
	CHECK_SYS(sem_post(&started));
	switch (c) {
	case READ: read(pipefd[0], buf, sizeof(buf)); break;
	case RECV: recv(sp[0], buf, sizeof(buf), 0); break;
	case ACCEPT: accept(lfd, NULL, NULL); break;
	case POLL: poll(&pfd, 1, -1); break;
	case READV: readv(pipefd[0], &iov, 1); break;
	case RECVMSG:
		memset(&mh, 0, sizeof(mh));
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		recvmsg(sp[0], &mh, 0);
		break;
	case RECVFROM: recvfrom(sp[0], buf, sizeof(buf), 0, NULL, NULL); break;
	case WRITE_FULL: {
		static char big[65536];

		/* The pipe is full: this write blocks. */
		write(pipefd[1], big, sizeof(big));
		break;
	}
	case SELECT:
		FD_ZERO(&rs);
		FD_SET(pipefd[0], &rs);
		select(pipefd[0] + 1, &rs, NULL, NULL, NULL);
		break;
	case PPOLL: ppoll(&pfd, 1, NULL, NULL); break;
	case EPOLL_WAIT: epoll_wait(epfd, &ev, 1, -1); break;
	case ACCEPT4: accept4(lfd, NULL, NULL, SOCK_CLOEXEC); break;
	default: break;
	}
	FAIL("%s returned instead of being cancelled", names[c]);
	pthread_cleanup_pop(0);
	return NULL;
}

/* Fills the pipe (non-blocking writes until EAGAIN); returns the bytes written. */
static long fill_pipe(void)
{
	static char chunk[4096];
	long total = 0;
	ssize_t r;
	int fl = fcntl(pipefd[1], F_GETFL);

	CHECK_SYS(fcntl(pipefd[1], F_SETFL, fl | O_NONBLOCK));
	while ((r = write(pipefd[1], chunk, sizeof(chunk))) > 0)
		total += r;
	CHECK(r == -1 && errno == EAGAIN);
	CHECK_SYS(fcntl(pipefd[1], F_SETFL, fl));
	return total;
}

static void drain_pipe(long n)
{
	static char chunk[4096];
	ssize_t r;

	while (n > 0) {
		r = read(pipefd[0], chunk, n < (long)sizeof(chunk) ? n : (long)sizeof(chunk));
		CHECK(r > 0);
		n -= r;
	}
}

/* After the cancel, the fd still works for main, and nothing was consumed. */
static void check_after(enum call c)
{
	char buf[16];
	int cfd, afd;

	switch (c) {
	case READ: case POLL: case READV: case SELECT: case PPOLL: case EPOLL_WAIT:
		CHECK_EQ(write(pipefd[1], "x", 1), 1);
		CHECK_EQ(read(pipefd[0], buf, sizeof(buf)), 1);
		CHECK(buf[0] == 'x');
		break;
	case RECV: case RECVMSG: case RECVFROM:
		CHECK_EQ(send(sp[1], "yz", 2, 0), 2);
		CHECK_EQ(recv(sp[0], buf, sizeof(buf), 0), 2);
		CHECK(memcmp(buf, "yz", 2) == 0);
		break;
	case ACCEPT: case ACCEPT4:
		cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		CHECK(cfd >= 0);
		CHECK_SYS(connect(cfd, (struct sockaddr *)&addr, addrlen));
		afd = accept(lfd, NULL, NULL);
		CHECK(afd >= 0);
		CHECK_EQ(write(cfd, "c", 1), 1);
		CHECK_EQ(read(afd, buf, 1), 1);
		CHECK(buf[0] == 'c');
		CHECK_SYS(close(afd));
		CHECK_SYS(close(cfd));
		break;
	default:
		break;
	}
}

static int disabled_ready;
static pthread_mutex_t dmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t dcv = PTHREAD_COND_INITIALIZER;
static int dgo;

/* Cancel made pending while disabled; data waits in the pipe; read() acts on the cancel. */
static void *pending_reader(void *arg)
{
	char buf[16];
	int old;

	(void)arg;
	CHECK_RC(pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old), 0);
	pthread_cleanup_push(cleanup, "[cleanup]");
	pthread_mutex_lock(&dmu);
	disabled_ready = 1;
	pthread_cond_broadcast(&dcv);
	while (!dgo)
		pthread_cond_wait(&dcv, &dmu); /* disabled: not acted on */
	pthread_mutex_unlock(&dmu);
	strcat(trace, "[enable]");
	CHECK_RC(pthread_setcancelstate(PTHREAD_CANCEL_ENABLE, &old), 0);
	read(pipefd[0], buf, sizeof(buf));
	FAIL("read with a pending cancel returned");
	pthread_cleanup_pop(0);
	return NULL;
}

int main(void)
{
	struct epoll_event ev;
	pthread_t t;
	void *r;
	long full = 0, i;
	char buf[16];

	CHECK_SYS(sem_init(&started, 0, 0));
	CHECK_SYS(pipe2(pipefd, O_CLOEXEC));
	CHECK_SYS(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp));
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(lfd >= 0);
	memset(&addr, 0, sizeof(addr));
	addr.sun_family = AF_UNIX;
	/* Abstract name (leading NUL): no file to clean up. */
	snprintf(addr.sun_path + 1, sizeof(addr.sun_path) - 1, "goshim-cancel-read-%d",
		 (int)getpid());
	addrlen = offsetof(struct sockaddr_un, sun_path) + 1 + strlen(addr.sun_path + 1);
	CHECK_SYS(bind(lfd, (struct sockaddr *)&addr, addrlen));
	CHECK_SYS(listen(lfd, 8));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	CHECK(epfd >= 0);
	ev.events = EPOLLIN;
	ev.data.fd = pipefd[0];
	CHECK_SYS(epoll_ctl(epfd, EPOLL_CTL_ADD, pipefd[0], &ev));

	for (i = 0; i < NCALLS; i++) {
		trace[0] = 0;
		if (i == WRITE_FULL)
			full = fill_pipe();
		CHECK_RC(pthread_create(&t, NULL, blocker, (void *)i), 0);
		while (sem_wait(&started) != 0)
			CHECK(errno == EINTR);
		wait_blocked(blocker_tid, -1, -1); /* blocked in its call */
		CHECK_RC(pthread_cancel(t), 0);
		CHECK_RC(pthread_join(t, &r), 0);
		printf("%s: cancelled %d, cleanups: %s\n", names[i], r == PTHREAD_CANCELED, trace);
		CHECK(r == PTHREAD_CANCELED);
		CHECK(strcmp(trace, "[cleanup]") == 0);
		if (i == WRITE_FULL) {
			/* The cancelled write wrote nothing (the pipe was full throughout): after
			 * draining exactly what we wrote, the pipe is empty. */
			drain_pipe(full);
			CHECK_SYS(fcntl(pipefd[0], F_SETFL, O_NONBLOCK));
			CHECK_ERRNO(read(pipefd[0], buf, sizeof(buf)), EAGAIN);
			CHECK_SYS(fcntl(pipefd[0], F_SETFL, 0));
		}
		check_after((enum call)i);
	}

	/* A pending cancel acts at read() although data is waiting; the data stays. */
	trace[0] = 0;
	CHECK_EQ(write(pipefd[1], "data", 4), 4);
	CHECK_RC(pthread_create(&t, NULL, pending_reader, NULL), 0);
	pthread_mutex_lock(&dmu);
	while (!disabled_ready)
		pthread_cond_wait(&dcv, &dmu);
	CHECK_RC(pthread_cancel(t), 0);
	dgo = 1;
	pthread_cond_broadcast(&dcv);
	pthread_mutex_unlock(&dmu);
	CHECK_RC(pthread_join(t, &r), 0);
	CHECK_EQ(read(pipefd[0], buf, sizeof(buf)), 4);
	printf("pending cancel at read with data waiting: cancelled %d, cleanups: %s, "
	       "data left \"%.4s\"\n", r == PTHREAD_CANCELED, trace, buf);
	CHECK(r == PTHREAD_CANCELED && strcmp(trace, "[enable][cleanup]") == 0);
	CHECK(memcmp(buf, "data", 4) == 0);
	return 0;
}
