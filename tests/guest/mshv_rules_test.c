/*
 * The simulated host's own rules (tests/mshv-sim), checked on a VM that has just run a guest:
 * hypercalls that stop for a memory deposit (EAGAIN, register rep calls with half their reps
 * done) leave hv-mshv's register accesses exact; guest RAM is pinned at map time and a
 * mapping the process cannot write cannot be; a route to an APIC ID without a VP, or an
 * irqfd without a route, sent past hv-mshv's filter, is a simulated host fault.  Nothing to
 * check on the other columns: these are the simulator's rules.
 */
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "guest.h"
#include "tests/mshv-sim/sim.h"

/* Register reads and writes through hypercalls, every other one stopped for a deposit. */
static int rules_eagain(struct gt_ctx *c, struct mshv_sim *sim)
{
	const struct hv_ops *hv = c->vm->hv;
	struct hv_vcpu *v0 = c->vm->vcpus[0].hv;
	struct mshv_sim_stats a, b;
	struct hv_regs orig, r, back;
	struct hv_sregs s;
	int bad = 0;

	mshv_sim_get_stats(&a);
	sim->opts.eagain_every = 2;
	if (hv->vcpu_get_regs(v0, &orig))
		bad = gt_fail(c, "vcpu_get_regs failed under EAGAIN");
	for (unsigned i = 0; i < 8 && !bad; i++) {
		r = orig;
		r.r15 = 0x1234 + i;
		r.r8 = ~r.r15;
		if (hv->vcpu_set_regs(v0, &r) || hv->vcpu_get_regs(v0, &back) ||
		    hv->vcpu_get_sregs(v0, &s))
			bad = gt_fail(c, "a register hypercall failed under EAGAIN");
		else if (memcmp(&r, &back, sizeof(r)))
			bad = gt_fail(c,
			              "registers set and read back differ under EAGAIN (r15 %#llx)",
			              (unsigned long long)back.r15);
	}
	/* Left as the guest left them: the cross-check at close compares them with KVM's. */
	if (hv->vcpu_set_regs(v0, &orig) && !bad)
		bad = gt_fail(c, "restoring the registers failed");
	sim->opts.eagain_every = 0;
	mshv_sim_get_stats(&b);
	if (!bad && (b.eagains - a.eagains < 4 || b.eagain_partial == a.eagain_partial))
		bad = gt_fail(c, "%llu EAGAIN, %llu of them partial: the rule did not fire",
		              (unsigned long long)(b.eagains - a.eagains),
		              (unsigned long long)(b.eagain_partial - a.eagain_partial));
	return bad;
}

/* Pinning: the guest's RAM was committed at map time; a read-only mapping cannot be pinned. */
static int rules_pinning(struct gt_ctx *c)
{
	const struct hv_ops *hv = c->vm->hv;
	struct mshv_sim_stats a, b;
	struct hv_mem_region r = { 0x200000000ull, 4096, NULL, HV_MEM_READONLY };
	void *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *rw = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int bad = 0, e;

	mshv_sim_get_stats(&a);
	if (a.pinned < c->vm->mem.ram_size)
		bad =
		    gt_fail(c, "%llu bytes pinned, the guest has %llu of RAM",
		            (unsigned long long)a.pinned, (unsigned long long)c->vm->mem.ram_size);
	r.hva = ro;
	if (!bad && (e = hv->mem_map(c->vm->hvm, &r)) != -EFAULT)
		bad =
		    gt_fail(c, "mapping a read-only page answered %d, not EFAULT (FOLL_WRITE)", e);
	r.hva = rw;
	if (!bad && (hv->mem_map(c->vm->hvm, &r) || hv->mem_unmap(c->vm->hvm, &r)))
		bad = gt_fail(c, "mapping a writable page failed");
	mshv_sim_get_stats(&b);
	if (!bad && b.pinned - a.pinned != 4096)
		bad = gt_fail(c, "the writable page was not pinned");
	munmap(ro, 4096);
	munmap(rw, 4096);
	return bad;
}

/* Rule S2, past hv-mshv's filter: both are host faults, then forgiven. */
static int rules_s2(struct gt_ctx *c, struct mshv_sim *sim)
{
	const struct mshv_sys *sys = mshv_vm_sys(c->vm->hvm);
	struct {
		struct mshv_user_irq_table t;
		struct mshv_user_irq_entry e;
	} tab = { .t = { .nr = 1 }, .e = { .gsi = 40, .address_lo = 0xfee05000, .data = 0x4041 } };
	struct mshv_user_irqfd q = { .gsi = 41 };
	int bad = 0, e;

	if ((e = sys->ioctl(sys->ctx, sim->part_fd, MSHV_SET_MSI_ROUTING, &tab)) != -EIO ||
	    mshv_sim_take_faults(sim) != 1)
		bad = gt_fail(c, "a route to APIC ID 5 (no VP) was not a host fault (%d)", e);
	q.fd = eventfd(0, EFD_CLOEXEC);
	if (!bad && ((e = sys->ioctl(sys->ctx, sim->part_fd, MSHV_IRQFD, &q)) != -EIO ||
	             mshv_sim_take_faults(sim) != 1))
		bad = gt_fail(c, "an irqfd on a GSI without a route was not a host fault (%d)", e);
	if (q.fd >= 0)
		close(q.fd);
	return bad;
}

static int rules_check(struct gt_ctx *c)
{
	struct mshv_sim *sim;

	if (strcmp(c->hv->name, "mshv-sim"))
		return 0;
	sim = mshv_vm_sys(c->vm->hvm)->ctx;
	if (rules_eagain(c, sim) || rules_pinning(c) || rules_s2(c, sim))
		return -1;
	return 0;
}

GUEST_TEST(gt_mshv_rules) = {
	.name = "mshv_rules",
	.guest = "hv_cpuid",
	.expect_done = true,
	.check = rules_check,
};
