/* sched/real.c: the libc call table: dlsym(RTLD_NEXT) behind REAL(). */
#include <dlfcn.h>
#include "real.h"

void *gs_real_sym(const char *name)
{
	void *p = dlsym(RTLD_NEXT, name);
	if (!p)
		gs_throw("cannot find the real %s: %s", name, dlerror());
	return p;
}

/* The kernel's syscall() for the runtime itself: libgoshim.so interposes
 * syscall (shim/syscall.c), and the runtime's own futexes, clocks and /proc
 * reads must never go through that hook. Resolved at load, so that a signal
 * handler (preempt.c) never has to call dlsym. */
long (*gs_syscall_p)(long, ...);

long (*gs_syscall_init(void))(long, ...)
{
	gs_syscall_p = (long (*)(long, ...))gs_real_sym("syscall");
	return gs_syscall_p;
}

__attribute__((constructor(101))) static void resolve_syscall(void)
{
	if (!gs_syscall_p)
		gs_syscall_init();
}
