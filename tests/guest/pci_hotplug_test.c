/*
 * PCIe native hot-plug from inside a guest: the test device plugged into an empty root port,
 * powered and used by the guest, released through the attention button, unplugged and plugged
 * again, every step announced by the port's MSI.
 */
#include "devices/pci/internal.h"
#include "tests/devices/testdev.h"
#include "guest.h"

static int hotplug_setup(struct gt_ctx *c)
{
	struct pci_port *port;
	int r = pci_root_port_create(c->pc->pci, "hp", &port);

	c->priv = port;
	return r;
}

/* The guest's cues: 1 plug, 2 press the button, 3 unplug (the guest must have powered off), 4
 * plug again.  Answers 0, or the step that went wrong. */
static uint64_t hotplug_sync(struct gt_ctx *c, uint32_t cpu, uint64_t stage)
{
	static struct pci_dev *dev;
	struct pci_port *port = c->priv;
	struct pci_dev *out;

	(void)cpu;
	switch (stage) {
	case 1:
		if (pci_testdev_build(c->pc->pci, &dev) || pci_slot_plug(port, dev))
			return 1;
		return 0;
	case 2:
		pci_slot_press_button(port);
		return 0;
	case 3:
		if (pci_slot_powered(port)) {
			gt_fail(c, "the guest had not powered the slot off before the unplug");
			return 3;
		}
		return pci_slot_unplug(port, &out) || out != dev ? 3 : 0;
	case 4:
		return pci_slot_plug(port, dev) ? 4 : 0;
	}
	return 99;
}

static int hotplug_check(struct gt_ctx *c)
{
	uint64_t v = 0;

	if (!gt_report(c, 1, &v) || v != 0x5a5a1234)
		return gt_fail(c,
		               "the guest did not read back what it wrote to the plugged device");
	if (!gt_report(c, 2, &v) || v < 5)
		return gt_fail(c, "the guest saw %llu slot interrupts, expected at least 5",
		               (unsigned long long)v);
	return 0;
}

GUEST_TEST(gt_pci_hotplug) = {
	.name = "pci_hotplug",
	.expect_done = true,
	.setup = hotplug_setup,
	.on_sync = hotplug_sync,
	.check = hotplug_check,
};
