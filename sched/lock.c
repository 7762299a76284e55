/* sched/lock.c: the runtime's internal lock between Ms (spin, then kernel futex),
 * and the raw futex syscall. Held only for a few instructions, never across a
 * park. Encoding of v: 0 free, 1 held, 2 held with sleepers. */
#include <errno.h>
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

void gs_lock(gs_lock_t *l)
{
	uint32_t c = 0;
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
	if (atomic_exchange(&l->v, 0) == 2)
		gs_sys_futex(&l->v, FUTEX_WAKE_PRIVATE, 1, NULL);
}

bool gs_trylock(gs_lock_t *l)
{
	uint32_t c = 0;
	return atomic_compare_exchange_strong(&l->v, &c, 1);
}

void gs_lock_reset(gs_lock_t *l)
{
	atomic_store(&l->v, 0);
}
