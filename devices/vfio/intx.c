/* SPDX-License-Identifier: MIT */
/*
 * INTx of an assigned device.  The function's own pin is offered to the guest, wired to the
 * GSI pci_intx_gsi() gives it (the guest learns it from ACPI's _PRT), and the device's INTx
 * eventfd is an irqfd on that GSI: its interrupts reach the guest without passing through
 * hvmm.
 *
 * vfio-pci masks the line each time it signals it (VFIO_IRQ_INFO_AUTOMASKED).  KVM refuses a
 * resample irqfd (KVM_IRQFD_FLAG_RESAMPLE) with the split irqchip hvmm uses on both
 * hypervisors, so the unmask is hvmm's: the EOI of a level-triggered vector reaches the
 * userspace IOAPIC (KVM_EXIT_IOAPIC_EOI; MSHV's APIC EOI intercept), which tells this source
 * (ioapic_add_source()), and hvmm unmasks the line with VFIO_IRQ_SET_ACTION_UNMASK.  A device
 * that still wants service holds its line up, and vfio-pci signals again at once.  The guest
 * masking the pin in the IOAPIC masks the line too, so nothing passes a masked pin; the
 * unmask waits for the pin's unmask.
 *
 * The host has one of INTx, MSI and MSI-X enabled at a time (vfio-pci refuses the others):
 * INTx is the device's interrupt from the VM's start and after every reset, steps aside when
 * the guest enables MSI or MSI-X (intr.c), and comes back when both are off again.  hvmm
 * enables it on the host only once the guest has unmasked the pin -- a guest whose driver uses
 * MSI or MSI-X never sets the pin up, and the host's interrupt line is then never requested
 * for it (vfio-pci's request_irq on a line shared with host devices) -- and keeps it on
 * until MSI, MSI-X or a reset takes its place.  The guest's INTx-disable bit in COMMAND reaches
 * vfio-pci with the rest of COMMAND; vfio-pci keeps the line masked while it is set and
 * refuses the unmask.
 */
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

void vfio_intx_init(struct vfio_pci *vp, uint8_t pin)
{
	const struct vfio_irq *info = &vp->dev.irqs[VFIO_IRQ_INTX];

	vp->intx = (struct vfio_intx){ .efd = -1 };
	/* vfio-pci reads the pin as 0 and counts no INTx when the host cannot route it. */
	if (pin < 1 || pin > 4 || VFIO_IRQ_INTX >= vp->dev.nr_irqs || info->count != 1 ||
	    !(info->flags & VFIO_IRQ_INFO_EVENTFD) || !(info->flags & VFIO_IRQ_INFO_MASKABLE))
		return;
	vp->intx.pin = pin;
}

/* Mask or unmask the host's line: an INTx action without data, which vfio-pci takes. */
static void vfio_intx_action(struct vfio_pci *vp, uint32_t action)
{
	if (vfio_device_irq_action(&vp->dev, VFIO_IRQ_INTX, action))
		return; /* logged */
	if (action == VFIO_IRQ_SET_ACTION_UNMASK)
		vp->intx.unmasks++;
}

/* Enable INTx on the host (intr_lock held): wanted, wired, the pin unmasked, not refused. */
static void vfio_intx_enable(struct vfio_pci *vp)
{
	int r;

	if (vp->intx.efd < 0 || vp->intx.on || !vp->intx.wanted || !vp->intx.ready ||
	    vp->intx.refused)
		return;
	r = vfio_device_set_irqs(&vp->dev, VFIO_IRQ_INTX, 0, 1, &vp->intx.efd, NULL);
	if (r) {
		/* Logged by vfio_device_set_irqs(); say what it means once. */
		log_warn("%s: the host does not let hvmm enable the device's INTx; a guest driver "
		         "using its legacy interrupt gets none (MSI and MSI-X are not affected)",
		         vp->dev.name);
		vp->intx.refused = true;
		return;
	}
	vp->intx.on = true;
}

/* The IOAPIC says whether the pin can take the next interrupt (ioapic_source_fn). */
static void vfio_intx_ready(void *opaque, bool ready)
{
	struct vfio_pci *vp = opaque;

	pthread_mutex_lock(&vp->intr_lock);
	vp->intx.ready = ready;
	if (vp->intx.on)
		vfio_intx_action(vp, ready ? VFIO_IRQ_SET_ACTION_UNMASK : VFIO_IRQ_SET_ACTION_MASK);
	else if (ready)
		vfio_intx_enable(
		    vp); /* the guest set the pin up: a line asserted now gets through */
	pthread_mutex_unlock(&vp->intr_lock);
}

void vfio_intx_on(struct vfio_pci *vp)
{
	vp->intx.wanted = true;
	vfio_intx_enable(vp);
}

void vfio_intx_off(struct vfio_pci *vp)
{
	vp->intx.wanted = false;
	if (!vp->intx.on)
		return;
	if (vfio_device_set_irqs(&vp->dev, VFIO_IRQ_INTX, 0, 0, NULL, NULL))
		log_debug("%s: INTx stays as the host has it", vp->dev.name);
	vp->intx.on = false;
}

int vfio_intx_attach(struct vfio_pci *vp)
{
	int fd, r;

	if (!vp->intx.pin)
		return 0;
	r = pci_intx_connect(vp->pdev, vfio_intx_ready, vp, &vp->intx.gsi);
	if (r == -ENOENT)
		return 0; /* no IOAPIC to wire it to */
	if (r)
		return r;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		log_err("%s: eventfd for INTx: %s", vp->dev.name, strerror(errno));
		return r;
	}
	if ((r = vp->vm->hv->irqfd_assign(vp->vm->hvm, fd, vp->intx.gsi))) {
		close(fd); /* the backend logged why */
		return r;
	}
	vp->intx.efd = fd;
	pthread_mutex_lock(&vp->intr_lock);
	vfio_intx_on(vp);
	pthread_mutex_unlock(&vp->intr_lock);
	log_debug("%s: INTx pin %c wired to GSI %u", vp->dev.name, 'A' + vp->intx.pin - 1,
	          vp->intx.gsi);
	return 0;
}

void vfio_intx_free(struct vfio_pci *vp)
{
	if (vp->intx.efd < 0)
		return;
	/* At VM teardown the hypervisor VM's release takes the irqfd with it. */
	if (!vm_tearing_down(vp->vm) &&
	    vp->vm->hv->irqfd_deassign(vp->vm->hvm, vp->intx.efd, vp->intx.gsi))
		log_debug("%s: irqfd deassign of INTx failed", vp->dev.name);
	close(vp->intx.efd);
	vp->intx.efd = -1;
}
