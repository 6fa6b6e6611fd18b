/* PCI enumeration, BAR sizing and BAR moves through ECAM and 0xCF8/0xCFC. */
#include "tests/devices/testdev.h"
#include "guest.h"

static int pci_enum_setup(struct gt_ctx *c)
{
	struct pci_dev *dev;

	return pci_testdev_create(c->pc->pci, NULL, &dev);
}

static int pci_enum_check(struct gt_ctx *c)
{
	uint64_t n = 0;

	if (!gt_report(c, 1, &n) || n != 2)
		return gt_fail(c, "the guest found %llu functions on bus 0, expected 2",
		               (unsigned long long)n);
	return 0;
}

GUEST_TEST(gt_pci_enum) = {
	.name = "pci_enum",
	.expect_done = true,
	.setup = pci_enum_setup,
	.check = pci_enum_check,
};
