/* SPDX-License-Identifier: MIT */
/*
 * Execution: the semantics of the non-string instructions, and emu_execute() itself.
 *
 * Everything works on a copy of the registers that is committed only when the instruction
 * completes, so a failure leaves the vCPU as it was (REP progress aside, see emu.h).  Within
 * one instruction (or one REP iteration) every access is translated before any is performed,
 * so a translation failure, which the guest may fix and retry, has no side effects.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

/*
 * An arithmetic instruction with one memory operand.  `other` is the register or immediate
 * operand; mem_dst says whether the memory operand is the destination (left-hand side).
 */
static int exec_alu(struct emu_ctx *c, enum emu_alu_op op, bool mem_dst, uint64_t other)
{
	unsigned size = c->in->op_size;
	bool writes = op != EMU_ALU_CMP && op != EMU_ALU_TEST;
	uint64_t m, r, flags;
	struct emu_span sp;
	int rc;

	rc = emu_map_operand(c, 0, size, mem_dst && writes, &sp);
	if (rc)
		return rc;
	rc = emu_span_read(c, &sp, &m);
	if (rc)
		return rc;
	if (mem_dst) {
		r = emu_alu(op, size, m, other, c->r.rflags, &flags);
		if (writes) {
			rc = emu_span_write(c, &sp, r);
			if (rc)
				return rc;
		}
	} else {
		r = emu_alu(op, size, other, m, c->r.rflags, &flags);
		if (writes)
			emu_reg_write(c, c->in->reg, size, r);
	}
	c->r.rflags = flags;
	return 0;
}

static int exec_xchg(struct emu_ctx *c)
{
	unsigned size = c->in->op_size;
	struct emu_span sp;
	uint64_t m;
	int rc;

	rc = emu_map_operand(c, 0, size, true, &sp);
	if (rc)
		return rc;
	rc = emu_span_read(c, &sp, &m);
	if (rc)
		return rc;
	rc = emu_span_write(c, &sp, emu_reg_read(c, c->in->reg, size));
	if (rc)
		return rc;
	emu_reg_write(c, c->in->reg, size, m);
	return 0;
}

/*
 * With a register bit offset and a memory operand the offset is signed and unbounded: it
 * selects the operand-sized unit at EA + (offset >> log2(bits)) * size and the bit within it.
 */
static int exec_bt(struct emu_ctx *c)
{
	const struct emu_insn *in = c->in;
	unsigned size = in->op_size, bits = 8 * size, shift = __builtin_ctz(bits);
	uint64_t extra = 0, bit, m;
	unsigned which;
	struct emu_span sp;
	int rc;

	if (in->op == EMU_OP_BT) {
		int64_t off = (int64_t)emu_sext(emu_reg_read(c, in->reg, size), size);

		which = (in->opcode >> 3) & 3;
		extra = (uint64_t)(off >> shift) * size;
		bit = (uint64_t)off & (bits - 1);
	} else {
		which = (in->reg & 7) - 4;
		bit = in->imm & (bits - 1);
	}
	rc = emu_map_operand(c, extra, size, which != 0, &sp);
	if (rc)
		return rc;
	rc = emu_span_read(c, &sp, &m);
	if (rc)
		return rc;
	if ((m >> bit) & 1)
		c->r.rflags |= EMU_FLAG_CF;
	else
		c->r.rflags &= ~EMU_FLAG_CF;
	if (which == 1)
		m |= 1ull << bit;
	else if (which == 2)
		m &= ~(1ull << bit);
	else if (which == 3)
		m ^= 1ull << bit;
	return which ? emu_span_write(c, &sp, m) : 0;
}

static int exec_mov(struct emu_ctx *c)
{
	const struct emu_insn *in = c->in;
	unsigned size = in->op_size, src;
	uint64_t v;
	int rc;

	switch (in->op) {
	case EMU_OP_MOV:
		if (!(in->opcode & 2))
			return emu_write_operand(c, size, emu_reg_read(c, in->reg, size));
		rc = emu_read_operand(c, size, &v);
		if (!rc)
			emu_reg_write(c, in->reg, size, v);
		return rc;
	case EMU_OP_MOV_MOFFS:
		if (in->opcode & 2)
			return emu_write_operand(c, size, emu_reg_read(c, EMU_REG_RAX, size));
		rc = emu_read_operand(c, size, &v);
		if (!rc)
			emu_reg_write(c, EMU_REG_RAX, size, v);
		return rc;
	case EMU_OP_MOV_IMM:
		return emu_write_operand(c, size, in->imm);
	case EMU_OP_MOVZX:
	case EMU_OP_MOVSX:
	case EMU_OP_MOVSXD:
		if (in->op == EMU_OP_MOVSXD)
			src = size > 4 ? 4 : size;
		else
			src = (in->opcode & 1) ? 2 : 1;
		rc = emu_read_operand(c, src, &v);
		if (rc)
			return rc;
		if (in->op != EMU_OP_MOVZX)
			v = emu_sext(v, src);
		emu_reg_write(c, in->reg, size, v);
		return 0;
	default:
		return -EINVAL;
	}
}

static int dispatch(struct emu_ctx *c)
{
	const struct emu_insn *in = c->in;
	unsigned r = in->reg & 7;

	switch (in->op) {
	case EMU_OP_ALU:
		return exec_alu(c, (in->opcode >> 3) & 7, !(in->opcode & 2),
		                emu_reg_read(c, in->reg, in->op_size));
	case EMU_OP_GRP1:
		return exec_alu(c, r, true, in->imm);
	case EMU_OP_TEST:
		return exec_alu(c, EMU_ALU_TEST, true, emu_reg_read(c, in->reg, in->op_size));
	case EMU_OP_GRP3:
		if (r == 0)
			return exec_alu(c, EMU_ALU_TEST, true, in->imm);
		return exec_alu(c, r == 2 ? EMU_ALU_NOT : EMU_ALU_NEG, true, 0);
	case EMU_OP_GRP5:
		return exec_alu(c, r == 0 ? EMU_ALU_INC : EMU_ALU_DEC, true, 0);
	case EMU_OP_XCHG:
		return exec_xchg(c);
	case EMU_OP_MOV:
	case EMU_OP_MOV_MOFFS:
	case EMU_OP_MOV_IMM:
	case EMU_OP_MOVZX:
	case EMU_OP_MOVSX:
	case EMU_OP_MOVSXD:
		return exec_mov(c);
	case EMU_OP_BT:
	case EMU_OP_BT_IMM:
		return exec_bt(c);
	case EMU_OP_MOVS:
	case EMU_OP_STOS:
	case EMU_OP_LODS:
	case EMU_OP_INS:
	case EMU_OP_OUTS:
		return emu_exec_string(c);
	case EMU_OP_IN:
	case EMU_OP_OUT:
		return emu_exec_in_out(c);
	default:
		emu_set_why(c, "unsupported opcode");
		return -ENOTSUP;
	}
}

static bool is_string(enum emu_op op)
{
	return op == EMU_OP_MOVS || op == EMU_OP_STOS || op == EMU_OP_LODS || op == EMU_OP_INS ||
	       op == EMU_OP_OUTS;
}

static void format_error(char *err, size_t errlen, const uint8_t *insn, unsigned n, uint64_t rip,
                         const char *why)
{
	char hex[3 * EMU_MAX_INSN_LEN + 1] = "";
	unsigned pos = 0;

	if (!err || !errlen)
		return;
	if (!insn)
		n = 0;
	for (unsigned i = 0; i < n && i < EMU_MAX_INSN_LEN; i++)
		pos +=
		    (unsigned)snprintf(hex + pos, sizeof(hex) - pos, i ? " %02x" : "%02x", insn[i]);
	snprintf(err, errlen, "cannot emulate %s at rip 0x%" PRIx64 ": %s", n ? hex : "(no bytes)",
	         rip, why);
}

int emu_execute(struct emu_cpu *cpu, const uint8_t *insn, unsigned len, const struct emu_hint *hint,
                const struct emu_ops *ops, char *err, size_t errlen)
{
	struct emu_insn in;
	struct emu_ctx c;
	unsigned shown;
	int rc;

	if (!cpu || !ops) {
		format_error(err, errlen, insn, len, cpu ? cpu->regs.rip : 0,
		             "no cpu state or callbacks");
		return -EINVAL;
	}
	rc = emu_decode(insn, len, cpu->mode, &in);
	if (rc) {
		/* Show what the decoder consumed, or every byte if it wanted more. */
		shown = rc == -ENODATA || !in.len ? len : in.len;
		format_error(err, errlen, insn, shown, cpu->regs.rip, in.why);
		return rc;
	}

	memset(&c, 0, sizeof(c));
	c.cpu = cpu;
	c.r = cpu->regs;
	c.ops = ops;
	c.in = &in;
	if (hint && hint->gpa_valid && (hint->gva_valid || in.op != EMU_OP_MOVS)) {
		c.hint = *hint;
		c.hint_usable = true;
	}
	rc = dispatch(&c);
	if (rc) {
		if (is_string(in.op))
			memcpy(cpu->regs.gpr, c.r.gpr, sizeof(cpu->regs.gpr));
		format_error(err, errlen, insn, in.len, cpu->regs.rip, c.why[0] ? c.why : "failed");
		return rc;
	}
	if (!c.rep_incomplete)
		c.r.rip = emu_next_rip(&c);
	cpu->regs = c.r;
	return 0;
}
