/*
 * The PCI core and root complex on the fake hypervisor: config routing (ECAM, 0xCF8/0xCFC),
 * masks, BAR sizing and decoding, capability lists, root ports, resets, hostile accesses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices/pci/internal.h"
#include "tests/devices/testdev.h"
#include "tests/unit/unit.h"

#define WIN_MEM  0xc0000000ull /* the test port's memory window: 16 MiB */
#define WIN_PREF 0xc1000000ull /* and its prefetchable window: 16 MiB */
#define WIN_IO   0x1000u       /* and its I/O window: 4 KiB */

static struct vm *vm;
static struct pci_root *root;

/* What the recording device's ops saw. */
struct rec_call {
	char op; /* 'm' map, 'u' unmap, 'r' reset */
	unsigned bar;
	uint64_t addr, size;
};
static struct rec_call calls[64];
static unsigned nr_calls;

static int rec_map(struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size)
{
	(void)dev;
	if (nr_calls < ARRAY_SIZE(calls))
		calls[nr_calls++] = (struct rec_call){ 'm', bar, addr, size };
	return 0;
}

static void rec_unmap(struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size)
{
	(void)dev;
	if (nr_calls < ARRAY_SIZE(calls))
		calls[nr_calls++] = (struct rec_call){ 'u', bar, addr, size };
}

static void rec_reset(struct pci_dev *dev)
{
	(void)dev;
	if (nr_calls < ARRAY_SIZE(calls))
		calls[nr_calls++] = (struct rec_call){ 'r', 0, 0, 0 };
}

static void rec_bar_read(struct pci_dev *dev, unsigned bar, uint64_t off, void *data, uint32_t len)
{
	(void)dev;
	memset(data, (int)(0x10 * bar + (off & 0xf)), len);
}

static const struct pci_dev_ops rec_ops = { .bar_map = rec_map,
	                                    .bar_unmap = rec_unmap,
	                                    .reset = rec_reset };
static const struct pci_dev_ops plain_ops = { .bar_read = rec_bar_read, .reset = rec_reset };

static int setup(void **state)
{
	(void)state;
	fake_hv_reset();
	log_set_level(LOG_ERR);
	nr_calls = 0;
	struct pc *pc;
	int r = fake_pc_create(1, MiB(64), &pc);

	if (r)
		return r;
	vm = pc->vm;
	root = pc->pci;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vm_destroy(vm);
	return 0;
}

static uint64_t ecam_rd(unsigned bus, unsigned dev, unsigned fn, uint32_t off, uint32_t len)
{
	uint64_t v = 0;

	bus_access(&vm->mmio, MEM_ECAM_BASE + PCI_ECAM_OFFSET(bus, dev, fn) + off, &v, len, false);
	return v;
}

static void ecam_wr(unsigned bus, unsigned dev, unsigned fn, uint32_t off, uint32_t len, uint64_t v)
{
	bus_access(&vm->mmio, MEM_ECAM_BASE + PCI_ECAM_OFFSET(bus, dev, fn) + off, &v, len, true);
}

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

/* An unattached function with the given ops. */
static struct pci_dev *new_dev(const struct pci_dev_ops *ops)
{
	struct pci_dev_info info = { .name = "rec",
		                     .vendor = 0x1234,
		                     .device = 0x5678,
		                     .class_code = 0xff0000,
		                     .ops = ops };
	struct pci_dev *d;

	assert_int_equal(pci_dev_create(root, &info, &d), 0);
	return d;
}

/* Attach behind a new port and open the port: bus 1, windows, memory and I/O decoding. */
static struct pci_port *plug(struct pci_dev *d)
{
	struct pci_port *port;
	struct pci_dev *p;

	assert_int_equal(pci_root_port_create(root, "test", &port), 0);
	assert_int_equal(pci_attach(root, port, d), 0);
	p = pci_port_dev(port);
	wcfg(p, PCI_SECONDARY_BUS, 1, 1);
	wcfg(p, PCI_SUBORDINATE_BUS, 1, 1);
	wcfg(p, PCI_MEMORY_BASE, 2, (uint32_t)(WIN_MEM >> 16));
	wcfg(p, PCI_MEMORY_LIMIT, 2, (uint32_t)((WIN_MEM + MiB(16) - 1) >> 16) & 0xfff0);
	wcfg(p, PCI_PREF_MEMORY_BASE, 2, (uint32_t)(WIN_PREF >> 16));
	wcfg(p, PCI_PREF_MEMORY_LIMIT, 2, (uint32_t)((WIN_PREF + MiB(16) - 1) >> 16) & 0xfff0);
	wcfg(p, PCI_IO_BASE, 1, WIN_IO >> 8);
	wcfg(p, PCI_IO_LIMIT, 1, WIN_IO >> 8);
	wcfg(p, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	return port;
}

static void test_host_bridge_and_absent(void **state)
{
	(void)state;
	assert_int_equal(ecam_rd(0, 0, 0, PCI_VENDOR_ID, 4),
	                 PCI_DEVICE_HOST_BRIDGE << 16 | PCI_VENDOR_REDHAT);
	assert_int_equal(ecam_rd(0, 0, 0, PCI_CLASS_REVISION, 4) >> 8, PCI_CLASS_CODE_HOST_BRIDGE);
	assert_int_equal(ecam_rd(0, 0, 0, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_NORMAL);
	/* Nothing else on bus 0, nothing on other buses: all-ones whatever the width. */
	assert_int_equal(ecam_rd(0, 31, 7, 0, 4), 0xffffffffu);
	assert_int_equal(ecam_rd(0, 0, 1, 0, 2), 0xffff);
	assert_int_equal(ecam_rd(5, 0, 0, 0x100, 1), 0xff);
	assert_true(ecam_rd(MEM_ECAM_BUSES - 1, 31, 7, 0xff8, 8) == ~0ull);
	ecam_wr(0, 3, 0, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(ecam_rd(0, 3, 0, PCI_COMMAND, 2), 0xffff);
	/* The vendor ID is read-only. */
	ecam_wr(0, 0, 0, PCI_VENDOR_ID, 4, 0);
	assert_int_equal(ecam_rd(0, 0, 0, PCI_VENDOR_ID, 2), PCI_VENDOR_REDHAT);
}

static void test_ecam_odd_accesses(void **state)
{
	uint64_t all = ecam_rd(0, 0, 0, 0, 8);

	(void)state;
	assert_int_equal((uint32_t)all, PCI_DEVICE_HOST_BRIDGE << 16 | PCI_VENDOR_REDHAT);
	assert_int_equal(all >> 32, ecam_rd(0, 0, 0, PCI_COMMAND, 4));
	/* Misaligned: byte by byte. */
	assert_int_equal(ecam_rd(0, 0, 0, 1, 4), (uint32_t)(all >> 8));
	assert_int_equal(ecam_rd(0, 0, 0, 3, 2), (uint32_t)(all >> 24) & 0xffff);
	/* The last bytes of a function's space, and an access running into the next. */
	assert_int_equal(ecam_rd(0, 0, 0, 0xffc, 4), 0);
	assert_int_equal(ecam_rd(0, 0, 0, 0xfff, 1), 0);
	assert_int_equal(ecam_rd(0, 0, 0, 0xffe, 4), 0xffff0000u);
	/* An 8-byte write is two dword writes. */
	ecam_wr(0, 0, 0, PCI_CACHE_LINE_SIZE, 8, 0x1122334455667788ull);
	assert_int_equal(ecam_rd(0, 0, 0, PCI_CACHE_LINE_SIZE, 1), 0x88);
}

static uint32_t conf1_rd(uint32_t addr, uint16_t port, uint32_t len)
{
	uint32_t v = 0;

	bus_access(&vm->pio, PCI_CONF1_ADDR_PORT, &addr, 4, true);
	bus_access(&vm->pio, port, &v, len, false);
	return v;
}

static void test_conf1_and_reset_port(void **state)
{
	uint32_t v = 0;
	uint8_t b;

	(void)state;
	assert_int_equal(conf1_rd(PCI_CONF1_ENABLE, 0xcfc, 4),
	                 PCI_DEVICE_HOST_BRIDGE << 16 | PCI_VENDOR_REDHAT);
	assert_int_equal(conf1_rd(PCI_CONF1_ENABLE, 0xcfe, 2), PCI_DEVICE_HOST_BRIDGE);
	assert_int_equal(conf1_rd(PCI_CONF1_ENABLE | 0x08, 0xcff, 1), 0x06); /* class: bridge */
	/* Enable bit clear, or an absent function: all-ones. */
	assert_int_equal(conf1_rd(0, 0xcfc, 4), 0xffffffffu);
	assert_int_equal(conf1_rd(PCI_CONF1_ENABLE | 5 << 11, 0xcfc, 4), 0xffffffffu);
	/* The address register reads back; a byte at 0xCFB (Linux's type-1 probe) is ignored. */
	v = 0x80001234;
	bus_access(&vm->pio, PCI_CONF1_ADDR_PORT, &v, 4, true);
	b = 1;
	bus_access(&vm->pio, 0xcfb, &b, 1, true);
	v = 0;
	bus_access(&vm->pio, PCI_CONF1_ADDR_PORT, &v, 4, false);
	assert_int_equal(v, 0x80001234);
	/* 0xCF9: a hard-reset setup byte does nothing, the reset bit stops the VM. */
	b = 0x02;
	bus_access(&vm->pio, PCI_RESET_CTL_PORT, &b, 1, true);
	assert_int_equal(atomic_load(&vm->stopping), 0);
	b = 0;
	bus_access(&vm->pio, PCI_RESET_CTL_PORT, &b, 1, false);
	assert_int_equal(b, 0x02);
	b = 0x06;
	bus_access(&vm->pio, PCI_RESET_CTL_PORT, &b, 1, true);
	assert_int_equal(atomic_load(&vm->stopping), 1);
	assert_int_equal(atomic_load(&vm->exit_code), VM_EXIT_RESET);
}

static void test_root_port_routing(void **state)
{
	struct pci_dev *d;
	struct pci_port *port;
	uint16_t pcie;

	(void)state;
	assert_int_equal(pci_testdev_create(root, NULL, &d), 0);
	/* rp0 at 00:01.0, a PCIe root port with a type-1 header. */
	assert_int_equal(ecam_rd(0, 1, 0, PCI_VENDOR_ID, 4),
	                 PCI_DEVICE_ROOT_PORT << 16 | PCI_VENDOR_REDHAT);
	assert_int_equal(ecam_rd(0, 1, 0, PCI_CLASS_REVISION, 4) >> 8, PCI_CLASS_CODE_PCI_BRIDGE);
	assert_int_equal(ecam_rd(0, 1, 0, PCI_HEADER_TYPE, 1), PCI_HEADER_TYPE_BRIDGE);
	assert_int_equal(pci_root_port_find(root, "rp0", &port), 0);
	pcie = pci_cap_find(pci_port_dev(port), PCI_CAP_ID_EXP);
	assert_true(pcie >= 0x40);
	assert_int_equal(ecam_rd(0, 1, 0, pcie + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_TYPE,
	                 PCI_EXP_TYPE_ROOT_PORT << 4);
	assert_true(ecam_rd(0, 1, 0, pcie + PCI_EXP_LNKSTA, 2) & PCI_EXP_LNKSTA_DLLLA);
	/* Nothing is reachable until the guest gives the port a secondary bus. */
	assert_int_equal(ecam_rd(1, 0, 0, 0, 4), 0xffffffffu);
	ecam_wr(0, 1, 0, PCI_PRIMARY_BUS, 4, 0x00050500); /* secondary 5, subordinate 5 */
	assert_int_equal(ecam_rd(0, 1, 0, PCI_SECONDARY_BUS, 1), 5);
	assert_int_equal(ecam_rd(5, 0, 0, PCI_VENDOR_ID, 4),
	                 (uint32_t)TESTDEV_DEVICE_ID << 16 | PCI_VENDOR_REDHAT);
	assert_int_equal(ecam_rd(5, 0, 0, PCI_CLASS_REVISION, 4), (uint32_t)TESTDEV_CLASS << 8 | 1);
	/* Device 0 only below a root port; other functions of device 0 are absent. */
	assert_int_equal(ecam_rd(5, 1, 0, 0, 4), 0xffffffffu);
	assert_int_equal(ecam_rd(5, 0, 1, 0, 4), 0xffffffffu);
	/* Through 0xCF8 as well. */
	assert_int_equal(conf1_rd(PCI_CONF1_ENABLE | 5 << 16, 0xcfc, 2), PCI_VENDOR_REDHAT);
	/* Re-numbered: the old bus is gone. */
	ecam_wr(0, 1, 0, PCI_SECONDARY_BUS, 1, 7);
	assert_int_equal(ecam_rd(5, 0, 0, 0, 4), 0xffffffffu);
	assert_int_equal(ecam_rd(7, 0, 0, 0, 2), PCI_VENDOR_REDHAT);
}

static void test_bridge_registers(void **state)
{
	struct pci_port *port;
	struct pci_dev *p;

	(void)state;
	assert_int_equal(pci_root_port_create(root, "a", &port), 0);
	p = pci_port_dev(port);
	/* Linux's window probes: I/O (32-bit), prefetchable (64-bit) are implemented. */
	wcfg(p, PCI_IO_BASE, 2, 0xe0f0);
	assert_int_equal(cfg(p, PCI_IO_BASE, 2), 0xe1f1);
	assert_int_equal(cfg(p, PCI_PREF_MEMORY_BASE, 2) & PCI_PREF_RANGE_TYPE_MASK,
	                 PCI_PREF_RANGE_TYPE_64);
	wcfg(p, PCI_PREF_BASE_UPPER32, 4, 0xffffffff);
	assert_int_equal(cfg(p, PCI_PREF_BASE_UPPER32, 4), 0xffffffffu);
	wcfg(p, PCI_MEMORY_BASE, 4, 0xffffffff);
	assert_int_equal(cfg(p, PCI_MEMORY_BASE, 4), 0xfff0fff0u);
	/* Root ports have no BARs and no ROM. */
	wcfg(p, PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(cfg(p, PCI_BASE_ADDRESS_0, 4), 0);
	wcfg(p, PCI_ROM_ADDRESS1, 4, 0xffffffff);
	assert_int_equal(cfg(p, PCI_ROM_ADDRESS1, 4), 0);
	wcfg(p, PCI_BRIDGE_CONTROL, 2, 0xffff);
	assert_int_equal(cfg(p, PCI_BRIDGE_CONTROL, 2), 0x7f);
	/* The secondary status error bits are write-1-to-clear. */
	p->cfg[PCI_SEC_STATUS + 1] = PCI_STATUS_REC_MASTER_ABORT >> 8;
	wcfg(p, PCI_SEC_STATUS, 2, 0);
	assert_int_equal(cfg(p, PCI_SEC_STATUS, 2), PCI_STATUS_REC_MASTER_ABORT);
	wcfg(p, PCI_SEC_STATUS, 2, PCI_STATUS_REC_MASTER_ABORT);
	assert_int_equal(cfg(p, PCI_SEC_STATUS, 2), 0);
}

static void test_bar_sizing(void **state)
{
	struct pci_dev *d = new_dev(&rec_ops);

	(void)state;
	assert_int_equal(pci_bar_init(d, 0, PCI_BAR_MEM32, KiB(4), false), 0);
	assert_int_equal(pci_bar_init(d, 1, PCI_BAR_IO, 32, false), 0);
	assert_int_equal(pci_bar_init(d, 2, PCI_BAR_MEM64, MiB(1), true), 0);
	assert_int_equal(pci_bar_init(d, 4, PCI_BAR_MEM64, GiB(8), true), 0);
	assert_int_equal(pci_rom_init(d, KiB(4)), 0);
	/* Bad declarations. */
	assert_int_equal(pci_bar_init(d, 5, PCI_BAR_MEM32, KiB(4), false), -EINVAL);
	assert_int_equal(pci_bar_init(d, 6, PCI_BAR_MEM32, KiB(4), false), -EINVAL);
	assert_int_equal(pci_rom_init(d, KiB(4)), -EINVAL);
	plug(d);
	for (uint32_t off = PCI_BASE_ADDRESS_0; off <= PCI_BASE_ADDRESS_5; off += 4)
		wcfg(d, off, 4, 0xffffffff);
	assert_int_equal(cfg(d, PCI_BASE_ADDRESS_0, 4), 0xfffff000u);
	assert_int_equal(cfg(d, PCI_BASE_ADDRESS_1, 4), 0xffffffe1u);
	assert_int_equal(cfg(d, PCI_BASE_ADDRESS_2, 4), 0xfff0000cu);
	assert_int_equal(cfg(d, PCI_BASE_ADDRESS_3, 4), 0xffffffffu);
	assert_int_equal(cfg(d, PCI_BASE_ADDRESS_4, 4), 0x0000000cu);
	assert_int_equal(cfg(d, PCI_BASE_ADDRESS_5, 4), 0xfffffffeu);
	wcfg(d, PCI_ROM_ADDRESS, 4, 0xffffffff);
	assert_int_equal(cfg(d, PCI_ROM_ADDRESS, 4), 0xfffff001u);
	wcfg(d, PCI_ROM_ADDRESS, 4, 0xfffffffe);
	assert_int_equal(cfg(d, PCI_ROM_ADDRESS, 4), 0xfffff000u);
	/* Sizing with decoding off never maps. */
	assert_int_equal(nr_calls, 0);
	/* An address reads back with its flag bits. */
	wcfg(d, PCI_BASE_ADDRESS_2, 4, (uint32_t)WIN_PREF);
	wcfg(d, PCI_BASE_ADDRESS_3, 4, 0);
	assert_int_equal(cfg(d, PCI_BASE_ADDRESS_2, 4), (uint32_t)WIN_PREF | 0xc);
}

static void test_masks(void **state)
{
	struct pci_dev *d = new_dev(&plain_ops);

	(void)state;
	assert_int_equal(pci_cfg_init(d, PCI_STATUS, 2,
	                              PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_PARITY, 0,
	                              PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_PARITY),
	                 0);
	assert_int_equal(pci_cfg_init(d, PCI_INTERRUPT_PIN, 1, 1, 0, 0), 0);
	assert_int_equal(pci_cfg_init(d, 0xffe, 4, 0, 0, 0), -EINVAL);
	plug(d);
	wcfg(d, PCI_COMMAND, 2, 0xffff);
	assert_int_equal(cfg(d, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MEMORY |
	                                             PCI_COMMAND_MASTER | PCI_COMMAND_PARITY |
	                                             PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE);
	/* W1C: zeros leave the bits, a one clears just its bit. */
	wcfg(d, PCI_STATUS, 2, 0);
	assert_int_equal(cfg(d, PCI_STATUS, 2), PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_PARITY);
	wcfg(d, PCI_STATUS, 2, PCI_STATUS_PARITY | PCI_STATUS_CAP_LIST);
	assert_int_equal(cfg(d, PCI_STATUS, 2), PCI_STATUS_REC_MASTER_ABORT);
	/* A byte write to the high half only touches the high half. */
	wcfg(d, PCI_STATUS + 1, 1, PCI_STATUS_REC_MASTER_ABORT >> 8);
	assert_int_equal(cfg(d, PCI_STATUS, 2), 0);
	wcfg(d, PCI_INTERRUPT_LINE, 2, 0xffff);
	assert_int_equal(cfg(d, PCI_INTERRUPT_LINE, 2), 0x01ff);
	wcfg(d, PCI_VENDOR_ID, 4, 0);
	assert_int_equal(cfg(d, PCI_VENDOR_ID, 4), 0x56781234u);
	/* Bad accesses through the API. */
	uint32_t v;
	assert_int_equal(pci_cfg_read(d, 1, 2, &v), -EINVAL);
	assert_int_equal(pci_cfg_read(d, 0, 3, &v), -EINVAL);
	assert_int_equal(pci_cfg_write(d, 4096, 1, 0), -EINVAL);
}

static void test_decode_calls_bar_map(void **state)
{
	struct pci_dev *d = new_dev(&rec_ops);
	uint64_t addr;

	(void)state;
	assert_int_equal(pci_bar_init(d, 0, PCI_BAR_MEM32, KiB(4), false), 0);
	assert_int_equal(pci_bar_init(d, 2, PCI_BAR_IO, 16, false), 0);
	assert_int_equal(pci_rom_init(d, KiB(2)), 0);
	plug(d);
	wcfg(d, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM);
	wcfg(d, PCI_BASE_ADDRESS_2, 4, WIN_IO + 0x10);
	wcfg(d, PCI_ROM_ADDRESS, 4, ((uint32_t)WIN_MEM + 0x10000) | PCI_ROM_ADDRESS_ENABLE);
	assert_int_equal(nr_calls, 0);
	wcfg(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(nr_calls, 2);
	assert_true(calls[0].op == 'm' && calls[0].bar == 0 && calls[0].addr == WIN_MEM &&
	            calls[0].size == KiB(4));
	assert_true(calls[1].op == 'm' && calls[1].bar == PCI_ROM_BAR &&
	            calls[1].addr == WIN_MEM + 0x10000);
	assert_true(pci_bar_decoding(d, 0, &addr) && addr == WIN_MEM);
	/* Moving a decoding BAR: unmap the old place, map the new. */
	wcfg(d, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM + 0x2000);
	assert_int_equal(nr_calls, 4);
	assert_true(calls[2].op == 'u' && calls[2].addr == WIN_MEM);
	assert_true(calls[3].op == 'm' && calls[3].addr == WIN_MEM + 0x2000);
	/* Same value again: nothing. */
	wcfg(d, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM + 0x2000);
	assert_int_equal(nr_calls, 4);
	/* I/O decoding. */
	wcfg(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO);
	assert_int_equal(nr_calls, 5);
	assert_true(calls[4].op == 'm' && calls[4].bar == 2 && calls[4].addr == WIN_IO + 0x10);
	/* Over RAM, over ECAM, over the IOAPIC, outside the port's window: no decoding. */
	static const uint32_t bad[] = { 0x100000, (uint32_t)MEM_ECAM_BASE + 0x1000,
		                        (uint32_t)MEM_IOAPIC_BASE, 0xd0000000u };
	for (unsigned i = 0; i < ARRAY_SIZE(bad); i++) {
		wcfg(d, PCI_BASE_ADDRESS_0, 4, bad[i]);
		assert_false(pci_bar_decoding(d, 0, &addr));
	}
	/* The port closing its memory decoding stops the device's memory BARs. */
	wcfg(d, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM);
	assert_true(pci_bar_decoding(d, 0, &addr));
	wcfg(pci_port_dev(d->port), PCI_COMMAND, 2, PCI_COMMAND_IO);
	assert_false(pci_bar_decoding(d, 0, &addr));
	assert_false(pci_bar_decoding(d, PCI_ROM_BAR, &addr));
	assert_true(pci_bar_decoding(d, 2, &addr));
	wcfg(pci_port_dev(d->port), PCI_COMMAND, 2, PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_true(pci_bar_decoding(d, 0, &addr));
	/* Decoding off: everything unmapped. */
	nr_calls = 0;
	wcfg(d, PCI_COMMAND, 2, 0);
	assert_int_equal(nr_calls, 3);
	for (unsigned i = 0; i < 3; i++)
		assert_int_equal(calls[i].op, 'u');
}

static void test_default_map_and_overlap(void **state)
{
	struct pci_dev *a = new_dev(&plain_ops), *b;
	struct pci_port *port;
	struct bus_range r;
	uint64_t addr;
	uint32_t v = 0;

	(void)state;
	assert_int_equal(pci_bar_init(a, 1, PCI_BAR_MEM32, KiB(4), false), 0);
	port = plug(a);
	(void)port;
	b = new_dev(&plain_ops);
	assert_int_equal(pci_bar_init(b, 0, PCI_BAR_MEM32, KiB(8), false), 0);
	assert_int_equal(pci_attach_fn(root, port, 1, b), 0);
	/* Function 1 made function 0 multi-function. */
	assert_int_equal(cfg(a, PCI_HEADER_TYPE, 1), 0x80);
	wcfg(a, PCI_BASE_ADDRESS_1, 4, (uint32_t)WIN_MEM + 0x1000);
	wcfg(a, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_int_equal(bus_find(&vm->mmio, WIN_MEM + 0x1000, &r), 0);
	bus_access(&vm->mmio, WIN_MEM + 0x1004, &v, 4, false);
	assert_int_equal(v, 0x14141414); /* rec_bar_read: 0x10 * bar + (off & 0xf) */
	/* b over a: b does not decode; moved clear, it does. */
	wcfg(b, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM);
	wcfg(b, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_false(pci_bar_decoding(b, 0, &addr));
	wcfg(b, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM + 0x4000);
	assert_true(pci_bar_decoding(b, 0, &addr) && addr == WIN_MEM + 0x4000);
	/* a moved away: its old place is unclaimed. */
	wcfg(a, PCI_BASE_ADDRESS_1, 4, (uint32_t)WIN_MEM + 0x2000);
	assert_int_equal(bus_find(&vm->mmio, WIN_MEM + 0x1000, &r), -ENOENT);
	assert_int_equal(bus_find(&vm->mmio, WIN_MEM + 0x2000, &r), 0);
}

/* Found by tests/fuzz (pci_config): a BAR crowded out by another stayed dead when it left. */
static void test_crowded_bar_decodes_when_freed(void **state)
{
	struct pci_dev *a = new_dev(&plain_ops), *b = new_dev(&plain_ops);
	struct pci_port *port;
	uint64_t addr;

	(void)state;
	assert_int_equal(pci_bar_init(a, 0, PCI_BAR_MEM32, KiB(4), false), 0);
	assert_int_equal(pci_bar_init(b, 0, PCI_BAR_MEM32, KiB(8), false), 0);
	port = plug(a);
	assert_int_equal(pci_attach_fn(root, port, 1, b), 0);
	wcfg(a, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM + 0x1000);
	wcfg(a, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	wcfg(b, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM);
	wcfg(b, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_false(pci_bar_decoding(b, 0, &addr));
	/* a moves away: b, untouched, decodes where it was told to. */
	wcfg(a, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM + 0x4000);
	assert_true(pci_bar_decoding(b, 0, &addr) && addr == WIN_MEM);
	assert_true(pci_bar_decoding(a, 0, &addr) && addr == WIN_MEM + 0x4000);
	/* Crowded out again, then a's decoding turned off: b decodes again. */
	wcfg(b, PCI_COMMAND, 2, 0);
	wcfg(a, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM);
	wcfg(b, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_false(pci_bar_decoding(b, 0, &addr));
	wcfg(a, PCI_COMMAND, 2, 0);
	assert_true(pci_bar_decoding(b, 0, &addr) && addr == WIN_MEM);
	/* A BAR that was crowded out and then turned off stays off. */
	wcfg(a, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_false(pci_bar_decoding(a, 0, &addr));
	wcfg(a, PCI_COMMAND, 2, 0);
	wcfg(b, PCI_COMMAND, 2, 0);
	assert_false(pci_bar_decoding(a, 0, &addr));
}

static void test_cap_lists(void **state)
{
	struct pci_dev *d;
	uint32_t at, ids[8], n = 0;
	uint16_t off;

	(void)state;
	assert_int_equal(pci_testdev_create(root, NULL, &d), 0);
	ecam_wr(0, 1, 0, PCI_SECONDARY_BUS, 1, 1);
	assert_true(ecam_rd(1, 0, 0, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	for (at = ecam_rd(1, 0, 0, PCI_CAPABILITY_LIST, 1); at && n < 8;
	     at = ecam_rd(1, 0, 0, at + PCI_CAP_LIST_NEXT, 1))
		ids[n++] = (uint32_t)ecam_rd(1, 0, 0, at, 1);
	assert_int_equal(n, 3);
	assert_int_equal(ids[0], PCI_CAP_ID_EXP);
	assert_int_equal(ids[1], PCI_CAP_ID_MSI);
	assert_int_equal(ids[2], PCI_CAP_ID_MSIX);
	at = (uint32_t)ecam_rd(1, 0, 0, PCI_CFG_SPACE_SIZE, 4);
	assert_int_equal(PCI_EXT_CAP_ID(at), PCI_EXT_CAP_ID_VNDR);
	assert_int_equal(PCI_EXT_CAP_NEXT(at), 0);
	assert_int_equal(pci_ext_cap_find(d, PCI_EXT_CAP_ID_VNDR), PCI_CFG_SPACE_SIZE);
	assert_int_equal(pci_cap_find(d, PCI_CAP_ID_PM), 0);
	/* Builders on a fresh function: linking, extended list, running out of room. */
	d = new_dev(&plain_ops);
	assert_int_equal(pci_cap_find(d, PCI_CAP_ID_VNDR), 0);
	assert_int_equal(pci_cap_add(d, PCI_CAP_ID_VNDR, 6, &off), 0);
	assert_int_equal(off, 0x40);
	assert_int_equal(pci_cap_add(d, PCI_CAP_ID_PM, 8, &off), 0);
	assert_int_equal(off, 0x48);
	assert_int_equal(pci_cap_find(d, PCI_CAP_ID_PM), 0x48);
	assert_int_equal(pci_cap_add(d, PCI_CAP_ID_VNDR, 0xc0, &off), -ENOSPC);
	assert_int_equal(pci_ext_cap_add(d, 0x0b, 1, 0x10, &off), 0);
	assert_int_equal(off, 0x100);
	assert_int_equal(pci_ext_cap_add(d, 0x01, 2, 0x40, &off), 0);
	assert_int_equal(off, 0x110);
	assert_int_equal(PCI_EXT_CAP_NEXT(pci_cfg_get(d, 0x100, 4)), 0x110);
	assert_int_equal(pci_ext_cap_find(d, 0x01), 0x110);
	assert_int_equal(pci_ext_cap_add(d, 0x02, 1, 0x1000, &off), -ENOSPC);
	/* A looping list (a guest cannot make one, VFIO hardware might): the walk ends. */
	d->cfg[0x48 + PCI_CAP_LIST_NEXT] = 0x40;
	assert_int_equal(pci_cap_find(d, PCI_CAP_ID_MSI), 0);
	assert_int_equal(pci_cfg_init(d, 0x110, 4, 0x01 | 0x100u << 20, 0, 0), 0);
	assert_int_equal(pci_ext_cap_find(d, 0x05), 0);
}

static void test_flr_and_bus_reset(void **state)
{
	struct pci_dev *d = new_dev(&rec_ops);
	struct pci_port *port;
	uint16_t pcie;
	uint64_t addr;

	(void)state;
	assert_int_equal(pci_bar_init(d, 0, PCI_BAR_MEM32, KiB(4), false), 0);
	assert_int_equal(pci_cap_add_pcie(d, PCI_EXP_TYPE_ENDPOINT, &pcie), 0);
	assert_true(pci_cfg_get(d, pcie + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR);
	port = plug(d);
	wcfg(d, PCI_BASE_ADDRESS_0, 4, (uint32_t)WIN_MEM);
	wcfg(d, PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	wcfg(d, PCI_INTERRUPT_LINE, 1, 9);
	assert_true(pci_bar_decoding(d, 0, &addr));
	nr_calls = 0;
	wcfg(d, pcie + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR | PCI_EXP_DEVCTL_RELAX_EN);
	/* Unmapped, then the device's own reset; config space is as attached. */
	assert_int_equal(nr_calls, 2);
	assert_int_equal(calls[0].op, 'u');
	assert_int_equal(calls[1].op, 'r');
	assert_false(pci_bar_decoding(d, 0, &addr));
	assert_int_equal(cfg(d, PCI_COMMAND, 2), 0);
	assert_int_equal(cfg(d, PCI_BASE_ADDRESS_0, 4), 0);
	assert_int_equal(cfg(d, PCI_INTERRUPT_LINE, 1), 0);
	assert_int_equal(cfg(d, pcie + PCI_EXP_DEVCTL, 2), 0x2000);
	/* Secondary bus reset: on the rising edge of the bit only. */
	nr_calls = 0;
	wcfg(pci_port_dev(port), PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_BUS_RESET);
	wcfg(pci_port_dev(port), PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_BUS_RESET);
	assert_int_equal(nr_calls, 1);
	assert_int_equal(calls[0].op, 'r');
	wcfg(pci_port_dev(port), PCI_BRIDGE_CONTROL, 2, 0);
	assert_int_equal(cfg(pci_port_dev(port), PCI_SECONDARY_BUS, 1), 1); /* port unchanged */
}

static void test_port_api(void **state)
{
	struct pci_port *a, *b, *c;
	struct pci_dev *d1 = new_dev(&plain_ops), *d2 = new_dev(&plain_ops);

	(void)state;
	assert_int_equal(pci_root_port_create(root, "rp0", &a), 0);
	assert_int_equal(pci_root_port_create(root, "rp0", &b), -EEXIST);
	assert_int_equal(pci_root_port_create(root, "bad name", &b), -EINVAL);
	assert_int_equal(pci_root_port_create(root, "", &b), -EINVAL);
	assert_int_equal(pci_root_port_create(root, "gpu_0-a", &b), 0);
	assert_int_equal(pci_root_port_find(root, "gpu_0-a", &c), 0);
	assert_ptr_equal(b, c);
	assert_int_equal(pci_root_port_find(root, "nope", &c), -ENOENT);
	assert_string_equal(pci_port_name(b), "gpu_0-a");
	assert_int_equal(pci_port_dev(b)->devfn, 2 << 3);
	assert_int_equal(pci_attach(root, a, d1), 0);
	assert_int_equal(pci_attach(root, a, d2), -EBUSY);
	assert_int_equal(pci_attach(root, b, d1), -EINVAL);
	assert_int_equal(pci_attach_fn(root, b, 8, d2), -EINVAL);
	/* A device without a port gets its own, named clear of "rp0". */
	assert_int_equal(pci_attach(root, NULL, d2), 0);
	assert_non_null(d2->port);
	assert_string_equal(pci_port_name(d2->port), "rp1");
	/* Bus 0 fills up at 31 ports. */
	for (unsigned i = 4; i <= PCI_MAX_ROOT_PORTS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "p%u", i);
		assert_int_equal(pci_root_port_create(root, name, &c), 0);
	}
	assert_int_equal(pci_root_port_create(root, "full", &c), -ENOSPC);
}

/* Random config writes over every function and MSI-X table bytes: nothing may break. */
static void test_hostile_config(void **state)
{
	static const uint32_t sizes[] = { 1, 2, 4, 8 };
	struct pci_dev *t, *d;
	uint64_t seed = 0x9e3779b97f4a7c15ull;

	(void)state;
	assert_int_equal(pci_testdev_create(root, NULL, &t), 0);
	d = new_dev(&plain_ops);
	assert_int_equal(pci_bar_init(d, 0, PCI_BAR_MEM64, MiB(1), true), 0);
	assert_int_equal(pci_bar_init(d, 2, PCI_BAR_IO, 256, false), 0);
	assert_int_equal(pci_attach(root, NULL, d), 0);
	ecam_wr(0, 1, 0, PCI_PRIMARY_BUS, 4, 0x00010100);
	ecam_wr(0, 2, 0, PCI_PRIMARY_BUS, 4, 0x00020200);
	for (unsigned i = 0; i < 20000; i++) {
		uint32_t len, off;
		unsigned bus, dev;
		uint64_t val;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		len = sizes[(seed >> 20) & 3];
		off = (uint32_t)(seed >> 24) & 0xfff;
		if ((seed >> 40) & 1)
			off &= 0x3f; /* hit the header often */
		off &= ~(len - 1);
		bus = (seed >> 44) & 3;
		dev = (seed >> 46) & 3;
		val = seed ^ (seed << 17);
		switch ((seed >> 50) & 7) {
		case 0:
			val = ~0ull;
			break;
		case 1:
			val = MEM_IOAPIC_BASE;
			break;
		case 2:
			val = MEM_ECAM_BASE;
			break;
		case 3:
			val = 0x100000; /* RAM */
			break;
		case 4:
			val &= 0xffff;
			break;
		default:
			break;
		}
		/* Keep the ports' bus numbers mostly sane so the endpoints stay reachable. */
		if (bus == 0 && (off & ~3u) == PCI_PRIMARY_BUS && (seed >> 60) != 0)
			continue;
		ecam_wr(bus, dev, 0, off, len, val);
		if ((seed >> 56) & 1)
			(void)ecam_rd(bus, dev, 0, off, len);
		if (!(i % 7)) {
			uint64_t a;

			if (pci_bar_decoding(t, 0, &a))
				bus_access(&vm->mmio,
				           a + TESTDEV_MSIX_TABLE + ((seed >> 8) & 0x1fff), &val,
				           len, true);
		}
	}
	assert_int_equal(ecam_rd(0, 0, 0, PCI_VENDOR_ID, 2), PCI_VENDOR_REDHAT);
	assert_int_equal(pci_cfg_get(t, PCI_VENDOR_ID, 2), PCI_VENDOR_REDHAT);
}

/*
 * What a PC's firmware leaves the OS: decoding on in every port and function, the INTx GSI in
 * INTERRUPT_LINE.  A BAR the guest assigns then decodes though no driver ever sets COMMAND
 * (a shared-memory BAR read through sysfs: it read all-ones at 64 GiB before); resets bring
 * COMMAND back to 0, as on hardware.
 */
static void test_firmware_handover(void **state)
{
	struct pci_dev *d = new_dev(&plain_ops), *q = new_dev(&plain_ops), *p;
	struct pci_port *port, *port2;
	uint64_t addr;

	(void)state;
	assert_int_equal(pci_bar_init(d, 2, PCI_BAR_MEM64, GiB(1), true), 0);
	assert_int_equal(pci_cfg_init(d, PCI_INTERRUPT_PIN, 1, 2, 0, 0), 0);
	assert_int_equal(pci_root_port_create(root, "fw", &port), 0);
	assert_int_equal(pci_attach(root, port, d), 0);
	assert_int_equal(pci_attach(root, NULL, q), 0);
	port2 = q->port;
	pci_root_handover(root);
	p = pci_port_dev(port);
	assert_int_equal(cfg(p, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(cfg(pci_port_dev(port2), PCI_COMMAND, 2),
	                 PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	assert_int_equal(cfg(d, PCI_COMMAND, 2), PCI_COMMAND_IO | PCI_COMMAND_MEMORY);
	/* INTB behind the port at device 1; a function without a pin keeps its line 0. */
	assert_int_equal(cfg(d, PCI_INTERRUPT_LINE, 1), pci_intx_gsi(1, 2));
	assert_int_equal(cfg(d, PCI_INTERRUPT_LINE, 1), 18);
	assert_int_equal(cfg(q, PCI_INTERRUPT_LINE, 1), 0);
	/* The guest numbers the bus, opens the prefetchable window at 64 GiB, places the BAR. */
	wcfg(p, PCI_PRIMARY_BUS, 4, 0x00010100);
	wcfg(p, PCI_PREF_MEMORY_BASE, 2, 0x0001);
	wcfg(p, PCI_PREF_BASE_UPPER32, 4, 0x10);
	wcfg(p, PCI_PREF_MEMORY_LIMIT, 2, 0x3ff1);
	wcfg(p, PCI_PREF_LIMIT_UPPER32, 4, 0x10);
	wcfg(d, PCI_BASE_ADDRESS_2, 4, 0xc);
	wcfg(d, PCI_BASE_ADDRESS_3, 4, 0x10);
	assert_true(pci_bar_decoding(d, 2, &addr));
	assert_int_equal(addr, GiB(64));
	/* A reset is not firmware: COMMAND comes back as the hardware's, 0. */
	wcfg(p, PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_BUS_RESET);
	wcfg(p, PCI_BRIDGE_CONTROL, 2, 0);
	assert_int_equal(cfg(d, PCI_COMMAND, 2), 0);
	assert_false(pci_bar_decoding(d, 2, &addr));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_host_bridge_and_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ecam_odd_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_conf1_and_reset_port, setup, teardown),
		cmocka_unit_test_setup_teardown(test_root_port_routing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bridge_registers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_sizing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_masks, setup, teardown),
		cmocka_unit_test_setup_teardown(test_decode_calls_bar_map, setup, teardown),
		cmocka_unit_test_setup_teardown(test_default_map_and_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crowded_bar_decodes_when_freed, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_cap_lists, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flr_and_bus_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_api, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_firmware_handover, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
