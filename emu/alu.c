/* SPDX-License-Identifier: MIT */
/*
 * Integer arithmetic with x86 flag semantics.
 *
 * Carries and overflows are derived from the operand and result bits rather than from a wider
 * type, so 64-bit operands need no 128-bit arithmetic and all sizes share one formula.
 */
#include "emu.h"

static uint64_t mask_of(unsigned size)
{
	return size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
}

/* PF reflects only the low byte of the result: set when it has an even number of ones. */
static bool parity_even(uint64_t v)
{
	return !(__builtin_popcountll(v & 0xFF) & 1);
}

static uint64_t szp_flags(uint64_t r, unsigned size)
{
	uint64_t f = 0;

	if (!(r & mask_of(size)))
		f |= EMU_FLAG_ZF;
	if ((r >> (8 * size - 1)) & 1)
		f |= EMU_FLAG_SF;
	if (parity_even(r))
		f |= EMU_FLAG_PF;
	return f;
}

/* Flags of r = d + s + carry_in. */
static uint64_t add_flags(uint64_t d, uint64_t s, uint64_t r, unsigned size)
{
	unsigned top = 8 * size - 1;
	/* Carry out of each bit: majority of the two inputs and the carry into it. */
	uint64_t carries = (d & s) | ((d ^ s) & ~r);
	uint64_t f = szp_flags(r, size);

	if ((carries >> top) & 1)
		f |= EMU_FLAG_CF;
	if ((d ^ s ^ r) & 0x10)
		f |= EMU_FLAG_AF;
	if ((((d ^ r) & (s ^ r)) >> top) & 1)
		f |= EMU_FLAG_OF;
	return f;
}

/* Flags of r = d - s - borrow_in. */
static uint64_t sub_flags(uint64_t d, uint64_t s, uint64_t r, unsigned size)
{
	unsigned top = 8 * size - 1;
	uint64_t borrows = (~d & s) | (~(d ^ s) & r);
	uint64_t f = szp_flags(r, size);

	if ((borrows >> top) & 1)
		f |= EMU_FLAG_CF;
	if ((d ^ s ^ r) & 0x10)
		f |= EMU_FLAG_AF;
	if ((((d ^ s) & (d ^ r)) >> top) & 1)
		f |= EMU_FLAG_OF;
	return f;
}

uint64_t emu_alu(enum emu_alu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t flags,
                 uint64_t *out_flags)
{
	uint64_t m, cf = flags & EMU_FLAG_CF ? 1 : 0;
	uint64_t r, f, keep = EMU_FLAGS_ARITH;

	if (size != 1 && size != 2 && size != 4 && size != 8) {
		*out_flags = flags;
		return dst;
	}
	m = mask_of(size);
	dst &= m;
	src &= m;
	switch (op) {
	case EMU_ALU_ADD:
	case EMU_ALU_ADC:
		r = (dst + src + (op == EMU_ALU_ADC ? cf : 0)) & m;
		f = add_flags(dst, src, r, size);
		break;
	case EMU_ALU_SUB:
	case EMU_ALU_SBB:
	case EMU_ALU_CMP:
		r = (dst - src - (op == EMU_ALU_SBB ? cf : 0)) & m;
		f = sub_flags(dst, src, r, size);
		break;
	case EMU_ALU_OR:
		r = dst | src;
		f = szp_flags(r, size);
		break;
	case EMU_ALU_AND:
	case EMU_ALU_TEST:
		r = dst & src;
		f = szp_flags(r, size);
		break;
	case EMU_ALU_XOR:
		r = dst ^ src;
		f = szp_flags(r, size);
		break;
	case EMU_ALU_INC:
		r = (dst + 1) & m;
		f = add_flags(dst, 1, r, size);
		keep &= ~EMU_FLAG_CF;
		break;
	case EMU_ALU_DEC:
		r = (dst - 1) & m;
		f = sub_flags(dst, 1, r, size);
		keep &= ~EMU_FLAG_CF;
		break;
	case EMU_ALU_NEG:
		r = (0 - dst) & m;
		f = sub_flags(0, dst, r, size);
		break;
	case EMU_ALU_NOT:
		*out_flags = flags;
		return ~dst & m;
	default:
		*out_flags = flags;
		return dst;
	}
	*out_flags = (flags & ~keep) | (f & keep);
	return r;
}
