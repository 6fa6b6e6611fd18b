/*
 * An MMIO access right after an exception the guest handled itself.  Each round takes a
 * breakpoint (#BP, which no hypervisor intercepts here), returns from its handler, and at
 * once writes and reads the test device.  Under an SVM that leaves the delivered event's
 * type in EXITINTINFO (QEMU's TCG), KVM 6.14 and later refuse such an access as one made
 * during event delivery; the VMM must run it anyway.
 */
#include "guest.h"

#define TMMIO  0xd0000000ul
#define ROUNDS 200

static volatile unsigned breakpoints;

static void on_breakpoint(uint32_t vector)
{
	(void)vector;
	breakpoints++;
}

void guest_main(uint32_t cpu)
{
	(void)cpu;
	idt_init();
	idt_set_handler(3, on_breakpoint);
	for (unsigned i = 0; i < ROUNDS; i++) {
		__asm__ volatile("int3" ::: "memory");
		MMIO32(TMMIO + 4 * (i % 64)) = i;
		__asm__ volatile("int3" ::: "memory");
		GUEST_ASSERT(MMIO32(TMMIO + 4 * (i % 64)) == i);
	}
	GUEST_ASSERT(breakpoints == 2 * ROUNDS);
	guest_report(1, ROUNDS);
}
