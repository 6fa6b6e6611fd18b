/* SPDX-License-Identifier: MIT */
/* hv_ops over /dev/kvm. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv-kvm/internal.h"

#define KVM_TSS_ADDR      0xfffbd000ull /* in the MMIO hole, clear of every device */
#define KVM_IDMAP_ADDR    0xfffbc000ull
#define KVM_MAX_CPUID_ENT 256

static void kvm_kick_handler(int sig)
{
	(void)sig; /* only here so the signal interrupts KVM_RUN */
}

static int kvm_open(int *fd)
{
	int api;

	*fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (*fd < 0)
		return -errno;
	api = ioctl(*fd, KVM_GET_API_VERSION, 0);
	if (api != KVM_API_VERSION) {
		log_err("/dev/kvm speaks API %d, hvmm needs %d", api, KVM_API_VERSION);
		close(*fd);
		return -ENODEV;
	}
	return 0;
}

static int kvm_probe(void)
{
	int fd, r = kvm_open(&fd);

	if (!r)
		close(fd);
	return r;
}

static void kvm_vm_destroy(struct hv_vm *vm)
{
	if (!vm)
		return;
	if (vm->vfio_dev_fd >= 0)
		close(vm->vfio_dev_fd);
	if (vm->fd >= 0)
		close(vm->fd);
	if (vm->sys_fd >= 0)
		close(vm->sys_fd);
	free(vm->cpuid);
	free(vm->slots);
	pthread_mutex_destroy(&vm->slot_lock);
	free(vm);
}

static int kvm_check_caps(struct hv_vm *vm)
{
	static const struct {
		int cap;
		const char *name;
	} need[] = {
		{ KVM_CAP_USER_MEMORY, "KVM_CAP_USER_MEMORY" },
		{ KVM_CAP_IRQ_ROUTING, "KVM_CAP_IRQ_ROUTING" },
		{ KVM_CAP_IRQFD, "KVM_CAP_IRQFD" },
		{ KVM_CAP_IOEVENTFD, "KVM_CAP_IOEVENTFD" },
		{ KVM_CAP_SIGNAL_MSI, "KVM_CAP_SIGNAL_MSI" },
		{ KVM_CAP_SPLIT_IRQCHIP, "KVM_CAP_SPLIT_IRQCHIP" },
		{ KVM_CAP_IMMEDIATE_EXIT, "KVM_CAP_IMMEDIATE_EXIT" },
		{ KVM_CAP_EXT_CPUID, "KVM_CAP_EXT_CPUID" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		if (ioctl(vm->fd, KVM_CHECK_EXTENSION, need[i].cap) <= 0) {
			log_err("KVM lacks %s, which hvmm needs; use a newer host kernel",
			        need[i].name);
			return -ENOTSUP;
		}
	}
	return 0;
}

static int kvm_get_cpuid(struct hv_vm *vm)
{
	for (uint32_t n = 64; n <= 4096; n *= 2) {
		struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + n * sizeof(c->entries[0]));

		if (!c)
			return -ENOMEM;
		c->nent = n;
		if (ioctl(vm->sys_fd, KVM_GET_SUPPORTED_CPUID, c) == 0) {
			vm->cpuid = c;
			return 0;
		}
		free(c);
		if (errno != E2BIG) {
			int r = -errno;

			log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(errno));
			return r;
		}
	}
	return -E2BIG;
}

/*
 * Guest-physical address bits, from the CPUID table the guest gets: leaf 0x80000008's
 * physical address size, or its guest physical address size (EAX[23:16]) when KVM gives one,
 * which is what its nested paging maps.
 */
static uint32_t kvm_phys_bits(const struct kvm_cpuid2 *c)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		uint32_t phys = e->eax & 0xff, guest = (e->eax >> 16) & 0xff;

		if (e->function == 0x80000008)
			return guest && guest < phys ? guest : phys;
	}
	return 0;
}

static int kvm_vm_create(struct hv_vm **out)
{
	struct hv_vm *vm = calloc(1, sizeof(*vm));
	struct kvm_enable_cap split = { .cap = KVM_CAP_SPLIT_IRQCHIP, .args[0] = IOAPIC_PINS };
	struct sigaction sa = { .sa_handler = kvm_kick_handler };
	int r, n;

	if (!vm)
		return -ENOMEM;
	vm->fd = -1;
	vm->vfio_dev_fd = -1;
	pthread_mutex_init(&vm->slot_lock, NULL);
	r = kvm_open(&vm->sys_fd);
	if (r) {
		log_err("open /dev/kvm: %s", strerror(-r));
		goto fail;
	}
	vm->fd = ioctl(vm->sys_fd, KVM_CREATE_VM, 0);
	if (vm->fd < 0) {
		r = -errno;
		log_err("KVM_CREATE_VM: %s", strerror(errno));
		goto fail;
	}
	if ((r = kvm_check_caps(vm)))
		goto fail;
	vm->run_size = ioctl(vm->sys_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size <= 0) {
		r = -errno;
		log_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
		goto fail;
	}
	if (ioctl(vm->fd, KVM_SET_TSS_ADDR, (unsigned long)KVM_TSS_ADDR) < 0) {
		r = -errno;
		log_err("KVM_SET_TSS_ADDR: %s", strerror(errno));
		goto fail;
	}
	uint64_t idmap = KVM_IDMAP_ADDR;
	if (ioctl(vm->fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		log_debug("KVM_SET_IDENTITY_MAP_ADDR: %s (only Intel real mode needs it)",
		          strerror(errno));
	if (ioctl(vm->fd, KVM_ENABLE_CAP, &split) < 0) {
		r = -errno;
		log_err("KVM_ENABLE_CAP KVM_CAP_SPLIT_IRQCHIP: %s", strerror(errno));
		goto fail;
	}
	if ((r = kvm_get_cpuid(vm)))
		goto fail;
	vm->caps.phys_bits = kvm_phys_bits(vm->cpuid);
	n = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_MEMSLOTS);
	vm->nr_slots = n > 0 ? (uint32_t)n : 32;
	vm->slots = calloc(vm->nr_slots, sizeof(*vm->slots));
	if (!vm->slots) {
		r = -ENOMEM;
		goto fail;
	}
	n = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS);
	vm->caps.max_vcpus = n > 0 ? (uint32_t)n : 1;
	if (vm->caps.max_vcpus > VM_MAX_CPUS)
		vm->caps.max_vcpus = VM_MAX_CPUS;
	n = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQ_ROUTING);
	vm->caps.max_gsi = n > 0 ? (uint32_t)n : IRQ_MAX_ROUTES;
	vm->caps.pio_ioeventfd = true;
	vm->caps.devmem = HV_DEVMEM_DIRECT;
	vm->caps.devmem_why = "KVM resolves every page of a memory slot from its host address";
	vm->caps.readonly_mem = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_READONLY_MEM) > 0;
	vm->tsc_deadline = ioctl(vm->fd, KVM_CHECK_EXTENSION, KVM_CAP_TSC_DEADLINE_TIMER) > 0;
	if (sigaction(HV_KVM_KICK_SIGNAL, &sa, NULL) < 0) {
		r = -errno;
		log_err("sigaction for the vCPU kick signal: %s", strerror(errno));
		goto fail;
	}
	*out = vm;
	return 0;
fail:
	kvm_vm_destroy(vm);
	return r;
}

static void kvm_caps(struct hv_vm *vm, struct hv_caps *out)
{
	*out = vm->caps;
}

static int kvm_set_slot(struct hv_vm *vm, uint32_t slot, const struct hv_mem_region *r,
                        uint64_t size)
{
	struct kvm_userspace_memory_region m = {
		.slot = slot,
		.flags = (r->flags & HV_MEM_READONLY) ? KVM_MEM_READONLY : 0,
		.guest_phys_addr = r->gpa,
		.memory_size = size,
		.userspace_addr = (uintptr_t)r->hva,
	};

	if (ioctl(vm->fd, KVM_SET_USER_MEMORY_REGION, &m) < 0) {
		int e = -errno;

		log_err("KVM_SET_USER_MEMORY_REGION slot %u gpa %#llx size %#llx: %s", slot,
		        (unsigned long long)r->gpa, (unsigned long long)size, strerror(errno));
		return e;
	}
	return 0;
}

static int kvm_mem_map(struct hv_vm *vm, const struct hv_mem_region *r)
{
	int ret = -ENOSPC;

	pthread_mutex_lock(&vm->slot_lock);
	for (uint32_t i = 0; i < vm->nr_slots; i++) {
		if (vm->slots[i].used)
			continue;
		ret = kvm_set_slot(vm, i, r, r->size);
		if (!ret)
			vm->slots[i] = (struct kvm_slot){ true, *r };
		break;
	}
	pthread_mutex_unlock(&vm->slot_lock);
	if (ret == -ENOSPC)
		log_err("KVM: all %u memory slots are in use", vm->nr_slots);
	return ret;
}

static int kvm_mem_unmap(struct hv_vm *vm, const struct hv_mem_region *r)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->slot_lock);
	for (uint32_t i = 0; i < vm->nr_slots; i++) {
		struct kvm_slot *s = &vm->slots[i];

		if (!s->used || s->r.gpa != r->gpa || s->r.size != r->size || s->r.hva != r->hva)
			continue;
		ret = kvm_set_slot(vm, i, r, 0);
		if (!ret)
			s->used = false;
		break;
	}
	pthread_mutex_unlock(&vm->slot_lock);
	return ret;
}

/*
 * One package of `nr` single-thread cores whose APIC IDs are the vCPU indexes, as the ACPI
 * MADT says (core/acpi.c).
 */
static int kvm_irqfd(struct hv_vm *vm, int fd, uint32_t gsi, uint32_t flags)
{
	struct kvm_irqfd i = { .fd = (uint32_t)fd, .gsi = gsi, .flags = flags };

	if (ioctl(vm->fd, KVM_IRQFD, &i) < 0) {
		int r = -errno;

		log_err("KVM_IRQFD%s gsi %u: %s", flags ? " deassign" : "", gsi, strerror(errno));
		return r;
	}
	return 0;
}

static int kvm_irqfd_assign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	return kvm_irqfd(vm, fd, gsi, 0);
}

static int kvm_irqfd_deassign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	return kvm_irqfd(vm, fd, gsi, KVM_IRQFD_FLAG_DEASSIGN);
}

static int kvm_ioeventfd(struct hv_vm *vm, const struct hv_ioeventfd *e, uint32_t flags)
{
	struct kvm_ioeventfd k = {
		.datamatch = e->data,
		.addr = e->addr,
		.len = e->len,
		.fd = e->fd,
		.flags = flags | (e->pio ? KVM_IOEVENTFD_FLAG_PIO : 0) |
		         (e->datamatch ? KVM_IOEVENTFD_FLAG_DATAMATCH : 0),
	};

	if (ioctl(vm->fd, KVM_IOEVENTFD, &k) < 0) {
		int r = -errno;

		log_err("KVM_IOEVENTFD%s %s %#llx: %s", flags ? " deassign" : "",
		        e->pio ? "port" : "mmio", (unsigned long long)e->addr, strerror(errno));
		return r;
	}
	return 0;
}

static int kvm_ioeventfd_assign(struct hv_vm *vm, const struct hv_ioeventfd *e)
{
	return kvm_ioeventfd(vm, e, 0);
}

static int kvm_ioeventfd_deassign(struct hv_vm *vm, const struct hv_ioeventfd *e)
{
	return kvm_ioeventfd(vm, e, KVM_IOEVENTFD_FLAG_DEASSIGN);
}

static int kvm_set_msi_routes(struct hv_vm *vm, const struct hv_msi_route *routes, size_t n)
{
	struct kvm_irq_routing *t = calloc(1, sizeof(*t) + n * sizeof(t->entries[0]));
	int r = 0;

	if (!t)
		return -ENOMEM;
	t->nr = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		t->entries[i].gsi = routes[i].gsi;
		t->entries[i].type = KVM_IRQ_ROUTING_MSI;
		t->entries[i].u.msi.address_lo = (uint32_t)routes[i].address;
		t->entries[i].u.msi.address_hi = (uint32_t)(routes[i].address >> 32);
		t->entries[i].u.msi.data = routes[i].data;
	}
	if (ioctl(vm->fd, KVM_SET_GSI_ROUTING, t) < 0) {
		r = -errno;
		log_err("KVM_SET_GSI_ROUTING (%zu routes): %s", n, strerror(errno));
	}
	free(t);
	return r;
}

static int kvm_signal_msi(struct hv_vm *vm, uint64_t address, uint32_t data)
{
	struct kvm_msi m = { .address_lo = (uint32_t)address,
		             .address_hi = (uint32_t)(address >> 32),
		             .data = data };

	if (ioctl(vm->fd, KVM_SIGNAL_MSI, &m) < 0) {
		int r = -errno;

		log_err("KVM_SIGNAL_MSI: %s", strerror(errno));
		return r;
	}
	return 0;
}

/* The KVM-VFIO device, created on the first group: KVM then knows DMA may be non-coherent. */
static int kvm_vfio_group_add(struct hv_vm *vm, int group_fd)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_GROUP,
		.attr = KVM_DEV_VFIO_GROUP_ADD,
		.addr = (uintptr_t)&group_fd,
	};

	if (vm->vfio_dev_fd < 0) {
		struct kvm_create_device cd = { .type = KVM_DEV_TYPE_VFIO };

		if (ioctl(vm->fd, KVM_CREATE_DEVICE, &cd) < 0) {
			int r = -errno;

			log_err("KVM_CREATE_DEVICE (KVM-VFIO): %s", strerror(errno));
			return r;
		}
		vm->vfio_dev_fd = (int)cd.fd;
	}
	if (ioctl(vm->vfio_dev_fd, KVM_SET_DEVICE_ATTR, &attr) < 0) {
		int r = -errno;

		log_err("KVM_SET_DEVICE_ATTR KVM_DEV_VFIO_GROUP_ADD: %s", strerror(errno));
		return r;
	}
	return 0;
}

/* KVM holds a reference to the group's file until told: the group stays attached till then. */
static int kvm_vfio_group_del(struct hv_vm *vm, int group_fd)
{
	struct kvm_device_attr attr = {
		.group = KVM_DEV_VFIO_GROUP,
		.attr = KVM_DEV_VFIO_GROUP_DEL,
		.addr = (uintptr_t)&group_fd,
	};

	if (vm->vfio_dev_fd < 0)
		return -ENOENT;
	if (ioctl(vm->vfio_dev_fd, KVM_SET_DEVICE_ATTR, &attr) < 0) {
		int r = -errno;

		log_err("KVM_SET_DEVICE_ATTR KVM_DEV_VFIO_GROUP_DEL: %s", strerror(errno));
		return r;
	}
	return 0;
}

/* What vcpu_run, register access, memory and interrupt changes call once the VM runs. */
static const uint32_t kvm_run_ioctls[] = {
	KVM_RUN,
	KVM_GET_REGS,
	KVM_SET_REGS,
	KVM_GET_SREGS,
	KVM_SET_SREGS,
	KVM_SET_MP_STATE,
	KVM_IRQFD,
	KVM_IOEVENTFD,
	KVM_SIGNAL_MSI,
	KVM_SET_GSI_ROUTING,
	KVM_SET_USER_MEMORY_REGION,
};

const struct hv_ops hv_kvm_ops = {
	.name = "kvm",
	.probe = kvm_probe,
	.vm_create = kvm_vm_create,
	.vm_destroy = kvm_vm_destroy,
	.caps = kvm_caps,
	.mem_map = kvm_mem_map,
	.mem_unmap = kvm_mem_unmap,
	.vcpu_create = kvm_vcpu_create,
	.vcpu_destroy = kvm_vcpu_destroy,
	.vcpu_set_state = kvm_vcpu_set_state,
	.vcpu_get_regs = kvm_vcpu_get_regs,
	.vcpu_set_regs = kvm_vcpu_set_regs,
	.vcpu_get_sregs = kvm_vcpu_get_sregs,
	.vcpu_set_sregs = kvm_vcpu_set_sregs,
	.vcpu_run = kvm_vcpu_run,
	.vcpu_kick = kvm_vcpu_kick,
	.irqfd_assign = kvm_irqfd_assign,
	.irqfd_deassign = kvm_irqfd_deassign,
	.ioeventfd_assign = kvm_ioeventfd_assign,
	.ioeventfd_deassign = kvm_ioeventfd_deassign,
	.set_msi_routes = kvm_set_msi_routes,
	.signal_msi = kvm_signal_msi,
	.vfio_group_add = kvm_vfio_group_add,
	.vfio_group_del = kvm_vfio_group_del,
	.run_ioctls = kvm_run_ioctls,
	.nr_run_ioctls = ARRAY_SIZE(kvm_run_ioctls),
};
