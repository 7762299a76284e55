/* arch/x86_64/switch.S: green thread context switch, System V x86_64 psABI.
 *
 *   void gs_ctx_switch(struct gs_ctx *from, struct gs_ctx *to);   rdi, rsi
 *   void gs_ctx_boot(void);     first frame of a new context
 *
 * struct gs_ctx (arch.h pins these offsets with static asserts):
 *   0 rsp   8 rbx   16 rbp   24 r12   32 r13   40 r14   48 r15
 *   56 mxcsr (4 bytes)   60 x87 control word (2 bytes)
 *
 * Pitfalls: the psABI makes the MXCSR control bits and the x87 control word
 * callee-saved, so a G that changed its rounding mode keeps it and does not leak
 * it into another G. The red zone below rsp belongs to the caller's frame, which
 * is saved whole since we only move rsp. Signals may arrive at any instruction:
 * between the loads below the stack is always a valid stack of some context. */
	.text
	.globl	gs_ctx_switch
	.hidden	gs_ctx_switch
	.type	gs_ctx_switch, @function
	.p2align 4
gs_ctx_switch:
	.cfi_startproc
	movq	%rbx, 8(%rdi)
	movq	%rbp, 16(%rdi)
	movq	%r12, 24(%rdi)
	movq	%r13, 32(%rdi)
	movq	%r14, 40(%rdi)
	movq	%r15, 48(%rdi)
	stmxcsr	56(%rdi)
	fnstcw	60(%rdi)
	movq	%rsp, 0(%rdi)

	movq	0(%rsi), %rsp
	movq	8(%rsi), %rbx
	movq	16(%rsi), %rbp
	movq	24(%rsi), %r12
	movq	32(%rsi), %r13
	movq	40(%rsi), %r14
	movq	48(%rsi), %r15
	ldmxcsr	56(%rsi)
	fldcw	60(%rsi)
	ret
	.cfi_endproc
	.size	gs_ctx_switch, .-gs_ctx_switch

/* A new context "returns" here from gs_ctx_switch with rsp 16-byte aligned.
 * The undefined return address ends backtraces (gdb, libunwind) at this frame. */
	.globl	gs_ctx_boot
	.hidden	gs_ctx_boot
	.type	gs_ctx_boot, @function
	.p2align 4
gs_ctx_boot:
	.cfi_startproc
	.cfi_undefined rip
	xorl	%ebp, %ebp
	movq	%r13, %rdi
	call	*%r12
	ud2			/* the entry returned: never allowed */
	.cfi_endproc
	.size	gs_ctx_boot, .-gs_ctx_boot

/* void *gs_ctx_call_on(void *sp, void *(*fn)(void *), void *arg): fn(arg) on
 * the stack below sp (aligned down to 16), then back on the caller's; its
 * value. For the scheduler's search run by a parking G (sched/proc.c): on its
 * M's g0 stack, not the G's. The frame pointer keeps the caller's frame for
 * unwinders. */
	.globl	gs_ctx_call_on
	.hidden	gs_ctx_call_on
	.type	gs_ctx_call_on, @function
	.p2align 4
gs_ctx_call_on:
	.cfi_startproc
	pushq	%rbp
	.cfi_def_cfa_offset 16
	.cfi_offset rbp, -16
	movq	%rsp, %rbp
	.cfi_def_cfa_register rbp
	andq	$-16, %rdi
	movq	%rdi, %rsp
	movq	%rdx, %rdi
	call	*%rsi
	movq	%rbp, %rsp
	.cfi_def_cfa_register rsp
	popq	%rbp
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
	.size	gs_ctx_call_on, .-gs_ctx_call_on

	.section .note.GNU-stack,"",@progbits
