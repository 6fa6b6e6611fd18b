/* SPDX-License-Identifier: MIT */
/* hv-mshv: the syscall table, hypercalls, the partition and its guest memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv-mshv/internal.h"

/* ---- the real system calls ---- */

static int sys_open(void *ctx, const char *path, int flags)
{
	int fd = open(path, flags);

	(void)ctx;
	return fd < 0 ? -errno : fd;
}

static int sys_ioctl(void *ctx, int fd, unsigned long request, void *arg)
{
	int r = ioctl(fd, request, arg);

	(void)ctx;
	return r < 0 ? -errno : r;
}

static int sys_mmap(void *ctx, int fd, off_t offset, size_t len, void **out)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);

	(void)ctx;
	if (p == MAP_FAILED)
		return -errno;
	*out = p;
	return 0;
}

static int sys_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	return munmap(addr, len) < 0 ? -errno : 0;
}

static int sys_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd) < 0 ? -errno : 0;
}

const struct mshv_sys mshv_sys_default = {
	.ctx = NULL,
	.open = sys_open,
	.ioctl = sys_ioctl,
	.mmap = sys_mmap,
	.munmap = sys_munmap,
	.close = sys_close,
};

/* ---- hypercalls ---- */

const char *mshv_hvcall_name(uint16_t code)
{
	switch (code) {
	case MSHV_HVCALL_GET_PARTITION_PROPERTY:
		return "HVCALL_GET_PARTITION_PROPERTY";
	case MSHV_HVCALL_SET_PARTITION_PROPERTY:
		return "HVCALL_SET_PARTITION_PROPERTY";
	case MSHV_HVCALL_GET_VP_REGISTERS:
		return "HVCALL_GET_VP_REGISTERS";
	case MSHV_HVCALL_SET_VP_REGISTERS:
		return "HVCALL_SET_VP_REGISTERS";
	case MSHV_HVCALL_TRANSLATE_VIRTUAL_ADDRESS:
		return "HVCALL_TRANSLATE_VIRTUAL_ADDRESS";
	case MSHV_HVCALL_REGISTER_INTERCEPT_RESULT:
		return "HVCALL_REGISTER_INTERCEPT_RESULT";
	case MSHV_HVCALL_ASSERT_VIRTUAL_INTERRUPT:
		return "HVCALL_ASSERT_VIRTUAL_INTERRUPT";
	default:
		return "hypercall";
	}
}

int mshv_hvcall(struct hv_vm *vm, int fd, uint16_t code, uint16_t reps, void *in, size_t in_sz,
                void *out, size_t out_sz, uint16_t *reps_done)
{
	struct mshv_root_hvcall a;
	int r;

	/*
	 * The kernel deposits a page and answers EAGAIN when the hypervisor ran short of
	 * memory for this partition: the call is simply made again.
	 */
	for (unsigned tries = 0;; tries++) {
		a = (struct mshv_root_hvcall){
			.code = code,
			.reps = reps,
			.in_sz = (uint16_t)in_sz,
			.out_sz = (uint16_t)out_sz,
			.in_ptr = (uintptr_t)in,
			.out_ptr = (uintptr_t)out,
		};
		r = vm->sys.ioctl(vm->sys.ctx, fd, MSHV_ROOT_HVCALL, &a);
		if (r != -EAGAIN || tries >= 64)
			break;
	}
	if (r < 0) {
		log_err("MSHV_ROOT_HVCALL %s: %s (hypervisor status %#x)", mshv_hvcall_name(code),
		        strerror(-r), a.status);
		return r;
	}
	if (reps_done)
		*reps_done = a.reps;
	return 0;
}

static int mshv_set_property(struct hv_vm *vm, uint64_t code, uint64_t value)
{
	struct mshv_in_partition_property in = { .code = (uint32_t)code, .value = value };

	return mshv_hvcall(vm, vm->fd, MSHV_HVCALL_SET_PARTITION_PROPERTY, 0, &in, sizeof(in), NULL,
	                   0, NULL);
}

/* ---- the partition ---- */

static void mshv_kick_handler(int sig)
{
	(void)sig; /* only here so the signal interrupts MSHV_RUN_VP */
}

int mshv_probe(void)
{
	int fd = mshv_sys_default.open(NULL, "/dev/mshv", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -ENODEV;
	mshv_sys_default.close(NULL, fd);
	return 0;
}

const struct mshv_sys *mshv_vm_sys(const struct hv_vm *vm)
{
	return &vm->sys;
}

void mshv_vm_destroy(struct hv_vm *vm)
{
	if (!vm)
		return;
	if (vm->vfio_dev_fd >= 0)
		vm->sys.close(vm->sys.ctx, vm->vfio_dev_fd);
	if (vm->fd >= 0)
		vm->sys.close(vm->sys.ctx, vm->fd);
	if (vm->dev_fd >= 0)
		vm->sys.close(vm->sys.ctx, vm->dev_fd);
	mshv_irq_destroy(vm);
	pthread_rwlock_destroy(&vm->mem_lock);
	free(vm->regions);
	free(vm);
}

/*
 * The host's assignable synthetic features: Cloud Hypervisor and rust-vmm read
 * HV_PARTITION_PROPERTY_ASSIGNABLE_SYNTHETIC_PROC_FEATURES with HVCALL_GET_PARTITION_PROPERTY_EX
 * through MSHV_ROOT_HVCALL on /dev/mshv (rust-vmm mshv-ioctls system.rs,
 * make_default_synthetic_features_mask).  Mainline's /dev/mshv takes no hypercall
 * (mshv_dev_ioctl() knows only MSHV_CREATE_PARTITION) and its partition fd's pass-through list
 * lacks the _EX call, so there the answer is -ENOTTY or -EINVAL.
 */
static int mshv_assignable_features(struct hv_vm *vm, uint64_t *out)
{
	struct mshv_in_partition_property_ex in = {
		.code = (uint32_t)MSHV_PROP_ASSIGNABLE_SYNTHETIC_PROC_FEATURES,
	};
	uint8_t *buf = calloc(1, MSHV_PROP_EX_OUT_SIZE);
	struct mshv_root_hvcall a = {
		.code = MSHV_HVCALL_GET_PARTITION_PROPERTY_EX,
		.in_sz = sizeof(in),
		.out_sz = MSHV_PROP_EX_OUT_SIZE,
		.in_ptr = (uintptr_t)&in,
		.out_ptr = (uintptr_t)buf,
	};
	int r;

	if (!buf)
		return -ENOMEM;
	r = vm->sys.ioctl(vm->sys.ctx, vm->dev_fd, MSHV_ROOT_HVCALL, &a);
	if (r >= 0)
		memcpy(out, buf + MSHV_PROP_EX_BANK0_OFFSET, sizeof(*out));
	free(buf);
	return r < 0 ? r : 0;
}

uint64_t mshv_synthetic_features(struct hv_vm *vm, const char **source)
{
	uint64_t assignable = 0;
	int r = mshv_assignable_features(vm, &assignable);

	if (r == 0) {
		*source = "the default set intersected with the host's assignable features";
		return MSHV_SYNTH_DEFAULT & assignable;
	}
	*source = "the default set: this kernel does not let hvmm read the host's assignable "
	          "features";
	return MSHV_SYNTH_DEFAULT;
}

/*
 * Device memory.  Mainline mshv_root maps a VM_IO/VM_PFNMAP region from the PFN in the VMA's
 * vm_pgoff (drivers/hv/mshv_root_main.c, mshv_map_user_memory(): "mmio_pfn = is_mmio ?
 * vma->vm_pgoff : 0"), and vfio-pci has kept its region offset there, not a PFN, since
 * aac6db75a9fc: a BAR handed to it would show the guest other host pages.  The "PCI passthru on
 * Hyper-V" series adds the VFIO bridge device and resolves MMIO by address at fault time
 * ("mshv: Populate mmio mappings for PCI passthru"); where MSHV_CREATE_DEVICE knows the VFIO
 * type, BARs may be mapped.
 */
static void mshv_detect_devmem(struct hv_vm *vm)
{
	struct mshv_create_device cd = { .type = MSHV_DEV_TYPE_VFIO,
		                         .flags = MSHV_CREATE_DEVICE_TEST };
	int r = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_CREATE_DEVICE, &cd);

	if (r >= 0) {
		vm->caps.devmem = HV_DEVMEM_BRIDGE;
		vm->caps.devmem_why =
		    "this kernel has the MSHV VFIO bridge device and resolves BAR "
		    "mappings by address";
		return;
	}
	vm->caps.devmem = HV_DEVMEM_TRAP;
	vm->caps.devmem_why = "this kernel has no MSHV VFIO bridge device; mainline mshv_root "
	                      "would map a BAR from vm_pgoff, which vfio-pci does not set to a PFN";
}

/* The partition, its early property and initialization, with the peers' EINTR retry. */
static int mshv_create_partition(struct hv_vm *vm)
{
	struct mshv_create_partition cp = {
		.pt_flags = (1ull << MSHV_PT_BIT_LAPIC) | (1ull << MSHV_PT_BIT_X2APIC),
		.pt_isolation = 0,
	};
	unsigned tries = 0;
	int r;

	/*
	 * Creating a partition deposits memory into the hypervisor and can be interrupted by a
	 * signal: Cloud Hypervisor and OpenVMM simply ask again.
	 */
	do
		vm->fd = vm->sys.ioctl(vm->sys.ctx, vm->dev_fd, MSHV_CREATE_PARTITION, &cp);
	while (vm->fd == -EINTR && ++tries < 100);
	if (vm->fd < 0) {
		r = vm->fd;
		log_err("MSHV_CREATE_PARTITION: %s", strerror(-r));
		return r;
	}
	/*
	 * Synthetic processor features are an early property: the hypervisor takes them only
	 * before the partition is initialized.  A Linux guest that sees HV#1 uses every
	 * enlightenment it is offered, so the set is the peers' (Cloud Hypervisor, rust-vmm)
	 * without what needs a SynIC or VMBus, which hvmm does not offer: synthetic interrupt
	 * controller registers, synthetic timers (direct or not).
	 */
	vm->synth_features = mshv_synthetic_features(vm, &vm->synth_source);
	r = mshv_set_property(vm, MSHV_PROP_SYNTHETIC_PROC_FEATURES, vm->synth_features);
	if (r)
		return r;
	r = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_INITIALIZE_PARTITION, NULL);
	if (r < 0) {
		log_err("MSHV_INITIALIZE_PARTITION: %s", strerror(-r));
		return r;
	}
	/*
	 * An MSR the hypervisor does not implement reads 0 and ignores writes instead of raising
	 * #GP (its default): Hyper-V implements fewer MSRs than hardware, and guests probe some
	 * without a #GP handler ready.  QEMU's MSHV accelerator makes the same choice.
	 */
	return mshv_set_property(vm, MSHV_PROP_UNIMPLEMENTED_MSR_ACTION,
	                         MSHV_MSR_ACTION_IGNORE_WRITE_READ0);
}

int mshv_vm_create_with(const struct mshv_sys *sys, struct hv_vm **out)
{
	struct hv_vm *vm = calloc(1, sizeof(*vm));
	struct sigaction sa = { .sa_handler = mshv_kick_handler };
	static _Atomic bool said;
	int r;

	if (!vm)
		return -ENOMEM;
	vm->sys = *sys;
	vm->fd = -1;
	vm->vfio_dev_fd = -1;
	vm->page_size = sysconf(_SC_PAGESIZE);
	pthread_rwlock_init(&vm->mem_lock, NULL);
	pthread_mutex_init(&vm->irq_lock, NULL);
	vm->dev_fd = sys->open(sys->ctx, "/dev/mshv", O_RDWR | O_CLOEXEC);
	if (vm->dev_fd < 0) {
		r = vm->dev_fd;
		log_err("open /dev/mshv: %s", strerror(-r));
		goto fail;
	}
	if ((r = mshv_create_partition(vm)))
		goto fail;
	if (!atomic_exchange(&said, true))
		log_info("mshv: synthetic processor features %#llx: %s",
		         (unsigned long long)vm->synth_features, vm->synth_source);
	vm->caps = (struct hv_caps){
		.pio_ioeventfd = false, /* /dev/mshv refuses port I/O doorbells */
		.readonly_mem = true,   /* a mapping without WRITABLE: writes intercept */
		.max_vcpus = MSHV_MAX_VPS < VM_MAX_CPUS ? MSHV_MAX_VPS : VM_MAX_CPUS,
		.max_gsi = MSHV_MAX_GSI,
	};
	mshv_detect_devmem(vm);
	if (sigaction(HV_MSHV_KICK_SIGNAL, &sa, NULL) < 0) {
		r = -errno;
		log_err("sigaction for the vCPU kick signal: %s", strerror(errno));
		goto fail;
	}
	*out = vm;
	return 0;
fail:
	mshv_vm_destroy(vm);
	return r;
}

int mshv_vm_create(struct hv_vm **out)
{
	return mshv_vm_create_with(&mshv_sys_default, out);
}

void mshv_caps(struct hv_vm *vm, struct hv_caps *out)
{
	*out = vm->caps;
}

void mshv_vm_set_devmem(struct hv_vm *vm, enum hv_devmem mode, const char *why)
{
	vm->caps.devmem = mode;
	vm->caps.devmem_why = why;
}

/* ---- guest memory ---- */

static bool mshv_overlaps(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

bool mshv_mem_find(struct hv_vm *vm, uint64_t gpa, uint64_t len, struct hv_mem_region *out)
{
	bool found = false;

	pthread_rwlock_rdlock(&vm->mem_lock);
	for (size_t i = 0; i < vm->nr_regions; i++) {
		const struct hv_mem_region *r = &vm->regions[i];

		if (gpa >= r->gpa && gpa - r->gpa < r->size && len <= r->size - (gpa - r->gpa)) {
			*out = *r;
			found = true;
			break;
		}
	}
	pthread_rwlock_unlock(&vm->mem_lock);
	return found;
}

static int mshv_set_memory(struct hv_vm *vm, const struct hv_mem_region *r, uint8_t flags)
{
	struct mshv_user_mem_region m = {
		.size = r->size,
		.guest_pfn = r->gpa >> 12,
		.userspace_addr = (uintptr_t)r->hva,
		.flags = flags,
	};
	int ret = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_SET_GUEST_MEMORY, &m);

	if (ret < 0)
		log_err("MSHV_SET_GUEST_MEMORY%s gpa %#llx size %#llx: %s",
		        (flags & (1u << MSHV_SET_MEM_BIT_UNMAP)) ? " (unmap)" : "",
		        (unsigned long long)r->gpa, (unsigned long long)r->size, strerror(-ret));
	return ret < 0 ? ret : 0;
}

int mshv_mem_map(struct hv_vm *vm, const struct hv_mem_region *r)
{
	uint8_t flags = 0;
	int ret = 0;

	if ((r->gpa | r->size | (uintptr_t)r->hva) & 0xfff || !r->size) {
		log_err("guest memory gpa %#llx size %#llx at %p: not page aligned",
		        (unsigned long long)r->gpa, (unsigned long long)r->size, r->hva);
		return -EINVAL;
	}
	if ((r->flags & HV_MEM_DEVICE) && vm->caps.devmem == HV_DEVMEM_TRAP) {
		log_err(
		    "guest memory gpa %#llx size %#llx: a device mapping; %s, so the guest would "
		    "see other host pages: refused",
		    (unsigned long long)r->gpa, (unsigned long long)r->size, vm->caps.devmem_why);
		return -EOPNOTSUPP;
	}
	/* A read-only region lacks WRITABLE, so guest writes arrive as GPA intercepts. */
	if (!(r->flags & HV_MEM_READONLY))
		flags |= 1u << MSHV_SET_MEM_BIT_WRITABLE;
	if (!(r->flags & HV_MEM_DEVICE))
		flags |= 1u << MSHV_SET_MEM_BIT_EXECUTABLE;
	pthread_rwlock_wrlock(&vm->mem_lock);
	for (size_t i = 0; i < vm->nr_regions; i++) {
		if (mshv_overlaps(r->gpa, r->size, vm->regions[i].gpa, vm->regions[i].size)) {
			log_err("guest memory gpa %#llx size %#llx overlaps the region at %#llx",
			        (unsigned long long)r->gpa, (unsigned long long)r->size,
			        (unsigned long long)vm->regions[i].gpa);
			ret = -EEXIST;
			goto out;
		}
	}
	if (vm->nr_regions == vm->cap_regions) {
		size_t cap = vm->cap_regions ? 2 * vm->cap_regions : 8;
		struct hv_mem_region *n = realloc(vm->regions, cap * sizeof(*n));

		if (!n) {
			ret = -ENOMEM;
			goto out;
		}
		vm->regions = n;
		vm->cap_regions = cap;
	}
	ret = mshv_set_memory(vm, r, flags);
	if (!ret)
		vm->regions[vm->nr_regions++] = *r;
out:
	pthread_rwlock_unlock(&vm->mem_lock);
	return ret;
}

int mshv_mem_unmap(struct hv_vm *vm, const struct hv_mem_region *r)
{
	int ret = -ENOENT;

	pthread_rwlock_wrlock(&vm->mem_lock);
	for (size_t i = 0; i < vm->nr_regions; i++) {
		struct hv_mem_region *m = &vm->regions[i];

		if (m->gpa != r->gpa || m->size != r->size || m->hva != r->hva)
			continue;
		/* /dev/mshv has no slots: the unmap repeats the exact mapping. */
		ret = mshv_set_memory(vm, m, 1u << MSHV_SET_MEM_BIT_UNMAP);
		if (!ret)
			vm->regions[i] = vm->regions[--vm->nr_regions];
		break;
	}
	pthread_rwlock_unlock(&vm->mem_lock);
	return ret;
}

/* ---- the VFIO bridge device ---- */

int mshv_vfio_group_add(struct hv_vm *vm, int group_fd)
{
	int32_t fd = group_fd;
	struct mshv_device_attr attr = {
		.group = MSHV_DEV_VFIO_FILE,
		.attr = MSHV_DEV_VFIO_FILE_ADD,
		.addr = (uintptr_t)&fd,
	};
	int r;

	if (vm->caps.devmem != HV_DEVMEM_BRIDGE)
		return 0; /* mainline: nothing to tell the kernel; BARs stay trapped */
	/* One bridge device per partition (mshv_vfio_create_device(): EBUSY for a second). */
	if (vm->vfio_dev_fd < 0) {
		struct mshv_create_device cd = { .type = MSHV_DEV_TYPE_VFIO };

		r = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_CREATE_DEVICE, &cd);
		if (r < 0) {
			log_err("MSHV_CREATE_DEVICE (VFIO bridge): %s", strerror(-r));
			return r;
		}
		vm->vfio_dev_fd = (int)cd.fd;
	}
	r = vm->sys.ioctl(vm->sys.ctx, vm->vfio_dev_fd, MSHV_SET_DEVICE_ATTR, &attr);
	if (r < 0) {
		log_err("MSHV_SET_DEVICE_ATTR MSHV_DEV_VFIO_FILE_ADD: %s", strerror(-r));
		return r;
	}
	return 0;
}

/* One line for the counters: the features, and what the interrupt filter did. */
static void mshv_stats(struct hv_vm *vm, char *buf, size_t len)
{
	int n = snprintf(buf, len,
	                 "synthetic features %#llx, device memory %s, HALT re-entries paced %llu, ",
	                 (unsigned long long)vm->synth_features,
	                 vm->caps.devmem == HV_DEVMEM_BRIDGE ? "by the VFIO bridge"
	                 : vm->caps.devmem == HV_DEVMEM_TRAP ? "trapped"
	                                                     : "handed to the kernel",
	                 (unsigned long long)atomic_load(&vm->halt_pauses));

	if (n > 0 && (size_t)n < len)
		mshv_irq_stats(vm, buf + n, len - (size_t)n);
}

/* What the run loop, register hypercalls, memory and interrupt changes call once the VM runs. */
static const uint32_t mshv_run_ioctls[] = {
	MSHV_RUN_VP, MSHV_ROOT_HVCALL, MSHV_SET_GUEST_MEMORY,
	MSHV_IRQFD,  MSHV_IOEVENTFD,   MSHV_SET_MSI_ROUTING,
};

const struct hv_ops hv_mshv_ops = {
	.name = "mshv",
	.probe = mshv_probe,
	.vm_create = mshv_vm_create,
	.vm_destroy = mshv_vm_destroy,
	.caps = mshv_caps,
	.mem_map = mshv_mem_map,
	.mem_unmap = mshv_mem_unmap,
	.vcpu_create = mshv_vcpu_create,
	.vcpu_destroy = mshv_vcpu_destroy,
	.vcpu_set_state = mshv_vcpu_set_state,
	.vcpu_get_regs = mshv_vcpu_get_regs,
	.vcpu_set_regs = mshv_vcpu_set_regs,
	.vcpu_get_sregs = mshv_vcpu_get_sregs,
	.vcpu_set_sregs = mshv_vcpu_set_sregs,
	.vcpu_run = mshv_vcpu_run,
	.vcpu_kick = mshv_vcpu_kick,
	.irqfd_assign = mshv_irqfd_assign,
	.irqfd_deassign = mshv_irqfd_deassign,
	.ioeventfd_assign = mshv_ioeventfd_assign,
	.ioeventfd_deassign = mshv_ioeventfd_deassign,
	.set_msi_routes = mshv_set_msi_routes,
	.signal_msi = mshv_signal_msi,
	.vfio_group_add = mshv_vfio_group_add,
	.stats = mshv_stats,
	.run_ioctls = mshv_run_ioctls,
	.nr_run_ioctls = ARRAY_SIZE(mshv_run_ioctls),
};
