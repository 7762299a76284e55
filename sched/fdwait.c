/* sched/fdwait.c: the way of a blocking fd call (DESIGN.md §3), for every
 * hook of such a call (shim/io.c, net.c, stdio.c, splice.c, and poll.c's
 * epoll_wait family, a readiness call on one fd: struct gs_fdwait.readiness):
 *
 *   hook -> gs_fd_call: snap = gs_np_snap(fd); try the call without blocking;
 *           done unless EAGAIN; gs_fd_block(): park in the netpoller until fd
 *           may be ready, the fd's socket timeout, or a signal; retry.
 *
 * A socket is tried with MSG_DONTWAIT, an anonymous-inode fd with O_NONBLOCK
 * set for the call, other fds after a zero-timeout poll, so the shim never
 * leaves O_NONBLOCK changed on a file description another process may share.
 * The program's own O_NONBLOCK is honoured: it gets EAGAIN as natively. A
 * close() of the fd meanwhile moves the wait to the runtime's duplicate of
 * the same open file (netpoll.c), as a native call goes on with its file. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include "fdwait.h"
#include "real.h"

int gs_fd_block(struct g *g, int *fdp, int mode, struct gs_np_snap snap, struct gs_fdwait *w)
{
	int fd = *fdp;
	if (!w->readiness && gs_fd_user_nonblock(fd)) {
		errno = w->again_errno ? w->again_errno : EAGAIN;
		return GS_FDW_RETURN;
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
		return GS_FDW_RETRY;
	case -ETIMEDOUT:	/* SO_RCVTIMEO/SO_SNDTIMEO expired */
		if (w->readiness)
			return GS_FDW_RETRY;	/* the last ask, with the time up */
		errno = w->again_errno ? w->again_errno : EAGAIN;
		return GS_FDW_RETURN;
	case -EINTR:
		gs_testcancel(g);
		if (g->intr_restart) {	/* the handler ran; SA_RESTART: go on */
			g->intr_restart = 0;
			return GS_FDW_RETRY;
		}
		errno = EINTR;
		return GS_FDW_RETURN;
	case -EPERM:
		return GS_FDW_BLOCKING;
	case -EBADF:
		if (w->readiness)
			return GS_FDW_RETRY;	/* closed behind its back: the ask reports it */
		/* fall through */
	default:
		errno = -r;
		return GS_FDW_RETURN;
	}
}

ssize_t gs_fd_call(struct g *g, struct gs_fdcall *c)
{
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(c->fd, c->mode);
		int t = c->try(c, false);
		if (t == GS_FDC_DONE)
			return c->ret;
		if (t == GS_FDC_RETRY)
			continue;
		if (c->anyway && c->w.woken && gs_fd_ready(c->fd, NP_READ))
			t = c->try(c, true);
		else
			switch (gs_fd_block(g, &c->fd, c->mode, snap, &c->w)) {
			case GS_FDW_RETURN:
				return c->done ? c->done : -1;
			case GS_FDW_BLOCKING:
				t = c->try(c, true);
				break;
			}
		if (t == GS_FDC_DONE)
			return c->ret;
	}
}

bool gs_fd_ready(int fd, int mode)
{
	struct pollfd p = { fd, (short)(mode == NP_READ ? POLLIN : POLLOUT), 0 };
	int saved = errno;
	int r = REAL(poll)(&p, 1, 0);
	errno = saved;
	return r != 0;
}

int gs_fd_nb_begin(int fd)
{
	gs_fd_flip_lock(fd);
	int fl = REAL(fcntl)(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return -1;	/* nothing to restore */
	REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK);
	return fl;
}

void gs_fd_nb_end(int fd, int fl)
{
	int saved = errno;
	if (fl >= 0)
		REAL(fcntl)(fd, F_SETFL, fl);
	gs_fd_flip_unlock(fd);
	errno = saved;
}
