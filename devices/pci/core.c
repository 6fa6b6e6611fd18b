/* SPDX-License-Identifier: MIT */
/* PCI functions: config space as bytes with writable and write-1-to-clear masks. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/internal.h"

void pci_guest_warn(struct pci_root *root, const char *fmt, ...)
{
	uint32_t suppressed;
	char line[512];
	va_list ap;

	if (!ratelimit_allow(&root->rl, &suppressed))
		return;
	if (suppressed)
		log_warn("pci: %u messages not shown", suppressed);
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warn("pci: %s", line);
}

static bool pci_range_ok(uint32_t off, uint32_t len)
{
	return len >= 1 && len <= 4 && off < PCI_CFG_SPACE_EXP_SIZE &&
	       len <= PCI_CFG_SPACE_EXP_SIZE - off;
}

int pci_cfg_init(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t val, uint32_t wmask,
                 uint32_t w1c)
{
	if (!pci_range_ok(off, len)) {
		log_err("pci: %s: register %#x+%u is outside config space", dev->name, off, len);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < len; i++) {
		dev->cfg[off + i] = (uint8_t)(val >> (8 * i));
		dev->wmask[off + i] = (uint8_t)(wmask >> (8 * i));
		dev->w1c[off + i] = (uint8_t)(w1c >> (8 * i));
	}
	return 0;
}

uint32_t pci_cfg_get(const struct pci_dev *dev, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < len && i < 4; i++) {
		if (off + i < PCI_CFG_SPACE_EXP_SIZE)
			v |= (uint32_t)dev->cfg[off + i] << (8 * i);
	}
	return v;
}

bool pci_dev_is_bridge(const struct pci_dev *dev)
{
	return (dev->cfg[PCI_HEADER_TYPE] & 0x7f) == PCI_HEADER_TYPE_BRIDGE;
}

int pci_dev_create(struct pci_root *root, const struct pci_dev_info *info, struct pci_dev **out)
{
	static const struct pci_dev_ops no_ops;
	struct pci_dev *dev = calloc(1, sizeof(*dev));
	const char *name = info->name ? info->name : "pci function";
	int r;

	if (!dev) {
		log_err("pci: out of memory creating %s", name);
		return -ENOMEM;
	}
	dev->vm = root->vm;
	dev->root = root;
	dev->ops = info->ops ? info->ops : &no_ops;
	dev->priv = info->priv;
	snprintf(dev->name, sizeof(dev->name), "%s", name);
	for (unsigned i = 0; i < PCI_NR_BARS; i++)
		dev->bars[i] = (struct pci_bar){ .dev = dev, .index = i };
	dev->cap_free = PCI_STD_HEADER_SIZEOF;
	dev->ext_free = PCI_CFG_SPACE_SIZE;
	if ((r = pci_cfg_init(dev, PCI_VENDOR_ID, 2, info->vendor, 0, 0)) ||
	    (r = pci_cfg_init(dev, PCI_DEVICE_ID, 2, info->device, 0, 0)) ||
	    (r = pci_cfg_init(dev, PCI_COMMAND, 2, 0,
	                      PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
	                          PCI_COMMAND_PARITY | PCI_COMMAND_SERR | PCI_COMMAND_INTX_DISABLE,
	                      0)) ||
	    (r = pci_cfg_init(dev, PCI_STATUS, 2, 0, 0,
	                      PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT |
	                          PCI_STATUS_REC_TARGET_ABORT | PCI_STATUS_REC_MASTER_ABORT |
	                          PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)) ||
	    (r = pci_cfg_init(dev, PCI_CLASS_REVISION, 4, info->class_code << 8 | info->revision, 0,
	                      0)) ||
	    (r = pci_cfg_init(dev, PCI_CACHE_LINE_SIZE, 1, 0, 0xff, 0)) ||
	    (r = pci_cfg_init(dev, PCI_SUBSYSTEM_VENDOR_ID, 2, info->subsys_vendor, 0, 0)) ||
	    (r = pci_cfg_init(dev, PCI_SUBSYSTEM_ID, 2, info->subsys, 0, 0)) ||
	    (r = pci_cfg_init(dev, PCI_INTERRUPT_LINE, 1, 0, 0xff, 0))) {
		free(dev);
		return r;
	}
	pthread_mutex_lock(&root->lock);
	dev->next = root->devs;
	root->devs = dev;
	pthread_mutex_unlock(&root->lock);
	*out = dev;
	return 0;
}

static bool pci_overlaps(uint32_t off, uint32_t len, uint32_t start, uint32_t size)
{
	return off < start + size && start < off + len;
}

/* What a guest write changes besides the bytes: decoding, vectors, bridge state, FLR. */
static void pci_cfg_written(struct pci_dev *dev, uint32_t off, uint32_t len)
{
	bool bridge = pci_dev_is_bridge(dev);
	uint32_t bars_end = bridge ? PCI_PRIMARY_BUS : PCI_CARDBUS_CIS;
	uint32_t rom = bridge ? PCI_ROM_ADDRESS1 : PCI_ROM_ADDRESS;

	if (pci_overlaps(off, len, PCI_COMMAND, 2) ||
	    pci_overlaps(off, len, PCI_BASE_ADDRESS_0, bars_end - PCI_BASE_ADDRESS_0) ||
	    pci_overlaps(off, len, rom, 4))
		pci_bars_update(dev);
	if (dev->bridge)
		pci_port_cfg_written(dev->bridge, off, len);
	if (off >= PCI_STD_HEADER_SIZEOF && dev->msix)
		pci_msix_cfg_written(dev->msix, off, len);
	if (off >= PCI_STD_HEADER_SIZEOF && dev->msi)
		pci_msi_cfg_written(dev->msi, off, len);
	if (dev->pcie_cap && off >= dev->pcie_cap)
		pci_pcie_cfg_written(dev, off, len);
}

static void pci_cfg_emulate_write(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t val)
{
	for (uint32_t i = 0; i < len; i++) {
		uint8_t b = (uint8_t)(val >> (8 * i)), wm = dev->wmask[off + i];
		uint8_t n = (uint8_t)((dev->cfg[off + i] & ~wm) | (b & wm));

		dev->cfg[off + i] = (uint8_t)(n & ~(b & dev->w1c[off + i]));
	}
	pci_cfg_written(dev, off, len);
}

static uint32_t pci_cfg_emulate_read(struct pci_dev *dev, uint32_t off, uint32_t len)
{
	uint32_t val = pci_cfg_get(dev, off, len);

	if (dev->msi && off >= PCI_STD_HEADER_SIZEOF)
		pci_msi_cfg_read(dev->msi, off, len, &val);
	return val;
}

void pci_cfg_access(struct pci_dev *dev, uint32_t off, void *data, uint32_t len, bool is_write)
{
	const struct pci_dev_ops *ops = dev->ops;
	uint32_t val = 0;

	if (is_write) {
		memcpy(&val, data, len);
		if (ops->cfg_write && ops->cfg_write(dev, off, len, val) == PCI_CFG_DONE)
			return;
		pci_cfg_emulate_write(dev, off, len, val);
		return;
	}
	if (!ops->cfg_read || ops->cfg_read(dev, off, len, &val) != PCI_CFG_DONE)
		val = pci_cfg_emulate_read(dev, off, len);
	memcpy(data, &val, len);
}

static int pci_cfg_check(uint32_t off, uint32_t len)
{
	if ((len != 1 && len != 2 && len != 4) || (off & (len - 1)) || !pci_range_ok(off, len))
		return -EINVAL;
	return 0;
}

int pci_cfg_read(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t *val)
{
	int r = pci_cfg_check(off, len);

	if (r)
		return r;
	*val = 0;
	pthread_mutex_lock(&dev->root->lock);
	pci_cfg_access(dev, off, val, len, false);
	pthread_mutex_unlock(&dev->root->lock);
	return 0;
}

int pci_cfg_write(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t val)
{
	int r = pci_cfg_check(off, len);

	if (r)
		return r;
	pthread_mutex_lock(&dev->root->lock);
	pci_cfg_access(dev, off, &val, len, true);
	pthread_mutex_unlock(&dev->root->lock);
	return 0;
}

int pci_dma_ptr(struct pci_dev *dev, uint64_t gpa, uint64_t len, void **out)
{
	/* A racy read is fine: a guest toggling bus mastering mid-DMA gets either outcome. */
	uint16_t cmd = (uint16_t)(__atomic_load_n(&dev->cfg[PCI_COMMAND], __ATOMIC_RELAXED));

	if (!(cmd & PCI_COMMAND_MASTER))
		return -EPERM;
	return mem_ptr(&dev->vm->mem, gpa, len, out);
}

void pci_dev_trigger(struct pci_dev *dev, unsigned vector)
{
	if (dev->msix && pci_vecs_enabled(dev->msix))
		pci_vecs_trigger(dev->msix, vector);
	else if (dev->msi && pci_vecs_enabled(dev->msi))
		pci_vecs_trigger(dev->msi, vector);
}

void pci_dev_flr(struct pci_dev *dev)
{
	pci_dev_reset(dev);
}

void pci_dev_reset(struct pci_dev *dev)
{
	pci_bars_release(dev);
	if (dev->attached)
		memcpy(dev->cfg, dev->reset_cfg, sizeof(dev->cfg));
	/* MSI-X comes out of reset with its table masked, MSI enabling one vector. */
	if (dev->msix)
		pci_vecs_reset(dev->msix, dev->msix->nr, true);
	if (dev->msi)
		pci_vecs_reset(dev->msi, 1, false);
	if (dev->ops->reset)
		dev->ops->reset(dev);
	pci_bars_update(dev);
}
