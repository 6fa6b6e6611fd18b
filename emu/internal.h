/* SPDX-License-Identifier: MIT */
/*
 * Private to emu/: the execution context shared by the files that carry out an instruction.
 * Users of the emulator include emu.h only.
 */
#ifndef HVMM_EMU_INTERNAL_H
#define HVMM_EMU_INTERNAL_H

#include "emu.h"

#define EMU_PAGE_SIZE 4096ull

/* One access split at page boundaries: an access is at most 8 bytes, so two pieces at most. */
struct emu_span {
	uint64_t gpa[2];
	unsigned len[2];
	unsigned n;
	unsigned size;
};

/*
 * The state of one emu_execute() call.  `r` is a working copy of the registers, committed
 * only when the instruction completes.  `why` receives the reason for a failure.
 */
struct emu_ctx {
	const struct emu_cpu *cpu;
	struct emu_regs r;
	const struct emu_ops *ops;
	const struct emu_insn *in;
	struct emu_hint hint;
	bool hint_usable;    /* the hint has not been used (or ruled out) yet */
	bool translated_any; /* some access piece has been translated */
	bool rep_incomplete; /* a REP stopped at EMU_REP_MAX_ITERATIONS: keep RIP */
	char why[112];
};

static inline uint64_t emu_mask(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

static inline uint64_t emu_sext(uint64_t v, unsigned size)
{
	unsigned shift = 64 - 8 * size;

	if (size == 0 || size >= 8)
		return size ? v : 0;
	/* Shift left unsigned, then right signed: no UB, and GNU C shifts signed arithmetically. */
	return (uint64_t)((int64_t)(v << shift) >> shift);
}

static inline bool emu_long_mode(const struct emu_ctx *c)
{
	return c->cpu->mode == EMU_MODE_LONG64;
}

/* access.c: registers, addresses and guest accesses. */

/* Records the failure reason shown in the error message. */
void emu_set_why(struct emu_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A register operand of `size` bytes, honouring the AH/CH/DH/BH encoding without REX. */
uint64_t emu_reg_read(const struct emu_ctx *c, unsigned reg, unsigned size);
/* Writes like the CPU: 32-bit writes zero-extend in 64-bit mode, 8/16-bit writes merge. */
void emu_reg_write(struct emu_ctx *c, unsigned reg, unsigned size, uint64_t v);
/* RIP after this instruction, wrapped to the mode's instruction-pointer width. */
uint64_t emu_next_rip(const struct emu_ctx *c);
/* Segment offset to linear address; -EFAULT if non-canonical in 64-bit mode. */
int emu_linear(struct emu_ctx *c, unsigned seg, uint64_t off, unsigned size, uint64_t *la) EMU_WUR;
/* Translates the `size` bytes at linear `la` into page pieces, using the hint where it fits. */
int emu_map(struct emu_ctx *c, uint64_t la, unsigned size, bool write, struct emu_span *sp) EMU_WUR;
/* Maps the ModRM/moffs operand `extra` bytes on; -EINVAL if the instruction has none. */
int emu_map_operand(struct emu_ctx *c, uint64_t extra, unsigned size, bool write,
                    struct emu_span *sp) EMU_WUR;
/* Performs the accesses of a mapped span; values are little-endian in the guest. */
int emu_span_read(struct emu_ctx *c, const struct emu_span *sp, uint64_t *val) EMU_WUR;
int emu_span_write(struct emu_ctx *c, const struct emu_span *sp, uint64_t val) EMU_WUR;
/* emu_map_operand() followed by the read or the write. */
int emu_read_operand(struct emu_ctx *c, unsigned size, uint64_t *val) EMU_WUR;
int emu_write_operand(struct emu_ctx *c, unsigned size, uint64_t val) EMU_WUR;
/* One port access; a read stores the value in *val, a write sends *val. */
int emu_port_io(struct emu_ctx *c, uint16_t port, unsigned size, bool write, uint64_t *val) EMU_WUR;

/* string.c: IN/OUT and the string instructions, REP included. */
int emu_exec_in_out(struct emu_ctx *c) EMU_WUR;
int emu_exec_string(struct emu_ctx *c) EMU_WUR;

#endif /* HVMM_EMU_INTERNAL_H */
