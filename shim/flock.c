/* shim/flock.c: file locks (flock, lockf, fcntl F_SETLKW and F_OFD_SETLKW).
 *
 * A lock that is free is taken at once with the non-blocking form (LOCK_NB,
 * F_TLOCK, F_SETLK, F_OFD_SETLK). If another holder has it, the blocking call
 * runs on a helper thread (sched/offload.c) while the G waits, as getaddrinfo
 * does: the lock belongs to the open file description (flock, OFD locks) or
 * to the process (POSIX record locks, lockf), never to the thread, so the
 * helper takes it for the program exactly as the caller would have; deadlock
 * detection (EDEADLK) sees the same process.
 *
 * Difference from native (README "Limits"): the wait cannot be interrupted.
 * A signal handler for the waiting thread runs when the lock is taken (or the
 * call fails), and the call does not end with EINTR: a program that bounds a
 * lock wait with alarm() waits for the lock. (Ending the helper's call would
 * need a signal of our own without SA_RESTART; and a lock taken after the G
 * gave up could not be undone without dropping locks the process held
 * before.) */
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include "io.h"

struct lock_job {
	struct gs_offload job;
	int fd, cmd, op;
	void *arg;
	off_t len;
	int kind;		/* 0 fcntl, 1 flock, 2 lockf */
	int ret;
};

static void run_lock(struct gs_offload *j)
{
	struct lock_job *a = (struct lock_job *)j;
	if (a->kind == 0)
		a->ret = REAL(fcntl)(a->fd, a->cmd, a->arg);
	else if (a->kind == 1)
		a->ret = REAL(flock)(a->fd, a->op);
	else
		a->ret = REAL(lockf)(a->fd, a->cmd, a->len);
}

static int offload_lock(struct g *g, struct lock_job *a, const char *why)
{
	a->job.fn = run_lock;
	a->job.unbounded = true;
	gs_offload(&a->job, why);
	gs_testcancel(g);
	return a->ret;
}

static bool busy(int e)
{
	return e == EAGAIN || e == EACCES || e == EWOULDBLOCK;
}

/* fcntl's F_SETLKW and F_OFD_SETLKW (shim/net.c's fcntl calls it). */
int gs_fcntl_lockw(int fd, int cmd, void *arg)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(fcntl)(fd, cmd, arg);
	gs_testcancel(g);
	int e0 = errno;
	int r = REAL(fcntl)(fd, cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK, arg);
	if (r == 0 || !busy(errno))
		return r;
	errno = e0;
	struct lock_job a = { .fd = fd, .cmd = cmd, .arg = arg, .kind = 0 };
	return offload_lock(g, &a, "fcntl lock");
}

GS_EXPORT int flock(int fd, int op)
{
	struct g *g = gs_self();
	if (!g || (op & LOCK_NB) || (op & ~LOCK_NB) == LOCK_UN)
		return REAL(flock)(fd, op);
	int e0 = errno;
	int r = REAL(flock)(fd, op | LOCK_NB);
	if (r == 0 || errno != EWOULDBLOCK)
		return r;
	errno = e0;
	struct lock_job a = { .fd = fd, .op = op, .kind = 1 };
	return offload_lock(g, &a, "flock");
}

GS_EXPORT int lockf(int fd, int cmd, off_t len)
{
	struct g *g = gs_self();
	if (!g || cmd != F_LOCK)
		return REAL(lockf)(fd, cmd, len);
	gs_testcancel(g);
	int e0 = errno;
	int r = REAL(lockf)(fd, F_TLOCK, len);
	if (r == 0 || !busy(errno))
		return r;
	errno = e0;
	struct lock_job a = { .fd = fd, .cmd = cmd, .len = len, .kind = 2 };
	return offload_lock(g, &a, "lockf");
}

/* The same function under _FILE_OFFSET_BITS=64 (off_t is 64 bits here). */
GS_EXPORT int lockf64(int fd, int cmd, off_t len)
{
	return lockf(fd, cmd, len);
}
