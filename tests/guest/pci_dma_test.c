/* DMA by an emulated PCI device goes through the guest RAM map (mem_ptr). */
#include <string.h>

#include "tests/devices/testdev.h"
#include "guest.h"

static int pci_dma_setup(struct gt_ctx *c)
{
	struct pci_dev *dev;

	return pci_testdev_create(c->pc->pci, NULL, &dev);
}

static int pci_dma_check(struct gt_ctx *c)
{
	uint64_t src = 0, dst = 0;
	void *s, *d;

	if (!gt_report(c, 1, &src) || !gt_report(c, 2, &dst))
		return gt_fail(c, "the guest did not report its buffers");
	/* vm_destroy has not run yet: guest RAM is still there to look at. */
	if (mem_ptr(&c->vm->mem, src, 4096, &s) || mem_ptr(&c->vm->mem, dst, 4096, &d))
		return gt_fail(c, "the reported buffers are not guest RAM");
	if (memcmp(s, d, 4096))
		return gt_fail(c, "the destination buffer differs from the source");
	return 0;
}

GUEST_TEST(gt_pci_dma) = {
	.name = "pci_dma",
	.expect_done = true,
	.setup = pci_dma_setup,
	.check = pci_dma_check,
};
