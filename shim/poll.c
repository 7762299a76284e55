/* shim/poll.c: the program's own readiness calls: poll, ppoll, select,
 * pselect, epoll_wait, epoll_pwait (DESIGN.md §2.4). Each first asks the kernel
 * with a zero timeout; if nothing is ready the G parks on every fd of the set
 * in the netpoller (an epoll fd is itself pollable: one fd, so the epoll
 * calls go through the fd-call engine, sched/fdwait.c) and asks again when any
 * may be ready or the time is up. Always EINTR on a handler, as natively. */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include "io.h"

static uint64_t deadline_ms(int timeout)
{
	return timeout > 0 ? gs_nanotime() + (uint64_t)timeout * 1000000u : 0;
}

static uint64_t deadline_ts(const struct timespec *ts)
{
	if (!ts)
		return 0;
	uint64_t d = gs_nanotime() + (uint64_t)ts->tv_sec * 1000000000u + (uint64_t)ts->tv_nsec;
	return d ? d : 1;
}

/* A timeout the kernel refuses (EINVAL). */
static bool bad_ts(const struct timespec *ts)
{
	return ts && (ts->tv_nsec < 0 || ts->tv_nsec >= 1000000000L || ts->tv_sec < 0);
}

/* The p-forms' mask: set on g for the call (*old keeps g's own), then put back,
 * keeping errno. */
static void mask_begin(struct g *g, const sigset_t *mask, sigset_t *old)
{
	*old = g->sigmask;
	if (mask)
		gs_sig_setmask(g, mask);
}

static void mask_end(struct g *g, const sigset_t *mask, const sigset_t *old)
{
	if (mask) {
		int saved = errno;
		gs_sig_setmask(g, old);
		errno = saved;
	}
}

/* Parks g on the items until one may be ready or the deadline. 0: ask again;
 * -ETIMEDOUT; -EINTR; -EPERM (some fd cannot be polled: block natively). */
static int wait_items(struct g *g, struct gs_np_item *it, int n, uint64_t deadline)
{
	if (n == 0) {	/* nothing to wait on: a sleep */
		int r = deadline ? gs_sleep_until(deadline) : gs_sleep_until(UINT64_MAX / 2);
		return r == -EINTR ? -EINTR : -ETIMEDOUT;
	}
	int r = gs_np_wait_many(it, n, deadline, GS_INTR_ALWAYS);
	if (r == -EBADF)
		r = 0;	/* closed meanwhile: the next ask reports it */
	if (r == -EINTR)
		gs_testcancel(g);
	return r;
}

static int do_poll(struct g *g, struct pollfd *fds, nfds_t n, uint64_t deadline, bool forever,
		   const sigset_t *mask, const struct timespec *ts_for_real, int timeout_for_real)
{
	struct gs_np_item small[32], *it = small;	/* two per fd at most */
	if (n > 16 && !(it = malloc(n * 2 * sizeof *it)))
		return REAL(poll)(fds, n, timeout_for_real);
	int r;
	for (;;) {
		int k = 0;
		for (nfds_t i = 0; i < n; i++) {
			if (fds[i].fd < 0)
				continue;
			if (fds[i].events & (POLLIN | POLLPRI | POLLRDHUP) || !(fds[i].events & POLLOUT))
				it[k++] = (struct gs_np_item){ fds[i].fd, NP_READ, gs_np_snap(fds[i].fd, NP_READ), false };
			if (fds[i].events & POLLOUT)
				it[k++] = (struct gs_np_item){ fds[i].fd, NP_WRITE, gs_np_snap(fds[i].fd, NP_WRITE), false };
		}
		r = REAL(poll)(fds, n, 0);
		if (r != 0 || (!forever && !deadline))
			break;
		if (deadline && gs_nanotime() >= deadline)
			break;
		int w = wait_items(g, it, k, deadline);
		if (w == -ETIMEDOUT) {
			r = REAL(poll)(fds, n, 0);
			break;
		}
		if (w == -EINTR) {
			errno = EINTR;
			r = -1;
			break;
		}
		if (w == -EPERM) {
			r = ts_for_real ? REAL(ppoll)(fds, n, ts_for_real, mask) : REAL(poll)(fds, n, timeout_for_real);
			break;
		}
	}
	if (it != small) {
		int saved = errno;
		free(it);
		errno = saved;
	}
	return r;
}

IO_HOOK(int, poll, (struct pollfd *fds, nfds_t n, int timeout), (fds, n, timeout))
{
	struct g *g = gs_self();
	if (!g || timeout == 0)
		return REAL(poll)(fds, n, timeout);
	gs_testcancel(g);
	return do_poll(g, fds, n, deadline_ms(timeout), timeout < 0, NULL, NULL, timeout);
}

IO_HOOK(int, ppoll, (struct pollfd *fds, nfds_t n, const struct timespec *ts, const sigset_t *mask), (fds, n, ts, mask))
{
	struct g *g = gs_self();
	if (!g || (ts && ts->tv_sec == 0 && ts->tv_nsec == 0))
		return REAL(ppoll)(fds, n, ts, mask);
	if (bad_ts(ts)) {
		errno = EINVAL;
		return -1;
	}
	gs_testcancel(g);
	sigset_t old;
	mask_begin(g, mask, &old);
	int r = do_poll(g, fds, n, deadline_ts(ts), !ts, mask, ts, -1);
	mask_end(g, mask, &old);
	return r;
}

/* After a wait in which some fds of the sets were closed by another thread
 * and one of their old files had an event: Linux looks at the numbers again
 * and reports each closed one ready in every set it was asked in (it finds
 * POLLNVAL), the others as they are. Returns select's result. */
static int closed_ready(int nfds, fd_set **sets, unsigned long **o3, size_t bytes,
			struct gs_np_item *it, int *fdof, int k)
{
	for (int s = 0; s < 3; s++)
		if (sets[s])
			memcpy(sets[s], o3[s], bytes);
	for (int i = 0; i < k; i++)	/* ask about the others only */
		if (it[i].closed)
			for (int s = 0; s < 3; s++)
				if (sets[s])
					((unsigned long *)sets[s])[fdof[i] / 64] &= ~(1UL << (fdof[i] % 64));
	struct timeval zero = { 0, 0 };
	int r = REAL(select)(nfds, sets[0], sets[1], sets[2], &zero);
	if (r < 0)
		return r;
	for (int i = 0; i < k; i++) {
		if (!it[i].closed)
			continue;
		int fd = fdof[i];
		for (int s = 0; s < 3; s++) {
			unsigned long *word = sets[s] ? &((unsigned long *)sets[s])[fd / 64] : NULL;
			if (word && (o3[s][fd / 64] >> (fd % 64) & 1) && !(*word >> (fd % 64) & 1)) {
				*word |= 1UL << (fd % 64);
				r++;
			}
		}
	}
	return r;
}

/* The caller's sets are copied (as the kernel reads them: nfds bits, in whole
 * longs, so a program's own larger-than-FD_SETSIZE sets work); each ask gets
 * fresh copies of them. On an error (EINTR, EBADF, ...) the caller's sets are
 * left as passed, as Linux leaves them; on a timeout the last ask has cleared
 * them, as Linux does. */
static int do_select(struct g *g, int nfds, fd_set *rd, fd_set *wr, fd_set *ex, uint64_t deadline,
		     bool forever)
{
	if (nfds < 0) {
		errno = EINVAL;
		return -1;
	}
	size_t bytes = ((size_t)nfds + 63) / 64 * 8;
	fd_set *sets[3] = { rd, wr, ex };
	unsigned long small[3][FD_SETSIZE / (8 * sizeof(unsigned long))];
	unsigned long *orig = bytes <= sizeof small[0] ? &small[0][0] : malloc(3 * bytes);
	size_t cap = (size_t)(nfds ? nfds : 1) * 2;	/* items: two per fd at most */
	struct gs_np_item *it = malloc(cap * (sizeof *it + sizeof(int)));
	if (!it || !orig) {
		if (orig != &small[0][0])
			free(orig);
		free(it);
		errno = ENOMEM;
		return -1;
	}
	int *fdof = (int *)(it + cap);			/* each item's fd, as asked */
	unsigned long *o3[3];
	for (int s = 0; s < 3; s++) {
		o3[s] = bytes <= sizeof small[0] ? small[s] : orig + s * (bytes / sizeof *orig);
		if (sets[s])
			memcpy(o3[s], sets[s], bytes);
	}
#define ISSET(s, fd) (sets[s] && (o3[s][(fd) / 64] >> ((fd) % 64) & 1))
	int r;
	for (;;) {
		int k = 0;
		for (int fd = 0; fd < nfds; fd++) {
			if (ISSET(0, fd) || ISSET(2, fd)) {
				fdof[k] = fd;
				it[k++] = (struct gs_np_item){ fd, NP_READ, gs_np_snap(fd, NP_READ), false };
			}
			if (ISSET(1, fd)) {
				fdof[k] = fd;
				it[k++] = (struct gs_np_item){ fd, NP_WRITE, gs_np_snap(fd, NP_WRITE), false };
			}
		}
		for (int s = 0; s < 3; s++)
			if (sets[s])
				memcpy(sets[s], o3[s], bytes);
		struct timeval zero = { 0, 0 };
		r = REAL(select)(nfds, rd, wr, ex, &zero);
		if (r != 0 || (!forever && !deadline))
			break;
		if (deadline && gs_nanotime() >= deadline)
			break;
		int w = wait_items(g, it, k, deadline);
		if (w == -EINTR) {
			errno = EINTR;
			r = -1;
			break;
		}
		int nclosed = 0;
		for (int i = 0; i < k; i++)
			nclosed += it[i].closed;
		if (w == 0 && nclosed) {
			r = closed_ready(nfds, sets, o3, bytes, it, fdof, k);
			if (r != 0)
				break;
			continue;
		}
		if (w == -ETIMEDOUT || w == -EPERM) {
			for (int s = 0; s < 3; s++)
				if (sets[s])
					memcpy(sets[s], o3[s], bytes);
			r = REAL(select)(nfds, rd, wr, ex, &zero);
			if (w == -EPERM && r == 0)
				continue;
			break;
		}
	}
#undef ISSET
	int saved = errno;
	if (r < 0)	/* the zero-timeout asks may have cleared them */
		for (int s = 0; s < 3; s++)
			if (sets[s])
				memcpy(sets[s], o3[s], bytes);
	if (orig != &small[0][0])
		free(orig);
	free(it);
	errno = saved;
	return r;
}

IO_HOOK(int, select, (int nfds, fd_set *rd, fd_set *wr, fd_set *ex, struct timeval *tv), (nfds, rd, wr, ex, tv))
{
	struct g *g = gs_self();
	if (!g || (tv && tv->tv_sec == 0 && tv->tv_usec == 0))
		return REAL(select)(nfds, rd, wr, ex, tv);
	if (tv && (tv->tv_sec < 0 || tv->tv_usec < 0)) {
		errno = EINVAL;
		return -1;
	}
	gs_testcancel(g);
	uint64_t deadline = tv ? gs_nanotime() + (uint64_t)tv->tv_sec * 1000000000u + (uint64_t)tv->tv_usec * 1000u : 0;
	int r = do_select(g, nfds, rd, wr, ex, deadline, !tv);
	if (tv) {	/* Linux reports the time left */
		uint64_t now = gs_nanotime(), left = deadline > now ? deadline - now : 0;
		tv->tv_sec = (time_t)(left / 1000000000u);
		tv->tv_usec = (suseconds_t)(left % 1000000000u / 1000u);
	}
	return r;
}

IO_HOOK(int, pselect, (int nfds, fd_set *rd, fd_set *wr, fd_set *ex, const struct timespec *ts, const sigset_t *mask), (nfds, rd, wr, ex, ts, mask))
{
	struct g *g = gs_self();
	if (!g || (ts && ts->tv_sec == 0 && ts->tv_nsec == 0))
		return REAL(pselect)(nfds, rd, wr, ex, ts, mask);
	if (bad_ts(ts)) {
		errno = EINVAL;
		return -1;
	}
	gs_testcancel(g);
	sigset_t old;
	mask_begin(g, mask, &old);
	int r = do_select(g, nfds, rd, wr, ex, deadline_ts(ts), !ts);
	mask_end(g, mask, &old);
	return r;
}

/* epoll_wait and friends: one blocking call on the epoll fd (itself pollable)
 * through the fd-call engine (sched/fdwait.h), as a readiness call: tried with
 * a zero timeout, parked until the epoll fd polls readable, the call's own
 * deadline (then asked once more) or a handler (EINTR, as natively). If
 * another thread closes epfd meanwhile, the engine goes on with the same
 * epoll instance through the runtime's duplicate, as natively (IO_HOOK lets
 * go of it). */
struct epoll_call {
	struct gs_fdcall c;
	struct epoll_event *ev;
	int max, timeout;
	const sigset_t *mask;
};

static int epoll_try(struct gs_fdcall *c, bool block)
{
	struct epoll_call *e = (struct epoll_call *)c;
	if (block) {	/* the epoll fd cannot be polled: the real call */
		c->ret = REAL(epoll_pwait)(c->fd, e->ev, e->max, e->timeout, e->mask);
		return GS_FDC_DONE;
	}
	int r = REAL(epoll_wait)(c->fd, e->ev, e->max, 0);
	if (r != 0 || (c->w.deadline && gs_nanotime() >= c->w.deadline)) {
		c->ret = r;
		return GS_FDC_DONE;
	}
	return GS_FDC_AGAIN;
}

static int do_epoll(struct g *g, int epfd, struct epoll_event *ev, int max, uint64_t deadline, int timeout,
		    const sigset_t *mask)
{
	struct epoll_call e = {
		.c = { .fd = epfd, .mode = NP_READ, .try = epoll_try,
		       .w = { .deadline = deadline, .have_deadline = true, .intr = GS_INTR_ALWAYS,
			      .readiness = true } },
		.ev = ev, .max = max, .timeout = timeout, .mask = mask,
	};
	return (int)gs_fd_call(g, &e.c);
}

IO_HOOK(int, epoll_wait, (int epfd, struct epoll_event *ev, int max, int timeout), (epfd, ev, max, timeout))
{
	struct g *g = gs_self();
	if (!g || timeout == 0 || max <= 0)
		return REAL(epoll_wait)(epfd, ev, max, timeout);
	gs_testcancel(g);
	return do_epoll(g, epfd, ev, max, deadline_ms(timeout), timeout, NULL);
}

IO_HOOK(int, epoll_pwait, (int epfd, struct epoll_event *ev, int max, int timeout, const sigset_t *mask), (epfd, ev, max, timeout, mask))
{
	struct g *g = gs_self();
	if (!g || timeout == 0 || max <= 0)
		return REAL(epoll_pwait)(epfd, ev, max, timeout, mask);
	gs_testcancel(g);
	sigset_t old;
	mask_begin(g, mask, &old);
	int r = do_epoll(g, epfd, ev, max, deadline_ms(timeout), timeout, mask);
	mask_end(g, mask, &old);
	return r;
}

IO_HOOK(int, epoll_pwait2, (int epfd, struct epoll_event *ev, int max, const struct timespec *ts,
			   const sigset_t *mask), (epfd, ev, max, ts, mask))
{
	struct g *g = gs_self();
	if (!g || max <= 0 || (ts && ts->tv_sec == 0 && ts->tv_nsec == 0))
		return REAL(epoll_pwait2)(epfd, ev, max, ts, mask);
	if (bad_ts(ts)) {
		errno = EINVAL;
		return -1;
	}
	gs_testcancel(g);
	sigset_t old;
	mask_begin(g, mask, &old);
	int ms = ts ? (int)(ts->tv_sec * 1000 + ts->tv_nsec / 1000000) : -1;
	int r = do_epoll(g, epfd, ev, max, deadline_ts(ts), ms, mask);
	mask_end(g, mask, &old);
	return r;
}
