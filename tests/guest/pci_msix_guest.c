/*
 * MSI-X from the test device to the IDT: every vector, a masked vector held pending (PBA) and
 * delivered on unmask, the function mask, and retargeting a live vector.
 */
#include "pci_guest.h"

#define VEC   0x50
#define TABLE (TD_BAR0 + TESTDEV_MSIX_TABLE)
#define PBA   (TD_BAR0 + TESTDEV_MSIX_PBA)
#define BELL  (TD_BAR0 + TESTDEV_REG_DOORBELL)

static volatile unsigned hits[TESTDEV_NR_VECTORS];

static void on_msi(uint32_t vector)
{
	hits[vector - VEC]++;
	lapic_eoi();
}

static void entry(unsigned i, uint32_t data, uint32_t ctrl)
{
	MMIO32(TABLE + 16 * i + PCI_MSIX_ENTRY_LOWER_ADDR) = 0xfee00000u | lapic_id() << 12;
	MMIO32(TABLE + 16 * i + PCI_MSIX_ENTRY_UPPER_ADDR) = 0;
	MMIO32(TABLE + 16 * i + PCI_MSIX_ENTRY_DATA) = data;
	MMIO32(TABLE + 16 * i + PCI_MSIX_ENTRY_VECTOR_CTRL) = ctrl;
}

static void wait_hits(unsigned i, unsigned want)
{
	for (unsigned spins = 0; hits[i] < want && spins < 1000; spins++)
		wait_for_irq();
}

/* Open the interrupt window for a while: anything wrongly pending comes in now. */
static void settle(void)
{
	irq_enable();
	for (unsigned i = 0; i < 20000; i++)
		cpu_relax();
	irq_disable();
}

void guest_main(uint32_t cpu)
{
	unsigned cap;

	(void)cpu;
	idt_init();
	for (unsigned i = 0; i < TESTDEV_NR_VECTORS; i++)
		idt_set_handler(VEC + i, on_msi);
	lapic_enable();
	pci_setup_testdev();
	cap = pci_find_cap(TD_BUS, 0, 0, PCI_CAP_ID_MSIX);
	GUEST_ASSERT(cap);
	GUEST_ASSERT((cfg_r16(TD_BUS, 0, 0, cap + PCI_MSIX_FLAGS) & PCI_MSIX_FLAGS_QSIZE) ==
	             TESTDEV_NR_VECTORS - 1);
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, cap + PCI_MSIX_TABLE) == TESTDEV_MSIX_TABLE);
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, cap + PCI_MSIX_PBA) == TESTDEV_MSIX_PBA);
	/* Linux's order: enable under the function mask, program, unmask, drop the mask. */
	cfg_w16(TD_BUS, 0, 0, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	for (unsigned i = 0; i < TESTDEV_NR_VECTORS; i++)
		entry(i, VEC + i, 0);
	cfg_w16(TD_BUS, 0, 0, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
	for (unsigned i = 0; i < TESTDEV_NR_VECTORS; i++) {
		MMIO32(BELL) = i;
		wait_hits(i, 1);
		GUEST_ASSERT(hits[i] == 1);
	}
	/* Vector 1 masked: the doorbell leaves its PBA bit set and nothing arrives. */
	MMIO32(TABLE + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL) = PCI_MSIX_ENTRY_CTRL_MASKBIT;
	MMIO32(BELL) = 1;
	settle();
	GUEST_ASSERT(hits[1] == 1);
	GUEST_ASSERT(MMIO64(PBA) == 2);
	MMIO32(TABLE + 16 + PCI_MSIX_ENTRY_VECTOR_CTRL) = 0;
	wait_hits(1, 2);
	GUEST_ASSERT(hits[1] == 2);
	GUEST_ASSERT(MMIO64(PBA) == 0);
	/* The function mask holds every vector. */
	cfg_w16(TD_BUS, 0, 0, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL);
	MMIO32(BELL) = 2;
	MMIO32(BELL) = 3;
	settle();
	GUEST_ASSERT(hits[2] == 1 && hits[3] == 1);
	GUEST_ASSERT(MMIO32(PBA) == 0xc);
	cfg_w16(TD_BUS, 0, 0, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
	wait_hits(2, 2);
	wait_hits(3, 2);
	GUEST_ASSERT(hits[2] == 2 && hits[3] == 2);
	GUEST_ASSERT(MMIO64(PBA) == 0);
	/* A live vector retargeted by a data write: the next message uses the new vector. */
	MMIO32(TABLE + PCI_MSIX_ENTRY_DATA) = VEC + 3;
	MMIO32(BELL) = 0;
	wait_hits(3, 3);
	GUEST_ASSERT(hits[3] == 3 && hits[0] == 1);
	/* MSI-X disabled: the doorbell is dropped, not held. */
	cfg_w16(TD_BUS, 0, 0, cap + PCI_MSIX_FLAGS, 0);
	MMIO32(BELL) = 1;
	settle();
	GUEST_ASSERT(hits[1] == 2 && MMIO64(PBA) == 0);
	guest_report(1, hits[0] + hits[1] + hits[2] + hits[3]);
}
