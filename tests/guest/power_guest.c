/* Powers off through the ACPI sleep register, or resets through the i8042 ("reset"). */
#include "guest.h"

void guest_main(uint32_t cpu)
{
	(void)cpu;
	guest_report(1, 1);
	if (guest_str_eq(guest_cmdline(), "reset"))
		outb(0x64, 0xfe);
	else
		outb(0x600, (5 << 2) | (1 << 5)); /* SLP_TYP = S5, SLP_EN */
	for (unsigned i = 0; i < 100000; i++)
		cpu_relax();
	guest_report(2, 1); /* still running: the request was lost */
	guest_done(1);
}
