/* shim/open.c: opens, under every name a compiler emits (open, open64,
 * __open_2, openat, ..., creat, fopen, freopen), and the one case where an
 * open waits: a FIFO opened for reading or writing only, without O_NONBLOCK,
 * waits until the other end is open too (fifo(7)). Natively that blocks the
 * OS thread, and every G pinned to it; here the G waits and its M runs others.
 *
 * How a G waits for the peer, as far as Linux lets one see it:
 *   - a writer opens with O_NONBLOCK, which fails with ENXIO while no reader
 *     has the FIFO open; it looks again after a pause (1 ms, doubling to
 *     50 ms), parked on the timer heap.
 *   - a reader opens with O_NONBLOCK, which always succeeds (and counts it as
 *     a reader, as the blocking open does before it waits). A writer is there
 *     once the FIFO has data or a hangup (a writer came and went) to poll, or
 *     when tee(2) of one byte into a scratch pipe says EAGAIN (writers, no
 *     data) rather than 0 (no writer). The G waits in the netpoller, so data
 *     or a hangup wakes it at once; a writer that opens and writes nothing is
 *     seen at the next look.
 * Then O_NONBLOCK is cleared again: the file description is new and nobody
 * else's, so the program finds exactly the flags it asked for. A signal ends
 * the wait with EINTR, or the open goes on after an SA_RESTART handler, as
 * the kernel does; open is a cancellation point.
 *
 * What is a FIFO is decided by fstatat(2) of the path before the open (one
 * more system call on a blocking open by a G). Everything else (regular
 * files, ttys, O_RDWR, O_NONBLOCK, O_PATH, callers that are not Gs) goes to
 * libc's open as it is. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include "io.h"

#define PAUSE_FIRST 1000000ull		/* ns */
#define PAUSE_MAX 50000000ull

/* Whether this open may wait for a FIFO's peer: flags ask to, and path is one. */
static bool may_wait(struct g *g, int dir, const char *path, int flags)
{
	if (!g || (flags & (O_NONBLOCK | O_PATH | O_DIRECTORY)) || (flags & O_ACCMODE) == O_RDWR ||
	    (flags & __O_TMPFILE) == __O_TMPFILE || (flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL))
		return false;
	struct stat st;
	int saved = errno;
	bool fifo = fstatat(dir, path, &st, (flags & O_NOFOLLOW) ? AT_SYMLINK_NOFOLLOW : 0) == 0 &&
		    S_ISFIFO(st.st_mode);
	errno = saved;
	return fifo;
}

/* A reader's FIFO fd (O_NONBLOCK): whether a writer has it open or had it. */
static bool writer_seen(int fd)
{
	struct pollfd p = { fd, POLLIN, 0 };
	if (REAL(poll)(&p, 1, 0) != 0)
		return true;	/* data, or a writer came and went (POLLHUP), or an error */
	int sp[2];
	if (REAL(pipe2)(sp, O_NONBLOCK | O_CLOEXEC) != 0)
		return true;	/* cannot tell: as if it had come */
	ssize_t r = tee(fd, sp[1], 1, SPLICE_F_NONBLOCK);
	int e = errno;
	REAL(close)(sp[0]);
	REAL(close)(sp[1]);
	return !(r == 0 || (r < 0 && e != EAGAIN));
}

/* After a wait that a signal ended: 0 go on (SA_RESTART), -1 with EINTR. */
static int interrupted(struct g *g)
{
	gs_testcancel(g);
	if (g->intr_restart) {
		g->intr_restart = 0;
		return 0;
	}
	errno = EINTR;
	return -1;
}

static int open_fifo(struct g *g, int dir, const char *path, int flags, mode_t mode)
{
	gs_testcancel(g);
	int e0 = errno;	/* a hook leaves errno alone unless it fails */
	uint64_t pause = PAUSE_FIRST;
	int fd;
	while ((fd = REAL(openat)(dir, path, flags | O_NONBLOCK, mode)) < 0) {
		if (errno != ENXIO || (flags & O_ACCMODE) != O_WRONLY || !may_wait(g, dir, path, flags))
			return -1;	/* (ENXIO from what is no FIFO any more: a device without a driver) */
		if (gs_sleep_until_intr(gs_nanotime() + pause, GS_INTR_NORESTART) == -EINTR &&
		    interrupted(g) < 0)
			return -1;
		pause = pause * 2 < PAUSE_MAX ? pause * 2 : PAUSE_MAX;
	}
	if ((flags & O_ACCMODE) == O_RDONLY) {
		for (;;) {
			struct gs_np_snap snap = gs_np_snap(fd, NP_READ);
			if (writer_seen(fd))
				break;
			/* fd is not the program's yet: a wait that never moves to a ghost */
			struct gs_np_item it = { fd, NP_READ, snap, false };
			int r = gs_np_wait_many(&it, 1, gs_nanotime() + pause, GS_INTR_NORESTART);
			if (r == -EINTR && interrupted(g) < 0) {
				gs_np_close(fd);
				REAL(close)(fd);
				errno = EINTR;
				return -1;
			}
			if (r == -ETIMEDOUT)
				pause = pause * 2 < PAUSE_MAX ? pause * 2 : PAUSE_MAX;
			else if (r != 0 && r != -EINTR)
				break;	/* cannot wait here: the program's read will */
		}
	}
	int fl = REAL(fcntl)(fd, F_GETFL);
	if (fl >= 0)
		REAL(fcntl)(fd, F_SETFL, fl & ~O_NONBLOCK);
	errno = e0;
	gs_fd_made(fd, 0, 0);
	return fd;
}

static int do_open(int dir, const char *path, int flags, mode_t mode)
{
	struct g *g = gs_self();
	if (may_wait(g, dir, path, flags))
		return open_fifo(g, dir, path, flags, mode);
	return gs_fd_made(REAL(openat)(dir, path, flags, mode), 0, !!(flags & O_NONBLOCK));
}

#define MODE_ARG(flags) ({							\
	mode_t m_ = 0;								\
	if ((flags) & (O_CREAT | __O_TMPFILE)) {				\
		va_list ap;							\
		va_start(ap, flags);						\
		m_ = va_arg(ap, mode_t);					\
		va_end(ap);							\
	}									\
	m_; })

GS_EXPORT int open(const char *path, int flags, ...)
{
	return do_open(AT_FDCWD, path, flags, MODE_ARG(flags));
}

GS_EXPORT int open64(const char *path, int flags, ...)
{
	return do_open(AT_FDCWD, path, flags, MODE_ARG(flags));
}

/* glibc's old exported names of open. */
GS_EXPORT int __open(const char *path, int flags, ...)
{
	return do_open(AT_FDCWD, path, flags, MODE_ARG(flags));
}

GS_EXPORT int __open64(const char *path, int flags, ...)
{
	return do_open(AT_FDCWD, path, flags, MODE_ARG(flags));
}

GS_EXPORT int openat(int dir, const char *path, int flags, ...)
{
	return do_open(dir, path, flags, MODE_ARG(flags));
}

GS_EXPORT int openat64(int dir, const char *path, int flags, ...)
{
	return do_open(dir, path, flags, MODE_ARG(flags));
}

GS_EXPORT int creat(const char *path, mode_t mode)
{
	return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

GS_EXPORT int creat64(const char *path, mode_t mode)
{
	return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, mode);
}

/* The fortified opens (-D_FORTIFY_SOURCE, when the flags are not constant):
 * a mode is required with O_CREAT or O_TMPFILE, and glibc's own form aborts
 * the program with its own message when it is missing. */
extern int __open_2(const char *path, int flags);
extern int __open64_2(const char *path, int flags);
extern int __openat_2(int dir, const char *path, int flags);
extern int __openat64_2(int dir, const char *path, int flags);

#define NEEDS_MODE(flags) (((flags) & O_CREAT) || ((flags) & __O_TMPFILE) == __O_TMPFILE)

GS_EXPORT int __open_2(const char *path, int flags)
{
	return NEEDS_MODE(flags) ? REAL(__open_2)(path, flags) : do_open(AT_FDCWD, path, flags, 0);
}

GS_EXPORT int __open64_2(const char *path, int flags)
{
	return NEEDS_MODE(flags) ? REAL(__open64_2)(path, flags) : do_open(AT_FDCWD, path, flags, 0);
}

GS_EXPORT int __openat_2(int dir, const char *path, int flags)
{
	return NEEDS_MODE(flags) ? REAL(__openat_2)(dir, path, flags) : do_open(dir, path, flags, 0);
}

GS_EXPORT int __openat64_2(int dir, const char *path, int flags)
{
	return NEEDS_MODE(flags) ? REAL(__openat64_2)(dir, path, flags) : do_open(dir, path, flags, 0);
}

/* ---- stdio: fopen and freopen open inside libc, where no hook sees it ---- */

/* The open flags of a stdio mode that may wait on a FIFO, or -1 for modes
 * libc had better handle itself ("r+", "wx", ",ccs="). */
static int fifo_mode_flags(const char *mode)
{
	int flags;
	switch (mode[0]) {
	case 'r': flags = O_RDONLY; break;
	case 'w': flags = O_WRONLY | O_CREAT | O_TRUNC; break;
	case 'a': flags = O_WRONLY | O_CREAT | O_APPEND; break;
	default: return -1;
	}
	for (const char *c = mode + 1; *c && *c != ','; c++) {
		if (*c == '+' || *c == 'x')
			return -1;
		if (*c == 'e')
			flags |= O_CLOEXEC;
	}
	return strchr(mode, ',') ? -1 : flags;
}

static FILE *fopen_fifo(struct g *g, const char *path, const char *mode)
{
	int flags = fifo_mode_flags(mode);
	if (flags < 0 || !may_wait(g, AT_FDCWD, path, flags))
		return REAL(fopen)(path, mode);
	int fd = open_fifo(g, AT_FDCWD, path, flags, 0666);
	if (fd < 0)
		return NULL;
	FILE *f = fdopen(fd, mode);
	if (!f) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

GS_EXPORT FILE *fopen(const char *path, const char *mode)
{
	return fopen_fifo(gs_self(), path, mode);
}

GS_EXPORT FILE *fopen64(const char *path, const char *mode)
{
	return fopen_fifo(gs_self(), path, mode);
}

/* freopen keeps the FILE (stdin, often). The FIFO is opened here; libc then
 * reopens the stream on /dev/null, and the FIFO's fd is moved onto the
 * stream's number, so the stream's number is the one libc chose. */
static FILE *freopen_fifo(const char *path, const char *mode, FILE *f)
{
	struct g *g = gs_self();
	int flags = path ? fifo_mode_flags(mode) : -1;
	if (flags < 0 || !may_wait(g, AT_FDCWD, path, flags))
		return REAL(freopen)(path, mode, f);
	int fd = open_fifo(g, AT_FDCWD, path, flags, 0666);
	if (fd < 0) {
		/* As libc's freopen when the open fails: the stream is closed (not
		 * freed) and NULL returned. A path that cannot be opened (nor
		 * created: /dev/null is no directory) makes libc do just that. */
		int e = errno;
		REAL(freopen)("/dev/null/goshim", mode, f);
		errno = e;
		return NULL;
	}
	FILE *r = REAL(freopen)("/dev/null", mode, f);
	int e = errno;
	if (r && dup3(fd, fileno(r), flags & O_CLOEXEC) < 0) {
		e = errno;
		fclose(r);
		r = NULL;
	}
	close(fd);
	errno = e;
	return r;
}

GS_EXPORT FILE *freopen(const char *path, const char *mode, FILE *f)
{
	return freopen_fifo(path, mode, f);
}

GS_EXPORT FILE *freopen64(const char *path, const char *mode, FILE *f)
{
	return freopen_fifo(path, mode, f);
}
