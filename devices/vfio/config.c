/* SPDX-License-Identifier: MIT */
/*
 * The config shadow of an assigned device.  The PCI core emulates what the guest must not
 * drive on the hardware (BARs, ROM BAR, MSI, MSI-X, INTx line and pin, capability-list
 * links); every other byte is read from and written to the device through VFIO's config
 * region.
 */
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

static void mark(struct vfio_pci *vp, uint32_t off, uint32_t len)
{
	for (uint32_t i = off; i < off + len && i < sizeof(vp->emulated); i++)
		vp->emulated[i] = 1;
}

/* The little-endian register [off, off + len) of a config space copy. */
static uint32_t le(const uint8_t *cfg, uint32_t off, uint32_t len)
{
	return (uint32_t)le_get(cfg + off, len);
}

static enum pci_cfg_result vfio_cfg_read(struct pci_dev *pdev, uint32_t off, uint32_t len,
                                         uint32_t *val)
{
	struct vfio_pci *vp = pdev->priv;
	uint8_t b[4] = { 0 };
	bool any = false, all = true;

	for (uint32_t i = 0; i < len; i++) {
		any |= vp->emulated[off + i];
		all &= vp->emulated[off + i];
	}
	pthread_mutex_lock(&vp->stats_lock);
	vp->stats.cfg_reads++;
	pthread_mutex_unlock(&vp->stats_lock);
	if (all)
		return PCI_CFG_EMULATE;
	if (off + len > vp->cfg_size ||
	    vfio_region_read(&vp->dev, VFIO_REGION_CONFIG, off, b, len)) {
		*val = 0xffffffffu >> (32 - 8 * len);
		return PCI_CFG_DONE;
	}
	/* A mixed access takes the emulated bytes from the core's copy. */
	if (any) {
		for (uint32_t i = 0; i < len; i++) {
			if (vp->emulated[off + i])
				b[i] = (uint8_t)pci_cfg_get(pdev, off + i, 1);
		}
	}
	*val = le(b, 0, len);
	return PCI_CFG_DONE;
}

/* Whether byte o of a guest write goes to the device (proxied, or emulated and forwarded). */
static bool vfio_cfg_to_device(const struct vfio_pci *vp, uint32_t o)
{
	return (!vp->emulated[o] || vp->forwarded[o]) && o < vp->cfg_size;
}

static enum pci_cfg_result vfio_cfg_write(struct pci_dev *pdev, uint32_t off, uint32_t len,
                                          uint32_t val)
{
	struct vfio_pci *vp = pdev->priv;
	bool any = false, flr;
	uint8_t b[4];

	memcpy(b, &val, 4);
	pthread_mutex_lock(&vp->stats_lock);
	vp->stats.cfg_writes++;
	pthread_mutex_unlock(&vp->stats_lock);
	flr = vfio_cfg_take_flr(vp, off, len, b);
	vfio_cfg_wait_dma(vp, off, len, b);
	vfio_cfg_before_write(vp, off, len, b);
	/*
	 * What goes to the device goes at the access's width, in one write per run of device
	 * bytes: registers with side effects (vendor capabilities, which vfio-pci passes raw)
	 * must not see a dword as four byte writes.
	 */
	for (uint32_t i = 0; i < len;) {
		uint32_t n = 0;

		any |= vp->emulated[off + i];
		while (i + n < len && vfio_cfg_to_device(vp, off + i + n))
			any |= vp->emulated[off + i + n++];
		if (n && vfio_region_write(&vp->dev, VFIO_REGION_CONFIG, off + i, &b[i], n))
			pci_guest_warn(pdev->root, "%s: config write at %#x failed", vp->dev.name,
			               off + i);
		i += n ? n : 1;
	}
	vfio_cfg_after_write(vp, off, len, b);
	if (flr) {
		pci_dev_flr(pdev);
		return PCI_CFG_DONE;
	}
	return any ? PCI_CFG_EMULATE : PCI_CFG_DONE;
}

/*
 * Unlink extended capabilities a guest must not drive: SR-IOV, resizable BAR, and ARI, whose
 * Next Function Number would send the guest to functions it does not have.
 */
static int vfio_hide_ext_caps(struct vfio_pci *vp, uint8_t *cfg)
{
	uint32_t prev = 0, off = PCI_CFG_SPACE_SIZE;
	unsigned guard = 0;
	int r;

	if (vp->cfg_size < PCI_CFG_SPACE_EXP_SIZE)
		return 0;
	while (off >= PCI_CFG_SPACE_SIZE && off + 4 <= vp->cfg_size && guard++ < 256) {
		uint32_t hdr = le(cfg, off, 4);
		uint32_t next = PCI_EXT_CAP_NEXT(hdr);
		uint16_t id = PCI_EXT_CAP_ID(hdr);

		mark(vp, off, 4);
		if (hdr == 0 || hdr == 0xffffffffu)
			break;
		/* 0x24 is the VF Resizable BAR capability (not in older pci_regs.h). */
		if (id == PCI_EXT_CAP_ID_SRIOV || id == PCI_EXT_CAP_ID_REBAR || id == 0x24 ||
		    id == PCI_EXT_CAP_ID_ARI) {
			log_info("%s: hiding extended capability %#x at %#x from the guest",
			         vp->dev.name, id, off);
			if (prev) {
				uint32_t ph = le(cfg, prev, 4);

				ph = (ph & 0x000fffffu) | (next << 20);
				if ((r = pci_cfg_init(vp->pdev, prev, 4, ph, 0, 0)))
					return r;
				memcpy(cfg + prev, &ph, 4);
			} else {
				/* The list must start at 0x100: leave a null capability there. */
				uint32_t nh = next << 20;

				if ((r = pci_cfg_init(vp->pdev, off, 4, nh, 0, 0)))
					return r;
				memcpy(cfg + off, &nh, 4);
				prev = off;
			}
		} else {
			prev = off;
		}
		if (next <= off)
			break;
		off = next;
	}
	return 0;
}

/*
 * Mark the standard list's link bytes as emulated; find MSI, MSI-X and the capabilities hvmm
 * acts on (power management, PCI Express, Advanced Features).
 */
static void vfio_scan_caps(struct vfio_pci *vp, const uint8_t *cfg, uint16_t *msi, uint16_t *msix)
{
	uint32_t off = cfg[PCI_CAPABILITY_LIST] & ~3u;
	unsigned guard = 0;

	*msi = *msix = 0;
	mark(vp, PCI_CAPABILITY_LIST, 1);
	if (!(le(cfg, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST))
		return;
	while (off >= 0x40 && off + 2 <= PCI_CFG_SPACE_SIZE && guard++ < 48) {
		mark(vp, off, 2);
		if (cfg[off] == PCI_CAP_ID_MSI)
			*msi = (uint16_t)off;
		else if (cfg[off] == PCI_CAP_ID_MSIX)
			*msix = (uint16_t)off;
		else if (cfg[off] == PCI_CAP_ID_PM && off + PCI_PM_SIZEOF <= PCI_CFG_SPACE_SIZE)
			vp->pm_cap = (uint16_t)off;
		else if (cfg[off] == PCI_CAP_ID_EXP &&
		         off + PCI_EXP_LNKSTA + 2 <= PCI_CFG_SPACE_SIZE)
			vp->pcie_cap = (uint16_t)off;
		else if (cfg[off] == PCI_CAP_ID_AF && off + PCI_CAP_AF_SIZEOF <= PCI_CFG_SPACE_SIZE)
			vp->af_cap = (uint16_t)off;
		off = cfg[off + 1] & ~3u;
	}
}

/*
 * A Root Complex Integrated Endpoint sits on the host's root bus; here it is behind a root
 * port, where it has to be an Endpoint with a link: the type and the link registers are
 * emulated (2.5 GT/s x1, the link's training done), as QEMU does.
 */
static int vfio_pcie_as_endpoint(struct vfio_pci *vp, const uint8_t *cfg)
{
	uint32_t c = vp->pcie_cap, flags = le(cfg, c + PCI_EXP_FLAGS, 2);
	int r;

	if (!c || ((flags & PCI_EXP_FLAGS_TYPE) >> 4) != PCI_EXP_TYPE_RC_END)
		return 0;
	flags = (flags & ~(uint32_t)PCI_EXP_FLAGS_TYPE) | PCI_EXP_TYPE_ENDPOINT << 4;
	if ((r = pci_cfg_init(vp->pdev, c + PCI_EXP_FLAGS, 2, flags, 0, 0)) ||
	    (r = pci_cfg_init(vp->pdev, c + PCI_EXP_LNKCAP, 4, PCI_EXP_LNKCAP_SLS_2_5GB | 1u << 4,
	                      0, 0)) ||
	    (r = pci_cfg_init(vp->pdev, c + PCI_EXP_LNKCTL, 2, 0, 0x0fcb, 0)) ||
	    (r = pci_cfg_init(vp->pdev, c + PCI_EXP_LNKSTA, 2,
	                      PCI_EXP_LNKSTA_CLS_2_5GB | PCI_EXP_LNKSTA_NLW_X1, 0, 0)))
		return r;
	mark(vp, c + PCI_EXP_FLAGS, 2);
	mark(vp, c + PCI_EXP_LNKCAP, 8);
	log_info("%s: a root complex integrated endpoint on the host; the guest sees an endpoint "
	         "behind its root port",
	         vp->dev.name);
	return 0;
}

static int vfio_setup_bars(struct vfio_pci *vp, const uint8_t *cfg)
{
	int r;

	for (unsigned i = 0; i < 6; i++) {
		uint32_t raw = le(cfg, PCI_BASE_ADDRESS_0 + 4 * i, 4);
		uint64_t size = vp->dev.regions[i].size;
		enum pci_bar_kind kind;

		mark(vp, PCI_BASE_ADDRESS_0 + 4 * i, 4);
		if (!size)
			continue;
		if (raw & PCI_BASE_ADDRESS_SPACE_IO)
			kind = PCI_BAR_IO;
		else if ((raw & PCI_BASE_ADDRESS_MEM_TYPE_MASK) == PCI_BASE_ADDRESS_MEM_TYPE_64)
			kind = PCI_BAR_MEM64;
		else
			kind = PCI_BAR_MEM32;
		/* A BAR the PCI core cannot emulate is logged there, with the device's name. */
		r = pci_bar_init(vp->pdev, i, kind, size,
		                 kind != PCI_BAR_IO && (raw & PCI_BASE_ADDRESS_MEM_PREFETCH));
		if (r)
			return r;
		if (kind == PCI_BAR_MEM64) {
			mark(vp, PCI_BASE_ADDRESS_0 + 4 * (i + 1), 4);
			i++;
		}
	}
	mark(vp, PCI_ROM_ADDRESS, 4);
	if (vp->dev.regions[VFIO_REGION_ROM].size >= 2048 &&
	    (r = pci_rom_init(vp->pdev, vp->dev.regions[VFIO_REGION_ROM].size)))
		return r;
	return 0;
}

static int vfio_setup_msix(struct vfio_pci *vp, const uint8_t *cfg, uint16_t cap)
{
	uint16_t ctrl = (uint16_t)le(cfg, cap + PCI_MSIX_FLAGS, 2);
	uint32_t table = le(cfg, cap + PCI_MSIX_TABLE, 4), pba = le(cfg, cap + PCI_MSIX_PBA, 4);
	unsigned nr = (ctrl & PCI_MSIX_FLAGS_QSIZE) + 1;
	int r;

	mark(vp, cap, 12);
	/* The PCI core keeps the layout; bars.c asks it which pages to leave trapped. */
	r = pci_msix_init(vp->pdev, cap, nr, table & PCI_MSIX_TABLE_BIR,
	                  table & PCI_MSIX_TABLE_OFFSET, pba & PCI_MSIX_PBA_BIR,
	                  pba & PCI_MSIX_PBA_OFFSET, &vp->msix);
	if (r || (r = vfio_intr_init(vp, &vp->msix_irqs, VFIO_IRQ_MSIX, nr)))
		return r; /* the PCI core or vfio_intr_init() logged why, naming the device */
	pci_vecs_on_change(vp->msix, vfio_intr_msix_changed, vp);
	return 0;
}

static int vfio_setup_msi(struct vfio_pci *vp, const uint8_t *cfg, uint16_t cap)
{
	uint16_t ctrl = (uint16_t)le(cfg, cap + PCI_MSI_FLAGS, 2);
	unsigned flags = 0, nr = 1u << ((ctrl & PCI_MSI_FLAGS_QMASK) >> 1);
	unsigned size = 10;
	int r;

	if (ctrl & PCI_MSI_FLAGS_64BIT) {
		flags |= PCI_MSI_64BIT;
		size += 4;
	}
	if (ctrl & PCI_MSI_FLAGS_MASKBIT) {
		flags |= PCI_MSI_MASKABLE;
		size += 10;
	}
	mark(vp, cap, size);
	if (nr > 32)
		nr = 32;
	vp->msi_cap = cap;
	r = pci_msi_init(vp->pdev, cap, nr, flags, &vp->msi);
	if (r || (r = vfio_intr_init(vp, &vp->msi_irqs, VFIO_IRQ_MSI, nr)))
		return r; /* the PCI core or vfio_intr_init() logged why, naming the device */
	pci_vecs_on_change(vp->msi, vfio_intr_msi_changed, vp);
	return 0;
}

static const struct pci_dev_ops vfio_pci_ops = {
	.cfg_read = vfio_cfg_read,
	.cfg_write = vfio_cfg_write,
	.bar_map = vfio_bar_map,
	.bar_unmap = vfio_bar_unmap,
	.bar_read = vfio_bar_read,
	.bar_write = vfio_bar_write,
	.bar_trapped = vfio_bar_trapped,
	.reset = vfio_pci_guest_reset,
	.destroy = vfio_pci_release,
};

int vfio_pci_create(struct vm *vm, struct pci_root *root, struct vfio_pci *vp)
{
	uint8_t *cfg;
	struct pci_dev_info info;
	uint16_t msi, msix;
	int r;

	vp->err_efd = vp->req_efd = vp->intx.efd = -1;
	cfg = calloc(1, PCI_CFG_SPACE_EXP_SIZE);
	if (!cfg)
		return -ENOMEM;
	vp->vm = vm;
	pthread_mutex_init(&vp->stats_lock, NULL);
	pthread_mutex_init(&vp->intr_lock, NULL);
	pthread_mutex_init(&vp->rom_lock, NULL);
	vp->cfg_size = (uint32_t)vp->dev.regions[VFIO_REGION_CONFIG].size;
	if (vp->cfg_size > PCI_CFG_SPACE_EXP_SIZE)
		vp->cfg_size = PCI_CFG_SPACE_EXP_SIZE;
	if (vp->cfg_size < PCI_CFG_SPACE_SIZE ||
	    (r = vfio_region_read(&vp->dev, VFIO_REGION_CONFIG, 0, cfg, vp->cfg_size))) {
		log_err("%s: cannot read its config space (%u bytes)", vp->dev.name, vp->cfg_size);
		r = -EIO;
		goto out;
	}
	if ((cfg[PCI_HEADER_TYPE] & 0x7f) != PCI_HEADER_TYPE_NORMAL) {
		log_err("%s: header type %#x: only endpoints (type 0) can be assigned",
		        vp->dev.name, cfg[PCI_HEADER_TYPE]);
		r = -ENOTSUP;
		goto out;
	}
	info = (struct pci_dev_info){
		.name = vp->dev.name,
		.vendor = (uint16_t)le(cfg, PCI_VENDOR_ID, 2),
		.device = (uint16_t)le(cfg, PCI_DEVICE_ID, 2),
		.subsys_vendor = (uint16_t)le(cfg, PCI_SUBSYSTEM_VENDOR_ID, 2),
		.subsys = (uint16_t)le(cfg, PCI_SUBSYSTEM_ID, 2),
		.class_code = le(cfg, PCI_CLASS_REVISION, 4) >> 8,
		.revision = cfg[PCI_REVISION_ID],
		.ops = &vfio_pci_ops,
		.priv = vp,
	};
	if ((r = pci_dev_create(root, &info, &vp->pdev)))
		goto out;
	/* The capability bodies the core emulates start from the device's own bytes. */
	for (uint32_t off = 0x40; off < vp->cfg_size; off += 4) {
		if ((r = pci_cfg_init(vp->pdev, off, 4, le(cfg, off, 4), 0, 0)))
			goto out;
	}
	r = pci_cfg_init(vp->pdev, PCI_CAPABILITY_LIST, 1, cfg[PCI_CAPABILITY_LIST], 0, 0);
	if (r)
		goto out;
	/* COMMAND: the core decodes BARs from its copy; the device sees bus master and INTx. */
	mark(vp, PCI_COMMAND, 2);
	for (uint32_t i = PCI_COMMAND; i < PCI_COMMAND + 2; i++)
		vp->forwarded[i] = 1;
	/*
	 * INTx: the pin is the device's own, as vfio-pci shows it (0 when the host has no line
	 * to give); the line register is the guest's (firmware writes the GSI there).
	 */
	mark(vp, PCI_INTERRUPT_LINE, 2);
	vfio_intx_init(vp, cfg[PCI_INTERRUPT_PIN]);
	if ((r = pci_cfg_init(vp->pdev, PCI_INTERRUPT_PIN, 1, vp->intx.pin, 0, 0)))
		goto out;
	/*
	 * The multi-function bit is the core's: set on function 0 when functions of one device
	 * are assigned together behind one port, clear for a function presented alone.
	 */
	mark(vp, PCI_HEADER_TYPE, 1);
	vfio_scan_caps(vp, cfg, &msi, &msix);
	if ((r = vfio_hide_ext_caps(vp, cfg)) || (r = vfio_setup_bars(vp, cfg)) ||
	    (r = vfio_pcie_as_endpoint(vp, cfg)))
		goto out;
	if (msix && (r = vfio_setup_msix(vp, cfg, msix)))
		goto out;
	if (msi && (r = vfio_setup_msi(vp, cfg, msi)))
		goto out;
	if (!msi && !msix && !vp->intx.pin)
		log_warn(
		    "%s: the device has neither MSI, MSI-X nor an INTx line the host lets hvmm "
		    "use: the guest driver will get no interrupts",
		    vp->dev.name);
out:
	free(cfg);
	return r;
}
