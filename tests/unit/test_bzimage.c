/* The bzImage loader on crafted images: the zero page it writes, and every refusal. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "platform/platform.h"
#include "devices/devices.h"
#include "tests/unit/unit.h"

#define SETUP_SECTS 3
#define SETUP_LEN   ((SETUP_SECTS + 1) * 512)
#define KERNEL_LEN  8192
#define IMAGE_LEN   (SETUP_LEN + KERNEL_LEN + 64) /* + a trailing signature, ignored */
#define RAM         MiB(64)
#define RUN_AT      MiB(16)
#define INIT_SIZE   MiB(4)

static uint8_t image[IMAGE_LEN];
static struct guest_mem mem;

/* A minimal image as Linux 6.x's header.S lays it out (boot protocol 2.15). */
static void make_image(void)
{
	memset(image, 0, sizeof(image));
	image[0x1f1] = SETUP_SECTS;
	le32_put(image + 0x1f4, KERNEL_LEN / 16);
	le16_put(image + 0x1fe, 0xaa55);
	image[0x200] = 0xeb;
	image[0x201] = 0x6a; /* header ends at 0x26c */
	memcpy(image + 0x202, "HdrS", 4);
	le16_put(image + 0x206, 0x020f);
	image[0x211] = 0x01; /* LOADED_HIGH */
	le32_put(image + 0x214, 0x100000);
	le32_put(image + 0x22c, 0x7fffffff);
	le32_put(image + 0x230, 0x200000);
	image[0x234] = 1;
	image[0x235] = 21;
	le16_put(image + 0x236, 0x7f); /* XLF_KERNEL_64 and friends */
	le32_put(image + 0x238, 2047);
	le64_put(image + 0x258, RUN_AT);
	le32_put(image + 0x260, INIT_SIZE);
	/* Something recognisable in the protected-mode kernel, and past the header's end. */
	for (size_t i = 0; i < KERNEL_LEN; i++)
		image[SETUP_LEN + i] = (uint8_t)(i * 7 + 1);
	image[0x26c] = 0x99; /* setup code, must not reach the zero page */
	memset(image + SETUP_LEN + KERNEL_LEN, 0x5a, 64);
}

static int setup(void **state)
{
	(void)state;
	return mem_init(&mem, RAM);
}

static int teardown(void **state)
{
	(void)state;
	mem_destroy(&mem);
	return 0;
}

static uint8_t *gpa(uint64_t a)
{
	return (uint8_t *)mem.ram[0].hva + a;
}

static void test_detect(void **state)
{
	static const uint8_t elf[64] = { 0x7f, 'E', 'L', 'F' };
	struct bzimage_hdr h;
	char err[256];

	(void)state;
	make_image();
	assert_true(bzimage_is_bzimage(image, sizeof(image)));
	assert_false(bzimage_is_bzimage(image, 0x205));
	assert_false(bzimage_is_bzimage(elf, sizeof(elf)));
	assert_int_equal(bzimage_parse(image, sizeof(image), &h, err, sizeof(err)), 0);
	assert_int_equal(h.version, 0x020f);
	assert_int_equal(h.kernel_off, SETUP_LEN);
	assert_int_equal(h.kernel_len, KERNEL_LEN);
	assert_int_equal(h.hdr_end, 0x26c);
	assert_int_equal(h.run_start, RUN_AT);
	assert_int_equal(h.run_end, RUN_AT + INIT_SIZE);
}

static void test_good_image(void **state)
{
	static uint8_t initrd[10000];
	const char *cmdline = "console=ttyS0 root=/dev/ram0";
	struct bzimage_info bi;
	char err[256] = "";
	uint8_t *zp = gpa(BOOT_ZERO_PAGE), *e;
	uint64_t want_initrd = (RAM - sizeof(initrd)) & ~0xfffull;

	(void)state;
	make_image();
	memset(initrd, 0xab, sizeof(initrd));
	memset(zp, 0xee, 4096); /* the loader must clear what it does not set */
	assert_int_equal(bzimage_load(&mem, image, sizeof(image), cmdline, initrd, sizeof(initrd),
	                              ACPI_BASE, &bi, err, sizeof(err)),
	                 0);
	assert_int_equal(bi.entry, MiB(1) + 0x200);
	assert_int_equal(bi.boot_params, BOOT_ZERO_PAGE);
	assert_int_equal(bi.initrd_gpa, want_initrd);
	assert_int_equal(bi.initrd_size, sizeof(initrd));

	/* The protected-mode kernel at 1 MiB, without the trailing signature. */
	assert_memory_equal(gpa(MiB(1)), image + SETUP_LEN, KERNEL_LEN);
	assert_string_equal((char *)gpa(BOOT_CMDLINE_GPA), cmdline);
	/* The reset vector writes POWER_RESET_VALUE to POWER_RESET_REG, then halts. */
	assert_memory_equal(gpa(BOOT_RESET_VECTOR),
	                    ((uint8_t[]){ 0xb0, POWER_RESET_VALUE, 0xba, POWER_RESET_REG & 0xff,
	                                  POWER_RESET_REG >> 8, 0xee, 0xf4 }),
	                    7);
	assert_memory_equal(gpa(want_initrd), initrd, sizeof(initrd));

	/* Zero page: the setup header copied, nothing else of the image. */
	assert_int_equal(zp[0], 0);
	assert_int_equal(zp[0x1ef], 0); /* sentinel */
	assert_memory_equal(zp + 0x202, "HdrS", 4);
	assert_int_equal(le16_get(zp + 0x206), 0x020f);
	assert_int_equal(le32_get(zp + 0x260), INIT_SIZE);
	assert_int_equal(zp[0x26c], 0);
	/* The loader's fields. */
	assert_int_equal(zp[0x210], 0xff);
	assert_int_equal(le16_get(zp + 0x1fa), 0xffff);
	assert_int_equal(le32_get(zp + 0x214), MiB(1));
	assert_int_equal(le32_get(zp + 0x228), BOOT_CMDLINE_GPA);
	assert_int_equal(le32_get(zp + 0x218), want_initrd);
	assert_int_equal(le32_get(zp + 0x21c), sizeof(initrd));
	assert_int_equal(le32_get(zp + 0x0c0), 0);
	assert_int_equal(le32_get(zp + 0x0c4), 0);
	assert_int_equal(le32_get(zp + 0x0c8), 0);
	assert_int_equal(le64_get(zp + 0x070), ACPI_BASE);

	/* e820: low RAM, the reserved BIOS area, RAM from 1 MiB, ECAM. */
	assert_int_equal(zp[0x1e8], 4);
	e = zp + 0x2d0;
	assert_int_equal(le64_get(e + 0), 0);
	assert_int_equal(le64_get(e + 8), 0x9fc00);
	assert_int_equal(le32_get(e + 16), 1);
	e += 20;
	assert_int_equal(le64_get(e + 0), 0x9fc00);
	assert_int_equal(le64_get(e + 8), MiB(1) - 0x9fc00);
	assert_int_equal(le32_get(e + 16), 2);
	e += 20;
	assert_int_equal(le64_get(e + 0), MiB(1));
	assert_int_equal(le64_get(e + 8), RAM - MiB(1));
	assert_int_equal(le32_get(e + 16), 1);
	e += 20;
	assert_int_equal(le64_get(e + 0), MEM_ECAM_BASE);
	assert_int_equal(le64_get(e + 8), MEM_ECAM_SIZE);
	assert_int_equal(le32_get(e + 16), 2);
	assert_memory_equal(e + 20, (uint8_t[20]){ 0 }, 20);
}

static void test_no_initrd_no_cmdline(void **state)
{
	struct bzimage_info bi;
	char err[256] = "";
	uint8_t *zp = gpa(BOOT_ZERO_PAGE);

	(void)state;
	make_image();
	assert_int_equal(
	    bzimage_load(&mem, image, sizeof(image), NULL, NULL, 0, 0, &bi, err, sizeof(err)), 0);
	assert_int_equal(bi.initrd_gpa, 0);
	assert_int_equal(le32_get(zp + 0x218), 0);
	assert_int_equal(le32_get(zp + 0x21c), 0);
	assert_int_equal(le64_get(zp + 0x070), 0);
	assert_int_equal(*gpa(BOOT_CMDLINE_GPA), 0);
}

/* The initrd ends at or below initrd_addr_max, and the command line may be exactly full. */
static void test_limits(void **state)
{
	static uint8_t initrd[5000];
	char cmdline[17];
	struct bzimage_info bi;
	char err[256] = "";

	(void)state;
	make_image();
	le32_put(image + 0x22c, MiB(48) - 1);
	le32_put(image + 0x238, 16);
	memset(cmdline, 'x', 16);
	cmdline[16] = 0;
	assert_int_equal(bzimage_load(&mem, image, sizeof(image), cmdline, initrd, sizeof(initrd),
	                              0, &bi, err, sizeof(err)),
	                 0);
	assert_int_equal(bi.initrd_gpa, (MiB(48) - sizeof(initrd)) & ~0xfffull);
	assert_true(bi.initrd_gpa + sizeof(initrd) <= MiB(48));
}

/* RAM above 4 GiB appears in the e820 map (RAM is reserved lazily: nothing is touched). */
static void test_high_ram(void **state)
{
	struct guest_mem big;
	struct bzimage_info bi;
	char err[256] = "";
	uint8_t *zp, *e;

	(void)state;
	make_image();
	assert_int_equal(mem_init(&big, GiB(3) + MiB(256)), 0);
	assert_int_equal(
	    bzimage_load(&big, image, sizeof(image), "", NULL, 0, 0, &bi, err, sizeof(err)), 0);
	zp = (uint8_t *)big.ram[0].hva + BOOT_ZERO_PAGE;
	assert_int_equal(zp[0x1e8], 5);
	e = zp + 0x2d0 + 2 * 20;
	assert_int_equal(le64_get(e + 8), GiB(3) - MiB(1));
	e = zp + 0x2d0 + 4 * 20;
	assert_int_equal(le64_get(e + 0), GiB(4));
	assert_int_equal(le64_get(e + 8), MiB(256));
	assert_int_equal(le32_get(e + 16), 1);
	mem_destroy(&big);
}

typedef void (*mutator)(size_t *len, const char **cmdline, size_t *initrd_len);

static void expect_refused(mutator m, int want_err, const char *want)
{
	static uint8_t initrd[MiB(1)];
	size_t len = sizeof(image), initrd_len = 4096;
	const char *cmdline = "console=ttyS0";
	struct bzimage_info bi;
	char err[256] = "";
	uint8_t *low = gpa(MiB(1)), *zp = gpa(BOOT_ZERO_PAGE);

	make_image();
	m(&len, &cmdline, &initrd_len);
	memset(low, 0x77, 64);
	memset(zp, 0x77, 64);
	assert_int_equal(
	    bzimage_load(&mem, image, len, cmdline, initrd, initrd_len, 0, &bi, err, sizeof(err)),
	    want_err);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
	/* Guest RAM untouched. */
	assert_int_equal(low[0], 0x77);
	assert_int_equal(zp[0], 0x77);
}

static void m_short(size_t *len, const char **c, size_t *i)
{
	(void)c;
	(void)i;
	*len = 0x240;
}
static void m_truncated(size_t *len, const char **c, size_t *i)
{
	(void)c;
	(void)i;
	*len = SETUP_LEN + KERNEL_LEN / 2;
}
static void m_magic(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	image[0x205] = 'T';
}
static void m_boot_flag(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	le16_put(image + 0x1fe, 0);
}
static void m_old(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	le16_put(image + 0x206, 0x0206);
}
static void m_hdr_end(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	image[0x201] = 0x20;
}
static void m_zimage(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	image[0x211] = 0;
}
static void m_32bit(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	le16_put(image + 0x236, 0x7e);
}
static void m_syssize(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	le32_put(image + 0x1f4, 0xffffffff);
}
static void m_tiny_kernel(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	le32_put(image + 0x1f4, 0x10);
}
static void m_align(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	le32_put(image + 0x230, 0x300000);
}
static void m_cmdline(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)i;
	le32_put(image + 0x238, 8);
	*c = "console=ttyS0";
}
static void m_init_size(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	le32_put(image + 0x260, (uint32_t)MiB(60));
}
static void m_initrd(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	/* The kernel runs up to 20 MiB; 1 MiB does not fit between it and 20.5 MiB. */
	*i = MiB(1);
	le32_put(image + 0x22c, MiB(20) + KiB(512) - 1);
}
static void m_initrd_max_low(size_t *len, const char **c, size_t *i)
{
	(void)len;
	(void)c;
	(void)i;
	le32_put(image + 0x22c, MiB(8) - 1); /* below the running kernel */
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused(m_short, -ENOEXEC, "too short");
	expect_refused(m_truncated, -ENOEXEC, "truncated");
	expect_refused(m_magic, -ENOEXEC, "not a Linux bzImage");
	expect_refused(m_boot_flag, -ENOEXEC, "boot flag");
	expect_refused(m_old, -ENOEXEC, "older than 2.12");
	expect_refused(m_hdr_end, -ENOEXEC, "setup header ends");
	expect_refused(m_zimage, -ENOEXEC, "zImage");
	expect_refused(m_32bit, -ENOEXEC, "no 64-bit entry point");
	expect_refused(m_syssize, -ENOEXEC, "truncated");
	expect_refused(m_tiny_kernel, -ENOEXEC, "too small");
	expect_refused(m_align, -ENOEXEC, "power of two");
	expect_refused(m_cmdline, -E2BIG, "accepts at most 8");
	expect_refused(m_init_size, -E2BIG, "give more --memory");
	expect_refused(m_initrd, -E2BIG, "initrd");
	expect_refused(m_initrd_max_low, -E2BIG, "initrd");
}

/* Through boot_load() on the fake hypervisor: a Linux boot with ACPI tables and an initrd file. */
static void test_boot_load(void **state)
{
	char path[] = "/tmp/hvmm-test-initrd-XXXXXX";
	struct vm_config cfg = { .kernel = "crafted-bzImage", .cmdline = "console=ttyS0" };
	struct vm *vm = NULL;
	struct hv_regs regs;
	uint8_t *zp, *ram;
	int fd;

	(void)state;
	make_image();
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "initrd!", 7), 7);
	close(fd);
	cfg.initrd = path;
	fake_hv_reset();
	assert_int_equal(fake_vm_create(2, RAM, &vm), 0);
	assert_int_equal(boot_load(vm, &cfg, image, sizeof(image)), 0);
	unlink(path);
	/* Linux's way in: the BSP at startup_64 with RSI = zero page, the AP waiting for SIPI. */
	assert_int_equal(vm->hv->vcpu_get_regs(vm->vcpus[0].hv, &regs), 0);
	assert_int_equal(regs.rip, MiB(1) + 0x200);
	assert_int_equal(regs.rsi, BOOT_ZERO_PAGE);
	assert_int_equal(fake_hv_record()->vcpu_state[0], HV_VCPU_RUNNABLE);
	assert_int_equal(fake_hv_record()->vcpu_state[1], HV_VCPU_WAIT_SIPI);
	ram = vm->mem.ram[0].hva;
	zp = ram + BOOT_ZERO_PAGE;
	assert_int_equal(le64_get(zp + 0x070), ACPI_BASE);
	assert_memory_equal(ram + ACPI_BASE, "RSD PTR ", 8);
	assert_int_equal(le32_get(zp + 0x21c), 7);
	assert_memory_equal(ram + le32_get(zp + 0x218), "initrd!", 7);
	vm_destroy(vm);

	/* A bad image is refused before any VM exists, with its reason logged. */
	le16_put(image + 0x206, 0x0205);
	capture_begin();
	assert_int_equal(boot_check_kernel("old-bzImage", image, sizeof(image)), -ENOEXEC);
	assert_non_null(strstr(capture_end(), "old-bzImage: boot protocol 2.05"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect),
		cmocka_unit_test(test_good_image),
		cmocka_unit_test(test_no_initrd_no_cmdline),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_high_ram),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_boot_load),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
