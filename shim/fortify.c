/* shim/fortify.c: the fortified (_FORTIFY_SOURCE) forms of the calls we hook.
 * A program built with -D_FORTIFY_SOURCE=2 (every Debian package) calls
 * __read_chk, __recv_chk, __poll_chk, __fgets_chk, ... instead of read, recv,
 * poll, fgets: glibc's versions check the buffer length and go to libc's
 * internal read, which the shim never sees. Each form here makes glibc's own
 * check first (calling __chk_fail on overflow, as natively, before anything
 * waits), then goes to the hook of the plain call. The stdio forms whose check
 * glibc makes only after reading (__fgets_chk) wait for the fd first and then
 * let glibc's own form read and check. */
#include <stdio.h>
#include <sys/uio.h>
#include "io.h"

extern void __chk_fail(void) __attribute__((noreturn));
/* Declared by glibc's headers only under _FORTIFY_SOURCE. */
extern char *__fgets_chk(char *s, size_t size, int n, FILE *f);
extern char *__fgets_unlocked_chk(char *s, size_t size, int n, FILE *f);
extern size_t __fread_chk(void *p, size_t ptrlen, size_t size, size_t n, FILE *f);
extern size_t __fread_unlocked_chk(void *p, size_t ptrlen, size_t size, size_t n, FILE *f);
extern char *__gets_chk(char *s, size_t size);

GS_EXPORT ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	if (n > buflen)
		__chk_fail();
	return read(fd, buf, n);
}

GS_EXPORT ssize_t __recv_chk(int fd, void *buf, size_t n, size_t buflen, int flags)
{
	if (n > buflen)
		__chk_fail();
	return recv(fd, buf, n, flags);
}

GS_EXPORT ssize_t __recvfrom_chk(int fd, void *buf, size_t n, size_t buflen, int flags,
				 struct sockaddr *from, socklen_t *fromlen)
{
	if (n > buflen)
		__chk_fail();
	return recvfrom(fd, buf, n, flags, from, fromlen);
}

GS_EXPORT int __poll_chk(struct pollfd *fds, nfds_t n, int timeout, size_t fdslen)
{
	if (fdslen / sizeof *fds < n)
		__chk_fail();
	return poll(fds, n, timeout);
}

GS_EXPORT int __ppoll_chk(struct pollfd *fds, nfds_t n, const struct timespec *ts,
			  const sigset_t *mask, size_t fdslen)
{
	if (fdslen / sizeof *fds < n)
		__chk_fail();
	return ppoll(fds, n, ts, mask);
}

/* glibc checks fgets' bound after reading (count >= size): wait, then let it. */
GS_EXPORT char *__fgets_chk(char *s, size_t size, int n, FILE *f)
{
	return gs_stdio_wait(f) ? NULL : REAL(__fgets_chk)(s, size, n, f);
}

GS_EXPORT char *__fgets_unlocked_chk(char *s, size_t size, int n, FILE *f)
{
	return gs_stdio_wait(f) ? NULL : REAL(__fgets_unlocked_chk)(s, size, n, f);
}

/* glibc checks fread's bound before reading: so do we, before waiting. */
static void fread_check(size_t ptrlen, size_t size, size_t n)
{
	size_t bytes = size * n;
	if ((n | size) >= ((size_t)1 << (8 * sizeof(size_t) / 2)) && size != 0 && bytes / size != n)
		__chk_fail();
	if (bytes > ptrlen)
		__chk_fail();
}

GS_EXPORT size_t __fread_chk(void *p, size_t ptrlen, size_t size, size_t n, FILE *f)
{
	fread_check(ptrlen, size, n);
	return gs_stdio_wait(f) ? 0 : REAL(__fread_chk)(p, ptrlen, size, n, f);
}

GS_EXPORT size_t __fread_unlocked_chk(void *p, size_t ptrlen, size_t size, size_t n, FILE *f)
{
	fread_check(ptrlen, size, n);
	return gs_stdio_wait(f) ? 0 : REAL(__fread_unlocked_chk)(p, ptrlen, size, n, f);
}

/* gets is gone from the headers since C11, but old binaries still call it. */
GS_EXPORT char *__gets_chk(char *s, size_t size)
{
	return gs_stdio_wait(stdin) ? NULL : REAL(__gets_chk)(s, size);
}
