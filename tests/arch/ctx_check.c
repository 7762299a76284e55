/* tests/arch/ctx_check.c: compile-only use of every arch.h entry point, so that an
 * architecture's context switch and header build with -Werror apart from the rest
 * of the runtime (make cross: aarch64 with its cross compiler, which also builds the
 * whole library). */
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
	out[4] = (uintptr_t)GS_ARCH_TCB_DTV(out[0]) + GS_ARCH_TLS_ABOVE + GS_ARCH_TLS_DLOPEN_ROOM;
	out[5] = (uintptr_t)gs_arch_tp_mode_why() + (uintptr_t)GS_ARCH_CTX_SP(a);
	ucontext_t u;
	unsigned long long r[GS_ARCH_BT_WORDS];
	GS_ARCH_BT_SAVE(r, uc);
	GS_ARCH_BT_LOAD(&u, r);
	GS_ARCH_UNW_FROM_CTX(&u, b);
	out[6] = (uintptr_t)gs_arch_uc_pc(&u);
	gs_arch_relax();
}
