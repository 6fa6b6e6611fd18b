/*
 * PVH entry, so every guest program also boots on QEMU (-kernel, e.g. -M microvm).
 *
 * hvmm enters guests at the ELF e_entry (_start in start.S), already in 64-bit long mode.
 * A PVH loader instead reads the XEN_ELFNOTE_PHYS32_ENTRY note and starts the boot vCPU at
 * that address in 32-bit protected mode: flat CS/DS/SS, paging off, EBX = the guest-physical
 * address of hvm_start_info.  This stub builds what hvmm would have: a GDT with the same
 * selectors (code 0x10, data 0x18), identity page tables for the first 4 GiB (2 MiB pages,
 * so the LAPIC and IOAPIC are mapped too), then enters long mode and joins _start with
 * RDI = start_info and RSI = 0 (the boot vCPU).  Other vCPUs are not started this way.
 */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define CR0_PE   (1 << 0)
#define CR0_PG   (1 << 31)
#define CR4_PAE  (1 << 5)
#define PTE_P    0x001
#define PTE_W    0x002
#define PTE_PS   0x080

/* The note: name "Xen", type 18, a 32-bit entry address (the form Linux uses too). */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4				/* namesz: "Xen\0" */
	.long 4				/* descsz */
	.long XEN_ELFNOTE_PHYS32_ENTRY
	.asciz "Xen"
	.balign 4
	.long pvh_start
	.balign 4

	.text
	.code32
	.globl pvh_start
pvh_start:
	cli
	lgdt pvh_gdt_desc
	mov $pvh_pml4, %eax
	mov %eax, %cr3
	mov %cr4, %eax
	or $CR4_PAE, %eax
	mov %eax, %cr4
	mov $MSR_EFER, %ecx
	rdmsr
	or $EFER_LME, %eax
	wrmsr
	mov %cr0, %eax
	or $(CR0_PG | CR0_PE), %eax
	mov %eax, %cr0
	ljmp $0x10, $pvh_long

	.code64
pvh_long:
	mov $0x18, %eax
	mov %eax, %ds
	mov %eax, %es
	mov %eax, %ss
	mov %eax, %fs
	mov %eax, %gs
	mov %ebx, %edi			/* start_info (zero-extended) */
	xor %esi, %esi			/* vCPU 0 */
	jmp _start

	.section .rodata
	.balign 8
pvh_gdt:
	.quad 0				/* 0x00 null */
	.quad 0				/* 0x08 unused, as in hvmm's GDT */
	.quad 0x00af9a000000ffff	/* 0x10 64-bit code */
	.quad 0x00cf92000000ffff	/* 0x18 data */
pvh_gdt_end:
pvh_gdt_desc:
	.word pvh_gdt_end - pvh_gdt - 1
	.long pvh_gdt

/* Identity map of 0-4 GiB with 2 MiB pages, built by the assembler: no start-up loop. */
	.data
	.balign 4096
pvh_pml4:
	.quad pvh_pdpt + (PTE_P | PTE_W)
	.fill 511, 8, 0
pvh_pdpt:
	.quad pvh_pd + 0x0000 + (PTE_P | PTE_W)
	.quad pvh_pd + 0x1000 + (PTE_P | PTE_W)
	.quad pvh_pd + 0x2000 + (PTE_P | PTE_W)
	.quad pvh_pd + 0x3000 + (PTE_P | PTE_W)
	.fill 508, 8, 0
pvh_pd:
	.set i, 0
	.rept 2048
	.quad (i << 21) + (PTE_P | PTE_W | PTE_PS)
	.set i, i + 1
	.endr
