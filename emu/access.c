/* SPDX-License-Identifier: MIT */
/*
 * Registers, operand addresses and guest accesses: segment offset to linear address, linear
 * to guest-physical through the hint or the translate callback, split at 4 KiB pages, and
 * the callbacks that perform the accesses.
 */
#include "internal.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>

/* Callbacks may return anything; only 0 and negative errnos have a meaning here. */
static int cb_result(int rc)
{
	return rc > 0 ? -EIO : rc;
}

void emu_set_why(struct emu_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

/* Without REX, byte registers 4-7 name AH, CH, DH, BH: bits 8-15 of registers 0-3. */
static bool is_high_byte(const struct emu_ctx *c, unsigned reg, unsigned size)
{
	return size == 1 && !c->in->rex && reg >= 4 && reg < 8;
}

uint64_t emu_reg_read(const struct emu_ctx *c, unsigned reg, unsigned size)
{
	if (is_high_byte(c, reg, size))
		return (c->r.gpr[reg - 4] >> 8) & 0xFF;
	return c->r.gpr[reg & 15] & emu_mask(size);
}

/* 32-bit writes zero-extend in 64-bit mode; 8- and 16-bit writes merge into the register. */
void emu_reg_write(struct emu_ctx *c, unsigned reg, unsigned size, uint64_t v)
{
	uint64_t *g, m = emu_mask(size);

	if (is_high_byte(c, reg, size)) {
		g = &c->r.gpr[reg - 4];
		*g = (*g & ~0xFF00ull) | ((v & 0xFF) << 8);
		return;
	}
	g = &c->r.gpr[reg & 15];
	if (size == 8 || (size == 4 && emu_long_mode(c)))
		*g = v & m;
	else
		*g = (*g & ~m) | (v & m);
}

uint64_t emu_next_rip(const struct emu_ctx *c)
{
	uint64_t n = c->r.rip + c->in->len;

	switch (c->cpu->mode) {
	case EMU_MODE_LONG64:
		return n;
	case EMU_MODE_PROT32:
		return n & 0xFFFFFFFFull;
	default:
		return n & 0xFFFFull;
	}
}

/* Offset of the ModRM/moffs operand within its segment. */
static uint64_t ea_offset(const struct emu_ctx *c)
{
	const struct emu_insn *in = c->in;
	uint64_t a = in->disp;

	if (in->base == EMU_REG_RIP)
		a += emu_next_rip(c);
	else if (in->base >= 0)
		a += c->r.gpr[in->base & 15];
	if (in->index >= 0)
		a += c->r.gpr[in->index & 15] * in->scale;
	return a & emu_mask(in->addr_size);
}

static bool canonical(const struct emu_ctx *c, uint64_t a)
{
	unsigned bits = c->cpu->la57 ? 57 : 48;

	return (uint64_t)((int64_t)(a << (64 - bits)) >> (64 - bits)) == a;
}

int emu_linear(struct emu_ctx *c, unsigned seg, uint64_t off, unsigned size, uint64_t *la)
{
	uint64_t base = 0, a;

	/* 64-bit mode ignores the bases of ES, CS, SS and DS. */
	if (!emu_long_mode(c) || seg == EMU_SEG_FS || seg == EMU_SEG_GS)
		base = c->cpu->seg_base[seg % 6];
	a = base + off;
	if (!emu_long_mode(c)) {
		*la = a & 0xFFFFFFFFull;
		return 0;
	}
	if (!canonical(c, a) || !canonical(c, a + size - 1)) {
		emu_set_why(c, "non-canonical address 0x%" PRIx64, a);
		return -EFAULT;
	}
	*la = a;
	return 0;
}

static bool hint_matches(struct emu_ctx *c, uint64_t gva)
{
	bool first = !c->translated_any;

	c->translated_any = true;
	if (!c->hint_usable)
		return false;
	if (c->hint.gva_valid)
		return (gva >> 12) == (c->hint.gva >> 12);
	/* Without the GVA only the very first piece can be matched, by its page offset. */
	c->hint_usable = false;
	return first && (gva & 0xFFF) == (c->hint.gpa & 0xFFF);
}

static int translate(struct emu_ctx *c, uint64_t gva, bool write, uint64_t *gpa)
{
	int rc;

	if (hint_matches(c, gva)) {
		c->hint_usable = false;
		*gpa = (c->hint.gpa & ~(EMU_PAGE_SIZE - 1)) | (gva & (EMU_PAGE_SIZE - 1));
		return 0;
	}
	if (!c->ops->translate) {
		*gpa = gva;
		return 0;
	}
	rc = cb_result(c->ops->translate(c->ops->ctx, gva, write, gpa));
	if (rc)
		emu_set_why(c, "translating gva 0x%" PRIx64 " for %s failed (%d)", gva,
		            write ? "write" : "read", rc);
	return rc;
}

int emu_map(struct emu_ctx *c, uint64_t la, unsigned size, bool write, struct emu_span *sp)
{
	/* Outside 64-bit mode linear addresses wrap at 4 GiB. */
	uint64_t lmask = emu_long_mode(c) ? ~0ull : 0xFFFFFFFFull;
	unsigned left = size;
	int rc;

	sp->n = 0;
	sp->size = size;
	while (left && sp->n < 2) {
		unsigned chunk = (unsigned)(EMU_PAGE_SIZE - (la & (EMU_PAGE_SIZE - 1)));

		if (chunk > left)
			chunk = left;
		rc = translate(c, la, write, &sp->gpa[sp->n]);
		if (rc)
			return rc;
		sp->len[sp->n++] = chunk;
		la = (la + chunk) & lmask;
		left -= chunk;
	}
	return 0;
}

int emu_span_read(struct emu_ctx *c, const struct emu_span *sp, uint64_t *val)
{
	uint8_t buf[8] = { 0 };
	unsigned off = 0;
	uint64_t v = 0;
	int rc;

	if (!c->ops->mem_read) {
		emu_set_why(c, "no mem_read callback");
		return -ENOTSUP;
	}
	for (unsigned i = 0; i < sp->n; i++) {
		rc = cb_result(c->ops->mem_read(c->ops->ctx, sp->gpa[i], buf + off, sp->len[i]));
		if (rc) {
			emu_set_why(c, "reading %u bytes at gpa 0x%" PRIx64 " failed (%d)",
			            sp->len[i], sp->gpa[i], rc);
			return rc;
		}
		off += sp->len[i];
	}
	for (unsigned i = 0; i < sp->size && i < 8; i++)
		v |= (uint64_t)buf[i] << (8 * i);
	*val = v;
	return 0;
}

int emu_span_write(struct emu_ctx *c, const struct emu_span *sp, uint64_t val)
{
	uint8_t buf[8];
	unsigned off = 0;
	int rc;

	if (!c->ops->mem_write) {
		emu_set_why(c, "no mem_write callback");
		return -ENOTSUP;
	}
	for (unsigned i = 0; i < 8; i++)
		buf[i] = (uint8_t)(val >> (8 * i));
	for (unsigned i = 0; i < sp->n; i++) {
		rc = cb_result(c->ops->mem_write(c->ops->ctx, sp->gpa[i], buf + off, sp->len[i]));
		if (rc) {
			emu_set_why(c, "writing %u bytes at gpa 0x%" PRIx64 " failed (%d)",
			            sp->len[i], sp->gpa[i], rc);
			return rc;
		}
		off += sp->len[i];
	}
	return 0;
}

/* Maps the ModRM/moffs operand, `extra` bytes further on (for BT's bit offset). */
int emu_map_operand(struct emu_ctx *c, uint64_t extra, unsigned size, bool write,
                    struct emu_span *sp)
{
	uint64_t la;
	int rc;

	if (!c->in->mem) {
		emu_set_why(c, "no memory operand");
		return -EINVAL;
	}
	rc = emu_linear(c, c->in->seg, (ea_offset(c) + extra) & emu_mask(c->in->addr_size), size,
	                &la);
	if (rc)
		return rc;
	return emu_map(c, la, size, write, sp);
}

int emu_read_operand(struct emu_ctx *c, unsigned size, uint64_t *val)
{
	struct emu_span sp;
	int rc = emu_map_operand(c, 0, size, false, &sp);

	return rc ? rc : emu_span_read(c, &sp, val);
}

int emu_write_operand(struct emu_ctx *c, unsigned size, uint64_t val)
{
	struct emu_span sp;
	int rc = emu_map_operand(c, 0, size, true, &sp);

	return rc ? rc : emu_span_write(c, &sp, val);
}

int emu_port_io(struct emu_ctx *c, uint16_t port, unsigned size, bool write, uint64_t *val)
{
	uint8_t buf[4] = { 0 };
	uint64_t v = 0;
	int rc;

	if (write ? !c->ops->pio_write : !c->ops->pio_read) {
		emu_set_why(c, "no port I/O callback");
		return -ENOTSUP;
	}
	if (write) {
		for (unsigned i = 0; i < size; i++)
			buf[i] = (uint8_t)(*val >> (8 * i));
		rc = cb_result(c->ops->pio_write(c->ops->ctx, port, buf, size));
	} else {
		rc = cb_result(c->ops->pio_read(c->ops->ctx, port, buf, size));
	}
	if (rc) {
		emu_set_why(c, "%s of %u bytes at port 0x%x failed (%d)",
		            write ? "output" : "input", size, port, rc);
		return rc;
	}
	if (!write) {
		for (unsigned i = 0; i < size; i++)
			v |= (uint64_t)buf[i] << (8 * i);
		*val = v;
	}
	return 0;
}
