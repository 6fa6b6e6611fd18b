/* An interrupt through an MSI route + irqfd reaches the guest's IDT handler. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "guest.h"

struct msi_state {
	int efd;
	uint32_t gsi;
};

static void msi_teardown(void *o)
{
	struct msi_state *s = o;

	close(s->efd);
	free(s);
}

static int msi_setup(struct gt_ctx *c)
{
	struct msi_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->efd < 0 || vm_on_destroy(c->vm, msi_teardown, s)) {
		free(s);
		return -1;
	}
	c->priv = s;
	if (irq_alloc(c->vm, &s->gsi) ||
	    irq_set_route(c->vm, s->gsi, MEM_LAPIC_BASE /* to APIC 0 */, 0x40, true) ||
	    c->vm->hv->irqfd_assign(c->vm->hvm, s->efd, s->gsi))
		return -1;
	return 0;
}

static uint64_t msi_sync(struct gt_ctx *c, uint32_t cpu, uint64_t stage)
{
	struct msi_state *s = c->priv;
	uint64_t one = 1;

	(void)cpu;
	(void)stage;
	if (write(s->efd, &one, sizeof(one)) != sizeof(one))
		gt_fail(c, "eventfd write: %s", strerror(errno));
	return 0;
}

static int msi_check(struct gt_ctx *c)
{
	uint64_t hits = 0;

	if (!gt_report(c, 1, &hits) || hits != 2)
		return gt_fail(c, "guest saw %llu MSIs, expected 2", (unsigned long long)hits);
	return 0;
}

GUEST_TEST(gt_msi_irqfd) = {
	.name = "msi_irqfd",
	.expect_done = true,
	.setup = msi_setup,
	.on_sync = msi_sync,
	.check = msi_check,
};
