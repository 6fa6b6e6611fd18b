/* A hostile guest against the PCI platform: hvmm survives, RAM is intact, logs are bounded. */
#include <stdio.h>
#include <string.h>

#include "tests/devices/testdev.h"
#include "guest.h"

static int pci_hostile_setup(struct gt_ctx *c)
{
	struct pci_dev *dev;

	/* Two, each behind its own port, so BARs can be stacked on another device's. */
	return pci_testdev_create(c->pc->pci, NULL, &dev) ||
	       pci_testdev_create(c->pc->pci, NULL, &dev);
}

static int pci_hostile_check(struct gt_ctx *c)
{
	static char err[1 << 16];
	uint64_t gpa = 0, storm = 0;
	const uint8_t *p;
	unsigned lines = 0;

	if (!gt_report(c, 1, &gpa) || !gt_report(c, 2, &storm))
		return gt_fail(c, "the guest did not finish its storm");
	if (mem_ptr(&c->vm->mem, gpa, 0x2000, (void **)&p))
		return gt_fail(c, "the pattern buffer is not guest RAM");
	for (unsigned i = 0; i < 0x2000; i++) {
		if (p[i] != (uint8_t)(i ^ (i >> 8) ^ 0xa5))
			return gt_fail(c, "guest RAM at %#llx changed",
			               (unsigned long long)gpa + i);
	}
	fflush(stderr);
	if (gt_read_file(c->stderr_path, err, sizeof(err)))
		return gt_fail(c, "cannot read the run's log");
	for (const char *s = err; (s = strstr(s, "pci: ")); s++)
		lines++;
	if (lines > 100)
		return gt_fail(c, "%u PCI log lines for %llu hostile writes: not rate limited",
		               lines, (unsigned long long)storm);
	return 0;
}

GUEST_TEST(gt_pci_hostile) = {
	.name = "pci_hostile",
	.expect_done = true,
	.timeout_s = 120,
	.setup = pci_hostile_setup,
	.check = pci_hostile_check,
};
