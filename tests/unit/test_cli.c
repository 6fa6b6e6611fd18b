/* Every command-line error gives one line naming the option and the accepted form. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "platform/platform.h"

static int parse(struct vm_config *cfg, char *err, const char *a0, const char *a1, const char *a2,
                 const char *a3, const char *a4)
{
	char *argv[] = { "hvmm", (char *)a0, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };
	int argc = 1;

	while (argv[argc])
		argc++;
	err[0] = 0;
	return cli_parse(argc, argv, cfg, err, 512);
}

/* The error is one line and mentions each of the given words. */
static void expect_error(const char *want1, const char *want2, const char *a0, const char *a1,
                         const char *a2, const char *a3)
{
	struct vm_config cfg;
	char err[512];

	assert_int_equal(parse(&cfg, err, a0, a1, a2, a3, NULL), -EINVAL);
	assert_null(strchr(err, '\n'));
	if (!strstr(err, want1) || (want2 && !strstr(err, want2)))
		fail_msg("error '%s' lacks '%s'/'%s'", err, want1, want2 ? want2 : "");
}

static void test_defaults_and_all_options(void **state)
{
	struct vm_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(parse(&cfg, err, "--kernel", "k.elf", NULL, NULL, NULL), 0);
	assert_string_equal(cfg.hypervisor, "auto");
	assert_int_equal(cfg.mem_size, MiB(256));
	assert_int_equal(cfg.nr_cpus, 1);
	assert_int_equal(cfg.serial, SERIAL_STDIO);
	assert_int_equal(parse(&cfg, err, "--memory=2G", "--cpus=4", "--kernel=k",
	                       "--serial=file:/tmp/x", "--hypervisor=kvm"),
	                 0);
	assert_int_equal(cfg.mem_size, GiB(2));
	assert_int_equal(cfg.nr_cpus, 4);
	assert_int_equal(cfg.serial, SERIAL_FILE);
	assert_string_equal(cfg.serial_path, "/tmp/x");
	assert_string_equal(cfg.hypervisor, "kvm");
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "--initrd", "i", "--cmdline=a b"), 0);
	assert_string_equal(cfg.initrd, "i");
	assert_string_equal(cfg.cmdline, "a b");
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "--serial", "none", NULL), 0);
	assert_int_equal(cfg.serial, SERIAL_NONE);
}

static void test_sizes(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(cli_parse_size("4096", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(cli_parse_size("64K", &v), 0);
	assert_int_equal(v, KiB(64));
	assert_int_equal(cli_parse_size("512M", &v), 0);
	assert_int_equal(v, MiB(512));
	assert_int_equal(cli_parse_size("512MiB", &v), 0);
	assert_int_equal(v, MiB(512));
	assert_int_equal(cli_parse_size("3g", &v), 0);
	assert_int_equal(v, GiB(3));
	assert_int_equal(cli_parse_size("1T", &v), 0);
	assert_int_equal(cli_parse_size("", &v), -EINVAL);
	assert_int_equal(cli_parse_size("M", &v), -EINVAL);
	assert_int_equal(cli_parse_size("-1G", &v), -EINVAL);
	assert_int_equal(cli_parse_size("12Q", &v), -EINVAL);
	assert_int_equal(cli_parse_size("1.5G", &v), -EINVAL);
	assert_int_equal(cli_parse_size("99999999999999999999", &v), -EINVAL);
	assert_int_equal(cli_parse_size("99999999999T", &v), -EINVAL);
}

static void test_verbosity(void **state)
{
	struct vm_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "-v", NULL, NULL), 0);
	assert_int_equal(cfg.log_level, LOG_INFO);
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "-v", "-v", NULL), 0);
	assert_int_equal(cfg.log_level, LOG_DEBUG);
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "-q", NULL, NULL), 0);
	assert_int_equal(cfg.log_level, LOG_ERR);
}

static void test_help_version_need_no_kernel(void **state)
{
	struct vm_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(parse(&cfg, err, "--help", NULL, NULL, NULL, NULL), 0);
	assert_true(cfg.help);
	assert_int_equal(parse(&cfg, err, "-h", NULL, NULL, NULL, NULL), 0);
	assert_true(cfg.help);
	assert_int_equal(parse(&cfg, err, "--version", NULL, NULL, NULL, NULL), 0);
	assert_true(cfg.version);
	assert_non_null(strstr(cli_usage(), "--hypervisor kvm|mshv|auto"));
}

static void test_memory_errors(void **state)
{
	(void)state;
	expect_error("--memory", "2M to 1024G", "--memory", "0", "--kernel", "k");
	expect_error("--memory", "e.g. 512M", "--memory", "lots", "--kernel", "k");
	expect_error("--memory", "'1M'", "--memory", "1M", "--kernel", "k");
	expect_error("--memory", "multiple of 4K", "--memory", "4097K", "--kernel", "k");
	expect_error("--memory", "'2048G'", "--memory", "2048G", "--kernel", "k");
	expect_error("--memory needs a value", "512M", "--kernel", "k", "--memory", NULL);
}

static void test_memory_backend(void **state)
{
	struct vm_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(parse(&cfg, err, "--kernel", "k", NULL, NULL, NULL), 0);
	assert_int_equal(cfg.mem_backend, MEM_BACKEND_ANON);
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "--memory-backend", "hugetlb", NULL), 0);
	assert_int_equal(cfg.mem_backend, MEM_BACKEND_HUGETLB);
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "--memory-backend=memfd", NULL, NULL),
	                 0);
	assert_int_equal(cfg.mem_backend, MEM_BACKEND_MEMFD);
	expect_error("--memory-backend", "anon, memfd or hugetlb", "--memory-backend", "huge",
	             "--kernel", "k");
	expect_error("--memory-backend needs a value", "hugetlb", "--kernel", "k",
	             "--memory-backend", NULL);
	assert_non_null(strstr(cli_usage(), "--memory-backend anon|memfd|hugetlb"));
}

static void test_cpus_errors(void **state)
{
	(void)state;
	expect_error("--cpus", "1 to 255", "--cpus", "0", "--kernel", "k");
	expect_error("--cpus", "'9999'", "--cpus", "9999", "--kernel", "k");
	expect_error("--cpus", "1 to 255", "--cpus", "two", "--kernel", "k");
	expect_error("--cpus", "1 to 255", "--cpus", "-1", "--kernel", "k");
	expect_error("--cpus", "1 to 255", "--cpus", "2x", "--kernel", "k");
}

static void test_other_errors(void **state)
{
	(void)state;
	expect_error("--hypervisor", "kvm, mshv or auto", "--hypervisor", "xen", "--kernel", "k");
	expect_error("--serial", "stdio, file:PATH or none", "--serial", "tty", "--kernel", "k");
	expect_error("--serial", "file:PATH", "--serial", "file:", "--kernel", "k");
	expect_error("--kernel is required", "ELF64", "--cpus", "2", NULL, NULL);
	expect_error("--kernel", "path", "--kernel", "", NULL, NULL);
	expect_error("unknown option '--frobnicate'", "--help", "--frobnicate", NULL, NULL, NULL);
	expect_error("unknown option '-x'", NULL, "-x", NULL, NULL, NULL);
	expect_error("unexpected argument 'extra'", NULL, "--kernel", "k", "extra", NULL);
	expect_error("--help takes no value", NULL, "--help=yes", NULL, NULL, NULL);
	expect_error("--initrd needs a value", NULL, "--kernel", "k", "--initrd", NULL);
}

static void test_vfio_options(void **state)
{
	struct vm_config cfg;
	char err[512];

	(void)state;
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "--vfio", "01:00.0", NULL), 0);
	assert_int_equal(cfg.nr_vfio, 1);
	assert_string_equal(cfg.vfio_bdf[0], "01:00.0");
	assert_string_equal(cfg.vfio_port[0], "");
	assert_int_equal(parse(&cfg, err, "--pcie-root-port", "rp-nvme", "--vfio",
	                       "rp-nvme:0000:01:00.0", "--kernel=k"),
	                 0);
	assert_string_equal(cfg.vfio_port[0], "rp-nvme");
	assert_string_equal(cfg.vfio_bdf[0], "0000:01:00.0");
	/* A 4-hex-digit prefix that names no port is a PCI domain. */
	assert_int_equal(parse(&cfg, err, "--kernel", "k", "--vfio", "abcd:01:00.0", NULL), 0);
	assert_string_equal(cfg.vfio_port[0], "");
	assert_int_equal(
	    parse(&cfg, err, "--pcie-root-port", "abcd", "--vfio=abcd:01:00.0", "--kernel=k", NULL),
	    0);
	assert_string_equal(cfg.vfio_port[0], "abcd");
	expect_error("no root port 'nvme0'", "--pcie-root-port nvme0", "--vfio", "nvme0:01:00.0",
	             "--kernel", "k");
	expect_error("--vfio", "e.g. 0000:01:00.0", "--vfio", "01:00", "--kernel", "k");
	expect_error("--vfio", "e.g. 0000:01:00.0", "--vfio", "01:20.0", "--kernel", "k");
	expect_error("given twice", NULL, "--vfio", "01:00.0", "--vfio", "0000:01:00.0");
	expect_error("--pcie-root-port", "letters, digits", "--pcie-root-port", "bad name",
	             "--kernel", "k");
	expect_error("--pcie-root-port", "a new name", "--pcie-root-port", "a", "--pcie-root-port",
	             "a");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_all_options),
		cmocka_unit_test(test_sizes),
		cmocka_unit_test(test_verbosity),
		cmocka_unit_test(test_help_version_need_no_kernel),
		cmocka_unit_test(test_memory_errors),
		cmocka_unit_test(test_memory_backend),
		cmocka_unit_test(test_cpus_errors),
		cmocka_unit_test(test_other_errors),
		cmocka_unit_test(test_vfio_options),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
