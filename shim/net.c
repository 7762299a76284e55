/* shim/net.c: calls that make, connect, change or close fds (DESIGN.md §2.4,
 * §2.5). The netpoller's per-fd facts (kind, the program's O_NONBLOCK, socket
 * timeouts) are reset whenever a number is closed or made, and forgotten for
 * all fds when the program changes flags or timeouts (a dup shares them). */
#include <stdarg.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "io.h"

/* fd was just made (kind and the program's O_NONBLOCK if known, 0 / -1 if
 * not): the netpoller forgets what it knew of the number. */
int gs_fd_made(int fd, int kind, int nonblock)
{
	if (fd >= 0) {
		gs_np_close(fd);	/* a new file at this number */
		if (kind)
			gs_fd_set_kind(fd, kind);
		if (nonblock >= 0)
			gs_fd_set_nonblock(fd, nonblock);
	}
	return fd;
}

GS_EXPORT int socket(int domain, int type, int proto)
{
	return gs_fd_made(REAL(socket)(domain, type, proto), GS_FD_SOCKET, !!(type & SOCK_NONBLOCK));
}

GS_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
	int r = REAL(socketpair)(domain, type, proto, sv);
	if (r == 0) {
		gs_fd_made(sv[0], GS_FD_SOCKET, !!(type & SOCK_NONBLOCK));
		gs_fd_made(sv[1], GS_FD_SOCKET, !!(type & SOCK_NONBLOCK));
	}
	return r;
}

GS_EXPORT int pipe2(int fds[2], int flags)
{
	int r = REAL(pipe2)(fds, flags);
	if (r == 0) {
		gs_fd_made(fds[0], GS_FD_FIFO, !!(flags & O_NONBLOCK));
		gs_fd_made(fds[1], GS_FD_FIFO, !!(flags & O_NONBLOCK));
	}
	return r;
}

GS_EXPORT int pipe(int fds[2])
{
	return pipe2(fds, 0);
}

GS_EXPORT int dup(int fd)
{
	return gs_fd_made(REAL(dup)(fd), 0, -1);
}

/* dup2/dup3 of fd onto to, before the real call: -1 (EBADF) if fd is not
 * open as far as the program knows; else to is closed as the kernel will close
 * it (its waiters go on with its file). */
static int dup_onto(int fd, int to)
{
	if (gs_np_backend_owns(fd) || gs_np_is_ghost(fd)) {
		errno = EBADF;
		return -1;
	}
	if (gs_np_backend_owns(to))
		gs_np_backend_evict(to);
	if (fd != to)
		gs_np_close_waited(to);
	return 0;
}

GS_EXPORT int dup2(int fd, int to)
{
	if (dup_onto(fd, to))
		return -1;
	return gs_fd_made(REAL(dup2)(fd, to), 0, -1);
}

GS_EXPORT int dup3(int fd, int to, int flags)
{
	if (dup_onto(fd, to))
		return -1;
	return gs_fd_made(REAL(dup3)(fd, to, flags), 0, -1);
}

/* Gs waiting on fd go on with its open file (a duplicate of ours), as
 * natively; the number is free at once. */
GS_EXPORT int close(int fd)
{
	if (gs_np_backend_owns(fd) || gs_np_is_ghost(fd)) {	/* not open as far as the program knows */
		errno = EBADF;
		return -1;
	}
	gs_np_close_waited(fd);
	return REAL(close)(fd);
}

GS_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	if (cmd == F_SETFL)
		gs_fd_invalidate_all();
	if (cmd == F_SETLKW || cmd == F_OFD_SETLKW)	/* a lock held by another: shim/flock.c */
		return gs_fcntl_lockw(fd, cmd, (void *)arg);
	int r = REAL(fcntl)(fd, cmd, arg);
	if (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC)
		gs_fd_made(r, 0, -1);
	return r;
}

GS_EXPORT int ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	va_start(ap, req);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	if (req == FIONBIO)
		gs_fd_invalidate_all();
	return REAL(ioctl)(fd, req, arg);
}

GS_EXPORT int setsockopt(int fd, int level, int name, const void *val, socklen_t len)
{
	if (level == SOL_SOCKET && (name == SO_RCVTIMEO || name == SO_SNDTIMEO))
		gs_fd_invalidate_all();
	return REAL(setsockopt)(fd, level, name, val, len);
}

/* shutdown wakes the fd's waiters (natively the kernel does; they retry). */
GS_EXPORT int shutdown(int fd, int how)
{
	int r = REAL(shutdown)(fd, how);
	int saved = errno;
	gs_np_kick(fd);
	errno = saved;
	return r;
}

/* accept has no MSG_DONTWAIT: each attempt is made with O_NONBLOCK set for
 * that one call (as connect's start is), so an acceptor that loses the race
 * for a connection to another parks instead of blocking its OS thread. */
struct accept_call {
	struct gs_fdcall c;
	struct sockaddr *addr;
	socklen_t *len;
	int flags;
};

static int try_accept(struct gs_fdcall *c, bool block)
{
	struct accept_call *a = (struct accept_call *)c;
	if (block)
		return gs_fdc_end(c, REAL(accept4)(c->fd, a->addr, a->len, a->flags), block);
	int fl = gs_fd_nb_begin(c->fd);
	int r = REAL(accept4)(c->fd, a->addr, a->len, a->flags);
	gs_fd_nb_end(c->fd, fl);
	return gs_fdc_end(c, r, block);
}

IO_HOOK(int, accept4, (int fd, struct sockaddr *addr, socklen_t *len, int flags), (fd, addr, len, flags))
{
	struct g *g = gs_self();
	if (!g || gs_fd_kind(fd) != GS_FD_SOCKET || (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)))
		return gs_fd_made(REAL(accept4)(fd, addr, len, flags), GS_FD_SOCKET, !!(flags & SOCK_NONBLOCK));
	gs_testcancel(g);
	struct accept_call a = {
		.c = { .fd = fd, .mode = NP_READ, .kind = GS_FD_SOCKET, .w.sock = true, .try = try_accept },
		.addr = addr, .len = len, .flags = flags,
	};
	return gs_fd_made((int)gs_fd_call(g, &a.c), GS_FD_SOCKET, !!(flags & SOCK_NONBLOCK));
}

GS_EXPORT int accept(int fd, struct sockaddr *addr, socklen_t *len)
{
	return accept4(fd, addr, len, 0);
}

/* A blocking connect is started non-blocking (O_NONBLOCK set only for the
 * call itself) and completed by waiting for writability, then SO_ERROR. */
struct connect_call {
	struct gs_fdcall c;
	const struct sockaddr *addr;
	socklen_t len;
};

static int try_connect_done(struct gs_fdcall *c, bool block)
{
	struct connect_call *a = (struct connect_call *)c;
	if (block) {	/* cannot be polled by the runtime: by the M */
		struct pollfd p = { c->fd, POLLOUT, 0 };
		REAL(poll)(&p, 1, -1);
	}
	if (!gs_fd_ready(c->fd, NP_WRITE)) {
		errno = EAGAIN;
		return GS_FDC_AGAIN;
	}
	int err = 0;
	socklen_t l = sizeof err;
	c->ret = -1;
	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l) != 0)
		return GS_FDC_DONE;
	if (err) {
		errno = err;
		return GS_FDC_DONE;
	}
	/* Linux answers the first connect after completion with 0; take that
	 * one, so the program's next connect is EISCONN. */
	int saved = errno;
	REAL(connect)(c->fd, a->addr, a->len);
	errno = saved;
	c->ret = 0;
	return GS_FDC_DONE;
}

IO_HOOK(int, connect, (int fd, const struct sockaddr *addr, socklen_t len), (fd, addr, len))
{
	struct g *g = gs_self();
	if (!g)
		return REAL(connect)(fd, addr, len);
	gs_testcancel(g);
	int fl = REAL(fcntl)(fd, F_GETFL);
	if (fl < 0 || (fl & O_NONBLOCK))
		return REAL(connect)(fd, addr, len);
	REAL(fcntl)(fd, F_SETFL, fl | O_NONBLOCK);
	int r = REAL(connect)(fd, addr, len);
	int saved = errno;
	REAL(fcntl)(fd, F_SETFL, fl);
	errno = saved;
	if (r == 0 || errno != EINPROGRESS)
		return r;
	/* SO_SNDTIMEO expiring gives EINPROGRESS, as natively. */
	struct connect_call a = {
		.c = { .fd = fd, .mode = NP_WRITE, .kind = GS_FD_SOCKET, .try = try_connect_done,
		       .w = { .sock = true, .intr = GS_INTR_ALWAYS, .again_errno = EINPROGRESS } },
		.addr = addr, .len = len,
	};
	return (int)gs_fd_call(g, &a.c);
}

/* glibc's headers name fcntl fcntl64 under _FILE_OFFSET_BITS=64. */
GS_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	unsigned long arg = va_arg(ap, unsigned long);
	va_end(ap);
	return fcntl(fd, cmd, arg);
}
