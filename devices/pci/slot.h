/* SPDX-License-Identifier: MIT */
/*
 * devices/pci, continued: PCIe native hot-plug on root ports (slot.c; docs/architecture.md),
 * and the ports as the platform lists them.  Included by pci.h.
 */
#ifndef HVMM_PCI_SLOT_H
#define HVMM_PCI_SLOT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/base.h"

struct pci_root;
struct pci_port;
struct pci_dev;

/*
 * PCIe native hot-plug (slot.c; docs/architecture.md).  Every root port is a slot the guest
 * runs (Linux's pciehp); a device is reachable only while present and powered, and losing
 * power resets it.  Cold-plugged devices start powered.  Events raise the port's MSI.
 *
 * pci_slot_plug: `dev` (created, not attached) into the empty slot of `port` as function 0:
 * presence detected and the attention button pressed, the guest told; it appears once the
 * guest powers the slot on.  -EBUSY if the port holds a device, -EINVAL if dev is attached.
 */
int pci_slot_plug(struct pci_port *port, struct pci_dev *dev) WUR;
/* Press the slot's attention button: the guest's cue to release the device and power off. */
void pci_slot_press_button(struct pci_port *port);
/* Whether the guest has the slot powered (Power Controller Control clear). */
bool pci_slot_powered(struct pci_port *port);
/*
 * Pull the device out, as a surprise removal if the guest still powers the slot: every
 * function reset (BARs unmapped, vectors off, ops->reset), presence and link gone, the guest
 * told.  *out gets function 0, which stays allocated until VM teardown (a vCPU may still be
 * in one of its handlers) and may be plugged again.  -ENOENT if the slot is empty.
 */
int pci_slot_unplug(struct pci_port *port, struct pci_dev **out) WUR;

/* A root port as the platform lists it: bus 0 devfn, secondary bus (0 before enumeration). */
struct pci_port_info {
	char name[32], dev_name[48]; /* dev_name: function 0 behind it, "" if none */
	uint8_t devfn, sec_bus;
	bool occupied, powered, link_up;
};
/* The ports in creation order, the first `max` into out[]; returns how many.  Config lock. */
unsigned pci_root_ports(struct pci_root *root, struct pci_port_info *out, unsigned max);

#endif
