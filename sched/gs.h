/* sched/gs.h: the runtime's internal interface (no interposed symbols here).
 *
 * Glossary, as in Go's runtime:
 *   G  a green thread: a saved register set, a stack, its thread identity.
 *   M  an OS thread that runs Gs; the main thread is M0.
 *   P  the right to run new Gs (its local run queue, the global queue,
 *      stealing). There are GOSHIM_PROCS of them, each held by one M (m->has_p);
 *      the run queue stays in the M's struct, so a P is a flag, not an object.
 *      sysmon (sysmon.c) takes the P of an M stuck in the kernel and gives it to
 *      another M; an M without a P still runs the Gs pinned to it (below).
 *
 * Thread identity (the central choice; README "Design" has the measurements):
 * glibc finds errno and every __thread variable at a fixed offset from the
 * thread pointer, and compiled code may keep such an address in a register
 * across a call that parks. Two designs, chosen at start (tls.c):
 *   tp      where the CPU lets user space set the thread pointer (x86-64
 *           FSGSBASE), each G has its own static TLS block and glibc thread
 *           header and the switch points %fs at it: its identity goes with it.
 *           Started Gs stay on their M unless GOSHIM_DEBUG=move=1 ("moving":
 *           then they are readied into the readier's runnext, stolen, handed
 *           off with a stuck M's queue and timers; main's G stays on M0).
 *   pinned  otherwise (or GOSHIM_DEBUG=pinned=1): a G, once started, stays on
 *           the M it started on, and each M's static TLS holds the identity of
 *           the G it runs: on a switch the TLS bytes that belong to a thread
 *           (the executable's and the libraries' blocks, errno and h_errno of
 *           libc's) are swapped out to the old G and in from the new one.
 * Gs that have not started yet carry no such state and are spread and stolen
 * freely (runq.c).
 *
 * Sections: config, structures, scheduler (proc.c; Ms in m.c, Gs in g.c,
 * start-up in start.c), run queues (runq.c),
 * timers (timer.c), stacks (stack.c), TLS (tls.c), green futex (futex.c),
 * synchronisation objects (sync.c), internal locks (lock.c), util.
 *
 * Errors: inside the runtime 0 or -errno; shim/ converts at the boundary.
 *
 * Lock order: the ranks of GS_LOCK_RANKS ("structures" below), written once
 * and checked on every acquisition by `make lockrank`. The nestings that
 * happen (GOSHIM_LOCKRANK_SEEN over the compat suites): start_lock -> mslock
 * (m.c: starting an M); the robust buckets among themselves, in address
 * order, then the stack pool (fork.c: all held across fork); dlopen_lock ->
 * gs_allg_lock (tls.c: a new module's TLS into every G); gs_allg_lock -> fd
 * lock (dump.c: the unwinder symbolises frames under the all-G lock, and
 * opens and closes ELF files through the library's own open and close hooks,
 * whose bookkeeping takes that fd's lock; no path holds an fd lock while it
 * takes the all-G lock, so gs_allg_lock ranks below the fd locks); an M's
 * timer lock -> another's, in address order (proc.c: adopting timers) and ->
 * the global queue (a due timer readied). tid.c also sends a signal to a G
 * under gs_allg_lock (gs_sig_send: a sigaction query and a lock-free
 * gs_ready). No runtime lock is held across a park or a context switch. */
#ifndef GS_H
#define GS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sched.h>
#include <stdint.h>
#include <signal.h>
#include <time.h>
#include <sys/types.h>

#include "arch.h"

#define GS_HIDDEN __attribute__((visibility("hidden")))
#define GS_TLS __thread __attribute__((tls_model("initial-exec")))
#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

/* ---- config (start.c reads the environment once) ---- */

struct gs_config {
	int procs;		/* GOSHIM_PROCS: number of Ps */
	int maxthreads;		/* GOSHIM_MAXTHREADS: cap on Ms */
	size_t stack;		/* GOSHIM_STACK: default stack size in bytes */
	int schedtrace;		/* GOSHIM_DEBUG=schedtrace=MS: 0 off */
	int scheddetail;	/* GOSHIM_DEBUG=scheddetail=1: a line per M too */
	int asyncpreemptoff;	/* GOSHIM_DEBUG=asyncpreemptoff=1 */
	int noguardmarkers;	/* GOSHIM_DEBUG=guardmarkers=0: guard pages as on old kernels */
	int pinned;		/* GOSHIM_DEBUG=pinned=1: no thread pointer per G (tls.c) */
	int move;		/* GOSHIM_DEBUG=move=0|1; -1 unset (moving where tp mode is) */
};
extern struct gs_config gs_cfg GS_HIDDEN;

/* ---- structures ---- */

/* The runtime's internal locks (lock.c). Each has a rank, written once here,
 * lowest first: a lock may be taken only while every lock the thread holds
 * has a lower rank, or, for a rank marked peer, the same rank at a lower
 * address (peers are taken in address order). Builds with -DGS_LOCKRANK
 * (make lockrank) check it on every gs_lock and abort with one line naming
 * both locks; other builds carry no rank at all. */
#define GS_LOCK_RANKS(X)							\
	X(DLOPEN,	0, "dlopen_lock (tls.c)")				\
	X(START,	0, "start_lock (m.c)")					\
	X(MS,		0, "mslock (m.c)")					\
	X(OFFLOAD,	0, "olock (offload.c)")					\
	X(RBUCKET,	1, "robust bucket lock (sync.c)")			\
	X(FUTEX,	0, "futex bucket lock (futex.c)")			\
	X(ALLG,		0, "gs_allg_lock (g.c)")				\
	X(FDFLIP,	0, "fd flip lock (fdtable.c)")				\
	X(NPINIT,	0, "netpoll init_lock (netpoll.c)")			\
	X(FD,		0, "fd lock (fdtable.h)")				\
	X(MTIMERS,	1, "m->tlock (proc.c)")					\
	X(GLOBALQ,	0, "glock (proc.c)")					\
	X(HEAPG,	0, "heapg_lock (g.c)")					\
	X(STACK,	0, "stack_lock (stack.c)")				\
	X(WAITSPARE,	0, "slock (shim/wait.c)")				\
	X(PRIOQ,	0, "priority run queue lock (proc.c)")
enum gs_lockrank {
	GS_RANK_NONE,
#define GS_RANK_ENUM_(r, peer, name) GS_RANK_##r,
	GS_LOCK_RANKS(GS_RANK_ENUM_)
#undef GS_RANK_ENUM_
};

typedef struct {
	_Atomic uint32_t v;	/* 0 free, 1 held, 2 held with sleepers */
#ifdef GS_LOCKRANK
	uint32_t rank;		/* GS_RANK_* */
#endif
} gs_lock_t;
#ifdef GS_LOCKRANK
#define GS_LOCK_INIT(r) { .v = 0, .rank = GS_RANK_##r }
#define gs_lock_init(l, r) ((l)->rank = GS_RANK_##r)
#else
#define GS_LOCK_INIT(r) { .v = 0 }
#define gs_lock_init(l, r) ((void)(l))
#endif

#define GS_G_MAGIC 0x676f7368696d4721ULL	/* "goshimG!": our pthread_t vs glibc's */
/* A G that was joined or reaped keeps this marker while its memory is ours
 * (a pooled stack's kept top page, or the cache of heap Gs in g.c), as
 * glibc's stack cache keeps a reaped thread's descriptor readable: join and
 * detach of it return ESRCH as glibc's do, and it is never handed to glibc. */
#define GS_G_REAPED 0x676f7368696d4778ULL	/* "goshimGx" */

/* States of g->status (written by the G's own M, read by anyone for dumps). */
enum {
	G_NEW,			/* created, never run: may run on any M */
	G_RUNNABLE,		/* in a run queue */
	G_RUNNING,
	G_WAITING,		/* parked */
	G_DEAD,
};

/* g->joinstate: the encoding of the join/detach/exit race (atomic word, also a
 * green futex word). The loser of exit vs detach frees the G. */
enum {
	J_JOINABLE,		/* running, nobody joined or detached yet */
	J_DETACHED,		/* running, detached: exit frees it */
	J_EXITED,		/* finished and off its stack: join or detach frees it */
};

#define GS_JOINER_OUTSIDE ((struct g *)1)

/* g->parkword = (seq << 1) | waiting. gs_ready(g, seq) wins only against the
 * park it was meant for, so a stale wakeup (a timer of an earlier wait, a
 * late waker) can never wake a later park. */
#define PARK_WAITING 1ULL

struct gs_node {			/* intrusive link of the MPSC inbox */
	_Atomic(struct gs_node *) next;
};

struct gs_tsd;

/* A G's scheduling policy and priority (pthread_setschedparam): kept per G
 * and read back; the kernel sees only the Ms' own (README, Limits). */
struct gs_sched {
	int policy;			/* SCHED_OTHER, SCHED_FIFO, ... */
	int prio;			/* sched_priority */
	int explicit_;			/* created with PTHREAD_EXPLICIT_SCHED */
};

/* A run queue by priority (runq.c), used once the program has used a
 * real-time policy (gs_rt_used): Gs linked through schedlink, highest
 * rq_prio first, first-come among equals (rq_seq). top and topseq mirror
 * the head for a look without the lock (top 0: empty). */
struct gs_prioq {
	gs_lock_t lock;
	_Atomic int top;
	_Atomic uint32_t topseq;
	struct g *head;
};

struct g {
	uint64_t magic;			/* GS_G_MAGIC */
	struct gs_ctx ctx;		/* saved registers while not running */
	struct gs_node node;		/* link in an M's inbox */
	struct g *schedlink;		/* link in the global queue / lists */
	struct g *allnext, *allprev;	/* allg list (gs_allg_lock) */
	struct m *m;			/* the M it is pinned to (runs on, when Gs move); NULL
					 * until started. Written by the M that switches to
					 * it with relaxed atomic stores; the dump, sysmon and
					 * stat read it from other Ms atomically */
	_Atomic int on_cpu;		/* move mode: its registers are not saved yet */
	pid_t tid;			/* move mode: its glibc tid: its gettid id (tid.c),
					 * main's the pid; set at its first run */
	struct m *_Atomic timer_m;	/* the M whose heap holds its timer entry */
	struct m *_Atomic wired_m;	/* move mode: the M it stays on from now (a blocked
					 * signal sent to it waits on that OS thread) */
	_Atomic uint64_t parkword;	/* see PARK_WAITING */
	int id;				/* 1 = main */
	_Atomic int status;		/* G_* */
	_Atomic int joinstate;		/* J_*; futex word for joiners */
	uint32_t rq_seq;		/* in a gs_prioq: when it was queued (wraps) */
	_Atomic(struct g *) joiner;	/* the G blocked in pthread_join (GS_JOINER_OUTSIDE
					 * for a thread that is not a G), the G itself once
					 * detached, NULL if neither: glibc's joinid */

	void *(*fn)(void *);		/* pthread start routine and its argument */
	void *arg;
	void *ret;			/* value for pthread_join */

	/* Stack: [lo, hi) usable; map/maplen the whole mapping incl. guard, the
	 * guard being [map, lo) (GS_STACK_MARK_GAP more than was asked). */
	char *stack_lo, *stack_hi;
	void *map;
	size_t maplen, guard;
	int stack_kind;			/* STACK_* of stack.c */
	int in_stack;			/* the struct lives at the top of its own stack */
	int tp_in_stack;		/* tp mode: its block lies just below the struct (tls.c) */
	int stack_dirty;		/* its stack came from the pool with old bytes (stack.c) */
	char *ctx_top;			/* where its frames start; NULL: below the struct */

	/* Why it waits, for the dump and for interruption: written by the G
	 * (gs_park_prepare, before the park word) with relaxed atomic stores,
	 * read by the dump and by signal senders on other Ms with relaxed
	 * atomic loads (a snapshot: the G may be woken meanwhile). */
	const char *waitreason;
	void *waitaddr;
	uint64_t waitsince;		/* gs_coarse_ns when it parked */
	size_t timer_i;			/* its entry in its M's timer heap + 1, or 0
					 * (under its heap's owner or lock) */
	int interruptible;		/* GS_INTR_*: what may end this wait early; the
					 * G writes it (relaxed atomic stores) before the
					 * park word, gs_interrupt reads it after */
	_Atomic int interrupted;	/* set before the ready that ends the wait */
	int intr_restart;		/* the interruption was a SA_RESTART handler */
	int intr_self;			/* it found a signal pending as it parked */

	/* Thread identity. */
	void *tp;			/* tp mode: its block (thread pointer), tls.c */
	void *dtv;			/* its own dynamic TLS vector, NULL while it shares its M's (tls.c) */
	struct gs_tsd *tsd;		/* pthread_key_* values */
	struct gs_tls_dtor *tls_dtors;	/* C++ thread_local destructors, newest first */
	char name[16];
	uint64_t cpu_ns;		/* CPU time of its finished spans (cpuclock.c) */
	int rq_prio;			/* in a gs_prioq: the priority it was queued with
					 * (here: it fills a hole) */
	struct gs_sched sched;		/* written by any thread of the program (its
					 * pthread_setschedparam), read back as set */
	sigset_t sigmask;		/* its signal mask (applied to the M on switch) */
	_Atomic uint64_t sigpending;	/* signals sent to it, bit sig-1 */
	_Atomic uint64_t sigkernel;	/* of those, the ones also pending on its M's
					 * OS thread (default action, blocked: a
					 * signalfd there must see them) */
	unsigned nhandled;		/* handlers run in it (for sigsuspend) */
	int np_ghost;			/* a runtime-owned duplicate of an fd the program
					 * closed while this G waited on it, + 1, that its
					 * current call goes on with (netpoll.c); 0 none.
					 * (Here: it fills the hole before handler_sp.) */
	void *handler_sp;		/* frame of the program handler it runs, if any */
	int loader_depth;		/* loader.c's gated calls it is inside (own G only) */
	int nopreempt;			/* inside dlopen, dlclose or dl_iterate_phdr (loader.c):
					 * their callbacks run under ld.so's recursive locks,
					 * which another G of its M would pass (own G only) */

	/* Cancellation. An asynchronous one ends a green futex wait at once
	 * and reaches a running G at a safe PC (preempt.c). */
	int cancel_disabled;		/* PTHREAD_CANCEL_DISABLE */
	int cancel_async;		/* PTHREAD_CANCEL_ASYNCHRONOUS */
	int in_futex;			/* parked in gs_futex_wait (its own M only) */
	_Atomic int cancel_pending;
	int cancelling;			/* unwinding: no further cancellation */
	_Atomic int sigsending;		/* gs_sig_send calls between marking a blocked
					 * signal on it and queuing its OS thread copy
					 * (signal.c; fills the hole before cleanup) */
	void *cleanup;			/* innermost __pthread_unwind_buf_t */

	unsigned char tls[];		/* saved TLS bytes (tls.c: gs_tls_size) */
};

/* g->interruptible: 0 nothing; a signal handler ends the wait with EINTR
 * always (1), unless it has SA_RESTART (2); only cancellation ends it (3);
 * a signal handler runs during the wait, which then goes on, and cancellation
 * does not end it (4: glibc's futex waits of mutex, rwlock, once,
 * which are no cancellation points; gs_futex_wait returns -EINTR and the
 * caller waits again). */
enum { GS_INTR_NONE, GS_INTR_ALWAYS, GS_INTR_NORESTART, GS_INTR_CANCEL, GS_INTR_SIGNAL };

struct gs_timer {
	uint64_t when;			/* CLOCK_MONOTONIC ns */
	struct g *g;
	uint64_t seq;			/* the park it ends */
};

struct gs_timers {			/* min-heap of an M (timer.c): changed by its owner
					 * M, in move mode under m->tlock (other Ms adopt
					 * a P-less M's heap and delete their G's entry) */
	struct gs_timer *v;
	size_t n;			/* entries: written with relaxed atomic stores,
					 * peeked at by other Ms without the lock
					 * (gs_timer_count) */
	size_t cap;
};

#define RUNQ_SIZE 256
struct gs_runq {			/* Go's runq: owner puts/gets, others steal */
	_Atomic uint32_t head;		/* consumers advance it with CAS */
	_Atomic uint32_t tail;		/* only the owner writes it */
	struct g *_Atomic buf[RUNQ_SIZE];
};

struct gs_mpsc {			/* Vyukov's intrusive MPSC queue */
	_Atomic(struct gs_node *) head;	/* producers exchange here */
	struct gs_node *tail;		/* popped by the owner only, with relaxed atomic
					 * stores: gs_mpsc_empty reads it from other Ms */
	struct gs_node stub;
};

struct m {
	int id;
	pid_t tid;
	unsigned long self_pt;		/* glibc's pthread_t of this OS thread */
	void *tp;			/* its thread pointer (TCB) */
	void *own_dtv;			/* glibc's DTV of this OS thread */
	size_t own_gen;			/* its generation when last checked */
	bool dtv_share;			/* no dynamic TLS yet: Gs may use own_dtv */
	struct g *curg;			/* G running now, NULL on g0. Written by this M
					 * only (and start_m/fork under mslock), with
					 * relaxed atomic stores: sysmon, cpuclock.c and
					 * m_empty read it from other threads atomically */
	struct g *tls_owner;		/* G whose identity is in this M's TLS */
	struct g *gdead;		/* exited G to release once off its stack */
	struct gs_ctx g0;		/* the scheduler context (own stack) */
	struct g *runnext;		/* the G this M just made ready: runs next. Pinned
					 * mode: written by this M only, atomically (m_empty
					 * reads it from another M under mslock); move mode:
					 * exchanged atomically, others take it from an M
					 * without a P */
	struct g *prevg;		/* move mode: the G switched away from, until off its stack */
	struct g *nextg;		/* move mode: the G g0 runs next (its last M was on it) */
	gs_lock_t tlock;		/* move mode: guards timers */
	_Atomic int nwired;		/* move mode: live Gs wired to it (wired_m) */
	_Atomic int retiring;		/* decided under mslock to retire: wire no G here */
	struct gs_mpsc inbox;		/* started Gs pinned here, made ready */
	struct gs_prioq prioq;		/* real-time Gs that run only here, made ready
					 * (main's and wired ones; started ones unless
					 * Gs move): see gs_rt_used */
	int rt_preempted;		/* its G is being preempted: 1 by sysmon, 2 for a
					 * G of higher priority (prio_ready's front) */
	int rt_skip;			/* real-time Gs ran 950 ms on end: the next
					 * search looks at the other queues first, once */
	uint64_t rt_hog_since, rt_hog_last;	/* sysmon's preemptions of real-time Gs
					 * on end here: the first and the last */
	struct gs_runq runq;		/* new Gs, stealable */
	struct gs_timers timers;
	_Atomic int sleeping;		/* 0 running, 1 idle in its futex wait (the kernel
					 * futex word), 2 idle blocked in the netpoller */
	uint32_t schedtick;		/* entries into the scheduler: written by this M
					 * (relaxed atomic store), read by sysmon and the
					 * preemption handler atomically */
	uint64_t nruns;			/* Gs switched to: this M writes with relaxed
					 * atomic stores, schedtrace reads atomically */
	uint64_t nmoves;		/* of those, Gs that last ran on another M (same) */
	uint64_t sd_runs, sd_moves;	/* sysmon: both at the last scheddetail line */
	_Atomic int state;		/* M_FREE, M_LIVE */
	_Atomic int has_p;		/* holds a P (see the glossary) */
	int npinned;			/* live Gs started on it: written by this M (and
					 * start_m/fork) with relaxed atomic stores, read
					 * by another M in m_empty (under mslock) */
	_Atomic int preempt_req;	/* GS_PREEMPT_*: the running G is to yield; stays
					 * set until it yields (preempt.c) */
	_Atomic int preempt_sent;	/* a request signal is queued, not yet handled */
	uint32_t sm_tick;		/* sysmon's last look: schedtick (sysmon writes it
					 * with relaxed atomic stores; the preemption
					 * hook on this M reads it atomically) */
	uint64_t sm_since, sm_preempted;	/* sysmon's only */
	int in_sched;			/* >0 inside the scheduler: hooks go native */
	sigset_t sigmask;		/* the mask currently set on this OS thread */
	int sigmask_valid;
	int started;
	void *altstack;			/* for the stack overflow report */
	/* A backtrace of the G running here, for a dump on another thread
	 * (dump.c): BT_* state, the registers the request interrupted, and the
	 * G that was running then (NULL: the scheduler). */
	_Atomic int bt_state;
	struct g *bt_g;
	unsigned long long bt_regs[GS_ARCH_BT_WORDS];
	/* CPU-time accounting, once on (cpuclock.c): this thread's CPU time
	 * when curg started running. Written by this M only, with atomic
	 * stores: a reader of a running G's clock on another M loads both
	 * atomically (cpu_mark with acquire). */
	uint64_t cpu_mark;
	int cpu_mark_valid;
	/* Signals pending on this OS thread for one of its Gs (g->sigkernel):
	 * the sigwait of another G here leaves them alone (shim/signal.c). */
	_Atomic uint64_t sigdirected;
};

/* ---- scheduler (proc.c) ---- */

/* Monotonic ns at sysmon's last tick (0 before it runs): a clock without a
 * syscall, for how long a G has waited (dump). */
extern _Atomic uint64_t gs_coarse_ns GS_HIDDEN;

extern GS_TLS struct m *gs_curm GS_HIDDEN;	/* per OS thread, never swapped */
extern struct m *gs_allm GS_HIDDEN;		/* gs_cfg.maxthreads slots */
extern _Atomic int gs_nm GS_HIDDEN;		/* slots ever used: [0, gs_nm) */
enum { M_FREE, M_LIVE };
extern _Atomic int gs_started GS_HIDDEN;	/* runtime initialised */
extern struct g *gs_maing GS_HIDDEN;
/* Started Gs move between Ms (GOSHIM_DEBUG=move=1 and a thread pointer per G):
 * made ready into the readier's runnext or run queue, stolen by idle Ms, and
 * an M without a P gives away its queue and timers. main's G stays on M0. */
extern int gs_move GS_HIDDEN;
/* The tid glibc's structures know g by (mutex owners). In move mode it is
 * the G's own id (gs_tid_of), unique: glibc's recursive mutexes, ld.so's
 * loader locks among them, recognise their owner by it, and two Gs that
 * started on one M run on different Ms at once when they move. */
static inline pid_t gs_g_tid(struct g *g)
{
	return gs_move && g->tid ? g->tid : g->m->tid;
}
/* A timer for g, parked or about to park on its M (0 or -ENOMEM), and its
 * removal once the wait is over. */
GS_HIDDEN int gs_g_timer_add(struct g *g, uint64_t when, uint64_t seq);
GS_HIDDEN void gs_g_timer_del(struct g *g);

GS_HIDDEN void gs_init(void);
/* The G running on the calling OS thread, or NULL (an outside thread, g0, a
 * hook called from inside the runtime). Hooks park only when this is non-NULL. */
/* A G under SCHED_FIFO or SCHED_RR, and its rank for priority order: that
 * priority (1-99), 0 for the other policies. */
static inline bool gs_g_rt(const struct g *g)
{
	int p = g->sched.policy;
	return p == SCHED_FIFO || p == SCHED_RR;
}

static inline int gs_g_rank(const struct g *g)
{
	return gs_g_rt(g) ? g->sched.prio : 0;
}

static inline struct g *gs_self(void)
{
	struct m *m = gs_curm;
	return (m && !m->in_sched) ? m->curg : NULL;
}
/* sched: the new G's scheduling parameters (inherited or from the attribute). */
GS_HIDDEN int gs_spawn(struct g **out, void *(*fn)(void *), void *arg, size_t stacksize,
		       size_t guard, void *ustack, int detached, const struct gs_sched *sched);
GS_HIDDEN _Noreturn void gs_exit(void *ret);
GS_HIDDEN void gs_free_g(struct g *g);
/* Parking. gs_park_prepare() starts a park and returns its seq; the caller then
 * publishes (g, seq) to whoever will wake it, and calls gs_park(). */
static inline __attribute__((always_inline)) uint64_t gs_park_prepare_mo(struct g *g, const char *why,
									 void *addr, memory_order mo)
{
	uint64_t seq = (atomic_load_explicit(&g->parkword, memory_order_relaxed) >> 1) + 1;
	__atomic_store_n(&g->waitreason, why, __ATOMIC_RELAXED);
	__atomic_store_n(&g->waitaddr, addr, __ATOMIC_RELAXED);
	__atomic_store_n(&g->waitsince, atomic_load_explicit(&gs_coarse_ns, memory_order_relaxed),
			 __ATOMIC_RELAXED);
	atomic_store_explicit(&g->parkword, (seq << 1) | PARK_WAITING, mo);
	return seq;
}
static inline uint64_t gs_park_prepare(struct g *g, const char *why, void *addr)
{
	return gs_park_prepare_mo(g, why, addr, memory_order_seq_cst);
}
/* The same, for a caller that releases a lock (gs_unlock: a locked exchange,
 * a full fence on x86-64 and a seq_cst one elsewhere) after it and before it
 * reads what gs_park_check_intr reads: the park word's store is ordered before
 * those loads by that fence, so it need not be a fence itself (a seq_cst store
 * is a locked xchg on x86-64: one fewer per futex wait, the switch
 * benchmark's hot path). The waker finds the park under that lock. */
static inline uint64_t gs_park_prepare_locked(struct g *g, const char *why, void *addr)
{
	return gs_park_prepare_mo(g, why, addr, memory_order_release);
}
GS_HIDDEN void gs_park(struct g *g);
/* Withdraws a prepared park that will not happen; false if a waker already
 * readied it (then the caller must gs_park() to consume that wakeup). */
static inline bool gs_park_cancel(struct g *g, uint64_t seq)
{
	uint64_t want = (seq << 1) | PARK_WAITING;
	return atomic_compare_exchange_strong(&g->parkword, &want, seq << 1);
}
GS_HIDDEN bool gs_ready(struct g *g, uint64_t seq);
GS_HIDDEN bool gs_sig_intr_self(struct g *g);	/* signal.c */
/* For an interruptible park, after gs_park_prepare() and before gs_park(): a
 * cancellation or a signal that came before the park was published finds no
 * park to end, so the G ends it itself. (The canceller or sender stores
 * cancel_pending or sigpending, then reads the park word; the G stores the
 * park word, then reads them.) A signal sent while the G ran between two
 * waits of one call (a poll loop) ends the next one the same way. */
static inline void gs_park_check_intr(struct g *g, uint64_t seq)
{
	if (atomic_load(&g->cancel_pending) && !g->cancel_disabled && !g->cancelling &&
	    g->interruptible != GS_INTR_SIGNAL) {
		atomic_store(&g->interrupted, 1);
		gs_ready(g, seq);
	} else if (unlikely(atomic_load(&g->sigpending)) && g->interruptible != GS_INTR_CANCEL &&
		   gs_sig_intr_self(g)) {
		gs_ready(g, seq);
	}
}

/* Acts on g's pending asynchronous cancellation: unwinds g, never returns
 * (shim/pthread.c sets it; NULL in the unit tests). Runs on g. */
extern void (*gs_async_cancel)(struct g *g) GS_HIDDEN;
static inline bool gs_async_cancel_due(struct g *g)
{
	return unlikely(g->cancel_async) && atomic_load(&g->cancel_pending) &&
	       !g->cancel_disabled && !g->cancelling && gs_async_cancel;
}
/* A cancellation point: acts on g's pending deferred cancellation, unwinding
 * g (through gs_async_cancel: the unwinding is the same). Runs on g. */
static inline void gs_testcancel(struct g *g)
{
	if (unlikely(atomic_load_explicit(&g->cancel_pending, memory_order_relaxed)) &&
	    !g->cancel_disabled && !g->cancelling && gs_async_cancel)
		gs_async_cancel(g);
}
/* pthread_cancel of g with asynchronous cancellation: ends its futex wait or
 * interruptible park, or asks its M to stop it at a safe PC (proc.c). */
GS_HIDDEN void gs_cancel_async_wake(struct g *g);
/* The thread life cycle (thread.c), for G g (not a reaped one), from any
 * caller: join (abs NULL: no deadline; try: tryjoin) as glibc 2.36's
 * __pthread_clockjoin_ex, frees g; detach; the cancellation request; and,
 * from the scheduler, the end of g's exit (off its stack, on g0). */
GS_HIDDEN void gs_exited(struct g *g);
GS_HIDDEN int gs_join(struct g *g, void **ret, const struct timespec *abs, clockid_t clock, bool try);
GS_HIDDEN int gs_detach(struct g *g);
GS_HIDDEN void gs_cancel(struct g *g);

/* After an interruptible park: whether an interruption ended it. */
static inline bool gs_park_interrupted(struct g *g)
{
	bool self = g->intr_self;
	g->intr_self = 0;
	/* Read first: the exchange is a locked instruction, and a 0 read is the
	 * 0 an exchange at that instant would return (an interruption set after
	 * it is left set in both cases). */
	return (atomic_load_explicit(&g->interrupted, memory_order_relaxed) &&
		atomic_exchange(&g->interrupted, 0)) | self;
}
GS_HIDDEN void gs_yield(void);
/* Move mode: keeps the running G on the OS thread whose kernel tid is tid (0:
 * the one it runs on) from now on, going there first: for calls the kernel
 * answers per OS thread (ptrace answers only the tracer). False if no M of
 * ours has that tid or the G is kept on another already. Other modes: whether
 * it runs there (a started G never moves). */
GS_HIDDEN bool gs_wire_to(pid_t tid);
/* Preempted at a safe point (preempt.c, in a signal handler on g's stack). */
GS_HIDDEN void gs_preempt_yield(struct g *g);
/* Whether a G other than g could run on g's M now (asked by a G that keeps
 * its M in a kernel wait). Runs on g. */
GS_HIDDEN bool gs_m_has_work(struct g *g);
/* Parks the calling G until the monotonic time deadline (ns) or an
 * interruption; returns 0 or -EINTR. */
GS_HIDDEN int gs_sleep_until(uint64_t deadline);
GS_HIDDEN int gs_sleep_until_intr(uint64_t deadline, int intr);
GS_HIDDEN void gs_interrupt(struct g *g);
GS_HIDDEN void gs_ensure_ms(void);
GS_HIDDEN void gs_overflow_init_m(struct m *m);
GS_HIDDEN bool gs_overflow_check(void *addr);	/* in a SIGSEGV handler */
extern gs_lock_t gs_allg_lock GS_HIDDEN;
extern struct g *gs_allg GS_HIDDEN;		/* every live G (gs_allg_lock) */

/* ---- M life cycle and the monitor (m.c, sysmon.c) ---- */

struct gs_stats {
	_Atomic uint64_t preempts, handoffs;
	_Atomic int threads;		/* live Ms */
	_Atomic int live_gs;		/* Gs not yet exited */
	_Atomic int globq;		/* length of the global queue */
};
extern struct gs_stats gs_stats GS_HIDDEN;
/* Takes the P of m, stuck in the kernel, and gives it to an idle M without
 * one or to a new M. False if GOSHIM_MAXTHREADS is reached. */
GS_HIDDEN bool gs_handoff(struct m *m);
GS_HIDDEN void gs_sysmon_start(void);
/* Starts a detached OS thread of the runtime (not an M's G): pthread_create's
 * result. */
GS_HIDDEN int gs_start_thread(void *(*fn)(void *), void *arg, size_t stack);
/* From sysmon: polls the network if no M has for a while (all busy). */
GS_HIDDEN void gs_sysmon_netpoll(uint64_t now);
GS_HIDDEN void gs_sysmon_fork_child(void);
/* True if no M runs a G and the network needs no poll from sysmon. */
GS_HIDDEN bool gs_all_idle(void);
/* An M is awake again after sleeping: sysmon resumes if it had parked. */
GS_HIDDEN void gs_sysmon_kick(void);

/* ---- calls run on helper threads (offload.c) ---- */

/* A blocking libc call to run off the G's OS thread: fn runs on a helper
 * (errno is carried back); the rest is the caller's, usually a struct that
 * embeds this one first. */
struct gs_offload {
	void (*fn)(struct gs_offload *job);
	/* If set, the helper calls it after fn and the wake (the job then
	 * lives on the heap; see shim/wait.c), and touches the job no more. */
	void (*release)(struct gs_offload *job);
	bool unbounded;			/* may wait without bound: not capped */
	int err;
	_Atomic uint32_t done;
	struct gs_offload *next;
};
/* Runs job->fn on a helper thread while the calling G waits (in the dump:
 * "waiting in why"); sets errno as fn left it. Only on a G. */
GS_HIDDEN void gs_offload(struct gs_offload *job, const char *why);
/* Only queues it: the caller waits for job->done itself (0 -> 1, a green
 * futex word) and takes errno from job->err. */
GS_HIDDEN void gs_offload_submit(struct gs_offload *job, const char *why);
GS_HIDDEN void gs_offload_fork_child(void);

/* ---- preemption (preempt.c) ---- */

extern int gs_preempt_sig GS_HIDDEN;		/* 0: off */
GS_HIDDEN void gs_preempt_init(void);
GS_HIDDEN void gs_preempt_m(struct m *m);	/* from sysmon */
GS_HIDDEN void gs_preempt_backtrace(struct m *m);	/* from a dump */
GS_HIDDEN void gs_preempt_hook(struct m *m);
/* m->preempt_req: sysmon's request (the G ran 10 ms), and a G of higher
 * priority than the running one was made runnable for its P (proc.c). */
#define GS_PREEMPT_SYSMON 1
#define GS_PREEMPT_PRIO 2
/* The running g gives way to the G of higher priority made runnable. */
GS_HIDDEN void gs_prio_yield(struct g *g);
/* g, running, changed its own priority: a request to yield if a runnable G
 * of its P now ranks above it. */
GS_HIDDEN void gs_prio_changed(struct g *g);
/* A preemption point in a hook that never blocks (mutex unlock, trylock,
 * pthread_kill, pthread_sigmask, ...): the signal sysmon sends finds the PC in
 * the shim or libc, where it may not yield, and leaves m->preempt_req set; a G
 * that loops on such calls yields here. One load of the flag on the fast
 * path. Call it where the hook holds no lock and has done its work. */
static inline void gs_preempt_point(void)
{
	struct m *m = gs_curm;
	if (unlikely(m && atomic_load_explicit(&m->preempt_req, memory_order_relaxed)))
		gs_preempt_hook(m);
}
/* The program's own action for gs_preempt_sig, run by our handler for a signal
 * that is not a preemption request (shim/signal.c sets it). */
extern void (*gs_preempt_forward)(int, siginfo_t *, void *) GS_HIDDEN;

/* ---- signals (signal.c) ---- */

GS_HIDDEN void gs_sig_g_start(struct g *g);		/* count g's mask in */
GS_HIDDEN void gs_sig_g_end(struct g *g);		/* and out */
GS_HIDDEN void gs_sig_setmask(struct g *g, const sigset_t *set);
GS_HIDDEN void gs_sig_deliver(struct g *g);		/* run g's pending signals, on g */
GS_HIDDEN void gs_sig_idle_mask(struct m *m);		/* before an M sleeps */
/* Sets m's OS thread mask for the G mask *set (keeping preemption open). */
GS_HIDDEN void gs_sig_apply(struct m *m, const sigset_t *set);
GS_HIDDEN bool gs_sig_redirect(struct m *m, int sig);	/* handler ran on g0 */
GS_HIDDEN int gs_sig_send(struct g *g, int sig);

/* ---- thread ids (tid.c) ---- */

GS_HIDDEN pid_t gs_tid_of(struct g *g);
GS_HIDDEN int gs_tid_kill(pid_t tid, int sig);
GS_HIDDEN void gs_tid_fork_child(struct g *g);
/* ---- per-G CPU clocks (cpuclock.c) ---- */

extern _Atomic int gs_cpuclock_on GS_HIDDEN;	/* a program asked for a G's CPU clock */
GS_HIDDEN void gs_cpuclock_switch(struct m *m, struct g *next);
GS_HIDDEN clockid_t gs_cpuclock_id(struct g *g);
GS_HIDDEN int gs_cpuclock_read(clockid_t clock, struct timespec *ts);
/* Before m->curg changes: charges the span that ends, if accounting is on
 * (one load otherwise). */
static inline void gs_cpuclock_at_switch(struct m *m, struct g *next)
{
	if (unlikely(atomic_load_explicit(&gs_cpuclock_on, memory_order_relaxed)))
		gs_cpuclock_switch(m, next);
}

/* ---- run queues (runq.c) ---- */

GS_HIDDEN bool gs_runq_put(struct gs_runq *q, struct g *g);	/* false: full */
GS_HIDDEN struct g *gs_runq_get(struct gs_runq *q);
GS_HIDDEN uint32_t gs_runq_steal(struct gs_runq *to, struct gs_runq *from);
GS_HIDDEN uint32_t gs_runq_len(struct gs_runq *q);
GS_HIDDEN void gs_mpsc_init(struct gs_mpsc *q);
/* Priority run queues: put g with prio (1-99) and seq (its order among
 * equals; front: before its equals); get the first (NULL: empty). */
GS_HIDDEN void gs_prioq_put(struct gs_prioq *q, struct g *g, int prio, uint32_t seq, bool front);
GS_HIDDEN struct g *gs_prioq_get(struct gs_prioq *q);
GS_HIDDEN void gs_mpsc_push(struct gs_mpsc *q, struct gs_node *n);
GS_HIDDEN struct gs_node *gs_mpsc_pop(struct gs_mpsc *q);
GS_HIDDEN bool gs_mpsc_empty(struct gs_mpsc *q);

/* ---- timers (timer.c) ---- */

GS_HIDDEN int gs_timer_add(struct gs_timers *t, uint64_t when, struct g *g, uint64_t seq);
GS_HIDDEN bool gs_timer_pop_due(struct gs_timers *t, uint64_t now, struct gs_timer *out);
/* Takes g's entry out, if it has one (its wait ended before the deadline). */
GS_HIDDEN void gs_timer_del(struct gs_timers *t, struct g *g);
GS_HIDDEN uint64_t gs_timer_next(struct gs_timers *t);	/* UINT64_MAX if none */
/* Entries in t, read without its lock (a hint: the lock's holder decides). */
static inline size_t gs_timer_count(struct gs_timers *t)
{
	return __atomic_load_n(&t->n, __ATOMIC_RELAXED);
}
GS_HIDDEN uint64_t gs_nanotime(void);			/* CLOCK_MONOTONIC ns */
/* Converts an absolute deadline on clock to a monotonic ns deadline. */
GS_HIDDEN uint64_t gs_deadline(clockid_t clock, const struct timespec *abs);

/* ---- stacks (stack.c) ---- */

enum { STACK_GUARDED, STACK_PACKED, STACK_USER, STACK_MAIN };
GS_HIDDEN int gs_stack_alloc(struct g *g, size_t size, size_t guard);
GS_HIDDEN void gs_stack_free(struct g *g);
GS_HIDDEN void gs_stack_trim_pools(int keep);	/* from sysmon */
GS_HIDDEN size_t gs_stack_default(void);
GS_HIDDEN void gs_stack_set_default(size_t size);
GS_HIDDEN size_t gs_stack_guardsize(const struct g *g);
GS_HIDDEN bool gs_stack_markers(void);	/* guards are kernel guard markers */
#define GS_STACK_MARK_GAP (64 * 1024UL)	/* guarded below the asked guard (stack.c) */
GS_HIDDEN void gs_stack_init(void);
GS_HIDDEN size_t gs_stack_committed(struct g *g);
GS_HIDDEN void gs_stack_fork_prepare(void);
GS_HIDDEN void gs_stack_fork_parent(void);
GS_HIDDEN void gs_stack_fork_child(void);

/* ---- fork (fork.c: the one strategy; loader.c: the loader gate) ---- */

/* Around dlopen, dlmopen, dlclose and dl_iterate_phdr (any caller): no fork
 * happens while a caller is inside, and a caller waits while one is under way. */
GS_HIDDEN void gs_loader_enter(void);
GS_HIDDEN void gs_loader_leave(void);
/* Around the real fork (fork.c): shut waits until no loader call is inside
 * (parks a G); open (pid as fork returned it) opens the gate again in the
 * parent; fork_child resets it in the child's fork handler. */
GS_HIDDEN void gs_loader_shut(void);
GS_HIDDEN void gs_loader_open(pid_t pid);
GS_HIDDEN void gs_loader_fork_child(void);
/* fork() for the hook: the loader gate, glibc's fork on the real thread
 * pointer; pid, 0 in the child, or -errno. The fork handlers are fork.c's. */
GS_HIDDEN pid_t gs_fork(void);
/* Each subsystem's part of fork.c's handlers. */
GS_HIDDEN void gs_robust_fork_prepare(void);
GS_HIDDEN void gs_robust_fork_release(void);
GS_HIDDEN void gs_dumpsock_fork_child(void);

/* ---- thread identity (tls.c) ---- */

extern size_t gs_tls_size GS_HIDDEN;
/* tp mode: each G has its own thread pointer (tls.c); else pinned. */
extern int gs_tls_tp GS_HIDDEN;
extern const char *gs_tls_why GS_HIDDEN;	/* why pinned */
GS_HIDDEN void gs_tls_init(void);
GS_HIDDEN int gs_tls_init_g(struct g *g);	/* 0 or -EAGAIN */
GS_HIDDEN void *gs_tls_block_new(void);
GS_HIDDEN char *gs_tls_g_spot(char *lo, char *hi, size_t gsize);
GS_HIDDEN void gs_tls_block_free(void *b);
GS_HIDDEN void gs_tls_trim(bool idle);	/* from sysmon */
/* tp mode: points the thread pointer of m at tp (a G's or m->tp). */
GS_HIDDEN void gs_tls_enter(struct m *m, void *tp, pid_t tid);
GS_HIDDEN void gs_tls_g_start(struct g *g);
GS_HIDDEN void gs_tls_after_dlopen(void);
GS_HIDDEN void gs_tls_wrap_setxid(void);
GS_HIDDEN void gs_tls_probe(void);	/* at the first pthread_create */	/* after glibc's first pthread_create */
/* Code between begin and end runs on the M's real thread pointer (fork, set*id,
 * starting an OS thread); the caller touches no TLS in between. */
struct gs_realtp { struct m *m; void *tp; int in_sched; };
GS_HIDDEN void gs_tls_real_begin(struct gs_realtp *r);
GS_HIDDEN void gs_tls_real_end(struct gs_realtp *r);
GS_HIDDEN void gs_tls_set_errno(int e);
GS_HIDDEN void gs_tls_init_m(struct m *m);
GS_HIDDEN void gs_tls_switch(struct m *m, struct g *to);
GS_HIDDEN void gs_tls_release(struct m *m, struct g *g);
GS_HIDDEN void gs_tsd_run_destructors(struct g *g);
/* __cxa_thread_atexit_impl of a G (C++ thread_local destructors): kept per G
 * and run at its exit, newest first, before the pthread key destructors. */
GS_HIDDEN int gs_tls_dtor_add(struct g *g, void (*fn)(void *), void *obj);
GS_HIDDEN void gs_tls_dtors_run(struct g *g);

/* ---- green futex (futex.c) ---- */

/* Waits while *addr == val. From a G it parks; from any other caller it is the
 * kernel futex. deadline: monotonic ns or 0 for none. Returns 0 (woken, or
 * *addr != val: -EAGAIN), -ETIMEDOUT, -EINTR (interruptible waits only). */
GS_HIDDEN int gs_futex_wait(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline,
			    int interruptible, const char *why);
GS_HIDDEN int gs_futex_wake(_Atomic uint32_t *addr, int n);
/* The same with FUTEX_WAIT_BITSET's mask (a wake reaches a waiter whose mask
 * shares a bit with its own); _green wakes only Gs, never the kernel futex
 * (shim/syscall.c makes the kernel's wake itself, with the caller's op). */
GS_HIDDEN int gs_futex_wait_bits(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline,
				 int interruptible, const char *why, uint32_t bits);
GS_HIDDEN int gs_futex_wake_green(_Atomic uint32_t *addr, int n, uint32_t bits);
/* Set once any G has had SCHED_FIFO or SCHED_RR: from then on a wake of one
 * picks the waiter of highest priority (futex.c); before, and for
 * SCHED_OTHER waiters, the order stays FIFO at no cost. */
extern _Atomic int gs_rt_used GS_HIDDEN;
/* gs_futex_wake(addr, 1) for a word that counts events (a condition variable's
 * sequence, just advanced): a waiter that began after the advance is not ranked. */
GS_HIDDEN int gs_futex_wake_changed(_Atomic uint32_t *addr);
static inline void gs_sched_note(int policy)
{
	if ((policy == 1 /* SCHED_FIFO */ || policy == 2 /* SCHED_RR */) &&
	    !atomic_load_explicit(&gs_rt_used, memory_order_relaxed))
		atomic_store(&gs_rt_used, 1);
}
GS_HIDDEN void gs_futex_fork_child(void);
GS_HIDDEN int gs_sys_futex(void *addr, int op, uint32_t val, const struct timespec *ts);

/* ---- internal lock (lock.c): a spin-then-futex lock between Ms ---- */

GS_HIDDEN void gs_lock(gs_lock_t *l);
GS_HIDDEN void gs_unlock(gs_lock_t *l);
/* Takes l if it is free, without waiting: true if taken. For a signal handler
 * that may have interrupted l's holder. */
GS_HIDDEN bool gs_trylock(gs_lock_t *l);
/* In the child after fork: l as if never taken (its holder, another thread,
 * is not in the child). */
GS_HIDDEN void gs_lock_reset(gs_lock_t *l);

/* ---- dump (dump.c) ---- */

extern int gs_dump_sig GS_HIDDEN;	/* GOSHIM_DUMP_SIGNAL, 0 if none */
GS_HIDDEN void gs_dump(int fd);
/* libunwind's one-time initialisation, which calls hooked functions (pipe2,
 * pthread_mutex_lock): every unwinder user calls this before it takes a
 * runtime lock. ready: it has been done (lock.c's rank report unwinds only
 * then, so a violation inside the initialisation cannot re-enter it). */
GS_HIDDEN void gs_unwind_init(void);
GS_HIDDEN bool gs_unwind_ready(void);
/* The same dump gathered in memory (malloc), as text or JSON, without the G skip;
 * NULL when out of memory. */
GS_HIDDEN char *gs_dump_mem(bool json, struct g *skip, size_t *len);
GS_HIDDEN void gs_dump_hold(struct m *m, void *uc);	/* in the signal handler */
/* 1 if the OS thread tid is on a CPU or runnable, 0 if it is in the system
 * call *nr (may be NULL), -1 unknown (sysmon.c). */
GS_HIDDEN int gs_thread_running(pid_t tid, long *nr);
/* The schedtrace figures (sysmon.c). */
struct gs_sched_stat {
	int procs, threads, idleprocs, runqueue, gs;
	unsigned long long preempts, handoffs;
	unsigned long long moves;	/* Gs resumed on another M than their last */
};
GS_HIDDEN void gs_sched_stat(struct gs_sched_stat *st, char *rq, size_t rqn, const char *sep);
/* Those and the green threads by state and wait reason, and their stacks, as
 * text or JSON, in memory (dump.c; for `goshim stat`). */
GS_HIDDEN char *gs_stat_mem(bool json, struct g *skip, uint64_t uptime_ns, size_t *len);
GS_HIDDEN void gs_dump_init(void);
/* The dump socket @goshim-PID (dumpsock.c): `goshim dump PID` asks it. */
GS_HIDDEN void gs_dumpsock_init(void);

/* ---- util ---- */

/* The kernel call, never through the shim's own syscall() hook (real.c). */
extern long (*gs_syscall_p)(long, ...) GS_HIDDEN;
GS_HIDDEN long (*gs_syscall_init(void))(long, ...);
#define gs_syscall(...) ((gs_syscall_p ? gs_syscall_p : gs_syscall_init())(__VA_ARGS__))

GS_HIDDEN _Noreturn void gs_throw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
GS_HIDDEN void gs_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* All of buf to fd with libc's write, never through our own hooks. */
GS_HIDDEN void gs_write_all(int fd, const void *buf, size_t n);
#define gs_assert(c) do { if (unlikely(!(c))) gs_throw("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__); } while (0)

#endif
