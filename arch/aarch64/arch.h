/* arch/aarch64/arch.h: the saved register set of a green thread and the thread
 * pointer, for aarch64 (AAPCS64). Cross-compiled by `make cross`; the runtime's
 * TLS layout (sched/tls.c) and the dump's unwinding start (sched/dump.c) are
 * still x86_64's (README, What is next).
 *
 * Only what AAPCS64 makes callee-saved is kept: sp, x19-x28, fp, lr, d8-d15
 * and FPCR. The offsets below are used by switch.S and pinned here. */
#ifndef GS_ARCH_H
#define GS_ARCH_H

#include <stddef.h>
#include <stdint.h>

struct gs_ctx {
	void *sp;		/* 0 */
	uint64_t x[10];		/* 8: x19-x28; x19 = entry of a new context, x20 its argument */
	uint64_t fp;		/* 88: x29 */
	uint64_t lr;		/* 96: x30, the resume address */
	uint64_t d[8];		/* 104: d8-d15 */
	uint64_t fpcr;		/* 168 */
};

_Static_assert(offsetof(struct gs_ctx, sp) == 0, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, x) == 8, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, fp) == 88, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, lr) == 96, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, d) == 104, "switch.S offset");
_Static_assert(offsetof(struct gs_ctx, fpcr) == 168, "switch.S offset");

/* Saves the callee-saved state into *from and resumes *to. */
void gs_ctx_switch(struct gs_ctx *from, struct gs_ctx *to);
/* First frame of a new context: calls x19(x20); the entry must never return. */
void gs_ctx_boot(void);

/* Calls fn(arg) on the stack below sp and returns its value (switch.S). */
void *gs_ctx_call_on(void *sp, void *(*fn)(void *), void *arg);
/* The stack pointer a suspended context resumes with. */
static inline void *gs_ctx_sp(const struct gs_ctx *c)
{
	return c->sp;
}

/* Prepares *c to run fn(arg) on the stack whose highest address is top. */
static inline void gs_ctx_make(struct gs_ctx *c, void *top, void (*fn)(void *), void *arg)
{
	uint64_t fpcr;
	c->sp = (void *)((uintptr_t)top & ~(uintptr_t)15);
	for (int i = 0; i < 10; i++)
		c->x[i] = 0;
	for (int i = 0; i < 8; i++)
		c->d[i] = 0;
	c->x[0] = (uint64_t)fn;
	c->x[1] = (uint64_t)arg;
	c->fp = 0;
	c->lr = (uint64_t)gs_ctx_boot;
	__asm__ volatile("mrs %0, fpcr" : "=r"(fpcr));
	c->fpcr = fpcr;
}

/* The thread pointer, read again at each call (for code that moves it). */
static inline void *gs_arch_tp_now(void)
{
	void *tp;
	__asm__ volatile("mrs %0, tpidr_el0" : "=r"(tp) : : "memory");
	return tp;
}

static inline void gs_arch_set_tp(void *tp)
{
	__asm__ volatile("msr tpidr_el0, %0" : : "r"(tp) : "memory");
}

/* The thread pointer (TPIDR_EL0) of the calling OS thread. */
static inline void *gs_arch_tp(void)
{
	void *tp;
	__asm__("mrs %0, tpidr_el0" : "=r"(tp));
	return tp;
}

static inline uintptr_t gs_arch_sp(void)
{
	uintptr_t sp;
	__asm__ volatile("mov %0, sp" : "=r"(sp));
	return sp;
}

/* The interrupted PC and SP in a signal handler's ucontext (preempt.c). The
 * kernel's layout (arch/arm64/include/uapi/asm/ucontext.h and sigcontext.h),
 * which glibc's ucontext_t mirrors: the sigcontext starts at byte 176 with
 * fault_address, regs[31], sp, pc. */
static inline uintptr_t gs_arch_uc_pc(const void *uc)
{
	return (uintptr_t)*(const uint64_t *)((const char *)uc + 176 + 8 + 31 * 8 + 8);
}

static inline uintptr_t gs_arch_uc_sp(const void *uc)
{
	return (uintptr_t)*(const uint64_t *)((const char *)uc + 176 + 8 + 31 * 8);
}

#define gs_arch_relax() __asm__ volatile("yield" ::: "memory")

#endif
