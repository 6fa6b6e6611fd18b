/*
 * A hostile guest: BARs placed over RAM, the ECAM window, the IOAPIC, the LAPIC, config ports
 * and each other, then thousands of random config writes of every width over every function
 * through ECAM and 0xCF8/0xCFC, and writes around and past the MSI-X table.  hvmm must carry
 * on, and guest RAM must be untouched.
 */
#include "pci_guest.h"

#define PATTERN_SIZE 0x2000
#define CODE         0x100000ul
#define CODE_SIZE    0x1000
#define STORM        2500

static uint8_t pattern[PATTERN_SIZE] __attribute__((aligned(4096)));
static uint64_t rng = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static uint32_t sum(const volatile uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static const uint64_t evil[] = {
	CODE,          0x0,
	0xe0000000ull, 0xe0000000ull + PCI_ECAM_OFFSET(TD_BUS, 0, 0),
	0xfec00000ull, 0xfee00000ull,
	0xfffff000ull, 0xffffffffull,
	0xc0000000ull, 0xfffffffffffff000ull,
};

static void bar0_at(uint64_t a)
{
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_0, (uint32_t)a);
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_1, (uint32_t)(a >> 32));
}

/* Open the port's windows over all of memory and I/O, so placements meet the platform's checks. */
static void open_windows(void)
{
	cfg_w16(0, RP_DEV, 0, PCI_MEMORY_BASE, 0);
	cfg_w16(0, RP_DEV, 0, PCI_MEMORY_LIMIT, 0xfff0);
	cfg_w16(0, RP_DEV, 0, PCI_PREF_MEMORY_BASE, 0);
	cfg_w16(0, RP_DEV, 0, PCI_PREF_MEMORY_LIMIT, 0xfff0);
	cfg_w32(0, RP_DEV, 0, PCI_PREF_BASE_UPPER32, 0);
	cfg_w32(0, RP_DEV, 0, PCI_PREF_LIMIT_UPPER32, 0xffffffff);
	cfg_w8(0, RP_DEV, 0, PCI_IO_BASE, 0);
	cfg_w8(0, RP_DEV, 0, PCI_IO_LIMIT, 0xf0);
}

/* The platform still works: ECAM, the IOAPIC, guest calls. */
static void platform_ok(void)
{
	GUEST_ASSERT(cfg_r16(0, 0, 0, PCI_VENDOR_ID) == PCI_VENDOR_REDHAT);
	GUEST_ASSERT((ioapic_read(1) & 0xff) == 0x11);
	GUEST_ASSERT(lapic_id() == 0);
}

static void storm_write(uint64_t r)
{
	static const uint8_t buses[] = { 0, 0, TD_BUS, 2 }; /* 2: the second device */
	unsigned bus = buses[r & 3], dev = (r >> 2) & 3, fn = (r >> 4) & 1;
	unsigned len = 1u << ((r >> 5) & 3), off = (r >> 8) & 0xfff;
	uint64_t v = r & (1ull << 60) ? evil[(r >> 12) % (sizeof(evil) / sizeof(evil[0]))] : rnd();

	if (r & (1ull << 61))
		off &= 0x3f; /* the header, often */
	off &= ~(len - 1);
	if (len == 8) {
		MMIO64(ecam(bus, dev, fn, off)) = v;
	} else if (off < 256 && (r & (1ull << 62))) {
		/* Through 0xCFC: the address is always a dword write, never a byte at 0xCF9. */
		outl(PCI_CONF1_ADDR_PORT, conf1_addr(bus, dev, fn, off));
		if (len == 1)
			outb(PCI_CONF1_DATA_PORT + (off & 3), (uint8_t)v);
		else if (len == 2)
			outw(PCI_CONF1_DATA_PORT + (off & 2), (uint16_t)v);
		else
			outl(PCI_CONF1_DATA_PORT, (uint32_t)v);
	} else if (len == 1) {
		cfg_w8(bus, dev, fn, off, (uint8_t)v);
	} else if (len == 2) {
		cfg_w16(bus, dev, fn, off, (uint16_t)v);
	} else {
		cfg_w32(bus, dev, fn, off, (uint32_t)v);
	}
}

/* Table entries, bytes past the table up to the PBA, and the PBA: any width. */
static void table_write(uint64_t r)
{
	unsigned len = 1u << ((r >> 2) & 3);
	uint64_t at = TD_BAR0 + TESTDEV_MSIX_TABLE + (((r >> 8) % 0x1010) & ~(uint64_t)(len - 1));
	uint64_t v = rnd();

	if (len == 1)
		MMIO8(at) = (uint8_t)v;
	else if (len == 2)
		MMIO16(at) = (uint16_t)v;
	else if (len == 4)
		MMIO32(at) = (uint32_t)v;
	else
		MMIO64(at) = v;
}

void guest_main(uint32_t cpu)
{
	uint32_t pat, code;

	(void)cpu;
	for (unsigned i = 0; i < PATTERN_SIZE; i++)
		pattern[i] = (uint8_t)(i ^ (i >> 8) ^ 0xa5);
	pat = sum(pattern, PATTERN_SIZE);
	code = sum((const volatile uint8_t *)CODE, CODE_SIZE);
	pci_setup_testdev();
	open_windows();
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	/* BAR0 over RAM (the code, the pattern), ECAM, the IOAPIC, the LAPIC, the top of 4 GiB. */
	for (unsigned i = 0; i < sizeof(evil) / sizeof(evil[0]); i++) {
		bar0_at(evil[i]);
		platform_ok();
	}
	bar0_at((uintptr_t)pattern);
	GUEST_ASSERT(pattern[4] == (uint8_t)(4 ^ 0xa5));
	/* The ROM over BAR0, the I/O BAR over the config ports, COM1 and the guest-call port. */
	bar0_at(TD_BAR0);
	cfg_w32(TD_BUS, 0, 0, PCI_ROM_ADDRESS, (uint32_t)TD_BAR0 | PCI_ROM_ADDRESS_ENABLE);
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	/* With BAR0 gone the ROM would take its place: off with it. */
	cfg_w32(TD_BUS, 0, 0, PCI_ROM_ADDRESS, 0);
	static const uint32_t ports[] = { 0xcf8, 0xce0, 0x3e0, 0xfe0, 0x600, 0xffe0 };
	for (unsigned i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_2, ports[i]);
		platform_ok();
		GUEST_ASSERT(conf1_r16(0, 0, 0, PCI_VENDOR_ID) == PCI_VENDOR_REDHAT);
	}
	/* The second device (behind 00:02.0, bus 2) stacked on the first: it does not decode. */
	cfg_w8(0, RP_DEV + 1, 0, PCI_SECONDARY_BUS, 2);
	cfg_w8(0, RP_DEV + 1, 0, PCI_SUBORDINATE_BUS, 2);
	cfg_w16(0, RP_DEV + 1, 0, PCI_MEMORY_BASE, 0);
	cfg_w16(0, RP_DEV + 1, 0, PCI_MEMORY_LIMIT, 0xfff0);
	cfg_w16(0, RP_DEV + 1, 0, PCI_COMMAND, PCI_COMMAND_MEMORY);
	GUEST_ASSERT(cfg_r16(2, 0, 0, PCI_DEVICE_ID) == TESTDEV_DEVICE_ID);
	cfg_w32(2, 0, 0, PCI_BASE_ADDRESS_0, (uint32_t)TD_BAR0 + 0x2000);
	cfg_w32(2, 0, 0, PCI_BASE_ADDRESS_1, 0);
	cfg_w16(2, 0, 0, PCI_COMMAND, PCI_COMMAND_MEMORY);
	MMIO64(TD_BAR0 + TESTDEV_REG_SCRATCH) = 0x5a5a;
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	GUEST_ASSERT(MMIO64(TD_BAR0 + TESTDEV_REG_SCRATCH) == 0x5a5a);
	/* Moved clear of the first, it decodes with its own registers. */
	cfg_w32(2, 0, 0, PCI_BASE_ADDRESS_0, (uint32_t)TD_BAR0 + 0x100000);
	GUEST_ASSERT(MMIO32(TD_BAR0 + 0x100000 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	GUEST_ASSERT(MMIO64(TD_BAR0 + 0x100000 + TESTDEV_REG_SCRATCH) == 0);
	/* And the first, moved onto the second, stops decoding; moved back, it is there again. */
	bar0_at(TD_BAR0 + 0x100000);
	GUEST_ASSERT(MMIO64(TD_BAR0 + 0x100000 + TESTDEV_REG_SCRATCH) == 0);
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == 0xffffffffu);
	bar0_at(TD_BAR0);
	GUEST_ASSERT(MMIO64(TD_BAR0 + TESTDEV_REG_SCRATCH) == 0x5a5a);
	guest_print("hostile: directed placements survived\n");
	/*
	 * The MSI-X table, the bytes past it and the PBA, with MSI-X on: random vector control
	 * words make vectors go live with random messages (nothing rings, so nothing fires).
	 */
	cfg_w32(TD_BUS, 0, 0, PCI_BASE_ADDRESS_2, TD_IO);
	cfg_w16(TD_BUS, 0, 0, pci_find_cap(TD_BUS, 0, 0, PCI_CAP_ID_MSIX) + PCI_MSIX_FLAGS,
	        PCI_MSIX_FLAGS_ENABLE);
	for (unsigned i = 0; i < STORM / 4; i++)
		table_write(rnd());
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	/* The storm. */
	for (unsigned i = 0; i < STORM; i++) {
		uint64_t r = rnd();

		storm_write(r);
		if (!(i % 4))
			table_write(rnd());
	}
	platform_ok();
	/* Firmware-like set-up again, and the device works. */
	pci_setup_testdev();
	cfg_w32(TD_BUS, 0, 0, PCI_ROM_ADDRESS, 0);
	GUEST_ASSERT(cfg_r32(TD_BUS, 0, 0, PCI_VENDOR_ID) ==
	             ((uint32_t)TESTDEV_DEVICE_ID << 16 | PCI_VENDOR_REDHAT));
	GUEST_ASSERT(MMIO32(TD_BAR0 + TESTDEV_REG_ID) == TESTDEV_ID_VALUE);
	GUEST_ASSERT(sum(pattern, PATTERN_SIZE) == pat);
	GUEST_ASSERT(sum((const volatile uint8_t *)CODE, CODE_SIZE) == code);
	guest_report(1, (uintptr_t)pattern);
	guest_report(2, STORM);
}
