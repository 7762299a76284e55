/* shim/io.c: read, write and the socket send/receive family (DESIGN.md §2.4).
 * Each is a cancellation point; each waits through the runtime's engine
 * (sched/fdwait.h): a hook here says how to try its call once. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "io.h"

/* ---- reading ---- */

/* read and readv: one iovec form. A socket is tried with recvmsg(MSG_DONTWAIT),
 * an eventfd-like fd with O_NONBLOCK for the call, other fds after a
 * zero-timeout poll. */
static ssize_t real_readv(int fd, const struct iovec *iov, int cnt)
{
	return cnt == 1 ? REAL(read)(fd, iov[0].iov_base, iov[0].iov_len) : REAL(readv)(fd, iov, cnt);
}

struct readv_call {
	struct gs_fdcall c;
	const struct iovec *iov;
	int cnt;
};

static int try_readv(struct gs_fdcall *c, bool block)
{
	struct readv_call *a = (struct readv_call *)c;
	ssize_t r;
	if (block) {
		r = real_readv(c->fd, a->iov, a->cnt);
	} else if (c->kind == GS_FD_SOCKET) {
		struct msghdr mh = { .msg_iov = (struct iovec *)a->iov, .msg_iovlen = (size_t)a->cnt };
		r = a->cnt == 1 ? REAL(recv)(c->fd, a->iov[0].iov_base, a->iov[0].iov_len, MSG_DONTWAIT) :
				  REAL(recvmsg)(c->fd, &mh, MSG_DONTWAIT);
		if (r < 0 && errno == ENOTSOCK) {
			gs_fd_set_kind(c->fd, c->kind = GS_FD_POLLABLE);
			c->anyway = false;
			return GS_FDC_RETRY;
		}
	} else if (c->kind == GS_FD_ANON) {
		int fl = gs_fd_nb_begin(c->fd);
		r = real_readv(c->fd, a->iov, a->cnt);
		gs_fd_nb_end(c->fd, fl);
	} else if (gs_fd_ready(c->fd, NP_READ) || gs_fd_user_nonblock(c->fd)) {
		r = real_readv(c->fd, a->iov, a->cnt);
	} else {
		errno = EAGAIN;
		return GS_FDC_AGAIN;
	}
	return gs_fdc_end(c, r, block);
}

static ssize_t read_iov(int fd, const struct iovec *iov, int cnt)
{
	struct g *g = gs_self();
	if (!g || cnt < 0 || cnt > IOV_MAX)	/* readv's own EINVAL */
		return real_readv(fd, iov, cnt);
	gs_testcancel(g);
	int kind = gs_fd_kind(fd);
	if (kind == GS_FD_FILE)
		return real_readv(fd, iov, cnt);
	struct readv_call a = {
		.c = { .fd = fd, .mode = NP_READ, .kind = kind, .anyway = kind == GS_FD_SOCKET,
		       .w.sock = kind == GS_FD_SOCKET, .try = try_readv },
		.iov = iov, .cnt = cnt,
	};
	return gs_fd_call(g, &a.c);
}

IO_HOOK(ssize_t, read, (int fd, void *buf, size_t n), (fd, buf, n))
{
	struct iovec v = { buf, n };
	return read_iov(fd, &v, 1);
}

IO_HOOK(ssize_t, readv, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt))
{
	return read_iov(fd, iov, cnt);
}

/* recvfrom is recv's general form; MSG_WAITALL gathers until len, EOF or error. */
struct recvfrom_call {
	struct gs_fdcall c;
	char *buf;
	size_t n;
	int flags;
	struct sockaddr *from;
	socklen_t *fromlen;
};

static int try_recvfrom(struct gs_fdcall *c, bool block)
{
	struct recvfrom_call *a = (struct recvfrom_call *)c;
	size_t got = (size_t)c->done;
	ssize_t r = REAL(recvfrom)(c->fd, a->buf + got, a->n - got, block ? a->flags : a->flags | MSG_DONTWAIT,
				   a->from, a->fromlen);
	if (!block && r > 0 && (a->flags & MSG_WAITALL) && got + (size_t)r < a->n && !(a->flags & MSG_PEEK)) {
		c->done += r;
		return GS_FDC_RETRY;
	}
	if (r < 0 && errno == EAGAIN && !block)
		return GS_FDC_AGAIN;
	c->ret = r >= 0 ? c->done + r : got ? c->done : -1;
	return GS_FDC_DONE;
}

IO_HOOK(ssize_t, recvfrom, (int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen), (fd, buf, n, flags, from, fromlen))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(recvfrom)(fd, buf, n, flags, from, fromlen);
	gs_testcancel(g);
	struct recvfrom_call a = {
		.c = { .fd = fd, .mode = NP_READ, .kind = GS_FD_SOCKET, .anyway = true, .w.sock = true,
		       .try = try_recvfrom },
		.buf = buf, .n = n, .flags = flags, .from = from, .fromlen = fromlen,
	};
	return gs_fd_call(g, &a.c);
}

GS_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

struct recvmsg_call {
	struct gs_fdcall c;
	struct msghdr *mh;
	int flags;
};

static int try_recvmsg(struct gs_fdcall *c, bool block)
{
	struct recvmsg_call *a = (struct recvmsg_call *)c;
	return gs_fdc_end(c, REAL(recvmsg)(c->fd, a->mh, block ? a->flags : a->flags | MSG_DONTWAIT), block);
}

IO_HOOK(ssize_t, recvmsg, (int fd, struct msghdr *mh, int flags), (fd, mh, flags))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(recvmsg)(fd, mh, flags);
	gs_testcancel(g);
	struct recvmsg_call a = {
		.c = { .fd = fd, .mode = NP_READ, .kind = GS_FD_SOCKET, .anyway = true, .w.sock = true,
		       .try = try_recvmsg },
		.mh = mh, .flags = flags,
	};
	return gs_fd_call(g, &a.c);
}

/* Blocks for the first message; without MSG_WAITFORONE it goes on until vlen
 * messages or the timeout, as the kernel does, which also writes the time
 * left back to *timeout when messages came (and only then). */
struct recvmmsg_call {
	struct gs_fdcall c;
	struct mmsghdr *v;
	unsigned vlen;
	int flags;
	struct timespec *timeout;
	uint64_t until;		/* from timeout; 0 none */
	bool native;		/* the kernel's own call ran: it wrote *timeout */
};

static int try_recvmmsg(struct gs_fdcall *c, bool block)
{
	struct recvmmsg_call *a = (struct recvmmsg_call *)c;
	if (block) {	/* what came so far, else the whole call */
		if (!c->done) {
			c->done = REAL(recvmmsg)(c->fd, a->v, a->vlen, a->flags, a->timeout);
			a->native = true;
		}
		c->ret = c->done;
		return GS_FDC_DONE;
	}
	unsigned got = (unsigned)c->done;
	int r = REAL(recvmmsg)(c->fd, a->v + got, a->vlen - got, (a->flags & ~MSG_WAITFORONE) | MSG_DONTWAIT, NULL);
	if (r > 0) {
		c->done += r;
		if ((unsigned)c->done < a->vlen && !(a->flags & MSG_WAITFORONE) && !(a->until && gs_nanotime() >= a->until))
			return GS_FDC_RETRY;
		c->ret = c->done;
		return GS_FDC_DONE;
	}
	if (r < 0 && errno == EAGAIN)
		return GS_FDC_AGAIN;
	c->ret = got ? (ssize_t)got : r;
	return GS_FDC_DONE;
}

IO_HOOK(int, recvmmsg, (int fd, struct mmsghdr *v, unsigned int vlen, int flags, struct timespec *timeout), (fd, v, vlen, flags, timeout))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT) || (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
						      timeout->tv_nsec >= 1000000000L)))
		return REAL(recvmmsg)(fd, v, vlen, flags, timeout);	/* its own EINVAL */
	gs_testcancel(g);
	struct recvmmsg_call a = {
		.c = { .fd = fd, .mode = NP_READ, .kind = GS_FD_SOCKET, .w.sock = true, .try = try_recvmmsg },
		.v = v, .vlen = vlen, .flags = flags, .timeout = timeout,
		.until = timeout ? gs_nanotime() + (uint64_t)timeout->tv_sec * 1000000000u +
				   (uint64_t)timeout->tv_nsec : 0,
	};
	int got = (int)gs_fd_call(g, &a.c);
	if (got > 0 && timeout && !a.native) {
		uint64_t now = gs_nanotime(), left = a.until > now ? a.until - now : 0;
		timeout->tv_sec = (time_t)(left / 1000000000u);
		timeout->tv_nsec = (long)(left % 1000000000u);
	}
	return got;
}

/* ---- writing: a blocking write returns when all is written (or on a signal
 * or error after a part, with the count so far) ---- */

struct write_call {
	struct gs_fdcall c;
	const char *buf;
	size_t n;
};

static int try_write(struct gs_fdcall *c, bool block)
{
	struct write_call *a = (struct write_call *)c;
	int fd = c->fd;
	const char *p = a->buf + c->done;
	size_t n = a->n - (size_t)c->done;
	ssize_t r;
	if (block) {
		r = REAL(write)(fd, p, n);
	} else if (c->kind == GS_FD_SOCKET) {
		r = REAL(send)(fd, p, n, MSG_DONTWAIT);
		if (r < 0 && errno == ENOTSOCK) {
			gs_fd_set_kind(fd, c->kind = GS_FD_POLLABLE);
			return GS_FDC_RETRY;
		}
	} else if (c->kind == GS_FD_ANON) {
		int fl = gs_fd_nb_begin(fd);
		r = REAL(write)(fd, p, n);
		gs_fd_nb_end(fd, fl);
	} else if (!gs_fd_ready(fd, NP_WRITE) && !gs_fd_user_nonblock(fd)) {
		errno = EAGAIN;
		return GS_FDC_AGAIN;
	} else {
		/* A pipe reports writable with at least PIPE_BUF free: more may block. */
		if (c->kind == GS_FD_FIFO && n > PIPE_BUF && !gs_fd_user_nonblock(fd))
			n = PIPE_BUF;
		r = REAL(write)(fd, p, n);
	}
	return gs_fdc_wrote(c, r, a->n, block);
}

IO_HOOK(ssize_t, write, (int fd, const void *buf, size_t n), (fd, buf, n))
{
	struct g *g = gs_self();
	if (!g)
		return REAL(write)(fd, buf, n);
	gs_testcancel(g);
	int kind = gs_fd_kind(fd);
	if (kind == GS_FD_FILE)
		return REAL(write)(fd, buf, n);
	struct write_call a = {
		.c = { .fd = fd, .mode = NP_WRITE, .kind = kind, .w.sock = kind == GS_FD_SOCKET, .try = try_write },
		.buf = buf, .n = n,
	};
	return gs_fd_call(g, &a.c);
}

/* A pipe or tty takes a writev as one write, which keeps its atomicity (up to
 * PIPE_BUF): the pieces gathered into one buffer, through write's hook. */
static ssize_t writev_gathered(int fd, const struct iovec *iov, int cnt)
{
	if (cnt == 1)
		return write(fd, iov[0].iov_base, iov[0].iov_len);
	size_t tot = 0;
	for (int i = 0; i < cnt; i++)
		tot += iov[i].iov_len;
	char *tmp = malloc(tot ? tot : 1);
	if (!tmp)
		return REAL(writev)(fd, iov, cnt);
	size_t off = 0;
	for (int i = 0; i < cnt; i++) {
		memcpy(tmp + off, iov[i].iov_base, iov[i].iov_len);
		off += iov[i].iov_len;
	}
	ssize_t r = write(fd, tmp, tot);
	int saved = errno;
	free(tmp);
	errno = saved;
	return r;
}

IO_HOOK(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt))
{
	struct g *g = gs_self();
	if (!g)
		return REAL(writev)(fd, iov, cnt);
	int kind = gs_fd_kind(fd);
	if (kind == GS_FD_FILE)
		return REAL(writev)(fd, iov, cnt);
	if (kind != GS_FD_SOCKET)
		return writev_gathered(fd, iov, cnt);
	gs_testcancel(g);
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
	return sendmsg(fd, &mh, 0);
}

struct sendto_call {
	struct gs_fdcall c;
	const char *buf;
	size_t n;
	int flags;
	const struct sockaddr *to;
	socklen_t tolen;
};

static int try_sendto(struct gs_fdcall *c, bool block)
{
	struct sendto_call *a = (struct sendto_call *)c;
	ssize_t r = REAL(sendto)(c->fd, a->buf + c->done, a->n - (size_t)c->done,
				 block ? a->flags : a->flags | MSG_DONTWAIT, a->to, a->tolen);
	return gs_fdc_wrote(c, r, a->n, block);
}

IO_HOOK(ssize_t, sendto, (int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen), (fd, buf, n, flags, to, tolen))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(sendto)(fd, buf, n, flags, to, tolen);
	gs_testcancel(g);
	struct sendto_call a = {
		.c = { .fd = fd, .mode = NP_WRITE, .kind = GS_FD_SOCKET, .w.sock = true, .try = try_sendto },
		.buf = buf, .n = n, .flags = flags, .to = to, .tolen = tolen,
	};
	return gs_fd_call(g, &a.c);
}

GS_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return sendto(fd, buf, n, flags, NULL, 0);
}

/* Sends the whole message, advancing (a copy of) the iovec over partial sends. */
struct sendmsg_call {
	struct gs_fdcall c;
	struct msghdr m;
	size_t total;
	int flags;
};

static int try_sendmsg(struct gs_fdcall *c, bool block)
{
	struct sendmsg_call *a = (struct sendmsg_call *)c;
	struct msghdr *m = &a->m;
	ssize_t r = REAL(sendmsg)(c->fd, m, block ? a->flags : a->flags | MSG_DONTWAIT);
	int t = gs_fdc_wrote(c, r, a->total, block);
	if (t != GS_FDC_RETRY)
		return t;
	size_t k = (size_t)r;	/* skip what went */
	while (k && m->msg_iovlen) {
		if (k >= m->msg_iov->iov_len) {
			k -= m->msg_iov->iov_len;
			m->msg_iov++;
			m->msg_iovlen--;
		} else {
			m->msg_iov->iov_base = (char *)m->msg_iov->iov_base + k;
			m->msg_iov->iov_len -= k;
			k = 0;
		}
	}
	m->msg_control = NULL;	/* ancillary data went with the first part */
	m->msg_controllen = 0;
	return t;
}

IO_HOOK(ssize_t, sendmsg, (int fd, const struct msghdr *mh, int flags), (fd, mh, flags))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(sendmsg)(fd, mh, flags);
	gs_testcancel(g);
	struct iovec small[8], *iov = small;
	if (mh->msg_iovlen > 8 && !(iov = malloc(mh->msg_iovlen * sizeof *iov)))
		return REAL(sendmsg)(fd, mh, flags);
	memcpy(iov, mh->msg_iov, mh->msg_iovlen * sizeof *iov);
	struct sendmsg_call a = {
		.c = { .fd = fd, .mode = NP_WRITE, .kind = GS_FD_SOCKET, .w.sock = true, .try = try_sendmsg },
		.m = *mh, .flags = flags,
	};
	a.m.msg_iov = iov;
	for (size_t i = 0; i < a.m.msg_iovlen; i++)
		a.total += iov[i].iov_len;
	ssize_t r = gs_fd_call(g, &a.c);
	if (iov != small) {
		int saved = errno;
		free(iov);
		errno = saved;
	}
	return r;
}

IO_HOOK(int, sendmmsg, (int fd, struct mmsghdr *v, unsigned int vlen, int flags), (fd, v, vlen, flags))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(sendmmsg)(fd, v, vlen, flags);
	unsigned i;
	for (i = 0; i < vlen; i++) {
		ssize_t r = sendmsg(fd, &v[i].msg_hdr, flags);
		if (r < 0)
			return i ? (int)i : -1;
		v[i].msg_len = (unsigned)r;
	}
	return (int)i;
}

/* From a file to a socket or pipe: in pieces the destination can take, each
 * after it polled writable. */
struct sendfile_call {
	struct gs_fdcall c;
	int in;
	off_t *off;
	size_t count;
};

static int try_sendfile(struct gs_fdcall *c, bool block)
{
	struct sendfile_call *a = (struct sendfile_call *)c;
	size_t left = a->count - (size_t)c->done;
	ssize_t r;
	if (left == 0) {
		c->ret = c->done;
		return GS_FDC_DONE;
	}
	if (block) {
		r = REAL(sendfile)(c->fd, a->in, a->off, left);
		c->ret = r < 0 ? (c->done ? c->done : -1) : c->done + r;
		return GS_FDC_DONE;
	}
	if (!gs_fd_ready(c->fd, NP_WRITE)) {
		errno = EAGAIN;
		return GS_FDC_AGAIN;
	}
	size_t cap = c->kind == GS_FD_SOCKET ? 65536 : PIPE_BUF;
	r = REAL(sendfile)(c->fd, a->in, a->off, left < cap ? left : cap);
	if (r <= 0) {	/* an error, or the end of the input file */
		c->ret = r == 0 || c->done ? c->done : -1;
		return GS_FDC_DONE;
	}
	c->done += r;
	return GS_FDC_RETRY;
}

IO_HOOK(ssize_t, sendfile, (int out, int in, off_t *off, size_t count), (out, in, off, count))
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sendfile)(out, in, off, count);
	int kind = gs_fd_kind(out);
	if (kind == GS_FD_FILE || gs_fd_user_nonblock(out))
		return REAL(sendfile)(out, in, off, count);
	gs_testcancel(g);
	struct sendfile_call a = {
		.c = { .fd = out, .mode = NP_WRITE, .kind = kind, .w.sock = kind == GS_FD_SOCKET, .try = try_sendfile },
		.in = in, .off = off, .count = count,
	};
	return gs_fd_call(g, &a.c);
}

/* glibc's name for sendfile under _FILE_OFFSET_BITS=64 (off_t is 64 bits here). */
GS_EXPORT ssize_t sendfile64(int out, int in, off_t *off, size_t count)
{
	return sendfile(out, in, off, count);
}

/* eventfd_read and eventfd_write read and write inside libc (its own read,
 * which the shim does not see): the same calls, through the hooks. */
GS_EXPORT int eventfd_read(int fd, uint64_t *value)
{
	return read(fd, value, sizeof *value) != sizeof *value ? -1 : 0;
}

GS_EXPORT int eventfd_write(int fd, uint64_t value)
{
	return write(fd, &value, sizeof value) != sizeof value ? -1 : 0;
}
