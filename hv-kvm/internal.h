/* SPDX-License-Identifier: MIT */
/*
 * Private to hv-kvm/: the backend's VM and vCPU and what its files share, kvm.c (VM, memory,
 * interrupts) and vcpu.c (vCPUs).  A vCPU is kicked with immediate_exit and
 * HV_KVM_KICK_SIGNAL, whose handler does nothing.
 */
#ifndef HVMM_HV_KVM_INTERNAL_H
#define HVMM_HV_KVM_INTERNAL_H

#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "core/log.h"
#include "hv-kvm/hv_kvm.h"

#define HV_KVM_KICK_SIGNAL SIGUSR2

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

int kvm_vcpu_create(struct hv_vm *vm, uint32_t index, uint32_t nr, const struct hv_io *io,
                    struct hv_vcpu **out) WUR;
void kvm_vcpu_destroy(struct hv_vcpu *v);
int kvm_vcpu_set_state(struct hv_vcpu *v, enum hv_vcpu_state state) WUR;
int kvm_vcpu_get_regs(struct hv_vcpu *v, struct hv_regs *o) WUR;
int kvm_vcpu_set_regs(struct hv_vcpu *v, const struct hv_regs *i) WUR;
int kvm_vcpu_get_sregs(struct hv_vcpu *v, struct hv_sregs *o) WUR;
int kvm_vcpu_set_sregs(struct hv_vcpu *v, const struct hv_sregs *i) WUR;
int kvm_vcpu_run(struct hv_vcpu *v, enum hv_exit *out) WUR;
void kvm_vcpu_kick(struct hv_vcpu *v);

#endif
