/* A legacy IRQ through the userspace IOAPIC reaches the guest (edge and level). */
#include "guest.h"
#include "devices/devices.h"

static uint64_t edge_sync(struct gt_ctx *c, uint32_t cpu, uint64_t stage)
{
	(void)cpu;
	(void)stage;
	ioapic_set_irq(c->pc->ioapic, 5, true);
	ioapic_set_irq(c->pc->ioapic, 5, false);
	return 0;
}

static uint64_t level_sync(struct gt_ctx *c, uint32_t cpu, uint64_t stage)
{
	(void)cpu;
	ioapic_set_irq(c->pc->ioapic, 9, stage == 10);
	return 0;
}

static int hits_check(struct gt_ctx *c, uint64_t want)
{
	uint64_t hits = 0;
	struct ioapic_stats st;

	if (!gt_report(c, 1, &hits) || hits != want)
		return gt_fail(c, "guest saw %llu interrupts, expected %llu",
		               (unsigned long long)hits, (unsigned long long)want);
	ioapic_stats(c->pc->ioapic, &st);
	if (st.delivered < want)
		return gt_fail(c, "ioapic delivered %llu", (unsigned long long)st.delivered);
	return 0;
}

static int edge_check(struct gt_ctx *c)
{
	return hits_check(c, 2);
}

static int level_check(struct gt_ctx *c)
{
	struct ioapic_stats st;
	uint64_t hits = 0;

	ioapic_stats(c->pc->ioapic, &st);
	/* The EOI came back from the hypervisor to the IOAPIC. */
	if (st.eois < 1)
		return gt_fail(c, "ioapic saw no EOI");
	/*
	 * Once the line is low the interrupt stops.  One delivery is exact; up to three are
	 * tolerated because this build host's emulated KVM reports the EOI of a level vector
	 * when it is delivered rather than when the guest writes EOI, so a line still high at
	 * that moment is delivered again before the handler lowers it.
	 */
	if (!gt_report(c, 1, &hits) || hits < 1 || hits > 3)
		return gt_fail(c, "guest saw %llu level interrupts, expected 1 to 3",
		               (unsigned long long)hits);
	if (st.delivered != hits)
		return gt_fail(c, "ioapic delivered %llu, the guest saw %llu",
		               (unsigned long long)st.delivered, (unsigned long long)hits);
	return 0;
}

GUEST_TEST(gt_ioapic_edge) = {
	.name = "ioapic_edge",
	.guest = "ioapic",
	.cmdline = "edge",
	.expect_done = true,
	.on_sync = edge_sync,
	.check = edge_check,
};

GUEST_TEST(gt_ioapic_level) = {
	.name = "ioapic_level",
	.guest = "ioapic",
	.cmdline = "level",
	.expect_done = true,
	.on_sync = level_sync,
	.check = level_check,
};
