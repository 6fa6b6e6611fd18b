/* SPDX-License-Identifier: MIT */
/*
 * test_vfio_pci's interrupt cases: the host's MSI and MSI-X following the guest's, against the
 * fake VFIO kernel as vfio-pci behaves before Linux 6.5 (NORESIZE: a vector past the enabled
 * block needs the index disabled first) and after (dynamic MSI-X), and a host with fewer
 * vectors than asked for.
 */
#include "tests/unit/vfio_fixture.h"

#define MSI_CAP 0x90

/* The eventfd the guest's vector i has (-1 until it first went live). */
static int guest_fd(struct pci_vecs *s, unsigned i)
{
	struct pci_vec_state st;
	bool pending;

	assert_int_equal(pci_vecs_state(s, i, &st, &pending), 0);
	return st.efd;
}

void prep_dyn_msix(struct fake_vfio_dev *d)
{
	d->dyn_msix = true;
}

void prep_four_vectors(struct fake_vfio_dev *d)
{
	d->host_vectors = 4;
}

/* An MSI capability too: 64-bit, per-vector masks, 8 vectors. */
void prep_msi8(struct fake_vfio_dev *d)
{
	fake_vfio_add_cap(d, PCI_CAP_ID_MSI, MSI_CAP, 24);
	/* 64-bit, maskable, 8 vectors (the capability's byte; PCI_MSI_FLAGS_MASKBIT is 0x100). */
	d->config[MSI_CAP + PCI_MSI_FLAGS] = PCI_MSI_FLAGS_64BIT | 3 << 1;
	d->config[MSI_CAP + PCI_MSI_FLAGS + 1] = PCI_MSI_FLAGS_MASKBIT >> 8;
}

/* ... on a host that gives one MSI vector (no interrupt remapping: no multiple MSI). */
void prep_msi8_one_vector(struct fake_vfio_dev *d)
{
	prep_msi8(d);
	d->host_vectors = 1;
}

/*
 * The host's MSI-X is on as soon as the guest's is, with every vector masked and none wired:
 * QEMU's NVMe decides when a queue is created whether MSI-X is on and its vector used, and
 * Linux creates the admin queue after enabling MSI-X but before unmasking its vector.  When
 * the host waited for the first unmask, a device no host driver had used before never
 * signalled the admin queue.
 */
void test_msix_host_enabled_with_guest(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSIX_IRQ_INDEX);
	assert_true(fv.dev[0].config[0x43] & (PCI_MSIX_FLAGS_ENABLE >> 8));
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 0), -1);
	/* Off with the guest's; the legacy line waits for the guest to unmask its pin. */
	cfg_wr(0x42, 2, 64);
	assert_int_equal(fv.dev[0].irq_type, FAKE_VFIO_NO_IRQS);
	assert_true(vp->intx.wanted);
	assert_false(fv.dev[0].config[0x43] & (PCI_MSIX_FLAGS_ENABLE >> 8));
	/* And on again: a device reset by its driver enables MSI-X once more. */
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSIX_IRQ_INDEX);
}

void test_msix_vectors_wired_as_unmasked(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	msix_entry(3, 0x43, false);
	assert_true(host_fd(VFIO_IRQ_MSIX, 3) >= 0);
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 3), guest_fd(vp->msix, 3));
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 0), -1);
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 2), -1);
	msix_entry(1, 0x41, false);
	msix_entry(10, 0x4a, false);
	assert_true(host_fd(VFIO_IRQ_MSIX, 1) >= 0 && host_fd(VFIO_IRQ_MSIX, 10) >= 0);
	assert_int_equal(vp->stats.vectors_routed, 3);
	/* Table writes are trapped accesses on the table's page: 4 dwords per entry. */
	assert_int_equal(vp->stats.bar_trapped[0][2], 12);
	/* Masking keeps the host vector (its eventfd then feeds the pending bit). */
	msix_entry(3, 0x43, true);
	assert_true(host_fd(VFIO_IRQ_MSIX, 3) >= 0);
	assert_int_equal(fv.dev[0].irq_disables, 0);
	cfg_wr(0x42, 2, 64);
	assert_int_equal(fv.dev[0].irq_type, FAKE_VFIO_NO_IRQS);
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 10), -1);
}

void test_msix_function_mask(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 64);
	msix_entry(0, 0x40, false);
	/* Function-masked: not live yet, so not wired, but the host's MSI-X is on. */
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSIX_IRQ_INDEX);
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 0), -1);
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	assert_true(host_fd(VFIO_IRQ_MSIX, 0) >= 0);
}

/*
 * NORESIZE (vfio-pci before Linux 6.5): the whole table at the guest's enable, so no later
 * vector needs MSI-X disabled and enabled again -- an interrupt of a live vector in that
 * window would be lost.  Vector 64, the table's last, is wired like the others.
 */
void test_msix_noresize_whole_table(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	assert_int_equal(fv.dev[0].nvec, 65);
	msix_entry(3, 0x43, false);
	msix_entry(10, 0x4a, false);
	msix_entry(64, 0x50, false);
	assert_true(host_fd(VFIO_IRQ_MSIX, 3) >= 0);
	assert_true(host_fd(VFIO_IRQ_MSIX, 10) >= 0);
	assert_true(host_fd(VFIO_IRQ_MSIX, 64) >= 0);
	assert_int_equal(fv.dev[0].irq_enables, 1);
	assert_int_equal(fv.dev[0].irq_disables, 0);
}

/* Dynamic MSI-X (Linux >= 6.5): one vector at the enable, then each on its own. */
void test_msix_dynamic_one_by_one(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	assert_int_equal(fv.dev[0].nvec, 1);
	msix_entry(3, 0x43, false);
	assert_int_equal(fv.dev[0].nvec, 4);
	msix_entry(10, 0x4a, false);
	assert_int_equal(fv.dev[0].nvec, 11);
	assert_true(host_fd(VFIO_IRQ_MSIX, 3) >= 0 && host_fd(VFIO_IRQ_MSIX, 10) >= 0);
	assert_int_equal(fv.dev[0].irq_enables, 1);
	assert_int_equal(fv.dev[0].irq_disables, 0);
}

/*
 * A host with 4 vectors answers an enable of 65 with "4" and enables none
 * (vfio_msi_enable()).  Taken as success, every vector went dead silently; now the host gives
 * the 4 it has, those work, and the rest is said.
 */
void test_msix_host_short_keeps_wired(void **state)
{
	const char *log;

	(void)state;
	NEED_VM();
	enable_bar0();
	log_set_level(LOG_WARN);
	capture_begin();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	log = capture_end();
	assert_non_null(strstr(log, "the host has 4 of the 65 MSI-X vectors"));
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSIX_IRQ_INDEX);
	assert_int_equal(fv.dev[0].nvec, 4);
	msix_entry(1, 0x41, false);
	assert_true(host_fd(VFIO_IRQ_MSIX, 1) >= 0);
	msix_entry(10, 0x4a, false);
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 10), -1);
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 1), guest_fd(vp->msix, 1));
	assert_int_equal(vp->stats.vectors_routed, 1);
}

/* Multiple MSI on a host that gives one vector: vector 0 works, the others are said lost. */
void test_msi_block_host_short(void **state)
{
	const char *log;

	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	cfg_wr(MSI_CAP + PCI_MSI_DATA_64, 2, 0x40);
	log_set_level(LOG_WARN);
	capture_begin();
	cfg_wr(MSI_CAP + PCI_MSI_FLAGS, 2,
	       PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT | 3 << 4);
	log = capture_end();
	assert_non_null(strstr(log, "the host has 1 of the 8 MSI vectors"));
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSI_IRQ_INDEX);
	assert_int_equal(host_fd(VFIO_IRQ_MSI, 0), guest_fd(vp->msi, 0));
	assert_true(host_fd(VFIO_IRQ_MSI, 0) >= 0);
	assert_int_equal(host_fd(VFIO_IRQ_MSI, 1), -1);
	/* Wired with the enable itself, and counted. */
	assert_int_equal(vp->stats.vectors_routed, 1);
}

/* vfio-pci enables one interrupt type at a time: MSI-X waits for MSI to go. */
void test_msi_and_msix_one_at_a_time(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(MSI_CAP + PCI_MSI_ADDRESS_LO, 4, 0xfee00000);
	cfg_wr(MSI_CAP + PCI_MSI_FLAGS, 2,
	       PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSI_IRQ_INDEX);
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	msix_entry(2, 0x42, false);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSI_IRQ_INDEX);
	cfg_wr(MSI_CAP + PCI_MSI_FLAGS, 2, PCI_MSI_FLAGS_64BIT | PCI_MSI_FLAGS_MASKBIT);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_MSIX_IRQ_INDEX);
	assert_int_equal(host_fd(VFIO_IRQ_MSIX, 2), guest_fd(vp->msix, 2));
}
