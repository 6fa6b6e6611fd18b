/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: VPs on KVM vCPUs, register hypercalls on KVM's register ioctls, address
 * translation on KVM_TRANSLATE, CPUID results on KVM_SET_CPUID2.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/mshv-sim/sim.h"

__u64 *sim_gpr(struct kvm_regs *r, unsigned n)
{
	switch (n & 15) {
	case EMU_REG_RAX:
		return &r->rax;
	case EMU_REG_RCX:
		return &r->rcx;
	case EMU_REG_RDX:
		return &r->rdx;
	case EMU_REG_RBX:
		return &r->rbx;
	case EMU_REG_RSP:
		return &r->rsp;
	case EMU_REG_RBP:
		return &r->rbp;
	case EMU_REG_RSI:
		return &r->rsi;
	case EMU_REG_RDI:
		return &r->rdi;
	case EMU_REG_R8:
		return &r->r8;
	case EMU_REG_R9:
		return &r->r9;
	case EMU_REG_R10:
		return &r->r10;
	case EMU_REG_R11:
		return &r->r11;
	case EMU_REG_R12:
		return &r->r12;
	case EMU_REG_R13:
		return &r->r13;
	case EMU_REG_R14:
		return &r->r14;
	default:
		return &r->r15;
	}
}

enum emu_mode sim_mode(const struct kvm_sregs *s)
{
	if (!(s->cr0 & 1))
		return EMU_MODE_REAL16;
	if ((s->efer & (1ull << 10)) && s->cs.l)
		return EMU_MODE_LONG64;
	return s->cs.db ? EMU_MODE_PROT32 : EMU_MODE_PROT16;
}

void sim_seg_to_hv(struct mshv_seg *o, const struct kvm_segment *s)
{
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

static void sim_seg_from_hv(struct kvm_segment *o, const struct mshv_seg *s)
{
	uint16_t a = s->attributes;

	*o = (struct kvm_segment){
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

/* One page-table entry of `bytes` (4 or 8) at guest-physical `gpa`, from guest RAM. */
static bool sim_pte(struct sim_vp *vp, uint64_t gpa, unsigned bytes, uint64_t *out)
{
	const void *p = sim_ram_ptr(vp->sim, gpa, bytes, NULL);

	*out = 0;
	if (!p)
		return false;
	memcpy(out, p, bytes);
	return true;
}

/*
 * The guest's page walk done here, for linear addresses KVM_TRANSLATE will not translate:
 * KVM translates as an implicit supervisor access, which SMAP forbids on user pages, so a
 * user-mode MMIO access (a guest driver in user space: SPDK, /dev/mem) had no instruction
 * bytes.  The hypervisor's intercept carries them whatever the privilege; so does this.
 * 4- and 5-level long mode, PAE and 32-bit paging, with their large pages.
 */
static int sim_walk(struct sim_vp *vp, uint64_t la, uint64_t *gpa, bool *writeable)
{
	const uint64_t addr = 0x000ffffffffff000ull;
	struct kvm_sregs s;
	uint64_t table, e;
	bool w = true;

	if (ioctl(vp->fd, KVM_GET_SREGS, &s) < 0)
		return -errno;
	if (!(s.cr0 & (1ull << 31))) { /* CR0.PG off: linear is physical */
		*gpa = la;
		*writeable = true;
		return 0;
	}
	if (s.efer & (1ull << 10)) {                              /* EFER.LMA */
		unsigned levels = (s.cr4 & (1ull << 12)) ? 5 : 4; /* CR4.LA57 */

		table = s.cr3 & addr;
		for (unsigned l = levels; l >= 1; l--) {
			unsigned shift = 12 + 9 * (l - 1);

			if (!sim_pte(vp, table + ((la >> shift) & 511) * 8, 8, &e) || !(e & 1))
				return -EFAULT;
			w = w && (e & 2);
			if ((l == 2 || l == 3) && (e & 0x80)) { /* a 2 MiB or 1 GiB page */
				*gpa = (e & addr & ~((1ull << shift) - 1)) |
				       (la & ((1ull << shift) - 1));
				*writeable = w;
				return 0;
			}
			table = e & addr;
		}
		*gpa = table | (la & 0xfff);
	} else if (s.cr4 & (1ull << 5)) { /* CR4.PAE: a 4-entry PDPT, then two levels */
		if (!sim_pte(vp, (s.cr3 & ~0x1full) + ((la >> 30) & 3) * 8, 8, &e) || !(e & 1))
			return -EFAULT;
		table = e & addr;
		if (!sim_pte(vp, table + ((la >> 21) & 511) * 8, 8, &e) || !(e & 1))
			return -EFAULT;
		w = e & 2;
		if (e & 0x80) {
			*gpa = (e & addr & ~0x1fffffull) | (la & 0x1fffff);
			*writeable = w;
			return 0;
		}
		if (!sim_pte(vp, (e & addr) + ((la >> 12) & 511) * 8, 8, &e) || !(e & 1))
			return -EFAULT;
		w = w && (e & 2);
		*gpa = (e & addr) | (la & 0xfff);
	} else { /* 32-bit paging, 4 MiB pages with CR4.PSE */
		la &= 0xffffffffull;
		if (!sim_pte(vp, (s.cr3 & 0xfffff000ull) + ((la >> 22) & 1023) * 4, 4, &e) ||
		    !(e & 1))
			return -EFAULT;
		w = e & 2;
		if ((e & 0x80) && (s.cr4 & (1ull << 4))) {
			*gpa = (e & 0xffc00000ull) | ((e & 0x1fe000ull) << 19) | (la & 0x3fffff);
			*writeable = w;
			return 0;
		}
		if (!sim_pte(vp, (e & 0xfffff000ull) + ((la >> 12) & 1023) * 4, 4, &e) || !(e & 1))
			return -EFAULT;
		w = w && (e & 2);
		*gpa = (e & 0xfffff000ull) | (la & 0xfff);
	}
	*writeable = w;
	return 0;
}

int sim_translate(struct sim_vp *vp, uint64_t la, uint64_t *gpa, bool *writeable)
{
	struct kvm_translation t = { .linear_address = la };
	bool w = false;
	int r;

	if (ioctl(vp->fd, KVM_TRANSLATE, &t) < 0)
		return -errno;
	if (!t.valid) {
		if ((r = sim_walk(vp, la, gpa, &w)))
			return r;
		if (writeable)
			*writeable = w;
		return 0;
	}
	*gpa = t.physical_address;
	if (writeable)
		*writeable = t.writeable;
	return 0;
}

unsigned sim_read_linear(struct sim_vp *vp, uint64_t la, void *buf, unsigned len)
{
	unsigned n = 0;

	while (n < len) {
		uint64_t gpa = 0, chunk = 4096 - ((la + n) & 0xfff);
		void *p;

		if (chunk > len - n)
			chunk = len - n;
		if (sim_translate(vp, la + n, &gpa, NULL))
			break;
		p = sim_ram_ptr(vp->sim, gpa, chunk, NULL);
		if (!p)
			break;
		memcpy((uint8_t *)buf + n, p, chunk);
		n += (unsigned)chunk;
	}
	return n;
}

/*
 * HVCALL_TRANSLATE_VIRTUAL_ADDRESS's result (enum hv_translate_gva_result_code, rust-vmm
 * hv-headers/hvhdk.h): 1-3 when the page walk fails, and 4-7 when it succeeds onto a GPA the
 * partition cannot access that way -- not mapped (MMIO: 4), or mapped without write access
 * for a VALIDATE_WRITE (6) -- with the GPA in gpa_page.  That the hypervisor fills gpa_page
 * for 4-7 is this model's assumption (no source settles it; OpenVMM's emulator tests treat
 * these codes as a completed walk).
 */
uint32_t sim_translate_code(struct sim_vp *vp, const struct mshv_in_translate *t, uint64_t *gpa)
{
	uint8_t flags = 0;
	bool w = false;

	*gpa = 0;
	if (sim_translate(vp, t->gva_page << 12, gpa, &w))
		return MSHV_TRANSLATE_NOT_PRESENT;
	if ((t->control_flags & MSHV_TRANSLATE_VALIDATE_WRITE) && !w)
		return MSHV_TRANSLATE_PRIV_VIOLATION;
	if (!sim_ram_ptr(vp->sim, *gpa & ~0xfffull, 1, &flags))
		return MSHV_TRANSLATE_GPA_UNMAPPED;
	if ((t->control_flags & MSHV_TRANSLATE_VALIDATE_WRITE) &&
	    !(flags & (1u << MSHV_SET_MEM_BIT_WRITABLE)))
		return MSHV_TRANSLATE_GPA_NO_WRITE;
	return MSHV_TRANSLATE_SUCCESS;
}

/* ---- CPUID ---- */

static uint32_t sim_masked(uint32_t dflt, uint32_t val, uint32_t mask)
{
	return (dflt & ~mask) | (val & mask);
}

int sim_vp_apply_cpuid(struct sim_vp *vp)
{
	struct mshv_sim *sim = vp->sim;
	uint32_t cap = sim->cpuid->nent + 16;
	size_t sz = sizeof(*sim->cpuid) + sim->cpuid->nent * sizeof(sim->cpuid->entries[0]);
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + cap * sizeof(c->entries[0]));
	int r = 0;

	if (!c)
		return -ENOMEM;
	memcpy(c, sim->cpuid, sz);
	/* The hypervisor's leaves per the partition's synthetic features (sim_hv.c). */
	sim_hv_cpuid(sim, c, cap);
	pthread_mutex_lock(&sim->lock);
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		/* The hypervisor's own defaults: each VP's APIC ID. */
		if (e->function == 1)
			e->ebx = (e->ebx & 0x00ffffffu) | (vp->index << 24);
		if (e->function == 0xb || e->function == 0x1f)
			e->edx = vp->index;
		for (unsigned k = 0; k < sim->nr_results; k++) {
			const struct mshv_in_intercept_result *q = &sim->results[k];

			if ((q->vp_index != MSHV_ANY_VP && q->vp_index != vp->index) ||
			    q->leaf != e->function ||
			    (q->subleaf_specific && q->subleaf != e->index))
				continue;
			e->eax = sim_masked(e->eax, q->eax, q->eax_mask);
			e->ebx = sim_masked(e->ebx, q->ebx, q->ebx_mask);
			e->ecx = sim_masked(e->ecx, q->ecx, q->ecx_mask);
			e->edx = sim_masked(e->edx, q->edx, q->edx_mask);
		}
	}
	pthread_mutex_unlock(&sim->lock);
	if (ioctl(vp->fd, KVM_SET_CPUID2, c) < 0) {
		r = -errno;
		log_err("mshv-sim: KVM_SET_CPUID2 for VP %u%s: %s", vp->index,
		        vp->ran ? " (after it ran)" : "", strerror(errno));
	}
	free(c);
	return r;
}

/* ---- VPs ---- */

int sim_vp_create(struct mshv_sim *sim, uint32_t index)
{
	struct sim_vp *vp;
	int r;

	if (index >= MSHV_MAX_VPS)
		return -EINVAL;
	if (sim->vps[index])
		return -EEXIST;
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	vp->sim = sim;
	vp->index = index;
	vp->rec = &sim->rec[index];
	vp->page = aligned_alloc(4096, 4096);
	vp->msg_page = aligned_alloc(4096, 4096);
	vp->fd = ioctl(sim->part_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (!vp->page || !vp->msg_page || vp->fd < 0) {
		r = vp->fd < 0 ? -errno : -ENOMEM;
		goto fail;
	}
	memset(vp->page, 0, 4096);
	memset(vp->msg_page, 0, 4096);
	vp->run = mmap(NULL, (size_t)sim->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vp->fd, 0);
	if (vp->run == MAP_FAILED) {
		r = -errno;
		vp->run = NULL;
		goto fail;
	}
	/* Only what the partition was granted works: KVM checks each Hyper-V MSR and hypercall. */
	{
		struct kvm_enable_cap ec = { .cap = KVM_CAP_HYPERV_ENFORCE_CPUID, .args[0] = 1 };

		if (sim->hv_cpuid && ioctl(vp->fd, KVM_ENABLE_CAP, &ec) < 0)
			log_debug("mshv-sim: KVM_CAP_HYPERV_ENFORCE_CPUID: %s", strerror(errno));
	}
	if ((r = sim_vp_apply_cpuid(vp)))
		goto fail;
	pthread_mutex_lock(&sim->lock);
	sim->vps[index] = vp;
	pthread_mutex_unlock(&sim->lock);
	return vp->fd;
fail:
	sim_vp_close(vp);
	return r;
}

void sim_vp_close(struct sim_vp *vp)
{
	if (vp->run)
		munmap(vp->run, (size_t)vp->sim->run_size);
	if (vp->fd >= 0)
		close(vp->fd);
	free(vp->page);
	free(vp->msg_page);
	free(vp);
}

/* ---- register hypercalls ---- */

/* KVM's register state, loaded when a name needs it and written back when changed. */
struct sim_kstate {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	bool have_regs, have_sregs, regs_dirty, sregs_dirty;
};

static const struct {
	uint32_t name, msr;
} sim_msrs[] = {
	{ MSHV_REG_TSC, 0x10 },
	{ MSHV_REG_KERNEL_GS_BASE, 0xc0000102 },
	{ MSHV_REG_PAT, 0x277 },
	{ MSHV_REG_SYSENTER_CS, 0x174 },
	{ MSHV_REG_SYSENTER_ESP, 0x175 },
	{ MSHV_REG_SYSENTER_EIP, 0x176 },
	{ MSHV_REG_STAR, 0xc0000081 },
	{ MSHV_REG_LSTAR, 0xc0000082 },
	{ MSHV_REG_CSTAR, 0xc0000083 },
	{ MSHV_REG_SFMASK, 0xc0000084 },
	{ MSHV_REG_MTRR_DEF_TYPE, 0x2ff },
	{ MSHV_REG_TSC_AUX, 0xc0000103 },
};

static int sim_load(struct sim_vp *vp, struct sim_kstate *k, bool sregs)
{
	if (!sregs && !k->have_regs) {
		if (vp->pend.active)
			k->regs =
			    vp->pend.shadow; /* the intercepted instruction is hvmm's to finish */
		else if (ioctl(vp->fd, KVM_GET_REGS, &k->regs) < 0)
			return -errno;
		k->have_regs = true;
	}
	if (sregs && !k->have_sregs) {
		if (ioctl(vp->fd, KVM_GET_SREGS, &k->sregs) < 0)
			return -errno;
		k->have_sregs = true;
	}
	return 0;
}

static struct kvm_segment *sim_seg_of(struct kvm_sregs *s, uint32_t name)
{
	switch (name) {
	case MSHV_REG_ES:
		return &s->es;
	case MSHV_REG_CS:
		return &s->cs;
	case MSHV_REG_SS:
		return &s->ss;
	case MSHV_REG_DS:
		return &s->ds;
	case MSHV_REG_FS:
		return &s->fs;
	case MSHV_REG_GS:
		return &s->gs;
	case MSHV_REG_LDTR:
		return &s->ldt;
	default:
		return &s->tr;
	}
}

static __u64 *sim_sreg64(struct kvm_sregs *s, uint32_t name)
{
	switch (name) {
	case MSHV_REG_CR0:
		return &s->cr0;
	case MSHV_REG_CR2:
		return &s->cr2;
	case MSHV_REG_CR3:
		return &s->cr3;
	case MSHV_REG_CR4:
		return &s->cr4;
	case MSHV_REG_CR8:
		return &s->cr8;
	case MSHV_REG_EFER:
		return &s->efer;
	case MSHV_REG_APIC_BASE:
		return &s->apic_base;
	default:
		return NULL;
	}
}

/* One register by name: get (set == false) into *v, or set from *v.  Returns an HV status. */
static uint16_t sim_reg(struct sim_vp *vp, struct sim_kstate *k, uint32_t name,
                        union mshv_reg_value *v, bool set)
{
	bool gpr = name >= MSHV_REG_RAX && name <= MSHV_REG_RFLAGS;

	if (set && !gpr && vp->pend.active) {
		log_err("mshv-sim: register %#x set while an intercept is unfinished", name);
		return MSHV_STATUS_INVALID_VP_STATE;
	}
	if (gpr) {
		__u64 *p;

		if (sim_load(vp, k, false))
			return MSHV_STATUS_INVALID_VP_STATE;
		p = name == MSHV_REG_RIP      ? &k->regs.rip
		    : name == MSHV_REG_RFLAGS ? &k->regs.rflags
		                              : sim_gpr(&k->regs, name - MSHV_REG_RAX);
		if (set) {
			*p = v->reg64;
			k->regs_dirty = true;
		} else {
			v->reg64 = *p;
		}
		return MSHV_STATUS_SUCCESS;
	}
	if ((name >= MSHV_REG_ES && name <= MSHV_REG_TR) || name == MSHV_REG_IDTR ||
	    name == MSHV_REG_GDTR || sim_sreg64(&k->sregs, name)) {
		if (sim_load(vp, k, true))
			return MSHV_STATUS_INVALID_VP_STATE;
		if (name >= MSHV_REG_ES && name <= MSHV_REG_TR) {
			if (set)
				sim_seg_from_hv(sim_seg_of(&k->sregs, name), &v->seg);
			else
				sim_seg_to_hv(&v->seg, sim_seg_of(&k->sregs, name));
		} else if (name == MSHV_REG_IDTR || name == MSHV_REG_GDTR) {
			struct kvm_dtable *t =
			    name == MSHV_REG_IDTR ? &k->sregs.idt : &k->sregs.gdt;

			if (set) {
				t->base = v->table.base;
				t->limit = v->table.limit;
			} else {
				v->table =
				    (struct mshv_table){ .limit = t->limit, .base = t->base };
			}
		} else if (set) {
			*sim_sreg64(&k->sregs, name) = v->reg64;
		} else {
			v->reg64 = *sim_sreg64(&k->sregs, name);
		}
		k->sregs_dirty |= set;
		return MSHV_STATUS_SUCCESS;
	}
	/*
	 * The initial APIC ID.  KVM fixes a vCPU's APIC ID at KVM_CREATE_VCPU (its index, which
	 * is also hvmm's choice): another value cannot be modelled and is refused.
	 */
	if (name == MSHV_REG_INITIAL_APIC_ID) {
		if (!set) {
			v->reg64 = vp->index;
			return MSHV_STATUS_SUCCESS;
		}
		if (v->reg64 != vp->index || vp->ran) {
			log_err(
			    "mshv-sim: VP %u: INITIAL_APIC_ID %#llx%s is not modelled (KVM's APIC "
			    "ID is the VP index, set before the VP runs)",
			    vp->index, (unsigned long long)v->reg64,
			    vp->ran ? " after it ran" : "");
			return MSHV_STATUS_INVALID_PARAMETER;
		}
		return MSHV_STATUS_SUCCESS;
	}
	if (name == MSHV_REG_INTERNAL_ACTIVITY_STATE) {
		struct kvm_mp_state mp;

		if (set) {
			if (v->reg64 & ~MSHV_ACTIVITY_STARTUP_SUSPEND)
				return MSHV_STATUS_INVALID_PARAMETER;
			mp.mp_state = v->reg64 ? KVM_MP_STATE_UNINITIALIZED : KVM_MP_STATE_RUNNABLE;
			return ioctl(vp->fd, KVM_SET_MP_STATE, &mp) < 0
			           ? MSHV_STATUS_INVALID_VP_STATE
			           : MSHV_STATUS_SUCCESS;
		}
		if (ioctl(vp->fd, KVM_GET_MP_STATE, &mp) < 0)
			return MSHV_STATUS_INVALID_VP_STATE;
		v->reg64 = (mp.mp_state == KVM_MP_STATE_UNINITIALIZED ||
		            mp.mp_state == KVM_MP_STATE_INIT_RECEIVED)
		               ? MSHV_ACTIVITY_STARTUP_SUSPEND
		           : mp.mp_state == KVM_MP_STATE_HALTED ? 2
		                                                : 0;
		return MSHV_STATUS_SUCCESS;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sim_msrs); i++) {
		struct {
			struct kvm_msrs h;
			struct kvm_msr_entry e;
		} m = { .h.nmsrs = 1, .e.index = sim_msrs[i].msr };

		if (sim_msrs[i].name != name)
			continue;
		if (set) {
			m.e.data = v->reg64;
			return ioctl(vp->fd, KVM_SET_MSRS, &m) == 1 ? MSHV_STATUS_SUCCESS
			                                            : MSHV_STATUS_INVALID_PARAMETER;
		}
		if (ioctl(vp->fd, KVM_GET_MSRS, &m) != 1)
			return MSHV_STATUS_INVALID_PARAMETER;
		v->reg64 = m.e.data;
		return MSHV_STATUS_SUCCESS;
	}
	log_err("mshv-sim: register %#x is not modelled", name);
	return MSHV_STATUS_INVALID_PARAMETER;
}

static int sim_store(struct sim_vp *vp, struct sim_kstate *k)
{
	if (k->regs_dirty) {
		if (vp->pend.active) {
			vp->pend.shadow = k->regs;
			vp->pend.written = true;
		} else if (ioctl(vp->fd, KVM_SET_REGS, &k->regs) < 0) {
			return -errno;
		}
	}
	if (k->sregs_dirty && ioctl(vp->fd, KVM_SET_SREGS, &k->sregs) < 0)
		return -errno;
	return 0;
}

int sim_hvcall_vp(struct sim_vp *vp, uint16_t code, uint16_t reps, const void *in, size_t in_sz,
                  void *out, size_t out_sz, uint16_t *status, uint16_t *reps_done)
{
	const uint8_t *ib = in;
	struct sim_kstate k = { 0 };

	*status = MSHV_STATUS_SUCCESS;
	*reps_done = 0;
	if (code == MSHV_HVCALL_TRANSLATE_VIRTUAL_ADDRESS) {
		struct mshv_in_translate t;
		struct mshv_out_translate o = { 0 };
		uint64_t gpa = 0;

		if (in_sz < sizeof(t) || out_sz < sizeof(o)) {
			*status = MSHV_STATUS_INVALID_HYPERCALL_INPUT;
			return 0;
		}
		memcpy(&t, in, sizeof(t));
		o.result_code = sim_translate_code(vp, &t, &gpa);
		o.gpa_page = gpa >> 12;
		memcpy(out, &o, sizeof(o));
		return 0;
	}
	/* Registers must not be half in the page and half behind hypercalls. */
	if (vp->page->dirty) {
		log_err("mshv-sim: register hypercall on VP %u while its register page is dirty",
		        vp->index);
		*status = MSHV_STATUS_INVALID_VP_STATE;
		return 0;
	}
	if (code == MSHV_HVCALL_GET_VP_REGISTERS) {
		if (in_sz < 16 + 4ull * reps || out_sz < 16ull * reps) {
			*status = MSHV_STATUS_INVALID_HYPERCALL_INPUT;
			return 0;
		}
		for (uint16_t i = 0; i < reps && *status == MSHV_STATUS_SUCCESS; i++) {
			uint32_t name;
			union mshv_reg_value v = { .reg64 = 0 };

			memcpy(&name, ib + 16 + 4 * i, 4);
			*status = sim_reg(vp, &k, name, &v, false);
			if (*status == MSHV_STATUS_SUCCESS) {
				memcpy((uint8_t *)out + 16 * i, &v, 16);
				(*reps_done)++;
			}
		}
		return 0;
	}
	if (in_sz < 16 + 32ull * reps) {
		*status = MSHV_STATUS_INVALID_HYPERCALL_INPUT;
		return 0;
	}
	for (uint16_t i = 0; i < reps && *status == MSHV_STATUS_SUCCESS; i++) {
		struct mshv_reg_assoc a;
		union mshv_reg_value v;

		memcpy(&a, ib + 16 + 32 * i, sizeof(a));
		v = a.value;
		*status = sim_reg(vp, &k, a.name, &v, true);
		if (*status == MSHV_STATUS_SUCCESS)
			(*reps_done)++;
	}
	if (sim_store(vp, &k))
		*status = MSHV_STATUS_INVALID_VP_STATE;
	vp->page->isvalid = 0; /* the page no longer shows the VP's registers */
	return 0;
}
