/* SPDX-License-Identifier: MIT */
/*
 * The subset of the Microsoft Hypervisor's x86-64 ABI hvmm uses, which the kernel does not
 * export: hypercall codes and inputs, register names, intercept messages, the VP register
 * page.  Private to hv-mshv/ and the tests that stand in for its kernel.
 */
#ifndef HVMM_HV_MSHV_ABI_H
#define HVMM_HV_MSHV_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "hv-mshv/uapi.h"

/* Hypercall codes. */
#define MSHV_HVCALL_GET_PARTITION_PROPERTY    0x0044
#define MSHV_HVCALL_SET_PARTITION_PROPERTY    0x0045
#define MSHV_HVCALL_GET_VP_REGISTERS          0x0050
#define MSHV_HVCALL_SET_VP_REGISTERS          0x0051
#define MSHV_HVCALL_TRANSLATE_VIRTUAL_ADDRESS 0x0052
#define MSHV_HVCALL_REGISTER_INTERCEPT_RESULT 0x0091
#define MSHV_HVCALL_ASSERT_VIRTUAL_INTERRUPT  0x0094
#define MSHV_HVCALL_GET_PARTITION_PROPERTY_EX 0x0101 /* not in mainline's pass-through list */

/* HV_STATUS values (the ones hvmm names in messages). */
#define MSHV_STATUS_SUCCESS                 0x0000
#define MSHV_STATUS_INVALID_HYPERCALL_CODE  0x0002
#define MSHV_STATUS_INVALID_HYPERCALL_INPUT 0x0003
#define MSHV_STATUS_INVALID_PARAMETER       0x0005
#define MSHV_STATUS_ACCESS_DENIED           0x0006
#define MSHV_STATUS_INVALID_PARTITION_STATE 0x0007
#define MSHV_STATUS_UNKNOWN_PROPERTY        0x0009
#define MSHV_STATUS_INSUFFICIENT_MEMORY     0x000B
#define MSHV_STATUS_INVALID_VP_INDEX        0x000E
#define MSHV_STATUS_INVALID_VP_STATE        0x0015

/* Partition properties. */
#define MSHV_PROP_SYNTHETIC_PROC_FEATURES  0x00010001ull /* early: before INITIALIZE */
#define MSHV_PROP_TIME_FREEZE              0x00030003ull
#define MSHV_PROP_PROCESSORS_PER_SOCKET    0x00050003ull
#define MSHV_PROP_UNIMPLEMENTED_MSR_ACTION 0x00050017ull
/* Extended range: only HVCALL_GET_PARTITION_PROPERTY_EX reads it (a banked value). */
#define MSHV_PROP_ASSIGNABLE_SYNTHETIC_PROC_FEATURES 0x00090009ull
#define MSHV_MSR_ACTION_FAULT                        0 /* the default: #GP */
#define MSHV_MSR_ACTION_IGNORE_WRITE_READ0           1

/*
 * Synthetic processor features, bank 0 (union hv_partition_synthetic_processor_features,
 * rust-vmm hv-headers/hvhdk.h).  Bits 2-8 and 9-11 grant the partition privileges the guest
 * reads in CPUID 0x40000003 EAX bits 0-6 and 9-11 (7 and 8, reset and statistics, have no
 * feature bit).
 */
#define MSHV_SYNTH_HYPERVISOR_PRESENT   (1ull << 0)
#define MSHV_SYNTH_HV1                  (1ull << 1)
#define MSHV_SYNTH_ACCESS_VP_RUNTIME    (1ull << 2)
#define MSHV_SYNTH_ACCESS_PARTITION_REF (1ull << 3)
#define MSHV_SYNTH_ACCESS_SYNIC         (1ull << 4)
#define MSHV_SYNTH_ACCESS_STIMER        (1ull << 5)
#define MSHV_SYNTH_ACCESS_INTR_CTRL     (1ull << 6) /* APIC MSRs and the VP assist page */
#define MSHV_SYNTH_ACCESS_HYPERCALL     (1ull << 7)
#define MSHV_SYNTH_ACCESS_VP_INDEX      (1ull << 8)
#define MSHV_SYNTH_ACCESS_REF_TSC       (1ull << 9)
#define MSHV_SYNTH_ACCESS_GUEST_IDLE    (1ull << 10)
#define MSHV_SYNTH_ACCESS_FREQUENCY     (1ull << 11)
#define MSHV_SYNTH_EXT_GVA_RANGES       (1ull << 15)
#define MSHV_SYNTH_DIRECT_STIMERS       (1ull << 22)
#define MSHV_SYNTH_EXT_PROCESSOR_MASKS  (1ull << 24)
#define MSHV_SYNTH_TLB_FLUSH_HYPERCALLS (1ull << 25)
#define MSHV_SYNTH_CLUSTER_IPI          (1ull << 26)
#define MSHV_SYNTH_ACCESS_VP_REGS       (1ull << 38)
#define MSHV_SYNTH_FLUSH_GPA_SPACE      (1ull << 53)
/* The privileges the features grant, as CPUID 0x40000003 EAX shows them. */
#define MSHV_SYNTH_TO_CPUID_PRIVILEGES(f) ((uint32_t)((((f) >> 2) & 0x7f) | ((f) & (7ull << 9))))

/* HVCALL_GET_PARTITION_PROPERTY_EX: input; the output is a 4072-byte buffer. */
struct mshv_in_partition_property_ex {
	uint64_t partition_id;
	uint32_t code;
	uint32_t pad;
	uint64_t arg;
} __attribute__((packed));
/* A banked value: u16 bank count, 3 x u16 reserved, then the banks (u64 each). */
#define MSHV_PROP_EX_BANK0_OFFSET 8
#define MSHV_PROP_EX_OUT_SIZE     4072

/* Register names. */
enum mshv_reg_name {
	MSHV_REG_INTERNAL_ACTIVITY_STATE = 0x00000004,
	MSHV_REG_PENDING_INTERRUPTION = 0x00010002,
	MSHV_REG_INTERRUPT_STATE = 0x00010003,
	MSHV_REG_RAX = 0x00020000, /* the GPRs in x86 encoding order */
	MSHV_REG_RCX = 0x00020001,
	MSHV_REG_RDX = 0x00020002,
	MSHV_REG_RBX = 0x00020003,
	MSHV_REG_RSP = 0x00020004,
	MSHV_REG_RBP = 0x00020005,
	MSHV_REG_RSI = 0x00020006,
	MSHV_REG_RDI = 0x00020007,
	MSHV_REG_R8 = 0x00020008, /* R9-R14 follow */
	MSHV_REG_R15 = 0x0002000F,
	MSHV_REG_RIP = 0x00020010,
	MSHV_REG_RFLAGS = 0x00020011,
	MSHV_REG_CR0 = 0x00040000,
	MSHV_REG_CR2 = 0x00040001,
	MSHV_REG_CR3 = 0x00040002,
	MSHV_REG_CR4 = 0x00040003,
	MSHV_REG_CR8 = 0x00040004,
	MSHV_REG_XCR0 = 0x00040005,
	MSHV_REG_ES = 0x00060000, /* ES CS SS DS FS GS LDTR TR follow in order */
	MSHV_REG_CS = 0x00060001,
	MSHV_REG_SS = 0x00060002,
	MSHV_REG_DS = 0x00060003,
	MSHV_REG_FS = 0x00060004,
	MSHV_REG_GS = 0x00060005,
	MSHV_REG_LDTR = 0x00060006,
	MSHV_REG_TR = 0x00060007,
	MSHV_REG_IDTR = 0x00070000,
	MSHV_REG_GDTR = 0x00070001,
	MSHV_REG_TSC = 0x00080000,
	MSHV_REG_EFER = 0x00080001,
	MSHV_REG_KERNEL_GS_BASE = 0x00080002,
	MSHV_REG_APIC_BASE = 0x00080003,
	MSHV_REG_PAT = 0x00080004,
	MSHV_REG_SYSENTER_CS = 0x00080005,
	MSHV_REG_SYSENTER_EIP = 0x00080006,
	MSHV_REG_SYSENTER_ESP = 0x00080007,
	MSHV_REG_STAR = 0x00080008,
	MSHV_REG_LSTAR = 0x00080009,
	MSHV_REG_CSTAR = 0x0008000A,
	MSHV_REG_SFMASK = 0x0008000B,
	MSHV_REG_INITIAL_APIC_ID = 0x0008000C,
	MSHV_REG_MTRR_DEF_TYPE = 0x0008000E,
	MSHV_REG_TSC_AUX = 0x0008007B,
};
/* The general-purpose register of x86 encoding number n (enum emu_reg order). */
#define MSHV_REG_GPR(n) ((uint32_t)MSHV_REG_RAX + (uint32_t)(n))

/* INTERNAL_ACTIVITY_STATE: an application processor waiting for INIT/SIPI. */
#define MSHV_ACTIVITY_STARTUP_SUSPEND (1ull << 0)

/* APIC_BASE: the xAPIC base, enabled; the BSP flag on VP 0. */
#define MSHV_APIC_BASE_DEFAULT 0xfee00800ull
#define MSHV_APIC_BASE_BSP     0x100ull

/* Segment attribute bits (the descriptor's access byte and flags, 16 bits). */
#define MSHV_SEG_TYPE(a) ((a)&0xf)
#define MSHV_SEG_S       (1u << 4)
#define MSHV_SEG_DPL(a)  (((a) >> 5) & 3)
#define MSHV_SEG_P       (1u << 7)
#define MSHV_SEG_AVL     (1u << 12)
#define MSHV_SEG_L       (1u << 13)
#define MSHV_SEG_DB      (1u << 14)
#define MSHV_SEG_G       (1u << 15)

struct mshv_seg {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint16_t attributes;
} __attribute__((packed));

struct mshv_table {
	uint16_t pad[3];
	uint16_t limit;
	uint64_t base;
} __attribute__((packed));

union mshv_reg_value {
	uint64_t reg64;
	uint8_t reg128[16];
	struct mshv_seg seg;
	struct mshv_table table;
};
_Static_assert(sizeof(union mshv_reg_value) == 16, "register value");

/* HVCALL_GET_VP_REGISTERS / SET_VP_REGISTERS input header; names or assocs follow at 16. */
struct mshv_in_vp_regs {
	uint64_t partition_id;
	uint32_t vp_index;
	uint8_t vtl;
	uint8_t rsvd8;
	uint16_t rsvd16;
} __attribute__((packed));

struct mshv_reg_assoc {
	uint32_t name;
	uint32_t rsvd32;
	uint64_t rsvd64;
	union mshv_reg_value value;
} __attribute__((packed));
_Static_assert(sizeof(struct mshv_reg_assoc) == 32, "register assoc");

/* Registers per hypercall: SET's entries must fit the 4 KiB input page. */
#define MSHV_REGS_PER_CALL 127

struct mshv_in_partition_property {
	uint64_t partition_id;
	uint32_t code;
	uint32_t pad;
	uint64_t value;
} __attribute__((packed));

#define MSHV_TRANSLATE_VALIDATE_READ    1ull
#define MSHV_TRANSLATE_VALIDATE_WRITE   2ull
#define MSHV_TRANSLATE_VALIDATE_EXECUTE 4ull
/* enum hv_translate_gva_result_code: 1-3 are page-walk faults, 4-7 GPA access failures. */
#define MSHV_TRANSLATE_SUCCESS             0u
#define MSHV_TRANSLATE_NOT_PRESENT         1u
#define MSHV_TRANSLATE_PRIV_VIOLATION      2u
#define MSHV_TRANSLATE_INVALID_PT_FLAGS    3u
#define MSHV_TRANSLATE_GPA_UNMAPPED        4u
#define MSHV_TRANSLATE_GPA_NO_READ         5u
#define MSHV_TRANSLATE_GPA_NO_WRITE        6u
#define MSHV_TRANSLATE_GPA_ILLEGAL_OVERLAY 7u

struct mshv_in_translate {
	uint64_t partition_id;
	uint32_t vp_index;
	uint32_t pad;
	uint64_t control_flags;
	uint64_t gva_page;
} __attribute__((packed));

struct mshv_out_translate {
	uint32_t result_code;
	uint32_t cache_type_flags;
	uint64_t gpa_page;
} __attribute__((packed));

/* Interrupt types of ASSERT_VIRTUAL_INTERRUPT: the x86 MSI delivery modes. */
#define MSHV_IRQ_FIXED   0
#define MSHV_IRQ_LOWPRIO 1
#define MSHV_IRQ_SMI     2
#define MSHV_IRQ_NMI     4
#define MSHV_IRQ_INIT    5
#define MSHV_IRQ_EXTINT  7
#define MSHV_IRQ_LEVEL   (1u << 0) /* flags */
#define MSHV_IRQ_LOGICAL (1u << 1)

struct mshv_in_assert_irq {
	uint64_t partition_id;
	uint32_t type;
	uint32_t flags;
	uint64_t apic_id;
	uint32_t vector;
	uint8_t vtl;
	uint8_t rsvd8;
	uint16_t rsvd16;
} __attribute__((packed));

#define MSHV_INTERCEPT_TYPE_CPUID 2u
#define MSHV_ANY_VP               0xFFFFFFFFu

struct mshv_in_intercept_result {
	uint64_t partition_id;
	uint32_t vp_index;
	uint32_t intercept_type;
	/* CPUID parameters: which leaf, then the result as (value, mask) pairs. */
	uint32_t leaf;
	uint32_t subleaf;
	uint8_t subleaf_specific;
	uint8_t always_override;
	uint16_t pad;
	uint32_t eax, eax_mask, ebx, ebx_mask, ecx, ecx_mask, edx, edx_mask;
} __attribute__((packed));
_Static_assert(sizeof(struct mshv_in_intercept_result) == 60, "intercept result input");

/* The intercept messages and the VP register page: hv-mshv/msg.h. */
#include "hv-mshv/msg.h"

#endif
