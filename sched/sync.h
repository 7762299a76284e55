/* sched/sync.h: mutexes, condition variables, rwlocks, barriers, semaphores,
 * once, built on the green futex (sync.c). The objects are the program's own
 * pthread_*_t memory; the layouts below are ours, laid over glibc's so that
 * the fields glibc uses to mark a process-shared object stay where glibc puts
 * them. Process-shared objects are glibc's (another process, preloaded or not,
 * uses them too): shim/sync.c calls glibc for them, and from a G waits on them
 * live, with the try-variant and gs_nap() between attempts, so that the M is
 * never blocked in the kernel for long. */
#ifndef GS_SYNC_H
#define GS_SYNC_H
#include <pthread.h>
#include <semaphore.h>
#include "gs.h"

struct gs_mutex {		/* over pthread_mutex_t (40 bytes) */
	_Atomic uint32_t lock;	/* 0 free, 1 held, 2 held with waiters */
	uint32_t count;		/* recursion depth (recursive type) */
	int owner;		/* gs_self_id() of the holder */
	uint32_t rstate;	/* lock: ROBUST_* of sync.c (robust kind only) */
	int kind;		/* glibc's __kind: type | flags; offset 16 */
	int pad;		/* glibc's __spins, __elision */
	/* A robust mutex held by a G is linked, in glibc's __list, into the
	 * list of its owner's bucket (sync.c, robust mutexes). */
	struct gs_mutex *rprev, *rnext;
};
#define GS_MUTEX_ROBUST 16		/* glibc's __kind bits */
#define GS_MUTEX_PI 32
#define GS_MUTEX_PP 64
#define GS_MUTEX_PSHARED 128
/* Left to glibc. Priority inheritance means nothing between green threads of
 * one OS thread, so PI and PP mutexes are ours, with glibc's owner checks;
 * process-private robust mutexes are ours too (an owner is a G, and its exit,
 * not its M's, must make the mutex EOWNERDEAD). */
#define GS_MUTEX_KIND_SPECIAL GS_MUTEX_PSHARED

struct gs_cond {		/* over pthread_cond_t (48 bytes) */
	_Atomic uint32_t seq;	/* futex word: bumped by signal/broadcast */
	_Atomic uint32_t waiters;
	uint32_t pad[7];
	uint32_t wrefs;		/* offset 36: glibc's flags: 1 pshared, 2 monotonic */
};

struct gs_rwlock {		/* over pthread_rwlock_t (56 bytes) */
	_Atomic uint32_t lk;	/* internal lock, as gs_mutex.lock */
	uint32_t readers;	/* lk */
	int writer;		/* lk: id of the writer, 0 none */
	uint32_t wwait;		/* lk: writers waiting */
	_Atomic uint32_t rseq;	/* futex words */
	_Atomic uint32_t wseq;
	uint32_t rwait;		/* lk: readers waiting */
	int shared;		/* offset 28: glibc's pshared flag */
	uint32_t pad[4];
	uint32_t flags;		/* offset 48: glibc's kind (prefer reader/writer) */
};

struct gs_barrier {		/* over pthread_barrier_t (32 bytes) */
	_Atomic uint32_t arrived;
	_Atomic uint32_t seq;
	uint32_t count;
	int shared;		/* offset 12: GS_BARRIER_OURS, or glibc's 0/128 */
};
/* glibc writes 0 (private) or 128 (FUTEX_SHARED) in ->shared; a barrier has
 * no static initializer, so any other value marks one of ours. */
#define GS_BARRIER_OURS 0x67736231	/* "gsb1" */

/* glibc's struct pthread_barrier, for process-shared barriers (gs_pbarrier_*). */
struct gs_pbarrier {
	_Atomic uint32_t in;		/* threads that entered */
	_Atomic uint32_t round;		/* current_round: futex word */
	uint32_t count;
	int shared;			/* 128 FUTEX_SHARED, 0 private */
	_Atomic uint32_t out;		/* threads that left */
};

struct gs_sem {			/* glibc's struct new_sem, same encoding */
	_Atomic uint64_t data;	/* value in the low 32 bits, waiters above */
	int private;		/* GS_SEM_OURS, or glibc's 0 private / 128 shared */
};
/* As for barriers: glibc writes 0 or 128 (sem_init, sem_open), so another
 * value marks a process-private semaphore of ours. */
#define GS_SEM_OURS 0x67737331		/* "gss1" */

_Static_assert(sizeof(struct gs_mutex) <= sizeof(pthread_mutex_t), "layout");
_Static_assert(offsetof(struct gs_mutex, kind) == 16, "glibc __kind");
_Static_assert(offsetof(struct gs_mutex, rprev) == 24, "glibc __list");
_Static_assert(offsetof(struct gs_cond, wrefs) == 36, "glibc __wrefs");
_Static_assert(sizeof(struct gs_cond) <= sizeof(pthread_cond_t), "layout");
_Static_assert(offsetof(struct gs_rwlock, shared) == 28, "glibc __shared");
_Static_assert(offsetof(struct gs_rwlock, flags) == 48, "glibc __flags");
_Static_assert(sizeof(struct gs_barrier) <= sizeof(pthread_barrier_t), "layout");
_Static_assert(sizeof(struct gs_pbarrier) <= sizeof(pthread_barrier_t), "layout");
_Static_assert(sizeof(struct gs_sem) <= sizeof(sem_t), "layout");

/* A deadline given as glibc's arguments, converted only when a call must wait
 * (glibc reports EINVAL for a bad tv_nsec only then). */
struct gs_when {
	const struct timespec *abs;	/* NULL: no deadline */
	clockid_t clock;
};
#define GS_FOREVER ((struct gs_when){ NULL, CLOCK_REALTIME })

GS_HIDDEN int gs_self_id(void);
GS_HIDDEN int gs_when_deadline(struct gs_when w, uint64_t *deadline);

GS_HIDDEN int gs_mutex_lock(struct gs_mutex *m, struct gs_when w, bool try);
GS_HIDDEN int gs_mutex_unlock(struct gs_mutex *m);
GS_HIDDEN int gs_mutex_consistent(struct gs_mutex *m);
GS_HIDDEN int gs_mutex_destroy(struct gs_mutex *m);
/* Releases the robust mutexes g still holds, each to be taken next with
 * EOWNERDEAD, as the kernel does for an OS thread's robust list. g.c calls
 * it when g exits: after its TSD destructors, before a joiner can see it gone.
 * It does not park. */
GS_HIDDEN void gs_robust_exit(struct g *g);

typedef int (*gs_mutex_fn)(pthread_mutex_t *);
GS_HIDDEN int gs_cond_wait(struct gs_cond *c, pthread_mutex_t *mx, gs_mutex_fn unlock,
			   gs_mutex_fn lock, struct gs_when w);
GS_HIDDEN int gs_cond_wake(struct gs_cond *c, bool all);

GS_HIDDEN int gs_rwlock_rdlock(struct gs_rwlock *l, struct gs_when w, bool try);
GS_HIDDEN int gs_rwlock_wrlock(struct gs_rwlock *l, struct gs_when w, bool try);
GS_HIDDEN int gs_rwlock_unlock(struct gs_rwlock *l);

GS_HIDDEN int gs_barrier_wait(struct gs_barrier *b);

GS_HIDDEN int gs_sem_wait(struct gs_sem *s, struct gs_when w, bool try);
GS_HIDDEN int gs_sem_post(struct gs_sem *s);

/* Live waits on objects that are glibc's (process-shared): gs_nap() parks
 * the calling G for a back-off that grows from 50 us to 2 ms, never past
 * deadline (monotonic ns, 0 none). Returns 0 (try again), ETIMEDOUT (deadline
 * reached, checked before sleeping) or EINTR (only if intr is GS_INTR_*). */
struct gs_backoff {
	uint64_t ns;		/* the last nap, 0 before the first */
};
GS_HIDDEN int gs_nap(struct gs_backoff *b, uint64_t deadline, int intr);
/* glibc's barrier algorithm on glibc's layout, its waits live (a G only). */
GS_HIDDEN int gs_pbarrier_wait(struct gs_pbarrier *b);
GS_HIDDEN int gs_pbarrier_destroy(struct gs_pbarrier *b);

GS_HIDDEN bool gs_once_begin(_Atomic int *once);	/* true: run the routine */
GS_HIDDEN void gs_once_end(_Atomic int *once, bool done);
#endif
