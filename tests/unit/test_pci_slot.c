/*
 * PCIe native hot-plug on root ports (devices/pci/slot.c), driven the way Linux's pciehp
 * drives a slot: its registers, power and link, the port's MSI on the events' rising edge,
 * the test device plugged, powered, used, released through the attention button, unplugged
 * and plugged again, and surprise removal.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/pci/internal.h"
#include "tests/devices/testdev.h"
#include "tests/unit/unit.h"

#define WIN_MEM 0xc0000000ull
#define SEC     1

static struct vm *vm;
static struct pci_root *root;
static struct pci_port *port;
static struct pci_dev *pd; /* the port's own function */
static uint16_t cap;       /* its PCI Express capability */
static int msi_fd;         /* counts the port's MSIs */

static uint32_t cfg(struct pci_dev *d, uint32_t off, uint32_t len)
{
	uint32_t v;

	assert_int_equal(pci_cfg_read(d, off, len, &v), 0);
	return v;
}

static void wcfg(struct pci_dev *d, uint32_t off, uint32_t len, uint32_t v)
{
	assert_int_equal(pci_cfg_write(d, off, len, v), 0);
}

static uint32_t ecam_rd(unsigned bus, uint32_t off)
{
	uint32_t v = 0;

	bus_access(&vm->mmio, MEM_ECAM_BASE + PCI_ECAM_OFFSET(bus, 0, 0) + off, &v, 4, false);
	return v;
}

static uint16_t sltsta(void)
{
	return (uint16_t)cfg(pd, cap + PCI_EXP_SLTSTA, 2);
}

/* MSIs the port sent since the last call. */
static uint64_t msis(void)
{
	uint64_t n = 0;

	if (read(msi_fd, &n, 8) != 8)
		return 0;
	return n;
}

/* The port enumerated as firmware and Linux do, its MSI enabled and live. */
static int setup(void **state)
{
	static const char *const ports[] = { "hp" };
	struct pc *pc;
	uint16_t msi;

	(void)state;
	fake_hv_reset();
	log_set_level(LOG_ERR);
	if (fake_pc_create_ports(1, MiB(64), ports, 1, false, &pc))
		return -1;
	vm = pc->vm;
	root = pc->pci;
	if (pci_root_port_find(root, "hp", &port))
		return -1;
	pd = pci_port_dev(port);
	cap = pci_cap_find(pd, PCI_CAP_ID_EXP);
	msi = pci_cap_find(pd, PCI_CAP_ID_MSI);
	wcfg(pd, PCI_SECONDARY_BUS, 1, SEC);
	wcfg(pd, PCI_SUBORDINATE_BUS, 1, SEC);
	wcfg(pd, PCI_MEMORY_BASE, 2, (uint16_t)(WIN_MEM >> 16));
	wcfg(pd, PCI_MEMORY_LIMIT, 2, (uint16_t)((WIN_MEM + MiB(16) - 1) >> 16));
	wcfg(pd, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	wcfg(pd, msi + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	wcfg(pd, msi + PCI_MSI_DATA_64, 2, 0x45);
	wcfg(pd, msi + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_ENABLE);
	if (pci_vecs_fd(pd->msi, 0, &msi_fd))
		return -1;
	msis();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vm_destroy(vm);
	return 0;
}

/* What pciehp enables: every event, the interrupt; power as the slot has it. */
static void enable_events(void)
{
	uint16_t ctl = (uint16_t)cfg(pd, cap + PCI_EXP_SLTCTL, 2);

	wcfg(pd, cap + PCI_EXP_SLTCTL, 2,
	     ctl | PCI_EXP_SLTCTL_ABPE | PCI_EXP_SLTCTL_PDCE | PCI_EXP_SLTCTL_CCIE |
	         PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_DLLSCE);
}

static void clear_events(void)
{
	wcfg(pd, cap + PCI_EXP_SLTSTA, 2, sltsta());
}

static void power(bool on)
{
	uint16_t ctl = (uint16_t)cfg(pd, cap + PCI_EXP_SLTCTL, 2);

	ctl &= (uint16_t) ~(PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PIC);
	ctl |= on ? PCI_EXP_SLTCTL_PWR_ON | PCI_EXP_SLTCTL_PWR_IND_ON
	          : PCI_EXP_SLTCTL_PWR_OFF | PCI_EXP_SLTCTL_PWR_IND_OFF;
	wcfg(pd, cap + PCI_EXP_SLTCTL, 2, ctl);
}

static void test_slot_registers(void **state)
{
	uint32_t sltcap = cfg(pd, cap + PCI_EXP_SLTCAP, 4);

	(void)state;
	assert_true(cfg(pd, cap + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_SLOT);
	assert_int_equal(sltcap & (PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_AIP |
	                           PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPC | PCI_EXP_SLTCAP_NCCS |
	                           PCI_EXP_SLTCAP_HPS | PCI_EXP_SLTCAP_MRLSP),
	                 PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_AIP |
	                     PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPC);
	assert_int_equal(sltcap >> 19, pd->devfn >> 3); /* physical slot number */
	assert_true(cfg(pd, cap + PCI_EXP_LNKCAP, 4) & PCI_EXP_LNKCAP_DLLLARC);
	/* Empty: nothing present, powered off, link down, nothing on the secondary bus. */
	assert_int_equal(sltsta(), 0);
	assert_true(cfg(pd, cap + PCI_EXP_SLTCTL, 2) & PCI_EXP_SLTCTL_PCC);
	assert_false(cfg(pd, cap + PCI_EXP_LNKSTA, 2) & PCI_EXP_LNKSTA_DLLLA);
	assert_false(pci_slot_powered(port));
	assert_int_equal(ecam_rd(SEC, 0), 0xffffffff);
	/* Presence is read-only; the event bits are write-1-to-clear only. */
	wcfg(pd, cap + PCI_EXP_SLTSTA, 2, 0xffff);
	assert_int_equal(sltsta(), 0);
	/* A port with a device at build time is powered with its link up, no event waiting. */
	{
		struct pci_port *cold;
		struct pci_dev *d;
		uint16_t c;

		assert_int_equal(pci_root_port_create(root, "cold", &cold), 0);
		assert_int_equal(pci_testdev_create(root, cold, &d), 0);
		c = pci_port_dev(cold)->pcie_cap;
		assert_int_equal(cfg(pci_port_dev(cold), c + PCI_EXP_SLTSTA, 2),
		                 PCI_EXP_SLTSTA_PDS);
		assert_true(pci_slot_powered(cold));
		assert_true(cfg(pci_port_dev(cold), c + PCI_EXP_LNKSTA, 2) & PCI_EXP_LNKSTA_DLLLA);
	}
}

/* The whole life of a hot-plugged device, as pciehp and the platform take it. */
static void test_plug_use_release_unplug(void **state)
{
	struct pci_dev *d, *out;
	uint64_t addr;

	(void)state;
	enable_events();
	assert_int_equal(msis(), 1); /* command completed */
	assert_true(sltsta() & PCI_EXP_SLTSTA_CC);
	clear_events();
	power(false); /* pciehp turns an empty slot off */
	assert_int_equal(msis(), 1);
	clear_events();

	assert_int_equal(pci_testdev_build(root, &d), 0);
	assert_int_equal(pci_slot_plug(port, d), 0);
	assert_int_equal(msis(), 1);
	/* Presence, and the button pressed: pciehp with a button listens to the button only. */
	assert_int_equal(sltsta(), PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_ABP);
	assert_int_equal(ecam_rd(SEC, 0), 0xffffffff); /* present, not powered: no link */
	clear_events();
	power(true);
	assert_int_equal(msis(), 1); /* command completed and link up, one edge */
	assert_int_equal(sltsta(), PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_CC | PCI_EXP_SLTSTA_DLLSC);
	assert_true(cfg(pd, cap + PCI_EXP_LNKSTA, 2) & PCI_EXP_LNKSTA_DLLLA);
	assert_int_equal(ecam_rd(SEC, 0), PCI_VENDOR_REDHAT | TESTDEV_DEVICE_ID << 16);
	clear_events();

	/* The guest uses it: BAR0 decodes inside the port's window. */
	wcfg(d, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM);
	wcfg(d, PCI_BASE_ADDRESS_1, 4, 0);
	wcfg(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_true(pci_bar_decoding(d, 0, &addr));

	/* Release: the button, then the guest powers off; the device loses power and state. */
	pci_slot_press_button(port);
	assert_int_equal(msis(), 1);
	assert_int_equal(sltsta(), PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_ABP);
	clear_events();
	assert_true(pci_slot_powered(port));
	power(false);
	assert_false(pci_slot_powered(port));
	assert_false(pci_bar_decoding(d, 0, &addr));
	assert_int_equal(cfg(d, PCI_COMMAND, 2), 0);
	assert_int_equal(ecam_rd(SEC, 0), 0xffffffff);
	assert_int_equal(msis(), 1);
	clear_events();

	assert_int_equal(pci_slot_unplug(port, &out), 0);
	assert_ptr_equal(out, d);
	assert_int_equal(sltsta(), PCI_EXP_SLTSTA_PDC);
	assert_int_equal(msis(), 1);
	assert_int_equal(pci_slot_unplug(port, &out), -ENOENT);
	clear_events();

	/* Plugged again, the same function comes back. */
	assert_int_equal(pci_slot_plug(port, d), 0);
	assert_int_equal(msis(), 1);
	clear_events();
	power(true);
	assert_int_equal(ecam_rd(SEC, 0), PCI_VENDOR_REDHAT | TESTDEV_DEVICE_ID << 16);
}

/* An event while another waits uncleared sends no MSI; clearing them all re-arms it. */
static void test_rising_edge(void **state)
{
	struct pci_dev *d;

	(void)state;
	enable_events();
	clear_events();
	msis();
	pci_slot_press_button(port);
	assert_int_equal(msis(), 1);
	assert_int_equal(pci_testdev_build(root, &d), 0);
	assert_int_equal(pci_slot_plug(port, d), 0);
	assert_int_equal(msis(), 0); /* ABP still set */
	wcfg(pd, cap + PCI_EXP_SLTSTA, 2, PCI_EXP_SLTSTA_ABP);
	assert_int_equal(msis(), 0); /* PDC still set */
	assert_int_equal(sltsta(), PCI_EXP_SLTSTA_PDS | PCI_EXP_SLTSTA_PDC);
	clear_events();
	pci_slot_press_button(port);
	assert_int_equal(msis(), 1);
	clear_events();
	/* Without HPIE, or with the event's enable clear, nothing is sent. */
	wcfg(pd, cap + PCI_EXP_SLTCTL, 2,
	     (uint16_t)cfg(pd, cap + PCI_EXP_SLTCTL, 2) & ~PCI_EXP_SLTCTL_HPIE);
	clear_events();
	pci_slot_press_button(port);
	assert_int_equal(msis(), 0);
	assert_true(sltsta() & PCI_EXP_SLTSTA_ABP);
	clear_events();
	enable_events();
	wcfg(pd, cap + PCI_EXP_SLTCTL, 2,
	     (uint16_t)cfg(pd, cap + PCI_EXP_SLTCTL, 2) & ~PCI_EXP_SLTCTL_ABPE);
	clear_events();
	msis();
	pci_slot_press_button(port);
	assert_int_equal(msis(), 0);
}

/* Pulled while powered and in use: link down, the device reset, the guest told. */
static void test_surprise_removal(void **state)
{
	struct pci_dev *d, *out, *other;
	uint64_t addr;

	(void)state;
	enable_events();
	assert_int_equal(pci_testdev_build(root, &d), 0);
	assert_int_equal(pci_slot_plug(port, d), 0);
	power(true);
	wcfg(d, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM);
	wcfg(d, PCI_BASE_ADDRESS_1, 4, 0);
	wcfg(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_true(pci_bar_decoding(d, 0, &addr));
	clear_events();
	msis();
	assert_int_equal(pci_slot_unplug(port, &out), 0);
	assert_false(pci_bar_decoding(d, 0, &addr));
	assert_int_equal(sltsta(), PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_DLLSC);
	assert_false(cfg(pd, cap + PCI_EXP_LNKSTA, 2) & PCI_EXP_LNKSTA_DLLLA);
	assert_int_equal(msis(), 1);
	assert_int_equal(ecam_rd(SEC, 0), 0xffffffff);
	/* Refusals: an occupied slot, an attached device. */
	assert_int_equal(pci_slot_plug(port, d), 0);
	assert_int_equal(pci_testdev_build(root, &other), 0);
	capture_begin();
	assert_int_equal(pci_slot_plug(port, other), -EBUSY);
	assert_int_equal(pci_slot_plug(port, d), -EINVAL);
	capture_end();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_slot_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_plug_use_release_unplug, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rising_edge, setup, teardown),
		cmocka_unit_test_setup_teardown(test_surprise_removal, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
