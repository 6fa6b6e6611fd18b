/* SPDX-License-Identifier: MIT */
/*
 * The hypervisor's intercept messages (what MSHV_RUN_VP returns) and the VP register page, the
 * subset hvmm uses.  Included at the end of hv-mshv/abi.h, whose struct mshv_seg they carry;
 * private to hv-mshv/ and the tests that stand in for its kernel.
 */
#ifndef HVMM_HV_MSHV_MSG_H
#define HVMM_HV_MSHV_MSG_H

#include "hv-mshv/abi.h"

/* Message types. */
#define MSHV_MSG_NONE                    0x00000000u
#define MSHV_MSG_UNMAPPED_GPA            0x80000000u
#define MSHV_MSG_GPA_INTERCEPT           0x80000001u
#define MSHV_MSG_INVALID_VP_REGISTER     0x80000020u
#define MSHV_MSG_UNRECOVERABLE_EXCEPTION 0x80000021u
#define MSHV_MSG_UNSUPPORTED_FEATURE     0x80000022u
#define MSHV_MSG_X64_IO_PORT             0x80010000u
#define MSHV_MSG_X64_MSR                 0x80010001u
#define MSHV_MSG_X64_CPUID               0x80010002u
#define MSHV_MSG_X64_EXCEPTION           0x80010003u
#define MSHV_MSG_X64_APIC_EOI            0x80010004u
#define MSHV_MSG_X64_HALT                0x80010007u
#define MSHV_MSG_X64_SIPI                0x80010009u

#define MSHV_MSG_PAYLOAD 240

struct mshv_msg {
	uint32_t type;
	uint8_t payload_size;
	uint8_t flags;
	uint8_t rsvd[2];
	uint64_t sender;
	uint8_t payload[MSHV_MSG_PAYLOAD];
} __attribute__((packed));
_Static_assert(sizeof(struct mshv_msg) == MSHV_RUN_VP_BUF_SZ, "hv_message");

/* Execution state bits of the intercept header (union hv_x64_vp_execution_state). */
#define MSHV_EXEC_CPL(s)               ((s)&3)
#define MSHV_EXEC_CR0_PE               (1u << 2)
#define MSHV_EXEC_EFER_LMA             (1u << 4)
#define MSHV_EXEC_INTERRUPTION_PENDING (1u << 6) /* event delivery caused the intercept */
#define MSHV_ACCESS_READ               0
#define MSHV_ACCESS_WRITE              1
#define MSHV_ACCESS_EXECUTE            2

struct mshv_intercept_header {
	uint32_t vp_index;
	uint8_t insn_len_cr8; /* instruction length in bits 0-3 */
	uint8_t access_type;
	uint16_t exec_state;
	struct mshv_seg cs;
	uint64_t rip;
	uint64_t rflags;
} __attribute__((packed));
_Static_assert(sizeof(struct mshv_intercept_header) == 40, "intercept header");

/* Port I/O access_info bits. */
#define MSHV_IO_SIZE(a) ((a)&7)
#define MSHV_IO_STRING  (1u << 3)
#define MSHV_IO_REP     (1u << 4)

struct mshv_msg_io {
	struct mshv_intercept_header h;
	uint16_t port;
	uint8_t access_info;
	uint8_t insn_count;
	uint32_t rsvd;
	uint64_t rax;
	uint8_t insn[16];
	struct mshv_seg ds;
	struct mshv_seg es;
	uint64_t rcx;
	uint64_t rsi;
	uint64_t rdi;
} __attribute__((packed));
_Static_assert(sizeof(struct mshv_msg_io) == 128, "io port message");

/* Memory access_info bits. */
#define MSHV_MEM_GVA_VALID     (1u << 0)
#define MSHV_MEM_GVA_GPA_VALID (1u << 1)

struct mshv_msg_mem {
	struct mshv_intercept_header h;
	uint32_t cache_type;
	uint8_t insn_count;
	uint8_t access_info;
	uint8_t tpr_priority;
	uint8_t rsvd;
	uint64_t gva;
	uint64_t gpa;
	uint8_t insn[16];
} __attribute__((packed));
_Static_assert(sizeof(struct mshv_msg_mem) == 80, "memory message");

struct mshv_msg_msr {
	struct mshv_intercept_header h;
	uint32_t msr;
	uint32_t rsvd;
	uint64_t rdx;
	uint64_t rax;
} __attribute__((packed));

struct mshv_msg_cpuid {
	struct mshv_intercept_header h;
	uint64_t rax, rcx, rdx, rbx;
	uint64_t default_rax, default_rcx, default_rdx, default_rbx;
} __attribute__((packed));

struct mshv_msg_eoi {
	uint32_t vp_index;
	uint32_t vector;
} __attribute__((packed));

/* INVALID_VP_REGISTER_VALUE and other opaque messages: no intercept header. */
struct mshv_msg_opaque {
	uint32_t vp_index;
	uint32_t rsvd;
} __attribute__((packed));

struct mshv_msg_sipi {
	struct mshv_intercept_header h;
	uint32_t target_vp;
	uint32_t vector;
} __attribute__((packed));

/* The VP register page (mmap offset 0 of a VP fd). */
#define MSHV_REGPAGE_DIRTY_GENERAL (1u << 0)
#define MSHV_REGPAGE_DIRTY_IP      (1u << 1)
#define MSHV_REGPAGE_DIRTY_XMM     (1u << 2)
#define MSHV_REGPAGE_DIRTY_SEGMENT (1u << 3)
#define MSHV_REGPAGE_DIRTY_FLAGS   (1u << 4)

struct mshv_reg_page {
	uint16_t version;
	uint8_t isvalid;
	uint8_t rsvdz;
	uint32_t dirty;
	uint64_t gpr[16]; /* enum emu_reg order */
	uint64_t rip;
	uint64_t rflags;
	uint8_t rsvd[8];
	uint8_t xmm[6][16];
	struct mshv_seg seg[6]; /* ES CS SS DS FS GS (enum emu_seg order) */
	uint64_t cr0, cr3, cr4, cr8, efer, dr7;
	uint64_t pending_interruption, interrupt_state, emulation_hints, xfem;
	uint8_t rsvd2[256];
	uint64_t interrupt_vectors;
} __attribute__((packed));
_Static_assert(offsetof(struct mshv_reg_page, rip) == 136, "register page rip");
_Static_assert(offsetof(struct mshv_reg_page, xmm) == 160, "register page xmm");
_Static_assert(offsetof(struct mshv_reg_page, seg) == 256, "register page segments");
_Static_assert(offsetof(struct mshv_reg_page, cr0) == 352, "register page cr0");
_Static_assert(offsetof(struct mshv_reg_page, interrupt_vectors) == 688, "register page vectors");

#endif
