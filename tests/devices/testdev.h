/* SPDX-License-Identifier: MIT */
/*
 * The PCI test device: its register map (usable by freestanding guest programs too) and, for
 * the host side of the tests, its constructor.  Not part of hvmm: only tests plug it in.
 */
#ifndef HVMM_TESTS_TESTDEV_H
#define HVMM_TESTS_TESTDEV_H

#include "devices/pci/pci.h"

/*
 * The test device (tests/devices/testdev.c).  BAR0: 64-bit memory,
 * registers + MSI-X table + PBA.  BAR2: I/O, an ID and a scratch register.  ROM: 2 KiB,
 * 0x55 0xaa then byte i = i.  Capabilities: PCI Express endpoint (FLR), MSI (1 vector, 64-bit,
 * maskable), MSI-X (TESTDEV_NR_VECTORS), and a vendor-specific extended capability.
 * Interrupts go to MSI-X when it is enabled, else to MSI, else nowhere.
 */
#define TESTDEV_DEVICE_ID    0x7e57
#define TESTDEV_CLASS        0xff0000u /* "does not fit a defined class": no driver binds */
#define TESTDEV_BAR0_SIZE    0x4000
#define TESTDEV_BAR2_SIZE    0x20
#define TESTDEV_ROM_SIZE     0x800
#define TESTDEV_ID_VALUE     0x44545648u /* "HVTD" */
#define TESTDEV_REG_ID       0x00        /* RO 32-bit */
#define TESTDEV_REG_SCRATCH  0x08        /* RW 64-bit */
#define TESTDEV_REG_DOORBELL 0x10        /* W: raise the vector written */
#define TESTDEV_REG_DMA_SRC  0x18        /* RW 64-bit guest-physical source */
#define TESTDEV_REG_DMA_DST  0x20        /* RW 64-bit guest-physical destination */
#define TESTDEV_REG_DMA_LEN  0x28        /* RW, at most TESTDEV_DMA_MAX */
#define TESTDEV_REG_DMA_CMD  0x30 /* W: TESTDEV_DMA_START [| TESTDEV_DMA_IRQ | vector << 8] */
#define TESTDEV_REG_DMA_STS  0x38 /* RO: TESTDEV_DMA_* status of the last command */
#define TESTDEV_DMA_START    0x1
#define TESTDEV_DMA_IRQ      0x2 /* raise vector (cmd >> 8) & 0xff when done */
#define TESTDEV_DMA_IDLE     0
#define TESTDEV_DMA_DONE     1
#define TESTDEV_DMA_FAULT    2 /* an address range is not guest RAM, or len is too big */
#define TESTDEV_DMA_NO_BM    3 /* bus mastering is off in COMMAND */
#define TESTDEV_DMA_MAX      0x10000
#define TESTDEV_MSIX_TABLE   0x2000
#define TESTDEV_MSIX_PBA     0x3000
#define TESTDEV_NR_VECTORS   4
#define TESTDEV_IO_ID        0x00 /* BAR2: RO 32-bit TESTDEV_ID_VALUE */
#define TESTDEV_IO_SCRATCH   0x04 /* BAR2: RW 32-bit */
#if __STDC_HOSTED__
/* The test device behind `port` (NULL: a port of its own). */
int pci_testdev_create(struct pci_root *root, struct pci_port *port, struct pci_dev **out) WUR;
/* The test device, not attached: for pci_slot_plug(). */
int pci_testdev_build(struct pci_root *root, struct pci_dev **out) WUR;
#endif

#endif
