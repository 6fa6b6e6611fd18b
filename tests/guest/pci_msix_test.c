/* MSI-X delivered through irqfds to the guest's IDT, with masking and pending bits. */
#include "tests/devices/testdev.h"
#include "guest.h"

static int pci_msix_setup(struct gt_ctx *c)
{
	struct pci_dev *dev;

	return pci_testdev_create(c->pc->pci, NULL, &dev);
}

static int pci_msix_check(struct gt_ctx *c)
{
	uint64_t n = 0;

	if (!gt_report(c, 1, &n) || n != 8)
		return gt_fail(c, "the guest took %llu MSI-X interrupts, expected 8",
		               (unsigned long long)n);
	return 0;
}

GUEST_TEST(gt_pci_msix) = {
	.name = "pci_msix",
	.expect_done = true,
	.setup = pci_msix_setup,
	.check = pci_msix_check,
};
