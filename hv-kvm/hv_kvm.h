/* SPDX-License-Identifier: MIT */
/*
 * hv-kvm: the hv_ops backend over /dev/kvm.  The LAPIC is in the kernel and the IOAPIC in
 * userspace (KVM's split irqchip with IOAPIC_PINS reserved routes), so interrupts from
 * devices travel as MSI routes exactly as on MSHV.  A vCPU is kicked with immediate_exit and
 * HV_KVM_KICK_SIGNAL, whose handler does nothing.
 */
#ifndef HVMM_HV_KVM_H
#define HVMM_HV_KVM_H

#include <signal.h>

#include "core/core.h"

#define HV_KVM_KICK_SIGNAL SIGUSR2

extern const struct hv_ops hv_kvm_ops;

#endif
