/* SPDX-License-Identifier: MIT */
/*
 * hv-kvm: the hv_ops backend over /dev/kvm.  The LAPIC is in the kernel and the IOAPIC in
 * userspace (KVM's split irqchip with IOAPIC_PINS reserved routes), so interrupts from
 * devices travel as MSI routes exactly as on MSHV.  Its types are in hv-kvm/internal.h,
 * which only hv-kvm's own files include.
 */
#ifndef HVMM_HV_KVM_H
#define HVMM_HV_KVM_H

#include "core/hv.h"

extern const struct hv_ops hv_kvm_ops;

#endif
