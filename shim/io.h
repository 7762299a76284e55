/* shim/io.h: the way of a blocking fd call, shared by io.c, net.c, poll.c.
 *
 *   for (;;) { snap = gs_np_snap(fd, mode); try the call without blocking;
 *              done unless EAGAIN; io_block() parks until fd may be ready }
 *
 * A socket is tried with MSG_DONTWAIT, other fds after a zero-timeout poll,
 * so the shim never changes O_NONBLOCK on a file description (one another
 * process may share). The program's own O_NONBLOCK is honoured: it gets
 * EAGAIN as natively. */
#ifndef GS_IO_H
#define GS_IO_H

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "netpoll.h"
#include "real.h"

GS_HIDDEN void gs_testcancel(struct g *g);
GS_HIDDEN int gs_fd_kind(int fd);
GS_HIDDEN bool gs_fd_user_nonblock(int fd);
GS_HIDDEN uint64_t gs_fd_timeout(int fd, int mode);
typedef struct _IO_FILE FILE;
GS_HIDDEN int gs_stdio_wait(FILE *f);	/* stdio.c: before a stdio read */
GS_HIDDEN int gs_fd_made(int fd, int kind, int nonblock);	/* net.c: a new fd */
GS_HIDDEN int gs_fcntl_lockw(int fd, int cmd, void *arg);	/* flock.c */

struct io_wait {
	uint64_t deadline;	/* 0 none */
	bool have_deadline;
	bool sock;		/* SO_RCVTIMEO/SO_SNDTIMEO apply */
	int woken;		/* waits so far */
	int intr;		/* GS_INTR_* of this call */
};

enum { IO_RETRY = 0, IO_RETURN = -1, IO_BLOCKING = 1 };

/* Defines an fd hook whose body may try the call several times: a try that
 * failed with EAGAIN before the one that succeeded must not leave errno set
 * (a hook leaves errno alone unless it reports an error). When the body went
 * on with a closed fd's duplicate (io_block), the G lets go of it here. */
#define IO_HOOK(type, name, params, args)					\
	static type name##_body params;						\
	GS_EXPORT type name params						\
	{									\
		int e0_ = errno;						\
		type r_ = name##_body args;					\
		gs_np_ghost_drop(gs_self());	/* keeps errno */		\
		if (r_ >= 0)							\
			errno = e0_;						\
		return r_;							\
	}									\
	static type name##_body params

/* The call failed with EAGAIN: wait for *fd, or decide the result. Returns
 * IO_RETRY, IO_RETURN (errno set; the hook returns -1), or IO_BLOCKING (fd
 * cannot be polled: make the real, blocking call). If the program closed *fd
 * meanwhile, IO_RETRY with *fd the runtime's duplicate of the same open file
 * (netpoll.h), which the hook goes on with, as a native call goes on with the
 * file it started on; IO_HOOK lets go of it when the hook returns. */
static inline int io_block(struct g *g, int *fdp, int mode, struct gs_np_snap snap, struct io_wait *w)
{
	int fd = *fdp;
	if (gs_fd_user_nonblock(fd)) {
		errno = EAGAIN;
		return IO_RETURN;
	}
	if (!w->have_deadline) {
		w->deadline = w->sock ? gs_fd_timeout(fd, mode) : 0;
		w->have_deadline = true;
		if (w->deadline)	/* Linux: a socket timeout makes it EINTR, SA_RESTART or not */
			w->intr = GS_INTR_ALWAYS;
	}
	int r = gs_np_wait(fdp, mode, snap, w->deadline, w->intr ? w->intr : GS_INTR_NORESTART);
	switch (r) {
	case 0:
		w->woken++;
		return IO_RETRY;
	case -ETIMEDOUT:
		errno = EAGAIN;	/* SO_RCVTIMEO/SO_SNDTIMEO expired */
		return IO_RETURN;
	case -EINTR:
		gs_testcancel(g);
		if (g->intr_restart) {	/* the handler ran; SA_RESTART: go on */
			g->intr_restart = 0;
			return IO_RETRY;
		}
		errno = EINTR;
		return IO_RETURN;
	case -EPERM:
		return IO_BLOCKING;
	default:
		errno = -r;
		return IO_RETURN;
	}
}

/* A socket that MSG_DONTWAIT still finds empty after a wakeup, though the
 * kernel reports it readable (UDP after shutdown(SHUT_RD) returns 0 only to a
 * blocking call): the blocking call returns at once. */
static inline bool io_readable_anyway(int fd, struct io_wait *w);

/* Zero-timeout readiness of a non-socket fd: 1 ready (or error to report by
 * the call itself), 0 not yet. */
/* An anonymous-inode fd (eventfd, timerfd, ...): the call itself, made
 * non-blocking just for its duration, so its own errors come out exactly. */
#define ANON_CALL(fd, call) ({							\
	gs_np_flip_lock(fd);							\
	int fl_ = REAL(fcntl)(fd, F_GETFL);					\
	__typeof__(call) r_;							\
	if (fl_ < 0 || (fl_ & O_NONBLOCK)) {					\
		r_ = call;							\
	} else {								\
		REAL(fcntl)(fd, F_SETFL, fl_ | O_NONBLOCK);			\
		r_ = call;							\
		int e_ = errno;							\
		REAL(fcntl)(fd, F_SETFL, fl_);					\
		errno = e_;							\
	}									\
	int e2_ = errno;							\
	gs_np_flip_unlock(fd);							\
	errno = e2_;								\
	r_; })

static inline int io_ready(int fd, int mode)
{
	struct pollfd p = { fd, (short)(mode == NP_READ ? POLLIN : POLLOUT), 0 };
	int saved = errno;
	int r = REAL(poll)(&p, 1, 0);
	errno = saved;
	return r != 0;
}

static inline bool io_readable_anyway(int fd, struct io_wait *w)
{
	return w->woken && io_ready(fd, NP_READ);
}

#endif
