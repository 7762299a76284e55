/* sched/netpoll_epoll.c: the epoll backend of the netpoller (the contract is
 * at the top of netpoll.c). One epoll instance for the process; an eventfd in
 * it lets any thread wake the M blocked in epoll_wait. */
#include <errno.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>
#include "gs.h"
#include "netpoll.h"
#include "real.h"

static int epfd = -1, evfd = -1;
#define BREAK_KEY UINT64_MAX

/* Our fds live at the top of the fd range: a program expects the lowest free
 * numbers to be its own (dup2 to a fixed number, "lowest fd" reuse). */
static int move_high(int fd)
{
	struct rlimit rl;
	if (fd < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 256)
		return fd;
	int hi = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, (int)(rl.rlim_cur > 65536 ? 65536 : rl.rlim_cur) - 64);
	if (hi < 0)
		return fd;
	REAL(close)(fd);
	return hi;
}

int gs_np_backend_init(void)
{
	int saved = errno;
	epfd = move_high(epoll_create1(EPOLL_CLOEXEC));
	evfd = move_high(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
	if (epfd < 0 || evfd < 0)
		return -errno;
	errno = saved;
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = BREAK_KEY };
	if (epoll_ctl(epfd, EPOLL_CTL_ADD, evfd, &ev) != 0)
		return -errno;
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
	return fd >= 0 && (fd == epfd || fd == evfd);
}

/* Moves our fd away from a number the program is about to dup2 onto. */
void gs_np_backend_evict(int fd)
{
	if (fd == epfd)
		epfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, fd + 1), REAL(close)(fd);
	else if (fd == evfd)
		evfd = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, fd + 1), REAL(close)(fd);
}

/* A forked child gets its own poller: the parent's is shared otherwise. */
void gs_np_backend_fork_child(void)
{
	if (epfd >= 0)
		REAL(close)(epfd);
	if (evfd >= 0)
		REAL(close)(evfd);
	epfd = evfd = -1;
}
