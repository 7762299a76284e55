/* sched/netpoll_epoll.c: the epoll backend of the netpoller (the contract is
 * at the top of netpoll.c). One epoll instance for the process; an eventfd in
 * it lets any thread wake the M blocked in epoll_wait. */
#include <errno.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include "gs.h"
#include "netpoll.h"
#include "real.h"

static int epfd = -1, evfd = -1, watchfd = -1;
#define BREAK_KEY UINT64_MAX
#define WATCH_KEY (UINT64_MAX - 1)	/* fd keys have a 32-bit fd number below */

/* Our fds (NHIGH) live above the numbers the program can reach, so that it gets
 * EMFILE exactly where it would natively and the lowest free numbers are its
 * own (dup2 to a fixed number, "lowest fd" reuse). That is above the hard
 * RLIMIT_NOFILE where we may raise it for a moment (CAP_SYS_RESOURCE), else
 * above the soft one, at the top of the hard one, which a program that raises
 * its soft limit that far then shares with us; with soft = hard and no
 * privilege, the top NHIGH numbers below the limit. Numbers are capped at
 * TOP_MAX: the kernel sizes the fd table by the highest open number (8 bytes
 * a slot). Linux keeps an fd open above a limit lowered after it was made.
 * The limit is raised only for the fcntl calls. */
#define TOP_MAX 65536

/* The runtime's fds placed this way: the epoll fd, the eventfd, and the
 * dump socket (dumpsock.c), each placed as it is made. */
#define NHIGH 3

static void place_high(int *fds, int n)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	rlim_t top = rl.rlim_max > TOP_MAX ? TOP_MAX : rl.rlim_max;
	rlim_t base = top;
	struct rlimit up = { top + NHIGH, rl.rlim_max > top + NHIGH ? rl.rlim_max : top + NHIGH };
	bool raised = setrlimit(RLIMIT_NOFILE, &up) == 0;
	if (!raised) {
		base = top - NHIGH;
		up = (struct rlimit){ top, rl.rlim_max };
		raised = top > rl.rlim_cur && setrlimit(RLIMIT_NOFILE, &up) == 0;
		if (!raised && base + NHIGH > rl.rlim_cur)
			base = rl.rlim_cur > NHIGH ? rl.rlim_cur - NHIGH : 0;
	}
	for (int i = 0; i < n; i++) {
		if (fds[i] < 0 || (rlim_t)fds[i] >= base)
			continue;
		int hi = REAL(fcntl)(fds[i], F_DUPFD_CLOEXEC, (int)base);
		if (hi >= 0) {
			REAL(close)(fds[i]);
			fds[i] = hi;
		}
	}
	if (raised)
		setrlimit(RLIMIT_NOFILE, &rl);
}

int gs_np_backend_init(void)
{
	int saved = errno;
	int fds[2] = { epoll_create1(EPOLL_CLOEXEC), eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK) };
	int err = fds[0] < 0 || fds[1] < 0 ? errno : 0;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BREAK_KEY };
	if (!err)
		place_high(fds, 2);
	if (!err && epoll_ctl(fds[0], EPOLL_CTL_ADD, fds[1], &ev) != 0)
		err = errno;
	if (err) {	/* the caller blocks natively; a later wait tries again */
		for (int i = 0; i < 2; i++)
			if (fds[i] >= 0)
				REAL(close)(fds[i]);
		errno = saved;
		return -err;
	}
	epfd = fds[0];
	evfd = fds[1];
	errno = saved;
	return 0;
}

/* Watches fd for both directions, edge-triggered, for the life of the fd. */
int gs_np_backend_add(int fd, uint64_t key)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.u64 = key };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0)
		return 0;
	if (errno == EEXIST)	/* a stale registration of this number: refresh its key */
		return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) == 0 ? 0 : -errno;
	return -errno;
}

void gs_np_backend_del(int fd)
{
	struct epoll_event ev = { 0 };
	int saved = errno;
	epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &ev);
	errno = saved;
}

/* Waits up to timeout_ms (-1 forever, 0 not at all) and hands each event to
 * gs_np_ready(). Returns how many fd events there were. */
int gs_np_backend_wait(int timeout_ms)
{
	/* A blocking poll runs on an M's scheduler stack; a non-blocking one
	 * often on a parking G's, whose committed pages are what an idle
	 * connection costs: keep that frame small. */
	int cap = timeout_ms != 0 ? 128 : 16;
	struct epoll_event ev[cap];
	int saved = errno;
	int n = REAL(epoll_wait)(epfd, ev, cap, timeout_ms);	/* not our hook */
	errno = saved;
	int k = 0;
	for (int i = 0; i < n; i++) {
		if (ev[i].data.u64 == WATCH_KEY) {
			gs_dumpsock_ready();
			continue;
		}
		if (ev[i].data.u64 == BREAK_KEY) {
			/* Only the blocking poller drains it: a non-blocking poll of
			 * another M would swallow the wake-up meant for the blocker. */
			if (timeout_ms != 0) {
				uint64_t v;
				ssize_t r = REAL(read)(evfd, &v, sizeof v);	/* not our hook */
				(void)r;
			}
			continue;
		}
		uint32_t e = ev[i].events;
		int mode = 0;
		if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
			mode |= NP_READ;
		if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
			mode |= NP_WRITE;
		gs_np_ready(ev[i].data.u64, mode);
		k++;
	}
	return k;
}

void gs_np_backend_break(void)
{
	uint64_t one = 1;
	int saved = errno;
	ssize_t r = REAL(write)(evfd, &one, sizeof one);	/* not our hook */
	errno = saved;
	(void)r;
}

bool gs_np_backend_owns(int fd)
{
	return fd >= 0 && (fd == epfd || fd == evfd || fd == watchfd);
}

/* Moves our fd away from a number the program is about to dup2 onto. */
void gs_np_backend_evict(int fd)
{
	if (fd == epfd)
		epfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, fd + 1), REAL(close)(fd);
	else if (fd == evfd)
		evfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, fd + 1), REAL(close)(fd);
	else if (fd == watchfd)
		watchfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, fd + 1), REAL(close)(fd);
}

/* A forked child gets its own poller: the parent's is shared otherwise. */
void gs_np_backend_fork_child(void)
{
	if (epfd >= 0)
		REAL(close)(epfd);
	if (evfd >= 0)
		REAL(close)(evfd);
	if (watchfd >= 0)
		REAL(close)(watchfd);
	epfd = evfd = watchfd = -1;
}

int gs_np_backend_watch(int fd)
{
	place_high(&fd, 1);
	struct epoll_event ev = { .events = EPOLLIN | EPOLLET, .data.u64 = WATCH_KEY };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
		int e = errno;
		REAL(close)(fd);
		return -e;
	}
	watchfd = fd;
	return fd;
}

int gs_np_backend_watched(void)
{
	return watchfd;
}
