/* arch/aarch64/arch.h: the saved register set of a green thread and the thread
 * pointer, for aarch64 (AAPCS64), with the facts of the architecture that the
 * runtime needs: TLS layout (sched/tls.c), unwinding registers (sched/dump.c),
 * the interrupted PC and SP (sched/preempt.c). `make cross` builds the library
 * with it, `make check-aarch64` runs the tests under qemu-user.
 *
 * Only what AAPCS64 makes callee-saved is kept: sp, x19-x28, fp, lr, d8-d15
 * and FPCR. The offsets below are used by switch.S and pinned here. */
#ifndef GS_ARCH_H
#define GS_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <ucontext.h>

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

/* The interrupted PC and SP in a signal handler's ucontext (preempt.c):
 * glibc's mcontext_t mirrors the kernel's struct sigcontext (fault_address,
 * regs[31], sp, pc, pstate). */
static inline uintptr_t gs_arch_uc_pc(const void *uc)
{
	return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.pc;
}

static inline uintptr_t gs_arch_uc_sp(const void *uc)
{
	return (uintptr_t)((const ucontext_t *)uc)->uc_mcontext.sp;
}

#define gs_arch_relax() __asm__ volatile("yield" ::: "memory")

/* ---- TLS layout (sched/tls.c): variant I of the ELF TLS ABI. The thread
 * pointer (TPIDR_EL0) points at a 16-byte TCB whose first word is the DTV
 * pointer; the static TLS blocks lie above it (the executable's first, at
 * tp + 16 rounded up to its alignment), glibc's struct pthread below it. */
#define GS_ARCH_TLS_ABOVE 1
#define GS_ARCH_TCB_DTV(tp) (((void **)(tp))[0])
/* Bytes each G keeps in pinned mode for modules a later dlopen puts in the
 * static block: glibc on aarch64 places a dlopen'ed module whose TLS is
 * reached through TLS descriptors (the default code model) in its optional
 * static TLS, 512 bytes unless the tunable glibc.rtld.optional_static_tls
 * says otherwise. */
#define GS_ARCH_TLS_DLOPEN_ROOM 512

/* Whether a G may have a thread pointer of its own (tp mode). TPIDR_EL0 is
 * writable from user space, but sched/tls.c's tp mode knows x86-64's glibc
 * thread header only: aarch64 runs pinned. */
static inline const char *gs_arch_tp_mode_why(void)
{
	return "a thread pointer per G is x86-64 only so far";
}

/* How many real-time signals below SIGRTMAX sched/preempt.c may fall back to
 * for preemption when SIGRTMAX cannot be sent (it sends itself one to see).
 * qemu-user, which runs aarch64 programs on other machines, keeps the host's
 * top real-time signals for itself: guest SIGRTMAX and SIGRTMAX-1 give EINVAL
 * (qemu 7.2), SIGRTMAX-2 works. 0: SIGRTMAX only, no probe. */
#define GS_ARCH_PREEMPT_SIG_FALLBACK 3

/* ---- Unwinding (sched/dump.c). ucontext-like U (libunwind's unw_context_t:
 * uc_mcontext with regs[31], sp, pc) from a parked G's saved context C: it
 * resumes at lr with sp, x19-x29 as saved. */
#define GS_ARCH_CTX_SP(c) ((c)->sp)
#define GS_ARCH_UNW_FROM_CTX(u, c) do {						\
	for (int i_ = 0; i_ < 10; i_++)						\
		(u)->uc_mcontext.regs[19 + i_] = (c)->x[i_];			\
	(u)->uc_mcontext.regs[29] = (c)->fp;					\
	(u)->uc_mcontext.regs[30] = (c)->lr;					\
	(u)->uc_mcontext.sp = (uint64_t)(uintptr_t)(c)->sp;			\
	(u)->uc_mcontext.pc = (c)->lr;						\
} while (0)

/* The interrupted registers of a signal handler's ucontext UC (regs[31], sp,
 * pc, pstate: 34 words), kept in R while a dump reads that thread's stack,
 * and put back into the unwinder's context U. */
#define GS_ARCH_BT_WORDS 34
#define GS_ARCH_BT_SAVE(r, uc) memcpy((r), ((const ucontext_t *)(uc))->uc_mcontext.regs, GS_ARCH_BT_WORDS * 8)
#define GS_ARCH_BT_LOAD(u, r) memcpy((u)->uc_mcontext.regs, (r), GS_ARCH_BT_WORDS * 8)

#endif
