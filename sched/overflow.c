/* sched/overflow.c: a fault in a G's guard page is reported as a stack
 * overflow of that G (each M handles SIGSEGV on an alternate stack). */
#include <signal.h>
#include <sys/mman.h>
#include "gs.h"
#include "proc.h"

#define ALTSTACK (64 * 1024)

void gs_overflow_init_m(struct m *m)
{
	stack_t ss = { .ss_size = ALTSTACK };
	ss.ss_sp = mmap(NULL, ALTSTACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (ss.ss_sp == MAP_FAILED)
		return;
	m->altstack = ss.ss_sp;
	sigaltstack(&ss, NULL);
}

bool gs_overflow_check(void *addr)
{
	struct m *m = gs_curm;
	struct g *g = m ? m->curg : NULL;
	if (!g || g->stack_kind != STACK_GUARDED)
		return false;
	if ((char *)addr >= g->stack_lo || (char *)addr < (char *)g->map)
		return false;
	gs_printf(OVERFLOW_FMT, g->id, (size_t)(g->stack_hi - g->stack_lo) / 1024);
	return true;
}
