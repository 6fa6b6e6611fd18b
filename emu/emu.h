/* SPDX-License-Identifier: MIT */
/*
 * emu: a hypervisor-neutral x86 instruction emulator for MMIO and string port I/O.
 *
 * Some hypervisors (MSHV) report an MMIO access or a string/REP port I/O as an intercept that
 * leaves RIP on the instruction and hands the VMM its bytes and registers; the VMM has to
 * perform the access itself.  This directory decodes such an instruction, performs its
 * accesses through caller callbacks and computes the registers and flags after it.  It knows
 * no hypervisor types, keeps no global state, never logs and never exits: everything it cannot
 * do is an error code plus a message that shows the instruction bytes.
 *
 * Every function that can fail returns 0 or a negative errno and hands results back through
 * out-parameters.
 */
#ifndef HVMM_EMU_H
#define HVMM_EMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EMU_WUR __attribute__((warn_unused_result))

/* The architectural limit; longer encodings raise #GP on hardware. */
#define EMU_MAX_INSN_LEN 15

/*
 * A REP string instruction does at most this many iterations per emu_execute() call.  When
 * more remain the registers show the progress and RIP stays on the instruction, exactly as
 * when hardware takes an interrupt in the middle, so the guest re-executes it and the rest
 * arrives as another intercept.  This bounds the time one call takes whatever RCX holds.
 */
#define EMU_REP_MAX_ITERATIONS 4096

/* General-purpose registers in x86 encoding order, as the ModRM reg/rm fields number them. */
enum emu_reg {
	EMU_REG_RAX,
	EMU_REG_RCX,
	EMU_REG_RDX,
	EMU_REG_RBX,
	EMU_REG_RSP,
	EMU_REG_RBP,
	EMU_REG_RSI,
	EMU_REG_RDI,
	EMU_REG_R8,
	EMU_REG_R9,
	EMU_REG_R10,
	EMU_REG_R11,
	EMU_REG_R12,
	EMU_REG_R13,
	EMU_REG_R14,
	EMU_REG_R15,
	EMU_REG_RIP, /* only as struct emu_insn.base, for RIP-relative operands */
};

/* RFLAGS bits the emulator reads or writes. */
#define EMU_FLAG_CF (1ull << 0)
#define EMU_FLAG_PF (1ull << 2)
#define EMU_FLAG_AF (1ull << 4)
#define EMU_FLAG_ZF (1ull << 6)
#define EMU_FLAG_SF (1ull << 7)
#define EMU_FLAG_DF (1ull << 10)
#define EMU_FLAG_OF (1ull << 11)
#define EMU_FLAGS_ARITH                                                                            \
	(EMU_FLAG_CF | EMU_FLAG_PF | EMU_FLAG_AF | EMU_FLAG_ZF | EMU_FLAG_SF | EMU_FLAG_OF)

struct emu_regs {
	uint64_t gpr[16]; /* indexed by enum emu_reg */
	uint64_t rip, rflags;
};

/*
 * The execution mode, which the caller derives from CR0.PE, EFER.LMA, CS.L and CS.D:
 * REAL16 (PE=0), PROT16 (PE=1, CS.D=0), PROT32 (PE=1, CS.D=1; also compatibility mode),
 * LONG64 (LMA=1 and CS.L=1).  It sets the default operand and address sizes, whether REX
 * exists and whether segment bases other than FS/GS apply.
 */
enum emu_mode {
	EMU_MODE_REAL16,
	EMU_MODE_PROT16,
	EMU_MODE_PROT32,
	EMU_MODE_LONG64,
};

/* Segment registers in the order of their encoding in segment-override prefixes. */
enum emu_seg {
	EMU_SEG_ES,
	EMU_SEG_CS,
	EMU_SEG_SS,
	EMU_SEG_DS,
	EMU_SEG_FS,
	EMU_SEG_GS,
};

/*
 * The vCPU state the emulator needs.  seg_base is the linear base of each segment (selector
 * << 4 in real mode, the descriptor base otherwise); in LONG64 only FS and GS are used.
 * Segment limits and access rights are not checked: the access already passed them on
 * hardware before the intercept.  la57 (CR4.LA57) widens canonical addresses to 57 bits.
 */
struct emu_cpu {
	enum emu_mode mode;
	bool la57;
	struct emu_regs regs;
	uint64_t seg_base[6]; /* indexed by enum emu_seg */
};

/*
 * Callbacks.  All return 0 or a negative errno (any other value counts as -EIO); the emulator
 * stops at the first failure and returns that code.  `buf` holds `len` bytes, little-endian.
 *
 * mem_read/mem_write (required): guest-physical access to RAM or MMIO.  One call never spans
 * a 4 KiB page boundary and is at most 8 bytes long.
 * translate (optional): guest-virtual to guest-physical for an access of the given kind;
 * NULL means the identity (paging off).  It must fail (e.g. -EFAULT) for an address the
 * guest may not access that way: the emulator cannot raise the page fault itself.
 * pio_read/pio_write (required only for IN/OUT/INS/OUTS; -ENOTSUP when NULL): port I/O of
 * 1, 2 or 4 bytes.
 */
struct emu_ops {
	void *ctx;
	int (*mem_read)(void *ctx, uint64_t gpa, void *buf, unsigned len);
	int (*mem_write)(void *ctx, uint64_t gpa, const void *buf, unsigned len);
	int (*translate)(void *ctx, uint64_t gva, bool write, uint64_t *gpa);
	int (*pio_read)(void *ctx, uint16_t port, void *buf, unsigned len);
	int (*pio_write)(void *ctx, uint16_t port, const void *buf, unsigned len);
};

/*
 * What the intercept already told about the faulting access.  When gpa_valid, one access
 * piece (the part of an access inside one 4 KiB page) uses the page of `gpa` instead of
 * calling translate:
 *  - with gva_valid, the first piece whose address lies in the page of `gva`;
 *  - without, the very first piece, if its page offset equals that of `gpa` and the
 *    instruction has a single memory operand (for MOVS it cannot be told which operand
 *    faulted, so both are translated).
 * Every other piece goes through translate.  NULL is the same as all-false.
 */
struct emu_hint {
	bool gpa_valid;
	bool gva_valid;
	uint64_t gpa;
	uint64_t gva;
};

/* What an instruction does; the opcode and ModRM reg field refine it. */
enum emu_op {
	EMU_OP_NONE,
	EMU_OP_ALU, /* 00-3B with ModRM: (opcode >> 3) & 7 is the emu_alu_op, bit 1 the direction */
	EMU_OP_GRP1,      /* 80, 81, 83: reg is the emu_alu_op */
	EMU_OP_TEST,      /* 84, 85 */
	EMU_OP_XCHG,      /* 86, 87 */
	EMU_OP_MOV,       /* 88-8B */
	EMU_OP_MOV_MOFFS, /* A0-A3 */
	EMU_OP_MOV_IMM,   /* C6 /0, C7 /0 */
	EMU_OP_GRP3,      /* F6, F7: /0 TEST imm, /2 NOT, /3 NEG */
	EMU_OP_GRP5,      /* FE, FF: /0 INC, /1 DEC */
	EMU_OP_MOVZX,     /* 0F B6, 0F B7 */
	EMU_OP_MOVSX,     /* 0F BE, 0F BF */
	EMU_OP_MOVSXD,    /* 63 (LONG64 only) */
	EMU_OP_BT,        /* 0F A3/AB/B3/BB: (opcode >> 3) & 3 is BT, BTS, BTR, BTC */
	EMU_OP_BT_IMM,    /* 0F BA /4-/7 */
	EMU_OP_MOVS,      /* A4, A5 */
	EMU_OP_STOS,      /* AA, AB */
	EMU_OP_LODS,      /* AC, AD */
	EMU_OP_INS,       /* 6C, 6D */
	EMU_OP_OUTS,      /* 6E, 6F */
	EMU_OP_IN,        /* E4, E5, EC, ED */
	EMU_OP_OUT,       /* E6, E7, EE, EF */
};

/*
 * A decoded instruction.  The memory operand, when `mem` is set, is at offset
 * base + index * scale + disp (wrapped to addr_size) in segment `seg`; for RIP-relative
 * operands base is EMU_REG_RIP and means the address of the next instruction.  For string
 * instructions `seg` is the source segment and the operand fields are unused.
 */
struct emu_insn {
	uint8_t len;          /* bytes, prefixes included */
	uint8_t opcode;       /* the opcode byte, after 0F for two-byte opcodes */
	bool twobyte;         /* the opcode followed a 0F escape */
	enum emu_op op;       /* EMU_OP_NONE until the opcode is known */
	uint8_t op_size;      /* effective operand size in bytes: 1, 2, 4 or 8 */
	uint8_t addr_size;    /* effective address size in bytes: 2, 4 or 8 */
	uint8_t rex;          /* the REX prefix in effect (0x40-0x4F), 0 if none */
	uint8_t rep;          /* 0, 0xF2 or 0xF3, whichever came last */
	bool lock;            /* F0 */
	bool opsize_prefix;   /* 66 */
	bool addrsize_prefix; /* 67 */
	int8_t seg_override;  /* enum emu_seg, or -1 (64-bit mode: FS/GS only) */
	bool has_modrm;
	uint8_t modrm;
	uint8_t mod; /* ModRM.mod */
	uint8_t reg; /* ModRM.reg extended by REX.R */
	uint8_t rm;  /* ModRM.rm extended by REX.B */
	bool has_sib;
	uint8_t sib;
	uint8_t disp_size; /* bytes of displacement (or moffs) in the encoding */
	uint8_t imm_size;  /* bytes of immediate in the encoding */
	uint64_t imm;      /* sign-extended to 64 bits, except the IN/OUT port, zero-extended */
	bool mem;          /* has a memory operand (ModRM with mod != 3, or moffs) */
	int8_t base;       /* enum emu_reg, or -1 */
	int8_t index;      /* enum emu_reg, or -1 */
	uint8_t scale;     /* 1, 2, 4 or 8 */
	uint64_t disp;     /* sign-extended displacement, or the zero-extended moffs */
	uint8_t seg;       /* enum emu_seg: the override, or the default for the operand */
	const char *why;   /* on failure, what is wrong, as a static string */
};

/*
 * Decode the instruction at insn[0..len) (len may exceed the instruction; at most
 * EMU_MAX_INSN_LEN bytes are looked at) as executed in `mode`.  Pure: reads nothing else.
 * Returns 0 and fills *out; on failure *out is partly filled and out->why says what is wrong:
 *   -ENODATA  the bytes end before the instruction does (the caller may fetch more),
 *   -EINVAL   an invalid encoding (#UD or #GP on hardware: longer than 15 bytes, LOCK on an
 *             instruction or operand that does not take it, an undefined ModRM.reg) or mode,
 *   -ENOTSUP  a valid instruction this emulator does not handle.
 * Register-only forms (mod == 3) of supported opcodes decode successfully.
 */
int emu_decode(const uint8_t *insn, unsigned len, enum emu_mode mode, struct emu_insn *out) EMU_WUR;

/* Arithmetic and logic operations; the first eight follow the x86 encoding (00-3F, 80 /r). */
enum emu_alu_op {
	EMU_ALU_ADD,
	EMU_ALU_OR,
	EMU_ALU_ADC,
	EMU_ALU_SBB,
	EMU_ALU_AND,
	EMU_ALU_SUB,
	EMU_ALU_XOR,
	EMU_ALU_CMP,
	EMU_ALU_TEST,
	EMU_ALU_INC,
	EMU_ALU_DEC,
	EMU_ALU_NEG,
	EMU_ALU_NOT,
};

/*
 * Compute `dst op src` on `size` bytes (1, 2, 4 or 8) as the CPU does.  Returns the result
 * (truncated to size; for CMP and TEST the value is what SUB/AND would give, which the CPU
 * discards) and stores in *out_flags the RFLAGS that follow from `flags`: the arithmetic flags
 * the operation defines are replaced, all other bits are kept.  AF after the logic operations
 * (undefined in the SDM) is cleared, as current CPUs do.  ADC/SBB use flags' CF as carry in;
 * INC/DEC keep CF; NOT changes no flag; NEG, INC, DEC and NOT ignore src.  An unknown op
 * leaves *out_flags = flags and returns dst.
 */
uint64_t emu_alu(enum emu_alu_op op, unsigned size, uint64_t dst, uint64_t src, uint64_t flags,
                 uint64_t *out_flags);

/*
 * Decode insn[0..len) at cpu->regs.rip in cpu->mode and execute it: perform its memory and
 * port accesses through `ops`, then update the registers, RFLAGS and RIP in cpu->regs.
 * `hint` (may be NULL) is the intercept's address information, see struct emu_hint.
 *
 * Returns 0 on success.  A REP string instruction with more than EMU_REP_MAX_ITERATIONS
 * iterations left also returns 0 but leaves RIP on the instruction, see there.
 * On failure returns a negative errno (those of emu_decode(); -EINVAL
 * also for an instruction without a memory operand where one is needed, -EFAULT for a
 * non-canonical address, -ENOTSUP for a NULL callback that is needed; or whatever a callback
 * returned) and, when err is non-NULL, writes a NUL-terminated message such as
 * "cannot emulate 0f 0b at rip 0x1000: unsupported opcode" (truncated to errlen).
 *
 * On failure RIP, RFLAGS and the registers are left as they were, with one exception: a REP
 * string instruction that failed after some iterations leaves RCX, RSI, RDI (and RAX for
 * LODS) as those completed iterations left them, so the guest may resume it.  Accesses are
 * all translated before any is performed, so a translation failure performs none; but a
 * callback failing half-way (the second page of a split access, the write of a
 * read-modify-write, a later REP iteration) leaves the earlier accesses done.
 */
int emu_execute(struct emu_cpu *cpu, const uint8_t *insn, unsigned len, const struct emu_hint *hint,
                const struct emu_ops *ops, char *err, size_t errlen) EMU_WUR;

#endif /* HVMM_EMU_H */
