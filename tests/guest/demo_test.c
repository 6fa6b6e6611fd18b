/* The demo guest reports two CPUs, the memory map and the devices, then powers off. */
#include <string.h>

#include "guest.h"

static int demo_check(struct gt_ctx *c)
{
	static const char *const want[] = {
		"cpus: 2 online of 2 in CPUID",
		"cpu 1: APIC ID 1",
		"RAM: 31 MiB usable",
		"16550A UART at port 0x3f8",
		"IOAPIC at 0xfec00000: version 11, 24 pins",
		"PCI 00:0.0 1b36:8 class 60000",
		"ACPI at 0xe0000: RSDP XSDT FACP APIC MCFG",
		"demo done, powering off",
	};
	char buf[4096];

	if (gt_read_file(c->serial_path, buf, sizeof(buf)))
		return gt_fail(c, "no serial output");
	for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
		if (!strstr(buf, want[i]))
			return gt_fail(c, "demo output lacks '%s'; it was:\n%s", want[i], buf);
	}
	return 0;
}

GUEST_TEST(gt_demo) = {
	.name = "demo",
	.cpus = 2,
	.mem = MiB(32),
	.expect_exit = VM_EXIT_POWEROFF,
	.check = demo_check,
};
