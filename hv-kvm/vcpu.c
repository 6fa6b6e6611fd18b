/* SPDX-License-Identifier: MIT */
/* hv-kvm's vCPUs: creation with CPUID, registers, the run loop and the kick. */
#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "hv-kvm/internal.h"

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

int kvm_vcpu_create(struct hv_vm *vm, uint32_t index, uint32_t nr, const struct hv_io *io,
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

void kvm_vcpu_destroy(struct hv_vcpu *v)
{
	munmap(v->run, (size_t)v->vm->run_size);
	close(v->fd);
	free(v);
}

int kvm_vcpu_set_state(struct hv_vcpu *v, enum hv_vcpu_state state)
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

int kvm_vcpu_get_regs(struct hv_vcpu *v, struct hv_regs *o)
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

int kvm_vcpu_set_regs(struct hv_vcpu *v, const struct hv_regs *i)
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

int kvm_vcpu_get_sregs(struct hv_vcpu *v, struct hv_sregs *o)
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

int kvm_vcpu_set_sregs(struct hv_vcpu *v, const struct hv_sregs *i)
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

/*
 * KVM_INTERNAL_ERROR_DELIVERY_EV re-entered in a row before the VM stops.  KVM (since 6.14,
 * arch/x86/kvm/svm/svm.c svm_check_emulate_instruction()) refuses to emulate an access while
 * EXITINTINFO's type field is nonzero, without looking at its valid bit.  An SVM that leaves
 * the last event's type there once delivered (QEMU's TCG: do_interrupt_all() clears only
 * SVM_EVTINJ_VALID, and #VMEXIT copies the rest into EXITINTINFO) makes an ordinary MMIO
 * access after a guest exception look like one made while delivering it.  Entering again
 * runs the access; a real delivery through device memory fails each time and stops the VM.
 */
#define KVM_VECTORING_RETRIES 4

/* Say why KVM stopped the guest with KVM_EXIT_INTERNAL_ERROR. */
static void kvm_log_internal_error(const struct hv_vcpu *v)
{
	const struct kvm_run *run = v->run;
	unsigned long long gpa = run->internal.ndata > 3 ? run->internal.data[3] : 0;

	if (run->internal.suberror == KVM_INTERNAL_ERROR_DELIVERY_EV)
		log_err("vCPU %u: KVM cannot deliver an interrupt or exception to the guest: the "
		        "delivery touches device memory (GPA %#llx)",
		        v->index, gpa);
	else /* e.g. the guest ran code from MMIO */
		log_err("vCPU %u: KVM internal error, suberror %u: the guest ran an instruction "
		        "KVM cannot emulate",
		        v->index, run->internal.suberror);
}

int kvm_vcpu_run(struct hv_vcpu *v, enum hv_exit *out)
{
	struct kvm_run *run = v->run;
	unsigned vectoring_retries = 0;

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
		if (run->exit_reason != KVM_EXIT_INTERNAL_ERROR)
			vectoring_retries = 0;
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
			if (run->internal.suberror == KVM_INTERNAL_ERROR_DELIVERY_EV &&
			    vectoring_retries < KVM_VECTORING_RETRIES) {
				vectoring_retries++;
				continue;
			}
			kvm_log_internal_error(v);
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

void kvm_vcpu_kick(struct hv_vcpu *v)
{
	__atomic_store_n(&v->run->immediate_exit, 1, __ATOMIC_SEQ_CST);
	if (atomic_load(&v->have_thread))
		pthread_kill(v->thread, HV_KVM_KICK_SIGNAL);
}
