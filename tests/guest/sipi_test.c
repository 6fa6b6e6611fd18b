/*
 * APs in wait-for-SIPI (HV_VCPU_WAIT_SIPI: on MSHV the startup-suspend activity state) are
 * started by the guest's INIT/SIPI, which the hypervisor's LAPIC handles; each reads its own
 * initial APIC ID.  This is how Linux brings up its CPUs on hvmm.
 */
#include "guest.h"

#define NR_CPUS 3

/* After boot_load() made every vCPU runnable at the ELF entry: the APs wait instead. */
static int sipi_setup(struct gt_ctx *c)
{
	for (uint32_t i = 1; i < NR_CPUS; i++) {
		if (c->vm->hv->vcpu_set_state(c->vm->vcpus[i].hv, HV_VCPU_WAIT_SIPI))
			return gt_fail(c, "vCPU %u: cannot make it wait for SIPI", i);
	}
	return 0;
}

static int sipi_check(struct gt_ctx *c)
{
	uint64_t v;

	if (!gt_report(c, 0, &v) || v != 0)
		return gt_fail(c, "an AP ran before its SIPI (%llu arrivals)",
		               (unsigned long long)v);
	if (!gt_report(c, 1, &v) || v != NR_CPUS - 1)
		return gt_fail(c, "%llu of %u APs started after INIT/SIPI", (unsigned long long)v,
		               NR_CPUS - 1);
	for (uint32_t id = 1; id < NR_CPUS; id++) {
		if (!gt_report(c, 0x100 + id, &v) || v != (0x5a000000u | id))
			return gt_fail(c, "AP %u read %#llx, not its initial APIC ID", id,
			               (unsigned long long)v);
	}
	return 0;
}

GUEST_TEST(gt_sipi) = {
	.name = "sipi",
	.cpus = NR_CPUS,
	.expect_done = true,
	.setup = sipi_setup,
	.check = sipi_check,
};
