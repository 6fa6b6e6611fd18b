/* SPDX-License-Identifier: MIT */
/*
 * MSI and MSI-X of an assigned device (INTx: intx.c).  The PCI core gives every live MSI/MSI-X
 * vector an eventfd bound to its GSI with an irqfd; here that eventfd is handed to the host
 * vector with VFIO_DEVICE_SET_IRQS, so the device's interrupt reaches the guest without
 * passing through hvmm.
 *
 * The host's capability follows the guest's: when the guest enables MSI or MSI-X, so does the
 * host, at once, as on hardware.  A device may decide, at a moment hvmm does not see, which
 * vectors it will ever signal (QEMU's NVMe marks a vector used when a queue is created, and
 * only if MSI-X is enabled then); enabling the host side only at the first unmask loses those.
 * Vectors are then wired as they get an eventfd.  How many the host enables depends on what
 * the kernel allows while the index is on:
 *  - MSI-X without NORESIZE (vfio-pci since Linux 6.5, with dynamic MSI-X): one vector at the
 *    enable, the others added one by one, never disabling the index;
 *  - otherwise (NORESIZE): the whole table, or MSI's whole block, at once.  Growing the block
 *    later would need a disable and re-enable, and an interrupt of a live vector in that
 *    window would be lost (MSI-X off has no pending bits).
 */
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

int vfio_intr_init(struct vfio_pci *vp, struct vfio_irqs *s, unsigned index, uint32_t nr)
{
	const struct vfio_irq *info = &vp->dev.irqs[index];

	memset(s, 0, sizeof(*s));
	s->index = index;
	s->nr = nr;
	s->dynamic = index == VFIO_IRQ_MSIX && !(info->flags & VFIO_IRQ_INFO_NORESIZE);
	s->enabled = calloc(nr, sizeof(*s->enabled));
	s->want = malloc(nr * sizeof(*s->want));
	s->fds = malloc(nr * sizeof(*s->fds));
	if (!s->enabled || !s->want || !s->fds) {
		vfio_intr_free(s);
		log_err("%s: out of memory for %u interrupt vectors", vp->dev.name, nr);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < nr; i++)
		s->want[i] = s->fds[i] = -1;
	return 0;
}

void vfio_intr_free(struct vfio_irqs *s)
{
	free(s->enabled);
	free(s->want);
	free(s->fds);
	s->enabled = NULL;
	s->want = s->fds = NULL;
	s->nr = 0;
}

static const char *vfio_irqs_kind(const struct vfio_irqs *s)
{
	return s->index == VFIO_IRQ_MSIX ? "MSI-X" : "MSI";
}

/* Switch the host's index off; vfio_device_set_irqs() logs a failure, and nothing else helps. */
static void vfio_irqs_off(struct vfio_pci *vp, struct vfio_irqs *s)
{
	if (s->host_count && vfio_device_set_irqs(&vp->dev, s->index, 0, 0, NULL, NULL))
		log_debug("%s: %s stays as the host has it", vp->dev.name, vfio_irqs_kind(s));
	s->host_count = s->limit = 0;
	for (uint32_t i = 0; i < s->nr; i++)
		s->fds[i] = -1;
}

/* How many vectors the host enables with the capability (see the top of the file). */
static uint32_t vfio_irqs_block(struct vfio_pci *vp, const struct vfio_irqs *s)
{
	uint32_t n;

	if (s->index == VFIO_IRQ_MSIX)
		return s->dynamic ? 1 : s->nr;
	/* MSI: the block the guest enabled, 2^MME vectors (the core keeps MME). */
	n = 1u << ((pci_cfg_get(vp->pdev, vp->msi_cap + PCI_MSI_FLAGS, 2) & PCI_MSI_FLAGS_QSIZE) >>
	           4);
	return n < s->nr ? n : s->nr;
}

/*
 * Enable the host's index with the vectors wired so far.  A host with fewer vectors than the
 * block (multiple MSI without interrupt remapping, a host out of vectors) answers how many it
 * has: take those, as QEMU does, and say which vectors get no interrupts.
 */
static void vfio_irqs_on(struct vfio_pci *vp, struct vfio_irqs *s, const struct vfio_irqs *other)
{
	uint32_t count = vfio_irqs_block(vp, s), avail = 0;
	int r;

	if (s->refused)
		return;
	if (other->host_count) {
		/* vfio-pci enables one of INTx, MSI and MSI-X at a time, like the PCI spec. */
		pci_guest_warn(
		    vp->pdev->root,
		    "%s: the guest enabled %s while %s is on; %s gets no interrupts until "
		    "%s is off",
		    vp->dev.name, vfio_irqs_kind(s), vfio_irqs_kind(other), vfio_irqs_kind(s),
		    vfio_irqs_kind(other));
		s->refused = true;
		return;
	}
	/* INTx steps aside; it comes back when neither MSI nor MSI-X is on. */
	vfio_intx_off(vp);
	r = vfio_device_set_irqs(&vp->dev, s->index, 0, count, s->want, &avail);
	if (r == -ENOSPC && avail && avail < count) {
		log_warn("%s: the host has %u of the %u %s vectors the guest enabled: vectors %u "
		         "and up get no interrupts",
		         vp->dev.name, avail, count, vfio_irqs_kind(s), avail);
		count = avail;
		r = vfio_device_set_irqs(&vp->dev, s->index, 0, count, s->want, NULL);
	}
	if (r) {
		/* Logged by vfio_device_set_irqs(); the guest's next enable tries again. */
		s->refused = true;
		vfio_intx_on(vp);
		return;
	}
	s->host_count = count;
	s->limit = s->dynamic ? s->nr : count;
	memcpy(s->fds, s->want, count * sizeof(*s->fds));
}

/* Give vector i its eventfd on the host, if the host has that vector. */
static void vfio_irqs_wire(struct vfio_pci *vp, struct vfio_irqs *s, uint32_t i)
{
	if (s->fds[i] == s->want[i] || i >= s->limit)
		return;
	if (vfio_device_set_irqs(&vp->dev, s->index, i, 1, &s->want[i], NULL))
		return; /* logged; the vector stays as it was */
	s->fds[i] = s->want[i];
	if (i >= s->host_count)
		s->host_count = i + 1;
}

static void vfio_vec_changed(struct vfio_pci *vp, struct vfio_irqs *s, struct vfio_irqs *other,
                             const struct pci_vec_state *v)
{
	uint32_t i = v->index;
	bool routed = false, was;

	if (i >= s->nr)
		return;
	pthread_mutex_lock(&vp->intr_lock);
	was = s->fds[i] == v->efd;
	if (v->enabled != s->enabled[i]) {
		s->enabled[i] = v->enabled;
		s->nr_enabled += v->enabled ? 1 : (uint32_t)-1;
	}
	/* A masked vector keeps its host wiring: its eventfd then feeds the pending bit. */
	s->want[i] = v->enabled ? v->efd : -1;
	if (!s->nr_enabled) {
		bool was_on = s->host_count;

		vfio_irqs_off(vp, s);
		s->refused = false;
		/* The other capability waited for this one to go: its turn now. */
		if (was_on && other->nr_enabled && !other->host_count) {
			other->refused = false;
			vfio_irqs_on(vp, other, s);
			for (uint32_t k = 0; other->host_count && k < other->nr; k++)
				vfio_irqs_wire(vp, other, k);
		}
		/* Neither MSI nor MSI-X: the legacy line again, as the PCI spec has it. */
		if (!other->host_count)
			vfio_intx_on(vp);
	} else {
		/* MSI's block is fixed while enabled: a new MME needs it enabled again. */
		if (s->index == VFIO_IRQ_MSI && s->host_count && i >= s->host_count && v->enabled)
			vfio_irqs_off(vp, s);
		if (!s->host_count)
			vfio_irqs_on(vp, s, other);
		if (s->host_count) {
			vfio_irqs_wire(vp, s, i);
			routed = v->live && v->efd >= 0 && !was && s->fds[i] == v->efd;
		}
	}
	pthread_mutex_unlock(&vp->intr_lock);
	pthread_mutex_lock(&vp->stats_lock);
	vp->stats.msi_updates++;
	if (routed)
		vp->stats.vectors_routed++;
	pthread_mutex_unlock(&vp->stats_lock);
}

void vfio_intr_msix_changed(void *opaque, const struct pci_vec_state *v)
{
	struct vfio_pci *vp = opaque;

	vfio_vec_changed(vp, &vp->msix_irqs, &vp->msi_irqs, v);
}

void vfio_intr_msi_changed(void *opaque, const struct pci_vec_state *v)
{
	struct vfio_pci *vp = opaque;

	vfio_vec_changed(vp, &vp->msi_irqs, &vp->msix_irqs, v);
}

static void vfio_irqs_forget(struct vfio_irqs *s)
{
	s->nr_enabled = 0;
	s->refused = false;
	for (uint32_t i = 0; i < s->nr; i++) {
		s->enabled[i] = false;
		s->want[i] = -1;
	}
}

void vfio_intr_disable(struct vfio_pci *vp)
{
	pthread_mutex_lock(&vp->intr_lock);
	vfio_intx_off(vp);
	vfio_irqs_off(vp, &vp->msix_irqs);
	vfio_irqs_off(vp, &vp->msi_irqs);
	vfio_irqs_forget(&vp->msix_irqs);
	vfio_irqs_forget(&vp->msi_irqs);
	pthread_mutex_unlock(&vp->intr_lock);
}
