/* SPDX-License-Identifier: MIT */
/*
 * The one guest program every benchmark runs, on hvmm and on QEMU alike (hvmm enters it at
 * the ELF entry in long mode, QEMU through the PVH note of tests/guest/lib/pvh.S).
 *
 * It talks to the host only through devices both VMMs have, so neither needs a bench-only
 * handler: COM1 (0x3f8) carries one-byte markers the host timestamps as they come out of the
 * VMM's serial console, and "done" is a write to both power-off ports (hvmm: ACPI sleep
 * control 0x600; QEMU: isa-debug-exit 0x501).  The command line picks what it does:
 *
 *   boot        '!' first thing, then power off
 *   pio N       '!', 'B', N reads of the COM1 scratch register (one port-I/O exit each), 'E'
 *   mmio N      '!', 'B', N reads of the IOAPIC index register (one MMIO exit each), 'E'
 *   serial N    '!', 'B', N bytes of console text written as a polled driver does (wait for
 *               LSR.THRE, write THR: two port-I/O exits a byte), 'E'
 *   hold        '!', then 'H' and wait forever with interrupts off (the host samples memory)
 *   irq         '!', report the address of the interrupt counter on BENCH_PORT, count MSIs
 *               on vector 0x40 while spinning until the host sets the stop flag
 *   irqhlt      as irq, but wait for each interrupt in hlt
 */
#include "guest.h"

#define COM1        0x3f8
#define COM1_SCR    (COM1 + 7)
#define IOAPIC_BASE 0xfec00000ul
#define ACPI_SLEEP  0x600
#define ACPI_S5     ((5 << 2) | (1 << 5)) /* SLP_TYP = 5, SLP_EN */
#define DEBUG_EXIT  0x501
#define BENCH_PORT  0x510 /* only bench/irqbench.c listens here */
#define IRQ_VECTOR  0x40

/* Read by the host through guest memory: no exit per interrupt on the guest's side either. */
static volatile struct {
	uint64_t count; /* interrupts taken */
	uint64_t stop;  /* set by the host */
} irq_state;

static void mark(char c)
{
	/* No LSR poll: both UARTs take a byte at once, and a poll would add an exit per byte. */
	outb(COM1, (uint8_t)c);
}

static void power_off(void)
{
	outb(ACPI_SLEEP, ACPI_S5); /* hvmm stops here */
	outb(DEBUG_EXIT, 0);       /* QEMU exits with status (0 << 1) | 1 */
	for (;;)
		__asm__ volatile("cli; hlt");
}

/* "word N": N, or `def` if there is no number. */
static uint64_t arg_num(const char *s, uint64_t def)
{
	uint64_t n = 0;
	bool any = false;

	while (*s && *s != ' ')
		s++;
	while (*s == ' ')
		s++;
	for (; *s >= '0' && *s <= '9'; s++, any = true)
		n = n * 10 + (uint64_t)(*s - '0');
	return any ? n : def;
}

static bool starts(const char *s, const char *word)
{
	while (*word && *s == *word) {
		s++;
		word++;
	}
	return !*word && (*s == ' ' || !*s);
}

static void on_irq(uint32_t vector)
{
	(void)vector;
	irq_state.count++;
	lapic_eoi(); /* in-kernel LAPIC: no exit to the VMM */
}

static void irq_mode(bool halt)
{
	idt_init();
	idt_set_handler(IRQ_VECTOR, on_irq);
	lapic_enable();
	outl(BENCH_PORT, (uint32_t)(uintptr_t)&irq_state);
	irq_enable();
	while (!irq_state.stop) {
		if (halt)
			__asm__ volatile("hlt"); /* IF is set: an interrupt wakes it */
		else
			cpu_relax();
	}
	irq_disable();
}

void guest_main(uint32_t cpu)
{
	const char *cmd;

	mark('!'); /* the first thing the program does: "first guest instruction" */
	if (cpu != 0)
		for (;;)
			__asm__ volatile("cli; hlt");
	cmd = guest_cmdline();
	if (starts(cmd, "pio") || starts(cmd, "mmio")) {
		uint64_t n = arg_num(cmd, 0);
		bool pio = starts(cmd, "pio");

		mark('B');
		for (uint64_t i = 0; i < n; i++) {
			if (pio)
				(void)inb(COM1_SCR);
			else
				(void)MMIO32(IOAPIC_BASE);
		}
		mark('E');
	} else if (starts(cmd, "serial")) {
		uint64_t n = arg_num(cmd, 0);

		mark('B');
		/* 63 letters and a newline per line: no byte is a marker. */
		for (uint64_t i = 0; i < n; i++)
			serial_putc(i % 64 == 63 ? '\n' : (char)('a' + i % 16));
		mark('E');
	} else if (starts(cmd, "hold")) {
		mark('H');
		for (;;)
			__asm__ volatile("cli; hlt");
	} else if (starts(cmd, "irq")) {
		irq_mode(false);
	} else if (starts(cmd, "irqhlt")) {
		irq_mode(true);
	}
	power_off();
}
