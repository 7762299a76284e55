/* sched/proc.h: what the scheduler (proc.c), the M and P life cycle (m.c), the
 * Gs' life cycle (g.c) and start-up (start.c) share; nothing outside them
 * includes it. */
#ifndef GOSHIM_PROC_H
#define GOSHIM_PROC_H

#include "gs.h"

#define G0_STACK (256 * 1024)	/* each M's scheduler stack */
#define OVERFLOW_FMT "green thread %d overflowed its stack of %zu KiB (GOSHIM_STACK sets the default)"

/* proc.c */
GS_HIDDEN extern _Atomic int gs_ms_started;	/* the Ms and the monitor were started */
GS_HIDDEN void gs_globq_put(struct g *g);
GS_HIDDEN void gs_wake_m(struct m *m);
GS_HIDDEN bool gs_wakep(struct m *self);	/* true: woke one */
GS_HIDDEN void gs_schedule(struct m *m, struct g *cur, bool prefer_new);
GS_HIDDEN void gs_sched_after_switch(struct m *m);
GS_HIDDEN void gs_m_loop(struct m *m);
GS_HIDDEN void gs_g0_entry(void *arg);
GS_HIDDEN void gs_proc_fork_child(void);
/* A new G with a real-time policy once gs_rt_used: queued by priority (true);
 * creator: the G that creates it, or NULL. */
GS_HIDDEN bool gs_prio_new(struct g *g, struct g *creator);

/* m.c */
GS_HIDDEN bool gs_idle_p(struct m *m);
GS_HIDDEN struct m *gs_m0_init(void);
GS_HIDDEN void gs_m_fork_child(struct m *self, struct g *g);

/* g.c */
GS_HIDDEN extern char gs_main_name[16];
GS_HIDDEN struct g *gs_new_g(void);
GS_HIDDEN void gs_allg_add(struct g *g);
GS_HIDDEN void gs_allg_del(struct g *g);
GS_HIDDEN void gs_g_fork_child(struct g *g);

#endif
