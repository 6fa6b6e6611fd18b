/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: the syscall table hv-mshv calls, the partition behind it (memory, interrupts,
 * properties) and hypercall dispatch.
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

void *sim_ram_ptr(struct mshv_sim *sim, uint64_t gpa, uint64_t len, uint8_t *flags)
{
	void *p = NULL;

	pthread_mutex_lock(&sim->lock);
	for (unsigned i = 0; i < sim->nr_regions; i++) {
		const struct sim_region *r = &sim->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa)) {
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
	sim->part_fd = vm;
	sim->pt_flags = cp->pt_flags;
	return vm;
}

static bool sim_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int sim_kvm_slot(struct mshv_sim *sim, const struct sim_region *r, uint64_t size)
{
	struct kvm_userspace_memory_region m = {
		.slot = r->slot,
		/* Without WRITABLE, guest writes fault: on KVM a read-only slot does that. */
		.flags = (r->flags & (1u << MSHV_SET_MEM_BIT_WRITABLE)) ? 0 : KVM_MEM_READONLY,
		.guest_phys_addr = r->gpa,
		.memory_size = size,
		.userspace_addr = r->uaddr,
	};

	return ioctl(sim->part_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0 ? -errno : 0;
}

static int sim_set_memory(struct mshv_sim *sim, const struct mshv_user_mem_region *m)
{
	struct sim_region n = { .gpa = m->guest_pfn << 12,
		                .size = m->size,
		                .uaddr = m->userspace_addr,
		                .flags = m->flags };
	int r = 0;

	if (!m->size || m->size & 0xfff || m->userspace_addr & 0xfff || m->flags & ~7u ||
	    m->rsvd[0] | m->rsvd[1] | m->rsvd[2] | m->rsvd[3] | m->rsvd[4] | m->rsvd[5] |
	        m->rsvd[6])
		return -EINVAL;
	if (!sim->initialized) {
		log_err("mshv-sim: MSHV_SET_GUEST_MEMORY before MSHV_INITIALIZE_PARTITION");
		return -EBADFD;
	}
	pthread_mutex_lock(&sim->lock);
	if (m->flags & (1u << MSHV_SET_MEM_BIT_UNMAP)) {
		/* No slots: the unmap names the exact mapping, or it fails. */
		r = -EINVAL;
		for (unsigned i = 0; i < sim->nr_regions; i++) {
			struct sim_region *o = &sim->regions[i];

			if (n.gpa < o->gpa || n.gpa >= o->gpa + o->size)
				continue;
			if (o->gpa == n.gpa && o->size == n.size && o->uaddr == n.uaddr &&
			    !(r = sim_kvm_slot(sim, o, 0))) {
				sim->slots_used[o->slot / 64] &= ~(1ull << (o->slot % 64));
				sim->regions[i] = sim->regions[--sim->nr_regions];
			}
			break;
		}
		goto out;
	}
	for (unsigned i = 0; i < sim->nr_regions; i++) {
		const struct sim_region *o = &sim->regions[i];

		/* Mappings may overlap neither in guest-physical space nor in userspace. */
		if (sim_overlap(n.gpa, n.size, o->gpa, o->size) ||
		    sim_overlap(n.uaddr, n.size, o->uaddr, o->size)) {
			r = -EEXIST;
			goto out;
		}
	}
	r = -ENOSPC;
	for (uint32_t s = 0; s < 256 && sim->nr_regions < SIM_MAX_REGIONS; s++) {
		if (sim->slots_used[s / 64] & (1ull << (s % 64)))
			continue;
		n.slot = s;
		if (!(r = sim_kvm_slot(sim, &n, n.size))) {
			sim->slots_used[s / 64] |= 1ull << (s % 64);
			sim->regions[sim->nr_regions++] = n;
		}
		break;
	}
out:
	pthread_mutex_unlock(&sim->lock);
	return r;
}

static int sim_msi_routing(struct mshv_sim *sim, const struct mshv_user_irq_table *t)
{
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

		if (e->gsi >= MSHV_MAX_GSI || e->address_hi) {
			r = -EINVAL;
			goto out;
		}
		k->entries[i].gsi = e->gsi;
		k->entries[i].type = KVM_IRQ_ROUTING_MSI;
		k->entries[i].u.msi.address_lo = e->address_lo;
		k->entries[i].u.msi.data = e->data;
	}
	if (ioctl(sim->part_fd, KVM_SET_GSI_ROUTING, k) < 0)
		r = -errno;
out:
	free(k);
	return r;
}

static int sim_irqfd(struct mshv_sim *sim, const struct mshv_user_irqfd *a)
{
	struct kvm_irqfd k = { .fd = (uint32_t)a->fd, .gsi = a->gsi };

	if (a->flags & ~3u)
		return -EINVAL;
	if (a->flags & (1u << MSHV_IRQFD_BIT_DEASSIGN))
		k.flags |= KVM_IRQFD_FLAG_DEASSIGN;
	if (a->flags & (1u << MSHV_IRQFD_BIT_RESAMPLE)) {
		k.flags |= KVM_IRQFD_FLAG_RESAMPLE;
		k.resamplefd = (uint32_t)a->resamplefd;
	}
	return ioctl(sim->part_fd, KVM_IRQFD, &k) < 0 ? -errno : 0;
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
	return fd;
}

static int sim_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	struct mshv_sim *sim = ctx;
	struct sim_vp *vp;

	if (fd == sim->dev_fd && fd >= 0)
		return req == MSHV_CREATE_PARTITION ? sim_create_partition(sim, arg) : -ENOTTY;
	if (fd == sim->part_fd && fd >= 0) {
		switch (req) {
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
