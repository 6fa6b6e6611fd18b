/*
 * hv-mshv against a scripted fake /dev/mshv (a struct mshv_sys): partition set-up order,
 * memory bookkeeping, register marshalling, message decoding in the run loop, interrupts and
 * the kick.  The fake's state is file-global: these are single-VM tests.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "hv-mshv/internal.h"
#include "tests/unit/unit.h"

#define DEV_FD  10
#define PART_FD 11
#define VP_FD   12 /* + index */
#define RAM_GPA 0x100000ull
#define RAM_SZ  0x10000ull
#define MMIO    0xd0000000ull

/* ---------------- the fake kernel ---------------- */

struct fake_call {
	unsigned long req;
	uint16_t code; /* the hypercall, for MSHV_ROOT_HVCALL */
	uint32_t arg;  /* property code, register count... */
};

struct fake_run_step {
	int err;         /* MSHV_RUN_VP fails with this, or ... */
	bool page_valid; /* ... delivers msg, with the register page valid or not */
	bool block;      /* ... spins, then blocks until a signal (the kick test) */
	struct mshv_msg msg;
};

static struct {
	struct fake_call calls[512];
	unsigned ncalls;
	int fail_req; /* an ioctl request that fails with fail_err */
	int fail_err;
	bool initialized;
	uint64_t pt_flags;
	struct mshv_user_mem_region mem[8];
	unsigned nmem;
	struct {
		uint32_t name;
		union mshv_reg_value v;
	} regs[96];
	unsigned nregs;
	unsigned reg_limit; /* GET/SET handle at most this many (0: all) */
	unsigned gets, sets, translates, runs;
	struct mshv_reg_page *page;
	uint8_t *msg_page;
	struct fake_run_step steps[8];
	unsigned nsteps, pos;
	struct mshv_in_intercept_result result;
	struct mshv_in_assert_irq assert_irq;
	struct mshv_user_irq_entry routes[8];
	unsigned nroutes;
	struct mshv_user_irqfd irqfd;
	struct mshv_user_ioeventfd ioeventfd;
	unsigned opens, closes;
	unsigned create_eintr; /* MSHV_CREATE_PARTITION answers EINTR this many times */
	unsigned creates;      /* MSHV_CREATE_PARTITION calls */
	bool bridge;           /* the kernel has the VFIO bridge device */
	int32_t bridge_file;   /* the fd MSHV_DEV_VFIO_FILE_ADD named */
	bool assignable_known; /* /dev/mshv answers the assignable-features property */
	uint64_t assignable;   /* ... with this */
	uint64_t props[8][2];  /* SET_PARTITION_PROPERTY (code, value), in order */
	unsigned nprops;
	uint32_t translate_code;  /* the result code translations answer with */
	uint64_t translate_flags; /* the control flags of the last translation */
	uint64_t translate_delta; /* gpa_page = gva_page + this */
	/* what the device callbacks saw */
	struct {
		bool mmio, write;
		uint64_t addr, data;
		uint32_t len;
	} io[16];
	unsigned nio;
	uint64_t dev_read; /* what a device read returns */
	int eoi_vector;
} F;

static union mshv_reg_value *fake_reg(uint32_t name)
{
	for (unsigned i = 0; i < F.nregs; i++)
		if (F.regs[i].name == name)
			return &F.regs[i].v;
	assert_true(F.nregs < ARRAY_SIZE(F.regs));
	F.regs[F.nregs].name = name;
	memset(&F.regs[F.nregs].v, 0, sizeof(F.regs[0].v));
	return &F.regs[F.nregs++].v;
}

static void fake_set(uint32_t name, uint64_t v)
{
	fake_reg(name)->reg64 = v;
}

static uint64_t fake_get(uint32_t name)
{
	return fake_reg(name)->reg64;
}

static void fake_log(unsigned long req, uint16_t code, uint32_t arg)
{
	if (F.ncalls < ARRAY_SIZE(F.calls))
		F.calls[F.ncalls++] = (struct fake_call){ req, code, arg };
}

/* Index of the first call matching (req, code), or -1. */
static int fake_find(unsigned long req, uint16_t code, uint32_t arg)
{
	for (unsigned i = 0; i < F.ncalls; i++)
		if (F.calls[i].req == req && F.calls[i].code == code &&
		    (!arg || F.calls[i].arg == arg))
			return (int)i;
	return -1;
}

static int fake_hvcall(struct mshv_root_hvcall *a)
{
	uint8_t *in = (uint8_t *)(uintptr_t)a->in_ptr, *out = (uint8_t *)(uintptr_t)a->out_ptr;
	uint32_t arg = a->reps;
	unsigned n = a->reps;

	if (a->code == MSHV_HVCALL_SET_PARTITION_PROPERTY ||
	    a->code == MSHV_HVCALL_GET_PARTITION_PROPERTY) {
		struct mshv_in_partition_property p;

		memcpy(&p, in, sizeof(p));
		arg = p.code;
		if (a->code == MSHV_HVCALL_SET_PARTITION_PROPERTY &&
		    F.nprops < ARRAY_SIZE(F.props)) {
			F.props[F.nprops][0] = p.code;
			F.props[F.nprops++][1] = p.value;
		}
	}
	fake_log(MSHV_ROOT_HVCALL, a->code, arg);
	if (F.reg_limit && n > F.reg_limit)
		n = F.reg_limit;
	switch (a->code) {
	case MSHV_HVCALL_GET_VP_REGISTERS:
		F.gets++;
		for (unsigned i = 0; i < n; i++) {
			uint32_t name;

			memcpy(&name, in + 16 + 4 * i, 4);
			memcpy(out + 16 * i, fake_reg(name), 16);
		}
		a->reps = (uint16_t)n;
		return n == arg ? 0 : -EINVAL;
	case MSHV_HVCALL_SET_VP_REGISTERS:
		F.sets++;
		for (unsigned i = 0; i < n; i++) {
			struct mshv_reg_assoc r;

			memcpy(&r, in + 16 + 32 * i, sizeof(r));
			*fake_reg(r.name) = r.value;
		}
		a->reps = (uint16_t)n;
		return n == arg ? 0 : -EINVAL;
	case MSHV_HVCALL_TRANSLATE_VIRTUAL_ADDRESS: {
		struct mshv_in_translate t;
		struct mshv_out_translate o = { 0 };

		F.translates++;
		memcpy(&t, in, sizeof(t));
		F.translate_flags = t.control_flags;
		o.result_code = F.translate_code;
		o.gpa_page = t.gva_page + F.translate_delta; /* identity paging, unless shifted */
		memcpy(out, &o, sizeof(o));
		return 0;
	}
	case MSHV_HVCALL_REGISTER_INTERCEPT_RESULT:
		memcpy(&F.result, in, sizeof(F.result));
		return 0;
	case MSHV_HVCALL_ASSERT_VIRTUAL_INTERRUPT:
		memcpy(&F.assert_irq, in, sizeof(F.assert_irq));
		return 0;
	default:
		return 0;
	}
}

/* The hypervisor's side of the register page around a dispatch. */
static void fake_page_in(void)
{
	struct mshv_reg_page *p = F.page;

	if (p->dirty & MSHV_REGPAGE_DIRTY_GENERAL)
		for (unsigned i = 0; i < 16; i++)
			fake_set(MSHV_REG_GPR(i), p->gpr[i]);
	if (p->dirty & MSHV_REGPAGE_DIRTY_IP)
		fake_set(MSHV_REG_RIP, p->rip);
	if (p->dirty & MSHV_REGPAGE_DIRTY_FLAGS)
		fake_set(MSHV_REG_RFLAGS, p->rflags);
	p->dirty = 0;
	p->isvalid = 0;
}

static void fake_page_out(void)
{
	struct mshv_reg_page *p = F.page;

	for (unsigned i = 0; i < 16; i++)
		p->gpr[i] = fake_get(MSHV_REG_GPR(i));
	p->rip = fake_get(MSHV_REG_RIP);
	p->rflags = fake_get(MSHV_REG_RFLAGS);
	for (unsigned i = 0; i < 6; i++)
		p->seg[i] = fake_reg(MSHV_REG_ES + i)->seg;
	p->cr4 = fake_get(MSHV_REG_CR4);
	p->version = 1;
	p->isvalid = 1;
}

static int fake_run(struct mshv_run_vp *run)
{
	struct fake_run_step *s;

	F.runs++;
	fake_page_in();
	if (F.pos >= F.nsteps)
		return -EINTR;
	s = &F.steps[F.pos++];
	if (s->block) {
		uint64_t until = clock_ns() + 3000000;

		/* A signal in this stretch is lost, as one before the real ioctl would be. */
		while (clock_ns() < until)
			;
		if (poll(NULL, 0, 10000) < 0 && errno == EINTR)
			return -EINTR;
		return -ETIMEDOUT;
	}
	if (s->err)
		return s->err;
	if (s->page_valid)
		fake_page_out();
	memcpy(run->msg_buf, &s->msg, sizeof(s->msg));
	memcpy(F.msg_page, &s->msg, sizeof(s->msg));
	return 0;
}

static int fake_open(void *ctx, const char *path, int flags)
{
	(void)ctx;
	(void)flags;
	assert_string_equal(path, "/dev/mshv");
	F.opens++;
	return DEV_FD;
}

#define BRIDGE_FD 9

static int fake_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	if (req == MSHV_IRQFD) {
		const struct mshv_user_irqfd *q = arg;

		fake_log(req, 0, q->gsi | q->flags << 16);
	} else if (req == MSHV_SET_MSI_ROUTING) {
		fake_log(req, 0, ((const struct mshv_user_irq_table *)arg)->nr);
	} else if (req != MSHV_ROOT_HVCALL) {
		fake_log(req, 0, 0);
	}
	if ((int)req == F.fail_req)
		return F.fail_err;
	if (fd == DEV_FD && req == MSHV_ROOT_HVCALL) {
		/* rust-vmm's read of the host's assignable features; mainline: no such ioctl. */
		struct mshv_root_hvcall *a = arg;
		struct mshv_in_partition_property_ex in;

		if (!F.assignable_known)
			return -ENOTTY;
		memcpy(&in, (void *)(uintptr_t)a->in_ptr, sizeof(in));
		assert_int_equal(a->code, MSHV_HVCALL_GET_PARTITION_PROPERTY_EX);
		assert_int_equal(in.code, MSHV_PROP_ASSIGNABLE_SYNTHETIC_PROC_FEATURES);
		memcpy((uint8_t *)(uintptr_t)a->out_ptr + MSHV_PROP_EX_BANK0_OFFSET, &F.assignable,
		       8);
		return 0;
	}
	if (fd == BRIDGE_FD && req == MSHV_SET_DEVICE_ATTR) {
		const struct mshv_device_attr *at = arg;

		assert_int_equal(at->group, MSHV_DEV_VFIO_FILE);
		assert_int_equal(at->attr, MSHV_DEV_VFIO_FILE_ADD);
		memcpy(&F.bridge_file, (void *)(uintptr_t)at->addr, sizeof(F.bridge_file));
		return 0;
	}
	switch (req) {
	case MSHV_CREATE_PARTITION:
		assert_int_equal(fd, DEV_FD);
		F.creates++;
		if (F.create_eintr) {
			F.create_eintr--;
			return -EINTR;
		}
		F.pt_flags = ((struct mshv_create_partition *)arg)->pt_flags;
		return PART_FD;
	case MSHV_CREATE_DEVICE: {
		struct mshv_create_device *cd = arg;

		if (!F.bridge)
			return -ENOTTY; /* mshv_partition_ioctl()'s default */
		assert_int_equal(cd->type, MSHV_DEV_TYPE_VFIO);
		if (cd->flags & MSHV_CREATE_DEVICE_TEST)
			return 0;
		cd->fd = BRIDGE_FD;
		return 0;
	}
	case MSHV_INITIALIZE_PARTITION:
		F.initialized = true;
		return 0;
	case MSHV_CREATE_VP:
		return VP_FD + (int)((struct mshv_create_vp *)arg)->vp_index;
	case MSHV_SET_GUEST_MEMORY:
		if (F.nmem < ARRAY_SIZE(F.mem))
			F.mem[F.nmem++] = *(struct mshv_user_mem_region *)arg;
		return 0;
	case MSHV_IRQFD:
		F.irqfd = *(struct mshv_user_irqfd *)arg;
		return 0;
	case MSHV_IOEVENTFD:
		F.ioeventfd = *(struct mshv_user_ioeventfd *)arg;
		return 0;
	case MSHV_SET_MSI_ROUTING: {
		const struct mshv_user_irq_table *t = arg;

		F.nroutes = t->nr;
		memcpy(F.routes, t->entries, t->nr * sizeof(t->entries[0]));
		return 0;
	}
	case MSHV_ROOT_HVCALL:
		return fake_hvcall(arg);
	case MSHV_RUN_VP:
		return fake_run(arg);
	default:
		return -ENOTTY;
	}
}

static int fake_mmap(void *ctx, int fd, off_t offset, size_t len, void **out)
{
	(void)ctx;
	assert_true(fd >= VP_FD);
	assert_int_equal(len, 4096);
	if (offset == 0)
		*out = F.page;
	else if (offset == sysconf(_SC_PAGESIZE))
		*out = F.msg_page;
	else
		return -EINVAL;
	return 0;
}

static int fake_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	(void)addr;
	(void)len;
	return 0;
}

static int fake_close(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	F.closes++;
	return 0;
}

static const struct mshv_sys fake_sys = {
	.open = fake_open,
	.ioctl = fake_ioctl,
	.mmap = fake_mmap,
	.munmap = fake_munmap,
	.close = fake_close,
};

/* ---------------- device callbacks ---------------- */

static void dev_access(bool mmio, uint64_t addr, void *data, uint32_t len, bool write)
{
	uint64_t v = 0;

	if (!write)
		memcpy(data, &F.dev_read, len);
	memcpy(&v, data, len);
	if (F.nio < ARRAY_SIZE(F.io))
		F.io[F.nio++] = (typeof(F.io[0])){ mmio, write, addr, v, len };
}

static void dev_pio(void *ctx, uint16_t port, void *data, uint32_t len, bool write)
{
	(void)ctx;
	dev_access(false, port, data, len, write);
}

static void dev_mmio(void *ctx, uint64_t gpa, void *data, uint32_t len, bool write)
{
	(void)ctx;
	dev_access(true, gpa, data, len, write);
}

static void dev_eoi(void *ctx, uint8_t vector)
{
	(void)ctx;
	F.eoi_vector = vector;
}

static const struct hv_io dev_io = { .pio = dev_pio, .mmio = dev_mmio, .eoi = dev_eoi };

/* ---------------- fixtures and message builders ---------------- */

struct env {
	struct hv_vm *vm;
	struct hv_vcpu *v;
	uint8_t *ram;
};

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct hv_mem_region r;

	memset(&F, 0, sizeof(F));
	F.page = aligned_alloc(4096, 4096);
	F.msg_page = aligned_alloc(4096, 4096);
	memset(F.page, 0, 4096);
	F.eoi_vector = -1;
	log_set_level(LOG_WARN);
	e->ram = aligned_alloc(4096, RAM_SZ);
	memset(e->ram, 0, RAM_SZ);
	assert_int_equal(mshv_vm_create_with(&fake_sys, &e->vm), 0);
	r = (struct hv_mem_region){ RAM_GPA, RAM_SZ, e->ram, 0 };
	assert_int_equal(hv_mshv_ops.mem_map(e->vm, &r), 0);
	assert_int_equal(hv_mshv_ops.vcpu_create(e->vm, 0, 2, &dev_io, &e->v), 0);
	/* 64-bit mode, flat segments. */
	fake_reg(MSHV_REG_CS)->seg = (struct mshv_seg){ .attributes = 0xa09b, .selector = 0x10 };
	F.gets = F.sets = 0; /* the VP's set-up is not what the tests count */
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;
	struct hv_mem_region r = { RAM_GPA, RAM_SZ, e->ram, 0 };

	hv_mshv_ops.vcpu_destroy(e->v); /* NULL-safe */
	assert_int_equal(hv_mshv_ops.mem_unmap(e->vm, &r), 0);
	hv_mshv_ops.vm_destroy(e->vm);
	free(e->ram);
	free(F.page);
	free(F.msg_page);
	free(e);
	return 0;
}

static void hdr(struct mshv_intercept_header *h, uint64_t rip, unsigned len, uint8_t access)
{
	*h = (struct mshv_intercept_header){
		.insn_len_cr8 = (uint8_t)len,
		.access_type = access,
		.exec_state = MSHV_EXEC_CR0_PE | MSHV_EXEC_EFER_LMA,
		.cs = { .selector = 0x10, .attributes = 0xa09b },
		.rip = rip,
		.rflags = 2,
	};
}

static struct fake_run_step *step_add(uint32_t type, const void *payload, size_t len, bool page)
{
	struct fake_run_step *s = &F.steps[F.nsteps++];

	memset(s, 0, sizeof(*s));
	s->page_valid = page;
	s->msg.type = type;
	s->msg.payload_size = (uint8_t)len;
	memcpy(s->msg.payload, payload, len);
	return s;
}

static void step_io(uint16_t port, unsigned size, bool write, uint64_t rax, uint64_t rip,
                    const char *insn, unsigned len, uint8_t flags, bool page)
{
	struct mshv_msg_io m = { .port = port,
		                 .access_info = (uint8_t)(size | flags),
		                 .insn_count = (uint8_t)len,
		                 .rax = rax };

	hdr(&m.h, rip, len, write ? MSHV_ACCESS_WRITE : MSHV_ACCESS_READ);
	memcpy(m.insn, insn, len);
	fake_set(MSHV_REG_RIP, rip);
	fake_set(MSHV_REG_RAX, rax);
	step_add(MSHV_MSG_X64_IO_PORT, &m, sizeof(m), page);
}

static void step_mem(uint64_t gpa, uint8_t access, uint64_t rip, const char *insn, unsigned len,
                     bool page)
{
	struct mshv_msg_mem m = { .insn_count = (uint8_t)len, .gpa = gpa };

	hdr(&m.h, rip, 0, access);
	memcpy(m.insn, insn, len);
	fake_set(MSHV_REG_RIP, rip);
	step_add(MSHV_MSG_UNMAPPED_GPA, &m, sizeof(m), page);
}

/* Run until the script ends (the fake answers EINTR then): INTERRUPTED is the normal end. */
static enum hv_exit run(struct env *e)
{
	enum hv_exit x = HV_EXIT_HALT;

	assert_int_equal(hv_mshv_ops.vcpu_run(e->v, &x), 0);
	return x;
}

/* ---------------- tests ---------------- */

static void test_create_order(void **state)
{
	struct env *e = *state;
	int prop_early = fake_find(MSHV_ROOT_HVCALL, MSHV_HVCALL_SET_PARTITION_PROPERTY,
	                           MSHV_PROP_SYNTHETIC_PROC_FEATURES);
	int init = fake_find(MSHV_INITIALIZE_PARTITION, 0, 0);
	int prop_late = fake_find(MSHV_ROOT_HVCALL, MSHV_HVCALL_SET_PARTITION_PROPERTY,
	                          MSHV_PROP_UNIMPLEMENTED_MSR_ACTION);
	struct hv_caps caps;

	assert_int_equal(F.pt_flags, (1u << MSHV_PT_BIT_LAPIC) | (1u << MSHV_PT_BIT_X2APIC));
	assert_true(prop_early >= 0 && init > prop_early && prop_late > init);
	assert_true(fake_find(MSHV_CREATE_VP, 0, 0) > prop_late);
	hv_mshv_ops.caps(e->vm, &caps);
	assert_false(caps.pio_ioeventfd);
	assert_true(caps.readonly_mem);
	assert_int_equal(caps.max_vcpus, 255);
	assert_int_equal(caps.max_gsi, 4096);
	/* CPUID leaf 1 for VP 0 of 2: logical count 2, HTT, hypervisor bit. */
	assert_int_equal(F.result.intercept_type, MSHV_INTERCEPT_TYPE_CPUID);
	assert_int_equal(F.result.vp_index, 0);
	assert_int_equal(F.result.leaf, 1);
	assert_int_equal(F.result.ebx & F.result.ebx_mask, 2u << 16);
	assert_int_equal(F.result.edx & F.result.edx_mask, 1u << 28);
	assert_int_equal(F.result.ecx & F.result.ecx_mask, 1u << 31);
}

static void test_create_fails_cleanly(void **state)
{
	struct hv_vm *vm = NULL;

	(void)state;
	memset(&F, 0, sizeof(F));
	F.fail_req = (int)MSHV_INITIALIZE_PARTITION;
	F.fail_err = -EIO;
	capture_begin();
	assert_int_equal(mshv_vm_create_with(&fake_sys, &vm), -EIO);
	assert_non_null(strstr(capture_end(), "MSHV_INITIALIZE_PARTITION"));
	assert_int_equal(F.opens, F.closes - 1); /* the partition fd and /dev/mshv closed */
}

static void test_memory(void **state)
{
	struct env *e = *state;
	uint8_t *rom = aligned_alloc(4096, 8192), *bar = aligned_alloc(4096, 4096);
	struct hv_mem_region ro = { 0xc0000000, 8192, rom, HV_MEM_READONLY };
	struct hv_mem_region dev = { 0xc0010000, 4096, bar, HV_MEM_DEVICE };
	struct hv_mem_region overlap = { RAM_GPA + 0x1000, 4096, bar, 0 };
	struct hv_mem_region odd = { 0xc0020800, 4096, bar, 0 };
	unsigned n;

	assert_int_equal(F.nmem, 1);
	assert_int_equal(F.mem[0].guest_pfn, RAM_GPA >> 12);
	assert_int_equal(F.mem[0].size, RAM_SZ);
	assert_int_equal(F.mem[0].flags,
	                 (1u << MSHV_SET_MEM_BIT_WRITABLE) | (1u << MSHV_SET_MEM_BIT_EXECUTABLE));
	assert_int_equal(hv_mshv_ops.mem_map(e->vm, &ro), 0);
	assert_int_equal(F.mem[1].flags, 1u << MSHV_SET_MEM_BIT_EXECUTABLE);
	e->vm->caps.devmem = HV_DEVMEM_BRIDGE; /* a kernel that maps BARs by address */
	assert_int_equal(hv_mshv_ops.mem_map(e->vm, &dev), 0);
	assert_int_equal(F.mem[2].flags, 1u << MSHV_SET_MEM_BIT_WRITABLE);
	n = F.nmem;
	capture_begin();
	assert_int_equal(hv_mshv_ops.mem_map(e->vm, &overlap), -EEXIST);
	assert_int_equal(hv_mshv_ops.mem_map(e->vm, &odd), -EINVAL);
	capture_end();
	assert_int_equal(F.nmem, n); /* refused before the kernel */
	/* Unmap repeats the exact mapping with only UNMAP set; a near miss is not found. */
	ro.size = 4096;
	assert_int_equal(hv_mshv_ops.mem_unmap(e->vm, &ro), -ENOENT);
	ro.size = 8192;
	assert_int_equal(hv_mshv_ops.mem_unmap(e->vm, &ro), 0);
	assert_int_equal(F.mem[n].flags, 1u << MSHV_SET_MEM_BIT_UNMAP);
	assert_int_equal(F.mem[n].guest_pfn, 0xc0000);
	assert_int_equal(F.mem[n].size, 8192);
	assert_int_equal(F.mem[n].userspace_addr, (uintptr_t)rom);
	assert_int_equal(hv_mshv_ops.mem_unmap(e->vm, &dev), 0);
	free(rom);
	free(bar);
}

static void test_register_marshalling(void **state)
{
	struct hv_sregs s = { 0 }, back;
	struct hv_regs r, rb;
	union mshv_reg_value v[MSHV_NR_SREGS], rv[MSHV_NR_REGS];
	uint8_t raw[16];

	(void)state;
	for (unsigned i = 0; i < 18; i++)
		((uint64_t *)&r)[i] = 0x1000 + i;
	mshv_regs_pack(&r, rv);
	assert_int_equal(mshv_regs_names[0], MSHV_REG_RAX);
	assert_int_equal(mshv_regs_names[1], MSHV_REG_RBX);
	assert_int_equal(mshv_regs_names[6], MSHV_REG_RSP);
	assert_int_equal(rv[1].reg64, r.rbx);
	assert_int_equal(rv[16].reg64, r.rip);
	mshv_regs_unpack(&rb, rv);
	assert_memory_equal(&r, &rb, sizeof(r));
	s.cs = (struct hv_segment){ .selector = 0x10,
		                    .limit = 0xfffff,
		                    .type = 0xb,
		                    .s = 1,
		                    .present = 1,
		                    .l = 1,
		                    .g = 1 };
	s.tr = (struct hv_segment){ .selector = 0x8, .limit = 0x67, .type = 0xb, .present = 1 };
	s.ldt = (struct hv_segment){ .type = 2, .present = 1, .unusable = 1 };
	s.ds = (struct hv_segment){ .selector = 0x18,
		                    .type = 3,
		                    .s = 1,
		                    .present = 1,
		                    .db = 1,
		                    .g = 1,
		                    .dpl = 3,
		                    .base = 0x1234 };
	s.gdt = (struct hv_dtable){ 0x500, 31 };
	s.cr0 = 0x80050033;
	s.efer = 0x500;
	mshv_sregs_pack(&s, v);
	assert_int_equal(mshv_sregs_names[0], MSHV_REG_CR4); /* PAE before LME before PG */
	assert_int_equal(mshv_sregs_names[5], MSHV_REG_CR0);
	assert_int_equal(v[6].seg.attributes, 0xa09b);
	assert_int_equal(v[12].seg.attributes, 0x008b);
	assert_int_equal(v[13].seg.attributes & MSHV_SEG_P, 0); /* unusable: not present */
	assert_int_equal(v[7].seg.attributes, 0xc0f3);
	memcpy(raw, &v[14], 16);
	assert_int_equal(raw[6] | raw[7] << 8, 31); /* limit at offset 6, base at 8 */
	assert_int_equal(raw[8] | raw[9] << 8, 0x500);
	mshv_sregs_unpack(&back, v);
	assert_int_equal(back.cs.l, 1);
	assert_int_equal(back.ds.dpl, 3);
	assert_int_equal(back.ds.base, 0x1234);
	assert_int_equal(back.ldt.unusable, 1);
	assert_int_equal(back.gdt.base, 0x500);
	assert_int_equal(back.cr0, s.cr0);
}

static void test_regs_through_hypercalls(void **state)
{
	struct env *e = *state;
	struct hv_sregs s = { 0 };
	struct hv_regs r = { .rax = 1, .rip = 0x100000, .rflags = 2 }, out;

	assert_int_equal(hv_mshv_ops.vcpu_set_regs(e->v, &r), 0);
	assert_int_equal(fake_get(MSHV_REG_RIP), 0x100000);
	assert_int_equal(hv_mshv_ops.vcpu_get_regs(e->v, &out), 0);
	assert_int_equal(out.rax, 1);
	s.apic_base = 0xfee00800;
	assert_int_equal(hv_mshv_ops.vcpu_set_sregs(e->v, &s), 0);
	assert_int_equal(fake_get(MSHV_REG_APIC_BASE), 0xfee00900); /* BSP flag on VP 0 */
	assert_int_equal(hv_mshv_ops.vcpu_set_state(e->v, HV_VCPU_WAIT_SIPI), 0);
	assert_int_equal(fake_get(MSHV_REG_INTERNAL_ACTIVITY_STATE), 1);
	assert_int_equal(hv_mshv_ops.vcpu_set_state(e->v, HV_VCPU_RUNNABLE), 0);
	assert_int_equal(fake_get(MSHV_REG_INTERNAL_ACTIVITY_STATE), 0);
	/* A hypervisor that handles fewer registers than asked is an error, not silence. */
	F.reg_limit = 5;
	capture_begin();
	assert_int_equal(hv_mshv_ops.vcpu_get_regs(e->v, &out), -EINVAL);
	assert_non_null(strstr(capture_end(), "HVCALL_GET_VP_REGISTERS"));
}

static void test_port_out(void **state)
{
	struct env *e = *state;

	step_io(0x3f8, 1, true, 0x1234567841ull, 0x100010, "\xee", 1, 0, true);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(F.nio, 1);
	assert_false(F.io[0].mmio);
	assert_true(F.io[0].write);
	assert_int_equal(F.io[0].addr, 0x3f8);
	assert_int_equal(F.io[0].data, 0x41);
	/* Completed through the register page: the fake took it at the next dispatch. */
	assert_int_equal(fake_get(MSHV_REG_RIP), 0x100011);
	assert_int_equal(F.sets, 0);
}

static void test_port_in_merges(void **state)
{
	struct env *e = *state;

	F.dev_read = 0xa1a2a3a4;
	step_io(0x60, 1, false, 0x1122334455667788ull, 0x1000, "\xec", 1, 0, false);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(fake_get(MSHV_REG_RAX), 0x11223344556677a4ull);
	assert_int_equal(fake_get(MSHV_REG_RIP), 0x1001);
	F.pos = F.nsteps = 0;
	step_io(0x60, 2, false, 0x1122334455667788ull, 0x1000, "\x66\xed", 2, 0, true);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(fake_get(MSHV_REG_RAX), 0x112233445566a3a4ull);
	assert_int_equal(fake_get(MSHV_REG_RIP), 0x1002);
	F.pos = F.nsteps = 0;
	step_io(0x60, 4, false, 0x1122334455667788ull, 0x1000, "\xed", 1, 0, false);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(fake_get(MSHV_REG_RAX), 0xa1a2a3a4ull); /* 32-bit: zero-extended */
}

static void test_port_string(void **state)
{
	struct env *e = *state;

	memcpy(e->ram + 0x100, "abc", 3);
	fake_set(MSHV_REG_RCX, 3);
	fake_set(MSHV_REG_RSI, RAM_GPA + 0x100);
	fake_set(MSHV_REG_RDX, 0x3f8);
	step_io(0x3f8, 1, true, 0, 0x2000, "\xf3\x6e", 2, MSHV_IO_STRING | MSHV_IO_REP, true);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(F.nio, 3);
	assert_int_equal(F.io[0].data, 'a');
	assert_int_equal(F.io[2].data, 'c');
	assert_int_equal(fake_get(MSHV_REG_RCX), 0);
	assert_int_equal(fake_get(MSHV_REG_RSI), RAM_GPA + 0x103);
	assert_int_equal(fake_get(MSHV_REG_RIP), 0x2002);
	assert_true(F.translates >= 1); /* no GPA in a port message: RSI is translated */
}

static void test_mmio_read(void **state)
{
	struct env *e = *state;
	bool page;

	/* mov eax, [rbx]: once with the register page, once through hypercalls. */
	for (int i = 0; i < 2; i++) {
		page = i == 0;
		F.pos = F.nsteps = F.nio = F.gets = 0;
		F.dev_read = 0x55667788;
		fake_set(MSHV_REG_RBX, MMIO + 0x10);
		fake_set(MSHV_REG_RAX, ~0ull);
		step_mem(MMIO + 0x10, MSHV_ACCESS_READ, 0x3000, "\x8b\x03", 2, page);
		assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
		assert_int_equal(F.nio, 1);
		assert_true(F.io[0].mmio);
		assert_false(F.io[0].write);
		assert_int_equal(F.io[0].addr, MMIO + 0x10);
		assert_int_equal(F.io[0].len, 4);
		assert_int_equal(fake_get(MSHV_REG_RAX), 0x55667788);
		assert_int_equal(fake_get(MSHV_REG_RIP), 0x3002);
		assert_int_equal(F.gets, page ? 0 : 1);
	}
}

static void test_mmio_movs_from_ram(void **state)
{
	struct env *e = *state;

	/* rep movsd: 2 dwords from RAM to MMIO; the emulator reads RAM itself. */
	memcpy(e->ram + 0x200, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
	fake_set(MSHV_REG_RSI, RAM_GPA + 0x200);
	fake_set(MSHV_REG_RDI, MMIO + 0x40);
	fake_set(MSHV_REG_RCX, 2);
	step_mem(MMIO + 0x40, MSHV_ACCESS_WRITE, 0x4000, "\xf3\xa5", 2, true);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(F.nio, 2);
	assert_true(F.io[0].write);
	assert_int_equal(F.io[0].data, 0x04030201);
	assert_int_equal(F.io[1].addr, MMIO + 0x44);
	assert_int_equal(F.io[1].data, 0x08070605);
	assert_int_equal(fake_get(MSHV_REG_RDI), MMIO + 0x48);
	assert_int_equal(fake_get(MSHV_REG_RIP), 0x4002);
}

static void test_mmio_write_to_ram_region(void **state)
{
	struct env *e = *state;

	/* A GPA intercept on RAM (a read-only mapping elsewhere): RAM here is written directly. */
	fake_set(MSHV_REG_RBX, RAM_GPA + 0x300);
	fake_set(MSHV_REG_RAX, 0xcafe);
	step_mem(RAM_GPA + 0x300, MSHV_ACCESS_WRITE, 0x5000, "\x66\x89\x03", 3, false);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(F.nio, 0);
	assert_int_equal(e->ram[0x300] | e->ram[0x301] << 8, 0xcafe);
	assert_int_equal(fake_get(MSHV_REG_RIP), 0x5003);
}

static void test_emulator_failure_shows_bytes(void **state)
{
	struct env *e = *state;
	enum hv_exit x;
	const char *log;

	step_mem(MMIO, MSHV_ACCESS_READ, 0x6000, "\x0f\x28\x03", 3, true); /* movaps */
	capture_begin();
	assert_true(hv_mshv_ops.vcpu_run(e->v, &x) < 0);
	log = capture_end();
	assert_non_null(strstr(log, "cannot emulate 0f 28"));
	assert_non_null(strstr(log, "bytes at rip: 0f 28 03"));
	assert_int_equal(F.nio, 0);
}

static void test_other_messages(void **state)
{
	struct env *e = *state;
	struct mshv_intercept_header h;
	struct mshv_msg_eoi eoi = { .vp_index = 0, .vector = 0x42 };
	struct mshv_msg_msr msr = { .msr = 0x1234, .rax = 5, .rdx = 6 };
	struct mshv_msg_cpuid cpuid = {
		.default_rax = 1, .default_rbx = 2, .default_rcx = 3, .default_rdx = 4
	};
	struct mshv_msg_mem exec = { .gpa = MMIO };
	enum hv_exit x;

	hdr(&h, 0x7000, 1, 0);
	step_add(MSHV_MSG_X64_APIC_EOI, &eoi, sizeof(eoi), false);
	step_add(MSHV_MSG_X64_HALT, &h, sizeof(h), false);
	assert_int_equal(run(e), HV_EXIT_HALT);
	assert_int_equal(F.eoi_vector, 0x42);
	step_add(MSHV_MSG_UNRECOVERABLE_EXCEPTION, &h, sizeof(h), false);
	assert_int_equal(run(e), HV_EXIT_SHUTDOWN);
	/* An MSR intercept reads 0 and moves on; CPUID takes the hypervisor's result. */
	hdr(&msr.h, 0x7100, 2, MSHV_ACCESS_READ);
	step_add(MSHV_MSG_X64_MSR, &msr, sizeof(msr), true);
	hdr(&cpuid.h, 0x7200, 2, 0);
	step_add(MSHV_MSG_X64_CPUID, &cpuid, sizeof(cpuid), false);
	capture_begin();
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_non_null(strstr(capture_end(), "rdmsr of MSR 0x1234"));
	assert_int_equal(fake_get(MSHV_REG_RIP), 0x7202);
	assert_int_equal(fake_get(MSHV_REG_RDX), 4); /* CPUID's default EDX, after RDMSR's 0 */
	assert_int_equal(fake_get(MSHV_REG_RBX), 2);
	/* Running code from MMIO ends the VM as a crash, like KVM's internal error. */
	F.pos = F.nsteps = 0;
	hdr(&exec.h, 0x8000, 0, MSHV_ACCESS_EXECUTE);
	step_add(MSHV_MSG_UNMAPPED_GPA, &exec, sizeof(exec), false);
	capture_begin();
	assert_int_equal(run(e), HV_EXIT_SHUTDOWN);
	capture_end();
	/* A register the hypervisor refuses, and a message nobody knows, are failures. */
	F.pos = F.nsteps = 0;
	step_add(MSHV_MSG_INVALID_VP_REGISTER, &h, sizeof(h), false);
	capture_begin();
	assert_int_equal(hv_mshv_ops.vcpu_run(e->v, &x), -EINVAL);
	assert_non_null(strstr(capture_end(), "invalid value"));
	F.pos = F.nsteps = 0;
	step_add(0x80001234, &h, sizeof(h), false);
	capture_begin();
	assert_int_equal(hv_mshv_ops.vcpu_run(e->v, &x), -EIO);
	assert_non_null(strstr(capture_end(), "0x80001234"));
}

static void test_run_errors(void **state)
{
	struct env *e = *state;
	enum hv_exit x;

	F.steps[F.nsteps++] = (struct fake_run_step){ .err = -EAGAIN };
	F.steps[F.nsteps++] = (struct fake_run_step){ .err = -EFAULT };
	capture_begin();
	assert_int_equal(hv_mshv_ops.vcpu_run(e->v, &x), -EFAULT);
	assert_non_null(strstr(capture_end(), "MSHV_RUN_VP vCPU 0"));
	assert_int_equal(F.runs, 2); /* EAGAIN was retried */
}

static void test_kick_before_run(void **state)
{
	struct env *e = *state;

	hv_mshv_ops.vcpu_kick(e->v);
	step_io(0x80, 1, true, 0, 0x1000, "\xe6\x80", 2, 0, true);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(F.runs, 0); /* never entered */
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(F.nio, 1); /* the kick was consumed once */
}

struct kick_ctx {
	struct env *e;
	enum hv_exit x;
	int r;
};

static void *kick_runner(void *arg)
{
	struct kick_ctx *k = arg;

	k->r = hv_mshv_ops.vcpu_run(k->e->v, &k->x);
	return NULL;
}

static void test_kick_lost_signal_is_repeated(void **state)
{
	struct env *e = *state;
	struct kick_ctx k = { .e = e, .r = -1 };
	pthread_t t;
	uint64_t t0;

	/* The fake spins for 3 ms (signals there are lost), then blocks until a signal. */
	F.steps[F.nsteps++] = (struct fake_run_step){ .block = true };
	assert_int_equal(pthread_create(&t, NULL, kick_runner, &k), 0);
	while (!atomic_load(&e->v->in_run))
		usleep(100);
	t0 = clock_ns();
	hv_mshv_ops.vcpu_kick(e->v);
	pthread_join(t, NULL);
	assert_int_equal(k.r, 0);
	assert_int_equal(k.x, HV_EXIT_INTERRUPTED);
	assert_true(clock_ns() - t0 < 1000000000ull);
}

static void test_interrupts(void **state)
{
	struct env *e = *state;
	struct hv_msi_route routes[3] = { { 3, 0xfee01000, 0x4041 },
		                          { 30, 0xfee03004, 0x8022 },
		                          { 24, 0xfee00000, 0x4031 } };
	struct hv_msi_route high = { 4, 0x1fee00000ull, 0x30 };
	struct hv_vcpu *v1;
	struct hv_ioeventfd pio = { .addr = 0x600, .len = 1, .pio = true, .fd = 5 };
	struct hv_ioeventfd mm = { .addr = MMIO, .len = 4, .datamatch = true, .data = 7, .fd = 6 };
	struct mshv_in_assert_irq q;

	assert_int_equal(hv_mshv_ops.vcpu_create(e->vm, 1, 2, &dev_io, &v1), 0);
	assert_int_equal(hv_mshv_ops.set_msi_routes(e->vm, routes, 3), 0);
	assert_int_equal(F.nroutes, 3);
	assert_int_equal(F.routes[1].gsi, 30);
	assert_int_equal(F.routes[1].address_lo, 0xfee03004);
	assert_int_equal(F.routes[1].address_hi, 0);
	assert_int_equal(F.routes[1].data, 0x8022);
	capture_begin();
	assert_int_equal(hv_mshv_ops.set_msi_routes(e->vm, &high, 1), -EINVAL);
	capture_end();
	assert_int_equal(F.nroutes, 3); /* not sent */
	/* MSI decoding: destination 1, logical, level, vector 0x41, fixed. */
	assert_int_equal(mshv_msi_decode(0xfee01004, 0x8041, &q), 0);
	assert_int_equal(q.apic_id, 1);
	assert_int_equal(q.vector, 0x41);
	assert_int_equal(q.type, MSHV_IRQ_FIXED);
	assert_int_equal(q.flags, MSHV_IRQ_LEVEL | MSHV_IRQ_LOGICAL);
	assert_int_equal(mshv_msi_decode(0xfee00000, 0x400, &q), 0);
	assert_int_equal(q.type, MSHV_IRQ_NMI);
	assert_int_equal(mshv_msi_decode(0xd0000000, 0x41, &q), -EINVAL);
	assert_int_equal(hv_mshv_ops.signal_msi(e->vm, 0xfee01000, 0x31), 0);
	assert_int_equal(F.assert_irq.apic_id, 1);
	assert_int_equal(F.assert_irq.vector, 0x31);
	assert_int_equal(F.assert_irq.flags, 0);
	/* irqfds; ioeventfds for MMIO only. */
	assert_int_equal(hv_mshv_ops.irqfd_assign(e->vm, 9, 24), 0);
	assert_int_equal(F.irqfd.fd, 9);
	assert_int_equal(F.irqfd.gsi, 24);
	assert_int_equal(F.irqfd.flags, 0);
	assert_int_equal(hv_mshv_ops.irqfd_deassign(e->vm, 9, 24), 0);
	assert_int_equal(F.irqfd.flags, 1u << MSHV_IRQFD_BIT_DEASSIGN);
	assert_int_equal(hv_mshv_ops.ioeventfd_assign(e->vm, &pio), -EOPNOTSUPP);
	assert_int_equal(fake_find(MSHV_IOEVENTFD, 0, 0), -1);
	assert_int_equal(hv_mshv_ops.ioeventfd_assign(e->vm, &mm), 0);
	assert_int_equal(F.ioeventfd.flags, 1u << MSHV_IOEVENTFD_BIT_DATAMATCH);
	assert_int_equal(F.ioeventfd.addr, MMIO);
	assert_int_equal(F.ioeventfd.len, 4);
	assert_int_equal(F.ioeventfd.datamatch, 7);
	assert_int_equal(hv_mshv_ops.ioeventfd_deassign(e->vm, &mm), 0);
	assert_int_equal(F.ioeventfd.flags, (1u << MSHV_IOEVENTFD_BIT_DATAMATCH) |
	                                        (1u << MSHV_IOEVENTFD_BIT_DEASSIGN));
	hv_mshv_ops.vcpu_destroy(v1);
}

/* ---------------- the real driver's behaviour (mshv-real-driver.md) ---------------- */

/* CH and OpenVMM ask again when MSHV_CREATE_PARTITION is interrupted by a signal. */
static void test_create_partition_eintr(void **state)
{
	struct hv_vm *vm = NULL;

	(void)state;
	memset(&F, 0, sizeof(F));
	F.create_eintr = 2;
	assert_int_equal(mshv_vm_create_with(&fake_sys, &vm), 0);
	assert_int_equal(F.creates, 3);
	hv_mshv_ops.vm_destroy(vm);
}

static uint64_t fake_prop(uint64_t code)
{
	for (unsigned i = 0; i < F.nprops; i++)
		if (F.props[i][0] == code)
			return F.props[i][1];
	fail_msg("property %#llx was never set", (unsigned long long)code);
	return 0;
}

/*
 * The synthetic features: Cloud Hypervisor's and rust-vmm's default set without SynIC and
 * synthetic timers; on a kernel that answers the host's assignable set, intersected with it.
 */
static void test_synthetic_features(void **state)
{
	struct hv_vm *vm = NULL;
	uint64_t f;

	(void)state;
	memset(&F, 0, sizeof(F));
	assert_int_equal(mshv_vm_create_with(&fake_sys, &vm), 0);
	f = fake_prop(MSHV_PROP_SYNTHETIC_PROC_FEATURES);
	/* Bits 0 1 3 6-11 25 26 38 53: hv1, clocks, hypercalls, VP index/regs, APIC MSRs... */
	assert_int_equal(f, 0x0020004006000fcbull);
	assert_int_equal(f, MSHV_SYNTH_DEFAULT);
	assert_int_equal(f & (MSHV_SYNTH_ACCESS_SYNIC | MSHV_SYNTH_ACCESS_STIMER |
	                      MSHV_SYNTH_DIRECT_STIMERS | MSHV_SYNTH_ACCESS_VP_RUNTIME),
	                 0);
	hv_mshv_ops.vm_destroy(vm);
	memset(&F, 0, sizeof(F));
	F.assignable_known = true;
	F.assignable = MSHV_SYNTH_HYPERVISOR_PRESENT | MSHV_SYNTH_HV1 | MSHV_SYNTH_ACCESS_SYNIC |
	               MSHV_SYNTH_ACCESS_REF_TSC | (1ull << 60);
	assert_int_equal(mshv_vm_create_with(&fake_sys, &vm), 0);
	assert_int_equal(fake_prop(MSHV_PROP_SYNTHETIC_PROC_FEATURES),
	                 MSHV_SYNTH_HYPERVISOR_PRESENT | MSHV_SYNTH_HV1 |
	                     MSHV_SYNTH_ACCESS_REF_TSC);
	hv_mshv_ops.vm_destroy(vm);
}

/* Topology on the partition; each VP's initial APIC ID and APIC base, as OpenVMM sets them. */
static void test_vp_identity(void **state)
{
	struct env *e = *state;
	struct hv_vcpu *v1;

	assert_int_equal(fake_prop(MSHV_PROP_PROCESSORS_PER_SOCKET), 2);
	assert_int_equal(fake_get(MSHV_REG_INITIAL_APIC_ID), 0);
	assert_int_equal(fake_get(MSHV_REG_APIC_BASE), 0xfee00900);
	assert_true(fake_find(MSHV_ROOT_HVCALL, MSHV_HVCALL_SET_PARTITION_PROPERTY,
	                      MSHV_PROP_PROCESSORS_PER_SOCKET) < fake_find(MSHV_CREATE_VP, 0, 0));
	assert_int_equal(hv_mshv_ops.vcpu_create(e->vm, 1, 2, &dev_io, &v1), 0);
	assert_int_equal(fake_get(MSHV_REG_INITIAL_APIC_ID), 1);
	assert_int_equal(fake_get(MSHV_REG_APIC_BASE), 0xfee00800); /* no BSP flag */
	assert_int_equal(F.nprops, 3); /* features, MSR action, processors per socket: once */
	hv_mshv_ops.vcpu_destroy(v1);
}

/* BAR mappings: refused where the kernel would take vm_pgoff; by the bridge where it exists. */
static void test_device_memory_modes(void **state)
{
	struct env *e = *state;
	uint8_t *bar = aligned_alloc(4096, 4096);
	struct hv_mem_region dev = { 0xc0010000, 4096, bar, HV_MEM_DEVICE };
	struct hv_vm *vm = NULL;
	struct hv_caps caps;
	unsigned n = F.nmem;

	hv_mshv_ops.caps(e->vm, &caps);
	assert_int_equal(caps.devmem, HV_DEVMEM_TRAP);
	assert_non_null(strstr(caps.devmem_why, "vm_pgoff"));
	capture_begin();
	assert_int_equal(hv_mshv_ops.mem_map(e->vm, &dev), -EOPNOTSUPP);
	assert_non_null(strstr(capture_end(), "would see other host pages"));
	assert_int_equal(F.nmem, n);                                /* the kernel never saw it */
	assert_int_equal(hv_mshv_ops.vfio_group_add(e->vm, 33), 0); /* nothing to tell */
	assert_int_equal(fake_find(MSHV_CREATE_DEVICE, 0, 0) >= 0, true); /* the probe only */
	/* A kernel with the VFIO bridge: the group goes to its device, BARs may be mapped. */
	hv_mshv_ops.vcpu_destroy(e->v);
	e->v = NULL;
	F.bridge = true;
	assert_int_equal(mshv_vm_create_with(&fake_sys, &vm), 0);
	hv_mshv_ops.caps(vm, &caps);
	assert_int_equal(caps.devmem, HV_DEVMEM_BRIDGE);
	assert_int_equal(hv_mshv_ops.vfio_group_add(vm, 33), 0);
	assert_int_equal(F.bridge_file, 33);
	assert_int_equal(hv_mshv_ops.mem_map(vm, &dev), 0);
	assert_int_equal(hv_mshv_ops.mem_unmap(vm, &dev), 0);
	hv_mshv_ops.vm_destroy(vm);
	free(bar);
}

/* A step of GPA intercept with an explicit execution state. */
static void step_mem_state(uint64_t gpa, uint8_t access, uint64_t rip, const char *insn,
                           unsigned len, uint16_t exec_extra)
{
	struct mshv_msg_mem m = { .insn_count = (uint8_t)len, .gpa = gpa };

	hdr(&m.h, rip, 0, access);
	m.h.exec_state |= exec_extra;
	memcpy(m.insn, insn, len);
	fake_set(MSHV_REG_RIP, rip);
	step_add(MSHV_MSG_UNMAPPED_GPA, &m, sizeof(m), true);
}

/*
 * Translation result codes 4-7 (GPA unmapped, no read/write access, illegal overlay): the walk
 * succeeded, the GPA is used.  1-3 are page faults: nothing is emulated.
 */
static void test_translate_gpa_access_codes(void **state)
{
	struct env *e = *state;
	enum hv_exit x;

	for (uint32_t code = 1; code <= 7; code++) {
		F.pos = F.nsteps = F.nio = 0;
		F.translate_code = code;
		F.dev_read = 0x5a;
		/* movsb from MMIO+0x10 to MMIO+0x20: the message's GPA is the source's. */
		fake_set(MSHV_REG_RSI, MMIO + 0x10);
		fake_set(MSHV_REG_RDI, MMIO + 0x20);
		step_mem(MMIO + 0x10, MSHV_ACCESS_READ, 0x9000, "\xa4", 1, true);
		capture_begin();
		if (code >= 4) {
			assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
			capture_end();
			assert_int_equal(F.nio, 2);
			assert_true(F.io[1].write);
			assert_int_equal(F.io[1].addr, MMIO + 0x20);
			assert_int_equal(fake_get(MSHV_REG_RIP), 0x9001);
		} else {
			assert_true(hv_mshv_ops.vcpu_run(e->v, &x) < 0);
			capture_end();
			assert_true(F.nio <= 1); /* the write never happened */
		}
	}
	F.translate_code = 0;
}

/* An instruction fetch is translated for read and execute (Cloud Hypervisor's flags). */
static void test_fetch_read_execute(void **state)
{
	struct env *e = *state;

	/* The message carries no instruction bytes: hvmm reads `mov eax, [rbx]` from RAM. */
	memcpy(e->ram + 0x400, "\x8b\x03", 2);
	fake_set(MSHV_REG_RBX, MMIO);
	step_mem(MMIO, MSHV_ACCESS_READ, RAM_GPA + 0x400, "", 0, true);
	assert_int_equal(run(e), HV_EXIT_INTERRUPTED);
	assert_int_equal(F.nio, 1);
	assert_int_equal(F.translate_flags,
	                 MSHV_TRANSLATE_VALIDATE_READ | MSHV_TRANSLATE_VALIDATE_EXECUTE);
	assert_int_equal(fake_get(MSHV_REG_RIP), RAM_GPA + 0x402);
}

/* An intercept taken during event delivery belongs to no instruction: nothing is emulated. */
static void test_interruption_pending(void **state)
{
	struct env *e = *state;

	fake_set(MSHV_REG_RBX, MMIO);
	step_mem_state(MMIO, MSHV_ACCESS_READ, 0xa000, "\x8b\x03", 2,
	               MSHV_EXEC_INTERRUPTION_PENDING);
	capture_begin();
	assert_int_equal(run(e), HV_EXIT_SHUTDOWN);
	assert_non_null(strstr(capture_end(), "event delivery"));
	assert_int_equal(F.nio, 0);
	assert_int_equal(fake_get(MSHV_REG_RIP), 0xa000); /* not moved on */
}

/* HALT messages back to back at one RIP: re-entry is paced, once logged; another resets. */
static void test_halt_paced(void **state)
{
	struct env *e = *state;
	struct mshv_intercept_header h;
	uint64_t t0, dt[5];
	const char *log;

	hdr(&h, 0xb000, 1, 0);
	for (int i = 0; i < 5; i++)
		step_add(MSHV_MSG_X64_HALT, &h, sizeof(h), false);
	capture_begin();
	for (int i = 0; i < 5; i++) {
		t0 = clock_ns();
		assert_int_equal(run(e), HV_EXIT_HALT);
		dt[i] = clock_ns() - t0;
	}
	log = capture_end();
	assert_non_null(strstr(log, "HALT at rip 0xb000 again and again"));
	assert_null(strstr(strstr(log, "again and again") + 1, "again and again"));
	assert_true(dt[2] >= 50000 && dt[3] >= 100000 && dt[4] >= 200000);
	assert_int_equal(e->v->halt_pauses, 3);
	/* Any other message between HALTs starts the count again. */
	F.pos = F.nsteps = 0;
	step_io(0x80, 1, true, 0, 0xb000, "\xe6\x80", 2, 0, true);
	step_add(MSHV_MSG_X64_HALT, &h, sizeof(h), false);
	assert_int_equal(run(e), HV_EXIT_HALT);
	assert_int_equal(e->v->halts_in_a_row, 1);
	assert_int_equal(e->v->halt_pauses, 3);
}

/* INVALID_VP_REGISTER_VALUE carries {vp_index, reserved}: the log names the VP, no RIP. */
static void test_invalid_register_message(void **state)
{
	struct env *e = *state;
	struct mshv_msg_opaque m = { .vp_index = 7, .rsvd = 0xdeadbeef };
	enum hv_exit x;
	const char *log;

	step_add(MSHV_MSG_INVALID_VP_REGISTER, &m, sizeof(m), false);
	capture_begin();
	assert_int_equal(hv_mshv_ops.vcpu_run(e->v, &x), -EINVAL);
	log = capture_end();
	assert_non_null(strstr(log, "will not run VP 7"));
	assert_null(strstr(log, "rip"));
}

static unsigned fake_count(unsigned long req)
{
	unsigned n = 0;

	for (unsigned i = 0; i < F.ncalls; i++)
		n += F.calls[i].req == req;
	return n;
}

/*
 * Routes the host can take: a physical destination with no VP, the xAPIC broadcast, a
 * logical destination naming no VP and a vector below 16 never reach the driver; each kind
 * is logged once and counted.
 */
static void test_routes_filtered(void **state)
{
	struct env *e = *state;
	struct hv_msi_route routes[] = {
		{ 3, 0xfee01000, 0x4041 },  /* physical, VP 1: kept */
		{ 4, 0xfee05000, 0x4042 },  /* physical, APIC ID 5: no VP */
		{ 5, 0xfeeff000, 0x4043 },  /* physical 0xFF: broadcast */
		{ 6, 0xfee00004, 0x4044 },  /* logical, no destination */
		{ 7, 0xfee0c004, 0x4045 },  /* logical 0x0c: VPs 2 and 3, which do not exist */
		{ 8, 0xfee03004, 0x4046 },  /* logical 0x03: VPs 0 and 1: kept */
		{ 9, 0xfee00000, 0x4005 },  /* vector 5 */
		{ 10, 0xfee01000, 0x4405 }, /* NMI: the vector does not matter */
		{ 11, 0xfee05000, 0x4047 }, /* a second absent VP: counted, not logged */
	};
	struct hv_vcpu *v1;
	char line[512];
	const char *log;

	assert_int_equal(hv_mshv_ops.vcpu_create(e->vm, 1, 2, &dev_io, &v1), 0);
	capture_begin();
	assert_int_equal(hv_mshv_ops.set_msi_routes(e->vm, routes, ARRAY_SIZE(routes)), 0);
	log = capture_end();
	assert_int_equal(F.nroutes, 3);
	assert_int_equal(F.routes[0].gsi, 3);
	assert_int_equal(F.routes[1].gsi, 8);
	assert_int_equal(F.routes[2].gsi, 10);
	assert_non_null(strstr(log, "GSI 4 "));
	assert_non_null(strstr(log, "broadcast"));
	assert_non_null(strstr(log, "GSI 6 "));
	assert_null(strstr(log, "GSI 7 ")); /* the second of its kind */
	assert_non_null(strstr(log, "vector is below 16"));
	assert_null(strstr(log, "GSI 11 "));
	hv_mshv_ops.stats(e->vm, line, sizeof(line));
	assert_non_null(strstr(line, "MSI routes kept from the kernel 6 (absent VP 2, broadcast 1, "
	                             "no VP named 2, vector below 16 1"));
	/* The same table again: nothing newly unroutable, nothing counted. */
	assert_int_equal(hv_mshv_ops.set_msi_routes(e->vm, routes, ARRAY_SIZE(routes)), 0);
	hv_mshv_ops.stats(e->vm, line, sizeof(line));
	assert_non_null(strstr(line, "kept from the kernel 6 "));
	/* Direct MSIs take the same filter. */
	capture_begin();
	assert_int_equal(hv_mshv_ops.signal_msi(e->vm, 0xfeeff000, 0x41), -EINVAL);
	capture_end();
	hv_mshv_ops.vcpu_destroy(v1);
}

/*
 * No irqfd is bound without a valid route: the driver would assert vector 0 (on GSI 0 even
 * its slow path skips the check).  The binding follows the route table.
 */
static void test_irqfd_waits_for_route(void **state)
{
	struct env *e = *state;
	struct hv_msi_route r0 = { 0, 0xfee00000, 0x4031 };
	struct hv_msi_route bad = { 0, 0xfee07000, 0x4031 };
	int assign, route, unbind;
	char line[512];

	assert_int_equal(hv_mshv_ops.irqfd_assign(e->vm, 40, 0), 0);
	assert_int_equal(fake_count(MSHV_IRQFD), 0); /* no route for GSI 0 yet */
	hv_mshv_ops.stats(e->vm, line, sizeof(line));
	assert_non_null(strstr(line, "irqfds waiting for a route 1"));
	assert_int_equal(hv_mshv_ops.set_msi_routes(e->vm, &r0, 1), 0);
	route = fake_find(MSHV_SET_MSI_ROUTING, 0, 0);
	assign = fake_find(MSHV_IRQFD, 0, 0); /* gsi 0, flags 0 */
	assert_true(route >= 0 && assign > route);
	/* The route goes bad: the irqfd is unbound before the table changes. */
	F.ncalls = 0;
	capture_begin();
	assert_int_equal(hv_mshv_ops.set_msi_routes(e->vm, &bad, 1), 0);
	capture_end();
	unbind = fake_find(MSHV_IRQFD, 0, 1u << (16 + MSHV_IRQFD_BIT_DEASSIGN));
	route = fake_find(MSHV_SET_MSI_ROUTING, 0, 0);
	assert_true(unbind >= 0 && route > unbind);
	assert_int_equal(F.nroutes, 0);
	/* hvmm's deassign of an unbound irqfd asks nothing of the kernel. */
	F.ncalls = 0;
	assert_int_equal(hv_mshv_ops.irqfd_deassign(e->vm, 40, 0), 0);
	assert_int_equal(fake_count(MSHV_IRQFD), 0);
}

static void test_select_without_dev_mshv(void **state)
{
	const struct hv_ops *hv = NULL;

	(void)state;
	if (access("/dev/mshv", F_OK) == 0) {
		printf("# skip: this host has /dev/mshv, so the message for its absence cannot "
		       "be shown\n");
		skip();
	}
	assert_int_equal(hv_mshv_ops.probe(), -ENODEV);
	capture_begin();
	assert_int_equal(hv_select("mshv", &hv), -ENODEV);
	assert_non_null(strstr(capture_end(), "no /dev/mshv: this host is not running as a "
	                                      "Microsoft Hypervisor root partition"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_create_order, setup, teardown),
		cmocka_unit_test(test_create_fails_cleanly),
		cmocka_unit_test_setup_teardown(test_memory, setup, teardown),
		cmocka_unit_test(test_register_marshalling),
		cmocka_unit_test_setup_teardown(test_regs_through_hypercalls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_in_merges, setup, teardown),
		cmocka_unit_test_setup_teardown(test_port_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_movs_from_ram, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mmio_write_to_ram_region, setup, teardown),
		cmocka_unit_test_setup_teardown(test_emulator_failure_shows_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_other_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_before_run, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kick_lost_signal_is_repeated, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interrupts, setup, teardown),
		cmocka_unit_test(test_create_partition_eintr),
		cmocka_unit_test(test_synthetic_features),
		cmocka_unit_test_setup_teardown(test_vp_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_memory_modes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_translate_gpa_access_codes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch_read_execute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interruption_pending, setup, teardown),
		cmocka_unit_test_setup_teardown(test_halt_paced, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_register_message, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_filtered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_irqfd_waits_for_route, setup, teardown),
		cmocka_unit_test(test_select_without_dev_mshv),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
