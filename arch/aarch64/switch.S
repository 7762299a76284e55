/* arch/aarch64/switch.S: green thread context switch, AAPCS64.
 *
 *   void gs_ctx_switch(struct gs_ctx *from, struct gs_ctx *to);   x0, x1
 *   void gs_ctx_boot(void);     first frame of a new context
 *
 * struct gs_ctx (arch.h pins these offsets with static asserts):
 *   0 sp   8 x19 .. 80 x28   88 x29 (fp)   96 x30 (lr: the resume address)
 *   104 d8 .. 160 d15   168 fpcr
 *
 * AAPCS64 makes x19-x28, fp, sp and the low 64 bits of v8-v15 callee-saved;
 * FPCR (rounding mode, flush-to-zero) is kept per context as MXCSR is on
 * x86_64, so a G that changed its rounding mode does not leak it. Only
 * cross-compiled so far (make cross); see README "What is next". */
	.text
	.globl	gs_ctx_switch
	.hidden	gs_ctx_switch
	.type	gs_ctx_switch, %function
	.p2align 4
gs_ctx_switch:
	.cfi_startproc
	mov	x9, sp
	str	x9, [x0, #0]
	stp	x19, x20, [x0, #8]
	stp	x21, x22, [x0, #24]
	stp	x23, x24, [x0, #40]
	stp	x25, x26, [x0, #56]
	stp	x27, x28, [x0, #72]
	stp	x29, x30, [x0, #88]
	stp	d8, d9, [x0, #104]
	stp	d10, d11, [x0, #120]
	stp	d12, d13, [x0, #136]
	stp	d14, d15, [x0, #152]
	mrs	x9, fpcr
	str	x9, [x0, #168]

	ldr	x9, [x1, #0]
	mov	sp, x9
	ldp	x19, x20, [x1, #8]
	ldp	x21, x22, [x1, #24]
	ldp	x23, x24, [x1, #40]
	ldp	x25, x26, [x1, #56]
	ldp	x27, x28, [x1, #72]
	ldp	x29, x30, [x1, #88]
	ldp	d8, d9, [x1, #104]
	ldp	d10, d11, [x1, #120]
	ldp	d12, d13, [x1, #136]
	ldp	d14, d15, [x1, #152]
	ldr	x9, [x1, #168]
	msr	fpcr, x9
	ret
	.cfi_endproc
	.size	gs_ctx_switch, .-gs_ctx_switch

/* A new context "returns" here from gs_ctx_switch (its lr) with sp 16-byte
 * aligned. The undefined return address ends backtraces at this frame. */
	.globl	gs_ctx_boot
	.hidden	gs_ctx_boot
	.type	gs_ctx_boot, %function
	.p2align 4
gs_ctx_boot:
	.cfi_startproc
	.cfi_undefined x30
	mov	x29, #0
	mov	x0, x20
	blr	x19
	brk	#0		/* the entry returned: never allowed */
	.cfi_endproc
	.size	gs_ctx_boot, .-gs_ctx_boot

/* void *gs_ctx_call_on(void *sp, void *(*fn)(void *), void *arg): fn(arg) on
 * the stack below sp (aligned down to 16), then back on the caller's. */
	.globl	gs_ctx_call_on
	.hidden	gs_ctx_call_on
	.type	gs_ctx_call_on, %function
	.p2align 4
gs_ctx_call_on:
	.cfi_startproc
	stp	x29, x30, [sp, #-16]!
	.cfi_def_cfa_offset 16
	.cfi_offset x29, -16
	.cfi_offset x30, -8
	mov	x29, sp
	.cfi_def_cfa_register x29
	and	x0, x0, #0xfffffffffffffff0
	mov	sp, x0
	mov	x0, x2
	blr	x1
	mov	sp, x29
	.cfi_def_cfa_register sp
	ldp	x29, x30, [sp], #16
	.cfi_def_cfa_offset 0
	.cfi_restore x29
	.cfi_restore x30
	ret
	.cfi_endproc
	.size	gs_ctx_call_on, .-gs_ctx_call_on

	.section .note.GNU-stack,"",%progbits
