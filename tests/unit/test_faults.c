/*
 * Fault injection: every set-up call of VM creation (on the fake hypervisor) and of VFIO
 * device assignment (on the fake VFIO kernel) is made to fail in turn.  Each failure must come
 * back as that error, be logged naming the operation, and leave nothing behind: no mapping,
 * no irqfd, no open fd, DMA unmapped.  Leaked memory fails the SANITIZE=1 run (LeakSanitizer).
 */
#include <linux/vfio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"
#include "tests/unit/unit.h"

/*
 * core's own system calls join the walk: this program is linked with --wrap for them
 * (Makefile), so libhvmm's calls come here first and share the fake's failure counter.
 */
int __real_eventfd(unsigned int initval, int flags);
int __real_epoll_create1(int flags);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int __wrap_eventfd(unsigned int initval, int flags);
int __wrap_epoll_create1(int flags);
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);

int __wrap_eventfd(unsigned int initval, int flags)
{
	int e = fake_hv_fault("eventfd");

	if (e) {
		errno = -e;
		return -1;
	}
	return __real_eventfd(initval, flags);
}

int __wrap_epoll_create1(int flags)
{
	int e = fake_hv_fault("epoll_create1");

	if (e) {
		errno = -e;
		return -1;
	}
	return __real_epoll_create1(flags);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	int e = fake_hv_fault("mmap");

	if (e) {
		errno = -e;
		return (void *)-1;
	}
	return __real_mmap(addr, len, prot, flags, fd, off);
}

static void test_vm_create_walk(void **state)
{
	unsigned n, points = 0;

	(void)state;
	log_set_level(LOG_ERR);
	for (n = 1; n < 1000; n++) {
		struct vm *vm = NULL;
		const char *log;
		int r;

		fake_hv_reset();
		fake_hv_fail_nth(n, -EIO);
		capture_begin();
		r = fake_vm_create(2, MiB(16), &vm);
		log = capture_end();
		if (r == 0) {
			/* Past the last set-up call: nothing was injected. */
			assert_true(fake_hv_calls() < n);
			vm_destroy(vm);
			break;
		}
		points++;
		assert_int_equal(r, -EIO);
		/* Logged once, naming the failing call (the backend's or core's). */
		if (!strstr(log, "(injected)") && !strstr(log, "eventfd") &&
		    !strstr(log, "epoll_create1") && !strstr(log, "mmap"))
			fail_msg("failure point %u was not logged by name: '%s'", n, log);
		assert_int_equal(fake_hv_record()->mem_maps, 0);
		assert_int_equal(fake_hv_record()->irqfds, 0);
	}
	print_message("vm_create: %u failure points, each clean\n", points);
	/*
	 * At least: the stop eventfd, epoll, guest RAM's mmap, create the VM, map RAM, push the
	 * route table, create 2 vCPUs.
	 */
	assert_true(points >= 8);
}

/* A vfio_sys that fails its n-th call, in front of the fake VFIO kernel. */
static unsigned inj_n, inj_calls;

static bool inj(void)
{
	return inj_n && ++inj_calls == inj_n;
}

static int i_open(void *c, const char *p, int f)
{
	return inj() ? -EIO : fake_vfio_sys.open(c, p, f);
}

static int i_ioctl(void *c, int fd, unsigned long req, void *a)
{
	return inj() ? -EIO : fake_vfio_sys.ioctl(c, fd, req, a);
}

static ssize_t i_pread(void *c, int fd, void *b, size_t l, off_t o)
{
	return inj() ? -EIO : fake_vfio_sys.pread(c, fd, b, l, o);
}

static ssize_t i_pwrite(void *c, int fd, const void *b, size_t l, off_t o)
{
	return inj() ? -EIO : fake_vfio_sys.pwrite(c, fd, b, l, o);
}

static void *i_mmap(void *c, size_t l, int p, int f, int fd, off_t o, int *err)
{
	if (inj()) {
		*err = -EIO;
		return (void *)-1;
	}
	return fake_vfio_sys.mmap(c, l, p, f, fd, o, err);
}

static struct vfio_sys inj_sys;

static void test_vfio_setup_walk(void **state)
{
	static struct fake_vfio fv;
	const struct vfio_bdf bdf = { 0, 1, 0, 0 };
	unsigned n, points = 0;

	(void)state;
	log_set_level(LOG_WARN);
	inj_sys = fake_vfio_sys;
	inj_sys.open = i_open;
	inj_sys.ioctl = i_ioctl;
	inj_sys.pread = i_pread;
	inj_sys.pwrite = i_pwrite;
	inj_sys.mmap = i_mmap;
	for (n = 1; n < 1000; n++) {
		struct vfio_container c;
		struct vfio_pci *vp = calloc(1, sizeof(*vp));
		bool cont_open, dev_open;
		const char *log;
		struct vm *vm;
		struct pc *pc;
		int r;

		fake_hv_reset();
		fake_vfio_init(&fv);
		assert_int_equal(fake_pc_create(1, MiB(16), &pc), 0);
		vm = pc->vm;
		inj_n = n;
		inj_calls = 0;
		if (getenv("FAULTS_DEBUG"))
			fprintf(stderr, "n=%u\n", n);
		capture_begin();
		/* The sequence vfio_assign_all() runs for one device. */
		r = vfio_container_open(&inj_sys, &c);
		cont_open = r == 0;
		if (!r)
			r = vfio_device_open(&c, &bdf, &vp->dev); /* cleans up after itself */
		dev_open = r == 0;
		if (!r)
			r = vfio_device_reset(&vp->dev);
		if (!r)
			r = vfio_pci_create(vm, pc->pci,
			                    vp); /* may have made the PCI function anyway */
		if (!r)
			r = vfio_bars_mmap(vp);
		if (!r)
			r = pci_attach(pc->pci, NULL, vp->pdev);
		if (!r)
			r = vfio_container_map_ram(&c, &vm->mem);
		log = capture_end();
		inj_n = 0;
		if (r && !strstr(log, "VFIO") && !strstr(log, "open /dev/vfio") &&
		    !strstr(log, "mmap") && !strstr(log, "config"))
			fail_msg("failure point %u was not logged by name: '%s'", n, log);
		/* Teardown in the order vfio_assign's does it. */
		if (vp->pdev) {
			vfio_intr_disable(vp);
			if (vfio_device_reset(&vp->dev))
				log_debug("reset at stop failed");
			vfio_container_unmap_all(&c);
			vm_destroy(vm); /* the PCI core releases vp (vfio_pci_release) */
		} else {
			if (dev_open)
				vfio_device_close(&vp->dev);
			free(vp);
			vm_destroy(vm);
		}
		if (cont_open)
			vfio_container_close(&c);
		assert_int_equal(fv.open_fds, 0);
		assert_int_equal(fv.dma_maps, fv.dma_unmaps);
		assert_int_equal(fake_hv_record()->mem_maps, 0);
		if (r == 0 && inj_calls < n)
			break;
		if (r)
			points++;
	}
	assert_true(points >= 10);
	print_message("VFIO set-up: %u failure points, each clean\n", points);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vm_create_walk),
		cmocka_unit_test(test_vfio_setup_walk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
