/*
 * The guest side of PCIe native hot-plug, as Linux's pciehp runs a slot: enable the slot's
 * events and the port's MSI; on presence, power on and wait for the link; use the device;
 * on the attention button, stop the device and power off; see it leave and come back.
 */
#include "pci_guest.h"

#define VEC 0x60

static volatile unsigned irqs;
static unsigned pe; /* the port's PCI Express capability */

static void on_msi(uint32_t vector)
{
	(void)vector;
	irqs++;
	lapic_eoi();
}

static uint16_t sltsta(void)
{
	return cfg_r16(0, RP_DEV, 0, pe + PCI_EXP_SLTSTA);
}

/* Wait for the next slot interrupt, then check and clear the events it brought. */
static void expect_event(uint16_t events)
{
	unsigned before = irqs;

	for (unsigned spins = 0; irqs == before && spins < 1000; spins++)
		wait_for_irq();
	GUEST_ASSERT(irqs == before + 1);
	GUEST_ASSERT((sltsta() & events) == events);
	cfg_w16(0, RP_DEV, 0, pe + PCI_EXP_SLTSTA, sltsta());
	GUEST_ASSERT(!(sltsta() & 0x11f));
}

static void slot_ctl(uint16_t power)
{
	cfg_w16(0, RP_DEV, 0, pe + PCI_EXP_SLTCTL,
	        PCI_EXP_SLTCTL_ABPE | PCI_EXP_SLTCTL_PDCE | PCI_EXP_SLTCTL_CCIE |
	            PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_DLLSCE | PCI_EXP_SLTCTL_ATTN_IND_OFF |
	            power);
}

static bool link_up(void)
{
	return cfg_r16(0, RP_DEV, 0, pe + PCI_EXP_LNKSTA) & PCI_EXP_LNKSTA_DLLLA;
}

static void power_on_and_use(uint64_t scratch_expect)
{
	slot_ctl(PCI_EXP_SLTCTL_PWR_ON | PCI_EXP_SLTCTL_PWR_IND_ON);
	expect_event(PCI_EXP_SLTSTA_CC | PCI_EXP_SLTSTA_DLLSC);
	GUEST_ASSERT(link_up());
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_VENDOR_ID) ==
	             (PCI_VENDOR_REDHAT | TESTDEV_DEVICE_ID << 16));
	pci_setup_testdev();
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	GUEST_ASSERT(MMIO64(TD_BAR0 + TESTDEV_REG_SCRATCH) == scratch_expect);
}

void guest_main(uint32_t cpu)
{
	unsigned msi;

	(void)cpu;
	idt_init();
	idt_set_handler(VEC, on_msi);
	lapic_enable();
	pci_setup_port();
	pe = pci_find_cap(0, RP_DEV, 0, PCI_CAP_ID_EXP);
	msi = pci_find_cap(0, RP_DEV, 0, PCI_CAP_ID_MSI);
	GUEST_ASSERT(pe && msi);
	GUEST_ASSERT(cfg_r16(0, RP_DEV, 0, pe + PCI_EXP_FLAGS) & PCI_EXP_FLAGS_SLOT);
	GUEST_ASSERT(cfg_r32(0, RP_DEV, 0, pe + PCI_EXP_SLTCAP) & PCI_EXP_SLTCAP_HPC);
	cfg_w32(0, RP_DEV, 0, msi + PCI_MSI_ADDRESS_LO, 0xfee00000u | lapic_id() << 12);
	cfg_w32(0, RP_DEV, 0, msi + PCI_MSI_ADDRESS_HI, 0);
	cfg_w16(0, RP_DEV, 0, msi + PCI_MSI_DATA_64, VEC);
	cfg_w16(0, RP_DEV, 0, msi + PCI_MSI_FLAGS, PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_64BIT);

	/* An empty slot, turned off as pciehp does; nothing answers behind it. */
	GUEST_ASSERT(!(sltsta() & PCI_EXP_SLTSTA_PDS));
	slot_ctl(PCI_EXP_SLTCTL_PWR_OFF | PCI_EXP_SLTCTL_PWR_IND_OFF);
	expect_event(PCI_EXP_SLTSTA_CC);
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_VENDOR_ID) == 0xffffffff);

	/* Plugged: presence and the button, then power and link; the device works. */
	GUEST_ASSERT(guest_sync(1) == 0);
	expect_event(PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_ABP);
	GUEST_ASSERT(sltsta() & PCI_EXP_SLTSTA_PDS);
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_VENDOR_ID) == 0xffffffff);
	power_on_and_use(0);
	MMIO64(TD_BAR0 + TESTDEV_REG_SCRATCH) = 0x5a5a1234;
	guest_report(1, MMIO64(TD_BAR0 + TESTDEV_REG_SCRATCH));

	/* The button: stop the device, power off; it is gone from config space. */
	GUEST_ASSERT(guest_sync(2) == 0);
	expect_event(PCI_EXP_SLTSTA_ABP);
	cfg_w16(TD_BUS, 0, 0, PCI_COMMAND, 0);
	slot_ctl(PCI_EXP_SLTCTL_PWR_OFF | PCI_EXP_SLTCTL_PWR_IND_OFF);
	expect_event(PCI_EXP_SLTSTA_CC | PCI_EXP_SLTSTA_DLLSC);
	GUEST_ASSERT(!link_up());
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_VENDOR_ID) == 0xffffffff);

	/* Pulled out: presence gone. */
	GUEST_ASSERT(guest_sync(3) == 0);
	expect_event(PCI_EXP_SLTSTA_PDC);
	GUEST_ASSERT(!(sltsta() & PCI_EXP_SLTSTA_PDS));

	/* Back again, out of reset: the scratch register is clear. */
	GUEST_ASSERT(guest_sync(4) == 0);
	expect_event(PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_ABP);
	power_on_and_use(0);
	guest_report(2, irqs);
}
