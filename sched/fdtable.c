/* sched/fdtable.c: what the runtime knows of each fd number: its kind, the
 * program's O_NONBLOCK, its socket timeouts. Each is learnt from the kernel
 * the first time a call needs it and cached in the fd's descriptor
 * (netpoll.c), forgotten when the number is closed or made again, and for all
 * fds when the program changes flags or timeouts (a dup shares them). */
#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include "fdwait.h"
#include "real.h"

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
