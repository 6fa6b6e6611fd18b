/* SPDX-License-Identifier: MIT */
/* A scripted stand-in for a hypervisor.  Test-only: its state is file-global on purpose. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/unit.h"

#define FAKE_MAX_REGIONS 64
#define FAKE_MAX_IRQFDS  64

struct hv_vm {
	struct hv_mem_region regions[FAKE_MAX_REGIONS]; /* what is mapped now */
	unsigned nr_regions;
	int vfio_groups[16]; /* group fds the KVM-VFIO device holds */
	unsigned nr_vfio_groups;
};

/* The irqfds of the VM alive now: which eventfd is bound to which GSI. */
static struct {
	int fd;
	uint32_t gsi;
} fake_irqfds[FAKE_MAX_IRQFDS];
static unsigned fake_nr_irqfds;

struct hv_vcpu {
	uint32_t index;
	const struct hv_io *io;
	size_t pos;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool kicked;
	struct hv_regs regs; /* what set_regs/set_sregs stored, for get_regs/get_sregs */
	struct hv_sregs sregs;
};

static struct {
	struct fake_step *steps[FAKE_MAX_VCPUS];
	size_t nr[FAKE_MAX_VCPUS];
	int vm_create_err;
	struct fake_record rec;
	pthread_mutex_t lock;
	pthread_cond_t released_cond;
	bool released;
	bool hanging;
	unsigned fail_n, calls;
	int fail_err;
	uint32_t phys_bits;
} fake = { .lock = PTHREAD_MUTEX_INITIALIZER,
	   .released_cond = PTHREAD_COND_INITIALIZER,
	   .phys_bits = 40 };

bool fake_hv_hanging(void)
{
	return __atomic_load_n(&fake.hanging, __ATOMIC_SEQ_CST);
}

void fake_hv_release(void)
{
	pthread_mutex_lock(&fake.lock);
	fake.released = true;
	pthread_cond_broadcast(&fake.released_cond);
	pthread_mutex_unlock(&fake.lock);
}

void fake_hv_fail_nth(unsigned n, int err)
{
	fake.fail_n = n;
	fake.fail_err = err;
	fake.calls = 0;
}

unsigned fake_hv_calls(void)
{
	return fake.calls;
}

/* Count a set-up call; the n-th fails, logged as a backend would log it. */
int fake_hv_fault(const char *op)
{
	unsigned n = __atomic_add_fetch(&fake.calls, 1, __ATOMIC_SEQ_CST);

	if (fake.fail_n && n == fake.fail_n) {
		log_err("%s: %s (injected)", op, strerror(-fake.fail_err));
		return fake.fail_err;
	}
	return 0;
}

void fake_hv_script(uint32_t index, struct fake_step *steps, size_t n)
{
	fake.steps[index] = steps;
	fake.nr[index] = n;
}

void fake_hv_fail_vm_create(int err)
{
	fake.vm_create_err = err;
}

void fake_hv_reset(void)
{
	memset(fake.steps, 0, sizeof(fake.steps));
	memset(fake.nr, 0, sizeof(fake.nr));
	fake.vm_create_err = 0;
	fake.released = false;
	fake.hanging = false;
	fake.fail_n = 0;
	fake.calls = 0;
	fake.phys_bits = 40;
	memset(&fake.rec, 0, sizeof(fake.rec));
}

void fake_hv_set_phys_bits(uint32_t bits)
{
	fake.phys_bits = bits;
}

int fake_hv_irqfd_gsi(int fd)
{
	for (unsigned i = 0; i < fake_nr_irqfds; i++) {
		if (fake_irqfds[i].fd == fd)
			return (int)fake_irqfds[i].gsi;
	}
	return -1;
}

const struct fake_record *fake_hv_record(void)
{
	return &fake.rec;
}

static int fake_probe(void)
{
	return 0;
}

static int fake_vm_create_hv(struct hv_vm **out)
{
	if (fake_hv_fault("FAKE_CREATE_VM"))
		return fake.fail_err;
	if (fake.vm_create_err)
		return fake.vm_create_err;
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

/*
 * The VM's release takes its regions and irqfds with it, as the kernels do: KVM's
 * kvm_destroy_vm() (kvm_free_memslots, kvm_irqfd_release) and mshv_root's partition release
 * (regions and irqfds of the partition).
 */
static void fake_vm_destroy(struct hv_vm *vm)
{
	fake.rec.mem_maps = 0;
	fake.rec.irqfds = 0;
	fake_nr_irqfds = 0;
	fake.rec.releases++;
	free(vm);
}

static void fake_caps(struct hv_vm *vm, struct hv_caps *out)
{
	(void)vm;
	*out = (struct hv_caps){ .pio_ioeventfd = true,
		                 .readonly_mem = true,
		                 .max_vcpus = FAKE_MAX_VCPUS,
		                 .max_gsi = IRQ_MAX_ROUTES,
		                 .phys_bits = fake.phys_bits };
}

static int fake_mem_map(struct hv_vm *vm, const struct hv_mem_region *r)
{
	if (fake_hv_fault("FAKE_MAP_MEMORY"))
		return fake.fail_err;
	if (vm->nr_regions == FAKE_MAX_REGIONS)
		return -ENOSPC;
	vm->regions[vm->nr_regions++] = *r;
	fake.rec.mem_maps++;
	return 0;
}

/* Like KVM and /dev/mshv: only a region exactly as mapped can be unmapped. */
static int fake_mem_unmap(struct hv_vm *vm, const struct hv_mem_region *r)
{
	for (unsigned i = 0; i < vm->nr_regions; i++) {
		struct hv_mem_region *m = &vm->regions[i];

		if (m->gpa == r->gpa && m->size == r->size && m->hva == r->hva) {
			*m = vm->regions[--vm->nr_regions];
			fake.rec.mem_maps--;
			fake.rec.undos++;
			return 0;
		}
	}
	return -ENOENT;
}

int fake_hv_guest_access(struct vm *vm, uint64_t gpa, void *data, uint32_t len, bool write)
{
	struct hv_vm *h = vm->hvm;

	for (unsigned i = 0; i < h->nr_regions; i++) {
		struct hv_mem_region *m = &h->regions[i];
		uint8_t *p;

		if (gpa < m->gpa || gpa + len > m->gpa + m->size)
			continue;
		p = (uint8_t *)m->hva + (gpa - m->gpa);
		if (!fake_vfio_mmap_ok(p, len))
			return -EFAULT;
		if (write)
			memcpy(p, data, len);
		else
			memcpy(data, p, len);
		return 0;
	}
	bus_access(&vm->mmio, gpa, data, len, write);
	return 0;
}

/*
 * KVM_DEV_VFIO_FILE_ADD (virt/kvm/vfio.c, kvm_vfio_file_add(); kvm_vfio_group_add() before
 * 6.6): -EEXIST for a file the device already holds.
 */
static int fake_vfio_group_add(struct hv_vm *vm, int group_fd)
{
	for (unsigned i = 0; i < vm->nr_vfio_groups; i++) {
		if (vm->vfio_groups[i] == group_fd)
			return -EEXIST;
	}
	if (vm->nr_vfio_groups == 16)
		return -ENOSPC;
	vm->vfio_groups[vm->nr_vfio_groups++] = group_fd;
	fake.rec.vfio_groups++;
	return 0;
}

/*
 * KVM_DEV_VFIO_FILE_DEL (virt/kvm/vfio.c, kvm_vfio_file_del(); kvm_vfio_group_del() before
 * 6.6): the device drops its reference; -ENOENT for a file it does not hold.
 */
static int fake_vfio_group_del(struct hv_vm *vm, int group_fd)
{
	for (unsigned i = 0; i < vm->nr_vfio_groups; i++) {
		if (vm->vfio_groups[i] == group_fd) {
			vm->vfio_groups[i] = vm->vfio_groups[--vm->nr_vfio_groups];
			fake.rec.vfio_groups--;
			return 0;
		}
	}
	return -ENOENT;
}

static int fake_vcpu_create(struct hv_vm *vm, uint32_t index, uint32_t nr, const struct hv_io *io,
                            struct hv_vcpu **out)
{
	struct hv_vcpu *v;

	(void)vm;
	(void)nr;
	if (index >= FAKE_MAX_VCPUS)
		return -EINVAL;
	if (fake_hv_fault("FAKE_CREATE_VCPU"))
		return fake.fail_err;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->index = index;
	v->io = io;
	pthread_mutex_init(&v->lock, NULL);
	pthread_cond_init(&v->cond, NULL);
	*out = v;
	return 0;
}

static void fake_vcpu_destroy(struct hv_vcpu *v)
{
	pthread_cond_destroy(&v->cond);
	pthread_mutex_destroy(&v->lock);
	free(v);
}

static int fake_ok_state(struct hv_vcpu *v, enum hv_vcpu_state s)
{
	if (fake_hv_fault("FAKE_SET_MP_STATE"))
		return fake.fail_err;
	fake.rec.vcpu_state[v->index] = s;
	return 0;
}

static int fake_get_regs(struct hv_vcpu *v, struct hv_regs *r)
{
	*r = v->regs;
	return 0;
}

static int fake_set_regs(struct hv_vcpu *v, const struct hv_regs *r)
{
	if (fake_hv_fault("FAKE_SET_REGS"))
		return fake.fail_err;
	v->regs = *r;
	return 0;
}

static int fake_get_sregs(struct hv_vcpu *v, struct hv_sregs *r)
{
	*r = v->sregs;
	return 0;
}

static int fake_set_sregs(struct hv_vcpu *v, const struct hv_sregs *r)
{
	if (fake_hv_fault("FAKE_SET_SREGS"))
		return fake.fail_err;
	v->sregs = *r;
	return 0;
}

static int fake_vcpu_run(struct hv_vcpu *v, enum hv_exit *out)
{
	while (v->pos < fake.nr[v->index]) {
		struct fake_step *s = &fake.steps[v->index][v->pos++];
		uint64_t d = s->data;

		switch (s->kind) {
		case FAKE_PIO:
			v->io->pio(v->io->ctx, (uint16_t)s->addr, &d, s->len, s->write);
			if (!s->write)
				s->data = d & (s->len == 8 ? ~0ull : (1ull << (8 * s->len)) - 1);
			continue;
		case FAKE_MMIO:
			v->io->mmio(v->io->ctx, s->addr, &d, s->len, s->write);
			if (!s->write)
				s->data = d & (s->len == 8 ? ~0ull : (1ull << (8 * s->len)) - 1);
			continue;
		case FAKE_EOI:
			v->io->eoi(v->io->ctx, (uint8_t)s->data);
			continue;
		case FAKE_EXIT:
			*out = s->exit;
			return 0;
		case FAKE_FAIL:
			return s->err;
		case FAKE_HANG:
			__atomic_store_n(&fake.hanging, true, __ATOMIC_SEQ_CST);
			pthread_mutex_lock(&fake.lock);
			while (!fake.released)
				pthread_cond_wait(&fake.released_cond, &fake.lock);
			pthread_mutex_unlock(&fake.lock);
			*out = HV_EXIT_INTERRUPTED;
			return 0;
		}
	}
	/* Out of script: wait for a kick like a halted vCPU would. */
	pthread_mutex_lock(&v->lock);
	while (!v->kicked)
		pthread_cond_wait(&v->cond, &v->lock);
	v->kicked = false;
	pthread_mutex_unlock(&v->lock);
	*out = HV_EXIT_INTERRUPTED;
	return 0;
}

static void fake_vcpu_kick(struct hv_vcpu *v)
{
	pthread_mutex_lock(&v->lock);
	v->kicked = true;
	pthread_cond_signal(&v->cond);
	pthread_mutex_unlock(&v->lock);
	pthread_mutex_lock(&fake.lock);
	fake.rec.kicks++;
	pthread_mutex_unlock(&fake.lock);
}

/*
 * KVM_IRQFD and MSHV_IRQFD: an eventfd feeds one irqfd of a VM at a time, -EBUSY for a second
 * (kvm_irqfd_assign() and mshv_irqfd_assign(): "This fd is used for another irq already");
 * several eventfds may feed one GSI.
 */
static int fake_irqfd_assign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	if (fake_hv_fault("FAKE_IRQFD"))
		return fake.fail_err;
	(void)vm;
	if (fake_hv_irqfd_gsi(fd) >= 0)
		return -EBUSY;
	if (fake_nr_irqfds < FAKE_MAX_IRQFDS)
		fake_irqfds[fake_nr_irqfds++] = (typeof(fake_irqfds[0])){ fd, gsi };
	fake.rec.irqfds++;
	return 0;
}

static int fake_irqfd_deassign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	(void)vm;
	for (unsigned i = 0; i < fake_nr_irqfds; i++) {
		if (fake_irqfds[i].fd == fd && fake_irqfds[i].gsi == gsi) {
			fake_irqfds[i] = fake_irqfds[--fake_nr_irqfds];
			break;
		}
	}
	fake.rec.irqfds--;
	fake.rec.undos++;
	return 0;
}

static int fake_ioeventfd(struct hv_vm *vm, const struct hv_ioeventfd *e)
{
	(void)vm;
	(void)e;
	return 0;
}

static int fake_set_msi_routes(struct hv_vm *vm, const struct hv_msi_route *r, size_t n)
{
	if (fake_hv_fault("FAKE_SET_MSI_ROUTING"))
		return fake.fail_err;
	(void)vm;
	pthread_mutex_lock(&fake.lock);
	memcpy(fake.rec.routes, r, n * sizeof(*r));
	fake.rec.nr_routes = (unsigned)n;
	fake.rec.route_pushes++;
	pthread_mutex_unlock(&fake.lock);
	return 0;
}

static int fake_signal_msi(struct hv_vm *vm, uint64_t a, uint32_t d)
{
	(void)vm;
	(void)a;
	(void)d;
	fake.rec.signal_msis++;
	return 0;
}

const struct hv_ops fake_hv_ops = {
	.name = "fake",
	.probe = fake_probe,
	.vm_create = fake_vm_create_hv,
	.vm_destroy = fake_vm_destroy,
	.caps = fake_caps,
	.mem_map = fake_mem_map,
	.mem_unmap = fake_mem_unmap,
	.vcpu_create = fake_vcpu_create,
	.vcpu_destroy = fake_vcpu_destroy,
	.vcpu_set_state = fake_ok_state,
	.vcpu_get_regs = fake_get_regs,
	.vcpu_set_regs = fake_set_regs,
	.vcpu_get_sregs = fake_get_sregs,
	.vcpu_set_sregs = fake_set_sregs,
	.vcpu_run = fake_vcpu_run,
	.vcpu_kick = fake_vcpu_kick,
	.irqfd_assign = fake_irqfd_assign,
	.irqfd_deassign = fake_irqfd_deassign,
	.ioeventfd_assign = fake_ioeventfd,
	.ioeventfd_deassign = fake_ioeventfd,
	.set_msi_routes = fake_set_msi_routes,
	.signal_msi = fake_signal_msi,
	.vfio_group_add = fake_vfio_group_add,
	.vfio_group_del = fake_vfio_group_del,
};

int fake_pc_create(uint32_t cpus, uint64_t mem, struct pc **out)
{
	struct vm_config cfg = { .hypervisor = "fake",
		                 .mem_size = mem,
		                 .nr_cpus = cpus,
		                 .kernel = "none",
		                 .cmdline = "",
		                 .serial = SERIAL_NONE };

	return pc_create(&cfg, &fake_hv_ops, out);
}

int fake_pc_create_ports(uint32_t cpus, uint64_t mem, const char *const *ports, unsigned n,
                         bool api, struct pc **out)
{
	struct vm_config cfg = { .hypervisor = "fake",
		                 .mem_size = mem,
		                 .nr_cpus = cpus,
		                 .kernel = "none",
		                 .cmdline = "",
		                 .serial = SERIAL_NONE,
		                 .api_socket =
		                     api ? "not opened: the board only learns of it" : NULL };

	for (unsigned i = 0; i < n && i < VM_MAX_ROOT_PORTS; i++)
		cfg.root_ports[cfg.nr_root_ports++] = ports[i];
	return pc_create(&cfg, &fake_hv_ops, out);
}

int fake_vm_create(uint32_t cpus, uint64_t mem, struct vm **out)
{
	struct pc *pc;
	int r = fake_pc_create(cpus, mem, &pc);

	if (!r)
		*out = pc->vm;
	return r;
}
