/* SPDX-License-Identifier: MIT */
/*
 * Port I/O and the string instructions (MOVS, STOS, LODS, INS, OUTS), with REP.
 */
#include "internal.h"

#include <errno.h>

/* Plain IN/OUT: the port is imm8 or DX, the data AL/AX/EAX. */
int emu_exec_in_out(struct emu_ctx *c)
{
	const struct emu_insn *in = c->in;
	uint16_t port = in->imm_size ? (uint16_t)in->imm : (uint16_t)c->r.gpr[EMU_REG_RDX];
	uint64_t v = emu_reg_read(c, EMU_REG_RAX, in->op_size);
	int rc;

	rc = emu_port_io(c, port, in->op_size, in->op == EMU_OP_OUT, &v);
	if (!rc && in->op == EMU_OP_IN)
		emu_reg_write(c, EMU_REG_RAX, in->op_size, v);
	return rc;
}

/* One iteration of a string instruction; registers change only if it completes. */
static int string_step(struct emu_ctx *c)
{
	const struct emu_insn *in = c->in;
	unsigned size = in->op_size, as = in->addr_size;
	uint64_t am = emu_mask(as), src_la = 0, dst_la = 0, v = 0;
	uint64_t step = (c->r.rflags & EMU_FLAG_DF) ? (uint64_t)0 - size : size;
	uint16_t port = (uint16_t)c->r.gpr[EMU_REG_RDX];
	bool has_src = in->op == EMU_OP_MOVS || in->op == EMU_OP_LODS || in->op == EMU_OP_OUTS;
	bool has_dst = in->op == EMU_OP_MOVS || in->op == EMU_OP_STOS || in->op == EMU_OP_INS;
	struct emu_span src, dst;
	int rc = 0;

	if (has_src) {
		rc = emu_linear(c, in->seg, c->r.gpr[EMU_REG_RSI] & am, size, &src_la);
		if (!rc)
			rc = emu_map(c, src_la, size, false, &src);
		if (rc)
			return rc;
	}
	if (has_dst) {
		/* The destination is always ES:rDI; overrides do not apply to it. */
		rc = emu_linear(c, EMU_SEG_ES, c->r.gpr[EMU_REG_RDI] & am, size, &dst_la);
		if (!rc)
			rc = emu_map(c, dst_la, size, true, &dst);
		if (rc)
			return rc;
	}
	if (has_src)
		rc = emu_span_read(c, &src, &v);
	else if (in->op == EMU_OP_INS)
		rc = emu_port_io(c, port, size, false, &v);
	else
		v = emu_reg_read(c, EMU_REG_RAX, size);
	if (rc)
		return rc;
	if (has_dst)
		rc = emu_span_write(c, &dst, v);
	else if (in->op == EMU_OP_OUTS)
		rc = emu_port_io(c, port, size, true, &v);
	if (rc)
		return rc;
	if (in->op == EMU_OP_LODS)
		emu_reg_write(c, EMU_REG_RAX, size, v);
	if (has_src)
		emu_reg_write(c, EMU_REG_RSI, as, c->r.gpr[EMU_REG_RSI] + step);
	if (has_dst)
		emu_reg_write(c, EMU_REG_RDI, as, c->r.gpr[EMU_REG_RDI] + step);
	return 0;
}

int emu_exec_string(struct emu_ctx *c)
{
	unsigned as = c->in->addr_size;
	bool rep = c->in->rep != 0;
	uint64_t count = rep ? c->r.gpr[EMU_REG_RCX] & emu_mask(as) : 1;
	unsigned done = 0;
	int rc;

	while (count) {
		if (done == EMU_REP_MAX_ITERATIONS) {
			c->rep_incomplete = true;
			return 0;
		}
		rc = string_step(c);
		if (rc)
			return rc;
		count--;
		done++;
		if (rep)
			emu_reg_write(c, EMU_REG_RCX, as, count);
	}
	return 0;
}
