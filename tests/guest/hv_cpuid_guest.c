/*
 * What the guest sees of the hypervisor's interface: CPUID 0x40000000-0x40000004, and on
 * Hyper-V the synthetic MSRs its privileges grant (VP index, reference counter).
 */
#include "guest.h"

#define HV_X64_MSR_VP_INDEX       0x40000002u
#define HV_X64_MSR_TIME_REF_COUNT 0x40000020u
#define HV_PRIV_REF_COUNTER       (1u << 1)
#define HV_PRIV_VP_INDEX          (1u << 6)

static void cpuid(uint32_t leaf, uint32_t r[4])
{
	__asm__ volatile("cpuid"
	                 : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3])
	                 : "a"(leaf), "c"(0));
}

static uint64_t rdmsr(uint32_t msr)
{
	uint32_t lo, hi;

	__asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
	return lo | (uint64_t)hi << 32;
}

void guest_main(uint32_t cpu)
{
	uint32_t r[4], priv;
	uint64_t t0, t1;

	if (cpu != 0)
		return;
	cpuid(0x40000000, r);
	guest_report(0x10, r[0]);
	guest_report(0x11, r[1] | (uint64_t)r[2] << 32);
	guest_report(0x12, r[3]);
	cpuid(0x40000001, r);
	guest_report(0x13, r[0]);
	/* "Microsoft Hv": the Hyper-V leaves and what they grant. */
	cpuid(0x40000000, r);
	if (r[1] != 0x7263694d || r[2] != 0x666f736f || r[3] != 0x76482074)
		return;
	cpuid(0x40000003, r);
	priv = r[0];
	guest_report(0x20, r[0]);
	guest_report(0x21, r[1]);
	guest_report(0x22, r[3]);
	cpuid(0x40000004, r);
	guest_report(0x23, r[0]);
	if (priv & HV_PRIV_VP_INDEX)
		guest_report(0x30, rdmsr(HV_X64_MSR_VP_INDEX) + 1);
	if (priv & HV_PRIV_REF_COUNTER) {
		t0 = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
		for (unsigned i = 0; i < 100000; i++)
			cpu_relax();
		t1 = rdmsr(HV_X64_MSR_TIME_REF_COUNT);
		guest_report(0x31, t1 > t0);
	}
}
