/* arch/x86_64/arch.h: the saved register set of a green thread and the thread
 * pointer, for x86_64 (System V psABI).
 *
 * Only what the psABI makes callee-saved is kept: rsp, rbx, rbp, r12-r15, the
 * MXCSR control bits and the x87 control word. Everything else is dead across the
 * call to gs_ctx_switch by the calling convention. The offsets below are used by
 * switch.S and pinned here with static asserts. */
#ifndef GS_ARCH_H
#define GS_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/auxv.h>
#include <ucontext.h>

struct gs_ctx {
	void *rsp;		/* 0: stack pointer; (rsp) is the resume address */
	uint64_t rbx;		/* 8 */
	uint64_t rbp;		/* 16 */
	uint64_t r12;		/* 24: entry function of a new context */
	uint64_t r13;		/* 32: its argument */
	uint64_t r14;		/* 40 */
	uint64_t r15;		/* 48 */
	uint32_t mxcsr;		/* 56: SSE control/status */
	uint16_t fpucw;		/* 60: x87 control word */
	uint16_t pad;
};

_Static_assert(offsetof(struct gs_ctx, rsp) == 0, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, rbx) == 8, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, rbp) == 16, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, r12) == 24, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, r13) == 32, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, r14) == 40, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, r15) == 48, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, mxcsr) == 56, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, fpucw) == 60, "switch.S offset");

/* Saves the callee-saved state into *from and resumes *to. */
void gs_ctx_switch(struct gs_ctx *from, struct gs_ctx *to);
/* First frame of a new context: calls r12(r13); the entry must never return. */
void gs_ctx_boot(void);

/* Calls fn(arg) on the stack below sp and returns its value (switch.S). */
void *gs_ctx_call_on(void *sp, void *(*fn)(void *), void *arg);
/* The stack pointer a suspended context resumes with. */
static inline void *gs_ctx_sp(const struct gs_ctx *c)
{
	return c->rsp;
}

/* Prepares *c to run fn(arg) on the stack whose highest address is top. */
static inline void gs_ctx_make(struct gs_ctx *c, void *top, void (*fn)(void *), void *arg)
{
	uintptr_t sp = ((uintptr_t)top & ~(uintptr_t)15) - 8;	/* (sp+8) % 16 == 0 after ret */
	*(void **)sp = (void *)gs_ctx_boot;
	c->rsp = (void *)sp;
	c->rbx = c->rbp = c->r14 = c->r15 = 0;
	c->r12 = (uint64_t)fn;
	c->r13 = (uint64_t)arg;
	__asm__ volatile("stmxcsr %0" : "=m"(c->mxcsr));
	__asm__ volatile("fnstcw %0" : "=m"(c->fpucw));
}

/* The thread pointer (TCB address, %fs base) of the calling OS thread. */
static inline void *gs_arch_tp(void)
{
	void *tp;
	__asm__("mov %%fs:0, %0" : "=r"(tp));
	return tp;
}

/* The same, read again at each call (the compiler may not reuse it): for code
 * that moves the thread pointer. */
static inline void *gs_arch_tp_now(void)
{
	void *tp;
	__asm__ volatile("mov %%fs:0, %0" : "=r"(tp) : : "memory");
	return tp;
}

/* Points %fs at tp (needs FSGSBASE enabled for user space: AT_HWCAP2 bit 1). */
static inline void gs_arch_set_tp(void *tp)
{
	__asm__ volatile("wrfsbase %0" : : "r"(tp) : "memory");
}

/* The stack pointer of the caller, for the overflow check at each switch. */
static inline uintptr_t gs_arch_sp(void)
{
	uintptr_t sp;
	__asm__ volatile("mov %%rsp, %0" : "=r"(sp));
	return sp;
}

/* The interrupted PC and SP in a signal handler's ucontext (preempt.c). */
static inline uintptr_t gs_arch_uc_pc(const void *uc)
{
	return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];
}

static inline uintptr_t gs_arch_uc_sp(const void *uc)
{
	return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.gregs[REG_RSP];
}

#define gs_arch_relax() __asm__ volatile("pause" ::: "memory")

/* ---- TLS layout (sched/tls.c): variant II of the ELF TLS ABI. The static
 * TLS blocks lie below the thread pointer, the TCB (tcbhead_t) at it, with
 * the DTV pointer in its second word. */
#define GS_ARCH_TLS_ABOVE 0
#define GS_ARCH_TCB_DTV(tp) (((void **)(tp))[1])
/* Bytes each G keeps in pinned mode for modules a later dlopen puts in the
 * static block: none here (glibc does so only for initial-exec TLS on
 * x86-64: a limit of pinned mode, README). */
#define GS_ARCH_TLS_DLOPEN_ROOM 0

/* Whether a G may have a thread pointer of its own (tp mode): NULL if so,
 * else why not. wrfsbase needs FSGSBASE enabled for user space. */
static inline const char *gs_arch_tp_mode_why(void)
{
	return getauxval(AT_HWCAP2) & 2 ? NULL : "no FSGSBASE";
}

/* How many real-time signals below SIGRTMAX sched/preempt.c may fall back to
 * for preemption when SIGRTMAX cannot be sent. 0: SIGRTMAX only, no probe. */
#define GS_ARCH_PREEMPT_SIG_FALLBACK 0

/* ---- Unwinding (sched/dump.c). ucontext-like U (libunwind's unw_context_t,
 * a ucontext_t here) from a parked G's saved context C: the resume address
 * sits at the saved stack pointer (switch.S). */
#define GS_ARCH_CTX_SP(c) ((c)->rsp)
#define GS_ARCH_UNW_FROM_CTX(u, c) do {						\
	const uint64_t *sp_ = (const uint64_t *)(c)->rsp;			\
	(u)->uc_mcontext.gregs[REG_RIP] = (greg_t)sp_[0];			\
	(u)->uc_mcontext.gregs[REG_RSP] = (greg_t)(sp_ + 1);			\
	(u)->uc_mcontext.gregs[REG_RBP] = (greg_t)(c)->rbp;			\
	(u)->uc_mcontext.gregs[REG_RBX] = (greg_t)(c)->rbx;			\
	(u)->uc_mcontext.gregs[REG_R12] = (greg_t)(c)->r12;			\
	(u)->uc_mcontext.gregs[REG_R13] = (greg_t)(c)->r13;			\
	(u)->uc_mcontext.gregs[REG_R14] = (greg_t)(c)->r14;			\
	(u)->uc_mcontext.gregs[REG_R15] = (greg_t)(c)->r15;			\
} while (0)

/* The interrupted registers of a signal handler's ucontext UC, kept in
 * GS_ARCH_BT_WORDS words R while a dump reads that thread's stack, and put
 * back into the unwinder's context U. */
#define GS_ARCH_BT_WORDS 32
_Static_assert(sizeof(gregset_t) <= GS_ARCH_BT_WORDS * 8, "a gregset_t fits");
#define GS_ARCH_BT_SAVE(r, uc) memcpy((r), ((const ucontext_t *)(uc))->uc_mcontext.gregs, sizeof(gregset_t))
#define GS_ARCH_BT_LOAD(u, r) memcpy((u)->uc_mcontext.gregs, (r), sizeof(gregset_t))

#endif
