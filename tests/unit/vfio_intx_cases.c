/* SPDX-License-Identifier: MIT */
/*
 * test_vfio_pci's INTx cases: the assigned device's legacy line from the host's interrupt to
 * the guest's EOI and back, against the fake VFIO kernel (its INTx as vfio-pci has it:
 * automasked on each interrupt, refused with MSI or MSI-X on, masked while the guest's
 * INTx-disable bit is set).  The IOAPIC pin the line is wired to is programmed through its
 * registers, and EOIs come in as the hypervisor hands them over (ioapic_eoi(), what KVM's
 * IOAPIC EOI exit and MSHV's APIC EOI intercept call).
 */
#include "tests/unit/vfio_fixture.h"

#define MSI_CAP  0x90
#define INTX_GSI 17   /* INTA behind the root port at device 1 */
#define INTX_VEC 0x51 /* what the guest programs the pin with */

#define RTE_LEVEL    (1u << 15)
#define RTE_LOW      (1u << 13)
#define RTE_MASKED   (1u << 16)
#define IOAPIC_INTX  RTE_LEVEL | RTE_LOW /* how the guest programs a _PRT GSI */
#define INTX_TRIGGER (fv.dev[0].trig[0])

/* The guest programs IOAPIC pin `gsi`: vector, level and active low, masked or not. */
static void pin(unsigned gsi, bool masked)
{
	uint32_t sel = 0x10 + 2 * gsi, lo = INTX_VEC | IOAPIC_INTX | (masked ? RTE_MASKED : 0);
	uint32_t hi = 0, sel_hi = sel + 1;

	bus_access(&vm->mmio, MEM_IOAPIC_BASE, &sel_hi, 4, true);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + 0x10, &hi, 4, true);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE, &sel, 4, true);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + 0x10, &lo, 4, true);
}

/* The guest ends the interrupt of `vector`, as the hypervisor reports it. */
static void eoi(uint8_t vector)
{
	ioapic_eoi(pc->ioapic, vector);
}

void prep_no_intx_irq(struct fake_vfio_dev *d)
{
	d->intx_no_irq = true;
}

/*
 * The guest sees the device's own pin, INTA, wired to GSI 17 (INTA of the port at device 1),
 * with an eventfd that is an irqfd on that GSI.  The host's INTx stays off until the guest
 * unmasks the pin (a guest using MSI-X never does, and the host's line is never requested);
 * then it is enabled, and a level the device already asserts goes through at once.  Masking
 * the pin again masks the line; it stays enabled.
 */
void test_intx_pin_wired(void **state)
{
	(void)state;
	NEED_VM();
	assert_int_equal(cfg_rd(PCI_INTERRUPT_PIN, 1), 1);
	assert_int_equal(pci_intx_gsi(1, 1), INTX_GSI);
	assert_int_equal(vp->intx.gsi, INTX_GSI);
	assert_true(vp->intx.efd >= 0);
	if (vfio_fixture_on_fake())
		assert_int_equal(fake_hv_irqfd_gsi(vp->intx.efd), INTX_GSI);
	assert_int_not_equal(fv.dev[0].irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	assert_false(vp->intx.on);
	/* Programmed but still masked: nothing yet. */
	pin(INTX_GSI, true);
	assert_false(vp->intx.on);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 0);
	/* The guest unmasks the pin: INTx on, and the pending level goes through. */
	pin(INTX_GSI, false);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	assert_int_equal(INTX_TRIGGER, vp->intx.efd);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	assert_true(fv.dev[0].intx_masked);
	/* Masked again: the line is masked on the host and INTx stays enabled. */
	pin(INTX_GSI, true);
	assert_true(vp->intx.on);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_INTX_IRQ_INDEX);
}

/*
 * Each interrupt masks the line on the host; the EOI unmasks it.  A device still asserting its
 * line interrupts again at once; one the guest's handler quieted stays quiet until it asserts
 * again.  Another vector's EOI is not this line's.
 */
void test_intx_eoi_unmasks(void **state)
{
	(void)state;
	NEED_VM();
	pin(INTX_GSI, false);
	assert_false(fv.dev[0].intx_masked);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	assert_true(fv.dev[0].intx_masked);
	eoi(INTX_VEC + 1);
	assert_true(fv.dev[0].intx_masked);
	eoi(INTX_VEC);
	assert_int_equal(fv.dev[0].intx_signals, 2);
	assert_true(fv.dev[0].intx_masked);
	fake_vfio_intx_line(&fv.dev[0], false);
	eoi(INTX_VEC);
	assert_int_equal(fv.dev[0].intx_signals, 2);
	assert_false(fv.dev[0].intx_masked);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 3);
	assert_true(vp->intx.unmasks >= 2);
}

/*
 * The guest masks the pin: nothing passes it.  An EOI while it is masked (Linux masks, EOIs
 * and unmasks around an affinity change) leaves the line masked; the unmask lets a line still
 * asserted through.
 */
void test_intx_masked_pin_holds(void **state)
{
	(void)state;
	NEED_VM();
	pin(INTX_GSI, false);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	pin(INTX_GSI, true);
	eoi(INTX_VEC);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	assert_true(fv.dev[0].intx_masked);
	fake_vfio_intx_line(&fv.dev[0], false);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	pin(INTX_GSI, false);
	assert_int_equal(fv.dev[0].intx_signals, 2);
}

/*
 * The guest's INTx-disable bit (uio_pci_generic's handler sets it, its user clears it): no
 * interrupt while it is set, the EOI's unmask refused, and the asserted line delivered when
 * it is cleared.
 */
void test_intx_disable_bit(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	pin(INTX_GSI, false);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_INTX_DISABLE);
	assert_true(fv.dev[0].virq_disabled);
	assert_int_equal(cfg_rd(PCI_COMMAND, 2) & PCI_COMMAND_INTX_DISABLE,
	                 PCI_COMMAND_INTX_DISABLE);
	eoi(INTX_VEC);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	assert_true(fv.dev[0].intx_masked);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_false(fv.dev[0].virq_disabled);
	assert_int_equal(fv.dev[0].intx_signals, 2);
}

/*
 * MSI and INTx one at a time, both ways: the guest's MSI enable takes INTx off the host first
 * (vfio-pci refuses MSI while INTx is on), and its disable brings the same eventfd back on the
 * line, which follows the pin again.  The same with MSI-X.
 */
void test_intx_msi_fallback(void **state)
{
	int efd;

	(void)state;
	NEED_VM();
	enable_bar0();
	efd = vp->intx.efd;
	pin(INTX_GSI, false);
	cfg_wr(MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	cfg_wr(MSI_CAP + PCI_MSI_FLAGS, 2,
	       PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSI_IRQ_INDEX);
	assert_int_equal(fv.dev[0].intx_disables, 1);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 0);
	fake_vfio_intx_line(&fv.dev[0], false);
	/* MSI off: the legacy line again, unmasked as the pin is. */
	cfg_wr(MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	assert_int_equal(INTX_TRIGGER, efd);
	assert_false(fv.dev[0].intx_masked);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	fake_vfio_intx_line(&fv.dev[0], false);
	eoi(INTX_VEC);
	/* And MSI-X. */
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSIX_IRQ_INDEX);
	cfg_wr(0x42, 2, 64);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 2);
	/* Back while the guest has the pin masked: off on the host until the pin's unmask. */
	pin(INTX_GSI, true);
	fake_vfio_intx_line(&fv.dev[0], false);
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	cfg_wr(0x42, 2, 64);
	assert_int_equal(fv.dev[0].irq_type, FAKE_VFIO_NO_IRQS);
	fake_vfio_intx_line(&fv.dev[0], true);
	pin(INTX_GSI, false);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	assert_int_equal(fv.dev[0].intx_signals, 3);
}

/* A Function Level Reset turns every host interrupt off; INTx comes back after it. */
void test_intx_after_reset(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	pin(INTX_GSI, false);
	cfg_wr(0x60 + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(fv.dev[0].resets, 1);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	assert_int_equal(INTX_TRIGGER, vp->intx.efd);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(fv.dev[0].intx_signals, 1);
}

/*
 * Two functions on one line: the second behind the port at device 9, whose INTA is GSI 17 as
 * the first's.  An EOI of the line unmasks both, and each interrupts with its own eventfd.
 */
void test_intx_shared_line(void **state)
{
	struct vfio_pci *vp2;
	unsigned unmasks;

	(void)state;
	NEED_VM();
	vp2 = vfio_fixture_assign("0000:02:00.0", 8, 9);
	assert_non_null(vp2);
	assert_int_equal(vp2->intx.gsi, INTX_GSI);
	assert_int_not_equal(vp2->intx.efd, vp->intx.efd);
	pin(INTX_GSI, false);
	assert_false(fv.dev[0].intx_masked);
	assert_false(fv.dev[1].intx_masked);
	fake_vfio_intx_line(&fv.dev[1], true);
	assert_int_equal(fv.dev[1].intx_signals, 1);
	assert_int_equal(fv.dev[0].intx_signals, 0);
	unmasks = fv.dev[0].intx_unmask_calls;
	fake_vfio_intx_line(&fv.dev[1], false);
	eoi(INTX_VEC);
	assert_false(fv.dev[1].intx_masked);
	assert_int_equal(fv.dev[0].intx_unmask_calls, unmasks + 1);
	fake_vfio_intx_line(&fv.dev[0], true);
	fake_vfio_intx_line(&fv.dev[1], true);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	assert_int_equal(fv.dev[1].intx_signals, 2);
	/* The guest's handler serviced one of them; the other's line stays up and comes again. */
	fake_vfio_intx_line(&fv.dev[0], false);
	eoi(INTX_VEC);
	assert_int_equal(fv.dev[0].intx_signals, 1);
	assert_int_equal(fv.dev[1].intx_signals, 3);
}

/* A host with no IRQ for the device: vfio-pci shows pin 0, and so does hvmm; nothing wired. */
void test_intx_none_without_host_irq(void **state)
{
	(void)state;
	NEED_VM();
	assert_int_equal(cfg_rd(PCI_INTERRUPT_PIN, 1), 0);
	assert_int_equal(vp->intx.efd, -1);
	assert_int_equal(fv.dev[0].irq_type, FAKE_VFIO_NO_IRQS);
	assert_int_equal(fv.dev[0].intx_enables, 0);
}
