/* Two vCPUs both report in. */
#include "guest.h"

static int smp_check(struct gt_ctx *c)
{
	uint64_t v;

	for (uint32_t cpu = 0; cpu < 2; cpu++) {
		if (!gt_report(c, 0x100 + cpu, &v) || v != cpu + 1)
			return gt_fail(c, "vCPU %u did not report its APIC ID", cpu);
	}
	if (!gt_report(c, 1, &v) || v != 2)
		return gt_fail(c, "CPU 0 saw %llu CPUs arrive", (unsigned long long)v);
	return 0;
}

GUEST_TEST(gt_smp) = {
	.name = "smp",
	.cpus = 2,
	.expect_done = true,
	.check = smp_check,
};
