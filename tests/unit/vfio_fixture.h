/* SPDX-License-Identifier: MIT */
/*
 * The assigned-device fixture of test_vfio_pci: one fake VFIO device assigned by hand (as
 * vfio_assign_all() does) to a PC on the fake hypervisor, or on real KVM and on the MSHV
 * simulator when the host has /dev/kvm (the e2e matrix runs them there).  Its cases live in
 * test_vfio_pci.c and vfio_irq_cases.c.
 */
#ifndef HVMM_TESTS_VFIO_FIXTURE_H
#define HVMM_TESTS_VFIO_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <linux/vfio.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"
#include "tests/unit/unit.h"

#define BAR0_GPA 0xc0000000ull

/* What a test runs on: the hypervisor, and how the device differs from the default one. */
struct vfio_env {
	const struct hv_ops *hv;
	void (*prep)(struct fake_vfio_dev *d);
};

extern struct fake_vfio fv;
extern struct vm *vm;
extern struct pc *pc;
extern struct vfio_pci *vp;

int vfio_fixture_setup(void **state);
int vfio_fixture_teardown(void **state);
/* True on the scripted fake hypervisor (its record and guest accesses are available). */
bool vfio_fixture_on_fake(void);
/* No VM on this host (no /dev/kvm): say so with the reason and skip. */
void vfio_fixture_skip(void);

#define NEED_VM()                                                                                  \
	do {                                                                                       \
		if (!vm) {                                                                         \
			vfio_fixture_skip();                                                       \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

uint32_t cfg_rd(uint32_t off, uint32_t len);
void cfg_wr(uint32_t off, uint32_t len, uint32_t v);
/* Firmware's part for the port upstream, then BAR0 at BAR0_GPA, memory and bus master on. */
void enable_bar0(void);
/* Write MSI-X table entry i (address 0xfee00000, data) and its mask bit. */
void msix_entry(unsigned i, uint32_t data, bool masked);
/* The eventfd the fake device signals for vector i of index (-1: none). */
int host_fd(unsigned index, unsigned i);
/*
 * Assign one more fake device, `name` in IOMMU group `group`, as vfio_assign_all() would,
 * behind a root port of its own at device `slot` of bus 0 (>= 2: the fixture's device has the
 * port at 1).  NULL if that fails.  Released with the VM.
 */
struct vfio_pci *vfio_fixture_assign(const char *name, int group, unsigned slot);

/* A test on hypervisor h with device variant p (NULL: the default device). */
#define VFIO_CASE(h, t, p)                                                                         \
	cmocka_unit_test_prestate_setup_teardown(t, vfio_fixture_setup, vfio_fixture_teardown,     \
	                                         ((void *)&(struct vfio_env){ h, p }))

/* The interrupt cases (vfio_irq_cases.c), as VFIO_CASE entries for hypervisor h. */
#define VFIO_IRQ_CASES(h)                                                                          \
	VFIO_CASE(h, test_msix_host_enabled_with_guest, NULL),                                     \
	    VFIO_CASE(h, test_msix_vectors_wired_as_unmasked, NULL),                               \
	    VFIO_CASE(h, test_msix_function_mask, NULL),                                           \
	    VFIO_CASE(h, test_msix_noresize_whole_table, NULL),                                    \
	    VFIO_CASE(h, test_msix_dynamic_one_by_one, prep_dyn_msix),                             \
	    VFIO_CASE(h, test_msix_host_short_keeps_wired, prep_four_vectors),                     \
	    VFIO_CASE(h, test_msi_block_host_short, prep_msi8_one_vector),                         \
	    VFIO_CASE(h, test_msi_and_msix_one_at_a_time, prep_msi8)

/* The INTx cases (vfio_intx_cases.c), as VFIO_CASE entries for hypervisor h. */
#define VFIO_INTX_CASES(h)                                                                         \
	VFIO_CASE(h, test_intx_pin_wired, NULL), VFIO_CASE(h, test_intx_eoi_unmasks, NULL),        \
	    VFIO_CASE(h, test_intx_masked_pin_holds, NULL),                                        \
	    VFIO_CASE(h, test_intx_disable_bit, NULL),                                             \
	    VFIO_CASE(h, test_intx_msi_fallback, prep_msi8),                                       \
	    VFIO_CASE(h, test_intx_after_reset, NULL), VFIO_CASE(h, test_intx_shared_line, NULL),  \
	    VFIO_CASE(h, test_intx_none_without_host_irq, prep_no_intx_irq)

void test_intx_pin_wired(void **state);
void test_intx_eoi_unmasks(void **state);
void test_intx_masked_pin_holds(void **state);
void test_intx_disable_bit(void **state);
void test_intx_msi_fallback(void **state);
void test_intx_after_reset(void **state);
void test_intx_shared_line(void **state);
void test_intx_none_without_host_irq(void **state);
void prep_no_intx_irq(struct fake_vfio_dev *d);

void test_msix_host_enabled_with_guest(void **state);
void test_msix_vectors_wired_as_unmasked(void **state);
void test_msix_function_mask(void **state);
void test_msix_noresize_whole_table(void **state);
void test_msix_dynamic_one_by_one(void **state);
void test_msix_host_short_keeps_wired(void **state);
void test_msi_block_host_short(void **state);
void test_msi_and_msix_one_at_a_time(void **state);
void prep_dyn_msix(struct fake_vfio_dev *d);
void prep_four_vectors(struct fake_vfio_dev *d);
void prep_msi8(struct fake_vfio_dev *d);
void prep_msi8_one_vector(struct fake_vfio_dev *d);

#endif
