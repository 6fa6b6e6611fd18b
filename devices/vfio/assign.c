/* SPDX-License-Identifier: MIT */
/*
 * Glue: the --vfio devices of a VM.  One container for all of them; teardown in order
 * (interrupts stopped and devices reset before DMA is unmapped; device fds closed only after
 * the PCI core has unmapped their BARs).
 */
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

#define VFIO_MAX_DEVICES 8

struct vfio_assign {
	struct vm *vm;
	struct pci_root *root;
	struct vfio_container c;
	struct vfio_pci *devs[VFIO_MAX_DEVICES];
	unsigned nr_devs;
	unsigned refs; /* the assignment itself + one per device the PCI core still holds */
};

static void vfio_assign_put(struct vfio_assign *a)
{
	if (--a->refs)
		return;
	vfio_container_close(&a->c);
	free(a);
}

void vfio_stats_print(struct vfio_pci *vp, enum log_level level)
{
	struct vfio_stats st;
	char pages[512];
	size_t n = 0;

	pthread_mutex_lock(&vp->stats_lock);
	st = vp->stats;
	pthread_mutex_unlock(&vp->stats_lock);
	pages[0] = 0;
	for (unsigned b = 0; b < 6; b++) {
		for (unsigned p = 0; p < VFIO_STAT_PAGES && n < sizeof(pages) - 40; p++) {
			if (st.bar_trapped[b][p])
				n += (size_t)snprintf(pages + n, sizeof(pages) - n,
				                      " BAR%u+%#x:%llu", b, p * 4096,
				                      (unsigned long long)st.bar_trapped[b][p]);
		}
	}
	log_msg(level,
	        "%s: config reads %llu writes %llu, MSI/MSI-X updates %llu, vectors routed %llu, "
	        "trapped BAR accesses:%s%s; BARs %s, %llu accesses proxied through the device fd "
	        "(%llu ns each)",
	        vp->dev.name, (unsigned long long)st.cfg_reads, (unsigned long long)st.cfg_writes,
	        (unsigned long long)st.msi_updates, (unsigned long long)st.vectors_routed,
	        pages[0] ? pages : " none", st.bar_trapped_other ? " (+ more beyond)" : "",
	        vp->bar_mode == VFIO_BARS_TRAPPED ? "trapped" : "mapped",
	        (unsigned long long)st.bar_proxied,
	        (unsigned long long)(st.bar_proxied ? st.bar_proxy_ns / st.bar_proxied : 0));
}

static void vfio_assign_stats(void *opaque, enum log_level level)
{
	struct vfio_assign *a = opaque;

	for (unsigned i = 0; i < a->nr_devs; i++)
		vfio_stats_print(a->devs[i], level);
}

/* The PCI core is done with the function: release what the device owns. */
void vfio_pci_release(struct pci_dev *pdev)
{
	struct vfio_pci *vp = pdev->priv;
	struct vfio_assign *a = vp->owner;

	vfio_pci_destroy(vp);
	if (a)
		vfio_assign_put(a);
}

void vfio_pci_destroy(struct vfio_pci *vp)
{
	vfio_bars_munmap(vp);
	vfio_device_close(&vp->dev);
	pthread_mutex_destroy(&vp->intr_lock);
	pthread_mutex_destroy(&vp->stats_lock);
	free(vp);
}

/* VM teardown (before the PCI core's): quiesce every device, then stop its DMA. */
static void vfio_assign_teardown(void *opaque)
{
	struct vfio_assign *a = opaque;

	for (unsigned i = 0; i < a->nr_devs; i++) {
		vfio_intr_disable(a->devs[i]);
		/* A failed reset is logged by vfio_device_reset(); teardown goes on regardless. */
		if (vfio_device_reset(&a->devs[i]->dev))
			continue;
	}
	vfio_container_unmap_all(&a->c);
	vfio_assign_put(a);
}

static int vfio_assign_one(struct vfio_assign *a, const char *spec, const char *port_name,
                           bool trap_bars)
{
	struct vm *vm = a->vm;
	struct pci_port *port = NULL;
	struct vfio_pci *vp;
	struct vfio_bdf bdf;
	int r;

	if (vfio_bdf_parse(spec, &bdf))
		return -EINVAL; /* cli_parse() checked it */
	if (port_name && port_name[0] && (r = pci_root_port_find(a->root, port_name, &port))) {
		log_err("--vfio %s: no root port '%s'", spec, port_name);
		return r;
	}
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	vp->owner = a;
	vp->force_trap = trap_bars;
	if ((r = vfio_device_open(&a->c, &bdf, &vp->dev))) {
		free(vp);
		return r;
	}
	/* Start from a clean device, whatever its last user left. */
	if ((r = vfio_device_reset(&vp->dev)))
		goto fail;
	r = vfio_pci_create(vm, a->root, vp);
	if (vp->pdev) {
		/* The PCI core owns the function now and calls vfio_pci_release() at teardown. */
		a->refs++;
		a->devs[a->nr_devs++] = vp;
	}
	if (r || (r = vfio_bars_mmap(vp)))
		goto fail;
	if (vm->hv->vfio_group_add && (r = vm->hv->vfio_group_add(vm->hvm, vp->dev.group->fd)))
		return r;
	if ((r = pci_attach(a->root, port, vp->pdev)))
		return r; /* the PCI core logged why, naming the device and the port */
	log_info("%s: assigned (%u regions, %u MSI-X vectors)", vp->dev.name, vp->dev.nr_regions,
	         vp->dev.irqs[VFIO_IRQ_MSIX].count);
	/* The BAR mode, once per device: trapping costs an exit per register access. */
	log_msg(vp->bar_mode == VFIO_BARS_TRAPPED && !trap_bars ? LOG_WARN : LOG_INFO,
	        "%s: BARs %s on %s: %s", vp->dev.name,
	        vp->bar_mode == VFIO_BARS_TRAPPED
	            ? "trapped, every access proxied through the device fd"
	            : "mapped into the guest except the MSI-X pages",
	        vm->hv->name, vp->bar_mode_why);
	return 0;
fail:
	if (!vp->pdev)
		vfio_pci_destroy(vp);
	return r;
}

int vfio_assign_all(struct vm *vm, struct pci_root *root, const struct vfio_spec *specs, unsigned n)
{
	struct vfio_assign *a;
	/* Run-time calls: vectors enabled as the guest unmasks them; a reset the guest asks for. */
	static const uint32_t run_ioctls[] = { VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET };
	int r;

	if (!n)
		return 0;
	if (n > VFIO_MAX_DEVICES) {
		log_err("--vfio: at most %d devices", VFIO_MAX_DEVICES);
		return -EINVAL;
	}
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->vm = vm;
	a->root = root;
	a->refs = 1;
	a->c.fd = -1;
	if ((r = vm_on_destroy(vm, vfio_assign_teardown, a))) {
		free(a);
		return r;
	}
	if ((r = vm_on_stats(vm, vfio_assign_stats, a)) ||
	    (r = vm_sandbox_allow(vm, run_ioctls, ARRAY_SIZE(run_ioctls))))
		return r;
	if ((r = vfio_container_open(&vfio_sys_host, &a->c)))
		return r;
	if (vfio_diag_have_iommufd(a->c.sys))
		log_info("the kernel offers iommufd and VFIO device cdevs; hvmm uses the VFIO "
		         "container, which it also supports");
	for (unsigned i = 0; i < n; i++) {
		if ((r = vfio_assign_one(a, specs[i].bdf, specs[i].port, specs[i].trap_bars)))
			return r;
	}
	/* Identity-map guest RAM (IOVA == GPA) before any vCPU runs. */
	return vfio_container_map_ram(&a->c, &vm->mem);
}
