/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target mshv_intercept: hv-mshv's run loop against a /dev/mshv that answers with what
 * the input says -- intercept messages of every type (port I/O with string and REP forms,
 * unmapped GPA and GPA intercepts with their instruction bytes, MSR, CPUID, EOI, halt,
 * exceptions, invalid register values, unknown types) with any payload, register values
 * from the register hypercalls and the register page, failing translations, and device
 * reads returning any bytes.  It is the hypervisor's word that hvmm decodes, so nothing in
 * it may crash hvmm or make it touch memory it does not own.
 *
 * Input: a 64-byte register file (the value every GET_VP_REGISTERS returns for a register
 * is taken from it by name), then records of
 *   kind (u8), flags (u8), payload length (u8), payload bytes
 * where kind picks the message type (or, past the table, a run that fails), flags bit 0
 * makes the register page valid, bit 1 makes the next translation fail.  Device reads
 * return the bytes that follow in the input.
 *
 * Checked: vcpu_run returns 0 with a known exit or a negative errno; device accesses are
 * 1, 2, 4 or 8 bytes; the run loop ends when the input does.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-mshv/internal.h"
#include "tests/fuzz/fuzz.h"

#define DEV_FD   10
#define PART_FD  11
#define VP_FD    12
#define RAM_GPA  0x100000ull
#define RAM_SZ   0x10000ull
#define MAX_RUNS 256

static const uint32_t types[] = {
	MSHV_MSG_X64_IO_PORT,
	MSHV_MSG_UNMAPPED_GPA,
	MSHV_MSG_GPA_INTERCEPT,
	MSHV_MSG_X64_MSR,
	MSHV_MSG_X64_CPUID,
	MSHV_MSG_X64_APIC_EOI,
	MSHV_MSG_X64_HALT,
	MSHV_MSG_X64_EXCEPTION,
	MSHV_MSG_UNRECOVERABLE_EXCEPTION,
	MSHV_MSG_X64_SIPI,
	MSHV_MSG_INVALID_VP_REGISTER,
	MSHV_MSG_UNSUPPORTED_FEATURE,
	MSHV_MSG_NONE,
	0x12345678u,
};

static struct {
	struct fuzz_in in;
	uint8_t regfile[64];
	bool fail_translate;
	uint8_t *reg_page, *msg_page;
} F;

static uint64_t reg_value(uint32_t name)
{
	uint64_t v = 0;

	memcpy(&v, F.regfile + (name * 8) % (sizeof(F.regfile) - 7), 8);
	return v;
}

static int hvcall(struct mshv_root_hvcall *a)
{
	uint8_t *in = (uint8_t *)(uintptr_t)a->in_ptr, *out = (uint8_t *)(uintptr_t)a->out_ptr;

	switch (a->code) {
	case MSHV_HVCALL_GET_VP_REGISTERS:
		for (unsigned i = 0; i < a->reps; i++) {
			uint32_t name;
			uint64_t v[2];

			memcpy(&name, in + 16 + 4 * i, 4);
			v[0] = reg_value(name);
			v[1] = reg_value(name + 1);
			memcpy(out + 16 * i, v, 16);
		}
		return 0;
	case MSHV_HVCALL_TRANSLATE_VIRTUAL_ADDRESS: {
		struct mshv_in_translate t;
		struct mshv_out_translate o = { 0 };

		if (F.fail_translate) {
			F.fail_translate = false;
			return -EFAULT;
		}
		memcpy(&t, in, sizeof(t));
		o.gpa_page = t.gva_page;
		memcpy(out, &o, sizeof(o));
		return 0;
	}
	default:
		return 0;
	}
}

static int run_vp(struct mshv_run_vp *run)
{
	struct mshv_msg m = { 0 };
	uint8_t kind, flags, len;
	size_t got;
	const uint8_t *p;

	if (!F.in.n)
		return -EINTR;
	kind = fuzz_u8(&F.in);
	flags = fuzz_u8(&F.in);
	len = fuzz_u8(&F.in);
	if (kind >= 2 * ARRAY_SIZE(types))
		return -(int)(kind % 40 + 1);
	m.type = types[kind % ARRAY_SIZE(types)];
	m.payload_size = len;
	p = fuzz_bytes(&F.in, len < MSHV_MSG_PAYLOAD ? len : MSHV_MSG_PAYLOAD, &got);
	memcpy(m.payload, p, got);
	F.fail_translate = flags & 2;
	if (flags & 1) {
		memcpy(F.reg_page + 8, F.regfile, sizeof(F.regfile));
		((struct mshv_reg_page *)F.reg_page)->isvalid = 1;
	} else {
		((struct mshv_reg_page *)F.reg_page)->isvalid = 0;
	}
	memcpy(run->msg_buf, &m, sizeof(m));
	memcpy(F.msg_page, &m, sizeof(m));
	return 0;
}

static int sys_open(void *ctx, const char *path, int flags)
{
	(void)ctx;
	(void)path;
	(void)flags;
	return DEV_FD;
}

static int sys_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	(void)fd;
	switch (req) {
	case MSHV_CREATE_PARTITION:
		return PART_FD;
	case MSHV_CREATE_VP:
		return VP_FD;
	case MSHV_ROOT_HVCALL:
		return hvcall(arg);
	case MSHV_RUN_VP:
		return run_vp(arg);
	default:
		return 0;
	}
}

static int sys_mmap(void *ctx, int fd, off_t offset, size_t len, void **out)
{
	(void)ctx;
	(void)fd;
	(void)len;
	*out = offset == 0 ? F.reg_page : F.msg_page;
	return 0;
}

static int sys_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	(void)addr;
	(void)len;
	return 0;
}

static int sys_close(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	return 0;
}

static const struct mshv_sys sys = {
	.open = sys_open,
	.ioctl = sys_ioctl,
	.mmap = sys_mmap,
	.munmap = sys_munmap,
	.close = sys_close,
};

static void dev_access(void *data, uint32_t len, bool write)
{
	FUZZ_CHECK(len == 1 || len == 2 || len == 4 || len == 8);
	if (!write) {
		size_t got;
		const uint8_t *p = fuzz_bytes(&F.in, len, &got);

		memset(data, 0, len);
		memcpy(data, p, got);
	}
}

static void dev_pio(void *ctx, uint16_t port, void *data, uint32_t len, bool write)
{
	(void)ctx;
	(void)port;
	dev_access(data, len, write);
}

static void dev_mmio(void *ctx, uint64_t gpa, void *data, uint32_t len, bool write)
{
	(void)ctx;
	(void)gpa;
	dev_access(data, len, write);
}

static void dev_eoi(void *ctx, uint8_t vector)
{
	(void)ctx;
	(void)vector;
}

static const struct hv_io dev_io = { .pio = dev_pio, .mmio = dev_mmio, .eoi = dev_eoi };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hv_vm *vm;
	struct hv_vcpu *v;
	struct hv_mem_region r;
	uint8_t *ram;
	size_t got;
	const uint8_t *p;

	log_set_level(LOG_ERR);
	memset(&F, 0, sizeof(F));
	F.in = (struct fuzz_in){ data, size };
	p = fuzz_bytes(&F.in, sizeof(F.regfile), &got);
	memcpy(F.regfile, p, got);
	F.reg_page = aligned_alloc(4096, 4096);
	F.msg_page = aligned_alloc(4096, 4096);
	ram = aligned_alloc(4096, RAM_SZ);
	if (!F.reg_page || !F.msg_page || !ram)
		fuzz_fail(__FILE__, __LINE__, "out of memory");
	memset(F.reg_page, 0, 4096);
	memset(F.msg_page, 0, 4096);
	/* Guest RAM holds instruction-like bytes: the input's start, repeated. */
	for (size_t i = 0; i < RAM_SZ; i++)
		ram[i] = size ? data[i % size] : 0;
	FUZZ_MUST(mshv_vm_create_with(&sys, &vm));
	r = (struct hv_mem_region){ RAM_GPA, RAM_SZ, ram, 0 };
	FUZZ_MUST(hv_mshv_ops.mem_map(vm, &r));
	FUZZ_MUST(hv_mshv_ops.vcpu_create(vm, 0, 1, &dev_io, &v));
	for (unsigned i = 0; i < MAX_RUNS && F.in.n; i++) {
		enum hv_exit x = HV_EXIT_INTERRUPTED;
		int rc = hv_mshv_ops.vcpu_run(v, &x);

		FUZZ_CHECK(rc <= 0);
		if (rc == 0)
			FUZZ_CHECK(x == HV_EXIT_HALT || x == HV_EXIT_SHUTDOWN ||
			           x == HV_EXIT_RESET || x == HV_EXIT_INTERRUPTED);
	}
	hv_mshv_ops.vcpu_destroy(v);
	FUZZ_MUST(hv_mshv_ops.mem_unmap(vm, &r));
	hv_mshv_ops.vm_destroy(vm);
	free(ram);
	free(F.reg_page);
	free(F.msg_page);
	return 0;
}
