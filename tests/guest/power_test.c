/* The guest can power off (exit 0) and reset (exit 3). */
#include "guest.h"

static int power_check(struct gt_ctx *c)
{
	uint64_t v;

	if (!gt_report(c, 1, &v))
		return gt_fail(c, "the guest never started");
	if (gt_report(c, 2, &v) || c->done)
		return gt_fail(c, "the guest kept running after its request");
	return 0;
}

GUEST_TEST(gt_poweroff) = {
	.name = "poweroff",
	.guest = "power",
	.expect_exit = VM_EXIT_POWEROFF,
	.check = power_check,
};

GUEST_TEST(gt_reset) = {
	.name = "reset",
	.guest = "power",
	.cmdline = "reset",
	.expect_exit = VM_EXIT_RESET,
	.check = power_check,
};
