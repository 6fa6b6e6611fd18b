/* A triple fault ends the VM with VM_EXIT_CRASH. */
#include "guest.h"

static int tf_check(struct gt_ctx *c)
{
	uint64_t v;

	if (!gt_report(c, 1, &v))
		return gt_fail(c, "the guest never started");
	if (gt_report(c, 2, &v))
		return gt_fail(c, "the guest ran past the fault");
	return 0;
}

GUEST_TEST(gt_triple_fault) = {
	.name = "triple_fault",
	.expect_exit = VM_EXIT_CRASH,
	.check = tf_check,
};
