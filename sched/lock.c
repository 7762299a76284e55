/* sched/lock.c: the runtime's internal lock between Ms (spin, then kernel futex),
 * and the raw futex syscall. Held only for a few instructions, never across a
 * park. Encoding of v: 0 free, 1 held, 2 held with sleepers. With
 * -DGS_LOCKRANK, each acquisition is checked against the ranks (gs.h) of the
 * locks the thread holds. */
#include <errno.h>
#include <string.h>
#ifdef GS_LOCKRANK
#define UNW_LOCAL_ONLY
#include <libunwind.h>
#endif
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "gs.h"

/* The futex syscall; returns its result or -errno and leaves errno alone (the
 * runtime runs with a G's identity in TLS: its errno is the program's). */
int gs_sys_futex(void *addr, int op, uint32_t val, const struct timespec *ts)
{
	int saved = errno;
	long r = gs_syscall(SYS_futex, addr, op, val, ts, NULL, 0);
	if (r < 0)
		r = -errno;
	errno = saved;
	return (int)r;
}

#ifdef GS_LOCKRANK
/* The locks this OS thread (or G: no lock is held across a switch) holds, in
 * the order taken. 64 robust buckets are held at once across fork. */
static GS_TLS struct {
	int n;
	gs_lock_t *l[96];
} held;

static const struct { bool peer; const char *name; } ranks[] = {
	{ false, "a lock without a rank" },
#define GS_RANK_INFO_(r, peer, name) { peer, name },
	GS_LOCK_RANKS(GS_RANK_INFO_)
#undef GS_RANK_INFO_
};

/* seen[a] bit b: a lock of rank b was taken while one of rank a was held.
 * GOSHIM_LOCKRANK_SEEN=FILE appends them to FILE at exit, one "a -> b" a
 * line (to write the lock order down from what runs). */
static _Atomic uint64_t seen[64];

__attribute__((destructor)) static void print_seen(void)
{
	const char *e = getenv("GOSHIM_LOCKRANK_SEEN");
	if (!e || !*e)
		return;
	int fd = (int)gs_syscall(SYS_openat, AT_FDCWD, e, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	for (unsigned a = 1; a < sizeof ranks / sizeof ranks[0]; a++)
		for (unsigned b = 1; b < sizeof ranks / sizeof ranks[0]; b++)
			if (atomic_load(&seen[a]) & (1ull << b))
				dprintf(fd, "%s -> %s\n", ranks[a].name, ranks[b].name);
	gs_syscall(SYS_close, fd);
}

/* The calling stack, to stderr: who took the lock out of order. Not while
 * libunwind is not initialised: the violation may be inside its
 * initialisation, which holds its own lock (dump.c). */
static void where(void)
{
	static GS_TLS bool inside;	/* the unwinder opens files: through the hooks */
	if (inside)
		return;
	if (!gs_unwind_ready()) {
		gs_printf("lock rank:   (no backtrace: the unwinder is not initialised yet)");
		return;
	}
	inside = true;
	unw_context_t uc;
	unw_cursor_t c;
	unw_getcontext(&uc);
	if (unw_init_local(&c, &uc) != 0)
		return;
	for (int i = 0; i < 24 && unw_step(&c) > 0; i++) {
		char name[128];
		unw_word_t off = 0;
		if (unw_get_proc_name(&c, name, sizeof name, &off) != 0)
			strcpy(name, "?");
		gs_printf("lock rank:   at %s+%#lx", name, (unsigned long)off);
	}
	inside = false;
}

static void rank_acquire(gs_lock_t *l, bool try)
{
	if (unlikely(l->rank == GS_RANK_NONE || l->rank >= sizeof ranks / sizeof ranks[0]))
		gs_throw("lock rank: %p has no rank (gs_lock_init or GS_LOCK_INIT)", (void *)l);
	for (int i = 0; i < held.n && !try; i++) {
		gs_lock_t *h = held.l[i];
		if (h->rank < l->rank || (h->rank == l->rank && ranks[l->rank].peer && h < l))
			continue;
		where();
		gs_throw("lock rank: %s (rank %u) taken while holding %s (rank %u)", ranks[l->rank].name,
			 l->rank, ranks[h->rank].name, h->rank);
	}
	for (int i = 0; i < held.n; i++)
		atomic_fetch_or_explicit(&seen[held.l[i]->rank], 1ull << l->rank, memory_order_relaxed);
	if (held.n == (int)(sizeof held.l / sizeof held.l[0]))
		gs_throw("lock rank: more than %d locks held", held.n);
	held.l[held.n++] = l;
}

static void rank_release(gs_lock_t *l)
{
	for (int i = held.n - 1; i >= 0; i--)
		if (held.l[i] == l) {
			held.l[i] = held.l[--held.n];	/* order within the set does not matter */
			return;
		}
}
#else
static inline void rank_acquire(gs_lock_t *l, bool try)
{
}

static inline void rank_release(gs_lock_t *l)
{
}
#endif

void gs_lock(gs_lock_t *l)
{
	uint32_t c = 0;
	rank_acquire(l, false);
	if (atomic_compare_exchange_strong(&l->v, &c, 1))
		return;
	for (int i = 0; i < 100; i++) {
		gs_arch_relax();
		c = 0;
		if (atomic_load_explicit(&l->v, memory_order_relaxed) == 0 &&
		    atomic_compare_exchange_weak(&l->v, &c, 1))
			return;
	}
	while (atomic_exchange(&l->v, 2) != 0)
		gs_sys_futex(&l->v, FUTEX_WAIT_PRIVATE, 2, NULL);
}

void gs_unlock(gs_lock_t *l)
{
	rank_release(l);
	if (atomic_exchange(&l->v, 0) == 2)
		gs_sys_futex(&l->v, FUTEX_WAKE_PRIVATE, 1, NULL);
}

/* Not ranked against the locks held (it never waits: a handler's trylock
 * of a lock its interrupted code may hold is the point), but counted. */
bool gs_trylock(gs_lock_t *l)
{
	uint32_t c = 0;
	if (!atomic_compare_exchange_strong(&l->v, &c, 1))
		return false;
	rank_acquire(l, true);
	return true;
}

void gs_lock_reset(gs_lock_t *l)
{
	rank_release(l);
	atomic_store(&l->v, 0);
}
