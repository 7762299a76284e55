/* sched/netpoll.c: the netpoller: Gs that wait for an fd to become readable
 * or writable park here, and Ms make them runnable from readiness events.
 *
 * Backend contract (netpoll_epoll.c; one per kernel interface):
 *   gs_np_backend_init()            create the poller and its wake-up channel
 *   gs_np_backend_add(fd, key)      watch fd for both directions, edge-triggered
 *   gs_np_backend_del(fd)           stop watching it
 *   gs_np_backend_wait(ms)          wait, calling gs_np_ready(key, mode) per event
 *   gs_np_backend_break()           make a blocked gs_np_backend_wait return
 *
 * Each fd number has a descriptor in the fd table (fdtable.c) with a
 * generation (bumped when the number is closed or reused, and part of the key
 * the backend reports, so an event of an old file never wakes a waiter of a
 * new one: DESIGN.md §2.5); this file keeps in it, per direction, an event
 * count and the list of waiting Gs. A hook snapshots the
 * count before trying its call; gs_np_wait() parks only if no event came since.
 *
 * Ms poll without blocking when they look for work; when nothing is runnable
 * at most one M blocks in the backend (proc.c), woken by gs_np_break().
 *
 * close() of a number Gs are parked on (DESIGN.md §2.5): natively their calls
 * hold the open file and go on with it; the number is free at once. So the
 * closer first duplicates the fd to a "ghost" number of ours, high in the fd
 * range (F_DUPFD_CLOEXEC), moves every parked waiter to it (each waiter record
 * gets the ghost's number and holds a reference on it) and wakes them; each
 * retries its call on the ghost and waits there. The old number's epoll entry
 * is deleted before the close (an entry follows the open file, not the number,
 * and would outlive it); the ghost gets its own. The last G to let go of a
 * ghost (its call returned) closes it, and with it the file if that was the
 * last reference, as natively. Without a free number (EMFILE) the waiters are
 * woken with -EBADF instead. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "fdtable.h"
#include "netpoll.h"
#include "real.h"

struct np_waiter {
	struct np_waiter *next, *prev;
	struct g *g;
	uint64_t seq;
	int mode;		/* NP_READ or NP_WRITE list it is on */
	_Atomic bool queued;	/* desc lock; cleared last (release) by whoever
				 * takes it off, which then no longer touches it:
				 * the G may read it without the lock (acquire) */
	int moved;		/* the ghost its fd went on as, + 1; 0 none (desc lock) */
};


#define UNWATCHED_NS 5000000	/* how often a wait on an fd epoll refused looks again */
static _Atomic int nwaiting;		/* Gs parked on fds */
static _Atomic int inited;
static gs_lock_t init_lock = GS_LOCK_INIT(NPINIT);

static int dir(int mode)
{
	return mode == NP_WRITE ? 1 : 0;
}

static int ensure_init(void)
{
	if (likely(atomic_load_explicit(&inited, memory_order_acquire)))
		return 0;
	gs_lock(&init_lock);
	int r = 0;
	if (!atomic_load(&inited)) {
		r = gs_np_backend_init();
		if (!r)
			atomic_store(&inited, 1);
	}
	gs_unlock(&init_lock);
	return r;
}

bool gs_np_waiting(void)
{
	return atomic_load_explicit(&nwaiting, memory_order_relaxed) > 0;
}

bool gs_np_watching(void)
{
	return gs_np_waiting() || gs_np_backend_watched() >= 0;
}

int gs_np_watch(int fd)
{
	int r = ensure_init();
	return r ? r : gs_np_backend_watch(fd);
}

int gs_np_watched_fd(void)
{
	return gs_np_backend_watched();
}

static _Atomic uint64_t lastpoll;	/* when a poll last returned (for sysmon) */

int gs_np_poll(int timeout_ms)
{
	if (!atomic_load_explicit(&inited, memory_order_acquire))
		return 0;
	int n = gs_np_backend_wait(timeout_ms);
	atomic_store_explicit(&lastpoll, gs_nanotime(), memory_order_relaxed);
	return n;
}

uint64_t gs_np_lastpoll(void)
{
	return atomic_load_explicit(&lastpoll, memory_order_relaxed);
}

void gs_np_break(void)
{
	if (atomic_load(&inited))
		gs_np_backend_break();
}

static void unlink_w(struct gs_fd *d, struct np_waiter *w)	/* lock held */
{
	int k = dir(w->mode);
	if (w->prev)
		w->prev->next = w->next;
	else
		d->head[k] = w->next;
	if (w->next)
		w->next->prev = w->prev;
	else
		d->tail[k] = w->prev;
	atomic_store_explicit(&w->queued, false, memory_order_release);	/* w is the G's again */
}

/* Takes every waiter of the given directions off d; readies them after the
 * lock is dropped (their records live on their stacks until they run). */
static void wake_all(struct gs_fd *d, int mode, bool bump)
{
	struct { struct g *g; uint64_t seq; } batch[16];	/* small: this runs on G stacks */
	for (;;) {
		int k = 0;
		bool more = false;
		gs_lock(&d->lock);
		for (int m = NP_READ; m <= NP_WRITE; m <<= 1) {
			if (!(mode & m))
				continue;
			if (bump)
				d->count[dir(m)]++;
			while (d->head[dir(m)]) {
				if (k == 16) {
					more = true;
					break;
				}
				struct np_waiter *w = d->head[dir(m)];
				batch[k].g = w->g;
				batch[k].seq = w->seq;
				unlink_w(d, w);	/* the last touch of w */
				k++;
			}
		}
		gs_unlock(&d->lock);
		for (int i = 0; i < k; i++)
			gs_ready(batch[i].g, batch[i].seq);
		if (!more)
			return;
		bump = false;
	}
}

void gs_np_ready(uint64_t key, int mode)
{
	int fd = (int)(uint32_t)key;
	struct gs_fd *d = gs_fd_get(fd);
	if (!d || (uint32_t)(key >> 32) != d->gen)
		return;	/* an event of a file this number no longer names */
	wake_all(d, mode, true);
}

struct gs_np_snap gs_np_snap(int fd, int mode)
{
	struct gs_fd *d = gs_fd_get(fd);
	struct gs_np_snap s = { 0, 0 };
	if (d) {
		s.gen = atomic_load_explicit((_Atomic uint32_t *)&d->gen, memory_order_acquire);
		s.count = atomic_load_explicit((_Atomic uint32_t *)&d->count[dir(mode)], memory_order_acquire);
	}
	return s;
}

/* Watches fd for d. Returns 0; -EPERM when epoll cannot watch it (a regular
 * file: the caller makes the real, blocking call, as natively; a closed fd
 * too: the real call reports EBADF); or -EAGAIN when a kernel limit refuses
 * (no epoll instance under RLIMIT_NOFILE or memory, fs.epoll.max_user_watches,
 * ENOMEM): the waiter then looks again every UNWATCHED_NS instead (see
 * gs_np_wait_many), never blocking its M on a socket nor failing a call that
 * would not fail natively. A limit is told on stderr once. */
static int arm(int fd, struct gs_fd *d)
{
	static _Atomic int told;
	if (d->registered)
		return 0;
	int r = ensure_init();
	if (!r) {
		gs_lock(&d->lock);
		uint64_t key = (uint64_t)(uint32_t)fd | ((uint64_t)d->gen << 32);
		if (!d->registered) {
			r = gs_np_backend_add(fd, key);
			if (!r)
				d->registered = true;
		}
		gs_unlock(&d->lock);
	}
	if (!r)
		return 0;
	if (r == -EPERM || r == -EBADF)
		return -EPERM;
	if (!atomic_exchange(&told, 1))
		gs_printf("cannot watch fd %d (%s): waits on such fds look again every %d ms",
			  fd, strerror(-r), UNWATCHED_NS / 1000000);
	return -EAGAIN;
}

/* Queues w on d unless an event came since snap: 0 queued, 1 an event came,
 * -EBADF the fd was closed or reused. Lock held. */
static int enqueue(struct gs_fd *d, struct np_waiter *w, struct gs_np_snap snap)
{
	int k = dir(w->mode);
	if (d->gen != snap.gen)
		return -EBADF;
	if (d->count[k] != snap.count)
		return 1;
	w->next = NULL;
	w->prev = d->tail[k];
	if (d->tail[k])
		d->tail[k]->next = w;
	else
		d->head[k] = w;
	d->tail[k] = w;
	w->queued = true;
	return 0;
}

static void ghost_put(int ghost);
static void forget(struct gs_fd *d);

/* Parks the calling G until one of the n items may be ready (0: ask again),
 * the deadline (-ETIMEDOUT; 0 none), a signal (-EINTR, per intr) or its fd
 * is reused (-EBADF). -EPERM: some fd cannot be watched (block natively). An
 * fd a kernel limit keeps out of epoll (arm's -EAGAIN) is not queued: the G
 * wakes after UNWATCHED_NS to ask again. it[] may be rewritten: an item whose
 * fd is closed meanwhile is moved to its ghost. movefd: a single wait whose
 * call goes on with the ghost (*movefd becomes its number, the G holds it);
 * NULL: the items go on waiting on their ghosts, released before returning. */
/* w and held: n entries each from the caller, held zeroed (the waiters live
 * in the caller's frame: an idle G's deepest frames are the park path's, and
 * the single-fd wait of read and write keeps one, not eight). */
__attribute__((noinline)) static int wait_many(struct gs_np_item *it, int n, uint64_t deadline,
						int intr, int *movefd, struct np_waiter *w, int *held)
{
	struct g *g = gs_self();
	int r = 0;
	bool unwatched = false;
	for (int i = 0; i < n; i++) {
		struct gs_fd *d = gs_fd_get(it[i].fd);
		int a = !d ? (it[i].fd < 0 ? -EBADF : -EAGAIN) : arm(it[i].fd, d);
		w[i] = (struct np_waiter){ .g = NULL };	/* not to be queued unless set below */
		if (a == -EAGAIN) {
			unwatched = true;
			continue;
		}
		if (a) {
			r = a;
			goto out;
		}
		w[i].g = g;
	}
again:
	if (intr && atomic_exchange(&g->interrupted, 0)) {
		r = -EINTR;
		goto out;
	}
	uint64_t wake = deadline;
	bool tick = false;
	if (unwatched) {
		uint64_t t = gs_nanotime() + UNWATCHED_NS;
		if (!wake || t < wake) {
			wake = t;
			tick = true;
		}
	}
	__atomic_store_n(&g->interruptible, intr, __ATOMIC_RELAXED);	/* before the park word: see gs_interrupt */
	uint64_t seq = gs_park_prepare(g, n > 1 ? "poll" : it[0].mode == NP_READ ? "fd read" :
					  it[0].mode == NP_WRITE ? "fd write" : "fd read/write", NULL);
	int queued = 0, nq = 0;
	bool early = false;
	for (int i = 0; i < n && !early; i++) {
		queued = i + 1;
		if (!w[i].g)
			continue;
		struct gs_fd *d = gs_fd_get(it[i].fd);
		w[i] = (struct np_waiter){ .g = g, .seq = seq, .mode = it[i].mode };
		gs_lock(&d->lock);
		int e = enqueue(d, &w[i], it[i].snap);
		gs_unlock(&d->lock);
		if (e) {
			early = true;
			queued = i;
		} else {
			nq++;
		}
		if (e < 0)
			r = e;
	}
	if (early) {
		if (!gs_park_cancel(g, seq))
			gs_park(g);	/* a waker got there first: take its wakeup */
	} else {
		if (wake && gs_g_timer_add(g, wake, seq) != 0)
			wake = 0;
		atomic_fetch_add(&nwaiting, 1);
		__atomic_store_n(&g->waitaddr, (void *)(intptr_t)it[0].fd, __ATOMIC_RELAXED);
		if (intr)
			gs_park_check_intr(g, seq);
		gs_park(g);
		atomic_fetch_sub(&nwaiting, 1);
		if (wake)
			gs_g_timer_del(g);
	}
	__atomic_store_n(&g->interruptible, 0, __ATOMIC_RELAXED);
	int still = 0;		/* waiters nobody took off: no event for them */
	int moved = 0;		/* waiters the closer of their fd took off */
	for (int i = 0; i < queued; i++) {
		if (atomic_load_explicit(&w[i].queued, memory_order_acquire)) {
			struct gs_fd *d = gs_fd_get(it[i].fd);
			gs_lock(&d->lock);
			if (w[i].queued) {
				unlink_w(d, &w[i]);
				still++;
			}
			gs_unlock(&d->lock);
		}
		int m = w[i].moved;	/* written before queued was cleared */
		if (m) {	/* go on with the same open file, at the ghost */
			moved++;
			if (movefd) {
				*movefd = m - 1;
				g->np_ghost = m;
			} else {
				if (held[i])
					ghost_put(held[i] - 1);	/* cannot happen: ghosts are never closed by the program */
				held[i] = m;
				it[i].closed = true;
				it[i].fd = m - 1;
				it[i].snap = gs_np_snap(m - 1, it[i].mode);
				struct gs_fd *gd = gs_fd_get(m - 1);
				int a = gd ? arm(m - 1, gd) : -EPERM;
				if (a)
					r = a == -EPERM ? -EPERM : a;
			}
		}
	}
	if (!early) {
		if (intr && gs_park_interrupted(g))
			r = -EINTR;
		else if (!r && moved && !movefd && still + moved == nq)
			goto again;	/* only moves: natively the call sleeps on */
		else if (!r && !moved && still == nq)	/* nothing fired: the timer */
			r = tick ? 0 : -ETIMEDOUT;
		if (!(movefd && moved))	/* a single moved wait retries on its ghost */
			for (int i = 0; i < n; i++) {
				struct gs_fd *d = gs_fd_get(it[i].fd);
				if (d && d->gen != it[i].snap.gen)
					r = -EBADF;
			}
	} else if (r > 0) {
		r = 0;
	}
out:
	for (int i = 0; i < n; i++)
		if (held[i])
			ghost_put(held[i] - 1);
	return r;
}

int gs_np_wait_many(struct gs_np_item *it, int n, uint64_t deadline, int intr)
{
	if (n <= 8) {
		struct np_waiter w[8];
		int held[8] = { 0 };	/* ghosts + 1 */
		return wait_many(it, n, deadline, intr, NULL, w, held);
	}
	struct np_waiter *w = calloc((size_t)n, sizeof *w);
	int *held = calloc((size_t)n, sizeof *held);
	int r = w && held ? wait_many(it, n, deadline, intr, NULL, w, held) : -ENOMEM;
	free(w);
	free(held);
	return r;
}

int gs_np_wait(int *fd, int mode, struct gs_np_snap snap, uint64_t deadline, int intr)
{
	struct gs_np_item it = { *fd, mode, snap, false };
	struct np_waiter w;
	int held = 0;
	return wait_many(&it, 1, deadline, intr, fd, &w, &held);
}

void gs_np_close(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (!d)
		return;
	gs_lock(&d->lock);
	bool reg = d->registered;
	forget(d);
	gs_unlock(&d->lock);
	if (reg)
		gs_np_backend_del(fd);
	wake_all(d, NP_READ | NP_WRITE, false);
}

/* A number for a ghost of fd: high, below the backend's own (netpoll_epoll.c),
 * so the program keeps the low numbers it expects. -1 if none is free. */
static int dup_high(int fd)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return -1;
	long top = rl.rlim_cur > 65536 ? 65536 : (long)rl.rlim_cur;
	long base = top >= 1024 ? top - 256 : top / 2;
	int saved = errno;
	int r = REAL(fcntl)(fd, F_DUPFD_CLOEXEC, (int)base);
	errno = saved;
	return r;
}

/* Resets d for a number that now names nothing we know. Lock held. */
static void forget(struct gs_fd *d)
{
	gs_fd_renew(d);
	d->registered = false;
}

/* Lets go of one reference on a ghost; the last closes it. Keeps errno. */
static void ghost_put(int ghost)
{
	struct gs_fd *gd = gs_fd_get(ghost);
	if (atomic_fetch_sub(&gd->ghost_refs, 1) != 1)
		return;
	int saved = errno;
	gs_lock(&gd->lock);
	bool reg = gd->registered;
	forget(gd);
	gd->ghost = false;
	gs_unlock(&gd->lock);
	if (reg)
		gs_np_backend_del(ghost);
	REAL(close)(ghost);	/* not our hook: it refuses ghosts */
	errno = saved;
}

void gs_np_ghost_drop_slow(struct g *g)
{
	int ghost = g->np_ghost - 1;
	g->np_ghost = 0;
	ghost_put(ghost);
}

bool gs_np_is_ghost(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	return d && d->ghost;
}

void gs_np_close_waited(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (!d)
		return;
	gs_lock(&d->lock);
	if (likely(!d->head[0] && !d->head[1])) {	/* nobody waits: just forget it */
		bool reg = d->registered;
		forget(d);
		gs_unlock(&d->lock);
		if (reg)
			gs_np_backend_del(fd);
		return;
	}
	gs_unlock(&d->lock);
	int ghost = dup_high(fd);
	struct gs_fd *gd = ghost >= 0 ? gs_fd_get(ghost) : NULL;
	if (!gd) {
		if (ghost >= 0)
			REAL(close)(ghost);
		gs_np_close(fd);
		return;
	}
	gs_lock(&gd->lock);
	forget(gd);
	gd->ghost = true;
	atomic_store(&gd->ghost_refs, 1);	/* ours, until the waiters hold theirs */
	gs_unlock(&gd->lock);
	struct { struct g *g; uint64_t seq; } batch[16];	/* small: this runs on G stacks */
	bool first = true, more = true, reg = false;
	while (more) {
		int k = 0;
		more = false;
		gs_lock(&d->lock);
		if (first) {	/* from here no event of the old file reaches d's waiters */
			gd->kind = d->kind;
			reg = d->registered;
			forget(d);
			first = false;
		}
		for (int m = 0; m < 2 && !more; m++) {
			while (d->head[m]) {
				if (k == 16) {
					more = true;
					break;
				}
				struct np_waiter *w = d->head[m];
				w->moved = ghost + 1;
				atomic_fetch_add(&gd->ghost_refs, 1);
				batch[k].g = w->g;
				batch[k].seq = w->seq;
				unlink_w(d, w);	/* the last touch of w */
				k++;
			}
		}
		gs_unlock(&d->lock);
		if (first == false && reg) {
			gs_np_backend_del(fd);	/* the file's entry would outlive the number */
			reg = false;
		}
		for (int i = 0; i < k; i++)
			gs_ready(batch[i].g, batch[i].seq);
	}
	ghost_put(ghost);
}

void gs_np_kick(int fd)
{
	struct gs_fd *d = gs_fd_get(fd);
	if (d)
		wake_all(d, NP_READ | NP_WRITE, true);
}

/* In the child after fork: d as no G waits on it (none of the parent's Gs
 * is in the child), a ghost closed. */
static void fork_desc(int fd, struct gs_fd *d)
{
	gs_fd_fork_reset(d);
	d->registered = false;
	d->head[0] = d->head[1] = d->tail[0] = d->tail[1] = NULL;
	if (d->ghost) {	/* its Gs are not in the child */
		REAL(close)(fd);
		forget(d);
		d->ghost = false;
		atomic_store(&d->ghost_refs, 0);
	}
}

/* The child shares the parent's epoll instance: make its own. */
void gs_np_fork_child(void)
{
	gs_lock_reset(&init_lock);
	atomic_store(&nwaiting, 0);
	if (!atomic_load(&inited))
		return;
	gs_np_backend_fork_child();
	atomic_store(&inited, 0);
	gs_fd_foreach(fork_desc);
}
