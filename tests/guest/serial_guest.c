/* Prints through COM1; the host test finds the text in the serial output file. */
#include "guest.h"

void guest_main(uint32_t cpu)
{
	(void)cpu;
	serial_puts("hello from the guest over COM1\n");
	/* The scratch register holds what was written: a 16550A, not an 8250. */
	outb(0x3f8 + 7, 0x5a);
	GUEST_ASSERT(inb(0x3f8 + 7) == 0x5a);
	/* Loopback: the MSR reflects MCR outputs, as Linux's 8250 probe checks. */
	outb(0x3f8 + 4, 0x10 | 0x0a);
	GUEST_ASSERT((inb(0x3f8 + 6) & 0xf0) == 0x90);
	outb(0x3f8 + 4, 0x03);
}
