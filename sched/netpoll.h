/* sched/netpoll.h: the netpoller (netpoll.c) and its backend (netpoll_epoll.c). */
#ifndef GS_NETPOLL_H
#define GS_NETPOLL_H
#include "fdtable.h"

enum { NP_READ = 1, NP_WRITE = 2 };

/* Backend contract. */
GS_HIDDEN int gs_np_backend_init(void);
GS_HIDDEN int gs_np_backend_add(int fd, uint64_t key);
GS_HIDDEN void gs_np_backend_del(int fd);
GS_HIDDEN int gs_np_backend_wait(int timeout_ms);
GS_HIDDEN void gs_np_backend_break(void);
GS_HIDDEN bool gs_np_backend_owns(int fd);
GS_HIDDEN void gs_np_backend_evict(int fd);
GS_HIDDEN void gs_np_backend_fork_child(void);
GS_HIDDEN int gs_np_backend_watch(int fd);	/* see gs_np_watch */
GS_HIDDEN int gs_np_backend_watched(void);
GS_HIDDEN void gs_np_ready(uint64_t key, int mode);	/* called by the backend */

/* For the scheduler. */
GS_HIDDEN bool gs_np_waiting(void);		/* any G parked on an fd */
GS_HIDDEN int gs_np_poll(int timeout_ms);	/* 0: don't block */
GS_HIDDEN void gs_np_break(void);
GS_HIDDEN uint64_t gs_np_lastpoll(void);	/* monotonic ns */
/* gs_np_waiting(), or an fd of the runtime's is watched: an idle M should
 * wait in the poller rather than on its futex (and sysmon poll for busy Ms). */
GS_HIDDEN bool gs_np_watching(void);

/* One fd of the runtime's own, the dump socket (dumpsock.c), watched for input
 * for the life of the process: each edge calls gs_dumpsock_ready() on whichever
 * thread polls. The fd is moved to the top of the fd range and, like the
 * poller's own, is not open as far as the program knows. Returns the fd (the
 * watched one is gs_np_watched_fd() from then on: a dup2 onto it moves it) or
 * -errno. */
GS_HIDDEN int gs_np_watch(int fd);
GS_HIDDEN int gs_np_watched_fd(void);
GS_HIDDEN void gs_dumpsock_ready(void);

/* For the hooks. A wait is: snap = gs_np_snap(fd, mode); try the call; on
 * EAGAIN gs_np_wait(fd, mode, snap, ...): it returns at once if an event came
 * since the snapshot, so no edge is lost between the try and the park.
 * Returns 0 (retry the call), -ETIMEDOUT, -EINTR, -EBADF (fd closed while
 * waiting), -EPERM (fd cannot be polled: make the call blocking). */
struct gs_np_snap { uint32_t gen, count; };
GS_HIDDEN struct gs_np_snap gs_np_snap(int fd, int mode);
/* If the program closes *fd while the G waits (gs_np_close_waited), the wait
 * returns 0 with *fd changed to a runtime-owned duplicate of the same open
 * file, which the call then goes on with; the G holds it (g->np_ghost) until
 * gs_np_ghost_drop(), when its call returns. */
GS_HIDDEN int gs_np_wait(int *fd, int mode, struct gs_np_snap snap, uint64_t deadline, int intr);
/* Waits on several fds at once (poll, select): 0 when any may be ready. An
 * item whose fd is closed meanwhile goes on waiting on its old open file, as
 * natively: its fd becomes the ghost's and closed is set (the caller then
 * asks again with its own numbers). */
struct gs_np_item { int fd; int mode; struct gs_np_snap snap; bool closed; };
GS_HIDDEN int gs_np_wait_many(struct gs_np_item *it, int n, uint64_t deadline, int intr);
/* A new fd at this number (or one closed behind our back): forget the old
 * one and wake its waiters (they get -EBADF). */
GS_HIDDEN void gs_np_close(int fd);
/* The program closes fd (close, dup2 onto it); call before the real close.
 * Gs parked on it go on with the open file through a duplicate (DESIGN.md
 * §2.5); without one (EMFILE) they are woken with -EBADF as by gs_np_close. */
GS_HIDDEN void gs_np_close_waited(int fd);
/* fd is such a duplicate: not open as far as the program knows. */
GS_HIDDEN bool gs_np_is_ghost(int fd);
/* The G's call is over: let go of its duplicate (closed with the last one). */
GS_HIDDEN void gs_np_ghost_drop_slow(struct g *g);
static inline void gs_np_ghost_drop(struct g *g)
{
	if (unlikely(g && g->np_ghost))
		gs_np_ghost_drop_slow(g);
}
/* Something changed fd's state (shutdown): its waiters try again. */
GS_HIDDEN void gs_np_kick(int fd);
GS_HIDDEN void gs_np_fork_child(void);
#endif
