/* shim/stdio.c: stdio reads from pipes, ttys and sockets. stdio reads through
 * libc's own read, which the shim does not see, so a G calling fgets on an
 * empty pipe would block its OS thread and every G pinned to it (the first
 * limit in the README). When the FILE's buffer is empty and its fd can be
 * polled, the G first waits in the netpoller for the fd to become readable,
 * then makes the call, which then finds data. A call that needs more than
 * what arrived (half a line, more bytes than were written) still waits in
 * libc, as before; regular files, and FILEs with buffered data, go straight
 * to libc. A signal that ends the wait without SA_RESTART ends the call as it
 * ends libc's read: error indicator set, errno EINTR.
 *
 * fclose and pclose (shim/wait.c) close their fd inside libc: the netpoller
 * forgets the number first (as for close), or a pipe popen makes later at
 * that number would be taken for the old one, already registered. */
#include <stdio.h>
#include "io.h"

/* glibc's FILE._flags bits (libio.h) */
#define NO_READS 0x0004		/* opened for writing only */
#define EOF_SEEN 0x0010		/* end of file is sticky: libc reads no more */
#define ERR_SEEN 0x0020

/* 0: make the call; -1: it fails with errno set (the FILE's error set). */
static int wait_readable(FILE *f)
{
	struct g *g = gs_self();
	if (!g || f->_IO_read_ptr < f->_IO_read_end || (f->_flags & (NO_READS | EOF_SEEN)))
		return 0;	/* not a G, data buffered, or libc answers at once */
	int fd = f->_fileno;
	if (fd < 0)
		return 0;
	int kind = gs_fd_kind(fd);
	if (kind != GS_FD_SOCKET && kind != GS_FD_FIFO && kind != GS_FD_POLLABLE)
		return 0;
	if (gs_fd_user_nonblock(fd))
		return 0;
	struct io_wait w = { 0 };
	int saved = errno;
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_READ);
		if (io_ready(fd, NP_READ))
			break;
		int b = io_block(g, fd, NP_READ, snap, &w);
		if (b == IO_RETURN) {
			if (errno != EINTR) {
				errno = saved;	/* let libc meet the condition itself */
				return 0;
			}
			f->_flags |= ERR_SEEN;
			return -1;
		}
		if (b == IO_BLOCKING)
			break;
	}
	errno = saved;
	return 0;
}

GS_EXPORT char *fgets(char *s, int n, FILE *f)
{
	return wait_readable(f) ? NULL : REAL(fgets)(s, n, f);
}

GS_EXPORT ssize_t getdelim(char **line, size_t *n, int delim, FILE *f)
{
	return wait_readable(f) ? -1 : REAL(getdelim)(line, n, delim, f);
}

GS_EXPORT ssize_t getline(char **line, size_t *n, FILE *f)
{
	return wait_readable(f) ? -1 : REAL(getline)(line, n, f);
}

GS_EXPORT size_t fread(void *p, size_t size, size_t n, FILE *f)
{
	return wait_readable(f) ? 0 : REAL(fread)(p, size, n, f);
}

GS_EXPORT int fgetc(FILE *f)
{
	return wait_readable(f) ? EOF : REAL(fgetc)(f);
}

GS_EXPORT int getc(FILE *f)
{
	return wait_readable(f) ? EOF : REAL(getc)(f);
}

GS_EXPORT int getchar(void)
{
	return wait_readable(stdin) ? EOF : REAL(getchar)();
}

/* Before libc closes the FILE's fd. */
static void forget(FILE *f)
{
	if (f && f->_fileno >= 0)
		gs_np_close(f->_fileno);
}

GS_EXPORT int fclose(FILE *f)
{
	forget(f);
	return REAL(fclose)(f);
}
