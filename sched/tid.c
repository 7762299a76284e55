/* sched/tid.c: thread ids of green threads (gettid, tgkill).
 *
 * Natively every thread has a kernel id from the pid space, and programs use
 * it as a key (logs, maps of per-thread state, CPython's
 * threading.get_native_id, tgkill). Gs share their M's kernel id, so each G
 * gets its own: the G that is the process (main, or the G that forked this
 * process) has the process id, as natively; every other G has
 * GS_TID_BASE + g->id. The kernel never hands out a pid or tid at or above
 * PID_MAX_LIMIT (4,194,304 on 64-bit: /proc/sys/kernel/pid_max cannot be set
 * higher), so no live thread or process of the system has such an id, and
 * g->id is never reused within a process (a counter), so two Gs never share
 * one. Kernel calls that take a tid (sched_setaffinity, /proc/self/task/TID,
 * setpriority) do not know these ids: README "Limits". */
#include <errno.h>
#include <unistd.h>
#include "gs.h"

#define GS_TID_BASE (1 << 22)	/* PID_MAX_LIMIT for 64-bit kernels (linux/threads.h) */

static struct g *tid_proc_g;	/* the G whose id is the pid; NULL: main's */

pid_t gs_tid_of(struct g *g)
{
	struct g *pg = tid_proc_g ? tid_proc_g : gs_maing;
	if (g == pg)
		return getpid();
	return (pid_t)(GS_TID_BASE + g->id);
}

/* Sends sig to the G whose id is tid: 0, -ESRCH (no such G), -EINVAL, or 1
 * if tid is not a G's (then the caller makes the real call). */
int gs_tid_kill(pid_t tid, int sig)
{
	if (sig < 0 || sig > 64)
		return -EINVAL;
	struct g *self = gs_self();
	if (self && gs_tid_of(self) == tid)	/* the handler runs now: no lock held */
		return sig ? gs_sig_send(self, sig) : 0;
	int r = 1;
	/* Under the lock, so that the G cannot exit and be freed meanwhile. */
	gs_lock(&gs_allg_lock);
	for (struct g *g = gs_allg; g; g = g->allnext) {
		if (gs_tid_of(g) != tid)
			continue;
		if (atomic_load(&g->status) == G_DEAD)
			r = -ESRCH;
		else
			r = sig ? gs_sig_send(g, sig) : 0;
		break;
	}
	gs_unlock(&gs_allg_lock);
	if (r == 1 && tid >= GS_TID_BASE)
		r = -ESRCH;	/* a G's id, of a G that has exited */
	return r;
}

void gs_tid_fork_child(struct g *g)
{
	tid_proc_g = g;
}
