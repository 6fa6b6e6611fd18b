/* SPDX-License-Identifier: MIT */
/*
 * Instruction decoding: prefixes, opcode, ModRM/SIB, displacement and immediate, normalised
 * into struct emu_insn so that execution never looks at raw bytes again.
 *
 * Only the opcodes the emulator executes are known; everything else is -ENOTSUP rather than
 * a guess at its length, since a wrong length would put the guest's RIP in the wrong place.
 */
#include "internal.h"

#include <errno.h>
#include <string.h>

enum {
	F_MODRM = 1 << 0,
	F_BYTE = 1 << 1,  /* 8-bit operand whatever the prefixes say */
	F_IMM8 = 1 << 2,  /* imm8, sign-extended */
	F_IMMZ = 1 << 3,  /* imm16/imm32 by operand size, sign-extended */
	F_MOFFS = 1 << 4, /* address-size absolute offset */
	F_PORT8 = 1 << 5, /* imm8 port number, zero-extended */
	F_IO = 1 << 6,    /* operand size never exceeds 32 bits */
};

struct opinfo {
	uint8_t op; /* enum emu_op */
	uint8_t flags;
};

#define ALU_ROW(b)                                                                                 \
	[(b) + 0] = { EMU_OP_ALU, F_MODRM | F_BYTE }, [(b) + 1] = { EMU_OP_ALU, F_MODRM },         \
	       [(b) + 2] = { EMU_OP_ALU, F_MODRM | F_BYTE }, [(b) + 3] = { EMU_OP_ALU, F_MODRM }

static const struct opinfo onebyte[256] = {
	ALU_ROW(0x00),
	ALU_ROW(0x08),
	ALU_ROW(0x10),
	ALU_ROW(0x18),
	ALU_ROW(0x20),
	ALU_ROW(0x28),
	ALU_ROW(0x30),
	ALU_ROW(0x38),
	[0x63] = { EMU_OP_MOVSXD, F_MODRM },
	[0x6C] = { EMU_OP_INS, F_BYTE },
	[0x6D] = { EMU_OP_INS, F_IO },
	[0x6E] = { EMU_OP_OUTS, F_BYTE },
	[0x6F] = { EMU_OP_OUTS, F_IO },
	[0x80] = { EMU_OP_GRP1, F_MODRM | F_BYTE | F_IMM8 },
	[0x81] = { EMU_OP_GRP1, F_MODRM | F_IMMZ },
	[0x83] = { EMU_OP_GRP1, F_MODRM | F_IMM8 },
	[0x84] = { EMU_OP_TEST, F_MODRM | F_BYTE },
	[0x85] = { EMU_OP_TEST, F_MODRM },
	[0x86] = { EMU_OP_XCHG, F_MODRM | F_BYTE },
	[0x87] = { EMU_OP_XCHG, F_MODRM },
	[0x88] = { EMU_OP_MOV, F_MODRM | F_BYTE },
	[0x89] = { EMU_OP_MOV, F_MODRM },
	[0x8A] = { EMU_OP_MOV, F_MODRM | F_BYTE },
	[0x8B] = { EMU_OP_MOV, F_MODRM },
	[0xA0] = { EMU_OP_MOV_MOFFS, F_MOFFS | F_BYTE },
	[0xA1] = { EMU_OP_MOV_MOFFS, F_MOFFS },
	[0xA2] = { EMU_OP_MOV_MOFFS, F_MOFFS | F_BYTE },
	[0xA3] = { EMU_OP_MOV_MOFFS, F_MOFFS },
	[0xA4] = { EMU_OP_MOVS, F_BYTE },
	[0xA5] = { EMU_OP_MOVS, 0 },
	[0xAA] = { EMU_OP_STOS, F_BYTE },
	[0xAB] = { EMU_OP_STOS, 0 },
	[0xAC] = { EMU_OP_LODS, F_BYTE },
	[0xAD] = { EMU_OP_LODS, 0 },
	[0xC6] = { EMU_OP_MOV_IMM, F_MODRM | F_BYTE | F_IMM8 },
	[0xC7] = { EMU_OP_MOV_IMM, F_MODRM | F_IMMZ },
	[0xE4] = { EMU_OP_IN, F_BYTE | F_PORT8 },
	[0xE5] = { EMU_OP_IN, F_IO | F_PORT8 },
	[0xE6] = { EMU_OP_OUT, F_BYTE | F_PORT8 },
	[0xE7] = { EMU_OP_OUT, F_IO | F_PORT8 },
	[0xEC] = { EMU_OP_IN, F_BYTE },
	[0xED] = { EMU_OP_IN, F_IO },
	[0xEE] = { EMU_OP_OUT, F_BYTE },
	[0xEF] = { EMU_OP_OUT, F_IO },
	/* The immediate of F6/F7 depends on ModRM.reg and is added after ModRM is read. */
	[0xF6] = { EMU_OP_GRP3, F_MODRM | F_BYTE },
	[0xF7] = { EMU_OP_GRP3, F_MODRM },
	[0xFE] = { EMU_OP_GRP5, F_MODRM | F_BYTE },
	[0xFF] = { EMU_OP_GRP5, F_MODRM },
};

static const struct opinfo twobyte[256] = {
	[0xA3] = { EMU_OP_BT, F_MODRM },
	[0xAB] = { EMU_OP_BT, F_MODRM },
	[0xB3] = { EMU_OP_BT, F_MODRM },
	[0xBB] = { EMU_OP_BT, F_MODRM },
	[0xBA] = { EMU_OP_BT_IMM, F_MODRM | F_IMM8 },
	[0xB6] = { EMU_OP_MOVZX, F_MODRM },
	[0xB7] = { EMU_OP_MOVZX, F_MODRM },
	[0xBE] = { EMU_OP_MOVSX, F_MODRM },
	[0xBF] = { EMU_OP_MOVSX, F_MODRM },
};

struct cursor {
	const uint8_t *p;
	unsigned len; /* bytes the caller supplied */
	unsigned pos;
};

/* Reads n little-endian bytes; fails when they are not all there. */
static int fetch(struct cursor *c, unsigned n, uint64_t *v, struct emu_insn *out) EMU_WUR;
static int fetch(struct cursor *c, unsigned n, uint64_t *v, struct emu_insn *out)
{
	uint64_t x = 0;

	if (c->pos + n > EMU_MAX_INSN_LEN) {
		/*
		 * Checked before truncation: an instruction that cannot fit is invalid
		 * however many more bytes the caller could supply.
		 */
		out->len = (uint8_t)c->pos;
		out->why = "instruction longer than 15 bytes";
		return -EINVAL;
	}
	if (c->pos + n > c->len) {
		out->len = (uint8_t)c->pos;
		out->why = "instruction bytes end early";
		return -ENODATA;
	}
	for (unsigned i = 0; i < n; i++)
		x |= (uint64_t)c->p[c->pos + i] << (8 * i);
	c->pos += n;
	*v = x;
	return 0;
}

/* Returns true if b is a legacy prefix, recording it. */
static bool legacy_prefix(uint8_t b, enum emu_mode mode, struct emu_insn *out)
{
	/*
	 * In 64-bit mode the ES/CS/SS/DS overrides are null prefixes: they do not even replace
	 * an earlier FS/GS override.
	 */
	bool null_seg = mode == EMU_MODE_LONG64;

	switch (b) {
	case 0xF0:
		out->lock = true;
		return true;
	case 0xF2:
	case 0xF3:
		out->rep = b;
		return true;
	case 0x66:
		out->opsize_prefix = true;
		return true;
	case 0x67:
		out->addrsize_prefix = true;
		return true;
	case 0x26:
		if (!null_seg)
			out->seg_override = EMU_SEG_ES;
		return true;
	case 0x2E:
		if (!null_seg)
			out->seg_override = EMU_SEG_CS;
		return true;
	case 0x36:
		if (!null_seg)
			out->seg_override = EMU_SEG_SS;
		return true;
	case 0x3E:
		if (!null_seg)
			out->seg_override = EMU_SEG_DS;
		return true;
	case 0x64:
		out->seg_override = EMU_SEG_FS;
		return true;
	case 0x65:
		out->seg_override = EMU_SEG_GS;
		return true;
	default:
		return false;
	}
}

static void set_sizes(enum emu_mode mode, unsigned flags, struct emu_insn *out)
{
	if (mode == EMU_MODE_LONG64) {
		out->addr_size = out->addrsize_prefix ? 4 : 8;
		if (out->rex & 0x08)
			out->op_size = 8;
		else
			out->op_size = out->opsize_prefix ? 2 : 4;
	} else {
		bool big = mode == EMU_MODE_PROT32;

		out->addr_size = (big != out->addrsize_prefix) ? 4 : 2;
		out->op_size = (big != out->opsize_prefix) ? 4 : 2;
	}
	if (flags & F_BYTE)
		out->op_size = 1;
	else if ((flags & F_IO) && out->op_size == 8)
		out->op_size = 4;
}

/* 16-bit addressing has fixed base/index pairs instead of a SIB byte. */
static int modrm16(struct cursor *c, struct emu_insn *out)
{
	static const int8_t base16[8] = { EMU_REG_RBX, EMU_REG_RBX, EMU_REG_RBP, EMU_REG_RBP,
		                          -1,          -1,          EMU_REG_RBP, EMU_REG_RBX };
	static const int8_t index16[8] = { EMU_REG_RSI, EMU_REG_RDI, EMU_REG_RSI, EMU_REG_RDI,
		                           EMU_REG_RSI, EMU_REG_RDI, -1,          -1 };
	unsigned rm = out->modrm & 7;
	uint64_t d = 0;
	int rc;

	out->base = base16[rm];
	out->index = index16[rm];
	if (out->mod == 0 && rm == 6) {
		out->base = -1;
		out->disp_size = 2;
	} else if (out->mod == 1) {
		out->disp_size = 1;
	} else if (out->mod == 2) {
		out->disp_size = 2;
	}
	if (out->disp_size) {
		rc = fetch(c, out->disp_size, &d, out);
		if (rc)
			return rc;
	}
	out->disp = emu_sext(d, out->disp_size);
	if (out->base == EMU_REG_RBP)
		out->seg = EMU_SEG_SS;
	return 0;
}

static int modrm32(struct cursor *c, enum emu_mode mode, struct emu_insn *out)
{
	unsigned rex_b = (out->rex & 1) << 3, rex_x = (out->rex & 2) << 2;
	unsigned rm = out->modrm & 7;
	uint64_t v = 0;
	int rc;

	out->base = (int8_t)(rm | rex_b);
	if (rm == 4) {
		rc = fetch(c, 1, &v, out);
		if (rc)
			return rc;
		out->has_sib = true;
		out->sib = (uint8_t)v;
		out->scale = (uint8_t)(1u << (out->sib >> 6));
		out->index = (int8_t)(((out->sib >> 3) & 7) | rex_x);
		/* Index 100b without REX.X means none; with REX.X it is R12. */
		if (out->index == EMU_REG_RSP)
			out->index = -1;
		out->base = (int8_t)((out->sib & 7) | rex_b);
		if ((out->sib & 7) == 5 && out->mod == 0) {
			out->base = -1;
			out->disp_size = 4;
		}
	} else if (rm == 5 && out->mod == 0) {
		out->base = mode == EMU_MODE_LONG64 ? EMU_REG_RIP : -1;
		out->disp_size = 4;
	}
	if (out->mod == 1)
		out->disp_size = 1;
	else if (out->mod == 2)
		out->disp_size = 4;
	if (out->disp_size) {
		rc = fetch(c, out->disp_size, &v, out);
		if (rc)
			return rc;
		out->disp = emu_sext(v, out->disp_size);
	}
	if (out->base == EMU_REG_RSP || out->base == EMU_REG_RBP)
		out->seg = EMU_SEG_SS;
	return 0;
}

/* Rejects ModRM.reg values that are undefined or unsupported for the group opcodes. */
static int check_group(struct emu_insn *out)
{
	unsigned r = out->reg & 7;

	switch (out->op) {
	case EMU_OP_MOV_IMM:
		if (r != 0) {
			out->why = "unsupported opcode";
			return -ENOTSUP;
		}
		return 0;
	case EMU_OP_GRP3:
		if (r != 0 && r != 2 && r != 3) {
			out->why = "unsupported opcode";
			return -ENOTSUP;
		}
		return 0;
	case EMU_OP_GRP5:
		if (r > 1) {
			out->why = "unsupported opcode";
			return -ENOTSUP;
		}
		return 0;
	case EMU_OP_BT_IMM:
		if (r < 4) {
			out->why = "undefined ModRM.reg for 0f ba";
			return -EINVAL;
		}
		return 0;
	default:
		return 0;
	}
}

/* LOCK is legal only on read-modify-write instructions with a memory destination. */
static bool lockable(const struct emu_insn *in)
{
	unsigned r = in->reg & 7;

	if (!in->mem)
		return false;
	switch (in->op) {
	case EMU_OP_ALU:
		return !(in->opcode & 2) && ((in->opcode >> 3) & 7) != EMU_ALU_CMP;
	case EMU_OP_GRP1:
		return r != EMU_ALU_CMP;
	case EMU_OP_XCHG:
		return true;
	case EMU_OP_GRP3:
		return r == 2 || r == 3;
	case EMU_OP_GRP5:
		return true;
	case EMU_OP_BT:
		return ((in->opcode >> 3) & 3) != 0;
	case EMU_OP_BT_IMM:
		return r != 4;
	default:
		return false;
	}
}

static int decode_body(struct cursor *c, enum emu_mode mode, struct emu_insn *out)
{
	const struct opinfo *info;
	unsigned flags, imm = 0;
	uint64_t v;
	int rc;

	for (;;) {
		rc = fetch(c, 1, &v, out);
		if (rc)
			return rc;
		if (legacy_prefix((uint8_t)v, mode, out)) {
			/* A REX followed by a legacy prefix is ignored, as on hardware. */
			out->rex = 0;
			continue;
		}
		if (mode == EMU_MODE_LONG64 && (v & 0xF0) == 0x40) {
			out->rex = (uint8_t)v;
			continue;
		}
		break;
	}
	out->opcode = (uint8_t)v;
	info = &onebyte[out->opcode];
	if (out->opcode == 0x0F) {
		rc = fetch(c, 1, &v, out);
		if (rc)
			return rc;
		out->twobyte = true;
		out->opcode = (uint8_t)v;
		info = &twobyte[out->opcode];
	}
	out->op = info->op;
	flags = info->flags;
	if (out->op == EMU_OP_NONE || (out->op == EMU_OP_MOVSXD && mode != EMU_MODE_LONG64)) {
		/* 63 outside 64-bit mode is ARPL. */
		out->op = EMU_OP_NONE;
		out->len = (uint8_t)c->pos;
		out->why = "unsupported opcode";
		return -ENOTSUP;
	}
	set_sizes(mode, flags, out);
	out->seg = EMU_SEG_DS;
	out->scale = 1;

	if (flags & F_MODRM) {
		rc = fetch(c, 1, &v, out);
		if (rc)
			return rc;
		out->has_modrm = true;
		out->modrm = (uint8_t)v;
		out->mod = out->modrm >> 6;
		out->reg = (uint8_t)(((out->modrm >> 3) & 7) | ((out->rex & 4) << 1));
		out->rm = (uint8_t)((out->modrm & 7) | ((out->rex & 1) << 3));
		rc = check_group(out);
		if (rc) {
			out->len = (uint8_t)c->pos;
			return rc;
		}
		if (out->mod != 3) {
			out->mem = true;
			if (out->addr_size == 2)
				rc = modrm16(c, out);
			else
				rc = modrm32(c, mode, out);
			if (rc)
				return rc;
		}
	} else if (flags & F_MOFFS) {
		out->mem = true;
		out->disp_size = out->addr_size;
		rc = fetch(c, out->disp_size, &v, out);
		if (rc)
			return rc;
		out->disp = v;
	}

	if (flags & (F_IMM8 | F_PORT8))
		imm = 1;
	else if (flags & F_IMMZ)
		imm = out->op_size == 2 ? 2 : 4;
	else if (out->op == EMU_OP_GRP3 && (out->reg & 7) == 0)
		imm = out->op_size == 1 ? 1 : out->op_size == 2 ? 2 : 4;
	if (imm) {
		rc = fetch(c, imm, &v, out);
		if (rc)
			return rc;
		out->imm_size = (uint8_t)imm;
		out->imm = (flags & F_PORT8) ? v : emu_sext(v, imm);
	}
	if (out->seg_override >= 0)
		out->seg = (uint8_t)out->seg_override;
	out->len = (uint8_t)c->pos;
	if (out->lock && !lockable(out)) {
		out->why = "LOCK prefix not allowed here";
		return -EINVAL;
	}
	return 0;
}

int emu_decode(const uint8_t *insn, unsigned len, enum emu_mode mode, struct emu_insn *out)
{
	struct cursor c = { .p = insn, .len = len, .pos = 0 };

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->seg_override = -1;
	out->base = -1;
	out->index = -1;
	if (!insn || (unsigned)mode > EMU_MODE_LONG64) {
		out->why = !insn ? "no instruction bytes" : "invalid execution mode";
		return -EINVAL;
	}
	return decode_body(&c, mode, out);
}
