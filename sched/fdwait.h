/* sched/fdwait.h: the way of a blocking fd call (fdwait.c); the facts it
 * decides with are the fd table's (fdtable.h). Every hook of a call that may block on an fd goes
 * through here; the shim only translates its arguments and results. */
#ifndef GS_FDWAIT_H
#define GS_FDWAIT_H

#include <errno.h>
#include <sys/types.h>
#include "netpoll.h"

/* ---- the wait (fdwait.c) ---- */

/* The wait state of one call: kept across its waits. */
struct gs_fdwait {
	uint64_t deadline;	/* 0 none */
	bool have_deadline;	/* deadline is known (asked at the first wait) */
	bool sock;		/* SO_RCVTIMEO/SO_SNDTIMEO apply */
	int woken;		/* waits so far */
	int intr;		/* GS_INTR_* of this call; 0: GS_INTR_NORESTART */
	int again_errno;	/* what the call reports when the wait ends it without
				 * a result (the program's O_NONBLOCK, an expired
				 * socket timeout); 0: EAGAIN */
	bool readiness;		/* a readiness call on the fd (epoll_wait on an epoll
				 * fd): the program's O_NONBLOCK does not apply, the
				 * deadline is the call's own (set with have_deadline),
				 * and when it passes, or the fd was closed without a
				 * duplicate, the call asks once more (retry) and
				 * returns what it finds */
};

enum { GS_FDW_RETRY = 0, GS_FDW_RETURN = -1, GS_FDW_BLOCKING = 1 };

/* The call found nothing to do on *fd (EAGAIN): wait for mode, or decide the
 * result. Returns GS_FDW_RETRY, GS_FDW_RETURN (errno set: the call fails, or
 * returns what it did so far), or GS_FDW_BLOCKING (fd cannot be polled: make
 * the real, blocking call). If the program closed *fd meanwhile, GS_FDW_RETRY
 * with *fd the runtime's duplicate of the same open file (netpoll.h), which
 * the call goes on with, as a native call goes on with the file it started
 * on; the hook lets go of it when it returns (gs_np_ghost_drop). snap was
 * taken before the try that found nothing. Runs on g. */
GS_HIDDEN int gs_fd_block(struct g *g, int *fd, int mode, struct gs_np_snap snap, struct gs_fdwait *w);

/* ---- the engine (fdwait.c): try, park, retry ---- */

/* One blocking call on one fd. The hook embeds this at the head of a struct
 * with the call's arguments, sets fd, mode, kind, w.sock (and anyway, w.intr,
 * w.again_errno where they apply) and try, and calls gs_fd_call():
 *
 *   for (;;) { snap; try(c, false): done, again at once, or nothing yet;
 *              nothing yet: gs_fd_block() parks until fd may be ready }
 *
 * try(c, false) makes the call without blocking (MSG_DONTWAIT, O_NONBLOCK for
 * the call, or after fd polled ready) and returns GS_FDC_DONE with c->ret
 * set, GS_FDC_RETRY (progress made, or the kind learnt better: try again at
 * once), or GS_FDC_AGAIN (nothing yet, errno EAGAIN). try(c, true) makes the
 * real, blocking call for what is left (fd cannot be polled) and says
 * GS_FDC_DONE (or GS_FDC_RETRY/AGAIN to go on waiting). A call that moved
 * data before an error returns what it moved (c->done), as natively. */
enum { GS_FDC_DONE, GS_FDC_RETRY, GS_FDC_AGAIN };
struct gs_fdcall {
	int fd;			/* becomes the ghost's number if the program closes it */
	int mode;		/* NP_READ or NP_WRITE: what nothing-yet waits for */
	int kind;		/* GS_FD_* as the hook found it (try may change it) */
	bool anyway;		/* a socket read: after a wakeup that MSG_DONTWAIT still
				 * finds empty though fd polls readable (UDP after
				 * shutdown(SHUT_RD) returns 0 only to a blocking
				 * call), make the blocking call: it returns at once */
	struct gs_fdwait w;
	ssize_t done;		/* bytes or messages moved so far */
	ssize_t ret;		/* the result, with GS_FDC_DONE */
	int (*try)(struct gs_fdcall *c, bool block);
};
/* Returns the call's result (-1 with errno on failure). Runs on g. */
GS_HIDDEN ssize_t gs_fd_call(struct g *g, struct gs_fdcall *c);

/* For tries: r, the result of a call that moves nothing on EAGAIN. */
static inline int gs_fdc_end(struct gs_fdcall *c, ssize_t r, bool block)
{
	if (r < 0 && errno == EAGAIN && !block)
		return GS_FDC_AGAIN;
	c->ret = r;
	return GS_FDC_DONE;
}

/* For tries: r, the result of a write that goes on until total is written
 * (or the program's O_NONBLOCK, or an error after a part: what went). */
static inline int gs_fdc_wrote(struct gs_fdcall *c, ssize_t r, size_t total, bool block)
{
	if (r >= 0) {
		c->done += r;
		if (!block && (size_t)c->done < total && !gs_fd_user_nonblock(c->fd))
			return GS_FDC_RETRY;
		c->ret = c->done;
		return GS_FDC_DONE;
	}
	if (errno == EAGAIN && !block)
		return GS_FDC_AGAIN;
	c->ret = c->done ? c->done : -1;
	return GS_FDC_DONE;
}

/* ---- helpers for tries ---- */

/* Zero-timeout readiness of fd for mode: true ready (or an error the call
 * itself will report), false not yet. Keeps errno. */
GS_HIDDEN bool gs_fd_ready(int fd, int mode);
/* An anonymous-inode fd (eventfd, timerfd, ...) or a socket without
 * MSG_DONTWAIT (accept): the call made with O_NONBLOCK set for its duration,
 * so its own errors come out exactly. Calls with it set on one fd are
 * serialised, else one restores the flags while another is in its call:
 *     int fl = gs_fd_nb_begin(fd); r = call; gs_fd_nb_end(fd, fl);
 * gs_fd_nb_end keeps errno. Held for a non-blocking syscall only. */
GS_HIDDEN int gs_fd_nb_begin(int fd);
GS_HIDDEN void gs_fd_nb_end(int fd, int fl);

#endif
