/* sched/signal.c: signals and green threads.
 *
 * Each G has its own mask (g->sigmask) and its own pending set. The OS thread
 * of an M runs with the mask of the G it runs (proc.c applies it on a switch
 * when it differs, which in most programs is never). A signal sent to a G
 * (pthread_kill) is made pending on the G, ends an interruptible wait of it
 * with EINTR, and is raised by the G itself the next time it runs, so the
 * handler runs in that G as natively.
 *
 * A process-directed signal reaches some OS thread. If a G runs there, the
 * handler runs in that G. If the M is idle in its scheduler, the signal is
 * passed on to a G that would natively take it (main's if main does not block
 * it, as the kernel prefers the main thread; otherwise a G waiting
 * interruptibly that does not block it). An idle M blocks exactly the signals
 * every G blocks, so "block in main, sigwait in one thread" keeps them pending
 * for sigwait.
 *
 * The OS thread's mask is the G's without the preemption signal (preempt.c),
 * whose deliveries that are not requests go to the program's action. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include "gs.h"
#include "real.h"
#include "netpoll.h"

#define NSIGS 64
static _Atomic int counted;			/* live Gs, whose masks are counted */
static _Atomic int blocked[NSIGS + 1];	/* how many of them block sig */

/* A G with mask set starts (d = 1) or ends (d = -1). An empty mask, the usual
 * one, costs one increment. */
static void count(const sigset_t *set, int d)
{
	uint64_t w;
	memcpy(&w, set, sizeof w);	/* signals 1..64, as glibc lays them out */
	atomic_fetch_add_explicit(&counted, d, memory_order_relaxed);
	for (; w; w &= w - 1)
		atomic_fetch_add_explicit(&blocked[__builtin_ctzll(w) + 1], d, memory_order_relaxed);
}

static int unblocked(int s)	/* how many live Gs leave s unblocked */
{
	return atomic_load_explicit(&counted, memory_order_relaxed) -
	       atomic_load_explicit(&blocked[s], memory_order_relaxed);
}

void gs_sig_g_start(struct g *g)
{
	count(&g->sigmask, 1);
}

void gs_sig_g_end(struct g *g)
{
	count(&g->sigmask, -1);
}

void gs_sig_setmask(struct g *g, const sigset_t *set)
{
	sigset_t old = g->sigmask;
	sigset_t n = *set;
	sigdelset(&n, SIGKILL);
	sigdelset(&n, SIGSTOP);
	count(&old, -1);
	count(&n, 1);
	g->sigmask = n;
	gs_sig_apply(g->m, &n);
	if (atomic_load(&g->sigpending))
		gs_sig_deliver(g);
}

/* Raises g's pending, unblocked signals on g's own OS thread: the kernel runs
 * each handler before tgkill returns, in g. Runs on g. */
void gs_sig_deliver(struct g *g)
{
	uint64_t p = atomic_load(&g->sigpending);
	for (int s = 1; s <= NSIGS && p; s++) {
		uint64_t bit = 1ull << (s - 1);
		if (!(p & bit) || sigismember(&g->sigmask, s))
			continue;
		atomic_fetch_and(&g->sigpending, ~bit);
		p &= ~bit;
		if (atomic_fetch_and(&g->sigkernel, ~bit) & bit) {
			/* Its OS thread copy is delivered now that the mask
			 * (applied before this) lets it through. */
			atomic_fetch_and(&g->m->sigdirected, ~bit);
			continue;
		}
		int saved = errno;
		REAL(pthread_kill)((pthread_t)g->m->self_pt, s);
		errno = saved;
	}
}

void gs_sig_apply(struct m *m, const sigset_t *set)
{
	sigset_t real = *set;
	if (gs_preempt_sig)
		sigdelset(&real, gs_preempt_sig);
	REAL(pthread_sigmask)(SIG_SETMASK, &real, NULL);
	m->sigmask = *set;
	m->sigmask_valid = 1;
}

void gs_sig_idle_mask(struct m *m)
{
	sigset_t set;
	sigemptyset(&set);
	for (int s = 1; s <= NSIGS; s++)
		if (s != SIGKILL && s != SIGSTOP && unblocked(s) <= 0)
			sigaddset(&set, s);
	if (m->sigmask_valid && !memcmp(&set, &m->sigmask, sizeof(uint64_t)))
		return;
	gs_sig_apply(m, &set);
}

static bool takes(struct g *g, int sig)
{
	uint64_t w = atomic_load(&g->parkword);
	return (w & PARK_WAITING) && __atomic_load_n(&g->interruptible, __ATOMIC_RELAXED) && !sigismember(&g->sigmask, sig) &&
	       atomic_load(&g->status) == G_WAITING;
}

/* On g, about to park interruptibly with signals pending: whether one it does
 * not block will run a handler (gs_park delivers it), which then ends the wait
 * as if it had come during it; intr_restart: every such handler has SA_RESTART
 * and the wait is one the kernel restarts. */
bool gs_sig_intr_self(struct g *g)
{
	uint64_t p = atomic_load(&g->sigpending);
	bool any = false, restart = true;
	for (int s = 1; s <= NSIGS && p; s++) {
		uint64_t bit = 1ull << (s - 1);
		if (!(p & bit))
			continue;
		p &= ~bit;
		if (sigismember(&g->sigmask, s))
			continue;
		struct sigaction sa;
		sigaction(s, NULL, &sa);
		any = true;
		if (!(sa.sa_flags & SA_RESTART))
			restart = false;
	}
	if (!any)
		return false;
	g->intr_restart = g->interruptible == GS_INTR_NORESTART && restart;
	g->intr_self = 1;
	return true;
}

/* Makes sig pending on g and wakes g from an interruptible wait so that the
 * handler runs in g; the wait then ends with EINTR, or goes on if the handler
 * has SA_RESTART and the call is one the kernel restarts. */
int gs_sig_send(struct g *g, int sig)
{
	struct sigaction sa;
	sigaction(sig, NULL, &sa);
	if (sa.sa_handler == SIG_IGN)
		return 0;
	if (sa.sa_handler == SIG_DFL) {
		/* Blocked by g: pending on g alone, for its sigwait, or raised
		 * when it unblocks it (gs_sig_deliver), as the kernel keeps a
		 * thread-directed signal. Else the default action is the
		 * process's. */
		if (sigismember(&g->sigmask, sig)) {
			uint64_t bit = 1ull << (sig - 1);
			struct m *m = g->m;
			if (!m) {	/* not started: kept on the G alone */
				atomic_fetch_or(&g->sigpending, bit);
				return 0;
			}
			/* Until the copy is queued, g's sigwait that finds the
			 * marks without it waits for it (shim/signal.c). */
			atomic_fetch_add(&g->sigsending, 1);
			atomic_fetch_or(&g->sigpending, bit);
			/* In move mode g stays on that OS thread from now on. */
			struct m *none = NULL;
			if (gs_move && g != gs_maing &&
			    atomic_compare_exchange_strong(&g->wired_m, &none, m))
				atomic_fetch_add(&m->nwired, 1);	/* m does not retire */
			if (atomic_load(&g->wired_m))
				m = atomic_load(&g->wired_m);
			/* Also on its M's OS thread, where a signalfd it
			 * reads finds it; marked so that another G's sigwait
			 * there does not take it. */
			atomic_fetch_or(&g->sigkernel, bit);
			atomic_fetch_or(&m->sigdirected, bit);
			int r = REAL(pthread_kill)((pthread_t)m->self_pt, sig);
			atomic_fetch_sub(&g->sigsending, 1);
			/* A G that waits in the netpoller (a signalfd read) must
			 * try again on its own OS thread: a signalfd is ready
			 * only to the thread the signal is pending on, not to
			 * the M that polls for everyone. */
			const char *why = __atomic_load_n(&g->waitreason, __ATOMIC_RELAXED);
			if (!r && atomic_load(&g->status) == G_WAITING && why &&
			    (!strncmp(why, "fd ", 3) || !strcmp(why, "poll")))
				gs_np_kick((int)(intptr_t)__atomic_load_n(&g->waitaddr, __ATOMIC_RELAXED));
			return r;
		}
		return REAL(pthread_kill)(g->m ? (pthread_t)g->m->self_pt : REAL(pthread_self)(), sig);
	}
	atomic_fetch_or(&g->sigpending, 1ull << (sig - 1));
	/* Wakes it; the G itself decides EINTR or SA_RESTART in gs_park's tail
	 * (gs_sig_intr_self), from every signal pending then. */
	if (__atomic_load_n(&g->interruptible, __ATOMIC_RELAXED) && !sigismember(&g->sigmask, sig))
		gs_interrupt(g);
	if (g == gs_self())
		gs_sig_deliver(g);
	return 0;
}

/* A handler is about to run on m's scheduler context: pass the signal on to
 * the G that natively takes it. Returns false if there is none (the handler
 * then runs here). In a signal handler: only trylock. */
bool gs_sig_redirect(struct m *m, int sig)
{
	struct g *target = NULL;
	if (gs_maing && !sigismember(&gs_maing->sigmask, sig)) {
		if (!takes(gs_maing, sig))
			return false;
		target = gs_maing;
	} else {
		if (!gs_trylock(&gs_allg_lock))
			return false;
		for (struct g *g = gs_allg; g; g = g->allnext)
			if (takes(g, sig)) {
				target = g;
				break;
			}
		gs_unlock(&gs_allg_lock);
	}
	if (!target)
		return false;
	gs_sig_send(target, sig);
	return true;
}
