/*
 * Unclaimed accesses: reads give all-ones and the VM keeps running.  With "flood" on the
 * command line it hammers unclaimed ports and MMIO thousands of times.
 */
#include "guest.h"

#define HOLE 0xd8000000ul /* in the MMIO hole, nothing registered there */

void guest_main(uint32_t cpu)
{
	unsigned rounds = guest_str_eq(guest_cmdline(), "flood") ? 2000 : 1;

	(void)cpu;
	for (unsigned i = 0; i < rounds; i++) {
		GUEST_ASSERT(MMIO32(HOLE + 8 * (i % 512)) == 0xffffffffu);
		GUEST_ASSERT(MMIO64(HOLE + 0x1000) == ~0ull);
		GUEST_ASSERT(MMIO8(HOLE + 3) == 0xff);
		GUEST_ASSERT(inb(0x7f0) == 0xff);
		GUEST_ASSERT(inw(0x7f2) == 0xffff);
		GUEST_ASSERT(inl(0x7f4) == 0xffffffffu);
		MMIO32(HOLE + 16) = 0x12345678;
		outb(0x7f8 + (i & 7), (uint8_t)i);
	}
	guest_report(1, rounds);
}
