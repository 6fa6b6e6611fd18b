/*
 * vfio_assign_all() against the fake VFIO kernel and the fake hypervisor: the way users
 * assign devices (several, functions of one device in one IOMMU group), the start-time reset,
 * and the host's error and request notifications while the VM runs.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"
#include "tests/unit/unit.h"

static struct fake_vfio fv;
static struct pc *pc;

static int setup(void **state)
{
	(void)state;
	fake_hv_reset();
	fake_vfio_init(&fv);
	log_set_level(LOG_ERR);
	return fake_pc_create(1, MiB(16), &pc);
}

static int teardown(void **state)
{
	(void)state;
	vm_destroy(pc->vm);
	assert_int_equal(fv.open_fds, 0);
	assert_int_equal(fv.nr_dma, 0);
	return 0;
}

/* Assign, then wait for guest RAM's mapping, which runs in the background. */
static int assign(const struct vfio_spec *specs, unsigned n)
{
	struct vfio_assign *a;
	int r = vfio_assign_all_sys(pc->vm, pc->pci, specs, n, false, &fake_vfio_sys, &a);

	return r || !a ? r : vfio_container_map_wait(&a->c);
}

/* Config space of bus 1, device 0, function fn, as the guest reads it through ECAM. */
static uint32_t guest_cfg(unsigned fn, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	bus_access(&pc->vm->mmio, MEM_ECAM_BASE + PCI_ECAM_OFFSET(1, 0, fn) + off, &v, len, false);
	return v;
}

/* Firmware's part: the root port's secondary bus is 1. */
static void number_port(const char *name)
{
	struct pci_port *port;

	assert_int_equal(pci_root_port_find(pc->pci, name, &port), 0);
	assert_int_equal(pci_cfg_write(pci_port_dev(port), PCI_PRIMARY_BUS, 4, 0x00010100), 0);
}

static void test_assign_maps_ram_and_attaches(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };

	(void)state;
	assert_int_equal(assign(&spec, 1), 0);
	assert_int_equal(fv.nr_dma, 1); /* 16 MiB of RAM, below the hole */
	assert_int_equal(fake_hv_record()->vfio_groups, 1);
	assert_int_equal(fv.dev[0].resets, 1); /* a clean device to start */
	number_port("rp0");
	assert_int_equal(guest_cfg(0, PCI_VENDOR_ID, 4), 0x00101b36);
}

/*
 * Two functions of one device in one IOMMU group (GPU and its audio, a two-port NIC): the
 * group is the hypervisor's once -- KVM's VFIO device answers a second add with EEXIST.
 */
static void test_two_functions_one_group(void **state)
{
	const struct vfio_spec specs[] = { { "0000:01:00.0", NULL, false },
		                           { "0000:01:00.1", NULL, false } };

	(void)state;
	fake_vfio_add_dev(&fv, "0000:01:00.1", 7);
	assert_int_equal(assign(specs, 2), 0);
	assert_int_equal(fake_hv_record()->vfio_groups, 1);
	assert_int_equal(fv.nr_groups_set, 1);
}

static void prep_multifunction(void)
{
	fake_vfio_add_dev(&fv, "0000:01:00.1", 7);
	fv.dev[0].config[PCI_HEADER_TYPE] = 0x80;
	fv.dev[1].config[PCI_HEADER_TYPE] = 0x80;
	fv.dev[1].config[PCI_DEVICE_ID] = 0x11;
}

/* Functions of one device assigned together keep one slot, their numbers and the bit. */
static void test_functions_share_a_slot(void **state)
{
	const struct vfio_spec specs[] = { { "0000:01:00.1", NULL, false },
		                           { "0000:01:00.0", NULL, false } };
	struct pci_port *port;

	(void)state;
	prep_multifunction();
	assert_int_equal(assign(specs, 2), 0);
	number_port("rp0");
	assert_int_equal(pci_root_port_find(pc->pci, "rp1", &port), -ENOENT);
	assert_int_equal(guest_cfg(0, PCI_DEVICE_ID, 2), 0x0010);
	assert_int_equal(guest_cfg(0, PCI_HEADER_TYPE, 1), 0x80);
	assert_int_equal(guest_cfg(1, PCI_DEVICE_ID, 2), 0x0011);
}

/* A function whose function 0 stays on the host is a single-function device of its own. */
static void test_function_alone_is_single(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.1", NULL, false };

	(void)state;
	prep_multifunction();
	assert_int_equal(assign(&spec, 1), 0);
	number_port("rp0");
	assert_int_equal(guest_cfg(0, PCI_DEVICE_ID, 2), 0x0011);
	assert_int_equal(guest_cfg(0, PCI_HEADER_TYPE, 1), 0x00);
	assert_int_equal(guest_cfg(1, PCI_VENDOR_ID, 2), 0xffff);
}

/* A start-time reset that fails (device lock busy) is said; the VM still starts. */
static void test_start_reset_failure_goes_on(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };
	const char *log;

	(void)state;
	fv.dev[0].reset_err = -EAGAIN;
	log_set_level(LOG_WARN);
	capture_begin();
	assert_int_equal(assign(&spec, 1), 0);
	log = capture_end();
	fv.dev[0].reset_err = 0;
	assert_non_null(strstr(log, "VFIO_DEVICE_RESET 0000:01:00.0"));
	assert_int_equal(fv.nr_dma, 1);
}

/* Signal the fake's eventfd for `index` while the VM runs; the VM's exit code and log. */
static int run_with_event(unsigned index, const char **log)
{
	int fd = fake_vfio_trigger(&fv.dev[0], index, 0), code = -1;
	uint64_t one = 1;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, &one, sizeof(one)), (ssize_t)sizeof(one));
	log_set_level(LOG_ERR);
	capture_begin();
	assert_int_equal(vm_run(pc->vm, -1, &code), 0);
	*log = capture_end();
	return code;
}

/*
 * The host unbinds vfio-pci: the request waits for the device's release, which it used to get
 * only when hvmm exited.  The VM stops, saying why.
 */
static void test_host_request_stops_the_vm(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };
	const char *log;

	(void)state;
	assert_int_equal(assign(&spec, 1), 0);
	assert_int_equal(run_with_event(VFIO_PCI_REQ_IRQ_INDEX, &log), VM_EXIT_DEVICE);
	assert_non_null(strstr(log, "0000:01:00.0: the host asks for the device back"));
}

/* An uncorrectable error (AER) the guest could not hear of: the VM stops, saying why. */
static void test_device_error_stops_the_vm(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };
	const char *log;

	(void)state;
	assert_int_equal(assign(&spec, 1), 0);
	assert_int_equal(run_with_event(VFIO_PCI_ERR_IRQ_INDEX, &log), VM_EXIT_DEVICE);
	assert_non_null(strstr(log, "0000:01:00.0: the device reported an uncorrectable error"));
}

/* ---- guest RAM mapped for DMA in the background ---- */

static sem_t map_gate;
static _Atomic unsigned maps_held;

/*
 * The fake's VFIO_IOMMU_MAP_DMA, on the mapping thread: held until the test lets it go, or
 * 10 s at most, so that a failed test's teardown (which joins this thread) cannot hang.
 */
static void hold_map(const struct vfio_iommu_type1_dma_map *m)
{
	struct timespec until;

	(void)m;
	atomic_fetch_add(&maps_held, 1);
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 10;
	while (sem_timedwait(&map_gate, &until) < 0 && errno == EINTR)
		;
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { 0, (long)ms * 1000000L };

	nanosleep(&ts, NULL);
}

/* The guest driver's enable: memory decode and bus mastering on, as a vCPU would write it. */
static void *enable_bus_master(void *opaque)
{
	uint32_t cmd = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	_Atomic bool *done = opaque;

	bus_access(&pc->vm->mmio, MEM_ECAM_BASE + PCI_ECAM_OFFSET(1, 0, 0) + PCI_COMMAND, &cmd, 2,
	           true);
	atomic_store(done, true);
	return NULL;
}

/*
 * The assignment returns while guest RAM is still being pinned; the guest's first write of
 * Bus Master Enable waits until it is mapped, and only then reaches the device.
 */
static void test_bus_master_waits_for_dma(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };
	_Atomic bool done = false;
	struct vfio_assign *a;
	pthread_t t;

	(void)state;
	assert_int_equal(sem_init(&map_gate, 0, 0), 0);
	atomic_store(&maps_held, 0);
	fv.on_map = hold_map;
	assert_int_equal(vfio_assign_all_sys(pc->vm, pc->pci, &spec, 1, false, &fake_vfio_sys, &a),
	                 0);
	for (unsigned i = 0; i < 5000 && !atomic_load(&maps_held); i++)
		sleep_ms(1);
	assert_int_equal(atomic_load(&maps_held), 1);
	assert_int_equal(fv.nr_dma, 0); /* the one chunk (16 MiB) is still held */
	number_port("rp0");
	assert_int_equal(pthread_create(&t, NULL, enable_bus_master, &done), 0);
	sleep_ms(50);
	assert_false(atomic_load(&done));
	assert_int_equal(fv.dev[0].config[PCI_COMMAND] & PCI_COMMAND_MASTER, 0);
	assert_int_equal(sem_post(&map_gate), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	fv.on_map = NULL;
	assert_true(atomic_load(&done));
	assert_int_equal(fv.nr_dma, 1);
	assert_int_equal(fv.dev[0].config[PCI_COMMAND] & PCI_COMMAND_MASTER, PCI_COMMAND_MASTER);
	sem_destroy(&map_gate);
}

/*
 * The host runs out of memory while pinning (the memlock check passed): the error names the
 * call, the guest's bus mastering stays off, and the VM stops with an error.
 */
static void test_dma_map_failure_stops_the_vm(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };
	_Atomic bool done = false;
	struct vfio_assign *a;
	const char *log;
	int code = -1;

	(void)state;
	fv.map_err = -ENOMEM;
	log_set_level(LOG_WARN);
	capture_begin();
	assert_int_equal(vfio_assign_all_sys(pc->vm, pc->pci, &spec, 1, false, &fake_vfio_sys, &a),
	                 0);
	assert_int_equal(vfio_container_map_wait(&a->c), -ENOMEM);
	number_port("rp0");
	enable_bus_master(&done);
	assert_int_equal(vm_run(pc->vm, -1, &code), 0);
	log = capture_end();
	fv.map_err = 0;
	assert_int_equal(code, VM_EXIT_ERROR);
	assert_int_equal(fv.dev[0].config[PCI_COMMAND] & PCI_COMMAND_MASTER, 0);
	assert_int_equal(fv.nr_dma, 0);
	assert_non_null(
	    strstr(log, "VFIO_IOMMU_MAP_DMA iova 0 size 16 MiB: Cannot allocate memory"));
	assert_non_null(strstr(log, "bus mastering left off: guest RAM is not mapped for DMA"));
	assert_non_null(
	    strstr(log, "guest RAM could not be mapped for the devices' DMA; hvmm stops"));
}

/* The PC again, on a host whose guests have `bits` physical address bits. */
static void recreate_pc(uint32_t bits)
{
	vm_destroy(pc->vm);
	fake_hv_set_phys_bits(bits);
	assert_int_equal(fake_pc_create(1, MiB(16), &pc), 0);
}

static const char *assign_log(const struct vfio_spec *specs, unsigned n, int *r)
{
	log_set_level(LOG_ERR);
	capture_begin();
	*r = assign(specs, n);
	return capture_end();
}

/*
 * A non-prefetchable BAR of 1 GiB cannot lie anywhere but below 4 GiB, in a window of 512 MiB:
 * the assignment fails, naming the window, the need and the BAR, before any guest runs.
 */
static void test_bar_too_big_for_32bit_window(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };
	const char *log;
	int r;

	(void)state;
	fv.dev[0].bar_size[0] = GiB(1);
	fv.dev[0].mmap_ok[0] = false;
	log = assign_log(&spec, 1, &r);
	assert_int_equal(r, -ENOSPC);
	assert_non_null(strstr(log, "32-bit PCI window (512 MiB at 0xc0000000)"));
	assert_non_null(strstr(log, "they need 1 GiB of it"));
	assert_non_null(strstr(log, "root port rp0 1 GiB (0000:01:00.0 BAR0 1 GiB)"));
}

/* A 64-bit prefetchable BAR of 128 GiB, BAR2 (a GPU's memory): in the 64-bit window or not. */
static void prep_big_pref_bar(struct fake_vfio_dev *d, uint64_t size)
{
	d->config[PCI_BASE_ADDRESS_2] =
	    PCI_BASE_ADDRESS_MEM_TYPE_64 | PCI_BASE_ADDRESS_MEM_PREFETCH;
	d->bar_size[2] = size;
}

/*
 * The 64-bit window ends where the guest's physical addresses do: 960 GiB with 40 bits holds
 * a 128 GiB BAR; 64 GiB with 37 bits does not, and the error says which window and why.
 */
static void test_bar_fits_64bit_window_of_the_host(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };
	const char *log;
	int r;

	(void)state;
	prep_big_pref_bar(&fv.dev[0], GiB(128));
	assert_int_equal(assign(&spec, 1), 0);
	recreate_pc(37);
	fake_vfio_init(&fv);
	prep_big_pref_bar(&fv.dev[0], GiB(128));
	log = assign_log(&spec, 1, &r);
	assert_int_equal(r, -ENOSPC);
	/* At 64 GiB the window is not 128 GiB-aligned: the BAR needs 192 GiB of it. */
	assert_non_null(strstr(log, "64-bit PCI window (64 GiB at 0x1000000000)"));
	assert_non_null(strstr(log, "they need 192 GiB of it"));
	assert_non_null(strstr(log, "0000:01:00.0 BAR2 128 GiB"));
	assert_non_null(strstr(log, "physical address bits"));
}

/*
 * Without a 64-bit window (36-bit addresses leave none above RAM) prefetchable 64-bit BARs
 * go below 4 GiB: 256 MiB fits there, 1 GiB does not.
 */
static void test_no_64bit_window(void **state)
{
	const struct vfio_spec spec = { "0000:01:00.0", NULL, false };
	const char *log;
	int r;

	(void)state;
	recreate_pc(36);
	prep_big_pref_bar(&fv.dev[0], MiB(256));
	assert_int_equal(assign(&spec, 1), 0);
	recreate_pc(36);
	fake_vfio_init(&fv);
	prep_big_pref_bar(&fv.dev[0], GiB(1));
	log = assign_log(&spec, 1, &r);
	assert_int_equal(r, -ENOSPC);
	assert_non_null(strstr(log, "32-bit PCI window"));
	assert_non_null(strstr(log, "BAR2 1 GiB"));
	assert_non_null(strstr(log, "no room for a 64-bit window"));
}

/*
 * Each root port's window is aligned to its largest BAR: two devices of 256 MiB fill the
 * 32-bit window exactly, a third does not fit, and all three are named.
 */
static void test_ports_pack_in_the_window(void **state)
{
	const struct vfio_spec specs[] = { { "0000:01:00.0", NULL, false },
		                           { "0000:02:00.0", NULL, false },
		                           { "0000:03:00.0", NULL, false } };
	const char *log;
	int r;

	(void)state;
	for (unsigned n = 2; n <= 3; n++) {
		if (n == 3)
			recreate_pc(40);
		fake_vfio_init(&fv);
		fv.dev[0].bar_size[0] = MiB(256);
		fv.dev[0].mmap_ok[0] = false;
		fake_vfio_add_dev(&fv, "0000:02:00.0", 8);
		fake_vfio_add_dev(&fv, "0000:03:00.0", 9);
		log = assign_log(specs, n, &r);
		if (n == 2)
			assert_int_equal(r, 0);
	}
	assert_int_equal(r, -ENOSPC);
	assert_non_null(strstr(log, "they need 768 MiB of it"));
	assert_non_null(strstr(log, "0000:01:00.0 BAR0 256 MiB"));
	assert_non_null(strstr(log, "0000:03:00.0 BAR0 256 MiB"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_assign_maps_ram_and_attaches, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_functions_one_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_functions_share_a_slot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_function_alone_is_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_start_reset_failure_goes_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_request_stops_the_vm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_device_error_stops_the_vm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bus_master_waits_for_dma, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dma_map_failure_stops_the_vm, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_too_big_for_32bit_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bar_fits_64bit_window_of_the_host, setup,
		                                teardown),
		cmocka_unit_test_setup_teardown(test_no_64bit_window, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ports_pack_in_the_window, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
