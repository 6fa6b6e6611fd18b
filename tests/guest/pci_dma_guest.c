/* The test device's DMA engine copies between guest buffers, and refuses what it must. */
#include "pci_guest.h"

#define VEC  0x60
#define SIZE 4096

static uint8_t src[SIZE] __attribute__((aligned(64)));
static uint8_t dst[SIZE] __attribute__((aligned(64)));
static volatile unsigned hits;

static void on_msi(uint32_t vector)
{
	(void)vector;
	hits++;
	lapic_eoi();
}

static uint64_t dma(uint64_t from, uint64_t to, uint64_t len, uint64_t cmd)
{
	MMIO64(TD_BAR0 + TESTDEV_REG_DMA_SRC) = from;
	MMIO64(TD_BAR0 + TESTDEV_REG_DMA_DST) = to;
	MMIO64(TD_BAR0 + TESTDEV_REG_DMA_LEN) = len;
	MMIO32(TD_BAR0 + TESTDEV_REG_DMA_CMD) = (uint32_t)cmd;
	return MMIO64(TD_BAR0 + TESTDEV_REG_DMA_STS);
}

void guest_main(uint32_t cpu)
{
	unsigned cap;

	(void)cpu;
	idt_init();
	idt_set_handler(VEC, on_msi);
	lapic_enable();
	pci_setup_testdev();
	for (unsigned i = 0; i < SIZE; i++)
		src[i] = (uint8_t)(i * 7 + 3);
	GUEST_ASSERT(dma((uintptr_t)src, (uintptr_t)dst, SIZE, TESTDEV_DMA_START) ==
	             TESTDEV_DMA_DONE);
	for (unsigned i = 0; i < SIZE; i++)
		GUEST_ASSERT(dst[i] == src[i]);
	/* Completion interrupt through MSI-X vector 2. */
	cap = pci_find_cap(TD_BUS, 0, 0, PCI_CAP_ID_MSIX);
	MMIO32(TD_BAR0 + TESTDEV_MSIX_TABLE + 32) = 0xfee00000u | lapic_id() << 12;
	MMIO32(TD_BAR0 + TESTDEV_MSIX_TABLE + 40) = VEC;
	MMIO32(TD_BAR0 + TESTDEV_MSIX_TABLE + 44) = 0;
	cfg_w16(TD_BUS, 0, 0, cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE);
	memset(dst, 0, SIZE);
	GUEST_ASSERT(dma((uintptr_t)src + 1, (uintptr_t)dst, 100,
	                 TESTDEV_DMA_START | TESTDEV_DMA_IRQ | 2 << 8) == TESTDEV_DMA_DONE);
	for (unsigned spins = 0; !hits && spins < 1000; spins++)
		wait_for_irq();
	GUEST_ASSERT(hits == 1);
	GUEST_ASSERT(dst[0] == src[1] && dst[99] == src[100] && dst[100] == 0);
	/* Outside RAM, too long, bus mastering off: refused, nothing written. */
	GUEST_ASSERT(dma((uintptr_t)src, 0xd0000000ull, 16, TESTDEV_DMA_START) ==
	             TESTDEV_DMA_FAULT);
	GUEST_ASSERT(dma(0xfffffffffffff000ull, (uintptr_t)dst, 4096, TESTDEV_DMA_START) ==
	             TESTDEV_DMA_FAULT);
	GUEST_ASSERT(dma((uintptr_t)src, (uintptr_t)dst, TESTDEV_DMA_MAX + 1, TESTDEV_DMA_START) ==
	             TESTDEV_DMA_FAULT);
	cfg_w16(TD_BUS, 0, 0, PCI_COMMAND, PCI_COMMAND_MEMORY);
	GUEST_ASSERT(dma((uintptr_t)src, (uintptr_t)dst + 200, 16, TESTDEV_DMA_START) ==
	             TESTDEV_DMA_NO_BM);
	GUEST_ASSERT(dst[200] == 0);
	/* The full copy once more, for the host to check from its side. */
	cfg_w16(TD_BUS, 0, 0, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	GUEST_ASSERT(dma((uintptr_t)src, (uintptr_t)dst, SIZE, TESTDEV_DMA_START) ==
	             TESTDEV_DMA_DONE);
	guest_report(1, (uintptr_t)src);
	guest_report(2, (uintptr_t)dst);
}
