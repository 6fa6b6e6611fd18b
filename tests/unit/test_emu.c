/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for emu/: a table of instructions, each run against a fake guest with RAM, an
 * MMIO window that records every access, ports and a small page table, and checked for the
 * complete register file, RFLAGS, memory contents and access log afterwards.
 *
 * Arithmetic flags in the table were cross-checked against the same instructions run natively.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu/emu.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Guest-physical layout of the fake guest. */
#define RAM_SIZE  0x10000u
#define MM        0xD0000000ull /* MMIO window, two pages */
#define MMIO_SIZE 0x2000u

/*
 * With paging, DMAP+x maps RAM x, and VMIO pages map: 0 -> MM, 1 -> MM+0x1000, 2 -> RAM
 * 0x3000, 3 -> RAM 0x4000 read-only, 4 -> RAM 0x5000, 5 -> MM.  Everything else faults.
 */
#define DMAP 0xFFFF888000000000ull
#define VMIO 0xFFFFC90000000000ull

#define CF    EMU_FLAG_CF
#define PF    EMU_FLAG_PF
#define AF    EMU_FLAG_AF
#define ZF    EMU_FLAG_ZF
#define SF    EMU_FLAG_SF
#define DF    EMU_FLAG_DF
#define OF    EMU_FLAG_OF
#define ARITH EMU_FLAGS_ARITH

#define MAX_LOG 64

struct acc {
	char k; /* R/W MMIO, r/w RAM, I/O port */
	uint64_t a;
	unsigned n;
	uint64_t v;
};

struct env {
	uint8_t ram[RAM_SIZE];
	uint8_t mmio[MMIO_SIZE];
	struct acc log[MAX_LOG];
	unsigned nlog;
	unsigned ntrans;
	unsigned ncalls;
	unsigned fail_at; /* the fail_at-th memory/port callback returns -EIO */
	uint8_t pio_in[16];
	unsigned pio_len, pio_pos;
	bool bad_access; /* a callback saw an access the emulator must never make */
};

static uint64_t le(const uint8_t *p, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static void record(struct env *e, char k, uint64_t a, unsigned n, const uint8_t *buf)
{
	if (e->nlog < MAX_LOG)
		e->log[e->nlog] = (struct acc){ k, a, n, le(buf, n) };
	e->nlog++;
}

static uint8_t *backing(struct env *e, uint64_t gpa, unsigned len, bool *mmio)
{
	if (gpa < RAM_SIZE && gpa + len <= RAM_SIZE) {
		*mmio = false;
		return e->ram + gpa;
	}
	if (gpa >= MM && gpa + len <= MM + MMIO_SIZE) {
		*mmio = true;
		return e->mmio + (gpa - MM);
	}
	return NULL;
}

static bool failing(struct env *e)
{
	return ++e->ncalls == e->fail_at;
}

static int fake_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	struct env *e = ctx;
	bool mmio;
	uint8_t *p;

	if (len == 0 || len > 8 || (gpa & 0xFFF) + len > 0x1000)
		e->bad_access = true;
	if (failing(e))
		return -EIO;
	p = backing(e, gpa, len, &mmio);
	if (!p)
		return -EIO;
	memcpy(buf, p, len);
	record(e, mmio ? 'R' : 'r', gpa, len, buf);
	return 0;
}

static int fake_write(void *ctx, uint64_t gpa, const void *buf, unsigned len)
{
	struct env *e = ctx;
	bool mmio;
	uint8_t *p;

	if (len == 0 || len > 8 || (gpa & 0xFFF) + len > 0x1000)
		e->bad_access = true;
	if (failing(e))
		return -EIO;
	p = backing(e, gpa, len, &mmio);
	if (!p)
		return -EIO;
	memcpy(p, buf, len);
	record(e, mmio ? 'W' : 'w', gpa, len, buf);
	return 0;
}

static int fake_translate(void *ctx, uint64_t gva, bool write, uint64_t *gpa)
{
	static const uint64_t vmio_pages[] = { MM, MM + 0x1000, 0x3000, 0x4000, 0x5000, MM };
	struct env *e = ctx;
	uint64_t page;

	e->ntrans++;
	if (gva >= DMAP && gva < DMAP + RAM_SIZE) {
		*gpa = gva - DMAP;
		return 0;
	}
	if (gva < VMIO)
		return -EFAULT;
	page = (gva - VMIO) >> 12;
	if (page >= ARRAY_SIZE(vmio_pages) || (page == 3 && write))
		return -EFAULT;
	*gpa = vmio_pages[page] | (gva & 0xFFF);
	return 0;
}

static int fake_pio_read(void *ctx, uint16_t port, void *buf, unsigned len)
{
	struct env *e = ctx;
	uint8_t *b = buf;

	if (len != 1 && len != 2 && len != 4)
		e->bad_access = true;
	if (failing(e))
		return -EIO;
	for (unsigned i = 0; i < len && i < 4; i++)
		b[i] = e->pio_pos < e->pio_len ? e->pio_in[e->pio_pos++] : 0xFF;
	record(e, 'I', port, len, buf);
	return 0;
}

static int fake_pio_write(void *ctx, uint16_t port, const void *buf, unsigned len)
{
	struct env *e = ctx;

	if (len != 1 && len != 2 && len != 4)
		e->bad_access = true;
	if (failing(e))
		return -EIO;
	record(e, 'O', port, len, buf);
	return 0;
}

static unsigned parse_hex(const char *s, uint8_t *out, unsigned max)
{
	unsigned n = 0;

	while (s && *s) {
		char *end;
		unsigned long v;

		if (*s == ' ') {
			s++;
			continue;
		}
		v = strtoul(s, &end, 16);
		assert_true(end == s + 2 && n < max);
		out[n++] = (uint8_t)v;
		s = end;
	}
	return n;
}

/* ------------------------------------------------------------------------------------------ */
/* The instruction table                                                                        */
/* ------------------------------------------------------------------------------------------ */

enum tmode { L64, P32, P16, R16 };

struct rv {
	uint8_t r; /* enum emu_reg + 1; 0 ends the list */
	uint64_t v;
};

struct mset {
	uint64_t a;
	const char *hex; /* NULL ends the list */
};

struct tc {
	const char *name;
	enum tmode m;
	const char *code;
	struct rv in[7];    /* GPRs not listed start at 0 */
	uint64_t rip;       /* 0 means 0x1000 */
	uint64_t fl;        /* initial RFLAGS (bit 1 is added) */
	struct mset mem[4]; /* initial RAM/MMIO contents */
	uint64_t seg[6];    /* segment bases */
	bool paging;        /* use fake_translate instead of the identity */
	struct emu_hint hint;
	unsigned fail_at;
	const char *pio_in;
	bool no_pio;
	bool la57;
	/* Expected: */
	int rc;
	const char *err;          /* a substring of the error message */
	struct rv out[6];         /* GPRs that change */
	uint64_t fl_out, fl_mask; /* RFLAGS & fl_mask; all other bits must be kept */
	bool rip_kept;            /* RIP stays even though rc is 0 */
	struct acc log[8];        /* every access, in order */
	struct mset mem_out[3];   /* RAM bytes that change (MMIO changes follow from the log) */
	int xl;                   /* translate calls + 1; 0 means not checked */
};

#define R(n, v)                                                                                    \
	{                                                                                          \
		1 + EMU_REG_##n, (uint64_t)(v)                                                     \
	}
#define MR(a, n, v)                                                                                \
	{                                                                                          \
		'R', (a), (n), (v)                                                                 \
	}
#define MW(a, n, v)                                                                                \
	{                                                                                          \
		'W', (a), (n), (v)                                                                 \
	}
#define RR(a, n, v)                                                                                \
	{                                                                                          \
		'r', (a), (n), (v)                                                                 \
	}
#define RW(a, n, v)                                                                                \
	{                                                                                          \
		'w', (a), (n), (v)                                                                 \
	}
#define PI(p, n, v)                                                                                \
	{                                                                                          \
		'I', (p), (n), (v)                                                                 \
	}
#define PO(p, n, v)                                                                                \
	{                                                                                          \
		'O', (p), (n), (v)                                                                 \
	}
#define SEGS(es, cs, ss, ds, fs, gs)                                                               \
	{                                                                                          \
		es, cs, ss, ds, fs, gs                                                             \
	}

static const struct tc cases[] = {
	/* ---- MOV r/m, reg and reg, r/m ---- */
	{ "mov [rdi],eax",
	  L64,
	  "89 07",
	  { R(RAX, 0x1122334455667788), R(RDI, MM) },
	  .log = { MW(MM, 4, 0x55667788) } },
	{ "mov [rdi],rax",
	  L64,
	  "48 89 07",
	  { R(RAX, 0x1122334455667788), R(RDI, MM) },
	  .log = { MW(MM, 8, 0x1122334455667788) } },
	{ "mov [rdi],ax",
	  L64,
	  "66 89 07",
	  { R(RAX, 0x1122334455667788), R(RDI, MM) },
	  .log = { MW(MM, 2, 0x7788) } },
	{ "mov [rdi],al",
	  L64,
	  "88 07",
	  { R(RAX, 0x1122334455667788), R(RDI, MM) },
	  .log = { MW(MM, 1, 0x88) } },
	{ "mov [rdi],ah (no REX)",
	  L64,
	  "88 27",
	  { R(RAX, 0x1122334455667788), R(RDI, MM) },
	  .log = { MW(MM, 1, 0x77) } },
	{ "mov [rdi],spl (REX)",
	  L64,
	  "40 88 27",
	  { R(RAX, 0x1122334455667788), R(RSP, 0x99AA), R(RDI, MM) },
	  .log = { MW(MM, 1, 0xAA) } },
	{ "mov [rdi],r12b",
	  L64,
	  "44 88 27",
	  { R(R12, 0x5A), R(RDI, MM) },
	  .log = { MW(MM, 1, 0x5A) } },
	{ "mov eax,[rdi] zero-extends",
	  L64,
	  "8b 07",
	  { R(RAX, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "11 22 33 44" } },
	  .out = { R(RAX, 0x44332211) },
	  .log = { MR(MM, 4, 0x44332211) } },
	{ "mov ax,[rdi] merges",
	  L64,
	  "66 8b 07",
	  { R(RAX, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "11 22" } },
	  .out = { R(RAX, 0xFFFFFFFFFFFF2211) },
	  .log = { MR(MM, 2, 0x2211) } },
	{ "mov al,[rdi] merges",
	  L64,
	  "8a 07",
	  { R(RAX, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "5c" } },
	  .out = { R(RAX, 0xFFFFFFFFFFFFFF5C) },
	  .log = { MR(MM, 1, 0x5C) } },
	{ "mov bh,[rdi]",
	  L64,
	  "8a 3f",
	  { R(RBX, 0x1234), R(RDI, MM) },
	  .mem = { { MM, "ab" } },
	  .out = { R(RBX, 0xAB34) },
	  .log = { MR(MM, 1, 0xAB) } },
	{ "mov dil,[rdi] (REX)",
	  L64,
	  "40 8a 3f",
	  { R(RDI, MM) },
	  .mem = { { MM, "ab" } },
	  .out = { R(RDI, MM | 0xAB) },
	  .log = { MR(MM, 1, 0xAB) } },
	{ "mov rax,[rdi]",
	  L64,
	  "48 8b 07",
	  { R(RDI, MM) },
	  .mem = { { MM, "01 02 03 04 05 06 07 08" } },
	  .out = { R(RAX, 0x0807060504030201) },
	  .log = { MR(MM, 8, 0x0807060504030201) } },
	{ "mov r8d,[rdi] (REX.R)",
	  L64,
	  "44 8b 07",
	  { R(R8, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "11 22 33 44" } },
	  .out = { R(R8, 0x44332211) },
	  .log = { MR(MM, 4, 0x44332211) } },
	{ "mov eax,[r8] (REX.B)",
	  L64,
	  "41 8b 00",
	  { R(R8, MM + 8) },
	  .mem = { { MM + 8, "11 22 33 44" } },
	  .out = { R(RAX, 0x44332211) },
	  .log = { MR(MM + 8, 4, 0x44332211) } },
	{ "mov r15,[rsp] (SIB)",
	  L64,
	  "4c 8b 3c 24",
	  { R(RSP, MM + 0x10) },
	  .mem = { { MM + 0x10, "ff ee dd cc bb aa 99 88" } },
	  .out = { R(R15, 0x8899AABBCCDDEEFF) },
	  .log = { MR(MM + 0x10, 8, 0x8899AABBCCDDEEFF) } },
	{ "mov eax,[rbx+rcx*4]",
	  L64,
	  "8b 04 8b",
	  { R(RBX, MM), R(RCX, 3) },
	  .mem = { { MM + 12, "78 56 34 12" } },
	  .out = { R(RAX, 0x12345678) },
	  .log = { MR(MM + 12, 4, 0x12345678) } },
	{ "mov eax,[rbx+r12*8] (REX.X)",
	  L64,
	  "42 8b 04 e3",
	  { R(RBX, MM), R(R12, 2) },
	  .mem = { { MM + 16, "78 56 34 12" } },
	  .out = { R(RAX, 0x12345678) },
	  .log = { MR(MM + 16, 4, 0x12345678) } },
	{ "mov eax,[r13+0] (REX.B, mod 1)",
	  L64,
	  "41 8b 45 00",
	  { R(R13, MM) },
	  .mem = { { MM, "01 00 00 00" } },
	  .out = { R(RAX, 1) },
	  .log = { MR(MM, 4, 1) } },
	{ "mov eax,[r12] (REX.B SIB)",
	  L64,
	  "41 8b 04 24",
	  { R(R12, MM) },
	  .mem = { { MM, "02 00 00 00" } },
	  .out = { R(RAX, 2) },
	  .log = { MR(MM, 4, 2) } },
	{ "mov eax,[rdi+0x10]",
	  L64,
	  "8b 47 10",
	  { R(RDI, MM) },
	  .mem = { { MM + 0x10, "07" } },
	  .out = { R(RAX, 7) },
	  .log = { MR(MM + 0x10, 4, 7) } },
	{ "mov eax,[rdi-0x10]",
	  L64,
	  "8b 47 f0",
	  { R(RDI, MM + 0x20) },
	  .mem = { { MM + 0x10, "07" } },
	  .out = { R(RAX, 7) },
	  .log = { MR(MM + 0x10, 4, 7) } },
	{ "mov eax,[rdi+disp32]",
	  L64,
	  "8b 87 00 10 00 00",
	  { R(RDI, MM) },
	  .mem = { { MM + 0x1000, "09" } },
	  .out = { R(RAX, 9) },
	  .log = { MR(MM + 0x1000, 4, 9) } },
	{ "mov eax,[rdi+rdi*2-4]",
	  L64,
	  "8b 44 7f fc",
	  { R(RDI, 0x1000) },
	  .mem = { { 0x2FFC, "0a" } },
	  .out = { R(RAX, 10) },
	  .log = { RR(0x2FFC, 4, 10) } },
	{ "mov eax,[disp32] (SIB, no base)",
	  L64,
	  "8b 04 25 00 20 00 00",
	  {},
	  .mem = { { 0x2000, "0b" } },
	  .out = { R(RAX, 11) },
	  .log = { RR(0x2000, 4, 11) } },
	{ "mov eax,[disp32] with 67 reaches 0xd0000000",
	  L64,
	  "67 8b 04 25 00 00 00 d0",
	  {},
	  .mem = { { MM, "0c" } },
	  .out = { R(RAX, 12) },
	  .log = { MR(MM, 4, 12) } },
	{ "mov eax,[rip+0x100] is relative to the next insn",
	  L64,
	  "8b 05 00 01 00 00",
	  {},
	  .mem = { { 0x1106, "0d" } },
	  .out = { R(RAX, 13) },
	  .log = { RR(0x1106, 4, 13) } },
	{ "mov rax,[rip-0x10]",
	  L64,
	  "48 8b 05 f0 ff ff ff",
	  {},
	  .mem = { { 0x0FF7, "0e" } },
	  .out = { R(RAX, 14) },
	  .log = { RR(0x0FF7, 8, 14) } },
	{ "mov [rip+d],imm32 counts the immediate",
	  L64,
	  "c7 05 00 01 00 00 78 56 34 12",
	  {},
	  .log = { RW(0x110A, 4, 0x12345678) },
	  .mem_out = { { 0x110A, "78 56 34 12" } } },
	{ "mov eax,[eip+d] (67) wraps at 4 GiB",
	  L64,
	  "67 8b 05 00 01 00 00",
	  {},
	  .rip = 0x100000F00,
	  .mem = { { 0x1007, "0f" } },
	  .out = { R(RAX, 15) },
	  .log = { RR(0x1007, 4, 15) } },
	{ "mov [ebx],eax (67) ignores the upper half",
	  L64,
	  "67 89 03",
	  { R(RAX, 5), R(RBX, 0x1234567800002000) },
	  .log = { RW(0x2000, 4, 5) },
	  .mem_out = { { 0x2000, "05 00 00 00" } } },
	{ "REX before 66 is ignored",
	  L64,
	  "48 66 89 07",
	  { R(RAX, 0x1122334455667788), R(RDI, MM) },
	  .log = { MW(MM, 2, 0x7788) } },
	{ "last REX wins",
	  L64,
	  "48 40 89 07",
	  { R(RAX, 0x1122334455667788), R(RDI, MM) },
	  .log = { MW(MM, 4, 0x55667788) } },

	/* ---- MOV r/m, imm ---- */
	{ "mov byte [rdi],imm8", L64, "c6 07 ab", { R(RDI, MM) }, .log = { MW(MM, 1, 0xAB) } },
	{ "mov word [rdi],imm16",
	  L64,
	  "66 c7 07 34 12",
	  { R(RDI, MM) },
	  .log = { MW(MM, 2, 0x1234) } },
	{ "mov dword [rdi],imm32",
	  L64,
	  "c7 07 78 56 34 12",
	  { R(RDI, MM) },
	  .log = { MW(MM, 4, 0x12345678) } },
	{ "mov qword [rdi],imm32 sign-extends",
	  L64,
	  "48 c7 07 00 00 00 80",
	  { R(RDI, MM) },
	  .log = { MW(MM, 8, 0xFFFFFFFF80000000) } },
	{ "mov dword [rdi+4],imm32 (disp8)",
	  L64,
	  "c7 47 04 01 00 00 00",
	  { R(RDI, MM) },
	  .log = { MW(MM + 4, 4, 1) } },

	/* ---- MOV moffs ---- */
	{ "mov eax,[moffs64]",
	  L64,
	  "a1 00 00 00 d0 00 00 00 00",
	  {},
	  .mem = { { MM, "21 43" } },
	  .out = { R(RAX, 0x4321) },
	  .log = { MR(MM, 4, 0x4321) } },
	{ "mov [moffs64],rax",
	  L64,
	  "48 a3 08 00 00 d0 00 00 00 00",
	  { R(RAX, 0x0102030405060708) },
	  .log = { MW(MM + 8, 8, 0x0102030405060708) } },
	{ "mov al,[moffs64]",
	  L64,
	  "a0 00 00 00 d0 00 00 00 00",
	  { R(RAX, 0xFFFF) },
	  .mem = { { MM, "42" } },
	  .out = { R(RAX, 0xFF42) },
	  .log = { MR(MM, 1, 0x42) } },
	{ "mov [moffs64],al",
	  L64,
	  "a2 00 00 00 d0 00 00 00 00",
	  { R(RAX, 0x1234) },
	  .log = { MW(MM, 1, 0x34) } },
	{ "mov eax,[moffs32] (67)",
	  L64,
	  "67 a1 04 00 00 d0",
	  {},
	  .mem = { { MM + 4, "99" } },
	  .out = { R(RAX, 0x99) },
	  .log = { MR(MM + 4, 4, 0x99) } },
	{ "mov ax,[moffs64] (66)",
	  L64,
	  "66 a1 00 00 00 d0 00 00 00 00",
	  { R(RAX, ~0ull) },
	  .mem = { { MM, "34 12" } },
	  .out = { R(RAX, 0xFFFFFFFFFFFF1234) },
	  .log = { MR(MM, 2, 0x1234) } },
	{ "mov [gs:moffs64],eax",
	  L64,
	  "65 a3 10 00 00 00 00 00 00 00",
	  { R(RAX, 7) },
	  .seg = SEGS(0, 0, 0, 0, 0, MM),
	  .log = { MW(MM + 0x10, 4, 7) } },

	/* ---- MOVZX / MOVSX / MOVSXD ---- */
	{ "movzx eax,byte [rdi]",
	  L64,
	  "0f b6 07",
	  { R(RAX, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "80" } },
	  .out = { R(RAX, 0x80) },
	  .log = { MR(MM, 1, 0x80) } },
	{ "movzx eax,word [rdi]",
	  L64,
	  "0f b7 07",
	  { R(RAX, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "00 80" } },
	  .out = { R(RAX, 0x8000) },
	  .log = { MR(MM, 2, 0x8000) } },
	{ "movzx ax,byte [rdi]",
	  L64,
	  "66 0f b6 07",
	  { R(RAX, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "80" } },
	  .out = { R(RAX, 0xFFFFFFFFFFFF0080) },
	  .log = { MR(MM, 1, 0x80) } },
	{ "movsx rax,byte [rdi]",
	  L64,
	  "48 0f be 07",
	  { R(RDI, MM) },
	  .mem = { { MM, "80" } },
	  .out = { R(RAX, 0xFFFFFFFFFFFFFF80) },
	  .log = { MR(MM, 1, 0x80) } },
	{ "movsx eax,word [rdi]",
	  L64,
	  "0f bf 07",
	  { R(RAX, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "fe ff" } },
	  .out = { R(RAX, 0xFFFFFFFE) },
	  .log = { MR(MM, 2, 0xFFFE) } },
	{ "movsx ax,byte [rdi]",
	  L64,
	  "66 0f be 07",
	  { R(RAX, 0x1111111111111111), R(RDI, MM) },
	  .mem = { { MM, "f0" } },
	  .out = { R(RAX, 0x111111111111FFF0) },
	  .log = { MR(MM, 1, 0xF0) } },
	{ "movsx r9,word [rdi]",
	  L64,
	  "4c 0f bf 0f",
	  { R(RDI, MM) },
	  .mem = { { MM, "01 00" } },
	  .out = { R(R9, 1) },
	  .log = { MR(MM, 2, 1) } },
	{ "movsxd rax,dword [rdi]",
	  L64,
	  "48 63 07",
	  { R(RDI, MM) },
	  .mem = { { MM, "00 00 00 80" } },
	  .out = { R(RAX, 0xFFFFFFFF80000000) },
	  .log = { MR(MM, 4, 0x80000000) } },
	{ "movsxd eax,dword [rdi] (no REX.W)",
	  L64,
	  "63 07",
	  { R(RAX, ~0ull), R(RDI, MM) },
	  .mem = { { MM, "00 00 00 80" } },
	  .out = { R(RAX, 0x80000000) },
	  .log = { MR(MM, 4, 0x80000000) } },

	/* ---- Segments ---- */
	{ "mov eax,[fs:rdi]",
	  L64,
	  "64 8b 07",
	  { R(RDI, 0x10) },
	  .seg = SEGS(0, 0, 0, 0, MM, 0),
	  .mem = { { MM + 0x10, "01" } },
	  .out = { R(RAX, 1) },
	  .log = { MR(MM + 0x10, 4, 1) } },
	{ "mov [gs:rdi],eax",
	  L64,
	  "65 89 07",
	  { R(RAX, 2), R(RDI, 0x10) },
	  .seg = SEGS(0, 0, 0, 0, 0, MM),
	  .log = { MW(MM + 0x10, 4, 2) } },
	{ "64-bit mode ignores the CS/DS/ES/SS bases",
	  L64,
	  "2e 89 07",
	  { R(RAX, 3), R(RDI, MM) },
	  .seg = SEGS(0x100, 0x100, 0x100, 0x100, 0, 0),
	  .log = { MW(MM, 4, 3) } },
	{ "64-bit mode: a later DS override does not cancel FS",
	  L64,
	  "64 3e 89 07",
	  { R(RAX, 4), R(RDI, 0x10) },
	  .seg = SEGS(0, 0, 0, 0, MM, 0),
	  .log = { MW(MM + 0x10, 4, 4) } },
	{ "p32: the last segment override wins",
	  P32,
	  "64 3e 89 07",
	  { R(RAX, 4), R(RDI, 0x10) },
	  .seg = SEGS(0, 0, 0, 0x2000, MM, 0),
	  .log = { RW(0x2010, 4, 4) },
	  .mem_out = { { 0x2010, "04 00 00 00" } } },

	/* ---- 32-bit mode ---- */
	{ "p32 mov [edi],eax",
	  P32,
	  "89 07",
	  { R(RAX, 0xAAAAAAAA12345678), R(RDI, MM) },
	  .log = { MW(MM, 4, 0x12345678) } },
	{ "p32 mov eax,[edi] keeps the upper half",
	  P32,
	  "8b 07",
	  { R(RAX, 0xAAAAAAAABBBBBBBB), R(RDI, MM) },
	  .mem = { { MM, "11 22 33 44" } },
	  .out = { R(RAX, 0xAAAAAAAA44332211) },
	  .log = { MR(MM, 4, 0x44332211) } },
	{ "p32 mov ax,[edi] (66)",
	  P32,
	  "66 8b 07",
	  { R(RAX, 0xBBBBBBBB), R(RDI, MM) },
	  .mem = { { MM, "11 22" } },
	  .out = { R(RAX, 0xBBBB2211) },
	  .log = { MR(MM, 2, 0x2211) } },
	{ "p32 [ebp+8] uses SS",
	  P32,
	  "8b 45 08",
	  { R(RBP, 0x1000) },
	  .seg = SEGS(0, 0, 0x1000, 0x4000, 0, 0),
	  .mem = { { 0x2008, "01" } },
	  .out = { R(RAX, 1) },
	  .log = { RR(0x2008, 4, 1) } },
	{ "p32 [esp] uses SS",
	  P32,
	  "8b 04 24",
	  { R(RSP, 0x1000) },
	  .seg = SEGS(0, 0, 0x1000, 0x4000, 0, 0),
	  .mem = { { 0x2000, "02" } },
	  .out = { R(RAX, 2) },
	  .log = { RR(0x2000, 4, 2) } },
	{ "p32 ds:[ebp+8] override",
	  P32,
	  "3e 8b 45 08",
	  { R(RBP, 0x1000) },
	  .seg = SEGS(0, 0, 0x1000, 0x4000, 0, 0),
	  .mem = { { 0x5008, "03" } },
	  .out = { R(RAX, 3) },
	  .log = { RR(0x5008, 4, 3) } },
	{ "p32 es:[edi]",
	  P32,
	  "26 8b 07",
	  { R(RDI, 0x100) },
	  .seg = SEGS(0x3000, 0, 0, 0, 0, 0),
	  .mem = { { 0x3100, "04" } },
	  .out = { R(RAX, 4) },
	  .log = { RR(0x3100, 4, 4) } },
	{ "p32 fs:[edi] base applies",
	  P32,
	  "64 89 07",
	  { R(RAX, 5), R(RDI, 0x10) },
	  .seg = SEGS(0, 0, 0, 0, MM, 0),
	  .log = { MW(MM + 0x10, 4, 5) } },
	{ "p32 [disp32] is absolute",
	  P32,
	  "8b 05 00 20 00 00",
	  {},
	  .mem = { { 0x2000, "06" } },
	  .out = { R(RAX, 6) },
	  .log = { RR(0x2000, 4, 6) } },
	{ "p32 linear address wraps at 4 GiB",
	  P32,
	  "8b 07",
	  { R(RDI, 0x3000) },
	  .seg = SEGS(0, 0, 0, 0xFFFFF000, 0, 0),
	  .mem = { { 0x2000, "07" } },
	  .out = { R(RAX, 7) },
	  .log = { RR(0x2000, 4, 7) } },
	{ "p32 mov eax,[moffs32]",
	  P32,
	  "a1 00 20 00 00",
	  {},
	  .mem = { { 0x2000, "08" } },
	  .out = { R(RAX, 8) },
	  .log = { RR(0x2000, 4, 8) } },
	{ "p32 mov eax,[moffs16] (67)",
	  P32,
	  "67 a1 00 20",
	  {},
	  .mem = { { 0x2000, "09" } },
	  .out = { R(RAX, 9) },
	  .log = { RR(0x2000, 4, 9) } },
	{ "p32 [bx] with 67",
	  P32,
	  "67 8b 07",
	  { R(RBX, 0x12342000) },
	  .mem = { { 0x2000, "0a" } },
	  .out = { R(RAX, 10) },
	  .log = { RR(0x2000, 4, 10) } },
	{ "p32 0x40 is not REX",
	  P32,
	  "40",
	  {},
	  .rc = -ENOTSUP,
	  .err = "cannot emulate 40 at rip 0x1000: unsupported opcode" },

	/* ---- 16-bit modes ---- */
	{ "p16 [bx+si]",
	  P16,
	  "8b 00",
	  { R(RBX, 0x1000), R(RSI, 0x234) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x3234, "34 12" } },
	  .out = { R(RAX, 0x1234) },
	  .log = { RR(0x3234, 2, 0x1234) } },
	{ "p16 [bx+di]",
	  P16,
	  "8b 01",
	  { R(RBX, 0x1000), R(RDI, 0x10) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x3010, "01" } },
	  .out = { R(RAX, 1) },
	  .log = { RR(0x3010, 2, 1) } },
	{ "p16 [bp+si] uses SS",
	  P16,
	  "8b 02",
	  { R(RBP, 0x1000), R(RSI, 0x10) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x5010, "02" } },
	  .out = { R(RAX, 2) },
	  .log = { RR(0x5010, 2, 2) } },
	{ "p16 [bp+di] uses SS",
	  P16,
	  "8b 03",
	  { R(RBP, 0x1000), R(RDI, 0x20) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x5020, "03" } },
	  .out = { R(RAX, 3) },
	  .log = { RR(0x5020, 2, 3) } },
	{ "p16 [si]",
	  P16,
	  "8b 04",
	  { R(RSI, 0x30) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x2030, "04" } },
	  .out = { R(RAX, 4) },
	  .log = { RR(0x2030, 2, 4) } },
	{ "p16 [di]",
	  P16,
	  "8b 05",
	  { R(RDI, 0x40) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x2040, "05" } },
	  .out = { R(RAX, 5) },
	  .log = { RR(0x2040, 2, 5) } },
	{ "p16 [disp16]",
	  P16,
	  "8b 06 34 12",
	  {},
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x3234, "06" } },
	  .out = { R(RAX, 6) },
	  .log = { RR(0x3234, 2, 6) } },
	{ "p16 [bx]",
	  P16,
	  "8b 07",
	  { R(RBX, 0x50) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x2050, "07" } },
	  .out = { R(RAX, 7) },
	  .log = { RR(0x2050, 2, 7) } },
	{ "p16 [bp-2] uses SS",
	  P16,
	  "8b 46 fe",
	  { R(RBP, 0x100) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x40FE, "08" } },
	  .out = { R(RAX, 8) },
	  .log = { RR(0x40FE, 2, 8) } },
	{ "p16 [bx+si-1]",
	  P16,
	  "8b 40 ff",
	  { R(RBX, 0x100), R(RSI, 0x11) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x2110, "09" } },
	  .out = { R(RAX, 9) },
	  .log = { RR(0x2110, 2, 9) } },
	{ "p16 [bx+disp16]",
	  P16,
	  "8b 87 00 01",
	  { R(RBX, 0x20) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x2120, "0a" } },
	  .out = { R(RAX, 10) },
	  .log = { RR(0x2120, 2, 10) } },
	{ "p16 [bx+si] wraps at 64 KiB",
	  P16,
	  "8b 00",
	  { R(RBX, 0xFFFF), R(RSI, 2) },
	  .seg = SEGS(0, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x2001, "0b" } },
	  .out = { R(RAX, 11) },
	  .log = { RR(0x2001, 2, 11) } },
	{ "p16 es:[bp+si] overrides SS",
	  P16,
	  "26 8b 02",
	  { R(RBP, 0x10), R(RSI, 0x10) },
	  .seg = SEGS(0x6000, 0, 0x4000, 0x2000, 0, 0),
	  .mem = { { 0x6020, "0c" } },
	  .out = { R(RAX, 12) },
	  .log = { RR(0x6020, 2, 12) } },
	{ "p16 mov eax,[bx] (66) keeps the upper half",
	  P16,
	  "66 8b 07",
	  { R(RAX, 0xAAAAAAAA00000000), R(RBX, 0x10) },
	  .seg = SEGS(0, 0, 0, 0x2000, 0, 0),
	  .mem = { { 0x2010, "11 22 33 44" } },
	  .out = { R(RAX, 0xAAAAAAAA44332211) },
	  .log = { RR(0x2010, 4, 0x44332211) } },
	{ "p16 mov ax,[edi] (67)",
	  P16,
	  "67 8b 07",
	  { R(RDI, 0x12345) },
	  .rc = -EIO,
	  .err =
	      "cannot emulate 67 8b 07 at rip 0x1000: reading 2 bytes at gpa 0x12345 failed (-5)" },
	{ "p16 mov ax,[ebx+ecx*4] (67 SIB)",
	  P16,
	  "67 8b 04 8b",
	  { R(RBX, 0x2000), R(RCX, 4) },
	  .mem = { { 0x2010, "0d" } },
	  .out = { R(RAX, 13) },
	  .log = { RR(0x2010, 2, 13) } },
	{ "real mode mov ax,[moffs16]",
	  R16,
	  "a1 34 12",
	  {},
	  .seg = SEGS(0, 0, 0, 0x1000, 0, 0),
	  .mem = { { 0x2234, "0e" } },
	  .out = { R(RAX, 14) },
	  .log = { RR(0x2234, 2, 14) } },
	{ "real mode mov [disp16],ah",
	  R16,
	  "88 26 00 01",
	  { R(RAX, 0x5A00) },
	  .seg = SEGS(0, 0, 0, 0x1000, 0, 0),
	  .log = { RW(0x1100, 1, 0x5A) },
	  .mem_out = { { 0x1100, "5a" } } },
	{ "real mode mov word [disp16],imm16",
	  R16,
	  "c7 06 00 01 34 12",
	  {},
	  .seg = SEGS(0, 0, 0, 0x1000, 0, 0),
	  .log = { RW(0x1100, 2, 0x1234) },
	  .mem_out = { { 0x1100, "34 12" } } },
	{ "real mode inc word [disp16]",
	  R16,
	  "ff 06 00 01",
	  {},
	  .seg = SEGS(0, 0, 0, 0x1000, 0, 0),
	  .mem = { { 0x1100, "ff 7f" } },
	  .fl_out = OF | SF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { RR(0x1100, 2, 0x7FFF), RW(0x1100, 2, 0x8000) },
	  .mem_out = { { 0x1100, "00 80" } } },

	/* ---- ALU with a memory operand ---- */
	{ "add [rdi],eax",
	  L64,
	  "01 07",
	  { R(RAX, 1), R(RDI, MM) },
	  .mem = { { MM, "ff ff ff 7f" } },
	  .fl_out = OF | SF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0x7FFFFFFF), MW(MM, 4, 0x80000000) } },
	{ "add eax,[rdi]",
	  L64,
	  "03 07",
	  { R(RAX, 0xAAAAAAAAFFFFFFFF), R(RDI, MM) },
	  .mem = { { MM, "01 00 00 00" } },
	  .out = { R(RAX, 0) },
	  .fl_out = CF | ZF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 1) } },
	{ "add [rdi],al",
	  L64,
	  "00 07",
	  { R(RAX, 1), R(RDI, MM) },
	  .mem = { { MM, "7f" } },
	  .fl_out = OF | SF | AF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 0x7F), MW(MM, 1, 0x80) } },
	{ "add ah,[rdi]",
	  L64,
	  "02 27",
	  { R(RAX, 0x1234), R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl = ARITH,
	  .out = { R(RAX, 0x1334) },
	  .fl_out = 0,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 1) } },
	{ "add spl,[rdi] (REX)",
	  L64,
	  "40 02 27",
	  { R(RSP, 0x100), R(RDI, MM) },
	  .mem = { { MM, "05" } },
	  .out = { R(RSP, 0x105) },
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 5) } },
	{ "add [rdi],r8d",
	  L64,
	  "44 01 07",
	  { R(R8, 2), R(RDI, MM) },
	  .mem = { { MM, "03" } },
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 3), MW(MM, 4, 5) } },
	{ "add [rdi],rax carries out",
	  L64,
	  "48 01 07",
	  { R(RAX, 0x8000000000000000), R(RDI, MM) },
	  .mem = { { MM, "00 00 00 00 00 00 00 80" } },
	  .fl_out = CF | OF | ZF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 8, 0x8000000000000000), MW(MM, 8, 0) } },
	{ "add [rdi],ax",
	  L64,
	  "66 01 07",
	  { R(RAX, 0x12340003), R(RDI, MM) },
	  .mem = { { MM, "fe ff" } },
	  .fl_out = CF | AF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 2, 0xFFFE), MW(MM, 2, 1) } },
	{ "or [rdi],eax",
	  L64,
	  "09 07",
	  { R(RAX, 2), R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl = CF | OF,
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 1), MW(MM, 4, 3) } },
	{ "adc [rdi],eax with CF",
	  L64,
	  "11 07",
	  { R(RAX, 1), R(RDI, MM) },
	  .mem = { { MM, "fe ff ff ff" } },
	  .fl = CF,
	  .fl_out = CF | ZF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0xFFFFFFFE), MW(MM, 4, 0) } },
	{ "sbb [rdi],eax with CF",
	  L64,
	  "19 07",
	  { R(RAX, 5), R(RDI, MM) },
	  .mem = { { MM, "05" } },
	  .fl = CF,
	  .fl_out = CF | SF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 5), MW(MM, 4, 0xFFFFFFFF) } },
	{ "and [rdi],eax",
	  L64,
	  "21 07",
	  { R(RAX, 0x8F0000FF), R(RDI, MM) },
	  .mem = { { MM, "f0 f0 f0 f0" } },
	  .fl_out = SF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0xF0F0F0F0), MW(MM, 4, 0x800000F0) } },
	{ "and [rdi],ah",
	  L64,
	  "20 27",
	  { R(RAX, 0xF000), R(RDI, MM) },
	  .mem = { { MM, "3c" } },
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 0x3C), MW(MM, 1, 0x30) } },
	{ "sub [rdi],eax borrows",
	  L64,
	  "29 07",
	  { R(RAX, 2), R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl_out = CF | SF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 1), MW(MM, 4, 0xFFFFFFFF) } },
	{ "sub eax,[rdi] overflows",
	  L64,
	  "2b 07",
	  { R(RAX, 0x80000000), R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .out = { R(RAX, 0x7FFFFFFF) },
	  .fl_out = OF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 1) } },
	{ "xor [rdi],eax clears CF and OF",
	  L64,
	  "31 07",
	  { R(RAX, 0x12345678), R(RDI, MM) },
	  .mem = { { MM, "78 56 34 12" } },
	  .fl = CF | OF | AF | SF,
	  .fl_out = ZF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0x12345678), MW(MM, 4, 0) } },
	{ "xor rax,[rdi]",
	  L64,
	  "48 33 07",
	  { R(RAX, 0xFF00FF00FF00FF00), R(RDI, MM) },
	  .mem = { { MM, "ff ff ff ff ff ff ff ff" } },
	  .out = { R(RAX, 0x00FF00FF00FF00FF) },
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 8, ~0ull) } },
	{ "cmp [rdi],eax only reads",
	  L64,
	  "39 07",
	  { R(RAX, 7), R(RDI, MM) },
	  .mem = { { MM, "05" } },
	  .fl_out = CF | SF | AF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 5) } },
	{ "cmp eax,[rdi] equal",
	  L64,
	  "3b 07",
	  { R(RAX, 0x1234), R(RDI, MM) },
	  .mem = { { MM, "34 12" } },
	  .fl = CF,
	  .fl_out = ZF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0x1234) } },
	{ "cmp [rdi],al",
	  L64,
	  "38 07",
	  { R(RAX, 1), R(RDI, MM) },
	  .mem = { { MM, "80" } },
	  .fl_out = OF | AF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 0x80) } },
	{ "cmp bl,[rdi]",
	  L64,
	  "3a 1f",
	  { R(RBX, 0x10), R(RDI, MM) },
	  .mem = { { MM, "20" } },
	  .fl_out = CF | SF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 0x20) } },
	{ "add dword [rdi],imm8 -1",
	  L64,
	  "83 07 ff",
	  { R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl_out = CF | ZF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 1), MW(MM, 4, 0) } },
	{ "cmp dword [rdi],0",
	  L64,
	  "83 3f 00",
	  { R(RDI, MM) },
	  .mem = { { MM, "00 00 00 80" } },
	  .fl_out = SF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0x80000000) } },
	{ "or byte [rdi],0x80",
	  L64,
	  "80 0f 80",
	  { R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl_out = SF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 1), MW(MM, 1, 0x81) } },
	{ "and dword [rdi],imm32",
	  L64,
	  "81 27 ff 00 ff 00",
	  { R(RDI, MM) },
	  .mem = { { MM, "78 56 34 12" } },
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0x12345678), MW(MM, 4, 0x00340078) } },
	{ "sub qword [rdi],imm32 sign-extends",
	  L64,
	  "48 81 2f 01 00 00 80",
	  { R(RDI, MM) },
	  .fl_out = CF | AF | PF,
	  .fl_mask = ARITH,
	  .mem = { { MM, "00 00 00 00 00 00 00 00" } },
	  .log = { MR(MM, 8, 0), MW(MM, 8, 0x7FFFFFFF) } },
	{ "add word [rdi],imm16",
	  L64,
	  "66 81 07 34 12",
	  { R(RDI, MM) },
	  .mem = { { MM, "11 11" } },
	  .fl = ARITH,
	  .fl_out = 0,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 2, 0x1111), MW(MM, 2, 0x2345) } },
	{ "adc byte [rdi],imm8",
	  L64,
	  "80 17 0f",
	  { R(RDI, MM) },
	  .mem = { { MM, "f0" } },
	  .fl = CF,
	  .fl_out = CF | ZF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 0xF0), MW(MM, 1, 0) } },
	{ "sbb word [rdi],imm8",
	  L64,
	  "66 83 1f 01",
	  { R(RDI, MM) },
	  .mem = { { MM, "00 80" } },
	  .fl_out = OF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 2, 0x8000), MW(MM, 2, 0x7FFF) } },
	{ "xor byte [rdi],imm8",
	  L64,
	  "80 37 ff",
	  { R(RDI, MM) },
	  .mem = { { MM, "0f" } },
	  .fl_out = SF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 0x0F), MW(MM, 1, 0xF0) } },
	{ "lock add [rdi],eax",
	  L64,
	  "f0 01 07",
	  { R(RAX, 3), R(RDI, MM) },
	  .mem = { { MM, "02" } },
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 2), MW(MM, 4, 5) } },
	{ "lock or qword [rdi+rcx*8],imm8",
	  L64,
	  "f0 48 83 0c cf 01",
	  { R(RCX, 1), R(RDI, MM) },
	  .mem = { { MM + 8, "10" } },
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM + 8, 8, 0x10), MW(MM + 8, 8, 0x11) } },

	/* ---- TEST, NOT, NEG, INC, DEC ---- */
	{ "test [rdi],al",
	  L64,
	  "84 07",
	  { R(RAX, 0x0F), R(RDI, MM) },
	  .mem = { { MM, "f0" } },
	  .fl = CF | OF,
	  .fl_out = ZF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 0xF0) } },
	{ "test [rdi],eax",
	  L64,
	  "85 07",
	  { R(RAX, 0x80000001), R(RDI, MM) },
	  .mem = { { MM, "00 00 00 80" } },
	  .fl_out = SF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0x80000000) } },
	{ "test byte [rdi],imm8",
	  L64,
	  "f6 07 01",
	  { R(RDI, MM) },
	  .mem = { { MM, "03" } },
	  .fl = ZF,
	  .fl_out = 0,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 3) } },
	{ "test dword [rdi],imm32",
	  L64,
	  "f7 07 00 00 00 80",
	  { R(RDI, MM) },
	  .mem = { { MM, "ff ff ff 7f" } },
	  .fl_out = ZF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0x7FFFFFFF) } },
	{ "test qword [rdi],imm32 sign-extends",
	  L64,
	  "48 f7 07 00 00 00 80",
	  { R(RDI, MM) },
	  .mem = { { MM, "00 00 00 00 00 00 00 80" } },
	  .fl_out = SF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 8, 0x8000000000000000) } },
	{ "test word [rdi],imm16",
	  L64,
	  "66 f7 07 00 01",
	  { R(RDI, MM) },
	  .mem = { { MM, "00 01" } },
	  .fl_out = PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 2, 0x100) } },
	{ "not byte [rdi] keeps flags",
	  L64,
	  "f6 17",
	  { R(RDI, MM) },
	  .mem = { { MM, "0f" } },
	  .fl = CF | ZF,
	  .log = { MR(MM, 1, 0x0F), MW(MM, 1, 0xF0) } },
	{ "neg dword [rdi]",
	  L64,
	  "f7 1f",
	  { R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl_out = CF | SF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 1), MW(MM, 4, 0xFFFFFFFF) } },
	{ "neg 0 clears CF",
	  L64,
	  "f7 1f",
	  { R(RDI, MM) },
	  .mem = { { MM, "00" } },
	  .fl = CF,
	  .fl_out = ZF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0), MW(MM, 4, 0) } },
	{ "neg INT_MIN overflows",
	  L64,
	  "f7 1f",
	  { R(RDI, MM) },
	  .mem = { { MM, "00 00 00 80" } },
	  .fl_out = CF | OF | SF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0x80000000), MW(MM, 4, 0x80000000) } },
	{ "inc byte [rdi] keeps CF",
	  L64,
	  "fe 07",
	  { R(RDI, MM) },
	  .mem = { { MM, "ff" } },
	  .fl = CF,
	  .fl_out = CF | ZF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 1, 0xFF), MW(MM, 1, 0) } },
	{ "dec dword [rdi]",
	  L64,
	  "ff 0f",
	  { R(RDI, MM) },
	  .mem = { { MM, "00" } },
	  .fl_out = SF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 4, 0), MW(MM, 4, 0xFFFFFFFF) } },
	{ "inc qword [rdi] overflows",
	  L64,
	  "48 ff 07",
	  { R(RDI, MM) },
	  .mem = { { MM, "ff ff ff ff ff ff ff 7f" } },
	  .fl_out = OF | SF | AF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 8, 0x7FFFFFFFFFFFFFFF), MW(MM, 8, 0x8000000000000000) } },
	{ "lock dec word [rdi]",
	  L64,
	  "f0 66 ff 0f",
	  { R(RDI, MM) },
	  .mem = { { MM, "01 00" } },
	  .fl = CF,
	  .fl_out = CF | ZF | PF,
	  .fl_mask = ARITH,
	  .log = { MR(MM, 2, 1), MW(MM, 2, 0) } },

	/* ---- XCHG ---- */
	{ "xchg [rdi],eax",
	  L64,
	  "87 07",
	  { R(RAX, 0xFFFFFFFF22222222), R(RDI, MM) },
	  .mem = { { MM, "11 11 11 11" } },
	  .out = { R(RAX, 0x11111111) },
	  .log = { MR(MM, 4, 0x11111111), MW(MM, 4, 0x22222222) } },
	{ "xchg [rdi],ah",
	  L64,
	  "86 27",
	  { R(RAX, 0xAB00), R(RDI, MM) },
	  .mem = { { MM, "5c" } },
	  .out = { R(RAX, 0x5C00) },
	  .log = { MR(MM, 1, 0x5C), MW(MM, 1, 0xAB) } },
	{ "xchg [rdi],rax",
	  L64,
	  "48 87 07",
	  { R(RAX, 2), R(RDI, MM) },
	  .mem = { { MM, "01 00 00 00 00 00 00 00" } },
	  .out = { R(RAX, 1) },
	  .log = { MR(MM, 8, 1), MW(MM, 8, 2) } },
	{ "lock xchg [rdi],cx",
	  L64,
	  "f0 66 87 0f",
	  { R(RCX, 0xAAAA0002), R(RDI, MM) },
	  .mem = { { MM, "01 00" } },
	  .out = { R(RCX, 0xAAAA0001) },
	  .log = { MR(MM, 2, 1), MW(MM, 2, 2) } },

	/* ---- BT family ---- */
	{ "bt [rdi],eax",
	  L64,
	  "0f a3 07",
	  { R(RAX, 5), R(RDI, MM) },
	  .mem = { { MM, "20" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM, 4, 0x20) } },
	{ "bt [rdi],eax with offset 37 reads the next dword",
	  L64,
	  "0f a3 07",
	  { R(RAX, 37), R(RDI, MM) },
	  .mem = { { MM + 4, "00" } },
	  .fl = CF,
	  .fl_out = 0,
	  .fl_mask = CF,
	  .log = { MR(MM + 4, 4, 0) } },
	{ "bt [rdi],eax with offset -1 reads the dword before",
	  L64,
	  "0f a3 07",
	  { R(RAX, 0xFFFFFFFF), R(RDI, MM + 0x10) },
	  .mem = { { MM + 0xC, "00 00 00 80" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM + 0xC, 4, 0x80000000) } },
	{ "bt [rdi],rax with offset 67",
	  L64,
	  "48 0f a3 07",
	  { R(RAX, 67), R(RDI, MM) },
	  .mem = { { MM + 8, "08" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM + 8, 8, 8) } },
	{ "bt [rdi],ax with offset -16",
	  L64,
	  "66 0f a3 07",
	  { R(RAX, 0x12340000FFF0), R(RDI, MM + 0x10) },
	  .mem = { { MM + 0xE, "01 00" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM + 0xE, 2, 1) } },
	{ "bts [rdi],eax",
	  L64,
	  "0f ab 07",
	  { R(RAX, 3), R(RDI, MM) },
	  .mem = { { MM, "00" } },
	  .fl = CF,
	  .fl_out = 0,
	  .fl_mask = CF,
	  .log = { MR(MM, 4, 0), MW(MM, 4, 8) } },
	{ "btr [rdi],eax",
	  L64,
	  "0f b3 07",
	  { R(RAX, 0), R(RDI, MM) },
	  .mem = { { MM, "ff" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM, 4, 0xFF), MW(MM, 4, 0xFE) } },
	{ "btc [rdi],eax",
	  L64,
	  "0f bb 07",
	  { R(RAX, 31), R(RDI, MM) },
	  .mem = { { MM, "00 00 00 80" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM, 4, 0x80000000), MW(MM, 4, 0) } },
	{ "lock bts [rdi],rax with offset 64",
	  L64,
	  "f0 48 0f ab 07",
	  { R(RAX, 64), R(RDI, MM) },
	  .mem = { { MM + 8, "00" } },
	  .fl_out = 0,
	  .fl_mask = CF,
	  .log = { MR(MM + 8, 8, 0), MW(MM + 8, 8, 1) } },
	{ "bt dword [rdi],imm8",
	  L64,
	  "0f ba 27 05",
	  { R(RDI, MM) },
	  .mem = { { MM, "20" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM, 4, 0x20) } },
	{ "bts dword [rdi],33 wraps the bit",
	  L64,
	  "0f ba 2f 21",
	  { R(RDI, MM) },
	  .mem = { { MM, "00" } },
	  .fl_out = 0,
	  .fl_mask = CF,
	  .log = { MR(MM, 4, 0), MW(MM, 4, 2) } },
	{ "btr dword [rdi],imm8",
	  L64,
	  "0f ba 37 00",
	  { R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM, 4, 1), MW(MM, 4, 0) } },
	{ "btc qword [rdi],63",
	  L64,
	  "48 0f ba 3f 3f",
	  { R(RDI, MM) },
	  .mem = { { MM, "00" } },
	  .fl_out = 0,
	  .fl_mask = CF,
	  .log = { MR(MM, 8, 0), MW(MM, 8, 0x8000000000000000) } },
	{ "lock bts dword [rdi],imm8",
	  L64,
	  "f0 0f ba 2f 04",
	  { R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl_out = 0,
	  .fl_mask = CF,
	  .log = { MR(MM, 4, 1), MW(MM, 4, 0x11) } },
	{ "lock bt with an immediate",
	  L64,
	  "f0 0f ba 27 04",
	  { R(RDI, MM) },
	  .rc = -EINVAL,
	  .err = "LOCK prefix" },
	{ "bt word [rdi],17",
	  L64,
	  "66 0f ba 27 11",
	  { R(RDI, MM) },
	  .mem = { { MM, "02 00" } },
	  .fl_out = CF,
	  .fl_mask = CF,
	  .log = { MR(MM, 2, 2) } },

	/* ---- String instructions ---- */
	{ "movsb",
	  L64,
	  "a4",
	  { R(RSI, 0x2000), R(RDI, MM) },
	  .mem = { { 0x2000, "5a" } },
	  .out = { R(RSI, 0x2001), R(RDI, MM + 1) },
	  .log = { RR(0x2000, 1, 0x5A), MW(MM, 1, 0x5A) } },
	{ "movsd",
	  L64,
	  "a5",
	  { R(RSI, MM), R(RDI, 0x2000) },
	  .mem = { { MM, "11 22 33 44" } },
	  .out = { R(RSI, MM + 4), R(RDI, 0x2004) },
	  .log = { MR(MM, 4, 0x44332211), RW(0x2000, 4, 0x44332211) },
	  .mem_out = { { 0x2000, "11 22 33 44" } } },
	{ "movsq",
	  L64,
	  "48 a5",
	  { R(RSI, 0x2000), R(RDI, MM) },
	  .mem = { { 0x2000, "01 02 03 04 05 06 07 08" } },
	  .out = { R(RSI, 0x2008), R(RDI, MM + 8) },
	  .log = { RR(0x2000, 8, 0x0807060504030201), MW(MM, 8, 0x0807060504030201) } },
	{ "movsw",
	  L64,
	  "66 a5",
	  { R(RSI, 0x2000), R(RDI, MM) },
	  .mem = { { 0x2000, "01 02" } },
	  .out = { R(RSI, 0x2002), R(RDI, MM + 2) },
	  .log = { RR(0x2000, 2, 0x0201), MW(MM, 2, 0x0201) } },
	{ "rep movsb",
	  L64,
	  "f3 a4",
	  { R(RCX, 3), R(RSI, 0x2000), R(RDI, MM) },
	  .mem = { { 0x2000, "01 02 03" } },
	  .out = { R(RCX, 0), R(RSI, 0x2003), R(RDI, MM + 3) },
	  .log = { RR(0x2000, 1, 1), MW(MM, 1, 1), RR(0x2001, 1, 2), MW(MM + 1, 1, 2),
	           RR(0x2002, 1, 3), MW(MM + 2, 1, 3) } },
	{ "rep movsd backwards (DF)",
	  L64,
	  "f3 a5",
	  { R(RCX, 2), R(RSI, 0x2004), R(RDI, MM + 4) },
	  .fl = DF,
	  .mem = { { 0x2000, "01 00 00 00 02 00 00 00" } },
	  .out = { R(RCX, 0), R(RSI, 0x1FFC), R(RDI, MM - 4) },
	  .log = { RR(0x2004, 4, 2), MW(MM + 4, 4, 2), RR(0x2000, 4, 1), MW(MM, 4, 1) } },
	{ "rep movsb with rcx 0 does nothing",
	  L64,
	  "f3 a4",
	  { R(RSI, 0x2000), R(RDI, MM) },
	  .log = { { 0 } } },
	{ "repne movsb repeats too",
	  L64,
	  "f2 a4",
	  { R(RCX, 1), R(RSI, 0x2000), R(RDI, MM) },
	  .mem = { { 0x2000, "77" } },
	  .out = { R(RCX, 0), R(RSI, 0x2001), R(RDI, MM + 1) },
	  .log = { RR(0x2000, 1, 0x77), MW(MM, 1, 0x77) } },
	{ "rep movsb with 67 uses ecx/esi/edi",
	  L64,
	  "67 f3 a4",
	  { R(RCX, 0xFFFFFFFF00000002), R(RSI, 0xFFFFFFFF00002000), R(RDI, 0x1D0000000) },
	  .mem = { { 0x2000, "01 02" } },
	  .out = { R(RCX, 0), R(RSI, 0x2002), R(RDI, MM + 2) },
	  .log = { RR(0x2000, 1, 1), MW(MM, 1, 1), RR(0x2001, 1, 2), MW(MM + 1, 1, 2) } },
	{ "movsb fs: overrides the source",
	  L64,
	  "64 a4",
	  { R(RSI, 0x1000), R(RDI, MM) },
	  .seg = SEGS(0, 0, 0, 0, 0x1000, 0),
	  .mem = { { 0x2000, "33" } },
	  .out = { R(RSI, 0x1001), R(RDI, MM + 1) },
	  .log = { RR(0x2000, 1, 0x33), MW(MM, 1, 0x33) } },
	{ "p16 rep movsb wraps si and keeps the upper bits",
	  P16,
	  "f3 a4",
	  { R(RCX, 0xAB0002), R(RSI, 0xABCD0000FFFF), R(RDI, 0x10) },
	  .seg = SEGS(0x3000, 0, 0, 0, 0, 0),
	  .mem = { { 0xFFFF, "01" }, { 0x0000, "02" } },
	  .out = { R(RCX, 0xAB0000), R(RSI, 0xABCD00000001), R(RDI, 0x12) },
	  .log = { RR(0xFFFF, 1, 1), RW(0x3010, 1, 1), RR(0, 1, 2), RW(0x3011, 1, 2) },
	  .mem_out = { { 0x3010, "01 02" } } },
	{ "p32 es:stosb",
	  P32,
	  "aa",
	  { R(RAX, 0x44), R(RDI, 0x1000) },
	  .seg = SEGS(0x1000, 0, 0, 0, 0, 0),
	  .out = { R(RDI, 0x1001) },
	  .log = { RW(0x2000, 1, 0x44) },
	  .mem_out = { { 0x2000, "44" } } },
	{ "p32 rep movsd",
	  P32,
	  "f3 a5",
	  { R(RCX, 2), R(RSI, 0x2000), R(RDI, MM) },
	  .mem = { { 0x2000, "01 00 00 00 02 00 00 00" } },
	  .out = { R(RCX, 0), R(RSI, 0x2008), R(RDI, MM + 8) },
	  .log = { RR(0x2000, 4, 1), MW(MM, 4, 1), RR(0x2004, 4, 2), MW(MM + 4, 4, 2) } },
	{ "stosb",
	  L64,
	  "aa",
	  { R(RAX, 0x77), R(RDI, MM) },
	  .out = { R(RDI, MM + 1) },
	  .log = { MW(MM, 1, 0x77) } },
	{ "stosb ignores ES base in 64-bit mode",
	  L64,
	  "26 aa",
	  { R(RAX, 0x77), R(RDI, MM) },
	  .seg = SEGS(0x5000, 0, 0, 0, 0, 0),
	  .out = { R(RDI, MM + 1) },
	  .log = { MW(MM, 1, 0x77) } },
	{ "rep stosd",
	  L64,
	  "f3 ab",
	  { R(RAX, 0xDEADBEEF), R(RCX, 2), R(RDI, MM) },
	  .out = { R(RCX, 0), R(RDI, MM + 8) },
	  .log = { MW(MM, 4, 0xDEADBEEF), MW(MM + 4, 4, 0xDEADBEEF) } },
	{ "rep stosq backwards",
	  L64,
	  "f3 48 ab",
	  { R(RAX, 1), R(RCX, 2), R(RDI, MM + 8) },
	  .fl = DF,
	  .out = { R(RCX, 0), R(RDI, MM - 8) },
	  .log = { MW(MM + 8, 8, 1), MW(MM, 8, 1) } },
	{ "rep stosw",
	  L64,
	  "66 f3 ab",
	  { R(RAX, 0xABCD), R(RCX, 1), R(RDI, MM) },
	  .out = { R(RCX, 0), R(RDI, MM + 2) },
	  .log = { MW(MM, 2, 0xABCD) } },
	{ "real mode rep stosb wraps di",
	  R16,
	  "f3 aa",
	  { R(RAX, 0x11), R(RCX, 2), R(RDI, 0xFFFF) },
	  .out = { R(RCX, 0), R(RDI, 1) },
	  .log = { RW(0xFFFF, 1, 0x11), RW(0, 1, 0x11) },
	  .mem_out = { { 0xFFFF, "11" }, { 0, "11" } } },
	{ "lodsb",
	  L64,
	  "ac",
	  { R(RAX, 0x1111111111111111), R(RSI, MM) },
	  .mem = { { MM, "9a" } },
	  .out = { R(RAX, 0x111111111111119A), R(RSI, MM + 1) },
	  .log = { MR(MM, 1, 0x9A) } },
	{ "lodsd zero-extends",
	  L64,
	  "ad",
	  { R(RAX, ~0ull), R(RSI, MM) },
	  .mem = { { MM, "11 22 33 44" } },
	  .out = { R(RAX, 0x44332211), R(RSI, MM + 4) },
	  .log = { MR(MM, 4, 0x44332211) } },
	{ "rep lodsb",
	  L64,
	  "f3 ac",
	  { R(RCX, 2), R(RSI, MM) },
	  .mem = { { MM, "01 02" } },
	  .out = { R(RAX, 2), R(RCX, 0), R(RSI, MM + 2) },
	  .log = { MR(MM, 1, 1), MR(MM + 1, 1, 2) } },

	/* ---- Port I/O ---- */
	{ "insb",
	  L64,
	  "6c",
	  { R(RDX, 0x3F8), R(RDI, MM) },
	  .pio_in = "41",
	  .out = { R(RDI, MM + 1) },
	  .log = { PI(0x3F8, 1, 0x41), MW(MM, 1, 0x41) } },
	{ "rep insd",
	  L64,
	  "f3 6d",
	  { R(RCX, 2), R(RDX, 0x60), R(RDI, 0x2000) },
	  .pio_in = "01 02 03 04 05 06 07 08",
	  .out = { R(RCX, 0), R(RDI, 0x2008) },
	  .log = { PI(0x60, 4, 0x04030201), RW(0x2000, 4, 0x04030201), PI(0x60, 4, 0x08070605),
	           RW(0x2004, 4, 0x08070605) },
	  .mem_out = { { 0x2000, "01 02 03 04 05 06 07 08" } } },
	{ "insd ignores REX.W",
	  L64,
	  "48 6d",
	  { R(RDX, 0x60), R(RDI, MM) },
	  .pio_in = "01 02 03 04",
	  .out = { R(RDI, MM + 4) },
	  .log = { PI(0x60, 4, 0x04030201), MW(MM, 4, 0x04030201) } },
	{ "outsb",
	  L64,
	  "6e",
	  { R(RDX, 0x3F8), R(RSI, MM) },
	  .mem = { { MM, "55" } },
	  .out = { R(RSI, MM + 1) },
	  .log = { MR(MM, 1, 0x55), PO(0x3F8, 1, 0x55) } },
	{ "rep outsw",
	  L64,
	  "f3 66 6f",
	  { R(RCX, 3), R(RDX, 0x1F0), R(RSI, 0x2000) },
	  .mem = { { 0x2000, "01 00 02 00 03 00" } },
	  .out = { R(RCX, 0), R(RSI, 0x2006) },
	  .log = { RR(0x2000, 2, 1), PO(0x1F0, 2, 1), RR(0x2002, 2, 2), PO(0x1F0, 2, 2),
	           RR(0x2004, 2, 3), PO(0x1F0, 2, 3) } },
	{ "gs: outsd",
	  L64,
	  "65 6f",
	  { R(RDX, 0xCF8), R(RSI, 4) },
	  .seg = SEGS(0, 0, 0, 0, 0, MM),
	  .mem = { { MM + 4, "00 00 00 80" } },
	  .out = { R(RSI, 8) },
	  .log = { MR(MM + 4, 4, 0x80000000), PO(0xCF8, 4, 0x80000000) } },
	{ "in al,imm8",
	  L64,
	  "e4 60",
	  { R(RAX, 0x1234) },
	  .pio_in = "ab",
	  .out = { R(RAX, 0x12AB) },
	  .log = { PI(0x60, 1, 0xAB) } },
	{ "in eax,imm8 zero-extends",
	  L64,
	  "e5 71",
	  { R(RAX, ~0ull) },
	  .pio_in = "01 02 03 04",
	  .out = { R(RAX, 0x04030201) },
	  .log = { PI(0x71, 4, 0x04030201) } },
	{ "in ax,imm8",
	  L64,
	  "66 e5 71",
	  { R(RAX, ~0ull) },
	  .pio_in = "01 02",
	  .out = { R(RAX, 0xFFFFFFFFFFFF0201) },
	  .log = { PI(0x71, 2, 0x0201) } },
	{ "in al,dx",
	  L64,
	  "ec",
	  { R(RDX, 0x3FD) },
	  .pio_in = "60",
	  .out = { R(RAX, 0x60) },
	  .log = { PI(0x3FD, 1, 0x60) } },
	{ "in eax,dx",
	  L64,
	  "ed",
	  { R(RDX, 0xCFC) },
	  .pio_in = "86 80 37 12",
	  .out = { R(RAX, 0x12378086) },
	  .log = { PI(0xCFC, 4, 0x12378086) } },
	{ "out imm8,al", L64, "e6 80", { R(RAX, 0x1234) }, .log = { PO(0x80, 1, 0x34) } },
	{ "out imm8,eax",
	  L64,
	  "e7 80",
	  { R(RAX, 0x11223344) },
	  .log = { PO(0x80, 4, 0x11223344) } },
	{ "out dx,al", L64, "ee", { R(RAX, 0x41), R(RDX, 0x3F8) }, .log = { PO(0x3F8, 1, 0x41) } },
	{ "out dx,ax",
	  L64,
	  "66 ef",
	  { R(RAX, 0x4142), R(RDX, 0x3F8) },
	  .log = { PO(0x3F8, 2, 0x4142) } },
	{ "out dx,eax ignores REX.W",
	  L64,
	  "48 ef",
	  { R(RAX, 0x1122334455667788), R(RDX, 0xCF8) },
	  .log = { PO(0xCF8, 4, 0x55667788) } },
	{ "real mode in ax,dx",
	  R16,
	  "ed",
	  { R(RAX, 0xAAAA0000), R(RDX, 0x1F0) },
	  .pio_in = "34 12",
	  .out = { R(RAX, 0xAAAA1234) },
	  .log = { PI(0x1F0, 2, 0x1234) } },
	{ "real mode in eax,dx (66)",
	  R16,
	  "66 ed",
	  { R(RAX, 0x1100000000), R(RDX, 0x1F0) },
	  .pio_in = "01 02 03 04",
	  .out = { R(RAX, 0x1104030201) },
	  .log = { PI(0x1F0, 4, 0x04030201) } },

	/* ---- Translation, hints and page splits ---- */
	{ "translate a gva",
	  L64,
	  "89 07",
	  { R(RAX, 1), R(RDI, VMIO + 0x10) },
	  .paging = true,
	  .log = { MW(MM + 0x10, 4, 1) },
	  .xl = 1 + 1 },
	{ "hint with gva skips translate",
	  L64,
	  "89 07",
	  { R(RAX, 1), R(RDI, VMIO + 0x10) },
	  .paging = true,
	  .hint = { true, true, MM + 0x1010, VMIO + 0x10 },
	  .log = { MW(MM + 0x1010, 4, 1) },
	  .xl = 0 + 1 },
	{ "hint without gva, page offset matches",
	  L64,
	  "89 07",
	  { R(RAX, 1), R(RDI, VMIO + 0x10) },
	  .paging = true,
	  .hint = { true, false, MM + 0x1010, 0 },
	  .log = { MW(MM + 0x1010, 4, 1) },
	  .xl = 0 + 1 },
	{ "hint without gva, page offset differs",
	  L64,
	  "89 07",
	  { R(RAX, 1), R(RDI, VMIO + 0x10) },
	  .paging = true,
	  .hint = { true, false, MM + 0x1020, 0 },
	  .log = { MW(MM + 0x10, 4, 1) },
	  .xl = 1 + 1 },
	{ "hint for another page",
	  L64,
	  "89 07",
	  { R(RAX, 1), R(RDI, VMIO + 0x10) },
	  .paging = true,
	  .hint = { true, true, MM + 0x1010, VMIO + 0x1010 },
	  .log = { MW(MM + 0x10, 4, 1) },
	  .xl = 1 + 1 },
	{ "movsd hint applies to the destination",
	  L64,
	  "a5",
	  { R(RSI, DMAP + 0x2000), R(RDI, VMIO + 0x20) },
	  .paging = true,
	  .hint = { true, true, MM + 0x20, VMIO + 0x20 },
	  .mem = { { 0x2000, "01 02 03 04" } },
	  .out = { R(RSI, DMAP + 0x2004), R(RDI, VMIO + 0x24) },
	  .log = { RR(0x2000, 4, 0x04030201), MW(MM + 0x20, 4, 0x04030201) },
	  .xl = 1 + 1 },
	{ "movsd ignores a hint without gva",
	  L64,
	  "a5",
	  { R(RSI, DMAP + 0x2000), R(RDI, VMIO + 0x20) },
	  .paging = true,
	  .hint = { true, false, 0x2000, 0 },
	  .mem = { { 0x2000, "01 02 03 04" } },
	  .out = { R(RSI, DMAP + 0x2004), R(RDI, VMIO + 0x24) },
	  .log = { RR(0x2000, 4, 0x04030201), MW(MM + 0x20, 4, 0x04030201) },
	  .xl = 2 + 1 },
	{ "rep movsb translates every iteration",
	  L64,
	  "f3 a4",
	  { R(RCX, 3), R(RSI, DMAP + 0x2000), R(RDI, VMIO) },
	  .paging = true,
	  .hint = { true, true, MM, VMIO },
	  .mem = { { 0x2000, "01 02 03" } },
	  .out = { R(RCX, 0), R(RSI, DMAP + 0x2003), R(RDI, VMIO + 3) },
	  .log = { RR(0x2000, 1, 1), MW(MM, 1, 1), RR(0x2001, 1, 2), MW(MM + 1, 1, 2),
	           RR(0x2002, 1, 3), MW(MM + 2, 1, 3) },
	  .xl = 5 + 1 },
	{ "write split across two MMIO pages",
	  L64,
	  "89 07",
	  { R(RAX, 0x44332211), R(RDI, VMIO + 0xFFE) },
	  .paging = true,
	  .log = { MW(MM + 0xFFE, 2, 0x2211), MW(MM + 0x1000, 2, 0x4433) },
	  .xl = 2 + 1 },
	{ "write split from MMIO into RAM",
	  L64,
	  "89 07",
	  { R(RAX, 0x44332211), R(RDI, VMIO + 0x1FFE) },
	  .paging = true,
	  .log = { MW(MM + 0x1FFE, 2, 0x2211), RW(0x3000, 2, 0x4433) },
	  .mem_out = { { 0x3000, "33 44" } },
	  .xl = 2 + 1 },
	{ "read split across pages",
	  L64,
	  "8b 07",
	  { R(RDI, VMIO + 0xFFF) },
	  .paging = true,
	  .mem = { { MM + 0xFFF, "11 22 33 44" } },
	  .out = { R(RAX, 0x44332211) },
	  .log = { MR(MM + 0xFFF, 1, 0x11), MR(MM + 0x1000, 3, 0x443322) },
	  .xl = 2 + 1 },
	{ "split in physical RAM without paging",
	  L64,
	  "48 89 07",
	  { R(RAX, 0x0807060504030201), R(RDI, 0xFFC) },
	  .log = { RW(0xFFC, 4, 0x04030201), RW(0x1000, 4, 0x08070605) },
	  .mem_out = { { 0xFFC, "01 02 03 04 05 06 07 08" } } },
	{ "hint for the second page of a split",
	  L64,
	  "89 07",
	  { R(RAX, 0x44332211), R(RDI, VMIO + 0x4FFE) },
	  .paging = true,
	  .hint = { true, true, MM + 0x1000, VMIO + 0x5000 },
	  .log = { RW(0x5FFE, 2, 0x2211), MW(MM + 0x1000, 2, 0x4433) },
	  .mem_out = { { 0x5FFE, "11 22" } },
	  .xl = 1 + 1 },
	{ "gpa-only hint for the second page of a split is not misapplied",
	  L64,
	  "89 07",
	  { R(RAX, 0x44332211), R(RDI, VMIO + 0x4FFE) },
	  .paging = true,
	  .hint = { true, false, MM + 0x1000, 0 },
	  .log = { RW(0x5FFE, 2, 0x2211), MW(MM, 2, 0x4433) },
	  .mem_out = { { 0x5FFE, "11 22" } },
	  .xl = 2 + 1 },
	{ "read through a read-only mapping",
	  L64,
	  "8b 07",
	  { R(RDI, VMIO + 0x3000) },
	  .paging = true,
	  .mem = { { 0x4000, "05" } },
	  .out = { R(RAX, 5) },
	  .log = { RR(0x4000, 4, 5) },
	  .xl = 1 + 1 },
	{ "cmp through a read-only mapping",
	  L64,
	  "39 07",
	  { R(RAX, 5), R(RDI, VMIO + 0x3000) },
	  .paging = true,
	  .mem = { { 0x4000, "05" } },
	  .fl_out = ZF | PF,
	  .fl_mask = ARITH,
	  .log = { RR(0x4000, 4, 5) },
	  .xl = 1 + 1 },

	/* ---- Failures: nothing may change ---- */
	{ "write to a read-only mapping",
	  L64,
	  "89 07",
	  { R(RAX, 1), R(RDI, VMIO + 0x3000) },
	  .paging = true,
	  .rc = -EFAULT,
	  .err = "cannot emulate 89 07 at rip 0x1000: translating gva 0xffffc90000003000 for write "
	         "failed (-14)" },
	{ "RMW on a read-only mapping reads nothing",
	  L64,
	  "01 07",
	  { R(RAX, 1), R(RDI, VMIO + 0x3000) },
	  .paging = true,
	  .rc = -EFAULT,
	  .err = "for write failed" },
	{ "split with an unmapped second page accesses nothing",
	  L64,
	  "89 07",
	  { R(RAX, 1), R(RDI, VMIO + 0x5FFE) },
	  .paging = true,
	  .rc = -EFAULT,
	  .err = "translating gva 0xffffc90000006000" },
	{ "rep movsb stops at a fault and keeps its progress",
	  L64,
	  "f3 a4",
	  { R(RCX, 3), R(RSI, DMAP + 0x2000), R(RDI, VMIO + 0x5FFE) },
	  .paging = true,
	  .mem = { { 0x2000, "01 02 03" } },
	  .rc = -EFAULT,
	  .out = { R(RCX, 1), R(RSI, DMAP + 0x2002), R(RDI, VMIO + 0x6000) },
	  .log = { RR(0x2000, 1, 1), MW(MM + 0xFFE, 1, 1), RR(0x2001, 1, 2),
	           MW(MM + 0xFFF, 1, 2) } },
	{ "rep stosb stops at a failed write",
	  L64,
	  "f3 aa",
	  { R(RAX, 9), R(RCX, 5), R(RDI, MM) },
	  .fail_at = 3,
	  .rc = -EIO,
	  .out = { R(RCX, 3), R(RDI, MM + 2) },
	  .log = { MW(MM, 1, 9), MW(MM + 1, 1, 9) } },
	{ "failed RMW write changes no flags",
	  L64,
	  "01 07",
	  { R(RAX, 1), R(RDI, MM) },
	  .mem = { { MM, "01" } },
	  .fl = CF,
	  .fail_at = 2,
	  .rc = -EIO,
	  .log = { MR(MM, 4, 1) },
	  .err =
	      "cannot emulate 01 07 at rip 0x1000: writing 4 bytes at gpa 0xd0000000 failed (-5)" },
	{ "failed read changes no register",
	  L64,
	  "8b 07",
	  { R(RDI, 0x50000000) },
	  .rc = -EIO,
	  .err = "reading 4 bytes at gpa 0x50000000 failed (-5)" },
	{ "failed port read",
	  L64,
	  "ec",
	  { R(RDX, 0x60) },
	  .fail_at = 1,
	  .rc = -EIO,
	  .err = "cannot emulate ec at rip 0x1000: input of 1 bytes at port 0x60 failed (-5)" },
	{ "non-canonical address",
	  L64,
	  "89 07",
	  { R(RDI, 0x0000800000000000) },
	  .rc = -EFAULT,
	  .err = "non-canonical address 0x800000000000" },
	{ "la57 widens canonical addresses",
	  L64,
	  "89 07",
	  { R(RDI, 0x0000800000000000) },
	  .la57 = true,
	  .rc = -EIO,
	  .err = "writing 4 bytes at gpa 0x800000000000 failed" },
	{ "no port callbacks",
	  L64,
	  "6c",
	  { R(RDI, MM) },
	  .no_pio = true,
	  .rc = -ENOTSUP,
	  .err = "no port I/O callback" },
	{ "in without port callbacks",
	  L64,
	  "e4 60",
	  {},
	  .no_pio = true,
	  .rc = -ENOTSUP,
	  .err = "cannot emulate e4 60 at rip 0x1000: no port I/O callback" },

	/* ---- Undecodable or unsupported ---- */
	{ "ud2",
	  L64,
	  "0f 0b",
	  {},
	  .rc = -ENOTSUP,
	  .err = "cannot emulate 0f 0b at rip 0x1000: unsupported opcode" },
	{ "empty", L64, "", {}, .rc = -ENODATA, .err = "cannot emulate (no bytes) at rip 0x1000" },
	{ "opcode without ModRM",
	  L64,
	  "8b",
	  {},
	  .rc = -ENODATA,
	  .err = "cannot emulate 8b at rip 0x1000: instruction bytes end early" },
	{ "ModRM without SIB", L64, "8b 04", {}, .rc = -ENODATA, .err = "cannot emulate 8b 04 at" },
	{ "truncated disp32",
	  L64,
	  "8b 87 00 10",
	  { R(RDI, MM) },
	  .rc = -ENODATA,
	  .err = "cannot emulate 8b 87 00 10 at" },
	{ "truncated disp8",
	  L64,
	  "8b 47",
	  { R(RDI, MM) },
	  .rc = -ENODATA,
	  .err = "cannot emulate 8b 47 at" },
	{ "truncated imm32",
	  L64,
	  "c7 07 11 22",
	  { R(RDI, MM) },
	  .rc = -ENODATA,
	  .err = "cannot emulate c7 07 11 22 at" },
	{ "truncated moffs64",
	  L64,
	  "a1 00 00 00 d0",
	  {},
	  .rc = -ENODATA,
	  .err = "cannot emulate a1 00 00 00 d0 at" },
	{ "truncated imm8 port", L64, "e4", {}, .rc = -ENODATA, .err = "cannot emulate e4 at" },
	{ "prefixes only", L64, "66 48", {}, .rc = -ENODATA, .err = "cannot emulate 66 48 at" },
	{ "lone 0f", L64, "0f", {}, .rc = -ENODATA, .err = "cannot emulate 0f at" },
	{ "longer than 15 bytes",
	  L64,
	  "66 66 66 66 66 66 66 66 66 66 66 66 66 66 89 07",
	  { R(RDI, MM) },
	  .rc = -EINVAL,
	  .err = "instruction longer than 15 bytes" },
	{ "lock mov",
	  L64,
	  "f0 89 07",
	  { R(RDI, MM) },
	  .rc = -EINVAL,
	  .err = "cannot emulate f0 89 07 at rip 0x1000: LOCK prefix not allowed here" },
	{ "lock cmp", L64, "f0 39 07", { R(RDI, MM) }, .rc = -EINVAL, .err = "LOCK prefix" },
	{ "lock add to a register", L64, "f0 01 c0", {}, .rc = -EINVAL, .err = "LOCK prefix" },
	{ "lock add into a register",
	  L64,
	  "f0 03 07",
	  { R(RDI, MM) },
	  .rc = -EINVAL,
	  .err = "LOCK prefix" },
	{ "lock bt", L64, "f0 0f a3 07", { R(RDI, MM) }, .rc = -EINVAL, .err = "LOCK prefix" },
	{ "lock test", L64, "f0 85 07", { R(RDI, MM) }, .rc = -EINVAL, .err = "LOCK prefix" },
	{ "register form has no memory operand",
	  L64,
	  "89 c0",
	  {},
	  .rc = -EINVAL,
	  .err = "cannot emulate 89 c0 at rip 0x1000: no memory operand" },
	{ "call [rdi]",
	  L64,
	  "ff 17",
	  { R(RDI, MM) },
	  .rc = -ENOTSUP,
	  .err = "cannot emulate ff 17 at rip 0x1000: unsupported opcode" },
	{ "div dword [rdi]", L64, "f7 37", { R(RDI, MM) }, .rc = -ENOTSUP, .err = "f7 37" },
	{ "mov [rdi],imm with /1",
	  L64,
	  "c7 0f 00 00 00 00",
	  { R(RDI, MM) },
	  .rc = -ENOTSUP,
	  .err = "c7 0f" },
	{ "0f ba /0 is undefined",
	  L64,
	  "0f ba 07 05",
	  { R(RDI, MM) },
	  .rc = -EINVAL,
	  .err = "cannot emulate 0f ba 07 at rip 0x1000: undefined ModRM.reg for 0f ba" },
	{ "arpl outside 64-bit mode", P32, "63 07", {}, .rc = -ENOTSUP, .err = "63 at" },
	{ "VEX", L64, "c4 e2 79 18 07", {}, .rc = -ENOTSUP, .err = "cannot emulate c4 at" },
	{ "x87", L64, "d9 07", {}, .rc = -ENOTSUP, .err = "d9 at" },
	{ "pause", L64, "f3 90", {}, .rc = -ENOTSUP, .err = "f3 90 at" },
	{ "cmpsb is not supported", L64, "f3 a6", {}, .rc = -ENOTSUP, .err = "f3 a6" },
	{ "mov to a segment register", L64, "8e 1f", {}, .rc = -ENOTSUP, .err = "8e at" },
	{ "rip in the message",
	  L64,
	  "0f 0b",
	  {},
	  .rc = -ENOTSUP,
	  .err = "at rip 0x1000: unsupported opcode" },
};

static struct env *env_new(const struct tc *t)
{
	struct env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	for (unsigned i = 0; i < ARRAY_SIZE(t->mem) && t->mem[i].hex; i++) {
		uint8_t b[16];
		unsigned n = parse_hex(t->mem[i].hex, b, sizeof(b));
		bool mmio;
		uint8_t *p = backing(e, t->mem[i].a, n, &mmio);

		assert_non_null(p);
		memcpy(p, b, n);
	}
	e->fail_at = t->fail_at;
	e->pio_len = parse_hex(t->pio_in, e->pio_in, sizeof(e->pio_in));
	return e;
}

static void set_regs(struct emu_regs *r, const struct rv *list, unsigned n)
{
	for (unsigned i = 0; i < n && list[i].r; i++)
		r->gpr[list[i].r - 1] = list[i].v;
}

static const enum emu_mode modes[] = { [L64] = EMU_MODE_LONG64,
	                               [P32] = EMU_MODE_PROT32,
	                               [P16] = EMU_MODE_PROT16,
	                               [R16] = EMU_MODE_REAL16 };

#define BAD(...)                                                                                   \
	do {                                                                                       \
		print_error(__VA_ARGS__);                                                          \
		print_error("\n");                                                                 \
		bad++;                                                                             \
	} while (0)

/* Returns the number of mismatches, each reported. */
static unsigned run_case(const struct tc *t)
{
	struct env *e = env_new(t);
	struct env *before = malloc(sizeof(*before));
	struct emu_ops ops = {
		.ctx = e,
		.mem_read = fake_read,
		.mem_write = fake_write,
		.translate = t->paging ? fake_translate : NULL,
		.pio_read = t->no_pio ? NULL : fake_pio_read,
		.pio_write = t->no_pio ? NULL : fake_pio_write,
	};
	struct emu_cpu cpu = { .mode = modes[t->m], .la57 = t->la57 };
	struct emu_regs want;
	uint8_t code[32];
	unsigned len = parse_hex(t->code, code, sizeof(code));
	char err[256] = "";
	bool hinted = t->hint.gpa_valid;
	unsigned bad = 0;
	int rc;

	assert_non_null(before);
	memcpy(cpu.seg_base, t->seg, sizeof(cpu.seg_base));
	cpu.regs.rip = t->rip ? t->rip : 0x1000;
	cpu.regs.rflags = 0x2 | t->fl;
	set_regs(&cpu.regs, t->in, ARRAY_SIZE(t->in));
	want = cpu.regs;
	memcpy(before, e, sizeof(*e));

	rc = emu_execute(&cpu, code, len, hinted ? &t->hint : NULL, &ops, err, sizeof(err));

	if (rc != t->rc)
		BAD("%s: rc %d, want %d (%s)", t->name, rc, t->rc, err);
	if (t->err && !strstr(err, t->err))
		BAD("%s: message \"%s\" lacks \"%s\"", t->name, err, t->err);
	if (rc && strncmp(err, "cannot emulate ", 15) != 0)
		BAD("%s: message \"%s\"", t->name, err);
	if (e->bad_access)
		BAD("%s: a callback saw an access wider than 8 bytes or across a page", t->name);

	/* Registers: every one is compared, so stray writes show up too. */
	set_regs(&want, t->out, ARRAY_SIZE(t->out));
	if (rc == 0 && !t->rip_kept)
		want.rip += len;
	want.rflags = (want.rflags & ~t->fl_mask) | (t->fl_out & t->fl_mask);
	for (unsigned i = 0; i < 16; i++)
		if (cpu.regs.gpr[i] != want.gpr[i])
			BAD("%s: gpr %u = %#llx, want %#llx", t->name, i,
			    (unsigned long long)cpu.regs.gpr[i], (unsigned long long)want.gpr[i]);
	if (cpu.regs.rip != want.rip)
		BAD("%s: rip %#llx, want %#llx", t->name, (unsigned long long)cpu.regs.rip,
		    (unsigned long long)want.rip);
	if (cpu.regs.rflags != want.rflags)
		BAD("%s: rflags %#llx, want %#llx", t->name, (unsigned long long)cpu.regs.rflags,
		    (unsigned long long)want.rflags);

	/* The access log, in order. */
	unsigned nwant = 0;

	while (nwant < ARRAY_SIZE(t->log) && t->log[nwant].k)
		nwant++;
	if (e->nlog != nwant)
		BAD("%s: %u accesses, want %u", t->name, e->nlog, nwant);
	for (unsigned i = 0; i < nwant; i++) {
		const struct acc *g = &e->log[i], *w = &t->log[i];

		if (g->k != w->k || g->a != w->a || g->n != w->n || g->v != w->v)
			BAD("%s: access %u is %c %#llx/%u = %#llx, want %c %#llx/%u = %#llx",
			    t->name, i, g->k, (unsigned long long)g->a, g->n,
			    (unsigned long long)g->v, w->k, (unsigned long long)w->a, w->n,
			    (unsigned long long)w->v);
	}
	if (t->xl && e->ntrans != (unsigned)(t->xl - 1))
		BAD("%s: %u translations, want %d", t->name, e->ntrans, t->xl - 1);

	/* Memory: RAM changes only where mem_out says, MMIO only where the log wrote. */
	for (unsigned i = 0; i < ARRAY_SIZE(t->mem_out) && t->mem_out[i].hex; i++) {
		uint8_t b[16];
		unsigned n = parse_hex(t->mem_out[i].hex, b, sizeof(b));

		assert_true(t->mem_out[i].a + n <= RAM_SIZE);
		memcpy(before->ram + t->mem_out[i].a, b, n);
	}
	for (unsigned i = 0; i < nwant; i++) {
		const struct acc *w = &t->log[i];

		if (w->k == 'W')
			for (unsigned j = 0; j < w->n; j++)
				before->mmio[w->a - MM + j] = (uint8_t)(w->v >> (8 * j));
	}
	if (memcmp(before->ram, e->ram, RAM_SIZE) != 0)
		BAD("%s: RAM differs from what was expected", t->name);
	if (memcmp(before->mmio, e->mmio, MMIO_SIZE) != 0)
		BAD("%s: MMIO backing differs from what was expected", t->name);
	free(before);
	free(e);
	return bad;
}

static void test_table(void **state)
{
	unsigned bad = 0;

	(void)state;
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++)
		bad += run_case(&cases[i]);
	assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------------------------------ */
/* Other tests                                                                                  */
/* ------------------------------------------------------------------------------------------ */

static void test_decode_fields(void **state)
{
	static const uint8_t a[] = { 0x65, 0x67, 0x4C, 0x8B, 0x84, 0x88, 0x78, 0x56, 0x34, 0x12 };
	static const uint8_t b[] = { 0x66, 0xF3, 0xA5 };
	static const uint8_t c[] = { 0x48, 0xC7, 0x05, 0x10, 0x00, 0x00,
		                     0x00, 0xFF, 0xFF, 0xFF, 0xFF };
	struct emu_insn in;

	(void)state;
	/* mov r8, gs:[eax+ecx*4+0x12345678] */
	assert_int_equal(emu_decode(a, sizeof(a), EMU_MODE_LONG64, &in), 0);
	assert_int_equal(in.len, sizeof(a));
	assert_int_equal(in.op, EMU_OP_MOV);
	assert_int_equal(in.opcode, 0x8B);
	assert_int_equal(in.op_size, 8);
	assert_int_equal(in.addr_size, 4);
	assert_int_equal(in.rex, 0x4C);
	assert_int_equal(in.seg, EMU_SEG_GS);
	assert_int_equal(in.reg, EMU_REG_R8);
	assert_true(in.mem && in.has_sib);
	assert_int_equal(in.base, EMU_REG_RAX);
	assert_int_equal(in.index, EMU_REG_RCX);
	assert_int_equal(in.scale, 4);
	assert_int_equal(in.disp_size, 4);
	assert_int_equal(in.disp, 0x12345678);

	/* rep movsw */
	assert_int_equal(emu_decode(b, sizeof(b), EMU_MODE_LONG64, &in), 0);
	assert_int_equal(in.op, EMU_OP_MOVS);
	assert_int_equal(in.op_size, 2);
	assert_int_equal(in.rep, 0xF3);
	assert_int_equal(in.len, 3);

	/* mov qword [rip+0x10], -1 */
	assert_int_equal(emu_decode(c, sizeof(c), EMU_MODE_LONG64, &in), 0);
	assert_int_equal(in.len, sizeof(c));
	assert_int_equal(in.base, EMU_REG_RIP);
	assert_int_equal(in.imm_size, 4);
	assert_int_equal(in.imm, ~0ull);
	assert_int_equal(in.op_size, 8);

	/* Extra bytes after the instruction are not part of it. */
	assert_int_equal(emu_decode(b, sizeof(b), EMU_MODE_PROT16, &in), 0);
	assert_int_equal(in.op_size, 4);
	assert_int_equal(in.addr_size, 2);

	assert_int_equal(emu_decode(b, 2, EMU_MODE_LONG64, &in), -ENODATA);
	assert_non_null(in.why);
	assert_int_equal(emu_decode(NULL, 0, EMU_MODE_LONG64, &in), -EINVAL);
	assert_int_equal(emu_decode(b, sizeof(b), (enum emu_mode)7, &in), -EINVAL);
	assert_int_equal(emu_decode(b, sizeof(b), EMU_MODE_LONG64, NULL), -EINVAL);
}

static void test_alu_flags(void **state)
{
	uint64_t f;

	(void)state;
	/* Bits outside the arithmetic flags pass through untouched. */
	assert_int_equal(emu_alu(EMU_ALU_ADD, 1, 0xFF, 1, DF | 0x202, &f), 0);
	assert_int_equal(f, DF | 0x202 | CF | ZF | AF | PF);
	assert_int_equal(emu_alu(EMU_ALU_SUB, 2, 0, 1, 0, &f), 0xFFFF);
	assert_int_equal(f, CF | SF | AF | PF);
	assert_int_equal(emu_alu(EMU_ALU_NOT, 4, 0, 0, CF, &f), 0xFFFFFFFF);
	assert_int_equal(f, CF);
	assert_int_equal(emu_alu(EMU_ALU_ADD, 3, 5, 5, CF, &f), 5);
	assert_int_equal(f, CF);
}

/* A REP with a huge count stops after EMU_REP_MAX_ITERATIONS and leaves RIP for the rest. */
static void test_rep_limit(void **state)
{
	static const uint8_t stosb[] = { 0xF3, 0xAA };
	static const struct tc none = { 0 };
	struct env *e = env_new(&none);
	struct emu_ops ops = { .ctx = e, .mem_read = fake_read, .mem_write = fake_write };
	struct emu_cpu cpu = { .mode = EMU_MODE_LONG64 };

	(void)state;
	cpu.regs.rip = 0x1000;
	cpu.regs.rflags = 2;
	cpu.regs.gpr[EMU_REG_RAX] = 0xEE;
	cpu.regs.gpr[EMU_REG_RCX] = EMU_REP_MAX_ITERATIONS + 100;
	cpu.regs.gpr[EMU_REG_RDI] = 0x100;
	assert_int_equal(emu_execute(&cpu, stosb, sizeof(stosb), NULL, &ops, NULL, 0), 0);
	assert_int_equal(cpu.regs.rip, 0x1000);
	assert_int_equal(cpu.regs.gpr[EMU_REG_RCX], 100);
	assert_int_equal(cpu.regs.gpr[EMU_REG_RDI], 0x100 + EMU_REP_MAX_ITERATIONS);
	assert_int_equal(emu_execute(&cpu, stosb, sizeof(stosb), NULL, &ops, NULL, 0), 0);
	assert_int_equal(cpu.regs.rip, 0x1002);
	assert_int_equal(cpu.regs.gpr[EMU_REG_RCX], 0);
	assert_int_equal(cpu.regs.gpr[EMU_REG_RDI], 0x100 + EMU_REP_MAX_ITERATIONS + 100);
	for (unsigned i = 0x100; i < 0x100 + EMU_REP_MAX_ITERATIONS + 100; i++)
		assert_int_equal(e->ram[i], 0xEE);
	assert_int_equal(e->nlog, EMU_REP_MAX_ITERATIONS + 100);
	free(e);
}

static void test_bad_arguments(void **state)
{
	static const uint8_t mov[] = { 0x89, 0x07 };
	struct emu_ops ops = { 0 };
	struct emu_cpu cpu = { .mode = EMU_MODE_LONG64 };
	char err[16];

	(void)state;
	assert_int_equal(emu_execute(NULL, mov, 2, NULL, &ops, NULL, 0), -EINVAL);
	assert_int_equal(emu_execute(&cpu, mov, 2, NULL, NULL, NULL, 0), -EINVAL);
	/* No mem_write callback: an error, not a crash; a short buffer truncates the message. */
	assert_int_equal(emu_execute(&cpu, mov, 2, NULL, &ops, err, sizeof(err)), -ENOTSUP);
	assert_int_equal(strlen(err), sizeof(err) - 1);
	assert_int_equal(cpu.regs.rip, 0);
	cpu.mode = (enum emu_mode)9;
	assert_int_equal(emu_execute(&cpu, mov, 2, NULL, &ops, NULL, 0), -EINVAL);
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/*
 * Arbitrary bytes and registers must never crash, and a failed non-string instruction
 * must leave the registers alone.  A short preview of the fuzzing to come.
 */
static void test_random_bytes(void **state)
{
	static const struct tc none = { 0 };
	static const uint8_t interesting[] = { 0x66, 0x67, 0xF0, 0xF3, 0x48, 0x0F, 0x8B,
		                               0x89, 0xA5, 0xF7, 0x64, 0x81, 0xBA, 0x04 };
	uint64_t seed = 0x9E3779B97F4A7C15ull;
	struct env *e = env_new(&none);

	(void)state;
	for (unsigned iter = 0; iter < 200000; iter++) {
		struct emu_ops ops = { .ctx = e,
			               .mem_read = fake_read,
			               .mem_write = fake_write,
			               .translate = (iter & 1) ? fake_translate : NULL,
			               .pio_read = fake_pio_read,
			               .pio_write = fake_pio_write };
		struct emu_cpu cpu = { .mode = (enum emu_mode)(iter % 4) };
		struct emu_hint hint = { .gpa_valid = (iter & 4) != 0,
			                 .gva_valid = (iter & 8) != 0 };
		struct emu_regs old;
		uint8_t code[16];
		char err[128];
		unsigned len = (unsigned)(xorshift(&seed) % 17);
		struct emu_insn in;
		int rc;

		for (unsigned i = 0; i < sizeof(code); i++) {
			uint64_t r = xorshift(&seed);

			code[i] = (r & 3) ? (uint8_t)(r >> 8)
			                  : interesting[(r >> 8) % sizeof(interesting)];
		}
		for (unsigned i = 0; i < 16; i++) {
			uint64_t r = xorshift(&seed);

			/* Mostly small values, so that some accesses land in RAM or MMIO. */
			cpu.regs.gpr[i] = (r & 1) ? r : (r >> 1) % 0x3000;
		}
		cpu.regs.gpr[EMU_REG_RCX] %= 64;
		cpu.regs.rflags = 2 | (xorshift(&seed) & 0xCD5);
		cpu.regs.rip = xorshift(&seed);
		for (unsigned i = 0; i < 6; i++)
			cpu.seg_base[i] = (xorshift(&seed) & 1) ? MM : 0;
		hint.gpa = xorshift(&seed);
		hint.gva = xorshift(&seed);
		old = cpu.regs;
		e->nlog = 0;
		e->bad_access = false;
		rc = emu_execute(&cpu, code, len, &hint, &ops, err, sizeof(err));
		assert_false(e->bad_access);
		assert_true(rc <= 0);
		if (rc == 0)
			continue;
		assert_true(strncmp(err, "cannot emulate ", 15) == 0);
		assert_int_equal(cpu.regs.rip, old.rip);
		assert_int_equal(cpu.regs.rflags, old.rflags);
		if (emu_decode(code, len, cpu.mode, &in) == 0 &&
		    (in.op == EMU_OP_MOVS || in.op == EMU_OP_STOS || in.op == EMU_OP_LODS ||
		     in.op == EMU_OP_INS || in.op == EMU_OP_OUTS))
			continue;
		assert_memory_equal(cpu.regs.gpr, old.gpr, sizeof(old.gpr));
	}
	free(e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),         cmocka_unit_test(test_decode_fields),
		cmocka_unit_test(test_alu_flags),     cmocka_unit_test(test_rep_limit),
		cmocka_unit_test(test_bad_arguments), cmocka_unit_test(test_random_bytes),
	};

	printf("emu: %zu table cases\n", ARRAY_SIZE(cases));
	return cmocka_run_group_tests(tests, NULL, NULL);
}
