/* SPDX-License-Identifier: MIT */
/*
 * The PCIe platform's constants: identities, the config mechanisms' ports, ECAM layout and
 * where root ports sit.  No declarations: freestanding guest programs include it as the host
 * does (through pci.h), so both sides agree on the platform.
 */
#ifndef HVMM_PCI_REGS_H
#define HVMM_PCI_REGS_H

#include <linux/pci_regs.h>

#define PCI_VENDOR_REDHAT      0x1b36
#define PCI_DEVICE_HOST_BRIDGE 0x0008
#define PCI_DEVICE_ROOT_PORT   0x000c

#define PCI_CLASS_CODE_HOST_BRIDGE 0x060000
#define PCI_CLASS_CODE_PCI_BRIDGE  0x060400

#define PCI_NR_BARS 7 /* six BARs and the expansion ROM */
#define PCI_ROM_BAR 6

/* Configuration mechanism #1 and the PC reset control register inside its address port. */
#define PCI_CONF1_ADDR_PORT 0xcf8
#define PCI_CONF1_DATA_PORT 0xcfc
#define PCI_RESET_CTL_PORT  0xcf9
#define PCI_RESET_CTL_RST   0x04 /* a byte write with this bit resets the machine */
#define PCI_CONF1_ENABLE    0x80000000u

/* Offset of a function's config space in the ECAM window. */
#define PCI_ECAM_OFFSET(bus, dev, fn) (((bus) << 20) | ((dev) << 15) | ((fn) << 12))

/* Root ports sit on bus 0 from this device number up, in creation order. */
#define PCI_ROOT_PORT_FIRST_DEV 1
#define PCI_MAX_ROOT_PORTS      31
/* INTx pins of the functions behind root ports go to these GSIs: see pci_intx_gsi(). */
#define PCI_INTX_GSI_BASE 16
#define PCI_INTX_GSIS     4

#endif
