/* SPDX-License-Identifier: MIT */
/*
 * BARs: sizing through the masks, and decoding kept in line with COMMAND, the BAR registers
 * and the upstream port's windows.  The guest may place a BAR anywhere; places that would
 * shadow RAM, the chipset or another range simply do not decode.
 */
#include <string.h>

#include "devices/pci/internal.h"

uint32_t pci_bar_reg(const struct pci_dev *dev, unsigned bar)
{
	if (bar == PCI_ROM_BAR)
		return pci_dev_is_bridge(dev) ? PCI_ROM_ADDRESS1 : PCI_ROM_ADDRESS;
	if (bar >= (pci_dev_is_bridge(dev) ? 2u : (unsigned)PCI_STD_NUM_BARS))
		return 0;
	return PCI_BASE_ADDRESS_0 + 4 * bar;
}

static bool pci_pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int pci_bar_init(struct pci_dev *dev, unsigned bar, enum pci_bar_kind kind, uint64_t size,
                 bool prefetch)
{
	uint32_t reg = pci_bar_reg(dev, bar), flags, lo_mask;
	bool wide = kind == PCI_BAR_MEM64;

	if (bar == PCI_ROM_BAR || !reg || dev->attached || dev->bars[bar].kind != PCI_BAR_NONE ||
	    (wide && (!pci_bar_reg(dev, bar + 1) || dev->bars[bar + 1].kind != PCI_BAR_NONE)) ||
	    !pci_pow2(size))
		goto bad;
	switch (kind) {
	case PCI_BAR_IO:
		if (prefetch || size < 4 || size > 256)
			goto bad;
		flags = PCI_BASE_ADDRESS_SPACE_IO;
		lo_mask = (uint32_t) ~(size - 1) & PCI_BASE_ADDRESS_IO_MASK;
		break;
	case PCI_BAR_MEM32:
		if (size < 16 || size > GiB(2))
			goto bad;
		flags = PCI_BASE_ADDRESS_MEM_TYPE_32;
		lo_mask = (uint32_t) ~(size - 1) & PCI_BASE_ADDRESS_MEM_MASK;
		break;
	case PCI_BAR_MEM64:
		if (size < 16 || size > (1ull << 63))
			goto bad;
		flags = PCI_BASE_ADDRESS_MEM_TYPE_64;
		lo_mask = size > GiB(2) ? 0 : (uint32_t) ~(size - 1) & PCI_BASE_ADDRESS_MEM_MASK;
		break;
	default:
		goto bad;
	}
	if (prefetch)
		flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;
	if (pci_cfg_init(dev, reg, 4, flags, lo_mask, 0))
		goto bad;
	if (wide) {
		uint32_t hi_mask = (uint32_t)(~(size - 1) >> 32);

		if (pci_cfg_init(dev, reg + 4, 4, 0, hi_mask, 0))
			goto bad;
		dev->bars[bar + 1].kind = PCI_BAR_UPPER;
	}
	dev->bars[bar].kind = kind;
	dev->bars[bar].size = size;
	dev->bars[bar].prefetch = prefetch;
	return 0;
bad:
	log_err("pci: %s: invalid BAR %u (kind %d, size %#llx%s)", dev->name, bar, kind,
	        (unsigned long long)size, prefetch ? ", prefetchable" : "");
	return -EINVAL;
}

int pci_rom_init(struct pci_dev *dev, uint64_t size)
{
	struct pci_bar *b = &dev->bars[PCI_ROM_BAR];
	uint32_t reg = pci_bar_reg(dev, PCI_ROM_BAR);

	if (dev->attached || b->kind != PCI_BAR_NONE || !pci_pow2(size) || size < KiB(2) ||
	    size > GiB(1) ||
	    pci_cfg_init(dev, reg, 4, 0,
	                 ((uint32_t) ~(size - 1) & PCI_ROM_ADDRESS_MASK) | PCI_ROM_ADDRESS_ENABLE,
	                 0)) {
		log_err("pci: %s: invalid ROM size %#llx", dev->name, (unsigned long long)size);
		return -EINVAL;
	}
	b->kind = PCI_BAR_ROM;
	b->size = size;
	return 0;
}

/* The address BAR `b` asks to decode at, or false if its enables are off. */
static bool pci_bar_target(struct pci_dev *dev, struct pci_bar *b, uint64_t *addr)
{
	uint16_t cmd = (uint16_t)pci_cfg_get(dev, PCI_COMMAND, 2);
	uint32_t reg = pci_bar_reg(dev, b->index), lo = pci_cfg_get(dev, reg, 4);

	switch (b->kind) {
	case PCI_BAR_IO:
		*addr = lo & PCI_BASE_ADDRESS_IO_MASK;
		return cmd & PCI_COMMAND_IO;
	case PCI_BAR_MEM32:
		*addr = lo & PCI_BASE_ADDRESS_MEM_MASK;
		return cmd & PCI_COMMAND_MEMORY;
	case PCI_BAR_MEM64:
		*addr = (lo & PCI_BASE_ADDRESS_MEM_MASK) | (uint64_t)pci_cfg_get(dev, reg + 4, 4)
		                                               << 32;
		return cmd & PCI_COMMAND_MEMORY;
	case PCI_BAR_ROM:
		*addr = lo & PCI_ROM_ADDRESS_MASK;
		return (cmd & PCI_COMMAND_MEMORY) && (lo & PCI_ROM_ADDRESS_ENABLE);
	default:
		return false;
	}
}

static bool pci_ranges_meet(uint64_t a, uint64_t asize, uint64_t b, uint64_t bsize)
{
	return a < b + bsize && b < a + asize;
}

/*
 * Whether the platform lets the BAR decode at addr; false with a reason (NULL: the normal
 * case of a place the upstream port does not forward, not worth a message).
 */
static bool pci_bar_place_ok(struct pci_dev *dev, struct pci_bar *b, uint64_t addr,
                             const char **why)
{
	bool io = b->kind == PCI_BAR_IO;
	const struct guest_mem *mem = &dev->vm->mem;

	*why = NULL;
	if (addr + b->size - 1 < addr) {
		*why = "wraps around the address space";
		return false;
	}
	if (io && addr + b->size > 0x10000) {
		*why = "is beyond port 0xffff";
		return false;
	}
	if (!io) {
		for (unsigned i = 0; i < mem->nr_ram; i++) {
			if (pci_ranges_meet(addr, b->size, mem->ram[i].gpa, mem->ram[i].size)) {
				*why = "overlaps guest RAM";
				return false;
			}
		}
		if (pci_ranges_meet(addr, b->size, MEM_ECAM_BASE, MEM_ECAM_SIZE)) {
			*why = "overlaps the ECAM window";
			return false;
		}
		/* The IOAPIC, the LAPIC/MSI window and firmware space up to 4 GiB. */
		if (pci_ranges_meet(addr, b->size, MEM_IOAPIC_BASE, GiB(4) - MEM_IOAPIC_BASE)) {
			*why = "overlaps the chipset range 0xfec00000-0xffffffff";
			return false;
		}
	}
	if (dev->port && !pci_port_forwards(dev->port, addr, b->size, io))
		return false;
	return true;
}

static void pci_bar_dispatch(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct pci_bar *b = opaque;
	struct pci_dev *dev = b->dev;

	if (dev->ops->bar_trapped)
		dev->ops->bar_trapped(dev, b->index, off, is_write);
	if (dev->msix && pci_msix_bar_access(dev->msix, b->index, off, data, len, is_write))
		return;
	if (is_write) {
		if (dev->ops->bar_write)
			dev->ops->bar_write(dev, b->index, off, data, len);
	} else if (dev->ops->bar_read) {
		dev->ops->bar_read(dev, b->index, off, data, len);
	} else {
		memset(data, 0xff, len);
	}
}

static struct bus *pci_bar_bus(struct pci_dev *dev, unsigned bar)
{
	return dev->bars[bar].kind == PCI_BAR_IO ? &dev->vm->pio : &dev->vm->mmio;
}

int pci_bar_map_default(struct pci_dev *dev, unsigned bar, uint64_t addr)
{
	struct pci_bar *b;

	if (bar >= PCI_NR_BARS)
		return -EINVAL;
	b = &dev->bars[bar];
	return bus_try_register(pci_bar_bus(dev, bar), addr, b->size, pci_bar_dispatch, b,
	                        dev->name);
}

void pci_bar_unmap_default(struct pci_dev *dev, unsigned bar, uint64_t addr)
{
	if (bar < PCI_NR_BARS && bus_unregister(pci_bar_bus(dev, bar), addr, &dev->bars[bar]))
		log_debug("pci: %s: BAR %u was not registered at %#llx", dev->name, bar,
		          (unsigned long long)addr);
}

static void pci_bar_unmap(struct pci_dev *dev, struct pci_bar *b)
{
	if (!b->mapped)
		return;
	if (dev->ops->bar_unmap)
		dev->ops->bar_unmap(dev, b->index, b->addr, b->size);
	else
		pci_bar_unmap_default(dev, b->index, b->addr);
	b->mapped = false;
	dev->root->bars_freed = true;
}

static void pci_bar_map(struct pci_dev *dev, struct pci_bar *b, uint64_t addr)
{
	int r;

	if (dev->ops->bar_map)
		r = dev->ops->bar_map(dev, b->index, addr, b->size);
	else
		r = pci_bar_map_default(dev, b->index, addr);
	b->crowded = r == -EEXIST;
	if (r) {
		pci_guest_warn(dev->root, "%s: BAR %u at %#llx (%#llx bytes) %s: not decoding",
		               dev->name, b->index, (unsigned long long)addr,
		               (unsigned long long)b->size,
		               r == -EEXIST ? "overlaps another device" : strerror(-r));
		return;
	}
	b->mapped = true;
	b->addr = addr;
}

void pci_bars_update(struct pci_dev *dev)
{
	for (unsigned i = 0; i < PCI_NR_BARS; i++) {
		struct pci_bar *b = &dev->bars[i];
		const char *why;
		uint64_t addr;
		bool want;

		if (b->kind == PCI_BAR_NONE || b->kind == PCI_BAR_UPPER)
			continue;
		want = dev->attached && pci_bar_target(dev, b, &addr);
		/* Address 0 is how firmware and Linux leave a BAR unassigned: quietly off. */
		if (want && addr == 0)
			want = false;
		if (want && !pci_bar_place_ok(dev, b, addr, &why)) {
			if (why)
				pci_guest_warn(dev->root, "%s: BAR %u at %#llx %s: not decoding",
				               dev->name, i, (unsigned long long)addr, why);
			want = false;
		}
		if (b->mapped && (!want || b->addr != addr))
			pci_bar_unmap(dev, b);
		if (want && !b->mapped)
			pci_bar_map(dev, b, addr);
		else if (!want)
			b->crowded = false;
	}
	if (!dev->root->bars_freed)
		return;
	/*
	 * A BAR that another range crowded out decodes once that range is gone, as on hardware
	 * (Linux reassigning BARs can overlap one with another's stale address for a while).
	 * Retried from here rather than at unmap time, so teardown never maps anything.
	 */
	dev->root->bars_freed = false;
	for (struct pci_dev *d = dev->root->devs; d; d = d->next) {
		for (unsigned i = 0; i < PCI_NR_BARS; i++) {
			if (d->bars[i].crowded) {
				pci_bars_update(d);
				break;
			}
		}
	}
}

void pci_bars_release(struct pci_dev *dev)
{
	for (unsigned i = 0; i < PCI_NR_BARS; i++)
		pci_bar_unmap(dev, &dev->bars[i]);
}

bool pci_bar_decoding(struct pci_dev *dev, unsigned bar, uint64_t *addr)
{
	bool mapped = false;

	if (bar >= PCI_NR_BARS)
		return false;
	pthread_mutex_lock(&dev->root->lock);
	if (dev->bars[bar].mapped) {
		mapped = true;
		*addr = dev->bars[bar].addr;
	}
	pthread_mutex_unlock(&dev->root->lock);
	return mapped;
}
