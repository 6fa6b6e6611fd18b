/* SPDX-License-Identifier: MIT */
/*
 * Power states and resets of an assigned device: what some guest config writes do besides
 * their bytes, and the resets hvmm makes itself.
 *
 * - Memory decode off or a low-power state: vfio-pci revokes its BAR mmaps, so the guest's
 *   direct mappings go first and the write reaches the device after; the way back is the
 *   other way round (the PCI core maps BARs again after COMMAND, reset.c after PMCSR).
 * - Function Level Reset (PCI Express or AF): hvmm's PCI core resets its copy of the function
 *   (BARs, MSI/MSI-X, COMMAND), then the device is reset through VFIO, not by the kernel
 *   behind the core's back.
 * - Every reset is preceded by a quiesce: D0, and I/O, memory, bus mastering and INTx-disable
 *   cleared.  The kernel saves config space before a reset and restores it after, so a device
 *   reset while decoding comes back decoding and bus mastering while the guest's copy of
 *   COMMAND reads 0.
 */
#include <linux/pci_regs.h>
#include <string.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

static bool vfio_touches(uint32_t off, uint32_t len, uint32_t reg)
{
	return reg >= off && reg < off + len;
}

/* The byte at config offset reg of a write [off, off + len) of bytes b. */
static uint8_t vfio_byte(uint32_t off, const uint8_t *b, uint32_t reg)
{
	return b[reg - off];
}

bool vfio_cfg_take_flr(struct vfio_pci *vp, uint32_t off, uint32_t len, uint8_t *b)
{
	uint32_t ctl_hi = vp->pcie_cap + PCI_EXP_DEVCTL + 1, af_ctl = vp->af_cap + PCI_AF_CTRL;
	bool flr = false;

	if (vp->pcie_cap && vfio_touches(off, len, ctl_hi) &&
	    (vfio_byte(off, b, ctl_hi) & (PCI_EXP_DEVCTL_BCR_FLR >> 8))) {
		b[ctl_hi - off] &= (uint8_t) ~(PCI_EXP_DEVCTL_BCR_FLR >> 8);
		flr = pci_cfg_get(vp->pdev, vp->pcie_cap + PCI_EXP_DEVCAP, 4) & PCI_EXP_DEVCAP_FLR;
	}
	if (vp->af_cap && vfio_touches(off, len, af_ctl) &&
	    (vfio_byte(off, b, af_ctl) & PCI_AF_CTRL_FLR)) {
		uint8_t cap = (uint8_t)pci_cfg_get(vp->pdev, vp->af_cap + PCI_AF_CAP, 1);

		b[af_ctl - off] &= (uint8_t)~PCI_AF_CTRL_FLR;
		flr |= (cap & PCI_AF_CAP_FLR) && (cap & PCI_AF_CAP_TP);
	}
	return flr;
}

void vfio_cfg_wait_dma(struct vfio_pci *vp, uint32_t off, uint32_t len, uint8_t *b)
{
	int r;

	if (!vfio_touches(off, len, PCI_COMMAND) ||
	    !(vfio_byte(off, b, PCI_COMMAND) & PCI_COMMAND_MASTER))
		return;
	r = vfio_container_map_wait(vp->dev.c);
	if (!r)
		return;
	b[PCI_COMMAND - off] &= (uint8_t)~PCI_COMMAND_MASTER;
	/* -ECANCELED: the VM stops (or lost its last device) while RAM was being mapped. */
	if (r != -ECANCELED)
		pci_guest_warn(vp->pdev->root,
		               "%s: bus mastering left off: guest RAM is not mapped for DMA",
		               vp->dev.name);
}

/* The power state a write of PMCSR's low byte asks for, or -1 if it does not write it. */
static int vfio_cfg_pm_target(struct vfio_pci *vp, uint32_t off, uint32_t len, const uint8_t *b)
{
	uint32_t reg = vp->pm_cap + PCI_PM_CTRL;

	if (!vp->pm_cap || !vfio_touches(off, len, reg))
		return -1;
	return vfio_byte(off, b, reg) & PCI_PM_CTRL_STATE_MASK;
}

void vfio_cfg_before_write(struct vfio_pci *vp, uint32_t off, uint32_t len, const uint8_t *b)
{
	int target = vfio_cfg_pm_target(vp, off, len, b);
	uint16_t cmd = (uint16_t)pci_cfg_get(vp->pdev, PCI_COMMAND, 2);

	if (target > 0 && !vp->pm_state) {
		vfio_bars_unmap_direct(vp);
		__atomic_store_n(&vp->pm_state, (uint8_t)target, __ATOMIC_RELAXED);
	}
	if (vfio_touches(off, len, PCI_COMMAND) && (cmd & PCI_COMMAND_MEMORY) &&
	    !(vfio_byte(off, b, PCI_COMMAND) & PCI_COMMAND_MEMORY))
		vfio_bars_unmap_direct(vp);
}

void vfio_cfg_after_write(struct vfio_pci *vp, uint32_t off, uint32_t len, const uint8_t *b)
{
	int target = vfio_cfg_pm_target(vp, off, len, b);

	if (target < 0)
		return;
	if (!target && vp->pm_state) {
		__atomic_store_n(&vp->pm_state, 0, __ATOMIC_RELAXED);
		vfio_bars_map_direct(vp);
	} else if (target) {
		__atomic_store_n(&vp->pm_state, (uint8_t)target, __ATOMIC_RELAXED);
	}
}

/* Stop the device as the reset will find it: D0, no decoding, no DMA, INTx-disable clear. */
static void vfio_pci_quiesce(struct vfio_pci *vp)
{
	uint16_t cmd, pmcsr;

	vfio_intr_disable(vp);
	if (vp->pm_cap &&
	    !vfio_region_read(&vp->dev, VFIO_REGION_CONFIG, vp->pm_cap + PCI_PM_CTRL, &pmcsr, 2) &&
	    (pmcsr & PCI_PM_CTRL_STATE_MASK)) {
		pmcsr &= (uint16_t)~PCI_PM_CTRL_STATE_MASK;
		if (vfio_region_write(&vp->dev, VFIO_REGION_CONFIG, vp->pm_cap + PCI_PM_CTRL,
		                      &pmcsr, 2))
			log_warn("%s: cannot bring the device to D0 before its reset",
			         vp->dev.name);
	}
	__atomic_store_n(&vp->pm_state, 0, __ATOMIC_RELAXED);
	if (vfio_region_read(&vp->dev, VFIO_REGION_CONFIG, PCI_COMMAND, &cmd, 2)) {
		log_warn("%s: cannot read COMMAND to stop the device before its reset",
		         vp->dev.name);
		return;
	}
	cmd &= (uint16_t) ~(PCI_COMMAND_IO | PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
	                    PCI_COMMAND_INTX_DISABLE);
	if (vfio_region_write(&vp->dev, VFIO_REGION_CONFIG, PCI_COMMAND, &cmd, 2))
		log_warn("%s: cannot clear COMMAND to stop the device before its reset",
		         vp->dev.name);
}

int vfio_pci_reset(struct vfio_pci *vp)
{
	vfio_pci_quiesce(vp);
	return vfio_device_reset(&vp->dev);
}

void vfio_pci_guest_reset(struct pci_dev *pdev)
{
	struct vfio_pci *vp = pdev->priv;

	/* The core has reset its copy (BARs unmapped, vectors off); now the device. */
	if (vfio_pci_reset(vp))
		log_debug("%s: the guest's reset left the device as it was", vp->dev.name);
	/* Out of reset MSI and MSI-X are off: the legacy line is the device's interrupt. */
	pthread_mutex_lock(&vp->intr_lock);
	vfio_intx_on(vp);
	pthread_mutex_unlock(&vp->intr_lock);
}
