/* sched/sysmon.c: the monitor thread (Go's sysmon; issue 6).
 *
 * An OS thread of its own, not an M: it runs no G and calls no hook. Every
 * tick (1 ms while an M with a P runs a G, backing off to 20 ms otherwise) it
 * looks at each M running a G. When every M sleeps (and one of them polls the
 * network if any G waits on an fd), it parks, as Go's does, until an M wakes
 * up (gs_sysmon_kick), or for a minute at most. An M whose scheduler tick has
 * not moved for PREEMPT_NS is either running (program code that never parks:
 * it is asked to yield, preempt.c) or blocked in the kernel where the shim
 * cannot see it (stdio's internal read, a raw syscall, the resolver, a futex
 * inside a library, disk I/O): its P is handed to another M (gs_handoff), which runs
 * the new Gs and the global queue meanwhile. The Gs pinned to the stuck M wait
 * for it (README, Limits). Which of the two it is comes from the kernel:
 * /proc/self/task/TID/syscall reads "running" unless the thread is blocked.
 *
 * GOSHIM_DEBUG=schedtrace=MS prints one line of scheduler figures per period. */
#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "gs.h"
#include "real.h"

#define PREEMPT_NS 10000000ull	/* 10 ms, as Go's forcePreemptNS */
#define TRIM_NS 50000000ull	/* how often freed stacks give back their pages */
#define POOL_KEEP 8		/* dirty stacks each pool keeps for quick reuse */

static _Atomic int started;
static _Atomic uint32_t parked;	/* 1: sysmon sleeps until an M wakes */
_Atomic uint64_t gs_coarse_ns;

void gs_sysmon_kick(void)
{
	/* After the M's store of sleeping = 0 (seq_cst), as sysmon stores
	 * parked = 1 before it reads every M's sleeping: one sees the other. */
	if (likely(!atomic_load(&parked)))
		return;
	if (atomic_exchange(&parked, 0)) {
		atomic_store_explicit(&gs_coarse_ns, gs_nanotime(), memory_order_relaxed);
		gs_sys_futex(&parked, FUTEX_WAKE_PRIVATE, 1, NULL);
	}
}

/* All Ms sleep: parks until one wakes, or a minute. */
static void park(void)
{
	gs_stack_trim_pools(0);	/* idle: every freed stack gives its pages back */
	gs_tls_trim(true);
	atomic_store(&parked, 1);
	if (gs_all_idle()) {
		struct timespec sec = { 60, 0 };	/* as Go's forcegcperiod / 2 */
		gs_sys_futex(&parked, FUTEX_WAIT_PRIVATE, 1, &sec);
	}
	atomic_store(&parked, 0);
}

int gs_thread_running(pid_t tid, long *nr)
{
	char path[64], buf[16];
	snprintf(path, sizeof path, "/proc/self/task/%d/syscall", (int)tid);
	int fd = (int)gs_syscall(SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	long n = gs_syscall(SYS_read, fd, buf, sizeof buf - 1);
	gs_syscall(SYS_close, fd);
	if (n <= 0)
		return -1;
	buf[n] = 0;
	if (!strncmp(buf, "running", 7))
		return 1;
	if (nr)
		*nr = strtol(buf, NULL, 10);
	return 0;
}

/* The schedtrace figures; rq gets each P's local run queue length, sep apart
 * (for schedtrace and `goshim stat`, dumpsock.c). */
void gs_sched_stat(struct gs_sched_stat *st, char *rq, size_t rqn, const char *sep)
{
	int nm = atomic_load(&gs_nm), idle = 0, ps = 0;
	size_t k = 0;
	unsigned long long moves = 0;
	rq[0] = 0;
	for (int i = 0; i < nm; i++) {
		struct m *m = &gs_allm[i];
		moves += __atomic_load_n(&m->nmoves, __ATOMIC_RELAXED);
		if (atomic_load(&m->state) != M_LIVE || !atomic_load(&m->has_p))
			continue;
		ps++;
		if (atomic_load(&m->sleeping))
			idle++;
		if (k < rqn - 16)
			k += (size_t)snprintf(rq + k, rqn - k, "%s%u", k ? sep : "", gs_runq_len(&m->runq));
	}
	st->procs = gs_cfg.procs;
	st->threads = atomic_load(&gs_stats.threads) + 1;
	st->idleprocs = idle + (gs_cfg.procs - ps);
	st->runqueue = atomic_load(&gs_stats.globq);
	st->gs = atomic_load(&gs_stats.live_gs);
	st->preempts = atomic_load(&gs_stats.preempts);
	st->handoffs = atomic_load(&gs_stats.handoffs);
	st->moves = moves;
}

static void schedtrace(uint64_t elapsed)
{
	struct gs_sched_stat st;
	char rq[320];
	gs_sched_stat(&st, rq, sizeof rq, " ");
	gs_printf("SCHED %llums: procs=%d threads=%d idleprocs=%d runqueue=%d gs=%d preempts=%llu "
		  "handoffs=%llu moves=%llu mode=%s [%s]", (unsigned long long)(elapsed / 1000000),
		  st.procs, st.threads, st.idleprocs, st.runqueue, st.gs, st.preempts, st.handoffs,
		  st.moves, gs_move ? "moving" : gs_tls_tp ? "tp" : "pinned", rq);
	if (!gs_cfg.scheddetail)
		return;
	/* Go's scheddetail: a line per M. runs: Gs it switched to since the
	 * last line (its share of the load), moves: of those, Gs that came
	 * from another M. */
	int nm = atomic_load(&gs_nm);
	static int ngs[64];	/* live Gs by the M they last ran on (the first 64 Ms) */
	memset(ngs, 0, sizeof ngs);
	gs_lock(&gs_allg_lock);
	for (struct g *g = gs_allg; g; g = g->allnext) {
		struct m *gm = __atomic_load_n(&g->m, __ATOMIC_RELAXED);
		if (gm && gm->id < 64)
			ngs[gm->id]++;
	}
	gs_unlock(&gs_allg_lock);
	for (int i = 0; i < nm; i++) {
		struct m *m = &gs_allm[i];
		if (atomic_load(&m->state) != M_LIVE)
			continue;
		uint64_t runs = __atomic_load_n(&m->nruns, __ATOMIC_RELAXED);
		uint64_t moves = __atomic_load_n(&m->nmoves, __ATOMIC_RELAXED);
		struct g *cur = __atomic_load_n(&m->curg, __ATOMIC_RELAXED);
		gs_printf("  M%d: p=%d curg=%d gs=%d runs=%llu moves=%llu runqsize=%u sleeping=%d",
			  m->id, atomic_load(&m->has_p), cur ? cur->id : -1, i < 64 ? ngs[i] : -1,
			  (unsigned long long)(runs - m->sd_runs), (unsigned long long)(moves - m->sd_moves),
			  gs_runq_len(&m->runq), atomic_load(&m->sleeping));
		m->sd_runs = runs;
		m->sd_moves = moves;
	}
}

static void *sysmon(void *arg)
{
	(void)arg;
	sigset_t all;
	sigfillset(&all);
	REAL(pthread_sigmask)(SIG_SETMASK, &all, NULL);	/* signals are for Ms */
	REAL(pthread_setname_np)(REAL(pthread_self)(), "goshim sysmon");
	uint64_t start = gs_nanotime();
	uint64_t period = (uint64_t)gs_cfg.schedtrace * 1000000;
	uint64_t next_trace = start + period;
	if (period)
		gs_printf("mode: %s%s", gs_move ? "moving (a thread pointer per green thread; started "
			  "green threads move between OS threads)" : gs_tls_tp ? "tp (a thread "
			  "pointer per green thread; started green threads pinned)" : "pinned: ",
			  gs_tls_tp ? "" : gs_tls_why);
	long delay = 1000000;
	uint64_t last_trim = start;
	bool warned = false;
	for (;;) {
		struct timespec ts = { 0, delay };
		gs_syscall(SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &ts, NULL);
		uint64_t now = gs_nanotime();
		atomic_store_explicit(&gs_coarse_ns, now, memory_order_relaxed);
		bool busy = false;
		int nm = atomic_load(&gs_nm);
		for (int i = 0; i < nm; i++) {
			struct m *m = &gs_allm[i];
			if (atomic_load(&m->state) != M_LIVE)
				continue;
			uint32_t tick = __atomic_load_n(&m->schedtick, __ATOMIC_RELAXED);
			struct g *cur = __atomic_load_n(&m->curg, __ATOMIC_RELAXED);
			if (!cur || atomic_load(&m->sleeping) || tick != m->sm_tick) {
				m->sm_tick = tick;
				m->sm_since = now;
				continue;
			}
			/* An M without a P that stays in one G is stuck in the kernel
			 * (its P was handed off) or runs its pinned Gs alone: a slow
			 * tick will do for it. */
			busy |= atomic_load(&m->has_p) != 0;
			if (now - m->sm_since < PREEMPT_NS)
				continue;
			int running = gs_thread_running(m->tid, NULL);
			if (running > 0) {
				/* With asyncpreemptoff=1 only the hooks' preemption
				 * points (gs_preempt_point) see the request. */
				if (now - m->sm_preempted >= PREEMPT_NS) {
					m->sm_preempted = now;
					if (gs_preempt_sig)
						gs_preempt_m(m);
					else
						atomic_fetch_or(&m->preempt_req, GS_PREEMPT_SYSMON);
				}
			} else if (running == 0 && atomic_load(&m->has_p)) {
				if (!gs_handoff(m) && !warned) {
					warned = true;
					gs_printf("GOSHIM_MAXTHREADS=%d reached: an OS thread blocked in the "
						  "kernel keeps its P", gs_cfg.maxthreads);
				}
			}
		}
		gs_sysmon_netpoll(now);
		if (now - last_trim >= TRIM_NS) {
			last_trim = now;
			gs_stack_trim_pools(POOL_KEEP);
			gs_tls_trim(false);
		}
		if (period && now >= next_trace) {
			schedtrace(now - start);
			while (next_trace <= now)
				next_trace += period;
		}
		if (!busy && !period && delay == 20000000) {
			park();
			delay = 1000000;
			continue;
		}
		delay = busy ? 1000000 : delay < 20000000 ? delay * 2 : 20000000;
		if (period && delay > (long)period)
			delay = (long)period;
	}
	return NULL;
}

void gs_sysmon_start(void)
{
	if (atomic_exchange(&started, 1))
		return;
	int r = gs_start_thread(sysmon, NULL, 64 * 1024);
	if (r != 0)	/* nobody to tell but the user: no preemption, no hand-off */
		gs_printf("cannot start the monitor thread (%s): going on without it", strerror(r));
}

void gs_sysmon_fork_child(void)
{
	atomic_store(&started, 0);
	atomic_store(&parked, 0);
}
