/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: the syscall table hv-mshv calls, the partition behind it (interrupts, properties)
 * and hypercall dispatch; memory and the VFIO bridge are in sim_mem.c.
 *
 * Rules modelled here, with their sources ("main" = drivers/hv/mshv_root_main.c @0ebac01a,
 * "efd" = drivers/hv/mshv_eventfd.c @0289a67c, "irq" = drivers/hv/mshv_irq.c @0c8e7a01, all
 * torvalds/linux):
 * - Hypercalls: the pass-through checks and allow-list (main, mshv_ioctl_passthru_hvcall());
 *   "if (hv_result(status) == HV_STATUS_INSUFFICIENT_MEMORY) { ret =
 *   hv_call_deposit_pages(...); if (!ret) ret = -EAGAIN; }" with "args.reps = args.reps ?
 *   hv_repcomp(status) : 0": every `eagain`th hypercall stops for a deposit, a rep call after
 *   half its reps, and answers EAGAIN with the reps completed.
 * - /dev/mshv takes MSHV_CREATE_PARTITION only (main, mshv_dev_ioctl()): no hypercall on it,
 *   so the host's assignable synthetic features cannot be read (unless `assignable`).
 * - MSI routes (S2): on a root-scheduler host an irqfd's interrupt goes first through
 *   mshv_try_assert_irq_fast() (efd), which for a physical destination does "vp =
 *   partition->pt_vp_array[irq->lapic_apic_id]; if (!vp->vp_register_page)" -- a route to an
 *   APIC ID with no VP (0xFF, the xAPIC broadcast, included) oopses the host.
 * - An irqfd on a GSI without a valid route: mshv_copy_girq_info() (irq) leaves the interrupt
 *   zeroed, the fast path injects vector 0 into VP 0, and mshv_assert_irq_slow() (efd) checks
 *   validity only "if (irqfd->irqfd_girq_ent.guest_irq_num)": vector 0 on GSI 0 as well.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/mshv-sim/sim.h"

#define SIM_KVM_TSS_ADDR   0xfffbd000ull
#define SIM_KVM_IDMAP_ADDR 0xfffbc000ull

int sim_mismatch(struct sim_vp *vp, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_err("mshv-sim: CROSS-CHECK MISMATCH with KVM on vCPU %u: %s", vp->index, buf);
	sim_stat_add(&sim_stats()->mismatches, 1);
	return -EPROTO;
}

int sim_host_fault(struct mshv_sim *sim, const char *rule, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_err("mshv-sim: SIMULATED HOST FAULT (rule %s): %s", rule, buf);
	sim_stat_add(&sim_stats()->host_faults, 1);
	sim->dead = true;
	return -EIO;
}

int mshv_sim_parse_opts(const char *s, struct mshv_sim_opts *out)
{
	char buf[256], *save = NULL, *w;

	*out = (struct mshv_sim_opts){ .eagain_every = 11 };
	if (!s || !*s)
		return 0;
	snprintf(buf, sizeof(buf), "%s", s);
	for (w = strtok_r(buf, ",", &save); w; w = strtok_r(NULL, ",", &save)) {
		if (!strcmp(w, "kernel=mainline"))
			out->bridge = false;
		else if (!strcmp(w, "kernel=bridge"))
			out->bridge = true;
		else if (!strcmp(w, "assignable"))
			out->assignable = true;
		else if (!strncmp(w, "eagain=", 7))
			out->eagain_every = (unsigned)strtoul(w + 7, NULL, 10);
		else if (!strcmp(w, "legacy-bars"))
			out->legacy_bars = true;
		else
			return -EINVAL;
	}
	return 0;
}

void *sim_ram_ptr(struct mshv_sim *sim, uint64_t gpa, uint64_t len, uint8_t *flags)
{
	void *p = NULL;

	pthread_mutex_lock(&sim->lock);
	for (unsigned i = 0; i < sim->nr_regions; i++) {
		const struct sim_region *r = &sim->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa)) {
			if (r->mmio)
				break; /* device memory (a BAR) is no RAM to read */
			p = (void *)(uintptr_t)(r->uaddr + (gpa - r->gpa));
			if (flags)
				*flags = r->flags;
			break;
		}
	}
	pthread_mutex_unlock(&sim->lock);
	return p;
}

/* ---- hypercalls ---- */

static int sim_status_errno(uint16_t status)
{
	switch (status) {
	case MSHV_STATUS_SUCCESS:
		return 0;
	case MSHV_STATUS_ACCESS_DENIED:
		return -EACCES;
	case MSHV_STATUS_INVALID_PARTITION_STATE:
	case MSHV_STATUS_INVALID_VP_STATE:
		return -EBADFD;
	default:
		return -EINVAL;
	}
}

static uint16_t sim_property(struct mshv_sim *sim, bool set, struct mshv_in_partition_property *p,
                             uint64_t *value)
{
	switch (p->code) {
	case MSHV_PROP_SYNTHETIC_PROC_FEATURES:
		if (!set) {
			*value = sim->synth_features;
			return MSHV_STATUS_SUCCESS;
		}
		/* An early property: the hypervisor refuses it once the partition runs. */
		if (sim->initialized) {
			log_err("mshv-sim: SYNTHETIC_PROC_FEATURES set after INITIALIZE_PARTITION");
			return MSHV_STATUS_INVALID_PARTITION_STATE;
		}
		sim->synth_features = p->value;
		return MSHV_STATUS_SUCCESS;
	case MSHV_PROP_UNIMPLEMENTED_MSR_ACTION:
		if (set)
			sim->msr_action = p->value;
		else
			*value = sim->msr_action;
		return MSHV_STATUS_SUCCESS;
	case MSHV_PROP_PROCESSORS_PER_SOCKET:
		/* KVM's topology stands; the value is kept for GET and for the tests. */
		if (set)
			sim->procs_per_socket = p->value;
		else
			*value = sim->procs_per_socket;
		return MSHV_STATUS_SUCCESS;
	default:
		return MSHV_STATUS_UNKNOWN_PROPERTY;
	}
}

static uint16_t sim_intercept_result(struct mshv_sim *sim, const struct mshv_in_intercept_result *r)
{
	uint16_t status = MSHV_STATUS_SUCCESS;

	if (r->intercept_type != MSHV_INTERCEPT_TYPE_CPUID)
		return MSHV_STATUS_INVALID_PARAMETER;
	pthread_mutex_lock(&sim->lock);
	if (sim->nr_results == SIM_MAX_RESULTS) {
		pthread_mutex_unlock(&sim->lock);
		return MSHV_STATUS_INSUFFICIENT_MEMORY;
	}
	sim->results[sim->nr_results++] = *r;
	pthread_mutex_unlock(&sim->lock);
	/* KVM runs CPUID in the kernel: registered results go in through KVM_SET_CPUID2. */
	for (unsigned i = 0; i < MSHV_MAX_VPS; i++) {
		struct sim_vp *vp = sim->vps[i];

		if (vp && (r->vp_index == MSHV_ANY_VP || r->vp_index == i) &&
		    sim_vp_apply_cpuid(vp))
			status = MSHV_STATUS_INVALID_VP_STATE;
	}
	return status;
}

static int sim_hvcall(struct mshv_sim *sim, struct sim_vp *on_vp, struct mshv_root_hvcall *a)
{
	static const uint16_t allowed[] = {
		MSHV_HVCALL_GET_PARTITION_PROPERTY,    MSHV_HVCALL_SET_PARTITION_PROPERTY,
		MSHV_HVCALL_GET_VP_REGISTERS,          MSHV_HVCALL_SET_VP_REGISTERS,
		MSHV_HVCALL_TRANSLATE_VIRTUAL_ADDRESS, MSHV_HVCALL_REGISTER_INTERCEPT_RESULT,
		MSHV_HVCALL_ASSERT_VIRTUAL_INTERRUPT,
	};
	uint64_t in[MSHV_HVCALL_MAX_BUF / 8], out[MSHV_HVCALL_MAX_BUF / 8];
	uint16_t status = MSHV_STATUS_SUCCESS, done = 0;
	bool known = false;

	/* The kernel's own checks on the ioctl argument. */
	if (a->status || !a->in_ptr || a->in_sz < 8 || a->in_sz > MSHV_HVCALL_MAX_BUF ||
	    a->rsvd[0] | a->rsvd[1] | a->rsvd[2] | a->rsvd[3] | a->rsvd[4] | a->rsvd[5])
		return -EINVAL;
	if (a->out_ptr && (!a->out_sz || a->out_sz > MSHV_HVCALL_MAX_BUF))
		return -EINVAL;
	for (size_t i = 0; i < ARRAY_SIZE(allowed); i++)
		known |= a->code == allowed[i];
	if (!known) {
		log_err("mshv-sim: hypercall %#x is not one the simulator models", a->code);
		return -EINVAL;
	}
	memset(out, 0, sizeof(out));
	memcpy(in, (const void *)(uintptr_t)a->in_ptr, a->in_sz);
	in[0] = 1; /* the kernel writes the partition id into the input */
	/*
	 * The hypervisor ran short of memory for the partition: the kernel deposits a page and
	 * answers EAGAIN, with the reps done so far.  A rep call stops halfway, those reps done.
	 */
	if (sim->opts.eagain_every &&
	    __atomic_add_fetch(&sim->hvcalls, 1, __ATOMIC_RELAXED) % sim->opts.eagain_every == 0) {
		sim_stat_add(&sim_stats()->eagains, 1);
		if ((a->code == MSHV_HVCALL_GET_VP_REGISTERS ||
		     a->code == MSHV_HVCALL_SET_VP_REGISTERS) &&
		    a->reps > 1) {
			struct mshv_in_vp_regs h;
			struct sim_vp *vp;

			memcpy(&h, in, sizeof(h));
			vp = h.vp_index < MSHV_MAX_VPS ? sim->vps[h.vp_index] : NULL;
			if (vp &&
			    !sim_hvcall_vp(vp, a->code, a->reps / 2, in, a->in_sz, out, a->out_sz,
			                   &status, &done) &&
			    status == MSHV_STATUS_SUCCESS) {
				sim_stat_add(&sim_stats()->eagain_partial, 1);
				a->status = MSHV_STATUS_INSUFFICIENT_MEMORY;
				a->reps = done;
				if (a->out_ptr)
					memcpy((void *)(uintptr_t)a->out_ptr, out, a->out_sz);
				return -EAGAIN;
			}
		}
		a->status = MSHV_STATUS_INSUFFICIENT_MEMORY;
		a->reps = 0;
		return -EAGAIN;
	}
	switch (a->code) {
	case MSHV_HVCALL_GET_PARTITION_PROPERTY:
	case MSHV_HVCALL_SET_PARTITION_PROPERTY: {
		struct mshv_in_partition_property p = { 0 };

		/* SET is asynchronous in the kernel, which allows it on the partition fd only. */
		if (a->code == MSHV_HVCALL_SET_PARTITION_PROPERTY && on_vp)
			return -EINVAL;
		memcpy(&p, in, a->in_sz < sizeof(p) ? a->in_sz : sizeof(p));
		status =
		    sim_property(sim, a->code == MSHV_HVCALL_SET_PARTITION_PROPERTY, &p, &out[0]);
		break;
	}
	case MSHV_HVCALL_REGISTER_INTERCEPT_RESULT: {
		struct mshv_in_intercept_result r;

		if (a->in_sz < sizeof(r)) {
			status = MSHV_STATUS_INVALID_HYPERCALL_INPUT;
			break;
		}
		memcpy(&r, in, sizeof(r));
		status = sim_intercept_result(sim, &r);
		break;
	}
	case MSHV_HVCALL_ASSERT_VIRTUAL_INTERRUPT: {
		struct mshv_in_assert_irq q;
		struct kvm_msi m = { 0 };

		if (a->in_sz < sizeof(q)) {
			status = MSHV_STATUS_INVALID_HYPERCALL_INPUT;
			break;
		}
		memcpy(&q, in, sizeof(q));
		/* Back to the MSI message it describes, for KVM_SIGNAL_MSI. */
		m.address_lo = 0xfee00000u | (uint32_t)((q.apic_id & 0xff) << 12) |
		               ((q.flags & MSHV_IRQ_LOGICAL) ? 1u << 2 : 0);
		m.data = (q.vector & 0xff) | ((q.type & 7) << 8) | (1u << 14) |
		         ((q.flags & MSHV_IRQ_LEVEL) ? 1u << 15 : 0);
		if (ioctl(sim->part_fd, KVM_SIGNAL_MSI, &m) < 0) {
			log_err("mshv-sim: KVM_SIGNAL_MSI: %s", strerror(errno));
			status = MSHV_STATUS_INVALID_PARAMETER;
		}
		break;
	}
	default: {
		struct mshv_in_vp_regs h;
		struct sim_vp *vp;

		memcpy(&h, in, sizeof(h) < a->in_sz ? sizeof(h) : a->in_sz);
		vp = h.vp_index < MSHV_MAX_VPS ? sim->vps[h.vp_index] : NULL;
		if (!vp) {
			status = MSHV_STATUS_INVALID_VP_INDEX;
			break;
		}
		if (sim_hvcall_vp(vp, a->code, a->reps, in, a->in_sz, out, a->out_sz, &status,
		                  &done))
			return -EINVAL;
		break;
	}
	}
	a->status = status;
	a->reps = a->reps ? done : 0;
	if (a->out_ptr)
		memcpy((void *)(uintptr_t)a->out_ptr, out, a->out_sz);
	return sim_status_errno(status);
}

/* ---- the partition ---- */

static int sim_create_partition(struct mshv_sim *sim, const struct mshv_create_partition *cp)
{
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args[0] = IOAPIC_PINS };
	struct kvm_enable_cap msr = { .cap = KVM_CAP_X86_USER_SPACE_MSR,
		                      .args[0] = KVM_MSR_EXIT_REASON_UNKNOWN };
	uint64_t idmap = SIM_KVM_IDMAP_ADDR;
	int vm, r;

	if (sim->part_fd >= 0)
		return -EBUSY; /* one partition per simulator instance */
	if (cp->pt_flags & ~7ull || cp->pt_isolation)
		return -EINVAL;
	/* KVM's split irqchip has the LAPIC in the kernel: the model of a LAPIC partition. */
	if (!(cp->pt_flags & (1ull << MSHV_PT_BIT_LAPIC))) {
		log_err("mshv-sim: only partitions with MSHV_PT_BIT_LAPIC are modelled");
		return -EINVAL;
	}
	vm = ioctl(sim->dev_fd, KVM_CREATE_VM, 0);
	if (vm < 0)
		return -errno;
	if (ioctl(vm, KVM_SET_TSS_ADDR, (unsigned long)SIM_KVM_TSS_ADDR) < 0 ||
	    ioctl(vm, KVM_ENABLE_CAP, &split) < 0) {
		r = -errno;
		log_err("mshv-sim: KVM VM setup: %s", strerror(errno));
		close(vm);
		return r;
	}
	if (ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		log_debug("mshv-sim: KVM_SET_IDENTITY_MAP_ADDR: %s", strerror(errno));
	/* Unknown MSRs come to userspace, where UNIMPLEMENTED_MSR_ACTION decides. */
	if (ioctl(vm, KVM_ENABLE_CAP, &msr) < 0)
		log_debug("mshv-sim: KVM_CAP_X86_USER_SPACE_MSR: %s", strerror(errno));
	sim->run_size = ioctl(sim->dev_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	for (uint32_t n = 64; n <= 4096 && !sim->cpuid; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			break;
		c->nent = n;
		if (ioctl(sim->dev_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			sim->cpuid = c;
		else
			free(c);
	}
	if (sim->run_size <= 0 || !sim->cpuid) {
		close(vm);
		return -EIO;
	}
	sim_hv_probe(sim);
	sim->part_fd = vm;
	sim->pt_flags = cp->pt_flags;
	return vm;
}

/*
 * rust-vmm's read of the host's assignable synthetic features: HVCALL_GET_PARTITION_PROPERTY_EX
 * through MSHV_ROOT_HVCALL on /dev/mshv.  Mainline's mshv_dev_ioctl() takes only
 * MSHV_CREATE_PARTITION ("return -ENOTTY"); with `assignable` the simulator answers what KVM
 * can emulate, as a bank (u16 count, 3 x u16, then u64 banks).
 */
static int sim_dev_hvcall(struct mshv_sim *sim, struct mshv_root_hvcall *a)
{
	struct mshv_in_partition_property_ex in = { 0 };
	uint16_t banks = 1;

	if (!sim->opts.assignable)
		return -ENOTTY;
	if (a->code != MSHV_HVCALL_GET_PARTITION_PROPERTY_EX || a->in_sz < sizeof(in) ||
	    !a->out_ptr || a->out_sz < MSHV_PROP_EX_BANK0_OFFSET + 8)
		return -EINVAL;
	memcpy(&in, (const void *)(uintptr_t)a->in_ptr, sizeof(in));
	if (in.code != MSHV_PROP_ASSIGNABLE_SYNTHETIC_PROC_FEATURES) {
		a->status = MSHV_STATUS_UNKNOWN_PROPERTY;
		return -EINVAL;
	}
	memset((void *)(uintptr_t)a->out_ptr, 0, a->out_sz);
	memcpy((void *)(uintptr_t)a->out_ptr, &banks, sizeof(banks));
	memcpy((uint8_t *)(uintptr_t)a->out_ptr + MSHV_PROP_EX_BANK0_OFFSET, &sim->assignable, 8);
	a->status = MSHV_STATUS_SUCCESS;
	return 0;
}

static bool sim_bit(const uint64_t *map, uint32_t i)
{
	return map[i / 64] & (1ull << (i % 64));
}

static int sim_msi_routing(struct mshv_sim *sim, const struct mshv_user_irq_table *t)
{
	uint64_t valid[MSHV_MAX_GSI / 64] = { 0 };
	struct kvm_irq_routing *k;
	int r = 0;

	if (t->nr > MSHV_MAX_GSI || t->rsvd)
		return -EINVAL;
	k = calloc(1, sizeof(*k) + t->nr * sizeof(k->entries[0]));
	if (!k)
		return -ENOMEM;
	k->nr = t->nr;
	for (uint32_t i = 0; i < t->nr; i++) {
		const struct mshv_user_irq_entry *e = &t->entries[i];
		uint32_t dest = (e->address_lo >> 12) & 0xff;

		/* irq, mshv_update_routing_table(): these checks, and one route per GSI. */
		if (e->gsi >= MSHV_MAX_GSI || e->address_hi || sim_bit(valid, e->gsi)) {
			r = -EINVAL;
			goto out;
		}
		valid[e->gsi / 64] |= 1ull << (e->gsi % 64);
		/* S2: efd, mshv_try_assert_irq_fast(): pt_vp_array[lapic_apic_id]->... */
		if (!(e->address_lo & (1u << 2)) && !sim->vps[dest]) {
			r = sim_host_fault(
			    sim, "S2",
			    "MSHV_SET_MSI_ROUTING: GSI %u (address %#x data %#x) targets "
			    "APIC ID %u, which has no VP: on a root-scheduler host the "
			    "first interrupt on it oopses the host "
			    "(drivers/hv/mshv_eventfd.c mshv_try_assert_irq_fast: vp = "
			    "partition->pt_vp_array[irq->lapic_apic_id]; "
			    "vp->vp_register_page)",
			    e->gsi, e->address_lo, e->data, dest);
			goto out;
		}
		k->entries[i].gsi = e->gsi;
		k->entries[i].type = KVM_IRQ_ROUTING_MSI;
		k->entries[i].u.msi.address_lo = e->address_lo;
		k->entries[i].u.msi.data = e->data;
	}
	/* An irqfd whose GSI loses its route would assert vector 0 (see sim_irqfd()). */
	for (unsigned i = 0; i < sim->nr_irqfds; i++) {
		if (!sim_bit(valid, sim->irqfds[i].gsi)) {
			r = sim_host_fault(
			    sim, "S2-irqfd",
			    "MSHV_SET_MSI_ROUTING leaves the irqfd on GSI %u without a "
			    "valid route: its next interrupt asserts vector 0 on VP 0 "
			    "(drivers/hv/mshv_irq.c mshv_copy_girq_info zeroes it; "
			    "mshv_eventfd.c mshv_try_assert_irq_fast sends it)",
			    sim->irqfds[i].gsi);
			goto out;
		}
	}
	if (ioctl(sim->part_fd, KVM_SET_GSI_ROUTING, k) < 0)
		r = -errno;
	else
		memcpy(sim->routed, valid, sizeof(valid));
out:
	free(k);
	return r;
}

static int sim_irqfd(struct mshv_sim *sim, const struct mshv_user_irqfd *a)
{
	struct kvm_irqfd k = { .fd = (uint32_t)a->fd, .gsi = a->gsi };
	bool deassign = a->flags & (1u << MSHV_IRQFD_BIT_DEASSIGN);
	int r;

	if (a->flags & ~3u || a->gsi >= MSHV_MAX_GSI)
		return -EINVAL;
	/*
	 * An irqfd on a GSI with no valid route: mshv_copy_girq_info() (mshv_irq.c) leaves its
	 * interrupt zeroed, and when it fires the fast path injects vector 0 into VP 0 (and the
	 * slow path does too on GSI 0: mshv_assert_irq_slow() checks only "if
	 * (irqfd->irqfd_girq_ent.guest_irq_num)").
	 */
	if (!deassign && !sim_bit(sim->routed, a->gsi))
		return sim_host_fault(
		    sim, "S2-irqfd",
		    "MSHV_IRQFD on GSI %u, which has no valid route: its first "
		    "interrupt asserts vector 0 on VP 0 (drivers/hv/mshv_irq.c "
		    "mshv_copy_girq_info; mshv_eventfd.c mshv_assert_irq_slow skips "
		    "the check for GSI 0)",
		    a->gsi);
	if (deassign)
		k.flags |= KVM_IRQFD_FLAG_DEASSIGN;
	if (a->flags & (1u << MSHV_IRQFD_BIT_RESAMPLE)) {
		k.flags |= KVM_IRQFD_FLAG_RESAMPLE;
		k.resamplefd = (uint32_t)a->resamplefd;
	}
	if (ioctl(sim->part_fd, KVM_IRQFD, &k) < 0)
		return -errno;
	r = 0;
	for (unsigned i = 0; i < sim->nr_irqfds; i++) {
		if (sim->irqfds[i].fd == a->fd && sim->irqfds[i].gsi == a->gsi) {
			if (deassign)
				sim->irqfds[i] = sim->irqfds[--sim->nr_irqfds];
			return 0;
		}
	}
	if (!deassign && sim->nr_irqfds < ARRAY_SIZE(sim->irqfds))
		sim->irqfds[sim->nr_irqfds++] = (struct sim_irqfd){ a->fd, a->gsi };
	return r;
}

static int sim_ioeventfd(struct mshv_sim *sim, const struct mshv_user_ioeventfd *a)
{
	struct kvm_ioeventfd k = {
		.datamatch = a->datamatch, .addr = a->addr, .len = a->len, .fd = a->fd
	};

	if (a->flags & ~7u)
		return -EINVAL;
	if (a->flags & (1u << MSHV_IOEVENTFD_BIT_PIO))
		return -EOPNOTSUPP; /* as /dev/mshv: doorbells are MMIO only */
	if (a->flags & (1u << MSHV_IOEVENTFD_BIT_DATAMATCH))
		k.flags |= KVM_IOEVENTFD_FLAG_DATAMATCH;
	if (a->flags & (1u << MSHV_IOEVENTFD_BIT_DEASSIGN))
		k.flags |= KVM_IOEVENTFD_FLAG_DEASSIGN;
	return ioctl(sim->part_fd, KVM_IOEVENTFD, &k) < 0 ? -errno : 0;
}

/* ---- the syscall table ---- */

static struct sim_vp *sim_vp_of(struct mshv_sim *sim, int fd)
{
	struct sim_vp *vp = NULL;

	pthread_mutex_lock(&sim->lock);
	for (unsigned i = 0; i < MSHV_MAX_VPS && !vp; i++)
		if (sim->vps[i] && sim->vps[i]->fd == fd)
			vp = sim->vps[i];
	pthread_mutex_unlock(&sim->lock);
	return vp;
}

static int sim_open(void *ctx, const char *path, int flags)
{
	struct mshv_sim *sim = ctx;
	int fd;

	(void)flags;
	if (strcmp(path, "/dev/mshv"))
		return -ENOENT;
	if (sim->dev_fd >= 0)
		return -EBUSY;
	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	sim->dev_fd = fd;
	/* Read at every MSHV_SET_GUEST_MEMORY, maybe under a seccomp filter: opened now. */
	sim->smaps_fd = open("/proc/self/smaps", O_RDONLY | O_CLOEXEC);
	if (sim->smaps_fd < 0)
		log_warn("mshv-sim: /proc/self/smaps: %s; memory cannot be told RAM from MMIO",
		         strerror(errno));
	return fd;
}

static int sim_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct mshv_sim *sim = ctx;
	struct sim_vp *vp;

	if (sim->dead) {
		log_err("mshv-sim: the simulated host crashed earlier: the call fails");
		return -EIO;
	}
	if (fd == sim->dev_fd && fd >= 0) {
		switch (req) {
		case MSHV_CREATE_PARTITION:
			return sim_create_partition(sim, arg);
		case MSHV_ROOT_HVCALL:
			return sim_dev_hvcall(sim, arg);
		default:
			return -ENOTTY;
		}
	}
	if (fd == sim->bridge_fd && fd >= 0)
		return req == MSHV_SET_DEVICE_ATTR ? sim_device_attr(sim, arg) : -ENOTTY;
	if (fd == sim->part_fd && fd >= 0) {
		switch (req) {
		case MSHV_CREATE_DEVICE:
			return sim_create_device(sim, arg);
		case MSHV_INITIALIZE_PARTITION:
			sim->initialized = true;
			return 0;
		case MSHV_CREATE_VP: {
			const struct mshv_create_vp *c = arg;

			if (!sim->initialized) {
				log_err(
				    "mshv-sim: MSHV_CREATE_VP before MSHV_INITIALIZE_PARTITION");
				return -EBADFD;
			}
			return sim_vp_create(sim, c->vp_index);
		}
		case MSHV_SET_GUEST_MEMORY:
			return sim_set_memory(sim, arg);
		case MSHV_IRQFD:
			return sim_irqfd(sim, arg);
		case MSHV_IOEVENTFD:
			return sim_ioeventfd(sim, arg);
		case MSHV_SET_MSI_ROUTING:
			return sim_msi_routing(sim, arg);
		case MSHV_ROOT_HVCALL:
			return sim_hvcall(sim, NULL, arg);
		default:
			return -ENOTTY;
		}
	}
	vp = sim_vp_of(sim, fd);
	if (!vp)
		return -EBADF;
	switch (req) {
	case MSHV_RUN_VP:
		return sim_run_vp(vp, arg);
	case MSHV_ROOT_HVCALL:
		return sim_hvcall(sim, vp, arg);
	default:
		return -ENOTTY;
	}
}

static int sim_mmap(void *ctx, int fd, off_t offset, size_t len, void **out)
{
	struct mshv_sim *sim = ctx;
	struct sim_vp *vp = sim_vp_of(sim, fd);
	long ps = sysconf(_SC_PAGESIZE);

	if (!vp)
		return -ENODEV;
	if (len > 4096 || offset % ps)
		return -EINVAL;
	switch (offset / ps) {
	case MSHV_VP_MMAP_OFFSET_REGISTERS:
		*out = vp->page;
		return 0;
	case MSHV_VP_MMAP_OFFSET_INTERCEPT_MESSAGE:
		*out = vp->msg_page;
		return 0;
	default:
		return -EINVAL;
	}
}

static int sim_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx; /* the pages belong to the VP and go with it */
	(void)addr;
	(void)len;
	return 0;
}

static int sim_close(void *ctx, int fd)
{
	struct mshv_sim *sim = ctx;
	struct sim_vp *vp;

	if (fd >= 0 && fd == sim->part_fd) {
		sim->part_fd = -1;
		return close(fd) < 0 ? -errno : 0;
	}
	if (fd >= 0 && fd == sim->dev_fd) {
		sim->dev_fd = -1;
		return close(fd) < 0 ? -errno : 0;
	}
	if (fd >= 0 && fd == sim->bridge_fd) {
		sim->bridge_fd = -1;
		sim->nr_bridge_files = 0;
		return close(fd) < 0 ? -errno : 0;
	}
	vp = sim_vp_of(sim, fd);
	if (!vp)
		return -EBADF;
	sim_run_finish(vp);
	pthread_mutex_lock(&sim->lock);
	sim->vps[vp->index] = NULL;
	pthread_mutex_unlock(&sim->lock);
	sim_vp_close(vp);
	return 0;
}

void sim_sys_init(struct mshv_sim *sim)
{
	sim->sys = (struct mshv_sys){
		.ctx = sim,
		.open = sim_open,
		.ioctl = sim_ioctl,
		.mmap = sim_mmap,
		.munmap = sim_munmap,
		.close = sim_close,
	};
}
