/* sched/cpuclock.c: per-G CPU-time clocks (pthread_getcpuclockid,
 * CLOCK_THREAD_CPUTIME_ID in a G).
 *
 * The kernel counts CPU time per OS thread, an M, shared by the Gs it runs.
 * A G's own time is the sum of its M's time over the spans it ran. Reading
 * an M's thread clock is a system call, so nothing is counted until the
 * program first asks for a G's CPU clock: from then on (gs_cpuclock_on) the
 * scheduler charges each span to the G that ran it when it switches
 * (gs_cpuclock_switch). A G's clock counts from its start or from that first
 * request, whichever is later; main's too. The clock id handed out encodes
 * the G's id as a kernel thread CPU clock of a thread id no thread can have
 * (>= 2^27), so a call that does not know it (clock_getres, timer_create)
 * fails with EINVAL instead of reading another thread's clock. */
#include <errno.h>
#include <time.h>
#include "gs.h"
#include "real.h"

_Atomic int gs_cpuclock_on;

#define FAKE_TID_BIT 0x08000000	/* above PID_MAX_LIMIT (2^22); the encoding keeps 28 bits */
/* The kernel's encoding of a thread CPU clock (CPUCLOCK_SCHED, per thread). */
#define THREAD_CLOCK(tid) ((clockid_t)((~(unsigned)(tid)) << 3) | 6)

static uint64_t thread_ns(pid_t tid, bool self)
{
	struct timespec ts;
	if (REAL(clock_gettime)(self ? CLOCK_THREAD_CPUTIME_ID : THREAD_CLOCK(tid), &ts) != 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* m stops running its current G (m->curg, may be NULL) and starts next (may
 * be NULL). Runs on m's OS thread, only while gs_cpuclock_on. */
void gs_cpuclock_switch(struct m *m, struct g *next)
{
	(void)next;
	uint64_t now = thread_ns(m->tid, true);
	struct g *cur = m->curg;
	if (cur && __atomic_load_n(&m->cpu_mark_valid, __ATOMIC_RELAXED) && now > m->cpu_mark)
		__atomic_store_n(&cur->cpu_ns, cur->cpu_ns + (now - m->cpu_mark), __ATOMIC_RELEASE);
	__atomic_store_n(&m->cpu_mark, now, __ATOMIC_RELEASE);
	__atomic_store_n(&m->cpu_mark_valid, 1, __ATOMIC_RELAXED);
}

/* g's CPU time in ns; -1 if it has exited. Any thread. A G running on
 * another M may switch out while it is read (its span then moves into
 * cpu_ns and the M's mark starts anew): read again when cpu_ns changed. */
static int64_t g_cpu_ns(struct g *g, struct g *self)
{
	for (;;) {
		if (atomic_load(&g->status) == G_DEAD)
			return -1;
		uint64_t t = __atomic_load_n(&g->cpu_ns, __ATOMIC_ACQUIRE);
		struct m *m = __atomic_load_n(&g->m, __ATOMIC_RELAXED);
		uint64_t add = 0;
		if (m && __atomic_load_n(&m->curg, __ATOMIC_RELAXED) == g &&
		    __atomic_load_n(&m->cpu_mark_valid, __ATOMIC_RELAXED) &&
		    atomic_load_explicit(&g->status, memory_order_relaxed) == G_RUNNING) {
			uint64_t mark = __atomic_load_n(&m->cpu_mark, __ATOMIC_ACQUIRE);
			uint64_t now = thread_ns(m->tid, g == self);
			if (now > mark)
				add = now - mark;
		}
		if (__atomic_load_n(&g->cpu_ns, __ATOMIC_ACQUIRE) == t)
			return (int64_t)(t + add);
	}
}

/* Turns the accounting on (once) and starts the calling G's span now. */
static void enable(struct g *self)
{
	if (atomic_load_explicit(&gs_cpuclock_on, memory_order_relaxed))
		return;
	atomic_store(&gs_cpuclock_on, 1);
	if (self && !self->m->cpu_mark_valid)
		gs_cpuclock_switch(self->m, self);
}

clockid_t gs_cpuclock_id(struct g *g)
{
	enable(gs_self());
	return THREAD_CLOCK(FAKE_TID_BIT | ((unsigned)g->id & (FAKE_TID_BIT - 1)));
}

static struct g *find(int id)
{
	struct g *found = NULL;
	gs_lock(&gs_allg_lock);
	for (struct g *g = gs_allg; g; g = g->allnext)
		if ((g->id & (FAKE_TID_BIT - 1)) == id) {
			found = g;
			break;
		}
	gs_unlock(&gs_allg_lock);
	return found;
}

/* clock_gettime for CLOCK_THREAD_CPUTIME_ID in a G and for a clock of
 * gs_cpuclock_id: 0, -EINVAL, or 1 if clock is none of ours. */
int gs_cpuclock_read(clockid_t clock, struct timespec *ts)
{
	struct g *self = gs_self(), *g;
	if (clock == CLOCK_THREAD_CPUTIME_ID) {
		if (!self)
			return 1;
		enable(self);
		g = self;
	} else {
		unsigned tid = ~(unsigned)(clock >> 3);	/* arithmetic shift, as the kernel */
		if ((clock & 7) != 6 || !(tid & FAKE_TID_BIT))
			return 1;
		/* The G may be freed meanwhile: looked up under the allg lock
		 * and read at once, as a dump does. */
		if (!(g = find((int)(tid & ~FAKE_TID_BIT))))
			return -EINVAL;
	}
	int64_t ns = g_cpu_ns(g, self);
	if (ns < 0)
		return -EINVAL;
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
	return 0;
}
