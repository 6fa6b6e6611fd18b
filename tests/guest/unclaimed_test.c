/* Unclaimed PIO and MMIO: all-ones reads, counted, logged under a rate limit, never fatal. */
#include <stdio.h>
#include <string.h>

#include "guest.h"

static int count_lines(const char *buf, const char *needle)
{
	int n = 0;

	for (const char *p = buf; (p = strstr(p, needle)); p++)
		n++;
	return n;
}

/* Unclaimed accesses are logged at info level: show them for this run. */
static int unclaimed_setup(struct gt_ctx *c)
{
	(void)c;
	log_set_level(LOG_INFO);
	return 0;
}

static int unclaimed_check(struct gt_ctx *c)
{
	static char err[1 << 16];
	uint64_t rounds = 0;
	int lines;

	if (!gt_report(c, 1, &rounds))
		return gt_fail(c, "the guest did not report its round count");
	fflush(stderr);
	if (gt_read_file(c->stderr_path, err, sizeof(err)))
		return gt_fail(c, "cannot read the run's log %s", c->stderr_path);
	if (atomic_load(&c->vm->pio.unclaimed) + atomic_load(&c->vm->mmio.unclaimed) < rounds * 8)
		return gt_fail(c, "%llu unclaimed accesses counted, the guest made %llu",
		               (unsigned long long)(atomic_load(&c->vm->pio.unclaimed) +
		                                    atomic_load(&c->vm->mmio.unclaimed)),
		               (unsigned long long)(rounds * 8));
	lines = count_lines(err, "unclaimed");
	/* Each round makes 8 unclaimed accesses. */
	if (lines == 0)
		return gt_fail(c, "no unclaimed access was logged");
	if (rounds > 1 && lines > 200)
		return gt_fail(c, "%d log lines for %llu unclaimed accesses: not rate limited",
		               lines, (unsigned long long)(rounds * 8));
	return 0;
}

GUEST_TEST(gt_unclaimed) = {
	.name = "unclaimed",
	.expect_done = true,
	.setup = unclaimed_setup,
	.check = unclaimed_check,
};

GUEST_TEST(gt_flood) = {
	.name = "flood",
	.guest = "unclaimed",
	.cmdline = "flood",
	.expect_done = true,
	.timeout_s = 120,
	.setup = unclaimed_setup,
	.check = unclaimed_check,
};
