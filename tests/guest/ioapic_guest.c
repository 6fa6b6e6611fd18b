/*
 * Legacy interrupts through the userspace IOAPIC.  Edge ("edge" on the command line): pin 5
 * pulses twice, and not while masked.  Level ("level"): pin 9 held high is delivered with
 * Remote IRR set during the handler, which lowers the line before EOI; the pin ends idle.
 */
#include "guest.h"

#define EDGE_PIN   5
#define LEVEL_PIN  9
#define EDGE_VEC   0x41
#define LEVEL_VEC  0x42
#define RTE_LEVEL  (1ull << 15)
#define RTE_RIRR   (1ull << 14)
#define RTE_MASKED (1ull << 16)

static volatile unsigned hits;

static void on_edge(uint32_t vector)
{
	GUEST_ASSERT(vector == EDGE_VEC);
	hits++;
	lapic_eoi();
}

static void on_level(uint32_t vector)
{
	GUEST_ASSERT(vector == LEVEL_VEC);
	hits++;
	/* While the guest handles the first delivery, the IOAPIC holds Remote IRR. */
	if (hits == 1)
		GUEST_ASSERT(ioapic_read_rte(LEVEL_PIN) & RTE_RIRR);
	/* The device is serviced: its line goes low before the EOI. */
	guest_sync(20);
	lapic_eoi();
}

static void wait_hits(unsigned n)
{
	for (unsigned spins = 0; hits < n && spins < 1000; spins++)
		wait_for_irq();
	GUEST_ASSERT(hits >= n);
}

/* Remote IRR still set after the line went low and every delivery was EOIed: stuck. */
static bool ioapic_read_lines_idle(void)
{
	return ioapic_read_rte(LEVEL_PIN) & RTE_RIRR;
}

void guest_main(uint32_t cpu)
{
	(void)cpu;
	idt_init();
	lapic_enable();
	GUEST_ASSERT((ioapic_read(1) & 0xff) == 0x11);
	GUEST_ASSERT(((ioapic_read(1) >> 16) & 0xff) == 23);
	if (guest_str_eq(guest_cmdline(), "edge")) {
		idt_set_handler(EDGE_VEC, on_edge);
		ioapic_write_rte(EDGE_PIN, EDGE_VEC);
		GUEST_ASSERT(ioapic_read_rte(EDGE_PIN) == EDGE_VEC);
		guest_sync(1); /* host pulses the pin */
		wait_hits(1);
		guest_sync(1);
		wait_hits(2);
		/* Masked: a pulse is not delivered. */
		ioapic_write_rte(EDGE_PIN, EDGE_VEC | RTE_MASKED);
		guest_sync(1);
		for (unsigned i = 0; i < 50; i++)
			cpu_relax();
		irq_enable();
		for (unsigned i = 0; i < 200; i++)
			cpu_relax();
		irq_disable();
		GUEST_ASSERT(hits == 2);
	} else {
		idt_set_handler(LEVEL_VEC, on_level);
		ioapic_write_rte(LEVEL_PIN, LEVEL_VEC | RTE_LEVEL);
		guest_sync(10); /* host raises the line and keeps it high */
		wait_hits(1);
		/* Let any redelivery happen, then the pin must be idle. */
		irq_enable();
		for (unsigned i = 0; i < 2000; i++)
			cpu_relax();
		irq_disable();
		GUEST_ASSERT(!(ioapic_read_lines_idle()));
	}
	guest_report(1, hits);
}
