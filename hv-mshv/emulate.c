/* SPDX-License-Identifier: MIT */
/*
 * hv-mshv: instruction emulation at an intercept.  MSHV hands hvmm the intercepted
 * instruction's bytes (when it has them) and the VP's state; MMIO and string port I/O are
 * completed by the emulator in emu/, whose callbacks here reach guest memory, the buses and
 * the hypervisor's address translation.  The run loop (run.c) decides when to call it.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hv-mshv/internal.h"

#define X86_CR4_LA57 (1ull << 12)

/* ---- the emulator's callbacks ---- */

/* Device memory (a BAR mapping) is touched with exactly the width the guest used. */
static void mshv_device_copy(void *dev, void *buf, unsigned len, bool write)
{
	uintptr_t a = (uintptr_t)dev;
	uint64_t x = 0;

	if ((len == 1 || len == 2 || len == 4 || len == 8) && !(a & (len - 1))) {
		if (write)
			memcpy(&x, buf, len);
		switch (len) {
		case 1:
			if (write)
				*(volatile uint8_t *)dev = (uint8_t)x;
			else
				x = *(volatile uint8_t *)dev;
			break;
		case 2:
			if (write)
				*(volatile uint16_t *)dev = (uint16_t)x;
			else
				x = *(volatile uint16_t *)dev;
			break;
		case 4:
			if (write)
				*(volatile uint32_t *)dev = (uint32_t)x;
			else
				x = *(volatile uint32_t *)dev;
			break;
		default:
			if (write)
				*(volatile uint64_t *)dev = x;
			else
				x = *(volatile uint64_t *)dev;
			break;
		}
		if (!write)
			memcpy(buf, &x, len);
		return;
	}
	for (unsigned i = 0; i < len; i++) {
		if (write)
			((volatile uint8_t *)dev)[i] = ((uint8_t *)buf)[i];
		else
			((uint8_t *)buf)[i] = ((volatile uint8_t *)dev)[i];
	}
}

/*
 * Guest-physical access for the emulator: RAM the backend mapped is read and written here;
 * anything else (and writes to read-only RAM) is MMIO for core's bus.
 */
static int mshv_emu_access(struct hv_vcpu *v, uint64_t gpa, void *buf, unsigned len, bool write)
{
	struct hv_vm *vm = v->vm;
	bool done = false;

	pthread_rwlock_rdlock(&vm->mem_lock);
	for (size_t i = 0; i < vm->nr_regions; i++) {
		const struct hv_mem_region *r = &vm->regions[i];
		uint8_t *p;

		if (gpa < r->gpa || gpa - r->gpa >= r->size || len > r->size - (gpa - r->gpa))
			continue;
		if (write && (r->flags & HV_MEM_READONLY))
			break;
		p = (uint8_t *)r->hva + (gpa - r->gpa);
		if (r->flags & HV_MEM_DEVICE)
			mshv_device_copy(p, buf, len, write);
		else if (write)
			memcpy(p, buf, len);
		else
			memcpy(buf, p, len);
		done = true;
		break;
	}
	pthread_rwlock_unlock(&vm->mem_lock);
	/* The MMIO handler runs without the lock: it may remap memory (a BAR move). */
	if (!done)
		v->io->mmio(v->io->ctx, gpa, buf, len, write);
	return 0;
}

static int mshv_emu_read(void *ctx, uint64_t gpa, void *buf, unsigned len)
{
	return mshv_emu_access(ctx, gpa, buf, len, false);
}

static int mshv_emu_write(void *ctx, uint64_t gpa, const void *buf, unsigned len)
{
	uint8_t tmp[8];

	if (len > sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, buf, len);
	return mshv_emu_access(ctx, gpa, tmp, len, true);
}

/*
 * Translate a guest-virtual address with HVCALL_TRANSLATE_VIRTUAL_ADDRESS.  Result codes 1-3
 * are page-walk faults: the guest would take a #PF, not ours to emulate.  Codes 4-7 (GPA
 * unmapped, no read or write access, illegal overlay) say the walk succeeded and the GPA it
 * ended at is not ordinary accessible RAM -- MMIO or a read-only mapping, exactly what the
 * emulator is about to access through hvmm's own regions -- so the GPA is used.
 */
static int mshv_translate(struct hv_vcpu *v, uint64_t gva, uint64_t flags, uint64_t *gpa)
{
	struct mshv_in_translate in = {
		.vp_index = v->index,
		.control_flags = flags,
		.gva_page = gva >> 12,
	};
	struct mshv_out_translate out = { 0 };
	int r = mshv_hvcall(v->vm, v->fd, MSHV_HVCALL_TRANSLATE_VIRTUAL_ADDRESS, 0, &in, sizeof(in),
	                    &out, sizeof(out), NULL);

	if (r)
		return r;
	switch (out.result_code) {
	case MSHV_TRANSLATE_SUCCESS:
	case MSHV_TRANSLATE_GPA_UNMAPPED:
	case MSHV_TRANSLATE_GPA_NO_READ:
	case MSHV_TRANSLATE_GPA_NO_WRITE:
	case MSHV_TRANSLATE_GPA_ILLEGAL_OVERLAY:
		*gpa = (out.gpa_page << 12) | (gva & 0xfff);
		return 0;
	default:
		return -EFAULT; /* the guest would take a page fault */
	}
}

static int mshv_emu_translate(void *ctx, uint64_t gva, bool write, uint64_t *gpa)
{
	return mshv_translate(
	    ctx, gva, write ? MSHV_TRANSLATE_VALIDATE_WRITE : MSHV_TRANSLATE_VALIDATE_READ, gpa);
}

static int mshv_emu_pio_read(void *ctx, uint16_t port, void *buf, unsigned len)
{
	struct hv_vcpu *v = ctx;

	v->io->pio(v->io->ctx, port, buf, len, false);
	return 0;
}

static int mshv_emu_pio_write(void *ctx, uint16_t port, const void *buf, unsigned len)
{
	struct hv_vcpu *v = ctx;
	uint8_t tmp[8];

	if (len > sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, buf, len);
	v->io->pio(v->io->ctx, port, tmp, len, true);
	return 0;
}

/* ---- vCPU state for the emulator ---- */

int mshv_emu_state(struct hv_vcpu *v, const struct mshv_intercept_header *h, struct emu_cpu *cpu)
{
	uint64_t cr4;

	memset(cpu, 0, sizeof(*cpu));
	if (mshv_page_valid(v)) {
		const struct mshv_reg_page *p = v->regs;

		memcpy(cpu->regs.gpr, p->gpr, sizeof(cpu->regs.gpr));
		for (unsigned i = 0; i < 6; i++)
			cpu->seg_base[i] = p->seg[i].base;
		cr4 = p->cr4;
	} else {
		/* 16 GPRs, the 6 segment registers and CR4 in one hypercall. */
		uint32_t names[23];
		union mshv_reg_value vals[23];
		int r;

		for (unsigned i = 0; i < 16; i++)
			names[i] = MSHV_REG_GPR(i);
		for (unsigned i = 0; i < 6; i++)
			names[16 + i] = MSHV_REG_ES + i;
		names[22] = MSHV_REG_CR4;
		if ((r = mshv_get_regs(v, names, vals, 23)))
			return r;
		for (unsigned i = 0; i < 16; i++)
			cpu->regs.gpr[i] = vals[i].reg64;
		for (unsigned i = 0; i < 6; i++)
			cpu->seg_base[i] = vals[16 + i].seg.base;
		cr4 = vals[22].reg64;
	}
	/* The message's RIP, RFLAGS and CS are those of the intercepted instruction. */
	cpu->regs.rip = h->rip;
	cpu->regs.rflags = h->rflags;
	cpu->seg_base[EMU_SEG_CS] = h->cs.base;
	cpu->mode = mshv_mode(h->exec_state, h->cs.attributes);
	cpu->la57 = !!(cr4 & X86_CR4_LA57);
	return 0;
}

/* Write back what an instruction changed: through the register page when it is valid. */
static int mshv_writeback(struct hv_vcpu *v, const struct emu_regs *before,
                          const struct emu_regs *after)
{
	uint32_t names[MSHV_NR_REGS];
	union mshv_reg_value vals[MSHV_NR_REGS];
	size_t n = 0;

	if (mshv_page_valid(v)) {
		struct mshv_reg_page *p = v->regs;

		memcpy(p->gpr, after->gpr, sizeof(p->gpr));
		p->rip = after->rip;
		p->rflags = after->rflags;
		p->dirty |=
		    MSHV_REGPAGE_DIRTY_GENERAL | MSHV_REGPAGE_DIRTY_IP | MSHV_REGPAGE_DIRTY_FLAGS;
		return 0;
	}
	for (unsigned i = 0; i < 16; i++) {
		if (after->gpr[i] != before->gpr[i]) {
			names[n] = MSHV_REG_GPR(i);
			vals[n++].reg64 = after->gpr[i];
		}
	}
	names[n] = MSHV_REG_RIP;
	vals[n++].reg64 = after->rip;
	if (after->rflags != before->rflags) {
		names[n] = MSHV_REG_RFLAGS;
		vals[n++].reg64 = after->rflags;
	}
	return mshv_set_regs(v, names, vals, n);
}

/* The instruction at RIP, from guest RAM, when the message carried too few bytes. */
static int mshv_fetch_insn(struct hv_vcpu *v, const struct emu_cpu *cpu, uint8_t *buf,
                           unsigned *len)
{
	uint64_t la = cpu->seg_base[EMU_SEG_CS] + cpu->regs.rip;
	unsigned n = 0;

	if (cpu->mode != EMU_MODE_LONG64)
		la &= 0xffffffffull;
	while (n < EMU_MAX_INSN_LEN) {
		uint64_t gpa, chunk = 4096 - ((la + n) & 0xfff);
		struct hv_mem_region r;
		int ret;

		if (chunk > EMU_MAX_INSN_LEN - n)
			chunk = EMU_MAX_INSN_LEN - n;
		/* An instruction fetch: read and execute access, as Cloud Hypervisor asks. */
		if ((ret = mshv_translate(
		         v, la + n, MSHV_TRANSLATE_VALIDATE_READ | MSHV_TRANSLATE_VALIDATE_EXECUTE,
		         &gpa)))
			return n ? 0 : ret;
		if (!mshv_mem_find(v->vm, gpa, chunk, &r) || (r.flags & HV_MEM_DEVICE))
			break; /* code is fetched from RAM only */
		memcpy(buf + n, (uint8_t *)r.hva + (gpa - r.gpa), chunk);
		n += (unsigned)chunk;
		*len = n;
	}
	return n ? 0 : -EFAULT;
}

int mshv_emulate(struct hv_vcpu *v, const struct mshv_intercept_header *h, const uint8_t *insn,
                 unsigned count, const struct emu_hint *hint)
{
	const struct emu_ops ops = {
		.ctx = v,
		.mem_read = mshv_emu_read,
		.mem_write = mshv_emu_write,
		.translate = mshv_emu_translate,
		.pio_read = mshv_emu_pio_read,
		.pio_write = mshv_emu_pio_write,
	};
	struct emu_cpu cpu;
	struct emu_regs before;
	uint8_t bytes[16];
	unsigned n = count < sizeof(bytes) ? count : sizeof(bytes);
	char err[256];
	int r;

	if ((r = mshv_emu_state(v, h, &cpu)))
		return r;
	before = cpu.regs;
	memcpy(bytes, insn, n);
	if (!n && (r = mshv_fetch_insn(v, &cpu, bytes, &n))) {
		log_err("vCPU %u: cannot read the instruction at rip %#llx: %s", v->index,
		        (unsigned long long)cpu.regs.rip, strerror(-r));
		return r;
	}
	r = emu_execute(&cpu, bytes, n, hint, &ops, err, sizeof(err));
	if (r == -ENODATA && count) {
		/* The message held part of the instruction: read all of it from RAM. */
		if (!mshv_fetch_insn(v, &cpu, bytes, &n))
			r = emu_execute(&cpu, bytes, n, hint, &ops, err, sizeof(err));
	}
	if (r) {
		char hex[3 * sizeof(bytes) + 1] = "";

		/* The emulator names what it decoded; the whole fetch helps tell what it was. */
		for (unsigned i = 0; i < n; i++)
			snprintf(hex + 3 * i, sizeof(hex) - 3 * i, "%02x ", bytes[i]);
		if (n)
			hex[3 * n - 1] = '\0';
		log_err("vCPU %u: %s; the VM stops (bytes at rip: %s)", v->index, err, hex);
		return r;
	}
	return mshv_writeback(v, &before, &cpu.regs);
}
