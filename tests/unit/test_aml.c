/*
 * The AML encoder's general pieces (platform/aml.c) byte for byte against ACPI 6.x chapter 20,
 * and the whole DSDT through the ACPI reference compiler (iasl): disassembled and compiled
 * back without an error, with the methods and devices the platform relies on.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "platform/internal.h"
#include "devices/devices.h"

static uint8_t out[512];
static struct aml a;

static void start(void)
{
	memset(out, 0xee, sizeof(out));
	a = (struct aml){ .p = out, .cap = sizeof(out) };
}

#define EXPECT(...)                                                                                \
	do {                                                                                       \
		static const uint8_t want[] = { __VA_ARGS__ };                                     \
		assert_false(a.full);                                                              \
		assert_int_equal(a.len, sizeof(want));                                             \
		assert_memory_equal(out, want, sizeof(want));                                      \
	} while (0)

static void test_paths(void **state)
{
	(void)state;
	start();
	aml_path(&a, "PWRB");
	EXPECT('P', 'W', 'R', 'B');
	start();
	aml_path(&a, "\\_SB_.PWRB");
	EXPECT(0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B');
	start();
	aml_path(&a, "\\_SB_.PCI0.HP00");
	EXPECT(0x5c, 0x2f, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'H', 'P', '0', '0');
	start();
	aml_path(&a, "^^CDW1");
	EXPECT(0x5e, 0x5e, 'C', 'D', 'W', '1');
	/* Short, lowercase, a leading digit, a bad separator, nothing: refused. */
	static const char *const bad[] = { "PWR", "pwrb", "0ABC", "_SB_/PWRB", "", "\\" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		start();
		aml_path(&a, bad[i]);
		assert_true(a.full);
	}
}

static void test_method_if_else(void **state)
{
	size_t m, i;

	(void)state;
	/* Method (_EVT, 1, Serialized) { If (Arg0) { Return (One) } Else { Return (Zero) } } */
	start();
	m = aml_method(&a, "_EVT", 1, true);
	i = aml_if(&a);
	aml_byte(&a, AML_ARG(0));
	aml_byte(&a, AML_RETURN);
	aml_int(&a, 1);
	aml_close(&a, i);
	i = aml_else(&a);
	aml_byte(&a, AML_RETURN);
	aml_int(&a, 0);
	aml_close(&a, i);
	aml_close(&a, m);
	EXPECT(0x14, 0x0f, '_', 'E', 'V', 'T', 0x09, 0xa0, 0x04, 0x68, 0xa4, 0x01, 0xa1, 0x03, 0xa4,
	       0x00);
	/* NotSerialized with four arguments: flags 4. */
	start();
	m = aml_method(&a, "_OSC", 4, false);
	aml_close(&a, m);
	EXPECT(0x14, 0x06, '_', 'O', 'S', 'C', 0x04);
	start();
	aml_method(&a, "_XYZ", 8, false);
	assert_true(a.full);
}

/* A body longer than 63 bytes takes a two-byte PkgLength. */
static void test_long_if(void **state)
{
	size_t i;

	(void)state;
	start();
	i = aml_if(&a);
	aml_byte(&a, AML_ARG(0));
	for (int k = 0; k < 40; k++)
		aml_notify(&a, "PWRB", 0x80); /* 7 bytes each */
	aml_close(&a, i);
	assert_false(a.full);
	/* body 1 + 280 = 281, + 2 length bytes = 283 = 0x11b: lead 0x4b, then 0x11 */
	assert_int_equal(out[0], 0xa0);
	assert_int_equal(out[1], 0x4b);
	assert_int_equal(out[2], 0x11);
	assert_int_equal(out[3], 0x68);
	assert_int_equal(a.len, 1 + 283);
}

static void test_notify_and_names(void **state)
{
	(void)state;
	start();
	aml_notify(&a, "\\_SB_.PWRB", 0x80);
	EXPECT(0x86, 0x5c, 0x2e, '_', 'S', 'B', '_', 'P', 'W', 'R', 'B', 0x0a, 0x80);
	start();
	aml_name_string(&a, "_HID", "ACPI0013");
	EXPECT(0x08, '_', 'H', 'I', 'D', 0x0d, 'A', 'C', 'P', 'I', '0', '0', '1', '3', 0x00);
	start();
	aml_create_dword_field(&a, AML_ARG(3), 8, "CDW3");
	EXPECT(0x8a, 0x6b, 0x0a, 0x08, 'C', 'D', 'W', '3');
}

static void test_uuid(void **state)
{
	(void)state;
	/* The PCI host bridge _OSC UUID, as ACPI compilers lay out ToUUID. */
	start();
	aml_uuid(&a, "33DB4D5B-1FF7-401C-9657-7441C03DD766");
	EXPECT(0x11, 0x13, 0x0a, 0x10, 0x5b, 0x4d, 0xdb, 0x33, 0xf7, 0x1f, 0x1c, 0x40, 0x96, 0x57,
	       0x74, 0x41, 0xc0, 0x3d, 0xd7, 0x66);
	static const char *const bad[] = { "33DB4D5B-1FF7-401C-9657-7441C03DD76",
		                           "33DB4D5B-1FF7-401C-9657-7441C03DD7666",
		                           "33DB4D5B 1FF7-401C-9657-7441C03DD766",
		                           "33DB4D5G-1FF7-401C-9657-7441C03DD766", "" };

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		start();
		aml_uuid(&a, bad[i]);
		assert_true(a.full);
	}
}

static void test_region_field(void **state)
{
	static const char *const names[] = { "ESEL", "ECTL" };
	static const uint8_t bits[] = { 32, 8 };

	(void)state;
	start();
	aml_opregion(&a, "EREG", AML_SPACE_IO, 0x604, 4);
	EXPECT(0x5b, 0x80, 'E', 'R', 'E', 'G', 0x01, 0x0b, 0x04, 0x06, 0x0a, 0x04);
	start();
	aml_field(&a, "EREG", AML_FIELD_DWORD, names, bits, 2);
	EXPECT(0x5b, 0x81, 0x10, 'E', 'R', 'E', 'G', 0x03, 'E', 'S', 'E', 'L', 0x20, 'E', 'C', 'T',
	       'L', 0x08);
	start();
	aml_field(&a, "EREG", AML_FIELD_BYTE, names, (const uint8_t[]){ 64 }, 1);
	assert_true(a.full);
}

static void test_ext_irq(void **state)
{
	struct aml_res r = { .n = 0 };
	static const uint8_t level[] = { 0x89, 6, 0, 0x01, 1, 20, 0, 0, 0 };
	static const uint8_t edge[] = { 0x89, 6, 0, 0x03, 1, 0x00, 0x01, 0, 0 };

	(void)state;
	aml_res_ext_irq(&r, 20, true);
	aml_res_ext_irq(&r, 256, false);
	assert_int_equal(r.n, 18);
	assert_memory_equal(r.b, level, 9);
	assert_memory_equal(r.b + 9, edge, 9);
}

/* Run a command quietly; its exit status, or -1. */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		int null = open("/dev/null", 1);

		dup2(null, 1);
		dup2(null, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

/* The DSDT as iasl sees it: disassembles, compiles back with no error, says what we meant. */
static void test_dsdt_iasl(void **state)
{
	static uint8_t buf[ACPI_END - ACPI_BASE];
	char dir[] = "/tmp/hvmm-aml-XXXXXX", path[64], dsl[64], text[65536];
	struct guest_mem mem;
	struct pci_windows win;
	const uint8_t *dsdt = NULL;
	size_t len, n;
	FILE *f;

	(void)state;
	if (run((char *const[]){ "iasl", "-v", NULL }) != 0) {
		printf("# skip: iasl is not installed (make deps installs acpica-tools)\n");
		skip();
	}
	assert_int_equal(mem_init(&mem, MiB(64)), 0);
	pc_pci_windows_for(mem_top(&mem), 40, &win);
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, 2, &win, &len), 0);
	mem_destroy(&mem);
	for (size_t off = 0; off + 36 <= len; off += 16) {
		if (!memcmp(buf + off, "DSDT", 4))
			dsdt = buf + off;
	}
	assert_non_null(dsdt);
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/dsdt.aml", dir);
	snprintf(dsl, sizeof(dsl), "%s/dsdt.dsl", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(dsdt, 1, le32_get(dsdt + 4), f), le32_get(dsdt + 4));
	fclose(f);
	assert_int_equal(run((char *const[]){ "iasl", "-d", path, NULL }), 0);
	f = fopen(dsl, "r");
	assert_non_null(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = 0;
	fclose(f);
	assert_non_null(strstr(text, "Method (_OSC, 4, NotSerialized)"));
	assert_non_null(strstr(text, "ToUUID (\"33db4d5b-1ff7-401c-9657-7441c03dd766\")"));
	assert_non_null(strstr(text, "Method (_EVT, 1, Serialized)"));
	assert_non_null(strstr(text, "Notify (\\_SB.PWRB, 0x80)"));
	assert_non_null(strstr(text, "\"ACPI0013\""));
	assert_non_null(strstr(text, "EisaId (\"PNP0C0C\")"));
	assert_non_null(strstr(text, "OperationRegion (EREG, SystemIO, 0x0604, 0x04)"));
	assert_non_null(strstr(text, "Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive"));
	/* Compiling the disassembly back must give no error (warnings and remarks aside). */
	assert_int_equal(run((char *const[]){ "iasl", "-p", path, dsl, NULL }), 0);
	unlink(path);
	unlink(dsl);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_paths),   cmocka_unit_test(test_method_if_else),
		cmocka_unit_test(test_long_if), cmocka_unit_test(test_notify_and_names),
		cmocka_unit_test(test_uuid),    cmocka_unit_test(test_region_field),
		cmocka_unit_test(test_ext_irq), cmocka_unit_test(test_dsdt_iasl),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
