/* shim/splice.c: splice, tee and vmsplice, which move data between pipes and
 * other fds in the kernel and wait like read and write do: for the input to
 * have data, for the output to have room.
 *
 * A G's call waits in the netpoller for the side that is not ready (input
 * first), then makes the call with SPLICE_F_NONBLOCK added, which keeps the
 * pipe sides from blocking; a socket input is asked for at most what it holds
 * (FIONREAD), so the kernel does not wait for more; a socket output is given
 * at most 64 KiB a call, as sendfile's hook does (a blocking socket that
 * takes less than that may still hold the OS thread for a while: sysmon
 * hands its P on). SPLICE_F_NONBLOCK from the caller, regular files on both
 * sides, and callers that are not Gs go straight to the kernel. The program's
 * O_NONBLOCK on the side waited for gives EAGAIN as natively; a handler
 * without SA_RESTART ends the wait with EINTR. */
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include "io.h"

struct sp {
	int in, out;			/* fds that may wait (-1: none) */
	int kin, kout;			/* their GS_FD_* */
	ssize_t (*call)(struct sp *s, size_t cap);	/* with SPLICE_F_NONBLOCK */
	ssize_t (*blocking)(struct sp *s);		/* the caller's own call */
	int fin, fout;			/* splice/tee arguments */
	loff_t *offin, *offout;
	size_t len;
	unsigned flags;
	const struct iovec *iov;
	unsigned long nr;
};

static ssize_t wait_loop(struct g *g, struct sp *s)
{
	gs_testcancel(g);
	struct gs_fdwait wi = { .sock = s->kin == GS_FD_SOCKET };
	struct gs_fdwait wo = { .sock = s->kout == GS_FD_SOCKET };
	for (;;) {
		struct gs_np_snap si = { 0 }, so = { 0 };
		if (s->in >= 0)
			si = gs_np_snap(s->in, NP_READ);
		if (s->out >= 0)
			so = gs_np_snap(s->out, NP_WRITE);
		bool win = s->in >= 0 && !gs_fd_ready(s->in, NP_READ);
		bool wout = !win && s->out >= 0 && !gs_fd_ready(s->out, NP_WRITE);
		if (!win && !wout) {
			size_t cap = s->len;
			if (s->kin == GS_FD_SOCKET) {
				int avail = 0, saved = errno;
				if (REAL(ioctl)(s->in, FIONREAD, &avail) == 0 && avail > 0 &&
				    (size_t)avail < cap)
					cap = (size_t)avail;
				errno = saved;
			}
			if (s->kout == GS_FD_SOCKET && cap > 65536)
				cap = 65536;
			ssize_t r = s->call(s, cap);
			if (r >= 0 || errno != EAGAIN)
				return r;
			win = s->in >= 0;	/* both looked ready: wait for news */
			wout = !win;
		}
		int *side = win ? &s->in : &s->out, fd = *side;
		int b = win ? gs_fd_block(g, side, NP_READ, si, &wi) : gs_fd_block(g, side, NP_WRITE, so, &wo);
		if (*side != fd) {	/* closed meanwhile: go on with the same file */
			if (s->fin == fd)
				s->fin = *side;
			if (s->fout == fd)
				s->fout = *side;
		}
		if (b == GS_FDW_RETURN)
			return -1;
		if (b == GS_FDW_BLOCKING)
			return s->blocking(s);
	}
}

/* The fd as a side that may wait, or -1 (a regular file, or not an fd). */
static int side(int fd, int *kind)
{
	*kind = fd >= 0 ? gs_fd_kind(fd) : GS_FD_FILE;
	return *kind == GS_FD_FILE ? -1 : fd;
}

static ssize_t call_splice(struct sp *s, size_t cap)
{
	return REAL(splice)(s->fin, s->offin, s->fout, s->offout, cap, s->flags | SPLICE_F_NONBLOCK);
}

static ssize_t block_splice(struct sp *s)
{
	return REAL(splice)(s->fin, s->offin, s->fout, s->offout, s->len, s->flags);
}

IO_HOOK(ssize_t, splice, (int in, loff_t *offin, int out, loff_t *offout, size_t len, unsigned flags),
	(in, offin, out, offout, len, flags))
{
	struct g *g = gs_self();
	if (!g || (flags & SPLICE_F_NONBLOCK) || len == 0)
		return REAL(splice)(in, offin, out, offout, len, flags);
	struct sp s = { .fin = in, .fout = out, .offin = offin, .offout = offout, .len = len,
			.flags = flags, .call = call_splice, .blocking = block_splice };
	s.in = side(in, &s.kin);
	s.out = side(out, &s.kout);
	if (s.in < 0 && s.out < 0)
		return REAL(splice)(in, offin, out, offout, len, flags);
	return wait_loop(g, &s);
}

static ssize_t call_tee(struct sp *s, size_t cap)
{
	return REAL(tee)(s->fin, s->fout, cap, s->flags | SPLICE_F_NONBLOCK);
}

static ssize_t block_tee(struct sp *s)
{
	return REAL(tee)(s->fin, s->fout, s->len, s->flags);
}

IO_HOOK(ssize_t, tee, (int in, int out, size_t len, unsigned flags), (in, out, len, flags))
{
	struct g *g = gs_self();
	if (!g || (flags & SPLICE_F_NONBLOCK) || len == 0)
		return REAL(tee)(in, out, len, flags);
	struct sp s = { .fin = in, .fout = out, .len = len, .flags = flags, .call = call_tee,
			.blocking = block_tee };
	s.in = side(in, &s.kin);
	s.out = side(out, &s.kout);
	return wait_loop(g, &s);
}

static ssize_t call_vmsplice(struct sp *s, size_t cap)
{
	(void)cap;
	return REAL(vmsplice)(s->fin, s->iov, s->nr, s->flags | SPLICE_F_NONBLOCK);
}

static ssize_t block_vmsplice(struct sp *s)
{
	return REAL(vmsplice)(s->fin, s->iov, s->nr, s->flags);
}

/* vmsplice into a pipe's write end waits for room, from its read end for data. */
IO_HOOK(ssize_t, vmsplice, (int fd, const struct iovec *iov, unsigned long nr, unsigned flags),
	(fd, iov, nr, flags))
{
	struct g *g = gs_self();
	if (!g || (flags & SPLICE_F_NONBLOCK))
		return REAL(vmsplice)(fd, iov, nr, flags);
	int saved = errno;
	int fl = REAL(fcntl)(fd, F_GETFL);
	errno = saved;
	if (fl < 0)
		return REAL(vmsplice)(fd, iov, nr, flags);
	struct sp s = { .fin = fd, .iov = iov, .nr = nr, .flags = flags, .len = SIZE_MAX,
			.call = call_vmsplice, .blocking = block_vmsplice, .in = -1, .out = -1,
			.kin = GS_FD_FILE, .kout = GS_FD_FILE };
	if ((fl & O_ACCMODE) == O_RDONLY)
		s.in = side(fd, &s.kin);
	else
		s.out = side(fd, &s.kout);
	if (s.in < 0 && s.out < 0)
		return REAL(vmsplice)(fd, iov, nr, flags);
	return wait_loop(g, &s);
}
