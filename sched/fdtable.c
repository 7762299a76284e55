/* sched/fdtable.c: the fd table: one descriptor per fd number (fdtable.h),
 * in pages of PAGE_FDS made on first use and never freed, so a descriptor
 * may be used without a lock on the table (and an event for an fd found
 * from its key alone). Here also the facts of each number: its kind, the
 * program's O_NONBLOCK, its socket timeouts, each learnt from the kernel the
 * first time a call needs it and cached, forgotten when the number is closed
 * or made again (gs_fd_renew), and for all fds when the program changes
 * flags or timeouts (a dup shares them: the epoch). The netpoller's waiters
 * on a number are netpoll.c's. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include "fdtable.h"
#include "netpoll.h"
#include "real.h"

#define PAGE_FDS 1024
#define NPAGES 1024			/* up to 1M fds */
static struct gs_fd *_Atomic pages[NPAGES];
static _Atomic uint32_t epoch = 1;	/* bumped by gs_fd_invalidate_all */

static int dir(int mode)
{
	return mode == NP_WRITE ? 1 : 0;
}

struct gs_fd *gs_fd_get(int fd)
{
	if (fd < 0 || fd >= PAGE_FDS * NPAGES)
		return NULL;
	struct gs_fd *p = atomic_load_explicit(&pages[fd / PAGE_FDS], memory_order_acquire);
	if (!p) {
		struct gs_fd *n = calloc(PAGE_FDS, sizeof *n);
		if (!n)
			return NULL;
		for (int i = 0; i < PAGE_FDS; i++) {
			n[i].nonblock = -1;
			gs_lock_init(&n[i].lock, FD);
			gs_lock_init(&n[i].flip, FDFLIP);
			n[i].timeo[0] = n[i].timeo[1] = -1;
		}
		struct gs_fd *none = NULL;
		if (atomic_compare_exchange_strong(&pages[fd / PAGE_FDS], &none, n))
			p = n;
		else {
			free(n);
			p = none;
		}
	}
	return &p[fd % PAGE_FDS];
}

/* The facts are read and written by any M without a lock (fdtable.h): each
 * with relaxed atomics, and a value with its epoch published after it
 * (release) and read before it (acquire), so a reader that finds the
 * current epoch finds the value learnt in it, never an older one. */
#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

void gs_fd_renew(struct gs_fd *d)
{
	__atomic_store_n(&d->gen, d->gen + 1, __ATOMIC_RELEASE);	/* read without the lock */
	STORE(d->kind, GS_FD_UNKNOWN);
	STORE(d->nonblock, -1);
	STORE(d->timeo[0], -1);
	STORE(d->timeo[1], -1);
}

void gs_fd_foreach(void (*fn)(int fd, struct gs_fd *d))
{
	for (int p = 0; p < NPAGES; p++) {
		struct gs_fd *pg = atomic_load(&pages[p]);
		if (pg)
			for (int i = 0; i < PAGE_FDS; i++)
				fn(p * PAGE_FDS + i, &pg[i]);
	}
}

void gs_fd_fork_reset(struct gs_fd *d)
{
	gs_lock_reset(&d->lock);
	gs_lock_reset(&d->flip);
}

/* ---- facts ---- */

int gs_fd_cached_nonblock(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (!d || __atomic_load_n(&d->nb_epoch, __ATOMIC_ACQUIRE) !=
			  atomic_load_explicit(&epoch, memory_order_relaxed))
		return -1;
	return LOAD(d->nonblock);
}

void gs_fd_set_nonblock(int fd, int nb)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (!d)
		return;
	STORE(d->nonblock, nb);
	__atomic_store_n(&d->nb_epoch, atomic_load(&epoch), __ATOMIC_RELEASE);
}

/* ns, 0 none, -1 unknown */
int64_t gs_fd_cached_timeo(int fd, int mode)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (!d || __atomic_load_n(&d->timeo_epoch, __ATOMIC_ACQUIRE) !=
			  atomic_load_explicit(&epoch, memory_order_relaxed))
		return -1;
	return LOAD(d->timeo[dir(mode)]);
}

void gs_fd_set_timeo(int fd, int mode, int64_t ns)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (!d)
		return;
	uint32_t e = atomic_load(&epoch);
	if (LOAD(d->timeo_epoch) != e) {
		STORE(d->timeo[0], -1);
		STORE(d->timeo[1], -1);
	}
	STORE(d->timeo[dir(mode)], ns);
	__atomic_store_n(&d->timeo_epoch, e, __ATOMIC_RELEASE);
}

void gs_fd_invalidate_all(void)
{
	atomic_fetch_add(&epoch, 1);
}

/* Calls that set O_NONBLOCK for their own duration (accept, eventfd reads) on
 * one fd are serialised: else one restores the flags while another is in
 * its call, which then blocks. Held for a non-blocking syscall only. */
void gs_fd_flip_lock(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (d)
		gs_lock(&d->flip);
}

void gs_fd_flip_unlock(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (d)
		gs_unlock(&d->flip);
}

void gs_fd_set_kind(int fd, int kind)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (d)
		STORE(d->kind, kind);
}

int gs_fd_cached_kind(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	return d ? LOAD(d->kind) : GS_FD_UNKNOWN;
}

int gs_fd_kind(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	int k = d ? LOAD(d->kind) : GS_FD_UNKNOWN;
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
	gs_fd_set_kind(fd, k);
	return k;
}

bool gs_fd_user_nonblock(int fd)
{
	int nb = gs_fd_cached_nonblock(fd);
	if (nb < 0) {
		int saved = errno;
		int fl = REAL(fcntl)(fd, F_GETFL);
		errno = saved;
		nb = fl >= 0 && (fl & O_NONBLOCK);
		gs_fd_set_nonblock(fd, nb);
	}
	return nb;
}

uint64_t gs_fd_timeout(int fd, int mode)
{
	int64_t t = gs_fd_cached_timeo(fd, mode);
	if (t < 0) {
		struct timeval tv;
		socklen_t len = sizeof tv;
		int saved = errno;
		t = 0;
		if (getsockopt(fd, SOL_SOCKET, mode == NP_READ ? SO_RCVTIMEO : SO_SNDTIMEO, &tv, &len) == 0)
			t = (int64_t)tv.tv_sec * 1000000000 + (int64_t)tv.tv_usec * 1000;
		errno = saved;
		gs_fd_set_timeo(fd, mode, t);
	}
	return t ? gs_nanotime() + (uint64_t)t : 0;
}
