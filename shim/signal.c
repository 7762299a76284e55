/* shim/signal.c: the signal hooks (DESIGN.md §2.7): handlers are wrapped so a
 * signal that lands on an idle M reaches the G that natively takes it
 * (sched/signal.c); masks and pthread_kill are per G; pause, sigsuspend and
 * the sigwait family park the G. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include "shim.h"


#define NSIGS 64
static struct sigaction user[NSIGS + 1];	/* the program's handlers we wrap */
static _Atomic int wrapped[NSIGS + 1];

static struct g *as_g(pthread_t t)
{
	struct g *g = (struct g *)t;
	return (g && g->magic == GS_G_MAGIC) ? g : NULL;
}

static void wrapper(int sig, siginfo_t *si, void *uc)
{
	struct m *m = gs_curm;
	if (m && !m->curg && gs_sig_redirect(m, sig))
		return;
	struct sigaction *u = &user[sig];
	int flags = u->sa_flags;
	if (flags & SA_RESETHAND)
		atomic_store(&wrapped[sig], 0);
	struct g *g = m ? m->curg : NULL;
	void *outer = NULL;
	if (g) {
		g->nhandled++;
		outer = g->handler_sp;	/* not preempted below this frame: preempt.c */
		g->handler_sp = __builtin_frame_address(0);
	}
	if (flags & SA_SIGINFO)
		u->sa_sigaction(sig, si, uc);
	else if (u->sa_handler != SIG_IGN && u->sa_handler != SIG_DFL)
		u->sa_handler(sig);
	if (g)
		g->handler_sp = outer;
}

/* A delivery of the preemption signal that is not a request: the program's
 * action for it (sched/preempt.c keeps the kernel's action ours). */
static siginfo_t held;			/* of the one a G blocked, for its re-raise */
static _Atomic int held_valid;
/* Process-directed deliveries of the preemption signal that the G they
 * landed on blocks: pending for the process (sigwait, sigpending), as the
 * kernel would keep them; one at a time (later ones merge). */
static _Atomic uint64_t proc_pending;
/* Deliveries of it being looked at (whether the G blocks it) right now: a
 * kill() to the process may land on another M, and the caller's next
 * sigpending must not fall between the kernel's dequeue and proc_pending. */
static _Atomic int forwarding;

/* g unblocked signals: one pending for the process goes to it. */
static void take_proc_pending(struct g *g)
{
	uint64_t p = atomic_load(&proc_pending);
	for (int s = 1; s <= NSIGS && p; s++) {
		uint64_t bit = 1ull << (s - 1);
		if ((p & bit) && !sigismember(&g->sigmask, s) &&
		    (atomic_fetch_and(&proc_pending, ~bit) & bit)) {
			gs_sig_send(g, s);	/* its re-raise carries the held siginfo */
		}
	}
}

static void preempt_forward(int sig, siginfo_t *si, void *uc)
{
	struct m *m = gs_curm;
	struct g *g = m ? m->curg : NULL;
	siginfo_t info;
	if (si->si_code == SI_TKILL && si->si_pid == getpid() && atomic_exchange(&held_valid, 0)) {
		info = held;	/* our re-raise of a held one (sched/signal.c): its siginfo */
		si = &info;
	}
	/* The kernel cannot keep it pending for us (no M blocks it), and only
	 * our own re-raise of an unblocked one is directed at this thread: a
	 * delivery the G here (or main, on an idle M) blocks is the process's,
	 * pending for any G's sigwait, or for the first G to unblock it. */
	int action = atomic_load(&wrapped[sig]);
	if (action != 2) {
		struct g *tg = g ? g : gs_maing;
		atomic_fetch_add(&forwarding, 1);
		if (!g && m && action == 1 && gs_sig_redirect(m, sig)) {
			atomic_fetch_sub(&forwarding, 1);
			return;
		}
		if (tg && sigismember(&tg->sigmask, sig)) {
			held = *si;
			atomic_store(&held_valid, 1);
			atomic_fetch_or(&proc_pending, 1ull << (sig - 1));
			atomic_fetch_sub(&forwarding, 1);
			return;
		}
		atomic_fetch_sub(&forwarding, 1);
	}
	switch (action) {
	case 1: {
		if (!g && m) {	/* an idle M: to the G that natively takes it */
			if (gs_sig_redirect(m, sig))
				return;
			g = gs_maing;
		}
		/* What the kernel would block for the program's action. */
		sigset_t block = user[sig].sa_mask, old;
		if (!(user[sig].sa_flags & SA_NODEFER))
			sigaddset(&block, sig);
		REAL(pthread_sigmask)(SIG_BLOCK, &block, &old);
		wrapper(sig, si, uc);
		REAL(pthread_sigmask)(SIG_SETMASK, &old, NULL);
		return;
	}
	case 2:
		return;
	default: {	/* the default action of a real-time signal: terminate */
		struct sigaction dfl = { .sa_handler = SIG_DFL };
		REAL(sigaction)(sig, &dfl, NULL);
		REAL(raise)(sig);
	}
	}
}

/* SIGSEGV stays ours (on each M's alternate stack) so that a fault in a
 * green thread's guard page is reported as a stack overflow; the program's
 * own SIGSEGV action is kept in user[] and applied from there. */
static void on_segv(int sig, siginfo_t *si, void *uc)
{
	struct sigaction *u = &user[sig];
	if (!gs_overflow_check(si->si_addr) && atomic_load(&wrapped[sig])) {
		if (u->sa_flags & SA_SIGINFO)
			u->sa_sigaction(sig, si, uc);
		else
			u->sa_handler(sig);
		return;
	}
	/* The default action: returning re-runs the fault, which now kills. */
	struct sigaction dfl = { .sa_handler = SIG_DFL };
	REAL(sigaction)(sig, &dfl, NULL);
	if (atomic_load(&wrapped[sig]) == 2)	/* the program ignores it */
		return;
}

__attribute__((constructor)) static void segv_init(void)
{
	struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER };
	sigemptyset(&sa.sa_mask);
	REAL(sigaction)(SIGSEGV, &sa, NULL);
	gs_preempt_forward = preempt_forward;
}

/* sigaction for a signal whose kernel action stays ours (SIGSEGV, the
 * preemption signal): the program's action is kept in user[] and wrapped[]. */
static int owned_action(int sig, const struct sigaction *act, struct sigaction *old)
{
	struct sigaction prev = user[sig];
	int was = atomic_load(&wrapped[sig]);
	if (old) {
		if (was == 1) {
			*old = prev;
		} else {
			memset(old, 0, sizeof *old);
			old->sa_handler = was == 2 ? SIG_IGN : SIG_DFL;
		}
	}
	if (act) {
		user[sig] = *act;
		atomic_store(&wrapped[sig], act->sa_handler == SIG_DFL ? 0 :
			     act->sa_handler == SIG_IGN ? 2 : 1);
	}
	return 0;
}

GS_EXPORT int sigaction(int sig, const struct sigaction *act, struct sigaction *old)
{
	if (sig == SIGSEGV || (sig == gs_preempt_sig && sig != 0))
		return owned_action(sig, act, old);
	if (sig < 1 || sig > NSIGS)
		return REAL(sigaction)(sig, act, old);
	struct sigaction prev = user[sig];
	int was = atomic_load(&wrapped[sig]) == 1;
	int r;
	if (!act || act->sa_handler == SIG_IGN || act->sa_handler == SIG_DFL) {
		r = REAL(sigaction)(sig, act, old);
		if (!r && act)
			atomic_store(&wrapped[sig], 0);
	} else {
		struct sigaction w = *act;
		w.sa_sigaction = wrapper;
		w.sa_flags |= SA_SIGINFO;
		user[sig] = *act;
		atomic_store(&wrapped[sig], 1);
		r = REAL(sigaction)(sig, &w, old);
		if (r) {
			user[sig] = prev;
			atomic_store(&wrapped[sig], was);
		}
	}
	if (!r && old && was)
		*old = prev;
	return r;
}

/* glibc's signal() calls its internal sigaction: route it through ours, with
 * glibc's BSD semantics (SA_RESTART, the signal blocked in its handler). */
GS_EXPORT sighandler_t signal(int sig, sighandler_t h)
{
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = h;
	sigemptyset(&sa.sa_mask);
	if (sig >= 1 && sig <= NSIGS)
		sigaddset(&sa.sa_mask, sig);
	sa.sa_flags = SA_RESTART;
	if (sigaction(sig, &sa, &old) < 0)
		return SIG_ERR;
	return old.sa_handler;
}

static int mask(struct g *g, int how, const sigset_t *set, sigset_t *old)
{
	sigset_t n = g->sigmask;
	if (old)
		*old = g->sigmask;
	if (!set)
		return 0;
	switch (how) {
	case SIG_BLOCK:
		sigorset(&n, &n, set);
		break;
	case SIG_UNBLOCK:
		for (int s = 1; s <= NSIGS; s++)
			if (sigismember(set, s))
				sigdelset(&n, s);
		break;
	case SIG_SETMASK:
		n = *set;
		break;
	default:
		return EINVAL;
	}
	gs_sig_setmask(g, &n);
	if (unlikely(atomic_load_explicit(&proc_pending, memory_order_relaxed)))
		take_proc_pending(g);
	return 0;
}

GS_EXPORT int pthread_sigmask(int how, const sigset_t *set, sigset_t *old)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(pthread_sigmask)(how, set, old);
	int r = mask(g, how, set, old);
	gs_preempt_point();
	return r;
}

GS_EXPORT int sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sigprocmask)(how, set, old);
	int r = mask(g, how, set, old);
	gs_preempt_point();
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

GS_EXPORT int pthread_kill(pthread_t t, int sig)
{
	struct g *g = as_g(t);
	if (!g) {
		if (t && ((struct g *)t)->magic == GS_G_REAPED)	/* glibc: 0, nothing sent */
			return sig < 0 || sig > NSIGS ? EINVAL : 0;
		return REAL(pthread_kill)(t, sig);
	}
	if (sig < 0 || sig > NSIGS)
		return EINVAL;
	/* glibc 2.34 and later: 0 for a thread that has exited, nothing sent. */
	if (atomic_load(&g->status) == G_DEAD)
		return 0;
	int r = sig ? gs_sig_send(g, sig) : 0;
	gs_preempt_point();
	return r;
}

/* raise() is glibc's tgkill on the calling OS thread, where the signal would
 * stay pending for whichever G the M runs next: a G raises to itself. */
GS_EXPORT int raise(int sig)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(raise)(sig);
	int r = pthread_kill((pthread_t)g, sig);
	if (r) {
		errno = r;
		return -1;
	}
	return 0;
}

/* The G's pending set: the signals sent to it that it blocks, and the
 * process's (the kernel's answer for the M, which holds no other G's). */
GS_EXPORT int sigpending(sigset_t *set)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sigpending)(set);
	for (int i = 0; i < 100000 && atomic_load(&forwarding); i++)
		gs_arch_relax();	/* a delivery on another M is being recorded */
	if (REAL(sigpending)(set))
		return -1;
	uint64_t others = atomic_load(&g->m->sigdirected) & ~atomic_load(&g->sigkernel);
	for (int s = 1; s <= NSIGS && others; s++)
		if (others & (1ull << (s - 1)))
			sigdelset(set, s);	/* pending here for another G */
	uint64_t p = atomic_load(&g->sigpending) | atomic_load(&proc_pending);
	for (int s = 1; s <= NSIGS; s++)
		if (p & (1ull << (s - 1)))
			sigaddset(set, s);
	return 0;
}

/* Parks g until a signal handler or cancellation ends the wait. */
static void park_interruptible(struct g *g)
{
	_Atomic uint32_t never = 0;
	gs_futex_wait(&never, 0, 0, GS_INTR_ALWAYS, "pause");
}

GS_EXPORT int pause(void)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(pause)();
	gs_testcancel(g);
	unsigned before = g->nhandled;
	while (g->nhandled == before) {
		park_interruptible(g);
		gs_testcancel(g);
	}
	errno = EINTR;
	return -1;
}

GS_EXPORT int sigsuspend(const sigset_t *set)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sigsuspend)(set);
	gs_testcancel(g);
	sigset_t old = g->sigmask;
	unsigned before = g->nhandled;
	gs_sig_setmask(g, set);
	while (g->nhandled == before) {
		park_interruptible(g);
		gs_testcancel(g);
	}
	gs_sig_setmask(g, &old);
	errno = EINTR;
	return -1;
}

/* The sigwait family: signals every G blocks stay pending in the kernel
 * (idle Ms block them too); take one with a zero-timeout sigtimedwait, and
 * between tries park with a growing backoff (50 us .. 5 ms). */
static int wait_sig(struct g *g, const sigset_t *set, siginfo_t *info, const struct timespec *timeout,
		    bool restart)
{
	uint64_t deadline = 0, backoff = 50000;
	if (timeout) {
		if (timeout->tv_nsec < 0 || timeout->tv_nsec >= 1000000000L || timeout->tv_sec < 0) {
			errno = EINVAL;
			return -1;
		}
		deadline = gs_nanotime() + (uint64_t)timeout->tv_sec * 1000000000u + (uint64_t)timeout->tv_nsec;
	}
	for (;;) {
		gs_testcancel(g);
		bool copy_coming = false;
		uint64_t p = atomic_load(&g->sigpending);
		for (int s = 1; s <= NSIGS && p && !copy_coming; s++)
			if ((p & (1ull << (s - 1))) && sigismember(set, s)) {
				uint64_t bit = 1ull << (s - 1);
				atomic_fetch_and(&g->sigpending, ~bit);
				if (atomic_fetch_and(&g->sigkernel, ~bit) & bit) {
					/* Take its OS thread copy (with its
					 * siginfo); gone if a signalfd read it. */
					atomic_fetch_and(&g->m->sigdirected, ~bit);
					sigset_t one;
					sigemptyset(&one);
					sigaddset(&one, s);
					struct timespec zero = { 0, 0 };
					int saved = errno;
					int r = REAL(sigtimedwait)(&one, info, &zero);
					errno = saved;
					if (r == s)
						return s;
					if (atomic_load(&g->sigsending)) {
						/* Marked, its copy not queued yet
						 * (gs_sig_send): kept for the next
						 * try, not left to another G's
						 * sigwait on this OS thread. */
						atomic_fetch_or(&g->m->sigdirected, bit);
						atomic_fetch_or(&g->sigkernel, bit);
						atomic_fetch_or(&g->sigpending, bit);
						copy_coming = true;
					}
					continue;
				}
				if (info) {
					memset(info, 0, sizeof *info);
					info->si_signo = s;
					info->si_code = SI_TKILL;
				}
				return s;
			}
		p = copy_coming ? 0 : atomic_load(&proc_pending);
		for (int s = 1; s <= NSIGS && p; s++) {
			uint64_t bit = 1ull << (s - 1);
			if ((p & bit) && sigismember(set, s) &&
			    (atomic_fetch_and(&proc_pending, ~bit) & bit)) {
				if (info) {
					if (atomic_exchange(&held_valid, 0)) {
						*info = held;
					} else {
						memset(info, 0, sizeof *info);
						info->si_signo = s;
						info->si_code = SI_USER;
					}
				}
				return s;
			}
		}
		/* Not the signals pending here for another G. */
		sigset_t mine = *set;
		uint64_t others = atomic_load(&g->m->sigdirected) & ~atomic_load(&g->sigkernel);
		for (int s = 1; s <= NSIGS && others; s++)
			if (others & (1ull << (s - 1)))
				sigdelset(&mine, s);
		struct timespec zero = { 0, 0 };
		int saved = errno;
		int r = copy_coming ? -1 : REAL(sigtimedwait)(&mine, info, &zero);
		if (r > 0) {
			errno = saved;
			return r;
		}
		if (!copy_coming && errno != EAGAIN && errno != EINTR)
			return -1;
		errno = saved;
		uint64_t now = gs_nanotime();
		if (timeout && now >= deadline) {
			errno = EAGAIN;
			return -1;
		}
		uint64_t until = now + backoff;
		if (timeout && until > deadline)
			until = deadline;
		if (gs_sleep_until(until) == -EINTR && !restart) {
			errno = EINTR;
			return -1;
		}
		if (backoff < 5000000)
			backoff *= 2;
	}
}

GS_EXPORT int sigwait(const sigset_t *set, int *sig)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sigwait)(set, sig);
	int s = wait_sig(g, set, NULL, NULL, true);
	if (s < 0)
		return errno;
	*sig = s;
	return 0;
}

GS_EXPORT int sigwaitinfo(const sigset_t *set, siginfo_t *info)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sigwaitinfo)(set, info);
	return wait_sig(g, set, info, NULL, false);
}

GS_EXPORT int sigtimedwait(const sigset_t *set, siginfo_t *info, const struct timespec *timeout)
{
	struct g *g = gs_self();
	if (!g)
		return REAL(sigtimedwait)(set, info, timeout);
	return wait_sig(g, set, info, timeout, false);
}
