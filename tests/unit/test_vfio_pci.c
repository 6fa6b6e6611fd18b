/*
 * The assigned device as the guest sees it, against the fake VFIO kernel and the fake
 * hypervisor: config proxying, BAR sizing and mapping around the MSI-X pages, lazy MSI-X
 * vectors, hidden capabilities, teardown.
 */
#include <linux/pci_regs.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <cmocka.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"
#include "hv-kvm/hv_kvm.h"
#include "tests/mshv-sim/sim.h"
#include "tests/unit/unit.h"

#define BAR0_GPA 0xc0000000ull

static struct fake_vfio fv;
static struct vm *vm;
static struct pc *pc;
static struct vfio_container *cont;
static struct vfio_pci *vp;

/*
 * The hypervisor under the VM: the scripted fake, or (when this host has one) real KVM and
 * the MSHV backend on its simulator, so BAR mappings and irqfds really go to a hypervisor.
 */
static const struct hv_ops *hv;
/* Why the hypervisor is missing, for the skip line: its probe's answer. */
static int hv_probe_err;

static bool on_fake(void)
{
	return hv == &fake_hv_ops;
}

/* Assign the fake device by hand, as vfio_assign_all() does for the real host. */
static int setup(void **state)
{
	const struct vfio_bdf bdf = { 0, 1, 0, 0 };
	struct vm_config cfg = { .hypervisor = "test",
		                 .mem_size = MiB(16),
		                 .nr_cpus = 1,
		                 .kernel = "none",
		                 .cmdline = "",
		                 .serial = SERIAL_NONE };

	hv = *state ? *state : &fake_hv_ops;
	fake_hv_reset();
	fake_vfio_init(&fv);
	log_set_level(LOG_ERR);
	hv_probe_err = hv->probe();
	if (hv_probe_err) {
		vm = NULL;
		return 0; /* the test reports the skip */
	}
	if (pc_create(&cfg, hv, &pc))
		return -1;
	vm = pc->vm;
	cont = calloc(1, sizeof(*cont));
	vp = calloc(1, sizeof(*vp));
	if (!cont || !vp || vfio_container_open(&fake_vfio_sys, cont))
		return -1;
	if (vfio_device_open(cont, &bdf, &vp->dev) || vfio_pci_create(vm, pc->pci, vp) ||
	    vfio_bars_mmap(vp) || pci_attach(pc->pci, NULL, vp->pdev))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (!vm)
		return 0;
	vfio_intr_disable(vp);
	/* The PCI core releases the function (vfio_pci_release) before the container goes. */
	vm_destroy(vm);
	vfio_container_close(cont);
	free(cont);
	assert_int_equal(fv.open_fds, 0);
	return 0;
}

/*
 * No such hypervisor on this host: say why on a TAP comment line of its own (cmocka's skip
 * line carries only the test's name; tests/tap.awk pairs the two).
 */
#define NEED_VM()                                                                                  \
	do {                                                                                       \
		if (!vm) {                                                                         \
			printf("# skip: no usable /dev/kvm on this host for %s (probe: %s); "      \
			       "make e2e runs this test on real KVM in the nested host\n",         \
			       hv->name, strerror(-hv_probe_err));                                 \
			skip();                                                                    \
		}                                                                                  \
	} while (0)

static uint32_t cfg_rd(uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	assert_int_equal(pci_cfg_read(vp->pdev, off, len, &v), 0);
	return v;
}

static void cfg_wr(uint32_t off, uint32_t len, uint32_t v)
{
	assert_int_equal(pci_cfg_write(vp->pdev, off, len, v), 0);
}

static void test_ids_proxied(void **state)
{
	unsigned before = fv.cfg_reads;

	(void)state;
	NEED_VM();
	assert_int_equal(cfg_rd(PCI_VENDOR_ID, 4), 0x00101b36);
	assert_int_equal(cfg_rd(PCI_CLASS_REVISION, 4) >> 8, 0x010802);
	assert_true(fv.cfg_reads > before);
	/* Bytes past the device's config space proxy to it too. */
	fv.config[0x80] = 0x5a;
	assert_int_equal(cfg_rd(0x80, 1), 0x5a);
}

static void test_bar_sizing_never_touches_hw(void **state)
{
	uint8_t hw[8];

	(void)state;
	NEED_VM();
	memcpy(hw, &fv.config[PCI_BASE_ADDRESS_0], 8);
	cfg_wr(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	cfg_wr(PCI_BASE_ADDRESS_1, 4, 0xffffffff);
	assert_int_equal(cfg_rd(PCI_BASE_ADDRESS_0, 4), 0xffffc004u); /* 16 KiB, 64-bit */
	assert_int_equal(cfg_rd(PCI_BASE_ADDRESS_1, 4), 0xffffffffu);
	assert_memory_equal(hw, &fv.config[PCI_BASE_ADDRESS_0], 8);
}

static void enable_bar0(void)
{
	struct pci_dev *port = pci_port_dev(vp->pdev->port);

	/* Firmware's part: bus numbers and a memory window on the root port upstream. */
	assert_int_equal(pci_cfg_write(port, PCI_PRIMARY_BUS, 4, 0x00010100), 0);
	assert_int_equal(pci_cfg_write(port, PCI_MEMORY_BASE, 2, 0xc000), 0);
	assert_int_equal(pci_cfg_write(port, PCI_MEMORY_LIMIT, 2, 0xc0f0), 0);
	assert_int_equal(
	    pci_cfg_write(port, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER), 0);
	cfg_wr(PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR0_GPA);
	cfg_wr(PCI_BASE_ADDRESS_1, 4, 0);
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
}

static void test_bar_mapped_except_msix_pages(void **state)
{
	unsigned maps = fake_hv_record()->mem_maps;
	bool mapped = vm && vm->caps.devmem != HV_DEVMEM_TRAP;
	uint32_t v = 0;

	(void)state;
	NEED_VM();
	enable_bar0();
	/* COMMAND reached the device too (bus master is the device's business). */
	assert_int_equal(fv.config[PCI_COMMAND] & PCI_COMMAND_MASTER, PCI_COMMAND_MASTER);
	/* mshv-sim models mainline mshv_root: no BAR is ever mapped there (S1). */
	assert_int_equal(vp->bar_mode, mapped ? VFIO_BARS_MAPPED : VFIO_BARS_TRAPPED);
	assert_int_equal(vp->nr_maps, mapped ? 1 : 0);
	if (mapped) {
		assert_int_equal(vp->maps[0].r.gpa, BAR0_GPA);
		assert_int_equal(vp->maps[0].r.size, 0x2000); /* doorbells mapped, 0x2000+ trap */
	}
	if (on_fake())
		assert_int_equal(fake_hv_record()->mem_maps, maps + 1);
	/* A trapped access in the PBA page beyond the PBA proxies to the device and counts. */
	fv.bar0[0x3800] = 0x77;
	bus_access(&vm->mmio, BAR0_GPA + 0x3800, &v, 1, false);
	assert_int_equal(v, 0x77);
	assert_int_equal(vp->stats.bar_trapped[0][3], 1);
	assert_int_equal(vp->stats.bar_trapped[0][1], 0);
	/* Memory decode off: unmapped. */
	cfg_wr(PCI_COMMAND, 2, PCI_COMMAND_MASTER);
	assert_int_equal(vp->nr_maps, 0);
	if (on_fake())
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
	cont->sys = &rec_sys;
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
	struct vfio_region *r0 = &vp->dev.regions[0];

	(void)state;
	NEED_VM();
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
	assert_int_equal(fv.bar0[0x1000], 7);
	fv.bar0[0x10] = 0x42;
	bus_access(&vm->mmio, BAR0_GPA + 0x10, &v, 4, false);
	assert_int_equal(v, 0x42);
	assert_int_equal(vp->stats.bar_trapped[0][1], 1);
	assert_int_equal(vp->stats.bar_proxied, 2);
	capture_begin();
	vfio_stats_print(vp, LOG_ERR);
	assert_non_null(strstr(capture_end(), "BARs trapped, 2 accesses proxied"));
}

static void msix_entry(unsigned i, uint32_t data, bool masked)
{
	uint64_t base = BAR0_GPA + 0x2000 + 16ull * i;
	uint32_t addr = 0xfee00000, zero = 0, ctl = masked;

	bus_access(&vm->mmio, base, &addr, 4, true);
	bus_access(&vm->mmio, base + 4, &zero, 4, true);
	bus_access(&vm->mmio, base + 8, &data, 4, true);
	bus_access(&vm->mmio, base + 12, &ctl, 4, true);
}

static void test_msix_lazy_vectors(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	/* Enabled with every vector masked: nothing is wired on the host. */
	assert_int_equal(vp->msix_host_count, 0);
	assert_int_equal(fv.irq_fds[2][0], -1);
	msix_entry(3, 0x43, false);
	assert_int_equal(vp->msix_host_count, 4);
	assert_true(fv.irq_fds[2][3] >= 0);
	assert_int_equal(fv.irq_fds[2][0], -1);
	assert_int_equal(fv.irq_fds[2][2], -1);
	/* Below the enabled count: one vector set, no resize. */
	msix_entry(1, 0x41, false);
	assert_int_equal(vp->msix_host_count, 4);
	assert_true(fv.irq_fds[2][1] >= 0);
	/* Above: the block grows and keeps the wired vectors. */
	msix_entry(10, 0x4a, false);
	assert_int_equal(vp->msix_host_count, 11);
	assert_true(fv.irq_fds[2][3] >= 0 && fv.irq_fds[2][10] >= 0);
	assert_int_equal(vp->stats.vectors_routed, 3);
	/* Table writes are trapped accesses on the table's page: 4 dwords per entry. */
	assert_int_equal(vp->stats.bar_trapped[0][2], 12);
	/* Masking keeps the host vector (its eventfd then feeds the pending bit). */
	msix_entry(3, 0x43, true);
	assert_true(fv.irq_fds[2][3] >= 0);
	/* The guest turns MSI-X off: so does the host. */
	cfg_wr(0x42, 2, 64);
	assert_int_equal(vp->msix_host_count, 0);
	assert_int_equal(fv.irq_fds[2][10], -1);
}

static void test_msix_function_mask(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL | 64);
	msix_entry(0, 0x40, false);
	/* Function-masked: not live yet, so not wired. */
	assert_int_equal(vp->msix_host_count, 0);
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	assert_int_equal(vp->msix_host_count, 1);
	assert_true(fv.irq_fds[2][0] >= 0);
}

/*
 * Found by tests/fuzz (vfio_config): when the host refused to grow the vector block, the
 * vectors already wired lost their host interrupt for good.
 */
static void test_msix_grow_refused_keeps_wired(void **state)
{
	(void)state;
	NEED_VM();
	enable_bar0();
	cfg_wr(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	msix_entry(3, 0x43, false);
	assert_int_equal(vp->msix_host_count, 4);
	/* The host has no vectors to spare beyond those 4. */
	fv.msix_count = 4;
	msix_entry(10, 0x4a, false);
	assert_int_equal(vp->msix_host_count, 4);
	assert_true(fv.irq_fds[2][3] >= 0);
	assert_int_equal(fv.irq_fds[2][10], -1);
	/* Vectors inside the block still wire. */
	msix_entry(1, 0x41, false);
	assert_true(fv.irq_fds[2][1] >= 0 && fv.irq_fds[2][3] >= 0);
}

#define ON(h, t) cmocka_unit_test_prestate_setup_teardown(t, setup, teardown, (void *)(h))
#define ALL(h)                                                                                     \
	ON(h, test_ids_proxied), ON(h, test_bar_sizing_never_touches_hw),                          \
	    ON(h, test_bar_mapped_except_msix_pages), ON(h, test_bar_pieces_own_vmas),             \
	    ON(h, test_bar_trap_forced), ON(h, test_msix_lazy_vectors),                            \
	    ON(h, test_msix_function_mask), ON(h, test_msix_grow_refused_keeps_wired)

int main(void)
{
	/* The same tests on each backend's hv_ops: a missing hypervisor skips with a reason. */
	const struct CMUnitTest fake[] = { ALL(&fake_hv_ops) };
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
