/* SPDX-License-Identifier: MIT */
/*
 * devices/vfio: assigning a host PCI device to the guest through VFIO.
 *
 * Split by concern: the syscall table (sys.c), container and groups (container.c), guest
 * RAM mapped for DMA, at start while the guest boots (dma.c), diagnostics that name the fix for
 * every set-up failure (diag.c), the device fd with its regions, interrupts and resets (device.c),
 * the PCI-facing glue (config.c, bars.c, rom.c, intr.c, intx.c, reset.c, assign.c), and adding and
 * removing devices while the VM runs (hotplug.c).  Every file-descriptor operation goes through
 * struct vfio_sys, so unit tests run the whole module against a fake VFIO kernel held in memory.
 * This header is what the platform uses; internal.h is what the files of devices/vfio share (and
 * its tests use).
 */
#ifndef HVMM_VFIO_H
#define HVMM_VFIO_H

#include "core/vm.h"

struct pci_root;
struct pci_port;

struct vfio_bdf {
	uint16_t domain;
	uint8_t bus, dev, fn;
};

/* "DDDD:BB:DD.F" or "BB:DD.F" (hex); -EINVAL if malformed or out of range. */
int vfio_bdf_parse(const char *s, struct vfio_bdf *out) WUR;
/* Canonical "dddd:bb:dd.f" into buf (at least 13 bytes). */
void vfio_bdf_format(const struct vfio_bdf *bdf, char *buf, size_t len);

/* One device to assign: its host address and the root port to put it behind. */
struct vfio_spec {
	const char *bdf;  /* "DDDD:BB:DD.F" or "BB:DD.F" */
	const char *port; /* a root port's name; "" or NULL for a port of its own */
	bool trap_bars;   /* --vfio-bars trap: never map BARs, proxy every access */
};

struct vfio_assign;

/*
 * Assign the `n` devices of `specs` to `vm`, under PCI root complex `root`: one container,
 * guest RAM mapped IOVA == GPA, the hypervisor told about each group once, every device
 * reset (a reset that fails is a warning), shadowed and attached behind its port --
 * functions of one host device given together behind one port, as one multi-function
 * device.  A device's error or request interrupt stops the VM with VM_EXIT_DEVICE.
 * Everything is undone at VM teardown (vm_on_destroy): interrupts stopped, devices reset,
 * DMA unmapped.  Logs the failing step with its fix.  With `hotplug` the assignment exists
 * even for n == 0 and devices may come and go while the VM runs (vfio_hotplug_*()); *out
 * gets it, NULL if there is none.
 */
int vfio_assign_all(struct vm *vm, struct pci_root *root, const struct vfio_spec *specs, unsigned n,
                    bool hotplug, struct vfio_assign **out) WUR;

/* ---- hot-plug (hotplug.c) ---- */

/* How long vfio_hotplug_remove() waits for the guest to release a device by default. */
#define VFIO_HOTPLUG_RELEASE_MS 20000

/* An assigned device as the API lists it. */
struct vfio_info {
	char bdf[16];  /* the host address */
	char port[32]; /* its root port */
	uint64_t cfg_reads, cfg_writes, msi_updates, vectors_routed, bar_trapped;
};
/* The assigned devices, the first `max` into out[]; returns how many there are. */
unsigned vfio_list(struct vfio_assign *a, struct vfio_info *out, unsigned max);
/*
 * Add host device `bdf` to the running VM behind `port`, an empty root port (NULL: the first
 * empty one): it joins the container (guest RAM mapped already, or now for the first group),
 * its group is registered with the hypervisor once, the device is reset and plugged into the
 * slot, which tells the guest.  Opens files: call it on the unfiltered thread
 * (vm_run_privileged()).  Logs why it failed; -ENODEV/-EBUSY/-EACCES as vfio_assign_all(),
 * -EEXIST already assigned, -ENOSPC no empty port or too many devices, -EBUSY port occupied.
 */
int vfio_hotplug_add(struct vfio_assign *a, const struct vfio_bdf *bdf, struct pci_port *port) WUR;
/*
 * Take `bdf` back from the running VM: press its slot's attention button and wait up to
 * `wait_ms` for the guest to release the device and power the slot off (*released says
 * whether it did; if not, the device is pulled out anyway, a surprise removal); then quiesce
 * it (bus mastering off), stop its interrupts, reset it, unmap its BARs, and give its group
 * back (the hypervisor's reference dropped, the group detached from the container when its
 * last device leaves), so the host can bind its own driver.  Call on the unfiltered thread.
 * -ENOENT not assigned, -EINVAL not a hot-plug device.
 */
int vfio_hotplug_remove(struct vfio_assign *a, const struct vfio_bdf *bdf, unsigned wait_ms,
                        bool *released) WUR;

#endif
