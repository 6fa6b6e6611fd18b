/* SPDX-License-Identifier: MIT */
/*
 * Adding and removing assigned devices while the VM runs, on the PCIe hot-plug slots of the
 * root ports (devices/pci/slot.c).  A thin layer over the same steps a device assigned at
 * start takes (assign.c: open into the container, reset, build the function, map its BARs,
 * register its group) and the slot's plug, button and unplug; what it adds is the order of
 * taking a device back, so the host can bind its own driver again while the guest runs on.
 */
#include <linux/vfio.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

static bool vfio_bdf_eq(const struct vfio_bdf *x, const struct vfio_bdf *y)
{
	return x->domain == y->domain && x->bus == y->bus && x->dev == y->dev && x->fn == y->fn;
}

/* The index of `bdf` in a->devs, or -1; a->lock held. */
static int vfio_hp_find(struct vfio_assign *a, const struct vfio_bdf *bdf)
{
	for (unsigned i = 0; i < a->nr_devs; i++) {
		if (vfio_bdf_eq(&a->devs[i]->dev.bdf, bdf))
			return (int)i;
	}
	return -1;
}

unsigned vfio_list(struct vfio_assign *a, struct vfio_info *out, unsigned max)
{
	unsigned n;

	if (!a)
		return 0;
	pthread_mutex_lock(&a->lock);
	n = a->nr_devs;
	for (unsigned i = 0; i < n && i < max; i++) {
		struct vfio_pci *vp = a->devs[i];
		struct pci_port *port = vp->pdev ? vp->pdev->port : NULL;
		struct vfio_info *o = &out[i];

		*o = (struct vfio_info){ 0 };
		snprintf(o->bdf, sizeof(o->bdf), "%s", vp->dev.name);
		snprintf(o->port, sizeof(o->port), "%s", port ? pci_port_name(port) : "");
		pthread_mutex_lock(&vp->stats_lock);
		o->cfg_reads = vp->stats.cfg_reads;
		o->cfg_writes = vp->stats.cfg_writes;
		o->msi_updates = vp->stats.msi_updates;
		o->vectors_routed = vp->stats.vectors_routed;
		o->bar_trapped = vp->stats.bar_trapped_other;
		for (unsigned b = 0; b < 6; b++) {
			for (unsigned p = 0; p < VFIO_STAT_PAGES; p++)
				o->bar_trapped += vp->stats.bar_trapped[b][p];
		}
		pthread_mutex_unlock(&vp->stats_lock);
	}
	pthread_mutex_unlock(&a->lock);
	return n;
}

/*
 * Give the device back: its host interrupts off, BAR mmaps gone, the hypervisor's reference
 * to its group dropped when it is the group's last device, device and group fds closed (the
 * group leaves the container).  The function's memory stays with the PCI core until teardown.
 */
static void vfio_hp_release(struct vfio_assign *a, struct vfio_pci *vp)
{
	struct vm *vm = a->vm;
	int i = -1;

	vfio_intr_disable(vp);
	vfio_intx_free(vp); /* its irqfd off the pin's GSI */
	vfio_notify_close(vp, &vp->err_efd);
	vfio_notify_close(vp, &vp->req_efd);
	vfio_bars_munmap(vp);
	/* The group's last device: the hypervisor lets go of the group, told once as it was. */
	if (vp->dev.group && vp->dev.group->users == 1 && vp->dev.group->hv_added) {
		if (vm->hv->vfio_group_del && vm->hv->vfio_group_del(vm->hvm, vp->dev.group->fd))
			log_warn("%s: the hypervisor kept its reference to the group; the host may "
			         "not get the device back until hvmm exits",
			         vp->dev.name);
		vp->dev.group->hv_added = false;
	}
	vfio_device_close(&vp->dev);
	pthread_mutex_lock(&a->lock);
	for (unsigned j = 0; j < a->nr_devs; j++) {
		if (a->devs[j] == vp)
			i = (int)j;
	}
	if (i >= 0) {
		a->devs[i] = a->devs[--a->nr_devs];
		a->devs[a->nr_devs] = NULL;
	}
	pthread_mutex_unlock(&a->lock);
}

/* The first root port with nothing behind it; -ENOSPC if there is none. */
static int vfio_hp_free_port(struct pci_root *root, struct pci_port **out)
{
	struct pci_port_info info[PCI_MAX_ROOT_PORTS];
	unsigned n = pci_root_ports(root, info, ARRAY_SIZE(info));

	for (unsigned i = 0; i < n && i < ARRAY_SIZE(info); i++) {
		if (!info[i].occupied)
			return pci_root_port_find(root, info[i].name, out);
	}
	return -ENOSPC;
}

int vfio_hotplug_add(struct vfio_assign *a, const struct vfio_bdf *bdf, struct pci_port *port)
{
	struct vfio_pci *vp = NULL;
	char name[16];
	bool known, full;
	int r;

	vfio_bdf_format(bdf, name, sizeof(name));
	pthread_mutex_lock(&a->lock);
	known = vfio_hp_find(a, bdf) >= 0;
	full = a->nr_devs == VFIO_MAX_DEVICES;
	pthread_mutex_unlock(&a->lock);
	if (known) {
		log_err("%s: already assigned to this VM", name);
		return -EEXIST;
	}
	if (full) {
		log_err("%s: a VM has at most %d assigned devices", name, VFIO_MAX_DEVICES);
		return -ENOSPC;
	}
	if (!port && vfio_hp_free_port(a->root, &port)) {
		log_err("%s: no empty root port; start hvmm with another --pcie-root-port NAME",
		        name);
		return -ENOSPC;
	}
	r = vfio_assign_build(a, bdf, false, &vp);
	if (r) {
		pthread_mutex_lock(&a->lock);
		int i = vfio_hp_find(a, bdf);

		vp = i >= 0 ? a->devs[i] : NULL;
		pthread_mutex_unlock(&a->lock);
		goto fail;
	}
	/*
	 * Guest RAM is mapped once: at start, maybe still in the background, or now for the
	 * first group of a VM that started without devices (or whose start-time mapping failed).
	 */
	if (vfio_container_map_wait(&a->c))
		log_debug("%s: guest RAM was not mapped for DMA yet: mapping it now", name);
	if (!a->c.nr_dma && (r = vfio_container_map_ram(&a->c, &a->vm->mem)))
		goto fail;
	if ((r = pci_slot_plug(port, vp->pdev)))
		goto fail; /* the PCI core said why: the port holds a device */
	log_info("%s: hot-plugged behind root port %s (%u MSI-X vectors)", name,
	         pci_port_name(port), vp->dev.irqs[VFIO_IRQ_MSIX].count);
	return 0;
fail:
	if (vp)
		vfio_hp_release(a, vp);
	return r;
}

static void vfio_hp_sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

int vfio_hotplug_remove(struct vfio_assign *a, const struct vfio_bdf *bdf, unsigned wait_ms,
                        bool *released)
{
	struct vfio_pci *vp;
	struct pci_port *port;
	struct pci_dev *out;
	uint16_t off = 0;
	char name[16];
	int i;

	vfio_bdf_format(bdf, name, sizeof(name));
	pthread_mutex_lock(&a->lock);
	i = vfio_hp_find(a, bdf);
	vp = i >= 0 ? a->devs[i] : NULL;
	pthread_mutex_unlock(&a->lock);
	if (!vp) {
		log_err("%s: not assigned to this VM", name);
		return -ENOENT;
	}
	port = vp->pdev->port;
	if (!port) {
		log_err("%s: not behind a root port", name);
		return -EINVAL;
	}
	/* Ask first: the guest stops its driver and powers the slot off (pciehp: after 5 s). */
	if (pci_slot_powered(port)) {
		log_info("%s: pressing the attention button of slot %s", name, pci_port_name(port));
		pci_slot_press_button(port);
		/* A VM that is stopping will not answer: do not keep its teardown waiting. */
		for (unsigned t = 0;
		     t < wait_ms && pci_slot_powered(port) && !atomic_load(&a->vm->stopping);
		     t += 20)
			vfio_hp_sleep_ms(20);
	}
	*released = !pci_slot_powered(port);
	if (!*released)
		log_warn("%s: the guest did not release the device within %u ms; removing it "
		         "anyway",
		         name, wait_ms);
	/* No more DMA, then no more interrupts, a reset and the BARs unmapped (the unplug). */
	if (vfio_region_write(&vp->dev, VFIO_REGION_CONFIG, PCI_COMMAND, &off, sizeof(off)))
		log_warn("%s: could not turn bus mastering off before the reset", name);
	vfio_intr_disable(vp);
	if (pci_slot_unplug(port, &out))
		return -ENOENT;
	vfio_hp_release(a, vp);
	log_info("%s: removed from the VM; the host may bind it to its own driver", name);
	return 0;
}
