/*
 * PCI enumeration the way firmware does it: through ECAM and through 0xCF8/0xCFC, number the
 * root port's bus, size the test device's BARs, place them, use them, move them.
 */
#include "pci_guest.h"

static uint32_t bar_size(unsigned off, uint32_t flags_mask)
{
	uint32_t old = cfg_r32(TD_BUS, 0, 0, off), sz;

	cfg_w32(TD_BUS, 0, 0, off, 0xffffffff);
	sz = cfg_r32(TD_BUS, 0, 0, off);
	cfg_w32(TD_BUS, 0, 0, off, old);
	return ~(sz & ~flags_mask) + 1;
}

void guest_main(uint32_t cpu)
{
	const uint32_t id = PCI_DEVICE_HOST_BRIDGE << 16 | PCI_VENDOR_REDHAT;
	const uint32_t td = (uint32_t)TESTDEV_DEVICE_ID << 16 | PCI_VENDOR_REDHAT;
	unsigned functions = 0;
	uint32_t lo, hi;

	(void)cpu;
	/* Both config mechanisms see the host bridge; partial reads through 0xCFC-0xCFF. */
	GUEST_ASSERT(cfg_r32(0, 0, 0, PCI_VENDOR_ID) == id);
	GUEST_ASSERT(conf1_r32(0, 0, 0, PCI_VENDOR_ID) == id);
	GUEST_ASSERT(conf1_r16(0, 0, 0, PCI_DEVICE_ID) == PCI_DEVICE_HOST_BRIDGE);
	GUEST_ASSERT(conf1_r8(0, 0, 0, PCI_CLASS_DEVICE + 1) == 0x06);
	GUEST_ASSERT(MMIO64(ecam(0, 0, 0, 0)) == ((uint64_t)cfg_r32(0, 0, 0, 4) << 32 | id));
	/* Scan bus 0: the host bridge and one root port. */
	for (unsigned dev = 0; dev < 32; dev++) {
		if (cfg_r16(0, dev, 0, PCI_VENDOR_ID) != 0xffff)
			functions++;
	}
	GUEST_ASSERT(functions == 2);
	GUEST_ASSERT(cfg_r32(0, RP_DEV, 0, PCI_CLASS_REVISION) >> 8 == PCI_CLASS_CODE_PCI_BRIDGE);
	GUEST_ASSERT(cfg_r8(0, RP_DEV, 0, PCI_HEADER_TYPE) == PCI_HEADER_TYPE_BRIDGE);
	GUEST_ASSERT(pci_find_cap(0, RP_DEV, 0, PCI_CAP_ID_EXP) != 0);
	/* Behind the unnumbered port there is nothing; numbered, the test device shows up. */
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_VENDOR_ID) == 0xffffffffu);
	pci_setup_port();
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_VENDOR_ID) == td);
	GUEST_ASSERT(conf1_r32(TD_BUS, 0, 0, PCI_VENDOR_ID) == td);
	GUEST_ASSERT(cfg_r32(TD_BUS, 1, 0, PCI_VENDOR_ID) == 0xffffffffu);
	GUEST_ASSERT(conf1_r32(TD_BUS + 1, 0, 0, PCI_VENDOR_ID) == 0xffffffffu);
	/* A config write through 0xCFC lands: the interrupt line register. */
	conf1_w8(TD_BUS, 0, 0, PCI_INTERRUPT_LINE, 0x5a);
	GUEST_ASSERT(cfg_r8(TD_BUS, 0, 0, PCI_INTERRUPT_LINE) == 0x5a);
	/* Sizing. */
	lo = cfg_r32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_0);
	GUEST_ASSERT((lo & 0xf) == PCI_BASE_ADDRESS_MEM_TYPE_64);
	GUEST_ASSERT(bar_size(PCI_BASE_ADDRESS_0, 0xf) == TESTDEV_BAR0_SIZE);
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_1, 0xffffffff);
	hi = cfg_r32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_1);
	GUEST_ASSERT(hi == 0xffffffffu);
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_1, 0);
	GUEST_ASSERT(bar_size(PCI_BASE_ADDRESS_2, 0x3) == TESTDEV_BAR2_SIZE);
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_2) & PCI_BASE_ADDRESS_SPACE_IO);
	GUEST_ASSERT(bar_size(PCI_ROM_ADDRESS, 0x7ff) == TESTDEV_ROM_SIZE);
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_3) == 0);
	/* Placed and enabled: registers, the I/O BAR and the ROM answer. */
	pci_setup_testdev();
	cfg_w32(TD_BUS, 0, 0, PCI_ROM_ADDRESS, (uint32_t)TD_ROM | PCI_ROM_ADDRESS_ENABLE);
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	MMIO64(TD_BAR0 + TESTDEV_REG_SCRATCH) = 0x1122334455667788ull;
	GUEST_ASSERT(MMIO64(TD_BAR0 + TESTDEV_REG_SCRATCH) == 0x1122334455667788ull);
	GUEST_ASSERT(MMIO16(TD_BAR0 + TESTDEV_REG_SCRATCH + 2) == 0x5566);
	GUEST_ASSERT(inl(TD_IO + TESTDEV_IO_ID) == TESTDEV_ID_VALUE);
	outl(TD_IO + TESTDEV_IO_SCRATCH, 0xcafef00d);
	GUEST_ASSERT(inw(TD_IO + TESTDEV_IO_SCRATCH + 2) == 0xcafe);
	GUEST_ASSERT(MMIO8(TD_ROM) == 0x55 && MMIO8(TD_ROM + 1) == 0xaa);
	GUEST_ASSERT(MMIO32(TD_ROM + 0x10) == 0x13121110);
	/* Moved while decoding: the new place answers, the old one is unclaimed. */
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_0, (uint32_t)TD_BAR0 + 0x100000);
	GUEST_ASSERT(MMIO32(TD_BAR0 + 0x100000 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	GUEST_ASSERT(MMIO64(TD_BAR0 + 0x100000 + TESTDEV_REG_SCRATCH) == 0x1122334455667788ull);
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == 0xffffffffu);
	/* Outside the port's window, it does not decode at all. */
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_0, 0xd0000000u);
	GUEST_ASSERT(MMIO32(0xd0000000ul + TESTDEV_REG_ID) == 0xffffffffu);
	/* Back, then memory decoding off: gone; the I/O BAR still answers. */
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_0, (uint32_t)TD_BAR0);
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	cfg_w16(TD_BUS, 0, 0, PCI_COMMAND, PCI_COMMAND_IO);
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == 0xffffffffu);
	GUEST_ASSERT(MMIO8(TD_ROM) == 0xff);
	GUEST_ASSERT(inl(TD_IO + TESTDEV_IO_ID) == TESTDEV_ID_VALUE);
	guest_report(1, functions);
}
