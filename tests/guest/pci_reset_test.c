/* A reset through port 0xCF9 ends hvmm with the reset exit code. */
#include "guest.h"

static int pci_reset_check(struct gt_ctx *c)
{
	uint64_t v = 0;

	if (!gt_report(c, 1, &v))
		return gt_fail(c, "the guest stopped before its reset");
	return 0;
}

GUEST_TEST(gt_pci_reset) = {
	.name = "pci_cf9_reset",
	.guest = "pci_reset",
	.expect_exit = VM_EXIT_RESET,
	.check = pci_reset_check,
};
