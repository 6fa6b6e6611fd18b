/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target platform: the chipset a guest talks to besides PCI devices -- the userspace
 * IOAPIC (MMIO at MEM_IOAPIC_BASE), COM1 (ports 0x3f8-0x3ff), the ACPI power and reset
 * registers, the i8042 reset port, 0xCF8-0xCFF -- on a VM of the fake hypervisor.  Accesses
 * go through the real entry points (bus_access on the PIO and MMIO buses) at any size and
 * offset; lines are raised and lowered, EOIs broadcast and serial input arrives as the
 * vCPU and event-loop threads would deliver them.
 *
 * Input: 11-byte records  op, sel, offset (u8), value (u64); see op() for their meaning.
 *
 * Checked at every step: the IOAPIC's version register never changes, a redirection entry
 * reads back what the guest wrote in it but for its read-only bits (delivery status, Remote
 * IRR), an edge-triggered pin never holds Remote IRR, no pin has more than one irqfd; COM1's
 * scratch register reads back the byte written; an access nothing claims reads all-ones.
 * After the VM is gone: no irqfd and no file descriptor is left.
 */
#include <string.h>

#include "devices/devices.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/unit.h"

#define RAM_SIZE  MiB(4)
#define MAX_OPS   1024
#define COM1      0x3f8
#define IOREGSEL  0x00
#define IOWIN     0x10
#define RTE_RO    ((1u << 12) | (1u << 14))
#define RTE_LEVEL (1u << 15)
#define RTE_RIRR  (1u << 14)
#define VERSION   (0x11u | ((IOAPIC_PINS - 1) << 16))

static uint32_t ioapic_rd(struct vm *vm, uint32_t index)
{
	uint32_t v = 0;

	bus_access(&vm->mmio, MEM_IOAPIC_BASE + IOREGSEL, &index, 4, true);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + IOWIN, &v, 4, false);
	return v;
}

static void ioapic_wr(struct vm *vm, uint32_t index, uint32_t v)
{
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + IOREGSEL, &index, 4, true);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + IOWIN, &v, 4, true);
}

/* Ports and addresses the platform decodes somewhere near, so raw accesses land on them. */
static const uint16_t ports[] = { COM1, 0x600, 0x64, 0x60, 0xcf8, 0xcf9, 0x70, 0x80 };

static void check(struct vm *vm)
{
	FUZZ_CHECK(ioapic_rd(vm, 1) == VERSION);
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint32_t lo = ioapic_rd(vm, 0x10 + 2 * pin);

		FUZZ_CHECK((lo & RTE_LEVEL) || !(lo & RTE_RIRR));
	}
	FUZZ_CHECK(fake_hv_record()->irqfds <= IOAPIC_PINS);
}

static void op(struct pc *pc, struct fuzz_in *in)
{
	struct vm *vm = pc->vm;
	uint8_t kind = fuzz_u8(in), sel = fuzz_u8(in), off = fuzz_u8(in);
	uint64_t val = fuzz_u64(in), got = 0;
	uint32_t len = 1u << (sel & 3), pin = sel % IOAPIC_PINS;
	bool write = sel & 4;
	struct bus_range br;

	switch (kind % 8) {
	case 0: /* raw MMIO in the IOAPIC's page, any size and offset */
		bus_access(&vm->mmio, MEM_IOAPIC_BASE + off, &val, len, write);
		break;
	case 1: { /* a redirection entry's half, written as a guest does, read back */
		uint32_t index = 0x10 + 2 * pin + (sel >> 7), want = (uint32_t)val;

		ioapic_wr(vm, index, want);
		got = ioapic_rd(vm, index);
		if (index & 1)
			FUZZ_CHECK(got == want);
		else
			FUZZ_CHECK((got & ~RTE_RO) == (want & ~RTE_RO));
		break;
	}
	case 2: /* a line, from a device model */
		ioapic_set_irq(pc->ioapic, pin, val & 1);
		break;
	case 3: /* an EOI broadcast from the local APICs */
		ioapic_eoi(pc->ioapic, (uint8_t)val);
		break;
	case 4: /* raw port I/O near the platform's ports */
		bus_access(&vm->pio, (uint16_t)(ports[sel % ARRAY_SIZE(ports)] + (off & 7)), &val,
		           len > 4 ? 4 : len, write);
		break;
	case 5: /* COM1's scratch register keeps what was written */
		bus_access(&vm->pio, COM1 + 7, &val, 1, true);
		bus_access(&vm->pio, COM1 + 7, &got, 1, false);
		FUZZ_CHECK((uint8_t)got == (uint8_t)val);
		break;
	case 6: { /* serial input arriving from the terminal */
		size_t n;
		const uint8_t *b = fuzz_bytes(in, off & 31, &n);

		serial_receive(pc->serial, b, n);
		break;
	}
	case 7: /* anything unclaimed reads all-ones */
		if (bus_find(&vm->pio, (uint16_t)val, &br) == -ENOENT) {
			got = 0;
			FUZZ_CHECK(
			    !bus_access(&vm->pio, (uint16_t)val, &got, len > 4 ? 4 : len, false));
			FUZZ_CHECK(got == (len >= 4 ? 0xffffffffull : (1ull << (8 * len)) - 1));
		}
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct pc *pc;
	int fd = fuzz_lowest_free_fd();

	log_set_level(LOG_ERR);
	fake_hv_reset();
	if (fake_pc_create(1, RAM_SIZE, &pc))
		fuzz_fail(__FILE__, __LINE__, "setting up the VM");
	FUZZ_CHECK(pc->ioapic && pc->serial);
	for (unsigned i = 0; i < MAX_OPS && in.n; i++) {
		op(pc, &in);
		check(pc->vm);
	}
	vm_destroy(pc->vm);
	FUZZ_CHECK(fake_hv_record()->irqfds == 0);
	FUZZ_CHECK(fuzz_lowest_free_fd() == fd);
	return 0;
}
