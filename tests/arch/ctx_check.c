/* tests/arch/ctx_check.c: compile-only use of every arch.h entry point, so that an
 * architecture's context switch and header build without the rest of the runtime
 * (make cross: aarch64 with clang --target, freestanding). */
#include "arch.h"

static void entry(void *arg)
{
	(void)arg;
}

void gs_arch_check(struct gs_ctx *a, struct gs_ctx *b, void *top, const void *uc, uintptr_t *out)
{
	gs_ctx_make(a, top, entry, a);
	gs_ctx_switch(a, b);
	out[0] = (uintptr_t)gs_arch_tp();
	out[1] = gs_arch_sp();
	out[2] = gs_arch_uc_pc(uc);
	out[3] = gs_arch_uc_sp(uc);
	gs_arch_relax();
}
