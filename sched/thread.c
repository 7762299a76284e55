/* sched/thread.c: the thread life-cycle protocol of a G: its exit's end
 * (gs_exited, called by proc.c when the G is off its stack), join, detach and
 * the cancellation request.
 *
 * g->joinstate (gs.h) is the one atomic word the exit and a join or detach
 * race on, and its loser frees g (musl's "the loser is responsible for
 * freeing thread resources"); g->joiner is glibc's joinid, the word join and
 * detach race on. Return values are pthread-style error numbers. */
#include <errno.h>
#include <limits.h>
#include "sync.h"

/* d has exited and is off its stack: a joiner may take it (J_EXITED, woken),
 * or, detached, nobody else holds it and it is freed here. */
void gs_exited(struct g *d)
{
	int js = J_JOINABLE;
	if (atomic_compare_exchange_strong(&d->joinstate, &js, J_EXITED))
		gs_futex_wake((_Atomic uint32_t *)&d->joinstate, INT_MAX);
	else
		gs_free_g(d);	/* detached: nobody else holds it */
}

/* glibc 2.36's __pthread_clockjoin_ex, in its order: a reaped thread is
 * ESRCH, a detached one EINVAL, joining oneself (or the thread that is
 * joining us) EDEADLK, a second joiner EINVAL; g->joiner is glibc's joinid,
 * the one word that join and detach race on. tryjoin is EBUSY while the
 * thread runs, detached or not. A join that times out or is cancelled lets
 * another one try, as glibc's cleanup does. */
int gs_join(struct g *g, void **ret, const struct timespec *abs, clockid_t clock, bool try)
{
	struct gs_when w = { abs, clock };
	struct g *self = gs_self();
	if (try && atomic_load(&g->joinstate) != J_EXITED)
		return EBUSY;
	struct g *j = atomic_load(&g->joiner);
	if (j == g)
		return EINVAL;
	if (g == self || (self && atomic_load(&self->joiner) == g))
		return EDEADLK;
	struct g *none = NULL;
	if (!atomic_compare_exchange_strong(&g->joiner, &none, self ? self : GS_JOINER_OUTSIDE))
		return EINVAL;
	uint64_t deadline = 0;
	bool have_deadline = false;
	while (atomic_load(&g->joinstate) != J_EXITED) {
		int r = 0;
		if (try)
			r = EBUSY;
		else if (!have_deadline) {
			r = gs_when_deadline(w, &deadline);
			have_deadline = true;
			if (r == ETIMEDOUT || (w.abs && !deadline && !r))
				r = ETIMEDOUT;
		}
		if (!r && self && atomic_load(&self->cancel_pending) && !self->cancel_disabled &&
		    !self->cancelling) {
			atomic_store(&g->joiner, NULL);
			gs_testcancel(self);
		}
		if (!r && gs_futex_wait((_Atomic uint32_t *)&g->joinstate, J_JOINABLE, deadline,
					GS_INTR_CANCEL, "join") == -ETIMEDOUT)
			r = ETIMEDOUT;
		if (r) {
			atomic_store(&g->joiner, NULL);
			return r;
		}
	}
	if (ret)
		*ret = g->ret;
	gs_free_g(g);
	return 0;
}

/* As glibc's: EINVAL if already detached, and 0 with no effect while
 * another thread joins g (the join goes on). */
int gs_detach(struct g *g)
{
	struct g *none = NULL;
	if (!atomic_compare_exchange_strong(&g->joiner, &none, g))
		return none == g ? EINVAL : 0;
	int js = J_JOINABLE;
	if (!atomic_compare_exchange_strong(&g->joinstate, &js, J_DETACHED)) {
		gs_assert(js == J_EXITED);
		gs_free_g(g);
	}
	return 0;
}

/* Deferred: g acts on it at its next cancellation point, or at once if it
 * waits interruptibly there; asynchronous: its futex wait or a safe PC. */
void gs_cancel(struct g *g)
{
	atomic_store(&g->cancel_pending, 1);
	if (g->cancel_disabled)
		return;
	if (g->cancel_async)
		gs_cancel_async_wake(g);
	else
		gs_interrupt(g);
}
