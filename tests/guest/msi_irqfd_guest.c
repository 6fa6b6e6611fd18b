/* An MSI sent through a route + irqfd reaches the IDT handler. */
#include "guest.h"

#define VECTOR 0x40

static volatile unsigned hits;

static void on_msi(uint32_t vector)
{
	GUEST_ASSERT(vector == VECTOR);
	hits++;
	lapic_eoi();
}

void guest_main(uint32_t cpu)
{
	(void)cpu;
	idt_init();
	idt_set_handler(VECTOR, on_msi);
	lapic_enable();
	/* Stage 1: the host writes the irqfd; the interrupt is pending when we return. */
	guest_sync(1);
	for (unsigned spins = 0; !hits && spins < 1000; spins++)
		wait_for_irq();
	GUEST_ASSERT(hits == 1);
	/* Stage 2: a second one, while this vCPU waits in hlt. */
	guest_sync(2);
	for (unsigned spins = 0; hits < 2 && spins < 1000; spins++)
		wait_for_irq();
	guest_report(1, hits);
}
