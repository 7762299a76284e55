/* sched/preempt.c: asynchronous preemption (issue 6).
 *
 * sysmon (sysmon.c) sees an M whose G has run for PREEMPT_NS without entering
 * the scheduler and whose OS thread is running (not blocked in the kernel). It
 * queues gs_preempt_sig to that OS thread with a cookie. The handler runs on
 * the G's own stack (no SA_ONSTACK), and if the interrupted PC is in program
 * code it yields from inside the handler: the kernel's signal frame on the G's
 * stack holds every register, including the vector state, and the G resumes
 * by returning from the handler when it next runs (on the same M: it is
 * pinned). It does not yield when the PC is in libc, ld.so, goshim, libunwind
 * or the vDSO (they may hold a lock another G of this M would need), while the
 * G runs a handler of the program's (which may have interrupted libc), inside
 * dlopen, dlclose or dl_iterate_phdr (whose callbacks, constructors and
 * destructors run under ld.so's recursive locks: glibc takes a G of the same
 * M for their owner), or off the G's stack.
 *
 * The signal is SIGRTMAX, a real-time one: queued, so a request never merges
 * with a signal the program sends. Where arch.h allows a fallback (aarch64, run
 * under qemu-user, which cannot send the top real-time signals), init sends
 * itself one first and takes the highest of SIGRTMAX..SIGRTMAX-N that can be
 * sent. The program's own action for it is kept
 * and run for every delivery that is not a request (shim/signal.c). A dump
 * uses the same signal, with another cookie, to read the registers of a G
 * running on another OS thread (dump.c). It is installed with SA_RESTART, so
 * an interrupted restartable call goes on; SA_NODEFER and an empty mask leave
 * the thread's mask as it was, and the mask a G sets never blocks it
 * (signal.c). */
#include <errno.h>
#include <link.h>
#include <signal.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <ucontext.h>
#include "gs.h"
#include "real.h"

int gs_preempt_sig;
void (*gs_preempt_forward)(int, siginfo_t *, void *);
static const char cookie[] = "goshim preempt";
static const char bt_cookie[] = "goshim backtrace";
static const char probe_cookie[] = "goshim probe";

#define MAXR 32
static struct { uintptr_t lo, hi; } unsafe[MAXR];
static int nunsafe;

static bool is_unsafe_object(const char *path, const struct dl_phdr_info *info)
{
	static const char *const names[] = { "libc.so", "ld-linux", "libpthread", "libunwind",
					     "liblzma", "libgcc_s", "linux-vdso", "libdl.so" };
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	for (size_t i = 0; i < sizeof names / sizeof *names; i++)
		if (!strncmp(base, names[i], strlen(names[i])))
			return true;
	uintptr_t self = (uintptr_t)&gs_preempt_init;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + p->p_vaddr;
		if (p->p_type == PT_LOAD && self >= lo && self < lo + p->p_memsz)
			return true;
	}
	return false;
}

static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	if (!is_unsafe_object(info->dlpi_name ? info->dlpi_name : "", info))
		return 0;
	for (int i = 0; i < info->dlpi_phnum && nunsafe < MAXR; i++) {
		const ElfW(Phdr) *p = &info->dlpi_phdr[i];
		if (p->p_type == PT_LOAD && (p->p_flags & PF_X)) {
			unsafe[nunsafe].lo = info->dlpi_addr + p->p_vaddr;
			unsafe[nunsafe].hi = unsafe[nunsafe].lo + p->p_memsz;
			nunsafe++;
		}
	}
	return 0;
}

static bool safe_pc(uintptr_t pc)
{
	for (int i = 0; i < nunsafe; i++)
		if (pc >= unsafe[i].lo && pc < unsafe[i].hi)
			return false;
	return true;
}

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	struct m *m = gs_curm;
	bool ours = si->si_code == SI_QUEUE && si->si_pid == (pid_t)gs_syscall(SYS_getpid);
	if (ours && si->si_value.sival_ptr == (void *)probe_cookie)
		return;	/* init's test that the signal can be sent */
	if (ours && si->si_value.sival_ptr == (void *)bt_cookie) {
		if (m)
			gs_dump_hold(m, uc);	/* a dump wants this thread's backtrace */
		return;
	}
	if (!ours || si->si_value.sival_ptr != (void *)cookie) {
		if (gs_preempt_forward)
			gs_preempt_forward(sig, si, uc);
		return;
	}
	if (m)
		atomic_store(&m->preempt_sent, 0);
	/* The request stays set if it cannot yield here: the next preemption
	 * point of a hook takes it (gs_preempt_point). */
	if (!m || !(atomic_load(&m->preempt_req) & GS_PREEMPT_SYSMON))
		return;	/* (a request for priority waits for a hook's point) */
	struct g *g = m->curg;
	if (!g || m->in_sched || atomic_load_explicit(&g->status, memory_order_relaxed) != G_RUNNING)
		return;
	uintptr_t pc = gs_arch_uc_pc(uc), sp = gs_arch_uc_sp(uc);
	if (!safe_pc(pc))
		return;
	if (g->handler_sp && sp < (uintptr_t)g->handler_sp)
		return;	/* in a handler of the program's */
	if (g->nopreempt)
		return;	/* in a callback run under ld.so's locks (loader.c) */
	if (g->stack_kind != STACK_MAIN && (sp < (uintptr_t)g->stack_lo || sp > (uintptr_t)g->stack_hi))
		return;
	atomic_store(&m->preempt_req, 0);
	if (gs_async_cancel_due(g))
		gs_async_cancel(g);	/* asynchronous cancellation: unwinds from here */
	atomic_fetch_add_explicit(&gs_stats.preempts, 1, memory_order_relaxed);
	int saved = errno;
	m->sigmask_valid = 0;	/* the next G sets its own mask; sigreturn restores ours */
	gs_preempt_yield(g);
	struct m *now = gs_curm;
	if (now != m) {
		/* Resumed on another M (move mode): sigreturn sets this thread's
		 * mask and alternate stack from uc, saved on the first one. */
		now->sigmask_valid = 0;
		stack_t *ss = &((ucontext_t *)uc)->uc_stack;
		ss->ss_sp = now->altstack;
		ss->ss_size = now->altstack ? 64 * 1024 : 0;
		ss->ss_flags = now->altstack ? 0 : SS_DISABLE;
	}
	errno = saved;
}

static bool sendable(int sig);

void gs_preempt_init(void)
{
	if (gs_cfg.asyncpreemptoff)
		return;
	REAL(dl_iterate_phdr)(collect, NULL);
	struct sigaction sa = { .sa_sigaction = on_signal,
				.sa_flags = SA_SIGINFO | SA_RESTART | SA_NODEFER };
	sigemptyset(&sa.sa_mask);
	for (int sig = SIGRTMAX; sig >= SIGRTMAX - GS_ARCH_PREEMPT_SIG_FALLBACK; sig--) {
		struct sigaction old;
		if (REAL(sigaction)(sig, &sa, &old) != 0)
			continue;
		if (!GS_ARCH_PREEMPT_SIG_FALLBACK || sendable(sig)) {
			gs_preempt_sig = sig;
			return;
		}
		REAL(sigaction)(sig, &old, NULL);
	}
}

static int queue(int sig, pid_t tid, const char *what)
{
	siginfo_t si;
	memset(&si, 0, sizeof si);
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = (pid_t)gs_syscall(SYS_getpid);
	si.si_uid = getuid();
	si.si_value.sival_ptr = (void *)what;
	return (int)gs_syscall(SYS_rt_tgsigqueueinfo, si.si_pid, tid, sig, &si);
}

/* Whether SIG can be sent: queued to this thread, unblocked meanwhile so that
 * it is taken (and ignored by on_signal) before the mask is put back. */
static bool sendable(int sig)
{
	uint64_t one = 1ULL << (sig - 1), old;
	int saved = errno;
	bool ok = gs_syscall(SYS_rt_sigprocmask, SIG_UNBLOCK, &one, &old, sizeof one) == 0;
	if (ok) {
		ok = queue(sig, (pid_t)gs_syscall(SYS_gettid), probe_cookie) == 0;
		gs_syscall(SYS_rt_sigprocmask, SIG_SETMASK, &old, NULL, sizeof old);
	}
	errno = saved;
	return ok;
}

static int send(struct m *m, const char *what)
{
	return queue(gs_preempt_sig, m->tid, what);
}

/* A hook's preemption point found the request set: yield, unless the G runs
 * a handler of the program's (which may have interrupted libc holding a lock
 * another G of this M would need) or this is not a G. Runs on the G. */
void gs_preempt_hook(struct m *m)
{
	struct g *g = m->curg;
	if (!g || m->in_sched || g->handler_sp || g->nopreempt)
		return;
	/* Off the G's stack: a handler of the runtime's on the alternate
	 * stack (a dump) that called a hook. */
	uintptr_t sp = gs_arch_sp();
	if (g->stack_kind != STACK_MAIN && (sp < (uintptr_t)g->stack_lo || sp > (uintptr_t)g->stack_hi))
		return;
	if (!(atomic_exchange(&m->preempt_req, 0) & GS_PREEMPT_SYSMON)) {
		gs_prio_yield(g);	/* for a G of higher priority */
		return;
	}
	/* A request made before this M last entered its scheduler was for a
	 * span that has ended (sysmon asks when schedtick stayed at sm_tick):
	 * yielding now would only start another G here, pinned to an M whose
	 * G may be about to block in the kernel. */
	if (__atomic_load_n(&m->schedtick, __ATOMIC_RELAXED) != __atomic_load_n(&m->sm_tick, __ATOMIC_RELAXED))
		return;
	atomic_fetch_add_explicit(&gs_stats.preempts, 1, memory_order_relaxed);
	int saved = errno;
	gs_preempt_yield(g);
	errno = saved;
}


/* At most one request signal is queued per M: real-time signals queue, and
 * each one delivered pushes a frame of about 3 KiB (registers and vector
 * state) on the G's stack, nested (SA_NODEFER) when several are pending as
 * the thread gets a CPU again. On a loaded machine sysmon's ticks came faster
 * than a descheduled M ran, and four frames overflowed a 16 KiB stack
 * (tests/scale/barrier_1m). */
void gs_preempt_m(struct m *m)
{
	atomic_fetch_or(&m->preempt_req, GS_PREEMPT_SYSMON);
	if (atomic_exchange(&m->preempt_sent, 1))
		return;
	if (send(m, cookie) != 0)
		atomic_store(&m->preempt_sent, 0);
}

/* The same signal with another cookie: the handler holds the thread while a
 * dump reads its registers (dump.c). */
void gs_preempt_backtrace(struct m *m)
{
	send(m, bt_cookie);
}
