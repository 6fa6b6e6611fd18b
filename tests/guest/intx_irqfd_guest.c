/*
 * A level-triggered source on IOAPIC pin 17 with an irqfd of its own (intx_irqfd_test.c): the
 * guest programs the pin as a _PRT GSI is programmed (level, active low), takes three
 * interrupts, each serviced in its handler before the EOI, then one raised while the pin was
 * masked, which arrives at the unmask.
 */
#include "guest.h"

#define INTX_PIN   17
#define INTX_VEC   0x47
#define RTE_LOW    (1ull << 13)
#define RTE_LEVEL  (1ull << 15)
#define RTE_MASKED (1ull << 16)

static volatile unsigned hits;

static void on_intx(uint32_t vector)
{
	GUEST_ASSERT(vector == INTX_VEC);
	hits++;
	guest_sync(31); /* the driver services the device: its line goes low */
	lapic_eoi();
}

static void wait_hits(unsigned n)
{
	for (unsigned spins = 0; hits < n && spins < 1000; spins++)
		wait_for_irq();
	GUEST_ASSERT(hits >= n);
}

/* Interrupts on for a while: whatever is still coming arrives. */
static void settle(void)
{
	irq_enable();
	for (unsigned i = 0; i < 2000; i++)
		cpu_relax();
	irq_disable();
}

void guest_main(uint32_t cpu)
{
	unsigned before;

	(void)cpu;
	idt_init();
	lapic_enable();
	idt_set_handler(INTX_VEC, on_intx);
	ioapic_write_rte(INTX_PIN, INTX_VEC | RTE_LEVEL | RTE_LOW);
	for (unsigned i = 1; i <= 3; i++) {
		guest_sync(30); /* the device raises its line */
		wait_hits(i);
		settle();
	}
	guest_report(1, hits);
	before = hits;
	ioapic_write_rte(INTX_PIN, INTX_VEC | RTE_LEVEL | RTE_LOW | RTE_MASKED);
	guest_sync(30);
	settle();
	GUEST_ASSERT(hits == before);
	ioapic_write_rte(INTX_PIN, INTX_VEC | RTE_LEVEL | RTE_LOW);
	wait_hits(before + 1);
	settle();
	guest_report(2, hits - before);
}
