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
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

static void vfio_assign_put(struct vfio_assign *a)
{
	pthread_mutex_lock(&a->lock);
	if (--a->refs) {
		pthread_mutex_unlock(&a->lock);
		return;
	}
	pthread_mutex_unlock(&a->lock);
	vfio_container_close(&a->c);
	pthread_mutex_destroy(&a->lock);
	free(a);
}

void vfio_stats_print(struct vfio_pci *vp, enum log_level level)
{
	struct vfio_stats st;
	char pages[512], intx[64] = "";
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
	pthread_mutex_lock(&vp->intr_lock);
	if (vp->intx.efd >= 0)
		snprintf(intx, sizeof(intx), ", INTx on GSI %u unmasked %llu times", vp->intx.gsi,
		         (unsigned long long)vp->intx.unmasks);
	pthread_mutex_unlock(&vp->intr_lock);
	log_msg(level,
	        "%s: config reads %llu writes %llu, MSI/MSI-X updates %llu, vectors routed %llu%s, "
	        "trapped BAR accesses:%s%s; BARs %s, %llu accesses proxied through the device fd "
	        "(%llu ns each)",
	        vp->dev.name, (unsigned long long)st.cfg_reads, (unsigned long long)st.cfg_writes,
	        (unsigned long long)st.msi_updates, (unsigned long long)st.vectors_routed, intx,
	        pages[0] ? pages : " none", st.bar_trapped_other ? " (+ more beyond)" : "",
	        vp->bar_mode == VFIO_BARS_TRAPPED ? "trapped" : "mapped",
	        (unsigned long long)st.bar_proxied,
	        (unsigned long long)(st.bar_proxied ? st.bar_proxy_ns / st.bar_proxied : 0));
}

static void vfio_assign_stats(void *opaque, enum log_level level)
{
	struct vfio_assign *a = opaque;

	pthread_mutex_lock(&a->lock);
	for (unsigned i = 0; i < a->nr_devs; i++)
		vfio_stats_print(a->devs[i], level);
	pthread_mutex_unlock(&a->lock);
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

void vfio_notify_close(struct vfio_pci *vp, int *efd)
{
	if (*efd < 0)
		return;
	if (loop_del(&vp->vm->loop, *efd))
		log_debug("%s: notification eventfd was not in the loop", vp->dev.name);
	close(*efd);
	*efd = -1;
}

void vfio_pci_destroy(struct vfio_pci *vp)
{
	vfio_bars_munmap(vp);
	vfio_device_close(&vp->dev);
	vfio_notify_close(vp, &vp->err_efd);
	vfio_notify_close(vp, &vp->req_efd);
	vfio_intx_free(vp);
	vfio_intr_free(&vp->msix_irqs);
	vfio_intr_free(&vp->msi_irqs);
	vfio_rom_free(vp);
	pthread_mutex_destroy(&vp->rom_lock);
	pthread_mutex_destroy(&vp->intr_lock);
	pthread_mutex_destroy(&vp->stats_lock);
	free(vp);
}

/* VM teardown (before the PCI core's): quiesce and reset every device, then stop its DMA. */
static void vfio_assign_teardown(void *opaque)
{
	struct vfio_assign *a = opaque;

	/* No request can add or remove a device now: the API thread is gone. */
	for (unsigned i = 0; i < a->nr_devs; i++) {
		/* A failed reset is logged where it failed; teardown goes on regardless. */
		if (vfio_pci_reset(a->devs[i]))
			continue;
	}
	vfio_container_unmap_all(&a->c);
	if (a->map_efd >= 0) {
		if (loop_del(&a->vm->loop, a->map_efd))
			log_debug("VFIO: the DMA mapping's eventfd was not in the loop");
		close(a->map_efd);
		a->map_efd = -1;
	}
	vfio_assign_put(a);
}

/* Read an event counter; false if there was nothing to read. */
static bool vfio_notify_read(int efd)
{
	uint64_t n;

	return read(efd, &n, sizeof(n)) == sizeof(n) && n;
}

/*
 * The device reported an uncorrectable error (AER, VFIO_PCI_ERR_IRQ_INDEX): it may have lost
 * or corrupted DMA, and the guest has no way to hear of it.
 */
static void vfio_err_fired(void *opaque, uint32_t events)
{
	struct vfio_pci *vp = opaque;

	(void)events;
	if (!vfio_notify_read(vp->err_efd))
		return;
	log_err("%s: the device reported an uncorrectable error (AER); hvmm stops the VM, whose "
	        "device can no longer be trusted (the host's kernel log says which error)",
	        vp->dev.name);
	vm_stop(vp->vm, VM_EXIT_DEVICE);
}

/*
 * The host asks for the device back (VFIO_PCI_REQ_IRQ_INDEX: its vfio-pci driver is being
 * unbound, which waits until the device is released).  Taking it from the guest unasked
 * would pull a disk from under its file systems, so hvmm stops the VM; teardown then
 * releases the device.  A device meant to go back while the guest runs is removed through
 * the API first (remove-device), which asks the guest.
 */
static void vfio_req_fired(void *opaque, uint32_t events)
{
	struct vfio_pci *vp = opaque;

	(void)events;
	if (!vfio_notify_read(vp->req_efd))
		return;
	log_err("%s: the host asks for the device back (its vfio-pci driver is being unbound); "
	        "hvmm stops the VM and releases the device (to give a device back while the guest "
	        "runs, remove it first with hvmm remote ... remove-device)",
	        vp->dev.name);
	vm_stop(vp->vm, VM_EXIT_DEVICE);
}

/*
 * Guest RAM's mapping for DMA ended (dma.c): if it failed, the devices cannot reach guest RAM
 * and their drivers would fail in ways the guest cannot explain; the thread said why.
 */
static void vfio_map_done_fired(void *opaque, uint32_t events)
{
	struct vfio_assign *a = opaque;
	int r;

	(void)events;
	if (!vfio_notify_read(a->map_efd))
		return;
	r = vfio_container_map_wait(&a->c);
	if (r && r != -ECANCELED) {
		log_err(
		    "VFIO: guest RAM could not be mapped for the devices' DMA; hvmm stops the VM");
		vm_stop(a->vm, VM_EXIT_ERROR);
	}
}

/* Start mapping guest RAM (IOVA == GPA) while the guest boots; the loop hears how it ended. */
static int vfio_assign_map_start(struct vfio_assign *a)
{
	int fd, r;

	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		log_err("VFIO: eventfd for the DMA mapping: %s", strerror(errno));
		return r;
	}
	if ((r = loop_add(&a->vm->loop, fd, EPOLLIN, vfio_map_done_fired, a))) {
		log_err("VFIO: cannot watch the DMA mapping's eventfd: %s", strerror(-r));
		close(fd);
		return r;
	}
	a->map_efd = fd;
	return vfio_container_map_ram_start(&a->c, &a->vm->mem, &a->vm->stopping, fd);
}

/* Have VFIO signal an eventfd on interrupt `index`, watched by the event loop. */
static int vfio_notify_open(struct vfio_pci *vp, unsigned index, int *efd, loop_fn fn)
{
	int fd, r;

	if (index >= vp->dev.nr_irqs || !vp->dev.irqs[index].count)
		return 0;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		r = -errno;
		log_err("%s: eventfd: %s", vp->dev.name, strerror(errno));
		return r;
	}
	if ((r = vfio_device_set_irqs(&vp->dev, index, 0, 1, &fd, NULL))) {
		/* Logged; the VM runs without hearing of this event, as before kernels had it. */
		close(fd);
		return 0;
	}
	if ((r = loop_add(&vp->vm->loop, fd, EPOLLIN, fn, vp))) {
		log_err("%s: cannot watch its notification eventfd: %s", vp->dev.name,
		        strerror(-r));
		close(fd);
		return r;
	}
	*efd = fd;
	return 0;
}

int vfio_assign_build(struct vfio_assign *a, const struct vfio_bdf *bdf, bool trap_bars,
                      struct vfio_pci **out)
{
	struct vm *vm = a->vm;
	struct vfio_pci *vp;
	int r;

	*out = NULL;
	if (a->c.fd < 0) {
		if ((r = vfio_container_open(a->sys, &a->c)))
			return r;
		if (vfio_diag_have_iommufd(a->c.sys))
			log_info("the kernel offers iommufd and VFIO device cdevs; hvmm uses the "
			         "VFIO container, which it also supports");
	}
	/* The user may rebind the device or start the next VM the moment hvmm exits. */
	vm_keep_teardown_here(vm);
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	vp->owner = a;
	vp->force_trap = trap_bars;
	if ((r = vfio_device_open(&a->c, bdf, &vp->dev))) {
		free(vp);
		return r;
	}
	r = vfio_pci_create(vm, a->root, vp);
	if (!vp->pdev) {
		/* The PCI core never took the function: it is ours to free. */
		vfio_pci_destroy(vp);
		return r;
	}
	/* The PCI core owns the function now and calls vfio_pci_release() at teardown. */
	pthread_mutex_lock(&a->lock);
	a->refs++;
	a->devs[a->nr_devs++] = vp;
	pthread_mutex_unlock(&a->lock);
	*out = vp;
	if (r || (r = vfio_bars_mmap(vp)))
		return r;
	/* The BAR mode, once per device: trapping costs an exit per register access. */
	log_msg(vp->bar_mode == VFIO_BARS_TRAPPED && !trap_bars ? LOG_WARN : LOG_INFO,
	        "%s: BARs %s on %s: %s", vp->dev.name,
	        vp->bar_mode == VFIO_BARS_TRAPPED
	            ? "trapped, every access proxied through the device fd"
	            : "mapped into the guest except the MSI-X pages",
	        vm->hv->name, vp->bar_mode_why);
	/*
	 * Start from a clean device, whatever its last user left.  A device that cannot be
	 * reset now (busy, no reset at all) still works; vfio_pci_reset() said why.
	 */
	if (vfio_pci_reset(vp))
		log_debug("%s: starting without a reset", vp->dev.name);
	/* KVM's VFIO device takes each group once: two functions may share one. */
	if (vm->hv->vfio_group_add && !vp->dev.group->hv_added) {
		if ((r = vm->hv->vfio_group_add(vm->hvm, vp->dev.group->fd)))
			return r;
		vp->dev.group->hv_added = true;
	}
	if ((r = vfio_notify_open(vp, VFIO_PCI_ERR_IRQ_INDEX, &vp->err_efd, vfio_err_fired)) ||
	    (r = vfio_notify_open(vp, VFIO_PCI_REQ_IRQ_INDEX, &vp->req_efd, vfio_req_fired)))
		return r;
	return 0;
}

/*
 * Which spec holds function 0 of the same host device as spec i, behind the same port (a
 * named one, or both automatic), when i shares it with at least one other function: those
 * keep one slot and their function numbers.  -1: spec i is presented alone, as function 0.
 */
static int vfio_slot_leader(const struct vfio_spec *specs, const struct vfio_bdf *bdfs, unsigned n,
                            unsigned i)
{
	int leader = -1;
	unsigned members = 0;

	for (unsigned j = 0; j < n; j++) {
		const char *pi = specs[i].port ? specs[i].port : "",
		           *pj = specs[j].port ? specs[j].port : "";

		if (bdfs[j].domain != bdfs[i].domain || bdfs[j].bus != bdfs[i].bus ||
		    bdfs[j].dev != bdfs[i].dev || strcmp(pi, pj))
			continue;
		members++;
		if (bdfs[j].fn == 0)
			leader = (int)j;
	}
	return members > 1 ? leader : -1;
}

static int vfio_attach(struct vfio_assign *a, const struct vfio_spec *spec, struct pci_port *port,
                       unsigned fn, struct vfio_pci *vp)
{
	int r;

	if (!port && spec->port && spec->port[0] &&
	    (r = pci_root_port_find(a->root, spec->port, &port))) {
		log_err("--vfio %s: no root port '%s'", spec->bdf, spec->port);
		return r;
	}
	if ((r = pci_attach_fn(a->root, port, fn, vp->pdev)) || (r = vfio_intx_attach(vp)))
		return r; /* the PCI core or vfio_intx_attach() logged why, naming the device */
	log_info("%s: assigned as function %u behind root port %s (%u regions, %u MSI-X vectors, "
	         "INTx %s)",
	         vp->dev.name, fn, pci_port_name(vp->pdev->port), vp->dev.nr_regions,
	         vp->dev.irqs[VFIO_IRQ_MSIX].count, vp->intx.efd >= 0 ? "on" : "none");
	return 0;
}

/*
 * Attach every device: functions presented alone and the function 0 of each shared slot
 * first, then the other functions of those slots behind their function 0's port.
 */
static int vfio_attach_all(struct vfio_assign *a, const struct vfio_spec *specs,
                           const struct vfio_bdf *bdfs, unsigned n)
{
	int r;

	for (unsigned pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < n; i++) {
			int l = vfio_slot_leader(specs, bdfs, n, i);

			if (pass == 0 && l < 0 && bdfs[i].fn)
				log_info("%s: function %u of a device whose function 0 is not "
				         "assigned: the guest sees it as a single-function device",
				         a->devs[i]->dev.name, bdfs[i].fn);
			if (pass == 0 && (l < 0 || l == (int)i) &&
			    (r = vfio_attach(a, &specs[i], NULL, 0, a->devs[i])))
				return r;
			if (pass == 1 && l >= 0 && l != (int)i &&
			    (r = vfio_attach(a, &specs[i], a->devs[l]->pdev->port, bdfs[i].fn,
			                     a->devs[i])))
				return r;
		}
	}
	return 0;
}

int vfio_assign_open(struct vm *vm, struct pci_root *root, const struct vfio_sys *sys,
                     struct vfio_assign **out)
{
	/*
	 * Run-time calls: vectors enabled as the guest enables them; resets the guest asks for
	 * (a function reset, or a hot reset of the device's bus).
	 */
	static const uint32_t run_ioctls[] = { VFIO_DEVICE_SET_IRQS, VFIO_DEVICE_RESET,
		                               VFIO_DEVICE_GET_PCI_HOT_RESET_INFO,
		                               VFIO_DEVICE_PCI_HOT_RESET };
	struct vfio_assign *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->vm = vm;
	a->root = root;
	a->sys = sys;
	a->refs = 1;
	a->c.fd = -1;
	a->map_efd = -1;
	pthread_mutex_init(&a->lock, NULL);
	if ((r = vm_on_destroy(vm, vfio_assign_teardown, a))) {
		pthread_mutex_destroy(&a->lock);
		free(a);
		return r;
	}
	if ((r = vm_on_stats(vm, vfio_assign_stats, a)) ||
	    (r = vm_sandbox_allow(vm, run_ioctls, ARRAY_SIZE(run_ioctls))))
		return r;
	*out = a;
	return 0;
}

int vfio_assign_all_sys(struct vm *vm, struct pci_root *root, const struct vfio_spec *specs,
                        unsigned n, bool hotplug, const struct vfio_sys *sys,
                        struct vfio_assign **out)
{
	struct vfio_bdf bdfs[VFIO_MAX_DEVICES];
	struct vfio_assign *a;
	struct vfio_pci *vp;
	int r;

	*out = NULL;
	if (!n && !hotplug)
		return 0;
	if (n > VFIO_MAX_DEVICES) {
		log_err("--vfio: at most %d devices", VFIO_MAX_DEVICES);
		return -EINVAL;
	}
	for (unsigned i = 0; i < n; i++) {
		if (vfio_bdf_parse(specs[i].bdf, &bdfs[i]))
			return -EINVAL; /* cli_parse() checked it */
	}
	if ((r = vfio_assign_open(vm, root, sys, &a)))
		return r;
	*out = a;
	for (unsigned i = 0; i < n; i++) {
		if ((r = vfio_assign_build(a, &bdfs[i], specs[i].trap_bars, &vp)))
			return r;
	}
	/* Before the guest finds out, in its own log, that a device's BARs have no room. */
	if ((r = vfio_attach_all(a, specs, bdfs, n)) || (r = pci_root_check_windows(root)))
		return r;
	/* Identity-map guest RAM (IOVA == GPA), while the guest boots (dma.c). */
	return n ? vfio_assign_map_start(a) : 0;
}

int vfio_assign_all(struct vm *vm, struct pci_root *root, const struct vfio_spec *specs, unsigned n,
                    bool hotplug, struct vfio_assign **out)
{
	return vfio_assign_all_sys(vm, root, specs, n, hotplug, &vfio_sys_host, out);
}
