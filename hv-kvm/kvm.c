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

#include "hv-kvm/hv_kvm.h"

#define KVM_TSS_ADDR      0xfffbd000ull /* in the MMIO hole, clear of every device */
#define KVM_IDMAP_ADDR    0xfffbc000ull
#define KVM_MAX_CPUID_ENT 256

struct kvm_slot {
	bool used;
	struct hv_mem_region r;
};

struct hv_vm {
	int sys_fd;
	int fd;
	int run_size;
	struct kvm_cpuid2 *cpuid;
	pthread_mutex_t slot_lock;
	struct kvm_slot *slots;
	uint32_t nr_slots;
	struct hv_caps caps;
	bool tsc_deadline; /* KVM emulates the LAPIC's TSC-deadline mode */
	int vfio_dev_fd;   /* the KVM-VFIO device, -1 until a group is assigned */
};

struct hv_vcpu {
	struct hv_vm *vm;
	int fd;
	uint32_t index;
	struct kvm_run *run;
	const struct hv_io *io;
	_Atomic bool have_thread;
	pthread_t thread;
};

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
static void cpuid_patch(struct kvm_cpuid2 *c, uint32_t index, uint32_t nr, bool tsc_deadline)
{
	uint32_t shift = 0;

	while ((1u << shift) < nr)
		shift++;
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		switch (e->function) {
		case 1:
			e->ebx = (e->ebx & 0x0000ffff) | (index << 24) | ((nr > 1 ? nr : 1) << 16);
			e->ecx |= 1u << 31; /* running under a hypervisor */
			if (nr > 1)
				e->edx |= 1u << 28; /* HTT: the logical-count field is valid */
			/*
			 * Older KVMs emulate TSC-deadline but leave it out of the supported
			 * table; Linux, with no PIT or HPET here, wants it for its timer.
			 */
			if (tsc_deadline)
				e->ecx |= 1u << 24;
			break;
		case 4:
			/* cores per package - 1 (a 6-bit field), one thread per core */
			e->eax = (e->eax & 0x03ffffff) | ((nr - 1 < 63 ? nr - 1 : 63) << 26);
			e->eax &= ~(0xfffu << 14);
			break;
		case 0xb:
		case 0x1f:
			e->edx = index;
			if (e->index == 0) {
				e->eax = 0;
				e->ebx = 1;
				e->ecx = (1u << 8) | 0; /* SMT level */
			} else if (e->index == 1) {
				e->eax = shift;
				e->ebx = nr;
				e->ecx = (2u << 8) | 1; /* core level */
			} else {
				e->eax = e->ebx = 0;
				e->ecx = e->index;
			}
			break;
		case 0x80000008:
			e->ecx = (e->ecx & ~0xf0ffu) | (shift << 12) | (nr - 1);
			break;
		case 0x8000001e:
			/* AMD: extended APIC ID, core ID, one thread per core, node 0. */
			e->eax = index;
			e->ebx = index & 0xff;
			e->ecx = 0;
			break;
		default:
			break;
		}
	}
}

static int kvm_vcpu_create(struct hv_vm *vm, uint32_t index, uint32_t nr, const struct hv_io *io,
                           struct hv_vcpu **out)
{
	struct hv_vcpu *v = calloc(1, sizeof(*v));
	size_t csz = sizeof(*vm->cpuid) + vm->cpuid->nent * sizeof(vm->cpuid->entries[0]);
	struct kvm_cpuid2 *c = NULL;
	int r;

	if (!v)
		return -ENOMEM;
	v->vm = vm;
	v->index = index;
	v->io = io;
	v->fd = ioctl(vm->fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0) {
		r = -errno;
		log_err("KVM_CREATE_VCPU %u: %s", index, strerror(errno));
		free(v);
		return r;
	}
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		r = -errno;
		log_err("mmap of vCPU %u run area: %s", index, strerror(errno));
		v->run = NULL;
		goto fail;
	}
	c = malloc(csz);
	if (!c) {
		r = -ENOMEM;
		goto fail;
	}
	memcpy(c, vm->cpuid, csz);
	cpuid_patch(c, index, nr, vm->tsc_deadline);
	if (ioctl(v->fd, KVM_SET_CPUID2, c) < 0) {
		r = -errno;
		log_err("KVM_SET_CPUID2 vCPU %u: %s", index, strerror(errno));
		goto fail;
	}
	free(c);
	*out = v;
	return 0;
fail:
	free(c);
	if (v->run)
		munmap(v->run, (size_t)vm->run_size);
	close(v->fd);
	free(v);
	return r;
}

static void kvm_vcpu_destroy(struct hv_vcpu *v)
{
	munmap(v->run, (size_t)v->vm->run_size);
	close(v->fd);
	free(v);
}

static int kvm_vcpu_set_state(struct hv_vcpu *v, enum hv_vcpu_state state)
{
	struct kvm_mp_state mp = { state == HV_VCPU_RUNNABLE ? KVM_MP_STATE_RUNNABLE
		                                             : KVM_MP_STATE_UNINITIALIZED };

	if (ioctl(v->fd, KVM_SET_MP_STATE, &mp) < 0) {
		int r = -errno;

		log_err("KVM_SET_MP_STATE vCPU %u: %s", v->index, strerror(errno));
		return r;
	}
	return 0;
}

static int kvm_vcpu_get_regs(struct hv_vcpu *v, struct hv_regs *o)
{
	struct kvm_regs k;

	if (ioctl(v->fd, KVM_GET_REGS, &k) < 0) {
		int r = -errno;

		log_err("KVM_GET_REGS vCPU %u: %s", v->index, strerror(errno));
		return r;
	}
	*o = (struct hv_regs){ k.rax, k.rbx, k.rcx, k.rdx, k.rsi, k.rdi, k.rsp, k.rbp, k.r8,
		               k.r9,  k.r10, k.r11, k.r12, k.r13, k.r14, k.r15, k.rip, k.rflags };
	return 0;
}

static int kvm_vcpu_set_regs(struct hv_vcpu *v, const struct hv_regs *i)
{
	struct kvm_regs k = { .rax = i->rax,
		              .rbx = i->rbx,
		              .rcx = i->rcx,
		              .rdx = i->rdx,
		              .rsi = i->rsi,
		              .rdi = i->rdi,
		              .rsp = i->rsp,
		              .rbp = i->rbp,
		              .r8 = i->r8,
		              .r9 = i->r9,
		              .r10 = i->r10,
		              .r11 = i->r11,
		              .r12 = i->r12,
		              .r13 = i->r13,
		              .r14 = i->r14,
		              .r15 = i->r15,
		              .rip = i->rip,
		              .rflags = i->rflags };

	if (ioctl(v->fd, KVM_SET_REGS, &k) < 0) {
		int r = -errno;

		log_err("KVM_SET_REGS vCPU %u: %s", v->index, strerror(errno));
		return r;
	}
	return 0;
}

static void seg_from_kvm(struct hv_segment *o, const struct kvm_segment *k)
{
	*o = (struct hv_segment){ .base = k->base,
		                  .limit = k->limit,
		                  .selector = k->selector,
		                  .type = k->type,
		                  .s = k->s,
		                  .dpl = k->dpl,
		                  .present = k->present,
		                  .avl = k->avl,
		                  .l = k->l,
		                  .db = k->db,
		                  .g = k->g,
		                  .unusable = k->unusable };
}

static void seg_to_kvm(struct kvm_segment *k, const struct hv_segment *o)
{
	*k = (struct kvm_segment){ .base = o->base,
		                   .limit = o->limit,
		                   .selector = o->selector,
		                   .type = o->type,
		                   .s = o->s,
		                   .dpl = o->dpl,
		                   .present = o->present,
		                   .avl = o->avl,
		                   .l = o->l,
		                   .db = o->db,
		                   .g = o->g,
		                   .unusable = o->unusable };
}

static int kvm_vcpu_get_sregs(struct hv_vcpu *v, struct hv_sregs *o)
{
	struct kvm_sregs k;

	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0) {
		int r = -errno;

		log_err("KVM_GET_SREGS vCPU %u: %s", v->index, strerror(errno));
		return r;
	}
	seg_from_kvm(&o->cs, &k.cs);
	seg_from_kvm(&o->ds, &k.ds);
	seg_from_kvm(&o->es, &k.es);
	seg_from_kvm(&o->fs, &k.fs);
	seg_from_kvm(&o->gs, &k.gs);
	seg_from_kvm(&o->ss, &k.ss);
	seg_from_kvm(&o->tr, &k.tr);
	seg_from_kvm(&o->ldt, &k.ldt);
	o->gdt = (struct hv_dtable){ k.gdt.base, k.gdt.limit };
	o->idt = (struct hv_dtable){ k.idt.base, k.idt.limit };
	o->cr0 = k.cr0;
	o->cr2 = k.cr2;
	o->cr3 = k.cr3;
	o->cr4 = k.cr4;
	o->cr8 = k.cr8;
	o->efer = k.efer;
	o->apic_base = k.apic_base;
	return 0;
}

static int kvm_vcpu_set_sregs(struct hv_vcpu *v, const struct hv_sregs *i)
{
	struct kvm_sregs k;

	/* Start from KVM's view so fields hv_sregs does not carry (interrupt bitmap) stay valid. */
	if (ioctl(v->fd, KVM_GET_SREGS, &k) < 0) {
		int r = -errno;

		log_err("KVM_GET_SREGS vCPU %u: %s", v->index, strerror(errno));
		return r;
	}
	seg_to_kvm(&k.cs, &i->cs);
	seg_to_kvm(&k.ds, &i->ds);
	seg_to_kvm(&k.es, &i->es);
	seg_to_kvm(&k.fs, &i->fs);
	seg_to_kvm(&k.gs, &i->gs);
	seg_to_kvm(&k.ss, &i->ss);
	seg_to_kvm(&k.tr, &i->tr);
	seg_to_kvm(&k.ldt, &i->ldt);
	k.gdt.base = i->gdt.base;
	k.gdt.limit = i->gdt.limit;
	k.idt.base = i->idt.base;
	k.idt.limit = i->idt.limit;
	k.cr0 = i->cr0;
	k.cr2 = i->cr2;
	k.cr3 = i->cr3;
	k.cr4 = i->cr4;
	k.cr8 = i->cr8;
	k.efer = i->efer;
	k.apic_base = i->apic_base | (v->index == 0 ? 0x100 : 0); /* BSP flag */
	if (ioctl(v->fd, KVM_SET_SREGS, &k) < 0) {
		int r = -errno;

		log_err("KVM_SET_SREGS vCPU %u: %s", v->index, strerror(errno));
		return r;
	}
	return 0;
}

static int kvm_vcpu_run(struct hv_vcpu *v, enum hv_exit *out)
{
	struct kvm_run *run = v->run;

	if (!atomic_load_explicit(&v->have_thread, memory_order_relaxed)) {
		v->thread = pthread_self();
		atomic_store(&v->have_thread, true);
	}
	for (;;) {
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR) {
				/* Consume the kick; the caller re-checks why it was kicked. */
				__atomic_store_n(&run->immediate_exit, 0, __ATOMIC_SEQ_CST);
				*out = HV_EXIT_INTERRUPTED;
				return 0;
			}
			if (errno == EAGAIN)
				continue;
			int r = -errno;

			log_err("KVM_RUN vCPU %u: %s", v->index, strerror(errno));
			return r;
		}
		switch (run->exit_reason) {
		case KVM_EXIT_IO: {
			uint8_t *p = (uint8_t *)run + run->io.data_offset;

			/* String I/O arrives as `count` elements handled in order. */
			for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size)
				v->io->pio(v->io->ctx, run->io.port, p, run->io.size,
				           run->io.direction == KVM_EXIT_IO_OUT);
			continue;
		}
		case KVM_EXIT_MMIO:
			v->io->mmio(v->io->ctx, run->mmio.phys_addr, run->mmio.data, run->mmio.len,
			            run->mmio.is_write);
			continue;
		case KVM_EXIT_IOAPIC_EOI:
			v->io->eoi(v->io->ctx, run->eoi.vector);
			continue;
		case KVM_EXIT_HLT:
			*out = HV_EXIT_HALT;
			return 0;
		case KVM_EXIT_SHUTDOWN:
			*out = HV_EXIT_SHUTDOWN;
			return 0;
		case KVM_EXIT_SYSTEM_EVENT:
			*out = run->system_event.type == KVM_SYSTEM_EVENT_RESET ? HV_EXIT_RESET
			                                                        : HV_EXIT_SHUTDOWN;
			return 0;
		case KVM_EXIT_INTR:
			*out = HV_EXIT_INTERRUPTED;
			return 0;
		case KVM_EXIT_INTERNAL_ERROR:
			/* The guest did something KVM cannot emulate (e.g. ran code from MMIO). */
			log_err("vCPU %u: KVM internal error, suberror %u: the guest ran an "
			        "instruction KVM cannot emulate",
			        v->index, run->internal.suberror);
			*out = HV_EXIT_SHUTDOWN;
			return 0;
		case KVM_EXIT_FAIL_ENTRY:
			log_err("vCPU %u: KVM could not enter the guest (hardware reason %#llx)",
			        v->index,
			        (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			return -EIO;
		default:
			log_err("vCPU %u: unexpected KVM exit reason %u", v->index,
			        run->exit_reason);
			return -EIO;
		}
	}
}

static void kvm_vcpu_kick(struct hv_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&v->have_thread))
		pthread_kill(v->thread, HV_KVM_KICK_SIGNAL);
}

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
};
