/* Loads an empty IDT and faults: #UD -> #DF -> triple fault. */
#include "guest.h"

void guest_main(uint32_t cpu)
{
	struct {
		uint16_t limit;
		uint64_t base;
	} __attribute__((packed)) empty = { 0, 0 };

	(void)cpu;
	guest_report(1, 1);
	__asm__ volatile("lidt %0; ud2" ::"m"(empty));
	guest_report(2, 1); /* never reached */
}
