/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: the Hyper-V interface the guest sees, per the synthetic features the partition
 * was created with.
 *
 * The hypervisor composes CPUID leaves 0x40000000-0x40000006 from the partition's synthetic
 * processor features (SYNTHETIC_PROC_FEATURES, an early property): "Microsoft Hv", HV#1, and
 * in 0x40000003 the privileges those features grant (hv-mshv/abi.h maps them).  The simulator
 * asks KVM which Hyper-V leaves it can emulate (KVM_GET_SUPPORTED_HV_CPUID,
 * Documentation/virt/kvm/api.rst), shows the guest those leaves cut to what the partition was
 * granted, and turns on KVM_CAP_HYPERV_ENFORCE_CPUID so that only granted synthetic MSRs and
 * hypercalls work -- KVM then answers the guest's Hyper-V MSRs (guest OS ID, hypercall page,
 * VP index, reference counter and TSC page, APIC assist) as a Hyper-V partition would.
 *
 * What KVM can emulate is the simulated host's assignable set (sim->assignable): a feature
 * hv-mshv asks for that KVM cannot back is not shown (the real hypervisor's behaviour for an
 * unassignable bit is not in any source read; rust-vmm and Cloud Hypervisor intersect first).
 * KVM's own paravirtual leaves ("KVMKVMKVM") are not shown: the guest runs on Hyper-V.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "tests/mshv-sim/sim.h"

#define HV_LEAF_VENDOR   0x40000000u
#define HV_LEAF_IFACE    0x40000001u
#define HV_LEAF_FEATURES 0x40000003u
#define HV_LEAF_ENLIGHT  0x40000004u
#define HV_LEAF_LAST     0x40000006u

/* CPUID 0x40000003 EBX: PostMessages, SignalEvents (SynIC); EDX bits. */
#define HV_EBX_POST_MESSAGES        (1u << 4)
#define HV_EBX_SIGNAL_EVENTS        (1u << 5)
#define HV_EDX_FREQUENCY_MSRS       (1u << 8)
#define HV_EDX_EXT_GVA_RANGES_FLUSH (1u << 14)
#define HV_EDX_STIMER_DIRECT        (1u << 19)
/* CPUID 0x40000004 EAX (Linux include/hyperv/hvgdk_mini.h, HV_X64_*_RECOMMENDED). */
#define HV_REC_LOCAL_TLB_FLUSH  (1u << 1)
#define HV_REC_REMOTE_TLB_FLUSH (1u << 2)
#define HV_REC_APIC_ACCESS      (1u << 3)
#define HV_REC_RELAXED_TIMING   (1u << 5)
#define HV_REC_CLUSTER_IPI      (1u << 10)
#define HV_REC_EX_PROC_MASKS    (1u << 11)

static const struct kvm_cpuid_entry2 *sim_hv_leaf(const struct mshv_sim *sim, uint32_t leaf)
{
	if (!sim->hv_cpuid)
		return NULL;
	for (uint32_t i = 0; i < sim->hv_cpuid->nent; i++)
		if (sim->hv_cpuid->entries[i].function == leaf)
			return &sim->hv_cpuid->entries[i];
	return NULL;
}

void sim_hv_probe(struct mshv_sim *sim)
{
	struct {
		struct kvm_cpuid2 c;
		struct kvm_cpuid_entry2 e[32];
	} *h = calloc(1, sizeof(*h));
	const struct kvm_cpuid_entry2 *f;
	uint32_t eax;

	sim->assignable = 0;
	if (!h)
		return;
	h->c.nent = 32;
	if (ioctl(sim->dev_fd, KVM_GET_SUPPORTED_HV_CPUID, h) < 0) {
		log_debug("mshv-sim: KVM_GET_SUPPORTED_HV_CPUID: %s; the guest sees no Hyper-V "
		          "leaves",
		          strerror(errno));
		free(h);
		return;
	}
	sim->hv_cpuid = &h->c;
	f = sim_hv_leaf(sim, HV_LEAF_FEATURES);
	eax = f ? f->eax : 0;
	/* The privileges KVM can back, back to feature bits (the inverse of abi.h's map). */
	sim->assignable = MSHV_SYNTH_HYPERVISOR_PRESENT | MSHV_SYNTH_HV1 |
	                  ((uint64_t)(eax & 0x7f) << 2) | ((uint64_t)eax & (7u << 9));
	if (f && (f->edx & HV_EDX_STIMER_DIRECT))
		sim->assignable |= MSHV_SYNTH_DIRECT_STIMERS;
	if (f && (f->edx & HV_EDX_EXT_GVA_RANGES_FLUSH))
		sim->assignable |= MSHV_SYNTH_EXT_GVA_RANGES;
	f = sim_hv_leaf(sim, HV_LEAF_ENLIGHT);
	if (f && (f->eax & HV_REC_REMOTE_TLB_FLUSH))
		sim->assignable |= MSHV_SYNTH_TLB_FLUSH_HYPERCALLS | MSHV_SYNTH_FLUSH_GPA_SPACE;
	if (f && (f->eax & HV_REC_CLUSTER_IPI))
		sim->assignable |= MSHV_SYNTH_CLUSTER_IPI;
	if (f && (f->eax & HV_REC_EX_PROC_MASKS))
		sim->assignable |= MSHV_SYNTH_EXT_PROCESSOR_MASKS;
	sim->assignable |= MSHV_SYNTH_ACCESS_VP_REGS; /* guest register hypercalls: none used */
}

/* One leaf into c, replacing what is there. */
static void sim_put(struct kvm_cpuid2 *c, uint32_t cap, const struct kvm_cpuid_entry2 *e)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		if (c->entries[i].function == e->function) {
			c->entries[i] = *e;
			return;
		}
	}
	if (c->nent < cap)
		c->entries[c->nent++] = *e;
}

void sim_hv_cpuid(const struct mshv_sim *sim, struct kvm_cpuid2 *c, uint32_t cap)
{
	uint64_t f = sim->synth_features & sim->assignable;
	struct kvm_cpuid_entry2 e;
	const struct kvm_cpuid_entry2 *k;
	uint32_t n = 0;

	/* KVM's own leaves go: this is not a KVM guest. */
	for (uint32_t i = 0; i < c->nent; i++)
		if (c->entries[i].function < 0x40000000u || c->entries[i].function > 0x400000ffu)
			c->entries[n++] = c->entries[i];
	c->nent = n;
	if (!(f & MSHV_SYNTH_HYPERVISOR_PRESENT) || !sim->hv_cpuid)
		return;
	e = (struct kvm_cpuid_entry2){ .function = HV_LEAF_VENDOR,
		                       .eax = (f & MSHV_SYNTH_HV1) ? HV_LEAF_LAST : HV_LEAF_IFACE };
	memcpy(&e.ebx, "Micr", 4);
	memcpy(&e.ecx, "osof", 4);
	memcpy(&e.edx, "t Hv", 4);
	sim_put(c, cap, &e);
	e = (struct kvm_cpuid_entry2){ .function = HV_LEAF_IFACE };
	if (f & MSHV_SYNTH_HV1)
		memcpy(&e.eax, "Hv#1", 4);
	sim_put(c, cap, &e);
	if (!(f & MSHV_SYNTH_HV1))
		return;
	/* 0x40000002 (version), 0x40000005 (limits), 0x40000006 (hardware features): KVM's. */
	for (uint32_t leaf = 0x40000002u; leaf <= HV_LEAF_LAST; leaf++) {
		if (leaf == HV_LEAF_FEATURES || leaf == HV_LEAF_ENLIGHT)
			continue;
		if ((k = sim_hv_leaf(sim, leaf)))
			sim_put(c, cap, k);
	}
	k = sim_hv_leaf(sim, HV_LEAF_FEATURES);
	e = (struct kvm_cpuid_entry2){ .function = HV_LEAF_FEATURES };
	if (k) {
		e.eax = k->eax & MSHV_SYNTH_TO_CPUID_PRIVILEGES(f);
		e.ebx = k->ebx &
		        ((f & MSHV_SYNTH_ACCESS_SYNIC) ? HV_EBX_POST_MESSAGES | HV_EBX_SIGNAL_EVENTS
		                                       : 0);
		e.edx =
		    k->edx & (((f & MSHV_SYNTH_ACCESS_FREQUENCY) ? HV_EDX_FREQUENCY_MSRS : 0) |
		              ((f & MSHV_SYNTH_DIRECT_STIMERS) ? HV_EDX_STIMER_DIRECT : 0) |
		              ((f & MSHV_SYNTH_EXT_GVA_RANGES) ? HV_EDX_EXT_GVA_RANGES_FLUSH : 0));
	}
	sim_put(c, cap, &e);
	k = sim_hv_leaf(sim, HV_LEAF_ENLIGHT);
	e = (struct kvm_cpuid_entry2){ .function = HV_LEAF_ENLIGHT };
	if (k) {
		e.eax =
		    k->eax & (HV_REC_RELAXED_TIMING |
		              ((f & MSHV_SYNTH_TLB_FLUSH_HYPERCALLS)
		                   ? HV_REC_LOCAL_TLB_FLUSH | HV_REC_REMOTE_TLB_FLUSH
		                   : 0) |
		              ((f & MSHV_SYNTH_ACCESS_INTR_CTRL) ? HV_REC_APIC_ACCESS : 0) |
		              ((f & MSHV_SYNTH_CLUSTER_IPI) ? HV_REC_CLUSTER_IPI : 0) |
		              ((f & MSHV_SYNTH_EXT_PROCESSOR_MASKS) ? HV_REC_EX_PROC_MASKS : 0));
		e.ebx = k->ebx; /* spinlock retries */
	}
	sim_put(c, cap, &e);
}
