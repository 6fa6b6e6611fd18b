/* SPDX-License-Identifier: MIT */
/*
 * Guest side of the PCI tests: config access through ECAM and through 0xCF8/0xCFC, and the
 * firmware-like set-up of the test topology (root port 00:01.0 -> bus 1 -> test device).
 */
#ifndef HVMM_TESTS_PCI_GUEST_H
#define HVMM_TESTS_PCI_GUEST_H

#include "guest.h"
#include "tests/devices/testdev.h"

#define ECAM_BASE   0xe0000000ul
#define PCI_WIN_MEM 0xc0000000ul /* the port's memory window, 16 MiB */
#define PCI_WIN_IO  0x1000u      /* the port's I/O window, 4 KiB */
#define TD_BAR0     PCI_WIN_MEM
#define TD_IO       (PCI_WIN_IO + 0x20)
#define TD_ROM      (PCI_WIN_MEM + 0x10000)
#define TD_BUS      1
#define RP_DEV      1

static inline uintptr_t ecam(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	return ECAM_BASE + PCI_ECAM_OFFSET(bus, dev, fn) + off;
}

static inline uint32_t cfg_r32(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	return MMIO32(ecam(bus, dev, fn, off));
}

static inline uint16_t cfg_r16(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	return MMIO16(ecam(bus, dev, fn, off));
}

static inline uint8_t cfg_r8(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	return MMIO8(ecam(bus, dev, fn, off));
}

static inline void cfg_w32(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v)
{
	MMIO32(ecam(bus, dev, fn, off)) = v;
}

static inline void cfg_w16(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint16_t v)
{
	MMIO16(ecam(bus, dev, fn, off)) = v;
}

static inline void cfg_w8(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint8_t v)
{
	MMIO8(ecam(bus, dev, fn, off)) = v;
}

static inline uint32_t conf1_addr(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	return PCI_CONF1_ENABLE | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc);
}

static inline uint32_t conf1_r32(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	outl(PCI_CONF1_ADDR_PORT, conf1_addr(bus, dev, fn, off));
	return inl(PCI_CONF1_DATA_PORT);
}

static inline uint16_t conf1_r16(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	outl(PCI_CONF1_ADDR_PORT, conf1_addr(bus, dev, fn, off));
	return inw(PCI_CONF1_DATA_PORT + (off & 2));
}

static inline uint8_t conf1_r8(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
	outl(PCI_CONF1_ADDR_PORT, conf1_addr(bus, dev, fn, off));
	return inb(PCI_CONF1_DATA_PORT + (off & 3));
}

static inline void conf1_w32(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v)
{
	outl(PCI_CONF1_ADDR_PORT, conf1_addr(bus, dev, fn, off));
	outl(PCI_CONF1_DATA_PORT, v);
}

static inline void conf1_w8(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint8_t v)
{
	outl(PCI_CONF1_ADDR_PORT, conf1_addr(bus, dev, fn, off));
	outb(PCI_CONF1_DATA_PORT + (off & 3), v);
}

/* What firmware does: number the port's bus, open its windows, enable its decoding. */
static inline void pci_setup_port(void)
{
	cfg_w8(0, RP_DEV, 0, PCI_PRIMARY_BUS, 0);
	cfg_w8(0, RP_DEV, 0, PCI_SECONDARY_BUS, TD_BUS);
	cfg_w8(0, RP_DEV, 0, PCI_SUBORDINATE_BUS, TD_BUS);
	cfg_w16(0, RP_DEV, 0, PCI_MEMORY_BASE, PCI_WIN_MEM >> 16);
	cfg_w16(0, RP_DEV, 0, PCI_MEMORY_LIMIT, (PCI_WIN_MEM + 0xf00000) >> 16);
	cfg_w8(0, RP_DEV, 0, PCI_IO_BASE, PCI_WIN_IO >> 8);
	cfg_w8(0, RP_DEV, 0, PCI_IO_LIMIT, PCI_WIN_IO >> 8);
	cfg_w16(0, RP_DEV, 0, PCI_COMMAND,
	        PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
}

/* The port plus the test device's BARs at TD_BAR0 / TD_IO, decoding and bus mastering on. */
static inline void pci_setup_testdev(void)
{
	pci_setup_port();
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_0, (uint32_t)TD_BAR0);
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_1, 0);
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_2, TD_IO);
	cfg_w16(TD_BUS, 0, 0, PCI_COMMAND,
	        PCI_COMMAND_MEMORY | PCI_COMMAND_IO | PCI_COMMAND_MASTER);
}

/* Offset of capability `id` of a function, 0 if absent. */
static inline unsigned pci_find_cap(unsigned bus, unsigned dev, unsigned fn, uint8_t id)
{
	unsigned at = cfg_r8(bus, dev, fn, PCI_CAPABILITY_LIST);

	for (unsigned n = 0; at && n < 48; n++) {
		if (cfg_r8(bus, dev, fn, at) == id)
			return at;
		at = cfg_r8(bus, dev, fn, at + PCI_CAP_LIST_NEXT);
	}
	return 0;
}

#endif
