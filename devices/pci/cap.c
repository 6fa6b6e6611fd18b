/* SPDX-License-Identifier: MIT */
/* Capability lists (standard from 0x34, extended from 0x100) and the PCI Express capability. */
#include "devices/pci/internal.h"

#define PCI_PCIE_CAP_SIZE 0x3c /* through Slot Status 2: version 2, every port type */

int pci_cap_add(struct pci_dev *dev, uint8_t id, uint32_t size, uint16_t *off)
{
	uint32_t at = (dev->cap_free + 3u) & ~3u;

	if (size < 2 || size > PCI_CFG_SPACE_SIZE || at + size > PCI_CFG_SPACE_SIZE) {
		log_err("pci: %s: no room for capability %#x (%u bytes) in config space", dev->name,
		        id, size);
		return -ENOSPC;
	}
	dev->cfg[at + PCI_CAP_LIST_ID] = id;
	dev->cfg[at + PCI_CAP_LIST_NEXT] = 0;
	if (dev->cap_last)
		dev->cfg[dev->cap_last + PCI_CAP_LIST_NEXT] = (uint8_t)at;
	else
		dev->cfg[PCI_CAPABILITY_LIST] = (uint8_t)at;
	dev->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	dev->cap_last = (uint16_t)at;
	dev->cap_free = (uint16_t)(at + size);
	*off = (uint16_t)at;
	return 0;
}

int pci_ext_cap_add(struct pci_dev *dev, uint16_t id, uint8_t version, uint32_t size, uint16_t *off)
{
	uint32_t at = (dev->ext_free + 3u) & ~3u;
	int r;

	if (size < 4 || size > PCI_CFG_SPACE_EXP_SIZE || at + size > PCI_CFG_SPACE_EXP_SIZE) {
		log_err("pci: %s: no room for extended capability %#x (%u bytes)", dev->name, id,
		        size);
		return -ENOSPC;
	}
	r = pci_cfg_init(dev, at, 4, (uint32_t)id | (uint32_t)(version & 0xf) << 16, 0, 0);
	if (r)
		return r;
	if (dev->ext_last) {
		uint32_t h = pci_cfg_get(dev, dev->ext_last, 4);

		r = pci_cfg_init(dev, dev->ext_last, 4, (h & 0xfffff) | at << 20, 0, 0);
		if (r)
			return r;
	}
	dev->ext_last = (uint16_t)at;
	dev->ext_free = (uint16_t)(at + size);
	*off = (uint16_t)at;
	return 0;
}

uint16_t pci_cap_find(const struct pci_dev *dev, uint8_t id)
{
	uint32_t at = dev->cfg[PCI_CAPABILITY_LIST] & ~3u;

	if (!(pci_cfg_get(dev, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return 0;
	/* At most one capability per dword of the device-specific area: cycles end here. */
	for (unsigned n = 0; n < 48 && at >= PCI_STD_HEADER_SIZEOF; n++) {
		if (dev->cfg[at + PCI_CAP_LIST_ID] == id)
			return (uint16_t)at;
		at = dev->cfg[at + PCI_CAP_LIST_NEXT] & ~3u;
	}
	return 0;
}

uint16_t pci_ext_cap_find(const struct pci_dev *dev, uint16_t id)
{
	uint32_t at = PCI_CFG_SPACE_SIZE;

	for (unsigned n = 0; n < (PCI_CFG_SPACE_EXP_SIZE - PCI_CFG_SPACE_SIZE) / 4; n++) {
		uint32_t h = pci_cfg_get(dev, at, 4);

		if (!h || h == 0xffffffffu)
			return 0;
		if (PCI_EXT_CAP_ID(h) == id)
			return (uint16_t)at;
		at = PCI_EXT_CAP_NEXT(h);
		if (at < PCI_CFG_SPACE_SIZE)
			return 0;
	}
	return 0;
}

int pci_cap_add_pcie(struct pci_dev *dev, uint8_t type, uint16_t *out)
{
	bool rp = type == PCI_EXP_TYPE_ROOT_PORT, link = type != PCI_EXP_TYPE_RC_END;
	uint32_t devcap = PCI_EXP_DEVCAP_RBER, devctl_w = 0x7fff, lnkcap = 0, lnksta = 0;
	uint16_t c;
	int r;

	if (type != PCI_EXP_TYPE_ENDPOINT && type != PCI_EXP_TYPE_RC_END && !rp) {
		log_err("pci: %s: unsupported PCI Express port type %u", dev->name, type);
		return -EINVAL;
	}
	if (!rp) {
		/* FLR is how VMMs and Linux's vfio-pci reset a function: offer it. */
		devcap |= PCI_EXP_DEVCAP_FLR;
		devctl_w |= PCI_EXP_DEVCTL_BCR_FLR;
	}
	if (rp) {
		lnkcap = PCI_EXP_LNKCAP_SLS_16_0GB | 16u << 4 | PCI_EXP_LNKCAP_DLLLARC;
		lnksta = PCI_EXP_LNKSTA_CLS_16_0GB | 16u << 4;
	} else if (link) {
		lnkcap = PCI_EXP_LNKCAP_SLS_2_5GB | 1u << 4;
		lnksta = PCI_EXP_LNKSTA_CLS_2_5GB | PCI_EXP_LNKSTA_NLW_X1;
	}
	if ((r = pci_cap_add(dev, PCI_CAP_ID_EXP, PCI_PCIE_CAP_SIZE, &c)) ||
	    (r = pci_cfg_init(dev, c + PCI_EXP_FLAGS, 2, 2u | (uint32_t)type << 4, 0, 0)) ||
	    (r = pci_cfg_init(dev, c + PCI_EXP_DEVCAP, 4, devcap, 0, 0)) ||
	    /* Max read request 512 bytes, the reset default. */
	    (r = pci_cfg_init(dev, c + PCI_EXP_DEVCTL, 2, 0x2000, devctl_w, 0)) ||
	    (r = pci_cfg_init(dev, c + PCI_EXP_DEVSTA, 2, 0, 0,
	                      PCI_EXP_DEVSTA_CED | PCI_EXP_DEVSTA_NFED | PCI_EXP_DEVSTA_FED |
	                          PCI_EXP_DEVSTA_URD)))
		return r;
	if (link && ((r = pci_cfg_init(dev, c + PCI_EXP_LNKCAP, 4, lnkcap, 0, 0)) ||
	             /* Retrain Link reads 0: training completes at once, so pollers never wait. */
	             (r = pci_cfg_init(dev, c + PCI_EXP_LNKCTL, 2, 0, rp ? 0x0fdb : 0x0fcb, 0)) ||
	             (r = pci_cfg_init(dev, c + PCI_EXP_LNKSTA, 2, lnksta, 0,
	                               rp ? PCI_EXP_LNKSTA_LBMS | PCI_EXP_LNKSTA_LABS : 0)) ||
	             (r = pci_cfg_init(dev, c + PCI_EXP_LNKCAP2, 4, rp ? 0x1e : 0x02, 0, 0)) ||
	             (r = pci_cfg_init(dev, c + PCI_EXP_LNKCTL2, 2, rp ? 4 : 1, 0x0fff, 0))))
		return r;
	if (rp && ((r = pci_cfg_init(dev, c + PCI_EXP_RTCTL, 2, 0, 0x001f, 0)) ||
	           (r = pci_cfg_init(dev, c + PCI_EXP_RTSTA, 4, 0, 0, PCI_EXP_RTSTA_PME)) ||
	           (r = pci_cfg_init(dev, c + PCI_EXP_DEVCAP2, 4, PCI_EXP_DEVCAP2_ARI, 0, 0)) ||
	           (r = pci_cfg_init(dev, c + PCI_EXP_DEVCTL2, 2, 0, PCI_EXP_DEVCTL2_ARI, 0))))
		return r;
	dev->pcie_cap = c;
	if (out)
		*out = c;
	return 0;
}

void pci_pcie_cfg_written(struct pci_dev *dev, uint32_t off, uint32_t len)
{
	uint32_t ctl = dev->pcie_cap + PCI_EXP_DEVCTL;

	if (off > ctl + 1 || off + len <= ctl + 1)
		return;
	if (!(pci_cfg_get(dev, ctl, 2) & PCI_EXP_DEVCTL_BCR_FLR))
		return;
	/* Initiate FLR always reads 0. */
	dev->cfg[ctl + 1] &= (uint8_t) ~(PCI_EXP_DEVCTL_BCR_FLR >> 8);
	pci_dev_reset(dev);
}
