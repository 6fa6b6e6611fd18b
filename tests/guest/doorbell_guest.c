/*
 * Interrupts and doorbells the backends offer beyond routes: an MSI signalled directly by
 * the host (signal_msi), an MMIO doorbell behind an ioeventfd with a data match, and a port
 * doorbell (an ioeventfd where the hypervisor has them, a trapped port where it does not).
 */
#include "guest.h"

#define VECTOR        0x45
#define MMIO_DOORBELL 0xd0100000ul
#define PIO_DOORBELL  0x740

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
	guest_sync(1); /* the host signals the MSI */
	for (unsigned spins = 0; !hits && spins < 1000; spins++)
		wait_for_irq();
	GUEST_ASSERT(hits == 1);
	for (unsigned i = 0; i < 3; i++)
		MMIO32(MMIO_DOORBELL) = 7; /* matches: the eventfd counts it */
	MMIO32(MMIO_DOORBELL) = 8;         /* does not: reaches the MMIO handler */
	outw(PIO_DOORBELL, 5);
	outw(PIO_DOORBELL, 5);
	guest_sync(2); /* the host reads its counters */
	guest_report(1, hits);
}
