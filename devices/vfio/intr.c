/* SPDX-License-Identifier: MIT */
/*
 * Interrupts of an assigned device.  The PCI core gives every live MSI/MSI-X vector an
 * eventfd bound to its GSI with an irqfd; here that eventfd is handed to the host vector with
 * VFIO_DEVICE_SET_IRQS, so the device's interrupt reaches the guest without passing through
 * hvmm.  Vectors are wired lazily, when the guest first unmasks them: enabling every vector a
 * device offers would use up host vectors for nothing.
 */
#include <linux/vfio.h>
#include <string.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

struct vfio_vecset {
	unsigned index; /* VFIO_IRQ_MSI or VFIO_IRQ_MSIX */
	int *fds;
	uint32_t *host_count;
	uint32_t *nr_enabled;
	bool *enabled;
	uint32_t max;
};

static struct vfio_vecset vfio_set_of(struct vfio_pci *vp, bool msix)
{
	if (msix)
		return (struct vfio_vecset){ VFIO_IRQ_MSIX,        vp->msix_fds,
			                     &vp->msix_host_count, &vp->msix_nr_enabled,
			                     vp->msix_enabled,     ARRAY_SIZE(vp->msix_fds) };
	return (
	    struct vfio_vecset){ VFIO_IRQ_MSI,        vp->msi_fds,     &vp->msi_host_count,
		                 &vp->msi_nr_enabled, vp->msi_enabled, ARRAY_SIZE(vp->msi_fds) };
}

/* Switch the host's index off; vfio_device_set_irqs() logs a failure, and nothing else helps. */
static void vfio_index_off(struct vfio_pci *vp, unsigned index)
{
	if (vfio_device_set_irqs(&vp->dev, index, 0, 0, NULL))
		return;
}

static void vfio_set_off(struct vfio_pci *vp, struct vfio_vecset *s)
{
	if (*s->host_count)
		vfio_index_off(vp, s->index);
	*s->host_count = 0;
	for (uint32_t i = 0; i < s->max; i++)
		s->fds[i] = -1;
}

/* Wire vector i to eventfd `fd` on the host; intr_lock held. */
static void vfio_wire(struct vfio_pci *vp, struct vfio_vecset *s, uint32_t i, int fd)
{
	uint32_t count, old = *s->host_count;

	s->fds[i] = fd;
	if (i < *s->host_count) {
		if (vfio_device_set_irqs(&vp->dev, s->index, i, 1, &fd))
			s->fds[i] = -1;
		return;
	}
	/*
	 * Growing the block: the kernel (NORESIZE, as in Linux 6.1) only takes a larger count
	 * from a disabled state, so switch the index off and on with every wired vector.
	 */
	count = i + 1;
	if (*s->host_count)
		vfio_index_off(vp, s->index);
	if (vfio_device_set_irqs(&vp->dev, s->index, 0, count, s->fds)) {
		/*
		 * The host refused the larger block (out of vectors; multiple MSI without
		 * interrupt remapping): the vectors already wired must keep working, so go back
		 * to the block as it was.
		 */
		s->fds[i] = -1;
		if (!old || vfio_device_set_irqs(&vp->dev, s->index, 0, old, s->fds)) {
			for (uint32_t k = 0; k < s->max; k++)
				s->fds[k] = -1;
			*s->host_count = 0;
		}
		return;
	}
	*s->host_count = count;
}

static void vfio_vec_changed(struct vfio_pci *vp, bool msix, const struct pci_vec_state *v)
{
	struct vfio_vecset s = vfio_set_of(vp, msix);
	uint32_t i = v->index;
	bool routed = false;

	if (i >= s.max)
		return;
	pthread_mutex_lock(&vp->intr_lock);
	if (v->enabled != s.enabled[i]) {
		s.enabled[i] = v->enabled;
		*s.nr_enabled += v->enabled ? 1 : (uint32_t)-1;
	}
	if (v->live && v->efd >= 0 && s.fds[i] != v->efd) {
		vfio_wire(vp, &s, i, v->efd);
		routed = s.fds[i] == v->efd;
	}
	/* The guest turned the capability off: so does the host. */
	if (!*s.nr_enabled && *s.host_count)
		vfio_set_off(vp, &s);
	pthread_mutex_unlock(&vp->intr_lock);
	pthread_mutex_lock(&vp->stats_lock);
	vp->stats.msi_updates++;
	if (routed)
		vp->stats.vectors_routed++;
	pthread_mutex_unlock(&vp->stats_lock);
}

void vfio_intr_msix_changed(void *opaque, const struct pci_vec_state *v)
{
	vfio_vec_changed(opaque, true, v);
}

void vfio_intr_msi_changed(void *opaque, const struct pci_vec_state *v)
{
	vfio_vec_changed(opaque, false, v);
}

void vfio_intr_disable(struct vfio_pci *vp)
{
	struct vfio_vecset x = vfio_set_of(vp, true), m = vfio_set_of(vp, false);

	pthread_mutex_lock(&vp->intr_lock);
	vfio_set_off(vp, &x);
	vfio_set_off(vp, &m);
	vp->msix_nr_enabled = vp->msi_nr_enabled = 0;
	memset(vp->msix_enabled, 0, sizeof(vp->msix_enabled));
	memset(vp->msi_enabled, 0, sizeof(vp->msi_enabled));
	pthread_mutex_unlock(&vp->intr_lock);
}
