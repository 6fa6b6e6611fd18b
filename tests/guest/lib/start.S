/* Entry: hvmm starts every vCPU here in long mode, RDI = start_info, RSI = vCPU index. */
#define STACK_SIZE 8192
#define MAX_CPUS 8

	.section .text.start, "ax"
	.code64
	.globl _start
_start:
	cmp $MAX_CPUS, %rsi
	jae 1f
	lea stacks(%rip), %rsp
	mov %rsi, %rax
	inc %rax
	shl $13, %rax
	add %rax, %rsp
	mov %rsi, %rbp
	call guest_entry
1:	cli
	hlt
	jmp 1b

/* One stub per vector: push a dummy error code where the CPU pushes none, then the vector. */
	.text
	.globl isr_stubs
	.align 16
isr_stubs:
	.set vec, 0
	.rept 256
	.align 16
	.if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
	nop
	nop
	.else
	pushq $0
	.endif
	pushq $vec
	jmp isr_common
	.set vec, vec + 1
	.endr

isr_common:
	push %rbx
	push %rax
	push %rcx
	push %rdx
	push %rsi
	push %rdi
	push %r8
	push %r9
	push %r10
	push %r11
	mov 80(%rsp), %rdi	/* vector */
	mov %rsp, %rbx
	and $-16, %rsp
	call isr_dispatch
	mov %rbx, %rsp
	pop %r11
	pop %r10
	pop %r9
	pop %r8
	pop %rdi
	pop %rsi
	pop %rdx
	pop %rcx
	pop %rax
	pop %rbx
	add $16, %rsp
	iretq

	.bss
	.align 4096
stacks:
	.space STACK_SIZE * MAX_CPUS
