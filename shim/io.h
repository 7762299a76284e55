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

struct io_wait {
	uint64_t deadline;	/* 0 none */
	bool have_deadline;
	bool sock;		/* SO_RCVTIMEO/SO_SNDTIMEO apply */
	int intr;		/* GS_INTR_* of this call */
};

enum { IO_RETRY = 0, IO_RETURN = -1, IO_BLOCKING = 1 };

/* The call failed with EAGAIN: wait for fd, or decide the result. Returns
 * IO_RETRY, IO_RETURN (errno set; the hook returns -1), or IO_BLOCKING (fd
 * cannot be polled: make the real, blocking call). */
static inline int io_block(struct g *g, int fd, int mode, struct gs_np_snap snap, struct io_wait *w)
{
	if (gs_fd_user_nonblock(fd)) {
		errno = EAGAIN;
		return IO_RETURN;
	}
	if (!w->have_deadline) {
		w->deadline = w->sock ? gs_fd_timeout(fd, mode) : 0;
		w->have_deadline = true;
	}
	int r = gs_np_wait(fd, mode, snap, w->deadline, w->intr ? w->intr : GS_INTR_NORESTART);
	switch (r) {
	case 0:
		return IO_RETRY;
	case -ETIMEDOUT:
		errno = EAGAIN;	/* SO_RCVTIMEO/SO_SNDTIMEO expired */
		return IO_RETURN;
	case -EINTR:
		gs_testcancel(g);
		errno = EINTR;
		return IO_RETURN;
	case -EPERM:
		return IO_BLOCKING;
	default:
		errno = -r;
		return IO_RETURN;
	}
}

/* Zero-timeout readiness of a non-socket fd: 1 ready (or error to report by
 * the call itself), 0 not yet. */
static inline int io_ready(int fd, int mode)
{
	struct pollfd p = { fd, (short)(mode == NP_READ ? POLLIN : POLLOUT), 0 };
	int saved = errno;
	int r = REAL(poll)(&p, 1, 0);
	errno = saved;
	return r != 0;
}

#endif
