/* SPDX-License-Identifier: MIT */
/*
 * devices/vfio: assigning a host PCI device to the guest through VFIO.
 *
 * Split by concern: the syscall table (sys.c), container, groups and DMA (container.c),
 * diagnostics that name the fix for every set-up failure (diag.c), the device fd with its
 * regions and interrupts (device.c), and the PCI-facing glue (config.c, bars.c, intr.c,
 * assign.c).  Every file-descriptor operation goes through struct vfio_sys, so unit tests run
 * the whole module against a fake VFIO kernel held in memory.  This header is what the
 * platform uses; internal.h is what the files of devices/vfio share (and its tests use).
 */
#ifndef HVMM_VFIO_H
#define HVMM_VFIO_H

#include "core/vm.h"

struct pci_root;

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

/*
 * Assign the `n` devices of `specs` to `vm`, under PCI root complex `root`: one container,
 * guest RAM mapped IOVA == GPA, the hypervisor told about each group, every device reset,
 * shadowed and attached behind its port.  Everything is undone at VM teardown
 * (vm_on_destroy): interrupts stopped, devices reset, DMA unmapped.  Logs the failing step
 * with its fix.  n == 0 does nothing.
 */
int vfio_assign_all(struct vm *vm, struct pci_root *root, const struct vfio_spec *specs,
                    unsigned n) WUR;

#endif
