/* Both vCPUs report in, each with its own APIC ID; CPU 0 waits for the other. */
#include "guest.h"

static volatile uint32_t arrived;

void guest_main(uint32_t cpu)
{
	GUEST_ASSERT(lapic_id() == cpu);
	guest_report(0x100 + cpu, lapic_id() + 1);
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
	if (cpu != 0)
		return;
	for (unsigned spins = 0; arrived < 2 && spins < 100000; spins++)
		cpu_relax();
	guest_report(1, arrived);
}
