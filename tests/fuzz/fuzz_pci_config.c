/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target pci_config: a guest's configuration accesses, as it makes them, against the PCI
 * platform of a VM on the fake hypervisor: two test devices behind root ports and an empty
 * port.  Accesses go through the real entry points (bus_access on the MMIO bus for ECAM and
 * BARs, on the PIO bus for 0xCF8-0xCFF and I/O BARs), so BAR moves, COMMAND toggles, bridge
 * windows, bus numbers, FLR and secondary bus resets all happen as a guest drives them.
 *
 * Input: a sequence of 13-byte records
 *   flags (bits 0-1 path, bit 2 write, bits 3-4 size 1/2/4/8), bus, devfn, offset (u16),
 *   value (u64)
 * where the path is ECAM, 0xCF8 address + 0xCFC data, a raw access to 0xCF8-0xCFF, or a BAR
 * access (bus bit 1: I/O port `offset`; else memory at the 32-bit window, or with bus bit 0
 * the 64-bit window, + devfn << 16 | offset).
 *
 * Checked after every access, with an implementation of the decoding rules of its own: a BAR
 * that decodes has its enables on, sits where its register says, clear of RAM, the ECAM
 * window and the chipset range, inside the upstream port's open windows, and owns exactly
 * that bus range; a BAR that stopped decoding left nothing behind on the bus, and a BAR that
 * is enabled, legally placed and has room decodes.  After the VM is gone: no irqfd, memory
 * mapping or file descriptor is left.
 */
#include <string.h>

#include "devices/pci/internal.h"
#include "tests/devices/testdev.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/unit.h"

#define RAM_SIZE  MiB(16)
#define MMIO64    GiB(64) /* where firmware puts the 64-bit window (ACPI_PCI_MMIO64_MIN) */
#define MAX_OPS   1024
#define NR_DEVS   2
#define PATH_ECAM 0
#define PATH_CF8  1
#define PATH_RAW  2
#define PATH_BAR  3

struct rig {
	struct vm *vm;
	struct pci_dev *devs[NR_DEVS];
	/* Where each BAR last decoded (0: never), to prove it left the bus when it stopped. */
	uint64_t last[NR_DEVS][PCI_NR_BARS];
};

static bool meets(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a < b + bsize && b < a + asize;
}

static uint32_t cfg32(const struct pci_dev *d, uint32_t off)
{
	uint32_t v;

	memcpy(&v, d->cfg + off, 4);
	return v;
}

static uint16_t cfg16(const struct pci_dev *d, uint32_t off)
{
	uint16_t v;

	memcpy(&v, d->cfg + off, 2);
	return v;
}

/* The upstream port's windows, read from its type-1 header as a bridge would. */
static bool port_passes(const struct pci_dev *port, uint64_t addr, uint64_t size, bool io)
{
	uint16_t cmd = cfg16(port, PCI_COMMAND);
	uint64_t end = addr + size - 1, lo, hi;

	if (io) {
		lo = (uint64_t)(port->cfg[PCI_IO_BASE] & 0xf0) << 8 |
		     (uint64_t)cfg16(port, PCI_IO_BASE_UPPER16) << 16;
		hi = (uint64_t)(port->cfg[PCI_IO_LIMIT] & 0xf0) << 8 | 0xfff |
		     (uint64_t)cfg16(port, PCI_IO_LIMIT_UPPER16) << 16;
		return (cmd & PCI_COMMAND_IO) && addr >= lo && end <= hi;
	}
	if (!(cmd & PCI_COMMAND_MEMORY))
		return false;
	lo = (uint64_t)(cfg16(port, PCI_MEMORY_BASE) & 0xfff0) << 16;
	hi = (uint64_t)(cfg16(port, PCI_MEMORY_LIMIT) & 0xfff0) << 16 | 0xfffff;
	if (addr >= lo && end <= hi)
		return true;
	lo = (uint64_t)(cfg16(port, PCI_PREF_MEMORY_BASE) & 0xfff0) << 16 |
	     (uint64_t)cfg32(port, PCI_PREF_BASE_UPPER32) << 32;
	hi = (uint64_t)(cfg16(port, PCI_PREF_MEMORY_LIMIT) & 0xfff0) << 16 | 0xfffff |
	     (uint64_t)cfg32(port, PCI_PREF_LIMIT_UPPER32) << 32;
	return addr >= lo && end <= hi;
}

/* What the registers ask of BAR `b`: its address, and whether its decode enables are on. */
static bool bar_wanted(const struct pci_dev *d, const struct pci_bar *b, uint64_t *addr)
{
	uint16_t cmd = cfg16(d, PCI_COMMAND);
	uint32_t reg =
	    b->index == PCI_ROM_BAR ? PCI_ROM_ADDRESS : PCI_BASE_ADDRESS_0 + 4 * b->index;
	uint32_t lo = cfg32(d, reg);

	switch (b->kind) {
	case PCI_BAR_IO:
		*addr = lo & ~3u;
		return cmd & PCI_COMMAND_IO;
	case PCI_BAR_MEM32:
		*addr = lo & ~0xfu;
		return cmd & PCI_COMMAND_MEMORY;
	case PCI_BAR_MEM64:
		*addr = (lo & ~0xfull) | (uint64_t)cfg32(d, reg + 4) << 32;
		return cmd & PCI_COMMAND_MEMORY;
	case PCI_BAR_ROM:
		*addr = lo & ~0x7ffu;
		return (cmd & PCI_COMMAND_MEMORY) && (lo & PCI_ROM_ADDRESS_ENABLE);
	default:
		return false;
	}
}

static bool place_ok(const struct vm *vm, const struct pci_dev *d, const struct pci_bar *b,
                     uint64_t addr)
{
	bool io = b->kind == PCI_BAR_IO;

	if (addr == 0 || addr + b->size - 1 < addr)
		return false;
	if (io && addr + b->size > 0x10000)
		return false;
	if (!io) {
		for (unsigned i = 0; i < vm->mem.nr_ram; i++) {
			if (meets(addr, b->size, vm->mem.ram[i].gpa, vm->mem.ram[i].size))
				return false;
		}
		if (meets(addr, b->size, MEM_ECAM_BASE, MEM_ECAM_SIZE) ||
		    meets(addr, b->size, MEM_IOAPIC_BASE, GiB(4) - MEM_IOAPIC_BASE))
			return false;
	}
	return !d->port || port_passes(d->port->dev, addr, b->size, io);
}

/*
 * Whether nothing on `bus` answers in [addr, addr + size), probing every `step` bytes: the
 * smallest range in the PCI windows is a 2 KiB ROM BAR, on ports anything down to one port.
 */
static bool bus_free(struct bus *bus, uint64_t addr, uint64_t size, uint64_t step)
{
	struct bus_range r;

	for (uint64_t a = addr; a - addr < size; a += step) {
		if (bus_find(bus, a, &r) == 0)
			return false;
	}
	return true;
}

static void check_bars(struct rig *rig)
{
	for (unsigned n = 0; n < NR_DEVS; n++) {
		struct pci_dev *d = rig->devs[n];

		for (unsigned i = 0; i < PCI_NR_BARS; i++) {
			struct pci_bar *b = &d->bars[i];
			struct bus *bus = b->kind == PCI_BAR_IO ? &rig->vm->pio : &rig->vm->mmio;
			struct bus_range r;
			uint64_t addr = 0;

			if (b->kind == PCI_BAR_NONE || b->kind == PCI_BAR_UPPER)
				continue;
			if (!b->mapped) {
				/* Nothing of this BAR may still answer where it was. */
				FUZZ_CHECK(!rig->last[n][i] || bus_find(bus, rig->last[n][i], &r) ||
				           r.opaque != b);
				/* And it had a reason not to decode: off, misplaced or crowded out.
				 */
				FUZZ_CHECK(!bar_wanted(d, b, &addr) ||
				           !place_ok(rig->vm, d, b, addr) ||
				           !bus_free(bus, addr, b->size,
				                     b->kind == PCI_BAR_IO ? 1 : KiB(2)));
				continue;
			}
			FUZZ_CHECK(bar_wanted(d, b, &addr));
			FUZZ_CHECK(addr == b->addr);
			FUZZ_CHECK(place_ok(rig->vm, d, b, addr));
			FUZZ_CHECK(bus_find(bus, addr, &r) == 0);
			FUZZ_CHECK(r.base == addr && r.size == b->size && r.opaque == b);
			rig->last[n][i] = addr;
		}
	}
}

static void op(struct rig *rig, struct fuzz_in *in)
{
	uint8_t flags = fuzz_u8(in), bus = fuzz_u8(in), devfn = fuzz_u8(in);
	uint16_t off = fuzz_u16(in);
	uint64_t val = fuzz_u64(in);
	uint32_t len = 1u << ((flags >> 3) & 3), pio_len = len > 4 ? 4 : len;
	bool write = flags & 4;
	struct vm *vm = rig->vm;
	uint32_t addr;

	switch (flags & 3) {
	case PATH_ECAM:
		bus_access(&vm->mmio,
		           MEM_ECAM_BASE +
		               ((uint64_t)bus << 20 | (uint64_t)devfn << 12 | (off & 0xfff)),
		           &val, len, write);
		break;
	case PATH_CF8:
		/* Offset bit 15 leaves the enable bit clear: such data accesses go nowhere. */
		addr = (off & 0x8000 ? 0 : PCI_CONF1_ENABLE) | (uint32_t)bus << 16 |
		       (uint32_t)devfn << 8 | (off & 0xfc);
		bus_access(&vm->pio, PCI_CONF1_ADDR_PORT, &addr, 4, true);
		bus_access(&vm->pio, PCI_CONF1_DATA_PORT + (off & 3), &val, pio_len, write);
		break;
	case PATH_RAW:
		bus_access(&vm->pio, PCI_CONF1_ADDR_PORT + (off & 7), &val, pio_len, write);
		break;
	case PATH_BAR:
		if (bus & 2)
			bus_access(&vm->pio, off, &val, pio_len, write);
		else
			bus_access(&vm->mmio,
			           (bus & 1 ? MMIO64 : MEM_PCI_MMIO32) +
			               ((uint64_t)devfn << 16 | off),
			           &val, len, write);
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct rig rig = { 0 };
	struct pci_port *port, *empty;
	struct pc *pc;
	int fd = fuzz_lowest_free_fd();

	log_set_level(LOG_ERR);
	fake_hv_reset();
	if (fake_pc_create(1, RAM_SIZE, &pc))
		fuzz_fail(__FILE__, __LINE__, "setting up the VM");
	rig.vm = pc->vm;
	if (pci_root_port_create(pc->pci, "a", &port) ||
	    pci_testdev_create(pc->pci, port, &rig.devs[0]) ||
	    pci_testdev_create(pc->pci, NULL, &rig.devs[1]) ||
	    pci_root_port_create(pc->pci, "empty", &empty))
		fuzz_fail(__FILE__, __LINE__, "setting up the VM");
	for (unsigned i = 0; i < MAX_OPS && in.n; i++) {
		op(&rig, &in);
		check_bars(&rig);
	}
	vm_destroy(rig.vm);
	FUZZ_CHECK(fake_hv_record()->irqfds == 0);
	FUZZ_CHECK(fake_hv_record()->mem_maps == 0);
	FUZZ_CHECK(fuzz_lowest_free_fd() == fd);
	return 0;
}
