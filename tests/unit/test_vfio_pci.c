/*
 * The assigned device as the guest sees it, against the fake VFIO kernel and the fake
 * hypervisor (or real KVM and the MSHV simulator): config proxying and writes at their width,
 * BAR sizing and mapping around the MSI-X pages, mappings gone before the device's memory
 * (D3hot, memory decode off), resets the guest asks for, the ROM, what is hidden or
 * presented differently, and the interrupt cases of vfio_irq_cases.c and vfio_intx_cases.c.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include "hv-kvm/hv_kvm.h"
#include "tests/mshv-sim/sim.h"
#include "tests/unit/vfio_fixture.h"

#define PM_CAP   0x50 /* the fake device's capabilities (fake_vfio.c) */
#define EXP_CAP  0x60
#define VNDR_CAP 0xa0
#define ROM_GPA  (BAR0_GPA + 0x10000)

static void test_ids_proxied(void **state)
{
	unsigned before = fv.dev[0].cfg_reads;

	(void)state;
	NEED_VM();
	assert_int_equal(cfg_rd(PCI_VENDOR_ID, 4), 0x00101b36);
	assert_int_equal(cfg_rd(PCI_CLASS_REVISION, 4) >> 8, 0x010802);
	assert_true(fv.dev[0].cfg_reads > before);
	/* Bytes outside every capability proxy to the device too. */
	fv.dev[0].config[0xc0] = 0x5a;
	assert_int_equal(cfg_rd(0xc0, 1), 0x5a);
}

static void test_bar_sizing_never_touches_hw(void **state)
{
	uint8_t hw[8];

	(void)state;
	NEED_VM();
	memcpy(hw, &fv.dev[0].config[PCI_BASE_ADDRESS_0], 8);
	cfg_wr(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	cfg_wr(PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(cfg_rd(PCI_BASE_ADDRESS_0, 4), 0xffffc004u); /* 16 KiB, 64-bit */
	assert_int_equal(cfg_rd(PCI_BASE_ADDRESS_1, 4), 0xffffffffu);
	assert_memory_equal(hw, &fv.dev[0].config[PCI_BASE_ADDRESS_0], 8);
}

static void test_bar_mapped_except_msix_pages(void **state)
{
	unsigned maps = fake_hv_record()->mem_maps;
	bool mapped;
	uint32_t v = 0;

	(void)state;
	NEED_VM();
	mapped = vm->caps.devmem != HV_DEVMEM_TRAP;
	enable_bar0();
	/* COMMAND reached the device too (bus master is the device's business). */
	assert_int_equal(fv.dev[0].config[PCI_COMMAND] & PCI_COMMAND_MASTER, PCI_COMMAND_MASTER);
	/* mshv-sim models mainline mshv_root: no BAR is ever mapped there (S1). */
	assert_int_equal(vp->bar_mode, mapped ? VFIO_BARS_MAPPED : VFIO_BARS_TRAPPED);
	assert_int_equal(vp->nr_maps, mapped ? 1 : 0);
	if (mapped) {
		assert_int_equal(vp->maps[0].r.gpa, BAR0_GPA);
		assert_int_equal(vp->maps[0].r.size, 0x2000); /* doorbells mapped, 0x2000+ trap */
	}
	if (vfio_fixture_on_fake())
		assert_int_equal(fake_hv_record()->mem_maps, maps + 1);
	/* A trapped access in the PBA page beyond the PBA proxies to the device and counts. */
	fv.dev[0].bar0[0x3800] = 0x77;
	bus_access(&vm->mmio, BAR0_GPA + 0x3800, &v, 1, false);
	assert_int_equal(v, 0x77);
	assert_int_equal(vp->stats.bar_trapped[0][3], 1);
	assert_int_equal(vp->stats.bar_trapped[0][1], 0);
	/* Memory decode off: unmapped. */
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	assert_int_equal(vp->nr_maps, 0);
	if (vfio_fixture_on_fake())
		assert_int_equal(fake_hv_record()->mem_maps, maps);
}

/* The mmaps the VFIO code made, through a recording copy of the fake's syscall table. */
static struct {
	unsigned n;
	off_t off[8];
	size_t len[8];
	void *p[8];
} mm;
static struct vfio_sys rec_sys;

static void *rec_mmap(void *ctx, size_t len, int prot, int flags, int fd, off_t off, int *err)
{
	void *p = fake_vfio_sys.mmap(ctx, len, prot, flags, fd, off, err);

	if (p != MAP_FAILED && mm.n < 8) {
		mm.off[mm.n] = off;
		mm.len[mm.n] = len;
		mm.p[mm.n++] = p;
	}
	return p;
}

/* mmap the BARs again through the recording table. */
static void remap_bars(void)
{
	vfio_bars_munmap(vp);
	rec_sys = fake_vfio_sys;
	rec_sys.mmap = rec_mmap;
	vp->dev.c->sys = &rec_sys;
	memset(&mm, 0, sizeof(mm));
	assert_int_equal(vfio_bars_mmap(vp), 0);
}

/*
 * Each mappable piece is mmap'd as its own VMA at its own file offset, and each guest mapping
 * starts at its piece's first byte: never a sub-range of a larger mapping (a hypervisor may
 * resolve a mapping from its VMA, as mainline mshv_root does, mshv-real-driver.md S1).
 */
static void test_bar_pieces_own_vmas(void **state)
{
	struct vfio_region *r0;

	(void)state;
	NEED_VM();
	r0 = &vp->dev.regions[0];
	if (vm->caps.devmem == HV_DEVMEM_TRAP) {
		/* A hypervisor that cannot map device memory: not one VMA of the BAR exists. */
		remap_bars();
		assert_int_equal(mm.n, 0);
		enable_bar0();
		assert_int_equal(vp->nr_maps, 0);
		return;
	}
	/* Two areas, [0, 0x1000) and [0x1000, 0x4000), around the MSI-X pages 0x2000-0x4000. */
	r0->nr_areas = 2;
	r0->areas[0] = (struct vfio_area){ 0, 0x1000 };
	r0->areas[1] = (struct vfio_area){ 0x1000, 0x3000 };
	remap_bars();
	assert_int_equal(mm.n, 2);
	assert_int_equal(mm.off[0], (off_t)r0->offset);
	assert_int_equal(mm.len[0], 0x1000);
	assert_int_equal(mm.off[1], (off_t)(r0->offset + 0x1000)); /* its own offset */
	assert_int_equal(mm.len[1], 0x1000);                       /* the MSI-X pages cut off */
	enable_bar0();
	assert_int_equal(vp->nr_maps, 2);
	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(vp->maps[i].r.gpa, BAR0_GPA + 0x1000 * i);
		assert_ptr_equal(vp->maps[i].r.hva, mm.p[i]); /* the start of its own mmap */
		assert_int_equal(vp->maps[i].r.size, 0x1000);
	}
}

/* --vfio-bars trap: nothing mapped, every access through the device fd, and counted. */
static void test_bar_trap_forced(void **state)
{
	uint32_t v = 0, db = 7;

	(void)state;
	NEED_VM();
	vp->force_trap = true;
	remap_bars();
	assert_int_equal(mm.n, 0);
	assert_int_equal(vp->bar_mode, VFIO_BARS_TRAPPED);
	assert_string_equal(vp->bar_mode_why, "--vfio-bars trap");
	enable_bar0();
	assert_int_equal(vp->nr_maps, 0);
	/* A doorbell write and a register read reach the device through the fd. */
	bus_access(&vm->mmio, BAR0_GPA + 0x1000, &db, 4, true);
	assert_int_equal(fv.dev[0].bar0[0x1000], 7);
	fv.dev[0].bar0[0x10] = 0x42;
	bus_access(&vm->mmio, BAR0_GPA + 0x10, &v, 4, false);
	assert_int_equal(v, 0x42);
	assert_int_equal(vp->stats.bar_trapped[0][1], 1);
	assert_int_equal(vp->stats.bar_proxied, 2);
	capture_begin();
	vfio_stats_print(vp, LOG_ERR);
	assert_non_null(strstr(capture_end(), "BARs trapped, 2 accesses proxied"));
}

/* What the VMM still mapped straight through when vfio-pci revoked the device's mmaps. */
static unsigned maps_at_zap;

static void record_maps(struct fake_vfio_dev *d)
{
	(void)d;
	maps_at_zap = vp->nr_maps;
}

/*
 * D3hot: vfio-pci revokes the BAR mmaps and faults on them; a guest mapping left on them made
 * the next guest access end the VM (KVM_RUN: EFAULT).  The mapping goes first, reads are
 * all-ones while the device sleeps, and it comes back in D0.
 */
/* BAR0's guest mappings when it decodes: 1, or 0 where the hypervisor traps device memory. */
static unsigned bar0_maps(void)
{
	return vm->caps.devmem == HV_DEVMEM_TRAP ? 0 : 1;
}

static void test_d3hot_unmaps_before_the_device(void **state)
{
	uint32_t v = 0;

	(void)state;
	NEED_VM();
	enable_bar0();
	assert_int_equal(vp->nr_maps, bar0_maps());
	maps_at_zap = 99;
	fv.on_zap = record_maps;
	cfg_wr(PM_CAP + PCI_PM_CTRL, 2, 3);
	assert_int_equal(fake_vfio_power(&fv.dev[0]), 3);
	assert_int_equal(fv.zaps, 1);
	assert_int_equal(maps_at_zap, 0);
	bus_access(&vm->mmio, BAR0_GPA + 0x10, &v, 4, false);
	assert_int_equal(v, 0xffffffffu);
	cfg_wr(PM_CAP + PCI_PM_CTRL, 2, 0);
	assert_int_equal(fake_vfio_power(&fv.dev[0]), 0);
	assert_int_equal(vp->nr_maps, bar0_maps());
	fv.dev[0].bar0[0x10] = 0x12;
	bus_access(&vm->mmio, BAR0_GPA + 0x2800, &v, 1, false); /* trapped, device awake */
	assert_int_equal(v & 0xff, fv.dev[0].bar0[0x2800]);
}

/* The same as a guest would see it: the read through the old mapping faulted. */
static void test_d3hot_guest_reads_all_ones(void **state)
{
	uint32_t v = 0;

	(void)state;
	NEED_VM();
	enable_bar0();
	fv.dev[0].bar0[0x10] = 0x34;
	assert_int_equal(fake_hv_guest_access(vm, BAR0_GPA + 0x10, &v, 4, false), 0);
	assert_int_equal(v & 0xff, 0x34);
	cfg_wr(PM_CAP + PCI_PM_CTRL, 2, 3);
	assert_int_equal(fake_hv_guest_access(vm, BAR0_GPA + 0x10, &v, 4, false), 0);
	assert_int_equal(v, 0xffffffffu);
	v = 0;
	assert_int_equal(fake_hv_guest_access(vm, BAR0_GPA + 0x10, &v, 4, true), 0);
	cfg_wr(PM_CAP + PCI_PM_CTRL, 2, 0);
	assert_int_equal(fake_hv_guest_access(vm, BAR0_GPA + 0x10, &v, 4, false), 0);
	assert_int_equal(v & 0xff, 0x34);
}

/* Memory decode off: COMMAND used to reach the device before the BARs were unmapped. */
static void test_memory_off_unmaps_before_the_device(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	maps_at_zap = 99;
	fv.on_zap = record_maps;
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	assert_int_equal(fv.zaps, 1);
	assert_int_equal(maps_at_zap, 0);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MASTER | PCI_COMMAND_MEMORY);
	assert_int_equal(vp->nr_maps, bar0_maps());
}

/* The guest pulses Secondary Bus Reset on the root port above the device. */
static void bus_reset(void)
{
	struct pci_dev *port = pci_port_dev(vp->pdev->port);

	assert_int_equal(pci_cfg_write(port, PCI_BRIDGE_CONTROL, 2, PCI_BRIDGE_CTL_BUS_RESET), 0);
	assert_int_equal(pci_cfg_write(port, PCI_BRIDGE_CONTROL, 2, 0), 0);
}

/*
 * The kernel saves config space before a reset and restores it after: without a quiesce the
 * device came out of the guest's bus reset decoding and bus mastering, while the guest's
 * COMMAND read 0.
 */
static void test_bus_reset_quiesces(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	assert_true(fv.dev[0].config[PCI_COMMAND] & PCI_COMMAND_MASTER);
	bus_reset();
	assert_int_equal(fv.dev[0].resets, 1);
	assert_int_equal(cfg_rd(PCI_COMMAND, 2), 0);
	assert_int_equal(fv.dev[0].config[PCI_COMMAND] &
	                     (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_IO),
	                 0);
}

/*
 * A guest FLR: the kernel performed it, but hvmm's copy of the function (MSI-X enable,
 * COMMAND, BARs) kept its pre-FLR state.  Now the core resets it and the device is reset
 * through VFIO.
 */
static void test_guest_flr_resets_the_function(void **state)
{
	uint64_t addr;

	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	cfg_wr(EXP_CAP + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR | 0x2000);
	assert_int_equal(fv.dev[0].resets, 1);
	assert_int_equal(cfg_rd(0x42, 2) & PCI_MSIX_FLAGS_ENABLE, 0);
	assert_int_equal(cfg_rd(PCI_COMMAND, 2), 0);
	assert_false(pci_bar_decoding(vp->pdev, 0, &addr));
	/*
	 * Out of reset MSI-X is off: the legacy line is the device's interrupt again, enabled on
	 * the host once the guest unmasks its pin (test_intx_after_reset).
	 */
	assert_int_equal(fv.dev[0].irq_type, FAKE_VFIO_NO_IRQS);
	assert_true(vp->intx.wanted);
	/* Initiate FLR reads 0. */
	assert_int_equal(cfg_rd(EXP_CAP + PCI_EXP_DEVCTL, 2) & PCI_EXP_DEVCTL_BCR_FLR, 0);
}

static void prep_no_function_reset(struct fake_vfio_dev *d)
{
	d->reset_works = false;
	d->bus_reset = true;
}

/* No function reset (VFIO_DEVICE_FLAGS_RESET clear): a hot reset of its bus instead. */
static void test_reset_falls_back_to_hot_reset(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	bus_reset();
	assert_int_equal(fv.dev[0].hot_resets, 1);
	assert_int_equal(fv.dev[0].resets, 0);
}

static void prep_shared_bus(struct fake_vfio_dev *d)
{
	prep_no_function_reset(d);
	fv.bus_extra = "0000:01:00.1";
	fv.bus_extra_group = 9;
}

/* ... but not when the bus reset would hit a device of a group this VM does not hold. */
static void test_hot_reset_only_of_own_groups(void **state)
{
	const char *log;

	(void)state;
	NEED_VM();
	enable_bar0();
	log_set_level(LOG_WARN);
	capture_begin();
	bus_reset();
	log = capture_end();
	assert_int_equal(fv.dev[0].hot_resets, 0);
	assert_non_null(strstr(log, "0000:01:00.1 (IOMMU group 9)"));
}

static void prep_vendor_cap(struct fake_vfio_dev *d)
{
	fake_vfio_add_cap(d, PCI_CAP_ID_VNDR, VNDR_CAP, 8);
	d->config[VNDR_CAP + PCI_CAP_FLAGS] = 8;
}

/* vfio-pci writes vendor capabilities raw: a dword must reach the device as one write. */
static void test_cfg_write_at_access_width(void **state)
{
	(void)state;
	NEED_VM();
	cfg_wr(VNDR_CAP + 4, 4, 0x11223344);
	assert_int_equal(fv.dev[0].vndr_writes, 1);
	assert_int_equal(fv.dev[0].vndr_width[0], 4);
	assert_int_equal(fv.dev[0].config[VNDR_CAP + 4], 0x44);
	assert_int_equal(fv.dev[0].config[VNDR_CAP + 7], 0x11);
	/* A word at an odd place still goes as the kernel chops it, not byte by byte. */
	cfg_wr(VNDR_CAP + 6, 2, 0x5566);
	assert_int_equal(fv.dev[0].vndr_writes, 2);
	assert_int_equal(fv.dev[0].vndr_width[1], 2);
}

static void prep_ari(struct fake_vfio_dev *d)
{
	fake_vfio_add_cap(d, PCI_EXT_CAP_ID_ARI, 0x100, 8);
	d->config[0x105] = 0x01; /* next function number 1 */
	fake_vfio_add_cap(d, PCI_EXT_CAP_ID_DSN, 0x110, 12);
	d->config[0x0e] = 0x80; /* function 0 of a multi-function device */
}

/*
 * ARI's Next Function Number and the multi-function bit describe the host's device, not the
 * guest's slot: hidden, and the bit clear for a function presented alone.
 */
static void test_ari_and_multifunction_hidden(void **state)
{
	(void)state;
	NEED_VM();
	assert_int_equal(pci_ext_cap_find(vp->pdev, PCI_EXT_CAP_ID_ARI), 0);
	assert_int_equal(PCI_EXT_CAP_ID(cfg_rd(0x100, 4)), 0);
	assert_int_equal(PCI_EXT_CAP_ID(cfg_rd(PCI_EXT_CAP_NEXT(cfg_rd(0x100, 4)), 4)),
	                 PCI_EXT_CAP_ID_DSN);
	assert_int_equal(cfg_rd(PCI_HEADER_TYPE, 1), 0);
}

static void prep_rom(struct fake_vfio_dev *d)
{
	d->rom_size = 4096;
	for (unsigned i = 0; i < d->rom_size; i++)
		d->rom[i] = (uint8_t)(i * 7);
	d->rom[0] = 0x55;
	d->rom[1] = 0xaa;
}

/* The ROM is read from the device once, not on every guest access. */
static void test_rom_read_once(void **state)
{
	uint32_t v = 0;

	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(PCI_ROM_ADDRESS, 4, (uint32_t)ROM_GPA | PCI_ROM_ADDRESS_ENABLE);
	for (unsigned i = 0; i < 3; i++) {
		bus_access(&vm->mmio, ROM_GPA, &v, 2, false);
		assert_int_equal(v, 0xaa55);
	}
	bus_access(&vm->mmio, ROM_GPA + 100, &v, 1, false);
	assert_int_equal(v & 0xff, (uint8_t)(100 * 7));
	assert_int_equal(fv.dev[0].rom_reads, 1);
}

static void prep_rc_end(struct fake_vfio_dev *d)
{
	d->config[EXP_CAP + PCI_EXP_FLAGS] = 2 | PCI_EXP_TYPE_RC_END << 4;
	memset(d->config + EXP_CAP + PCI_EXP_LNKCAP, 0, 8);
}

/* A root complex integrated endpoint is an endpoint with a link behind hvmm's root port. */
static void test_rc_end_presented_as_endpoint(void **state)
{
	(void)state;
	NEED_VM();
	assert_int_equal((cfg_rd(EXP_CAP + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_TYPE) >> 4,
	                 PCI_EXP_TYPE_ENDPOINT);
	assert_int_equal(cfg_rd(EXP_CAP + PCI_EXP_FLAGS, 2) & PCI_EXP_FLAGS_VERS, 2);
	assert_int_equal(cfg_rd(EXP_CAP + PCI_EXP_LNKSTA, 2),
	                 PCI_EXP_LNKSTA_CLS_2_5GB | PCI_EXP_LNKSTA_NLW_X1);
	assert_int_equal(cfg_rd(EXP_CAP + PCI_EXP_LNKCAP, 4) & PCI_EXP_LNKCAP_SLS,
	                 PCI_EXP_LNKCAP_SLS_2_5GB);
}

#define ALL(h)                                                                                     \
	VFIO_CASE(h, test_ids_proxied, NULL),                                                      \
	    VFIO_CASE(h, test_bar_sizing_never_touches_hw, NULL),                                  \
	    VFIO_CASE(h, test_bar_mapped_except_msix_pages, NULL),                                 \
	    VFIO_CASE(h, test_bar_pieces_own_vmas, NULL),                                          \
	    VFIO_CASE(h, test_bar_trap_forced, NULL),                                              \
	    VFIO_CASE(h, test_d3hot_unmaps_before_the_device, NULL),                               \
	    VFIO_CASE(h, test_memory_off_unmaps_before_the_device, NULL),                          \
	    VFIO_CASE(h, test_bus_reset_quiesces, NULL),                                           \
	    VFIO_CASE(h, test_guest_flr_resets_the_function, NULL),                                \
	    VFIO_CASE(h, test_reset_falls_back_to_hot_reset, prep_no_function_reset),              \
	    VFIO_CASE(h, test_hot_reset_only_of_own_groups, prep_shared_bus),                      \
	    VFIO_CASE(h, test_cfg_write_at_access_width, prep_vendor_cap),                         \
	    VFIO_CASE(h, test_ari_and_multifunction_hidden, prep_ari),                             \
	    VFIO_CASE(h, test_rom_read_once, prep_rom),                                            \
	    VFIO_CASE(h, test_rc_end_presented_as_endpoint, prep_rc_end), VFIO_IRQ_CASES(h),       \
	    VFIO_INTX_CASES(h)

int main(void)
{
	/* The same tests on each backend's hv_ops: a missing hypervisor skips with a reason. */
	const struct CMUnitTest fake[] = {
		ALL(&fake_hv_ops),
		/* Guest accesses through the mappings need the scripted hypervisor. */
		VFIO_CASE(&fake_hv_ops, test_d3hot_guest_reads_all_ones, NULL),
	};
	const struct CMUnitTest kvm[] = { ALL(&hv_kvm_ops) };
	const struct CMUnitTest mshv_sim[] = { ALL(&hv_mshv_sim_ops) };
	int failed = 0;

	failed += cmocka_run_group_tests_name("vfio-pci on the fake hypervisor", fake, NULL, NULL);
	failed += cmocka_run_group_tests_name("vfio-pci on kvm", kvm, NULL, NULL);
	failed += cmocka_run_group_tests_name("vfio-pci on mshv-sim", mshv_sim, NULL, NULL);
	/* The simulated kernel with the VFIO bridge: BARs mapped by address there. */
	setenv("HVMM_MSHV_SIM", "kernel=bridge", 1);
	failed += cmocka_run_group_tests_name("vfio-pci on mshv-sim with the VFIO bridge", mshv_sim,
	                                      NULL, NULL);
	unsetenv("HVMM_MSHV_SIM");
	return failed;
}
