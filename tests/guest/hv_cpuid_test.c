/*
 * The hypervisor's CPUID leaves as the guest sees them.  On mshv-sim they are the Hyper-V
 * leaves the partition's synthetic features grant (tests/mshv-sim/sim_hv.c): "Microsoft Hv",
 * HV#1, and in 0x40000003 exactly the privileges hv-mshv asked for that the simulated host can
 * back -- never the SynIC or synthetic timers, which hvmm does not offer -- with the granted
 * MSRs working.  On KVM the guest does not see Hyper-V.
 */
#include <string.h>

#include "guest.h"
#include "tests/mshv-sim/sim.h"

#define PRIV_REF_COUNTER (1u << 1)
#define PRIV_SYNIC       (1u << 2)
#define PRIV_STIMER      (1u << 3)
#define PRIV_HYPERCALL   (1u << 5)
#define PRIV_VP_INDEX    (1u << 6)

static int hv_cpuid_check(struct gt_ctx *c)
{
	uint64_t sig = 0, iface = 0, priv = 0, v;
	bool hyperv;

	if (!gt_report(c, 0x11, &sig) || !gt_report(c, 0x13, &iface))
		return gt_fail(c, "the guest reported no CPUID 0x40000000");
	hyperv = sig == (0x7263694dull | 0x666f736full << 32);
	if (strcmp(c->hv->name, "mshv-sim")) {
		if (hyperv && !strcmp(c->hv->name, "kvm"))
			return gt_fail(c, "a KVM guest sees Microsoft Hv");
		return 0;
	}
	if (!hyperv)
		return gt_fail(c, "CPUID 0x40000000 is not \"Microsoft Hv\" (%#llx)",
		               (unsigned long long)sig);
	if (iface != 0x31237648) /* "Hv#1" */
		return gt_fail(c, "CPUID 0x40000001 EAX %#llx, not \"Hv#1\"",
		               (unsigned long long)iface);
	if (!gt_report(c, 0x20, &priv))
		return gt_fail(c, "no CPUID 0x40000003");
	{
		struct mshv_sim *sim = mshv_vm_sys(c->vm->hvm)->ctx;
		uint32_t want =
		    MSHV_SYNTH_TO_CPUID_PRIVILEGES(sim->synth_features & sim->assignable);

		if (priv != want)
			return gt_fail(c,
			               "CPUID 0x40000003 EAX %#llx, the partition was granted %#x",
			               (unsigned long long)priv, want);
	}
	if (priv & (PRIV_SYNIC | PRIV_STIMER))
		return gt_fail(c, "the guest sees SynIC or synthetic timers (%#llx)",
		               (unsigned long long)priv);
	if ((priv & (PRIV_REF_COUNTER | PRIV_HYPERCALL | PRIV_VP_INDEX)) !=
	    (PRIV_REF_COUNTER | PRIV_HYPERCALL | PRIV_VP_INDEX))
		return gt_fail(c,
		               "reference counter, hypercall or VP index privilege missing (%#llx)",
		               (unsigned long long)priv);
	if (!gt_report(c, 0x30, &v) || v != 1)
		return gt_fail(c, "HV_X64_MSR_VP_INDEX of CPU 0 reads %llu",
		               (unsigned long long)v - 1);
	if (!gt_report(c, 0x31, &v) || v != 1)
		return gt_fail(c, "the reference counter does not advance");
	return 0;
}

GUEST_TEST(gt_hv_cpuid) = {
	.name = "hv_cpuid",
	.expect_done = true,
	.check = hv_cpuid_check,
};
