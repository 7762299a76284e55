/* sched/fdtable.h: the fd table (fdtable.c): one descriptor per fd number,
 * made on first use and never freed, holding what the runtime knows of the
 * number (its generation, kind, the program's O_NONBLOCK, socket timeouts)
 * and, apart, the netpoller's waiters on it (netpoll.c). */
#ifndef GS_FDTABLE_H
#define GS_FDTABLE_H
#include "gs.h"

/* GS_FD_ANON: eventfd, timerfd, signalfd, inotify, epoll (anonymous inodes,
 * never shared with another process in practice). */
enum { GS_FD_UNKNOWN, GS_FD_SOCKET, GS_FD_FIFO, GS_FD_POLLABLE, GS_FD_FILE, GS_FD_ANON };

struct np_waiter;

struct gs_fd {
	gs_lock_t lock;			/* gen and the netpoller's part below */
	uint32_t gen;			/* lock (read atomically without it): bumped
					 * when the number is closed or names a new
					 * file; part of the netpoller's event key */

	/* Facts (fdtable.c): caches anyone may read and write without a lock,
	 * with relaxed atomics; each epoch is stored (release) after its value
	 * and loaded (acquire) before it. A racing writer stores what the
	 * kernel said, the same thing. */
	int kind;			/* GS_FD_* */
	int nonblock;			/* the program's O_NONBLOCK, -1 unknown */
	uint32_t nb_epoch;		/* valid while == the table's epoch */
	int64_t timeo[2];		/* SO_RCVTIMEO/SO_SNDTIMEO in ns, -1 unknown */
	uint32_t timeo_epoch;
	gs_lock_t flip;			/* held across a call made with O_NONBLOCK set for it */

	/* Waiters (netpoll.c), under lock. */
	uint32_t count[2];		/* events seen per direction */
	struct np_waiter *head[2], *tail[2];
	bool registered;		/* watched by the backend */
	bool ghost;			/* a duplicate of ours of a closed fd */
	_Atomic int ghost_refs;		/* Gs going on with it, + 1 while being made */
};

/* fd's descriptor; NULL if fd is out of range (or no memory for its page). */
GS_HIDDEN struct gs_fd *gs_fd_get(int fd);
/* The number names a new file, or none: a new generation, facts unknown.
 * d->lock held. */
GS_HIDDEN void gs_fd_renew(struct gs_fd *d);
/* Calls fn for each descriptor made so far (in the child after fork: no
 * other thread runs). */
GS_HIDDEN void gs_fd_foreach(void (*fn)(int fd, struct gs_fd *d));
/* In the child after fork: d's locks as if never taken. */
GS_HIDDEN void gs_fd_fork_reset(struct gs_fd *d);

/* ---- facts, learnt from the kernel the first time a call needs them ---- */

/* GS_FD_* of fd: fstat the first time, then cached until the number is
 * closed or made again. */
GS_HIDDEN int gs_fd_kind(int fd);
GS_HIDDEN void gs_fd_set_kind(int fd, int kind);
/* The program's own O_NONBLOCK on fd's open file. */
GS_HIDDEN bool gs_fd_user_nonblock(int fd);
GS_HIDDEN void gs_fd_set_nonblock(int fd, int nb);
/* The cached facts themselves (tests/unit/test_fdtable): O_NONBLOCK 0/1 and
 * a timeout in ns (0 none), -1 for not known since the last invalidation. */
GS_HIDDEN int gs_fd_cached_nonblock(int fd);
GS_HIDDEN int gs_fd_cached_kind(int fd);	/* GS_FD_UNKNOWN: not looked at */
GS_HIDDEN int64_t gs_fd_cached_timeo(int fd, int mode);
GS_HIDDEN void gs_fd_set_timeo(int fd, int mode, int64_t ns);
/* The deadline SO_RCVTIMEO (NP_READ) or SO_SNDTIMEO (NP_WRITE) gives a call
 * starting now; 0 none. */
GS_HIDDEN uint64_t gs_fd_timeout(int fd, int mode);
/* The program changed flags or timeouts of some fd (fcntl F_SETFL, FIONBIO,
 * setsockopt): forget them for all fds, since a dup shares them. */
GS_HIDDEN void gs_fd_invalidate_all(void);
/* Calls that set O_NONBLOCK for their own duration on one fd are serialised
 * (fdwait.h: gs_fd_nb_begin). */
GS_HIDDEN void gs_fd_flip_lock(int fd);
GS_HIDDEN void gs_fd_flip_unlock(int fd);

#endif
