/* PIO and MMIO of every width reach a registered handler with the right size and data. */
#include "guest.h"

#define TPORT 0x700
#define TMMIO 0xd0000000ul

void guest_main(uint32_t cpu)
{
	(void)cpu;
	outb(TPORT + 1, 0x11);
	outw(TPORT + 2, 0x2233);
	outl(TPORT + 4, 0x44556677);
	/* The handler answers a read with (offset << 4 | size) repeated in every byte. */
	GUEST_ASSERT(inb(TPORT + 1) == 0x11);
	GUEST_ASSERT(inw(TPORT + 2) == 0x2222);
	GUEST_ASSERT(inl(TPORT + 4) == 0x44444444);

	MMIO8(TMMIO + 0x10) = 0xa1;
	MMIO16(TMMIO + 0x20) = 0xb2b3;
	MMIO32(TMMIO + 0x30) = 0xc4c5c6c7;
	MMIO64(TMMIO + 0x40) = 0xd8d9dadbdcdddedfull;
	GUEST_ASSERT(MMIO8(TMMIO + 0x10) == 0x11);
	GUEST_ASSERT(MMIO16(TMMIO + 0x20) == 0x2222);
	GUEST_ASSERT(MMIO32(TMMIO + 0x30) == 0x34343434);
	GUEST_ASSERT(MMIO64(TMMIO + 0x40) == 0x4848484848484848ull);
}
