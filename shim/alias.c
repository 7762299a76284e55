/* shim/alias.c: the other exported names of calls we hook. glibc still exports
 * the old internal names (__read, __connect, _IO_fgets, ...) from its
 * earliest versions, and a program or library linked against
 * them reaches libc's code without passing a hook. No header declares most of
 * them, so today's compilers do not emit them; scripts/abi-check.py (the ABI
 * list, tests/abi/abi.list) wants every alias of a hooked call hooked or
 * proven absent from the headers. Each is the hook of its plain name. */
#include <stdio.h>
#include <sys/select.h>
#include <time.h>
#include <unistd.h>
#include "io.h"

extern char *gets(char *);

#define ALIAS(type, name, params, plain, args)					\
	extern type name params;						\
	GS_EXPORT type name params						\
	{									\
		return plain args;						\
	}

ALIAS(ssize_t, __read, (int fd, void *buf, size_t n), read, (fd, buf, n))
ALIAS(ssize_t, __write, (int fd, const void *buf, size_t n), write, (fd, buf, n))
ALIAS(int, __close, (int fd), close, (fd))
ALIAS(int, __connect, (int fd, const struct sockaddr *addr, socklen_t len), connect, (fd, addr, len))
ALIAS(ssize_t, __send, (int fd, const void *buf, size_t n, int flags), send, (fd, buf, n, flags))
ALIAS(int, __poll, (struct pollfd *fds, nfds_t n, int timeout), poll, (fds, n, timeout))
ALIAS(int, __select, (int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv), select,
      (nfds, rd, wr, ex, tv))
ALIAS(int, __nanosleep, (const struct timespec *req, struct timespec *rem), nanosleep, (req, rem))
ALIAS(int, __sigsuspend, (const sigset_t *set), sigsuspend, (set))
ALIAS(char *, _IO_fgets, (char *s, int n, FILE *f), fgets, (s, n, f))
ALIAS(size_t, _IO_fread, (void *p, size_t size, size_t n, FILE *f), fread, (p, size, n, f))
ALIAS(char *, _IO_gets, (char *s), gets, (s))
ALIAS(FILE *, _IO_fopen, (const char *path, const char *mode), fopen, (path, mode))
ALIAS(int, _IO_fclose, (FILE *f), fclose, (f))
ALIAS(int, __fcntl, (int fd, int cmd, long arg), fcntl, (fd, cmd, arg))
