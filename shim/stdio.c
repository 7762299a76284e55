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
#include <stdarg.h>
#include <stdio.h>
#include <wchar.h>
#include "io.h"

/* bits/stdio.h makes it a macro at -O2 for constant sizes. */
#undef fread_unlocked

extern int __underflow(FILE *);
extern int _IO_getc(FILE *);
extern char *gets(char *);	/* gone from the headers since C11 */

/* The head of glibc's struct _IO_wide_data (libio.h): a wide stream (_mode > 0)
 * converts from the byte buffer into this one, and reads from it. */
struct wide_head {
	wchar_t *read_ptr, *read_end;
};

/* glibc's FILE._flags bits (libio.h) */
#define NO_READS 0x0004		/* opened for writing only */
#define EOF_SEEN 0x0010		/* end of file is sticky: libc reads no more */
#define ERR_SEEN 0x0020

/* 0: make the call; -1: it fails with errno set (the FILE's error set).
 * The wait for every stdio read here and in fortify.c. */
int gs_stdio_wait(FILE *f)
{
	struct g *g = gs_self();
	if (!g || f->_IO_read_ptr < f->_IO_read_end || (f->_flags & (NO_READS | EOF_SEEN)))
		return 0;	/* not a G, data buffered, or libc answers at once */
	if (f->_mode > 0 && f->_wide_data) {	/* a wide stream: its own buffer first */
		struct wide_head *w = (struct wide_head *)f->_wide_data;
		if (w->read_ptr < w->read_end)
			return 0;
	}
	int fd = f->_fileno;
	if (fd < 0)
		return 0;
	int kind = gs_fd_kind(fd);
	if (kind != GS_FD_SOCKET && kind != GS_FD_FIFO && kind != GS_FD_POLLABLE)
		return 0;
	if (gs_fd_user_nonblock(fd))
		return 0;
	struct gs_fdwait w = { 0 };
	int saved = errno;
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_READ);
		if (gs_fd_ready(fd, NP_READ))
			break;
		int b = gs_fd_block(g, &fd, NP_READ, snap, &w);
		if (fd != f->_fileno) {
			/* Another thread closed the FILE's fd: libc's read would
			 * find the number closed or reused, never the old file
			 * this wait went on with. Fail as that read would (EBADF),
			 * rather than read a new file at that number. */
			gs_np_ghost_drop(g);
			f->_flags |= ERR_SEEN;
			errno = EBADF;
			return -1;
		}
		if (b == GS_FDW_RETURN) {
			if (errno != EINTR) {
				errno = saved;	/* let libc meet the condition itself */
				return 0;
			}
			f->_flags |= ERR_SEEN;
			return -1;
		}
		if (b == GS_FDW_BLOCKING)
			break;
	}
	errno = saved;
	return 0;
}

GS_EXPORT char *fgets(char *s, int n, FILE *f)
{
	return gs_stdio_wait(f) ? NULL : REAL(fgets)(s, n, f);
}

GS_EXPORT ssize_t getdelim(char **line, size_t *n, int delim, FILE *f)
{
	return gs_stdio_wait(f) ? -1 : REAL(getdelim)(line, n, delim, f);
}

GS_EXPORT ssize_t getline(char **line, size_t *n, FILE *f)
{
	return gs_stdio_wait(f) ? -1 : REAL(getline)(line, n, f);
}


GS_EXPORT size_t fread(void *p, size_t size, size_t n, FILE *f)
{
	return gs_stdio_wait(f) ? 0 : REAL(fread)(p, size, n, f);
}

GS_EXPORT int fgetc(FILE *f)
{
	return gs_stdio_wait(f) ? EOF : REAL(fgetc)(f);
}

GS_EXPORT int getc(FILE *f)
{
	return gs_stdio_wait(f) ? EOF : REAL(getc)(f);
}

GS_EXPORT int getchar(void)
{
	return gs_stdio_wait(stdin) ? EOF : REAL(getchar)();
}

/* The names a compiler emits for the calls above: glibc's <stdio.h> makes
 * getline __getdelim under _GNU_SOURCE at -O2, and the getc_unlocked family's
 * inline bodies call __uflow when the buffer is empty (__underflow to peek). */
GS_EXPORT ssize_t __getdelim(char **line, size_t *n, int delim, FILE *f)
{
	return gs_stdio_wait(f) ? -1 : REAL(__getdelim)(line, n, delim, f);
}

GS_EXPORT int __uflow(FILE *f)
{
	return gs_stdio_wait(f) ? EOF : REAL(__uflow)(f);
}

GS_EXPORT int __underflow(FILE *f)
{
	return gs_stdio_wait(f) ? EOF : REAL(__underflow)(f);
}

GS_EXPORT int _IO_getc(FILE *f)
{
	return gs_stdio_wait(f) ? EOF : REAL(_IO_getc)(f);
}

GS_EXPORT char *fgets_unlocked(char *s, int n, FILE *f)
{
	return gs_stdio_wait(f) ? NULL : REAL(fgets_unlocked)(s, n, f);
}

GS_EXPORT size_t fread_unlocked(void *p, size_t size, size_t n, FILE *f)
{
	return gs_stdio_wait(f) ? 0 : REAL(fread_unlocked)(p, size, n, f);
}

GS_EXPORT int fgetc_unlocked(FILE *f)
{
	return gs_stdio_wait(f) ? EOF : REAL(fgetc_unlocked)(f);
}

GS_EXPORT int getc_unlocked(FILE *f)
{
	return gs_stdio_wait(f) ? EOF : REAL(getc_unlocked)(f);
}

GS_EXPORT int getchar_unlocked(void)
{
	return gs_stdio_wait(stdin) ? EOF : REAL(getchar_unlocked)();
}

GS_EXPORT char *gets(char *s)
{
	return gs_stdio_wait(stdin) ? NULL : REAL(gets)(s);
}

GS_EXPORT int getw(FILE *f)
{
	return gs_stdio_wait(f) ? EOF : REAL(getw)(f);
}

/* ---- the scanf family: waits for the first input; a conversion that needs
 * more than what came waits in libc (as fgets does for half a line) ---- */

/* glibc's <stdio.h> renames scanf and friends to their __isoc99_ forms in C99
 * and later: each hook is defined under a C name of its own (gs_NAME) with
 * the symbol as its assembler name. REAL(x) looks x up by the C name's text,
 * so REAL(vfscanf) is libc's plain vfscanf. */
extern int __isoc99_vfscanf(FILE *f, const char *fmt, va_list ap);
extern int __isoc99_vfwscanf(FILE *f, const wchar_t *fmt, va_list ap);
extern int __vfscanf(FILE *f, const char *fmt, va_list ap);

#define SCANF_V(sym, ctype, real_v)						\
	GS_EXPORT int gs_##sym(FILE *f, const ctype *fmt, va_list ap) __asm__(#sym); \
	int gs_##sym(FILE *f, const ctype *fmt, va_list ap)			\
	{									\
		return gs_stdio_wait(f) ? EOF : REAL(real_v)(f, fmt, ap);	\
	}
#define SCANF_STDIN_V(sym, ctype, real_v)					\
	GS_EXPORT int gs_##sym(const ctype *fmt, va_list ap) __asm__(#sym);	\
	int gs_##sym(const ctype *fmt, va_list ap)				\
	{									\
		return gs_stdio_wait(stdin) ? EOF : REAL(real_v)(stdin, fmt, ap); \
	}
#define SCANF_DOTS(sym, ctype, real_v)						\
	GS_EXPORT int gs_##sym(FILE *f, const ctype *fmt, ...) __asm__(#sym);	\
	int gs_##sym(FILE *f, const ctype *fmt, ...)				\
	{									\
		if (gs_stdio_wait(f))						\
			return EOF;						\
		va_list ap;							\
		va_start(ap, fmt);						\
		int r = REAL(real_v)(f, fmt, ap);				\
		va_end(ap);							\
		return r;							\
	}
#define SCANF_STDIN_DOTS(sym, ctype, real_v)					\
	GS_EXPORT int gs_##sym(const ctype *fmt, ...) __asm__(#sym);		\
	int gs_##sym(const ctype *fmt, ...)					\
	{									\
		if (gs_stdio_wait(stdin))					\
			return EOF;						\
		va_list ap;							\
		va_start(ap, fmt);						\
		int r = REAL(real_v)(stdin, fmt, ap);				\
		va_end(ap);							\
		return r;							\
	}

SCANF_V(vfscanf, char, vfscanf)
SCANF_V(__isoc99_vfscanf, char, __isoc99_vfscanf)
SCANF_V(__vfscanf, char, __vfscanf)
SCANF_STDIN_V(vscanf, char, vfscanf)
SCANF_STDIN_V(__isoc99_vscanf, char, __isoc99_vfscanf)
SCANF_DOTS(fscanf, char, vfscanf)
SCANF_DOTS(__isoc99_fscanf, char, __isoc99_vfscanf)
SCANF_STDIN_DOTS(scanf, char, vfscanf)
SCANF_STDIN_DOTS(__isoc99_scanf, char, __isoc99_vfscanf)
SCANF_V(vfwscanf, wchar_t, vfwscanf)
SCANF_V(__isoc99_vfwscanf, wchar_t, __isoc99_vfwscanf)
SCANF_STDIN_V(vwscanf, wchar_t, vfwscanf)
SCANF_STDIN_V(__isoc99_vwscanf, wchar_t, __isoc99_vfwscanf)
SCANF_DOTS(fwscanf, wchar_t, vfwscanf)
SCANF_DOTS(__isoc99_fwscanf, wchar_t, __isoc99_vfwscanf)
SCANF_STDIN_DOTS(wscanf, wchar_t, vfwscanf)
SCANF_STDIN_DOTS(__isoc99_wscanf, wchar_t, __isoc99_vfwscanf)

/* ---- wide-character reads ---- */

extern wint_t __wuflow(FILE *);
extern wint_t __wunderflow(FILE *);
extern wchar_t *__fgetws_chk(wchar_t *s, size_t size, int n, FILE *f);
extern wchar_t *__fgetws_unlocked_chk(wchar_t *s, size_t size, int n, FILE *f);

#define WIDE1(name)								\
	GS_EXPORT wint_t name(FILE *f)						\
	{									\
		return gs_stdio_wait(f) ? WEOF : REAL(name)(f);			\
	}
WIDE1(fgetwc)
WIDE1(getwc)
WIDE1(fgetwc_unlocked)
WIDE1(getwc_unlocked)
WIDE1(__wuflow)
WIDE1(__wunderflow)

GS_EXPORT wint_t getwchar(void)
{
	return gs_stdio_wait(stdin) ? WEOF : REAL(getwchar)();
}

GS_EXPORT wint_t getwchar_unlocked(void)
{
	return gs_stdio_wait(stdin) ? WEOF : REAL(getwchar_unlocked)();
}

GS_EXPORT wchar_t *fgetws(wchar_t *s, int n, FILE *f)
{
	return gs_stdio_wait(f) ? NULL : REAL(fgetws)(s, n, f);
}

GS_EXPORT wchar_t *fgetws_unlocked(wchar_t *s, int n, FILE *f)
{
	return gs_stdio_wait(f) ? NULL : REAL(fgetws_unlocked)(s, n, f);
}

/* glibc checks __fgetws_chk's bound after reading, as __fgets_chk's. */
GS_EXPORT wchar_t *__fgetws_chk(wchar_t *s, size_t size, int n, FILE *f)
{
	return gs_stdio_wait(f) ? NULL : REAL(__fgetws_chk)(s, size, n, f);
}

GS_EXPORT wchar_t *__fgetws_unlocked_chk(wchar_t *s, size_t size, int n, FILE *f)
{
	return gs_stdio_wait(f) ? NULL : REAL(__fgetws_unlocked_chk)(s, size, n, f);
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
