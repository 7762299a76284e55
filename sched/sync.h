/* sched/sync.h: mutexes, condition variables, rwlocks, barriers, semaphores,
 * once, built on the green futex (sync.c). The objects are the program's own
 * pthread_*_t memory; the layouts below are ours, laid over glibc's so that
 * the fields glibc uses to mark a process-shared or robust object stay where
 * glibc puts them (those objects are left to glibc: shim/sync.c). */
#ifndef GS_SYNC_H
#define GS_SYNC_H
#include <pthread.h>
#include <semaphore.h>
#include "gs.h"

struct gs_mutex {		/* over pthread_mutex_t (40 bytes) */
	_Atomic uint32_t lock;	/* 0 free, 1 held, 2 held with waiters */
	uint32_t count;		/* recursion depth (recursive type) */
	int owner;		/* gs_self_id() of the holder */
	uint32_t nusers;
	int kind;		/* glibc's __kind: type | flags; offset 16 */
};
#define GS_MUTEX_ROBUST 16		/* glibc's __kind bits */
#define GS_MUTEX_PI 32
#define GS_MUTEX_PP 64
#define GS_MUTEX_PSHARED 128
/* Left to glibc. Priority inheritance means nothing between green threads of
 * one OS thread, so PI and PP mutexes are ours, with glibc's owner checks. */
#define GS_MUTEX_KIND_SPECIAL (GS_MUTEX_PSHARED | GS_MUTEX_ROBUST)

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
	int shared;		/* offset 12: glibc: 0 shared, 128 private */
};

struct gs_sem {			/* glibc's struct new_sem, same encoding */
	_Atomic uint64_t data;	/* value in the low 32 bits, waiters above */
	int private;		/* 128: process-private (ours); 0: shared (glibc's) */
};

_Static_assert(sizeof(struct gs_mutex) <= sizeof(pthread_mutex_t), "layout");
_Static_assert(offsetof(struct gs_mutex, kind) == 16, "glibc __kind");
_Static_assert(offsetof(struct gs_cond, wrefs) == 36, "glibc __wrefs");
_Static_assert(sizeof(struct gs_cond) <= sizeof(pthread_cond_t), "layout");
_Static_assert(offsetof(struct gs_rwlock, shared) == 28, "glibc __shared");
_Static_assert(offsetof(struct gs_rwlock, flags) == 48, "glibc __flags");
_Static_assert(sizeof(struct gs_barrier) <= sizeof(pthread_barrier_t), "layout");
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

GS_HIDDEN int gs_once(_Atomic int *once, void (*fn)(void));
#endif
