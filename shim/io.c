/* shim/io.c: read, write and the socket send/receive family (DESIGN.md §2.4).
 * Each is a cancellation point; each waits through io_block() (io.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/sendfile.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include "io.h"

/* ---- fd facts, cached in the netpoller's fd table ---- */

int gs_fd_kind(int fd)
{
	int k = gs_np_kind(fd);
	if (likely(k != GS_FD_UNKNOWN))
		return k;
	struct stat st;
	int saved = errno;
	if (fstat(fd, &st) != 0) {
		errno = saved;
		return GS_FD_FILE;	/* let the real call report it */
	}
	errno = saved;
	if (S_ISSOCK(st.st_mode))
		k = GS_FD_SOCKET;
	else if (S_ISFIFO(st.st_mode))
		k = GS_FD_FIFO;
	else if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode) || S_ISBLK(st.st_mode))
		k = GS_FD_FILE;
	else if ((st.st_mode & S_IFMT) == 0)
		k = GS_FD_ANON;
	else
		k = GS_FD_POLLABLE;	/* ttys, eventfd, timerfd, signalfd, ... */
	gs_np_set_kind(fd, k);
	return k;
}

bool gs_fd_user_nonblock(int fd)
{
	int nb = gs_np_cached_nonblock(fd);
	if (nb < 0) {
		int saved = errno;
		int fl = REAL(fcntl)(fd, F_GETFL);
		errno = saved;
		nb = fl >= 0 && (fl & O_NONBLOCK);
		gs_np_set_nonblock(fd, nb);
	}
	return nb;
}

uint64_t gs_fd_timeout(int fd, int mode)
{
	int64_t t = gs_np_cached_timeo(fd, mode);
	if (t < 0) {
		struct timeval tv;
		socklen_t len = sizeof tv;
		int saved = errno;
		t = 0;
		if (getsockopt(fd, SOL_SOCKET, mode == NP_READ ? SO_RCVTIMEO : SO_SNDTIMEO, &tv, &len) == 0)
			t = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
		errno = saved;
		gs_np_set_timeo(fd, mode, t);
	}
	return t ? gs_nanotime() + (uint64_t)t : 0;
}

/* ---- reading ---- */

/* read and readv: one iovec form. A socket is tried with recvmsg(MSG_DONTWAIT),
 * an eventfd-like fd with O_NONBLOCK for the call, other fds after a
 * zero-timeout poll. */
static ssize_t real_readv(int fd, const struct iovec *iov, int cnt)
{
	return cnt == 1 ? REAL(read)(fd, iov[0].iov_base, iov[0].iov_len) : REAL(readv)(fd, iov, cnt);
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
	struct io_wait w = { .sock = kind == GS_FD_SOCKET };
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_READ);
		ssize_t r;
		if (kind == GS_FD_SOCKET) {
			struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
			r = cnt == 1 ? REAL(recv)(fd, iov[0].iov_base, iov[0].iov_len, MSG_DONTWAIT) :
				       REAL(recvmsg)(fd, &mh, MSG_DONTWAIT);
			if (r < 0 && errno == ENOTSOCK) {
				gs_np_set_kind(fd, kind = GS_FD_POLLABLE);
				continue;
			}
		} else if (kind == GS_FD_ANON) {
			r = ANON_CALL(fd, real_readv(fd, iov, cnt));
		} else if (io_ready(fd, NP_READ) || gs_fd_user_nonblock(fd)) {
			r = real_readv(fd, iov, cnt);
		} else {
			r = -1;
			errno = EAGAIN;
		}
		if (r >= 0 || errno != EAGAIN)
			return r;
		if (kind == GS_FD_SOCKET && io_readable_anyway(fd, &w))
			return real_readv(fd, iov, cnt);
		int b = io_block(g, &fd, NP_READ, snap, &w);
		if (b == IO_RETURN)
			return -1;
		if (b == IO_BLOCKING)
			return real_readv(fd, iov, cnt);
	}
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
IO_HOOK(ssize_t, recvfrom, (int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen), (fd, buf, n, flags, from, fromlen))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(recvfrom)(fd, buf, n, flags, from, fromlen);
	gs_testcancel(g);
	struct io_wait w = { .sock = true };
	size_t got = 0;
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_READ);
		ssize_t r = REAL(recvfrom)(fd, (char *)buf + got, n - got, flags | MSG_DONTWAIT, from, fromlen);
		if (r > 0 && (flags & MSG_WAITALL) && got + (size_t)r < n && !(flags & MSG_PEEK)) {
			got += (size_t)r;
			continue;
		}
		if (r >= 0)
			return (ssize_t)got + r;
		if (errno != EAGAIN)
			return got ? (ssize_t)got : -1;
		if (io_readable_anyway(fd, &w))
			return REAL(recvfrom)(fd, (char *)buf + got, n - got, flags & ~MSG_WAITALL, from, fromlen) + (ssize_t)got;
		int b = io_block(g, &fd, NP_READ, snap, &w);
		if (b == IO_RETURN)
			return got ? (ssize_t)got : -1;
		if (b == IO_BLOCKING)
			return REAL(recvfrom)(fd, buf, n, flags, from, fromlen);
	}
}

GS_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	return recvfrom(fd, buf, n, flags, NULL, NULL);
}

IO_HOOK(ssize_t, recvmsg, (int fd, struct msghdr *mh, int flags), (fd, mh, flags))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(recvmsg)(fd, mh, flags);
	gs_testcancel(g);
	struct io_wait w = { .sock = true };
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_READ);
		ssize_t r = REAL(recvmsg)(fd, mh, flags | MSG_DONTWAIT);
		if (r >= 0 || errno != EAGAIN)
			return r;
		if (io_readable_anyway(fd, &w))
			return REAL(recvmsg)(fd, mh, flags);
		int b = io_block(g, &fd, NP_READ, snap, &w);
		if (b == IO_RETURN)
			return -1;
		if (b == IO_BLOCKING)
			return REAL(recvmsg)(fd, mh, flags);
	}
}

/* Blocks for the first message; without MSG_WAITFORONE it goes on until vlen
 * messages or the timeout, as the kernel does, which also writes the time
 * left back to *timeout when messages came (and only then). */
static int mmsg_done(int got, struct timespec *timeout, uint64_t until)
{
	if (got > 0 && timeout) {
		uint64_t now = gs_nanotime(), left = until > now ? until - now : 0;
		timeout->tv_sec = (time_t)(left / 1000000000u);
		timeout->tv_nsec = (long)(left % 1000000000u);
	}
	return got;
}

IO_HOOK(int, recvmmsg, (int fd, struct mmsghdr *v, unsigned int vlen, int flags, struct timespec *timeout), (fd, v, vlen, flags, timeout))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT) || (timeout && (timeout->tv_sec < 0 || timeout->tv_nsec < 0 ||
						      timeout->tv_nsec >= 1000000000L)))
		return REAL(recvmmsg)(fd, v, vlen, flags, timeout);	/* its own EINVAL */
	gs_testcancel(g);
	struct io_wait w = { .sock = true };
	uint64_t until = timeout ? gs_nanotime() + (uint64_t)timeout->tv_sec * 1000000000u +
				   (uint64_t)timeout->tv_nsec : 0;
	unsigned got = 0;
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_READ);
		int r = REAL(recvmmsg)(fd, v + got, vlen - got, (flags & ~MSG_WAITFORONE) | MSG_DONTWAIT, NULL);
		if (r > 0) {
			got += (unsigned)r;
			if (got == vlen || (flags & MSG_WAITFORONE) || (until && gs_nanotime() >= until))
				return mmsg_done((int)got, timeout, until);
			continue;
		}
		if (r == 0 || errno != EAGAIN)
			return got ? mmsg_done((int)got, timeout, until) : r;
		int b = io_block(g, &fd, NP_READ, snap, &w);
		if (b != IO_RETRY)
			return got ? mmsg_done((int)got, timeout, until) :
				     (b == IO_BLOCKING ? REAL(recvmmsg)(fd, v, vlen, flags, timeout) : -1);
	}
}

/* ---- writing: a blocking write returns when all is written (or on a signal
 * or error after a part, with the count so far) ---- */

static ssize_t write_some(int fd, int kind, const void *buf, size_t n)
{
	if (kind == GS_FD_SOCKET)
		return REAL(send)(fd, buf, n, MSG_DONTWAIT);
	if (kind == GS_FD_ANON)
		return ANON_CALL(fd, REAL(write)(fd, buf, n));
	if (!io_ready(fd, NP_WRITE) && !gs_fd_user_nonblock(fd)) {
		errno = EAGAIN;
		return -1;
	}
	/* A pipe reports writable with at least PIPE_BUF free: more may block. */
	if (kind == GS_FD_FIFO && n > PIPE_BUF && !gs_fd_user_nonblock(fd))
		n = PIPE_BUF;
	return REAL(write)(fd, buf, n);
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
	struct io_wait w = { .sock = kind == GS_FD_SOCKET };
	size_t done = 0;
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_WRITE);
		ssize_t r = write_some(fd, kind, (const char *)buf + done, n - done);
		if (r < 0 && errno == ENOTSOCK) {
			gs_np_set_kind(fd, kind = GS_FD_POLLABLE);
			continue;
		}
		if (r >= 0) {
			done += (size_t)r;
			if (done == n || gs_fd_user_nonblock(fd))
				return (ssize_t)done;
			continue;
		}
		if (errno != EAGAIN)
			return done ? (ssize_t)done : -1;
		int b = io_block(g, &fd, NP_WRITE, snap, &w);
		if (b == IO_RETURN)
			return done ? (ssize_t)done : -1;
		if (b == IO_BLOCKING) {
			r = REAL(write)(fd, (const char *)buf + done, n - done);
			return r < 0 ? (done ? (ssize_t)done : -1) : (ssize_t)done + r;
		}
	}
}

IO_HOOK(ssize_t, writev, (int fd, const struct iovec *iov, int cnt), (fd, iov, cnt))
{
	struct g *g = gs_self();
	if (!g)
		return REAL(writev)(fd, iov, cnt);
	int kind = gs_fd_kind(fd);
	if (kind != GS_FD_SOCKET)	/* pipes, ttys: as one write, keeping atomicity */
		return kind == GS_FD_FILE ? REAL(writev)(fd, iov, cnt) : ({
			size_t tot = 0;
			for (int i = 0; i < cnt; i++)
				tot += iov[i].iov_len;
			ssize_t r;
			if (cnt == 1) {
				r = write(fd, iov[0].iov_base, iov[0].iov_len);
			} else {
				char *tmp = malloc(tot ? tot : 1);
				if (!tmp)
					return REAL(writev)(fd, iov, cnt);
				size_t off = 0;
				for (int i = 0; i < cnt; i++) {
					memcpy(tmp + off, iov[i].iov_base, iov[i].iov_len);
					off += iov[i].iov_len;
				}
				r = write(fd, tmp, tot);
				int saved = errno;
				free(tmp);
				errno = saved;
			}
			r;
		});
	gs_testcancel(g);
	struct msghdr mh = { .msg_iov = (struct iovec *)iov, .msg_iovlen = (size_t)cnt };
	return sendmsg(fd, &mh, 0);
}

IO_HOOK(ssize_t, sendto, (int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen), (fd, buf, n, flags, to, tolen))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(sendto)(fd, buf, n, flags, to, tolen);
	gs_testcancel(g);
	struct io_wait w = { .sock = true };
	size_t done = 0;
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_WRITE);
		ssize_t r = REAL(sendto)(fd, (const char *)buf + done, n - done, flags | MSG_DONTWAIT, to, tolen);
		if (r >= 0) {
			done += (size_t)r;
			if (done == n || gs_fd_user_nonblock(fd))
				return (ssize_t)done;
			continue;
		}
		if (errno != EAGAIN)
			return done ? (ssize_t)done : -1;
		int b = io_block(g, &fd, NP_WRITE, snap, &w);
		if (b == IO_RETURN)
			return done ? (ssize_t)done : -1;
		if (b == IO_BLOCKING) {
			r = REAL(sendto)(fd, (const char *)buf + done, n - done, flags, to, tolen);
			return r < 0 ? (done ? (ssize_t)done : -1) : (ssize_t)done + r;
		}
	}
}

GS_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	return sendto(fd, buf, n, flags, NULL, 0);
}

/* Sends the whole message, advancing the iovec over partial sends. */
IO_HOOK(ssize_t, sendmsg, (int fd, const struct msghdr *mh, int flags), (fd, mh, flags))
{
	struct g *g = gs_self();
	if (!g || (flags & MSG_DONTWAIT))
		return REAL(sendmsg)(fd, mh, flags);
	gs_testcancel(g);
	struct io_wait w = { .sock = true };
	struct msghdr m = *mh;
	struct iovec small[8], *iov = small;
	if (m.msg_iovlen > 8 && !(iov = malloc(m.msg_iovlen * sizeof *iov)))
		return REAL(sendmsg)(fd, mh, flags);
	memcpy(iov, mh->msg_iov, m.msg_iovlen * sizeof *iov);
	m.msg_iov = iov;
	size_t total = 0, done = 0;
	for (size_t i = 0; i < m.msg_iovlen; i++)
		total += iov[i].iov_len;
	ssize_t ret;
	for (;;) {
		struct gs_np_snap snap = gs_np_snap(fd, NP_WRITE);
		ssize_t r = REAL(sendmsg)(fd, &m, flags | MSG_DONTWAIT);
		if (r >= 0) {
			done += (size_t)r;
			if (done >= total || gs_fd_user_nonblock(fd)) {
				ret = (ssize_t)done;
				break;
			}
			size_t k = (size_t)r;	/* skip what went */
			while (k && m.msg_iovlen) {
				if (k >= m.msg_iov->iov_len) {
					k -= m.msg_iov->iov_len;
					m.msg_iov++;
					m.msg_iovlen--;
				} else {
					m.msg_iov->iov_base = (char *)m.msg_iov->iov_base + k;
					m.msg_iov->iov_len -= k;
					k = 0;
				}
			}
			m.msg_control = NULL;	/* ancillary data went with the first part */
			m.msg_controllen = 0;
			continue;
		}
		if (errno != EAGAIN) {
			ret = done ? (ssize_t)done : -1;
			break;
		}
		int b = io_block(g, &fd, NP_WRITE, snap, &w);
		if (b == IO_RETURN) {
			ret = done ? (ssize_t)done : -1;
			break;
		}
		if (b == IO_BLOCKING) {
			r = REAL(sendmsg)(fd, &m, flags);
			ret = r < 0 ? (done ? (ssize_t)done : -1) : (ssize_t)done + r;
			break;
		}
	}
	if (iov != small) {
		int saved = errno;
		free(iov);
		errno = saved;
	}
	return ret;
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

/* From a file to a socket or pipe: in pieces the destination can take. */
IO_HOOK(ssize_t, sendfile, (int out, int in, off_t *off, size_t count), (out, in, off, count))
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sendfile)(out, in, off, count);
	int kind = gs_fd_kind(out);
	if (kind == GS_FD_FILE || gs_fd_user_nonblock(out))
		return REAL(sendfile)(out, in, off, count);
	gs_testcancel(g);
	struct io_wait w = { .sock = kind == GS_FD_SOCKET };
	size_t done = 0;
	while (done < count) {
		struct gs_np_snap snap = gs_np_snap(out, NP_WRITE);
		if (!io_ready(out, NP_WRITE)) {
			int b = io_block(g, &out, NP_WRITE, snap, &w);
			if (b == IO_RETURN)
				return done ? (ssize_t)done : -1;
			if (b == IO_BLOCKING) {
				ssize_t r = REAL(sendfile)(out, in, off, count - done);
				return r < 0 ? (done ? (ssize_t)done : -1) : (ssize_t)(done + (size_t)r);
			}
			continue;
		}
		size_t chunk = count - done;
		size_t cap = kind == GS_FD_SOCKET ? 65536 : PIPE_BUF;
		ssize_t r = REAL(sendfile)(out, in, off, chunk < cap ? chunk : cap);
		if (r < 0)
			return done ? (ssize_t)done : -1;
		if (r == 0)
			break;	/* end of the input file */
		done += (size_t)r;
	}
	return (ssize_t)done;
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
