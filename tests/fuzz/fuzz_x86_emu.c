/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target x86_emu: emu_execute() on arbitrary instruction bytes, registers, segment bases,
 * mode and intercept hint, against a fake guest of 64 KiB of RAM with MMIO everywhere else,
 * an optional page translation and port I/O, any callback of which can be made to fail.
 * emu_decode() runs on the same bytes as a cross-check.
 *
 * Input: config (u8), flags (u8), the number of the callback that fails (u8, 0: none), its
 * return code (u8), instruction length (u8) and bytes, then as many of these u64 as there are
 * bytes left: 16 GPRs, RIP, RFLAGS, 6 segment bases, hint GPA, hint GVA, translation key.
 *
 * Checked: every callback stays within its contract (1-8 bytes inside one page, ports of 1,
 * 2 or 4 bytes, a bounded number of calls), the result agrees with emu_decode(), a failure
 * leaves RIP, RFLAGS and the registers as they were (REP progress excepted, see emu.h), a
 * success moves RIP to the next instruction (or leaves it for an unfinished REP), and a
 * failure's message is always terminated.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "emu/emu.h"
#include "tests/fuzz/fuzz.h"

#define RAM_SIZE 0x10000u
/* Per REP iteration at most 2 accesses of 2 pieces plus their translations; then slack. */
#define MAX_CALLS (8u * EMU_REP_MAX_ITERATIONS + 64)

struct guest {
	uint8_t ram[RAM_SIZE];
	unsigned calls, fail_at;
	int fail_rc;
	uint64_t key; /* translation: gpa = gva ^ key, key a multiple of the page size */
};

/* Count a callback; true if this one is the one that must fail. */
static bool fails(struct guest *g)
{
	g->calls++;
	FUZZ_CHECK(g->calls <= MAX_CALLS);
	return g->calls == g->fail_at;
}

static void check_mem(uint64_t gpa, unsigned len)
{
	FUZZ_CHECK(len >= 1 && len <= 8);
	FUZZ_CHECK((gpa & 0xfff) + len <= 0x1000);
}

static int mem_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	struct guest *g = ctx;
	uint8_t *b = buf;

	check_mem(gpa, len);
	if (fails(g))
		return g->fail_rc;
	for (unsigned i = 0; i < len; i++)
		b[i] = gpa + i < RAM_SIZE ? g->ram[gpa + i] : (uint8_t)((gpa + i) * 0x9d);
	return 0;
}

static int mem_write(void *ctx, uint64_t gpa, const void *buf, unsigned len)
{
	struct guest *g = ctx;

	check_mem(gpa, len);
	if (fails(g))
		return g->fail_rc;
	if (gpa < RAM_SIZE)
		memcpy(g->ram + gpa, buf, len); /* one page: never past RAM's end */
	return 0;
}

static int translate(void *ctx, uint64_t gva, bool write, uint64_t *gpa)
{
	struct guest *g = ctx;

	(void)write;
	if (fails(g))
		return g->fail_rc;
	*gpa = gva ^ g->key;
	return 0;
}

static int pio_read(void *ctx, uint16_t port, void *buf, unsigned len)
{
	struct guest *g = ctx;

	FUZZ_CHECK(len == 1 || len == 2 || len == 4);
	if (fails(g))
		return g->fail_rc;
	memset(buf, port & 0xff, len);
	return 0;
}

static int pio_write(void *ctx, uint16_t port, const void *buf, unsigned len)
{
	struct guest *g = ctx;

	(void)port;
	(void)buf;
	FUZZ_CHECK(len == 1 || len == 2 || len == 4);
	return fails(g) ? g->fail_rc : 0;
}

static bool is_string(enum emu_op op)
{
	return op == EMU_OP_MOVS || op == EMU_OP_STOS || op == EMU_OP_LODS || op == EMU_OP_INS ||
	       op == EMU_OP_OUTS;
}

static uint64_t wrap_ip(enum emu_mode mode, uint64_t ip)
{
	return mode == EMU_MODE_LONG64 ? ip : mode == EMU_MODE_PROT32 ? (uint32_t)ip : (uint16_t)ip;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int codes[] = { -EIO, -EFAULT, -EAGAIN, 1, INT_MAX, INT_MIN, -ENOTSUP, 0 };
	static const size_t errlens[] = { 0, 1, 24, 256 };
	static struct guest g; /* 64 KiB: not on the stack */
	static uint8_t pattern[RAM_SIZE];
	static bool pattern_ready;
	struct fuzz_in in = { data, size };
	uint8_t cfg = fuzz_u8(&in), flags = fuzz_u8(&in);
	struct emu_ops ops = { .ctx = &g, .mem_read = mem_read, .mem_write = mem_write };
	struct emu_cpu cpu = { 0 };
	struct emu_regs before;
	struct emu_hint hint = { 0 };
	struct emu_insn d;
	const uint8_t *insn;
	size_t len, errlen = errlens[flags & 3];
	char err[256];
	int rc, drc;

	/* Same RAM every run, so an input replays exactly. */
	if (!pattern_ready) {
		for (unsigned i = 0; i < RAM_SIZE; i++)
			pattern[i] = (uint8_t)(i * 7 + (i >> 8));
		pattern_ready = true;
	}
	memcpy(g.ram, pattern, RAM_SIZE);
	g.calls = 0;
	g.fail_at = fuzz_u8(&in);
	g.fail_rc = codes[fuzz_u8(&in) & 7];
	insn = fuzz_bytes(&in, fuzz_u8(&in) % 32, &len);
	/* Modes past LONG64 are invalid and must be refused, not misread. */
	cpu.mode = (enum emu_mode)((cfg & 3) + (flags & 0x80 ? 4 : 0));
	cpu.la57 = cfg & 4;
	if (cfg & 8)
		ops.translate = translate;
	if (cfg & 0x10) {
		ops.pio_read = pio_read;
		ops.pio_write = pio_write;
	}
	for (unsigned i = 0; i < 16; i++)
		cpu.regs.gpr[i] = fuzz_u64(&in);
	cpu.regs.rip = fuzz_u64(&in);
	cpu.regs.rflags = fuzz_u64(&in);
	for (unsigned i = 0; i < 6; i++)
		cpu.seg_base[i] = fuzz_u64(&in);
	hint.gpa_valid = cfg & 0x20;
	hint.gva_valid = cfg & 0x40;
	hint.gpa = fuzz_u64(&in);
	hint.gva = fuzz_u64(&in);
	/* A translation keeps the offset within the page: only frame bits change. */
	g.key = fuzz_u64(&in) & ~0xfffull;
	before = cpu.regs;
	memset(err, 0x55, sizeof(err));

	rc = emu_execute(&cpu, insn, (unsigned)len, cfg & 0x80 ? &hint : NULL, &ops,
	                 flags & 4 ? NULL : err, errlen);
	drc = emu_decode(insn, (unsigned)len, cpu.mode, &d);

	FUZZ_CHECK(rc <= 0);
	FUZZ_CHECK(drc == 0 || rc == drc);
	FUZZ_CHECK(drc != 0 || (d.len >= 1 && d.len <= EMU_MAX_INSN_LEN && d.len <= len));
	if (rc) {
		bool string = drc == 0 && is_string(d.op);

		FUZZ_CHECK(cpu.regs.rip == before.rip && cpu.regs.rflags == before.rflags);
		for (unsigned i = 0; i < 16; i++) {
			if (string && (i == EMU_REG_RAX || i == EMU_REG_RCX || i == EMU_REG_RSI ||
			               i == EMU_REG_RDI))
				continue;
			FUZZ_CHECK(cpu.regs.gpr[i] == before.gpr[i]);
		}
		if (!(flags & 4) && errlen)
			FUZZ_CHECK(fuzz_terminated(err, errlen));
		if (!(flags & 4) && errlen >= 24)
			FUZZ_CHECK(!strncmp(err, "cannot emulate ", 15));
		return 0;
	}
	FUZZ_CHECK(cpu.regs.rip == wrap_ip(cpu.mode, before.rip + d.len) ||
	           (is_string(d.op) && d.rep && cpu.regs.rip == before.rip));
	return 0;
}
