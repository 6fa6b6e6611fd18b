/* SPDX-License-Identifier: MIT */
/* hv-mshv: virtual processors, their registers, CPUID results and the kick. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hv-mshv/internal.h"

/* ---- register marshalling (pure) ---- */

/* In struct hv_regs field order. */
const uint32_t mshv_regs_names[MSHV_NR_REGS] = {
	MSHV_REG_GPR(EMU_REG_RAX),
	MSHV_REG_GPR(EMU_REG_RBX),
	MSHV_REG_GPR(EMU_REG_RCX),
	MSHV_REG_GPR(EMU_REG_RDX),
	MSHV_REG_GPR(EMU_REG_RSI),
	MSHV_REG_GPR(EMU_REG_RDI),
	MSHV_REG_GPR(EMU_REG_RSP),
	MSHV_REG_GPR(EMU_REG_RBP),
	MSHV_REG_GPR(EMU_REG_R8),
	MSHV_REG_GPR(EMU_REG_R9),
	MSHV_REG_GPR(EMU_REG_R10),
	MSHV_REG_GPR(EMU_REG_R11),
	MSHV_REG_GPR(EMU_REG_R12),
	MSHV_REG_GPR(EMU_REG_R13),
	MSHV_REG_GPR(EMU_REG_R14),
	MSHV_REG_GPR(EMU_REG_R15),
	MSHV_REG_RIP,
	MSHV_REG_RFLAGS,
};

/*
 * Control registers come first, in the order that enters long mode legally when the
 * hypervisor applies them one by one: PAE, then LME, then the page tables, then PG.
 */
const uint32_t mshv_sregs_names[MSHV_NR_SREGS] = {
	MSHV_REG_CR4, MSHV_REG_EFER, MSHV_REG_CR3,  MSHV_REG_CR2,  MSHV_REG_CR8,       MSHV_REG_CR0,
	MSHV_REG_CS,  MSHV_REG_DS,   MSHV_REG_ES,   MSHV_REG_FS,   MSHV_REG_GS,        MSHV_REG_SS,
	MSHV_REG_TR,  MSHV_REG_LDTR, MSHV_REG_GDTR, MSHV_REG_IDTR, MSHV_REG_APIC_BASE,
};

void mshv_regs_pack(const struct hv_regs *r, union mshv_reg_value v[MSHV_NR_REGS])
{
	const uint64_t *f = &r->rax; /* struct hv_regs is 18 consecutive u64 in name order */

	_Static_assert(sizeof(struct hv_regs) == MSHV_NR_REGS * sizeof(uint64_t), "hv_regs");
	memset(v, 0, MSHV_NR_REGS * sizeof(*v));
	for (size_t i = 0; i < MSHV_NR_REGS; i++)
		memcpy(&v[i].reg64, (const uint8_t *)r + i * sizeof(*f), sizeof(*f));
}

void mshv_regs_unpack(struct hv_regs *r, const union mshv_reg_value v[MSHV_NR_REGS])
{
	for (size_t i = 0; i < MSHV_NR_REGS; i++)
		memcpy((uint8_t *)r + i * sizeof(uint64_t), &v[i].reg64, sizeof(uint64_t));
}

void mshv_seg_to_hv(struct mshv_seg *o, const struct hv_segment *s)
{
	/* Hyper-V has no "unusable" bit: an unusable segment is a not-present one. */
	bool present = s->present && !s->unusable;

	*o = (struct mshv_seg){
		.base = s->base,
		.limit = s->limit,
		.selector = s->selector,
		.attributes = (uint16_t)((s->type & 0xf) | (s->s ? MSHV_SEG_S : 0) |
		                         ((s->dpl & 3u) << 5) | (present ? MSHV_SEG_P : 0) |
		                         (s->avl ? MSHV_SEG_AVL : 0) | (s->l ? MSHV_SEG_L : 0) |
		                         (s->db ? MSHV_SEG_DB : 0) | (s->g ? MSHV_SEG_G : 0)),
	};
}

void mshv_seg_from_hv(struct hv_segment *o, const struct mshv_seg *s)
{
	uint16_t a = s->attributes;

	*o = (struct hv_segment){
		.base = s->base,
		.limit = s->limit,
		.selector = s->selector,
		.type = MSHV_SEG_TYPE(a),
		.s = !!(a & MSHV_SEG_S),
		.dpl = MSHV_SEG_DPL(a),
		.present = !!(a & MSHV_SEG_P),
		.avl = !!(a & MSHV_SEG_AVL),
		.l = !!(a & MSHV_SEG_L),
		.db = !!(a & MSHV_SEG_DB),
		.g = !!(a & MSHV_SEG_G),
		.unusable = !(a & MSHV_SEG_P),
	};
}

void mshv_sregs_pack(const struct hv_sregs *s, union mshv_reg_value v[MSHV_NR_SREGS])
{
	memset(v, 0, MSHV_NR_SREGS * sizeof(*v));
	v[0].reg64 = s->cr4;
	v[1].reg64 = s->efer;
	v[2].reg64 = s->cr3;
	v[3].reg64 = s->cr2;
	v[4].reg64 = s->cr8;
	v[5].reg64 = s->cr0;
	mshv_seg_to_hv(&v[6].seg, &s->cs);
	mshv_seg_to_hv(&v[7].seg, &s->ds);
	mshv_seg_to_hv(&v[8].seg, &s->es);
	mshv_seg_to_hv(&v[9].seg, &s->fs);
	mshv_seg_to_hv(&v[10].seg, &s->gs);
	mshv_seg_to_hv(&v[11].seg, &s->ss);
	mshv_seg_to_hv(&v[12].seg, &s->tr);
	mshv_seg_to_hv(&v[13].seg, &s->ldt);
	v[14].table = (struct mshv_table){ .limit = s->gdt.limit, .base = s->gdt.base };
	v[15].table = (struct mshv_table){ .limit = s->idt.limit, .base = s->idt.base };
	v[16].reg64 = s->apic_base;
}

void mshv_sregs_unpack(struct hv_sregs *s, const union mshv_reg_value v[MSHV_NR_SREGS])
{
	s->cr4 = v[0].reg64;
	s->efer = v[1].reg64;
	s->cr3 = v[2].reg64;
	s->cr2 = v[3].reg64;
	s->cr8 = v[4].reg64;
	s->cr0 = v[5].reg64;
	mshv_seg_from_hv(&s->cs, &v[6].seg);
	mshv_seg_from_hv(&s->ds, &v[7].seg);
	mshv_seg_from_hv(&s->es, &v[8].seg);
	mshv_seg_from_hv(&s->fs, &v[9].seg);
	mshv_seg_from_hv(&s->gs, &v[10].seg);
	mshv_seg_from_hv(&s->ss, &v[11].seg);
	mshv_seg_from_hv(&s->tr, &v[12].seg);
	mshv_seg_from_hv(&s->ldt, &v[13].seg);
	s->gdt = (struct hv_dtable){ .base = v[14].table.base, .limit = v[14].table.limit };
	s->idt = (struct hv_dtable){ .base = v[15].table.base, .limit = v[15].table.limit };
	s->apic_base = v[16].reg64;
}

/* ---- register hypercalls ---- */

static int mshv_regs_check(struct hv_vcpu *v, const char *op, uint16_t done, size_t want,
                           const uint32_t *names)
{
	if (done == want)
		return 0;
	log_err("%s vCPU %u: the hypervisor handled %u of %zu registers (stopped at %#x)", op,
	        v->index, done, want, done < want ? names[done] : 0);
	return -EIO;
}

int mshv_get_regs(struct hv_vcpu *v, const uint32_t *names, union mshv_reg_value *vals, size_t n)
{
	uint64_t buf[MSHV_HVCALL_MAX_BUF / 8];
	struct mshv_in_vp_regs *in = (void *)buf;

	for (size_t at = 0; at < n; at += MSHV_REGS_PER_CALL) {
		size_t k = n - at < MSHV_REGS_PER_CALL ? n - at : MSHV_REGS_PER_CALL;
		uint16_t done = 0;
		int r;

		*in = (struct mshv_in_vp_regs){ .vp_index = v->index };
		memcpy(in + 1, names + at, k * sizeof(*names));
		r = mshv_hvcall(v->vm, v->fd, MSHV_HVCALL_GET_VP_REGISTERS, (uint16_t)k, in,
		                sizeof(*in) + k * sizeof(*names), vals + at, k * sizeof(*vals),
		                &done);
		if (r || (r = mshv_regs_check(v, "HVCALL_GET_VP_REGISTERS", done, k, names + at)))
			return r;
	}
	return 0;
}

int mshv_set_regs(struct hv_vcpu *v, const uint32_t *names, const union mshv_reg_value *vals,
                  size_t n)
{
	uint64_t buf[MSHV_HVCALL_MAX_BUF / 8];
	struct mshv_in_vp_regs *in = (void *)buf;
	struct mshv_reg_assoc *a = (void *)(in + 1);

	for (size_t at = 0; at < n; at += MSHV_REGS_PER_CALL) {
		size_t k = n - at < MSHV_REGS_PER_CALL ? n - at : MSHV_REGS_PER_CALL;
		uint16_t done = 0;
		int r;

		*in = (struct mshv_in_vp_regs){ .vp_index = v->index };
		for (size_t i = 0; i < k; i++)
			a[i] =
			    (struct mshv_reg_assoc){ .name = names[at + i], .value = vals[at + i] };
		r = mshv_hvcall(v->vm, v->fd, MSHV_HVCALL_SET_VP_REGISTERS, (uint16_t)k, in,
		                sizeof(*in) + k * sizeof(*a), NULL, 0, &done);
		if (r || (r = mshv_regs_check(v, "HVCALL_SET_VP_REGISTERS", done, k, names + at)))
			return r;
	}
	return 0;
}

/*
 * The run loop completes intercepts through the register page.  Before registers are read
 * or written by hypercall, anything still marked dirty there is written by hypercall too, so
 * the two paths never disagree about which value is current.
 */
static int mshv_regs_flush(struct hv_vcpu *v)
{
	uint32_t names[MSHV_NR_REGS + 6];
	union mshv_reg_value vals[MSHV_NR_REGS + 6];
	struct mshv_reg_page *p = v->regs;
	uint32_t dirty;
	size_t n = 0;

	if (!p || !p->dirty)
		return 0;
	dirty = p->dirty;
	if (dirty & MSHV_REGPAGE_DIRTY_GENERAL) {
		for (unsigned i = 0; i < 16; i++) {
			names[n] = MSHV_REG_GPR(i);
			vals[n++].reg64 = p->gpr[i];
		}
	}
	if (dirty & MSHV_REGPAGE_DIRTY_IP) {
		names[n] = MSHV_REG_RIP;
		vals[n++].reg64 = p->rip;
	}
	if (dirty & MSHV_REGPAGE_DIRTY_FLAGS) {
		names[n] = MSHV_REG_RFLAGS;
		vals[n++].reg64 = p->rflags;
	}
	if (dirty & MSHV_REGPAGE_DIRTY_SEGMENT) {
		for (unsigned i = 0; i < 6; i++) {
			names[n] = MSHV_REG_ES + i;
			memset(&vals[n], 0, sizeof(vals[n]));
			vals[n++].seg = p->seg[i];
		}
	}
	p->dirty = 0;
	return mshv_set_regs(v, names, vals, n);
}

int mshv_vcpu_get_regs(struct hv_vcpu *v, struct hv_regs *out)
{
	union mshv_reg_value vals[MSHV_NR_REGS];
	int r;

	if ((r = mshv_regs_flush(v)) || (r = mshv_get_regs(v, mshv_regs_names, vals, MSHV_NR_REGS)))
		return r;
	mshv_regs_unpack(out, vals);
	return 0;
}

int mshv_vcpu_set_regs(struct hv_vcpu *v, const struct hv_regs *regs)
{
	union mshv_reg_value vals[MSHV_NR_REGS];
	int r;

	if ((r = mshv_regs_flush(v)))
		return r;
	mshv_regs_pack(regs, vals);
	return mshv_set_regs(v, mshv_regs_names, vals, MSHV_NR_REGS);
}

int mshv_vcpu_get_sregs(struct hv_vcpu *v, struct hv_sregs *out)
{
	union mshv_reg_value vals[MSHV_NR_SREGS];
	int r;

	if ((r = mshv_regs_flush(v)) ||
	    (r = mshv_get_regs(v, mshv_sregs_names, vals, MSHV_NR_SREGS)))
		return r;
	mshv_sregs_unpack(out, vals);
	return 0;
}

int mshv_vcpu_set_sregs(struct hv_vcpu *v, const struct hv_sregs *sregs)
{
	union mshv_reg_value vals[MSHV_NR_SREGS];
	struct hv_sregs s = *sregs;
	int r;

	if ((r = mshv_regs_flush(v)))
		return r;
	if (v->index == 0)
		s.apic_base |= MSHV_APIC_BASE_BSP; /* the BSP flag, as on KVM */
	mshv_sregs_pack(&s, vals);
	return mshv_set_regs(v, mshv_sregs_names, vals, MSHV_NR_SREGS);
}

int mshv_vcpu_set_state(struct hv_vcpu *v, enum hv_vcpu_state state)
{
	uint32_t name = MSHV_REG_INTERNAL_ACTIVITY_STATE;
	union mshv_reg_value val = { .reg64 = 0 };
	int r;

	/* A VP in startup suspend waits for INIT/SIPI, which the hypervisor's LAPIC handles. */
	if (state == HV_VCPU_WAIT_SIPI)
		val.reg64 = MSHV_ACTIVITY_STARTUP_SUSPEND;
	if ((r = mshv_regs_flush(v)))
		return r;
	return mshv_set_regs(v, &name, &val, 1);
}

/* ---- VPs ---- */

/*
 * What the guest reads in CPUID leaf 1 beyond the hypervisor's defaults: the logical
 * processor count, HTT, and the "running under a hypervisor" bit (hv-kvm patches the same).
 */
static int mshv_cpuid_results(struct hv_vcpu *v, uint32_t nr)
{
	struct mshv_in_intercept_result in = {
		.vp_index = v->index,
		.intercept_type = MSHV_INTERCEPT_TYPE_CPUID,
		.leaf = 1,
		.always_override = 1,
		.ebx = (nr & 0xffu) << 16,
		.ebx_mask = 0xffu << 16,
		.ecx = 1u << 31,
		.ecx_mask = 1u << 31,
		.edx = nr > 1 ? 1u << 28 : 0,
		.edx_mask = 1u << 28,
	};

	return mshv_hvcall(v->vm, v->vm->fd, MSHV_HVCALL_REGISTER_INTERCEPT_RESULT, 0, &in,
	                   sizeof(in), NULL, 0, NULL);
}

/*
 * Topology and APIC identity, as OpenVMM sets them (vmm_core/virt_mshv): the processors per
 * socket on the partition (the hypervisor derives CPUID leaves 1, 4, 0xB and 0x1F from it;
 * hvmm puts every vCPU in one socket, one thread per core: mainline's MSHV_CREATE_PARTITION
 * has no SMT flag), and each VP's initial APIC ID and APIC base.  In an x2APIC-capable
 * partition the APIC ID register follows the initial APIC ID and cannot be set.
 */
static int mshv_vp_identity_partition(struct hv_vm *vm, uint32_t nr)
{
	struct mshv_in_partition_property in = {
		.code = (uint32_t)MSHV_PROP_PROCESSORS_PER_SOCKET,
		.value = nr,
	};
	int r = mshv_hvcall(vm, vm->fd, MSHV_HVCALL_SET_PARTITION_PROPERTY, 0, &in, sizeof(in),
	                    NULL, 0, NULL);

	if (!r)
		vm->topology_set = true;
	return r;
}

static int mshv_vp_identity(struct hv_vcpu *v)
{
	uint32_t names[2] = { MSHV_REG_INITIAL_APIC_ID, MSHV_REG_APIC_BASE };
	union mshv_reg_value vals[2] = {
		{ .reg64 = v->index },
		{ .reg64 = MSHV_APIC_BASE_DEFAULT | (v->index == 0 ? MSHV_APIC_BASE_BSP : 0) },
	};

	return mshv_set_regs(v, names, vals, 2);
}

void mshv_vcpu_destroy(struct hv_vcpu *v)
{
	struct mshv_sys *sys;

	if (!v)
		return;
	sys = &v->vm->sys;
	if (v->regs)
		sys->munmap(sys->ctx, v->regs, 4096);
	if (v->msg_page)
		sys->munmap(sys->ctx, v->msg_page, 4096);
	if (v->fd >= 0)
		sys->close(sys->ctx, v->fd);
	free(v);
}

int mshv_vcpu_create(struct hv_vm *vm, uint32_t index, uint32_t nr, const struct hv_io *io,
                     struct hv_vcpu **out)
{
	struct hv_vcpu *v = calloc(1, sizeof(*v));
	struct mshv_create_vp cv = { .vp_index = index };
	void *p;
	int r;

	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->index = index;
	v->io = io;
	ratelimit_init(&v->msr_rl, 10);
	if (!vm->topology_set && (r = mshv_vp_identity_partition(vm, nr)))
		goto fail;
	v->fd = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_CREATE_VP, &cv);
	if (v->fd < 0) {
		r = v->fd;
		log_err("MSHV_CREATE_VP %u: %s", index, strerror(-r));
		goto fail;
	}
	/* Confidential partitions have no register page: hypercalls alone then serve. */
	r = vm->sys.mmap(vm->sys.ctx, v->fd, MSHV_VP_MMAP_OFFSET_REGISTERS * vm->page_size, 4096,
	                 &p);
	if (r == 0)
		v->regs = p;
	else
		log_debug("vCPU %u: no register page (%s): registers go by hypercall", index,
		          strerror(-r));
	r = vm->sys.mmap(vm->sys.ctx, v->fd, MSHV_VP_MMAP_OFFSET_INTERCEPT_MESSAGE * vm->page_size,
	                 4096, &p);
	if (r) {
		log_err("mmap of vCPU %u intercept message page: %s", index, strerror(-r));
		goto fail;
	}
	v->msg_page = p;
	if ((r = mshv_vp_identity(v)) || (r = mshv_cpuid_results(v, nr)))
		goto fail;
	mshv_irq_vp_added(vm, index);
	*out = v;
	return 0;
fail:
	mshv_vcpu_destroy(v);
	return r;
}

/*
 * Kicking without immediate_exit.  The vCPU thread raises in_run, then looks at `kick`, then
 * enters MSHV_RUN_VP, then lowers in_run.  The kicker raises `kick`, then, while the vCPU is
 * inside that window and has not consumed the kick, signals it.  A signal that lands before
 * the ioctl is entered is lost, so the kicker repeats it with a growing pause until the vCPU
 * leaves the window: the next one interrupts MSHV_RUN_VP with EINTR.  Sequentially consistent
 * atomics make the two sides agree: either the vCPU sees `kick` before entering, or the
 * kicker sees in_run and keeps signalling.  The vCPU holds no lock inside the window, so the
 * wait is bounded by how long one MSHV_RUN_VP takes to notice a signal.
 */
void mshv_vcpu_kick(struct hv_vcpu *v)
{
	struct timespec pause = { 0, 20000 };
	uint64_t deadline;

	atomic_store(&v->kick, true);
	if (!atomic_load(&v->have_thread) || pthread_equal(v->thread, pthread_self()))
		return;
	deadline = clock_ns() + 5000000000ull;
	while (atomic_load(&v->in_run) && atomic_load(&v->kick)) {
		pthread_kill(v->thread, HV_MSHV_KICK_SIGNAL);
		nanosleep(&pause, NULL);
		if (pause.tv_nsec < 5000000)
			pause.tv_nsec *= 2;
		if (clock_ns() > deadline) {
			log_warn("vCPU %u did not answer its kick within 5 s", v->index);
			return;
		}
	}
}
