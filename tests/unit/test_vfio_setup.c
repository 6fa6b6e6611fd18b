/* VFIO set-up against a fake VFIO kernel: the happy path and every error, each naming its fix. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <linux/vfio.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/vfio/internal.h"
#include "tests/unit/unit.h"

static struct fake_vfio fv;
static const struct vfio_bdf bdf = { 0, 1, 0, 0 };

static int setup(void **state)
{
	(void)state;
	fake_vfio_init(&fv);
	log_set_level(LOG_WARN);
	return 0;
}

/* Open the device; expect `err`; the log must contain each of `want`. */
static void expect_open(int err, const char *want1, const char *want2)
{
	struct vfio_container c;
	struct vfio_device d;
	const char *log;
	int r;

	assert_int_equal(vfio_container_open(&fake_vfio_sys, &c), 0);
	capture_begin();
	r = vfio_device_open(&c, &bdf, &d);
	log = capture_end();
	if (r == 0)
		vfio_device_close(&d);
	vfio_container_close(&c);
	assert_int_equal(r, err);
	if (want1 && !strstr(log, want1))
		fail_msg("log lacks '%s':\n%s", want1, log);
	if (want2 && !strstr(log, want2))
		fail_msg("log lacks '%s':\n%s", want2, log);
	assert_int_equal(fv.open_fds, 0); /* nothing leaked on any path */
}

static void test_bdf_parse(void **state)
{
	struct vfio_bdf b;
	char buf[16];

	(void)state;
	assert_int_equal(vfio_bdf_parse("0000:01:00.0", &b), 0);
	assert_int_equal(b.bus, 1);
	assert_int_equal(vfio_bdf_parse("3a:1f.7", &b), 0);
	assert_int_equal(b.domain, 0);
	assert_int_equal(b.bus, 0x3a);
	assert_int_equal(b.dev, 0x1f);
	assert_int_equal(b.fn, 7);
	vfio_bdf_format(&b, buf, sizeof(buf));
	assert_string_equal(buf, "0000:3a:1f.7");
	assert_int_equal(vfio_bdf_parse("ffff:ff:1f.7", &b), 0);
	assert_int_equal(vfio_bdf_parse("01:20.0", &b), -EINVAL); /* device > 0x1f */
	assert_int_equal(vfio_bdf_parse("01:00.8", &b), -EINVAL);
	assert_int_equal(vfio_bdf_parse("1:00.0", &b), -EINVAL);
	assert_int_equal(vfio_bdf_parse("000:01:00.0", &b), -EINVAL);
	assert_int_equal(vfio_bdf_parse("01:00", &b), -EINVAL);
	assert_int_equal(vfio_bdf_parse("0g:00.0", &b), -EINVAL);
	assert_int_equal(vfio_bdf_parse("01:00.0x", &b), -EINVAL);
	assert_int_equal(vfio_bdf_parse("", &b), -EINVAL);
}

static void test_happy_path(void **state)
{
	struct vfio_container c;
	struct vfio_device d;
	struct guest_mem mem;
	uint32_t id = 0;
	int fds[2] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };

	(void)state;
	assert_int_equal(mem_init(&mem, GiB(4)), 0);
	assert_int_equal(vfio_container_open(&fake_vfio_sys, &c), 0);
	assert_int_equal(vfio_device_open(&c, &bdf, &d), 0);
	assert_string_equal(d.name, "0000:01:00.0");
	assert_int_equal(d.regions[0].size, 16384);
	assert_int_equal(d.regions[0].nr_areas, 1);
	assert_int_equal(d.irqs[VFIO_IRQ_MSIX].count, 65);
	assert_int_equal(vfio_region_read(&d, VFIO_REGION_CONFIG, 0, &id, 4), 0);
	assert_int_equal(id, 0x00101b36);
	/* Reads past a region's end never reach the kernel. */
	assert_int_equal(vfio_region_read(&d, VFIO_REGION_CONFIG, 4094, &id, 4), -EINVAL);
	assert_int_equal(vfio_region_read(&d, 42, 0, &id, 4), -EINVAL);
	assert_int_equal(vfio_device_reset(&d), 0);
	assert_int_equal(fv.dev[0].resets, 1);
	/* RAM mapped IOVA == GPA, both regions, in chunks: 3 GiB below the hole, 1 above. */
	assert_int_equal(vfio_container_map_ram(&c, &mem), 0);
	assert_int_equal(fv.dma_maps, GiB(4) / VFIO_DMA_CHUNK);
	assert_int_equal(fv.dma_iova[0], 0);
	assert_int_equal(fv.dma_size[0], VFIO_DMA_CHUNK);
	assert_int_equal(fv.dma_iova[1], VFIO_DMA_CHUNK);
	assert_int_equal(fv.dma_iova[MEM_LOW_END / VFIO_DMA_CHUNK - 1],
	                 MEM_LOW_END - VFIO_DMA_CHUNK);
	assert_int_equal(fv.dma_iova[MEM_LOW_END / VFIO_DMA_CHUNK], MEM_HIGH_BASE);
	assert_int_equal(fv.dma_size[fv.dma_maps - 1], VFIO_DMA_CHUNK);
	assert_int_equal(vfio_container_map_wait(&c), 0);
	assert_int_equal(vfio_device_set_irqs(&d, VFIO_IRQ_MSIX, 3, 2, fds, NULL), 0);
	assert_int_equal(fake_vfio_trigger(&fv.dev[0], VFIO_IRQ_MSIX, 3), fds[0]);
	assert_int_equal(fake_vfio_trigger(&fv.dev[0], VFIO_IRQ_MSIX, 4), fds[1]);
	assert_int_equal(vfio_device_set_irqs(&d, VFIO_IRQ_MSIX, 0, 0, NULL, NULL), 0);
	assert_int_equal(fake_vfio_trigger(&fv.dev[0], VFIO_IRQ_MSIX, 3), -1);
	close(fds[0]);
	close(fds[1]);
	vfio_device_close(&d);
	vfio_container_close(&c);
	assert_int_equal(fv.dma_unmaps, GiB(4) / VFIO_DMA_CHUNK);
	assert_int_equal(fv.open_fds, 0);
	mem_destroy(&mem);
}

static void test_sparse_areas(void **state)
{
	struct vfio_container c;
	struct vfio_device d;

	(void)state;
	fv.dev[0].nr_sparse = 3;
	fv.dev[0].sparse_off[0] = 0;
	fv.dev[0].sparse_size[0] = 0x2000;
	fv.dev[0].sparse_off[1] = 0x3000;
	fv.dev[0].sparse_size[1] = 0x1000;
	fv.dev[0].sparse_off[2] = 0x3000; /* runs past the 16 KiB region: ignored */
	fv.dev[0].sparse_size[2] = 0x2000;
	assert_int_equal(vfio_container_open(&fake_vfio_sys, &c), 0);
	assert_int_equal(vfio_device_open(&c, &bdf, &d), 0);
	assert_int_equal(d.regions[0].nr_areas, 2);
	assert_int_equal(d.regions[0].areas[1].offset, 0x3000);
	vfio_device_close(&d);
	vfio_container_close(&c);
}

static void test_err_missing_device(void **state)
{
	(void)state;
	fv.dev[0].exists = false;
	expect_open(-ENODEV, "no such PCI device", "lspci -D");
}

static void test_err_bound_to_other_driver(void **state)
{
	(void)state;
	fv.dev[0].driver = "nvme";
	expect_open(-EBUSY, "bound to nvme",
	            "echo 0000:01:00.0 > /sys/bus/pci/devices/0000:01:00.0/driver/unbind");
	expect_open(-EBUSY, "driver_override", "drivers_probe");
}

static void test_err_unbound(void **state)
{
	(void)state;
	fv.dev[0].driver = NULL;
	expect_open(-ENODEV, "bound to no driver", "echo vfio-pci > /sys/bus/pci/devices");
}

static void test_err_no_iommu(void **state)
{
	(void)state;
	fv.dev[0].group = -1;
	expect_open(-ENODEV, "no IOMMU group", "intel_iommu=on");
}

static void test_err_no_dev_vfio(void **state)
{
	struct vfio_container c;
	const char *log;

	(void)state;
	fv.dev_vfio_nodes = false;
	capture_begin();
	assert_int_equal(vfio_container_open(&fake_vfio_sys, &c), -ENOENT);
	log = capture_end();
	assert_non_null(strstr(log, "modprobe vfio-pci"));
}

static void test_err_group_not_viable(void **state)
{
	(void)state;
	fv.viable = false;
	fv.group_extra[0] = "0000:01:00.1";
	fv.extra_drivers[0] = "snd_hda_intel";
	expect_open(-EBUSY, "not viable", "0000:01:00.1: snd_hda_intel (bind to vfio-pci");
}

static void test_err_permission(void **state)
{
	(void)state;
	fv.open_err = -EACCES;
	expect_open(-EACCES, "permission denied", "run hvmm as root");
}

static void test_err_no_interrupt_remapping(void **state)
{
	(void)state;
	fv.set_iommu_err = -EPERM;
	expect_open(-EPERM, "does not remap interrupts", "allow_unsafe_interrupts");
	fv.set_iommu_err = 0;
	fv.set_container_err = -EPERM;
	expect_open(-EPERM, "nested Hyper-V", "allow_unsafe_interrupts=1");
}

static void test_err_memlock(void **state)
{
	struct vfio_container c;
	struct vfio_device d;
	struct guest_mem mem;
	const char *log;

	(void)state;
	fv.memlock = MiB(64);
	assert_int_equal(mem_init(&mem, MiB(512)), 0);
	assert_int_equal(vfio_container_open(&fake_vfio_sys, &c), 0);
	assert_int_equal(vfio_device_open(&c, &bdf, &d), 0);
	capture_begin();
	assert_int_equal(vfio_container_map_ram(&c, &mem), -ENOMEM);
	log = capture_end();
	assert_non_null(strstr(log, "memlock limit is 65536 KiB but 524288 KiB are needed"));
	assert_non_null(strstr(log, "ulimit -l 524288"));
	assert_int_equal(fv.dma_maps, 0);
	vfio_device_close(&d);
	vfio_container_close(&c);
	mem_destroy(&mem);
}

static void test_err_map_fails_unmaps_rest(void **state)
{
	struct vfio_container c;
	struct guest_mem mem;

	(void)state;
	fv.map_err = -ENOMEM;
	assert_int_equal(mem_init(&mem, MiB(16)), 0);
	assert_int_equal(vfio_container_open(&fake_vfio_sys, &c), 0);
	capture_begin();
	assert_int_equal(vfio_container_map_ram(&c, &mem), -ENOMEM);
	assert_non_null(strstr(capture_end(), "VFIO_IOMMU_MAP_DMA"));
	vfio_container_close(&c);
	mem_destroy(&mem);
}

static _Atomic int stop_flag;

static void stop_after_first_map(const struct vfio_iommu_type1_dma_map *m)
{
	(void)m;
	atomic_store(&stop_flag, 1);
}

/*
 * The mapping thread: it signals its eventfd when done; a VM that stops while RAM is pinned
 * ends it after the chunk at hand, with nothing left mapped.
 */
static void test_background_map_stops_with_the_vm(void **state)
{
	struct vfio_container c;
	struct vfio_device d;
	struct guest_mem mem;
	int efd = eventfd(0, EFD_CLOEXEC);
	uint64_t n = 0;

	(void)state;
	assert_int_equal(mem_init(&mem, GiB(3)), 0);
	assert_int_equal(vfio_container_open(&fake_vfio_sys, &c), 0);
	assert_int_equal(vfio_device_open(&c, &bdf, &d), 0);
	atomic_store(&stop_flag, 0);
	assert_int_equal(vfio_container_map_ram_start(&c, &mem, &stop_flag, efd), 0);
	assert_int_equal(vfio_container_map_wait(&c), 0);
	assert_int_equal(read(efd, &n, sizeof(n)), (ssize_t)sizeof(n));
	assert_int_equal(n, 1);
	assert_int_equal(fv.nr_dma, GiB(3) / VFIO_DMA_CHUNK);
	vfio_container_unmap_all(&c);
	assert_int_equal(fv.nr_dma, 0);
	fv.on_map = stop_after_first_map;
	assert_int_equal(vfio_container_map_ram_start(&c, &mem, &stop_flag, efd), 0);
	assert_int_equal(vfio_container_map_wait(&c), -ECANCELED);
	fv.on_map = NULL;
	assert_int_equal(read(efd, &n, sizeof(n)), (ssize_t)sizeof(n));
	/* All chunks, then one before the stop was seen; nothing stays mapped. */
	assert_int_equal(fv.dma_maps, GiB(3) / VFIO_DMA_CHUNK + 1);
	assert_int_equal(fv.nr_dma, 0);
	assert_int_equal(fv.dma_unmaps, GiB(3) / VFIO_DMA_CHUNK + 1);
	vfio_device_close(&d);
	vfio_container_close(&c);
	close(efd);
	mem_destroy(&mem);
}

static void test_iova_ranges(void **state)
{
	struct vfio_usable_range r[2] = { { 0, 0xfedfffff }, { 0xfef00000, (1ull << 39) - 1 } };
	struct guest_mem mem;
	uint64_t bad = 0;

	(void)state;
	assert_int_equal(mem_init(&mem, GiB(6)), 0);
	assert_int_equal(vfio_check_iova(r, 2, &mem, &bad), 0);
	r[1].end = GiB(5) - 1; /* high RAM runs to 7 GiB */
	assert_int_equal(vfio_check_iova(r, 2, &mem, &bad), -ERANGE);
	assert_int_equal(bad, MEM_HIGH_BASE);
	assert_int_equal(vfio_check_iova(r, 0, &mem, &bad), 0);
	mem_destroy(&mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_bdf_parse, setup),
		cmocka_unit_test_setup(test_happy_path, setup),
		cmocka_unit_test_setup(test_sparse_areas, setup),
		cmocka_unit_test_setup(test_err_missing_device, setup),
		cmocka_unit_test_setup(test_err_bound_to_other_driver, setup),
		cmocka_unit_test_setup(test_err_unbound, setup),
		cmocka_unit_test_setup(test_err_no_iommu, setup),
		cmocka_unit_test_setup(test_err_no_dev_vfio, setup),
		cmocka_unit_test_setup(test_err_group_not_viable, setup),
		cmocka_unit_test_setup(test_err_permission, setup),
		cmocka_unit_test_setup(test_err_no_interrupt_remapping, setup),
		cmocka_unit_test_setup(test_err_memlock, setup),
		cmocka_unit_test_setup(test_err_map_fails_unmaps_rest, setup),
		cmocka_unit_test_setup(test_background_map_stops_with_the_vm, setup),
		cmocka_unit_test_setup(test_iova_ranges, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
