/*
 * The fake VFIO kernel (and the fake hypervisor's VFIO device) refuse what the real ones
 * refuse and answer what they answer: one test per rule, each naming the kernel function it
 * copies.  A fake that accepts more than the kernel hides the VMM's bugs.
 */
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/vfio/internal.h"
#include "tests/unit/unit.h"

static struct fake_vfio fv;
static const struct vfio_sys *sys = &fake_vfio_sys;
static int cfd, gfd, dfd;
static int efd[3];

static int setup(void **state)
{
	(void)state;
	fake_vfio_init(&fv);
	cfd = gfd = dfd = -1;
	for (unsigned i = 0; i < 3; i++)
		efd[i] = eventfd(0, EFD_CLOEXEC);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (unsigned i = 0; i < 3; i++)
		close(efd[i]);
	if (dfd >= 0)
		sys->close(sys->ctx, dfd);
	if (gfd >= 0)
		sys->close(sys->ctx, gfd);
	if (cfd >= 0)
		sys->close(sys->ctx, cfd);
	assert_int_equal(fv.open_fds, 0);
	return 0;
}

static int ioc(int fd, unsigned long req, void *arg)
{
	return sys->ioctl(sys->ctx, fd, req, arg);
}

/* Container, group 7 in it, type1 IOMMU, the device's fd: what a VMM does first. */
static void open_device(void)
{
	cfd = sys->open(sys->ctx, "/dev/vfio/vfio", O_RDWR);
	gfd = sys->open(sys->ctx, "/dev/vfio/7", O_RDWR);
	assert_int_equal(ioc(gfd, VFIO_GROUP_SET_CONTAINER, &cfd), 0);
	assert_int_equal(ioc(cfd, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), 0);
	dfd = ioc(gfd, VFIO_GROUP_GET_DEVICE_FD, (void *)"0000:01:00.0");
	assert_true(dfd >= 0);
}

/* VFIO_DEVICE_SET_IRQS with eventfd data (fds NULL: DATA_NONE, the disable form). */
static int set_irqs(unsigned index, uint32_t start, uint32_t count, const int *fds)
{
	struct {
		struct vfio_irq_set s;
		int32_t fds[80];
	} a = { .s = { .argsz = sizeof(a), .index = index, .start = start, .count = count } };

	a.s.flags = VFIO_IRQ_SET_ACTION_TRIGGER |
	            (fds ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	if (fds)
		memcpy(a.fds, fds, count * sizeof(int32_t));
	return ioc(dfd, VFIO_DEVICE_SET_IRQS, &a);
}

static void add_msi(void)
{
	fake_vfio_add_cap(&fv.dev[0], PCI_CAP_ID_MSI, 0x90, 14);
	fv.dev[0].config[0x92] = PCI_MSI_FLAGS_64BIT | 2 << 1; /* 4 vectors */
}

/* vfio_msi_enable(): fewer vectors than asked -> how many the host has, none enabled. */
static void test_fake_short_host_answers_count(void **state)
{
	(void)state;
	fv.dev[0].host_vectors = 4;
	open_device();
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 0, 10, (int[10]){ -1 }), 4);
	assert_int_equal(fv.dev[0].irq_type, FAKE_VFIO_NO_IRQS);
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 0, 4, (int[4]){ -1, -1, -1, -1 }), 0);
}

/* vfio_pci_set_msi_trigger(): one of INTx, MSI, MSI-X at a time. */
static void test_fake_refuses_msix_while_msi(void **state)
{
	(void)state;
	add_msi();
	open_device();
	assert_int_equal(set_irqs(VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd[0]), 0);
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &efd[1]), -EINVAL);
	assert_int_equal(set_irqs(VFIO_PCI_MSI_IRQ_INDEX, 0, 0, NULL), 0);
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &efd[1]), 0);
}

/* vfio_msi_set_vector_signal(): eventfd_ctx_fdget() takes eventfds only. */
static void test_fake_refuses_non_eventfd(void **state)
{
	int pipefd[2];

	(void)state;
	open_device();
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &pipefd[0]), -EINVAL);
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, (int[1]){ 12345 }), -EINVAL);
	assert_int_equal(fv.dev[0].irq_type, FAKE_VFIO_NO_IRQS);
	close(pipefd[0]);
	close(pipefd[1]);
}

/*
 * vfio_msi_set_block() before Linux 6.5, vfio_msi_alloc_irq() after: a vector past the
 * enabled block needs the index disabled first, unless MSI-X allocates dynamically.
 */
static void test_fake_refuses_growth_without_dynamic(void **state)
{
	(void)state;
	open_device();
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &efd[0]), 0);
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 3, 1, &efd[1]), -EINVAL);
	assert_int_equal(fake_vfio_trigger(&fv.dev[0], VFIO_PCI_MSIX_IRQ_INDEX, 3), -1);
	fv.dev[0].dyn_msix = true;
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 3, 1, &efd[1]), 0);
	assert_int_equal(fake_vfio_trigger(&fv.dev[0], VFIO_PCI_MSIX_IRQ_INDEX, 3), efd[1]);
}

/* vfio_pci_get_irq_count(): the table's size, all of it (65 for QEMU's NVMe). */
static void test_fake_has_every_advertised_vector(void **state)
{
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_MSIX_IRQ_INDEX };

	(void)state;
	open_device();
	assert_int_equal(ioc(dfd, VFIO_DEVICE_GET_IRQ_INFO, &ii), 0);
	assert_int_equal(ii.count, 65);
	assert_true(ii.flags & VFIO_IRQ_INFO_NORESIZE);
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 64, 1, &efd[0]), 0);
	assert_int_equal(fake_vfio_trigger(&fv.dev[0], VFIO_PCI_MSIX_IRQ_INDEX, 64), efd[0]);
	/* vfio_set_irqs_validate_and_prepare(): nothing past the count. */
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 65, 1, &efd[1]), -EINVAL);
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 60, 6, (int[6]){ -1 }), -EINVAL);
	fv.dev[0].dyn_msix = true;
	assert_int_equal(ioc(dfd, VFIO_DEVICE_GET_IRQ_INFO, &ii), 0);
	assert_false(ii.flags & VFIO_IRQ_INFO_NORESIZE);
}

/* vfio_pci_set_msi_trigger(): disabling an index that is not on is -EINVAL. */
static void test_fake_refuses_disable_when_off(void **state)
{
	(void)state;
	open_device();
	assert_int_equal(set_irqs(VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL), -EINVAL);
}

/* vfio_pci_set_ctx_trigger_single(): the error and request eventfds are vector 0 alone. */
static void test_fake_refuses_bad_err_req(void **state)
{
	(void)state;
	open_device();
	assert_int_equal(set_irqs(VFIO_PCI_REQ_IRQ_INDEX, 0, 1, &efd[0]), 0);
	assert_int_equal(fake_vfio_trigger(&fv.dev[0], VFIO_PCI_REQ_IRQ_INDEX, 0), efd[0]);
	assert_int_equal(set_irqs(VFIO_PCI_REQ_IRQ_INDEX, 0, 2, efd), -EINVAL);
	assert_int_equal(set_irqs(VFIO_PCI_ERR_IRQ_INDEX, 0, 1, (int[1]){ 0 }), -EINVAL);
}

static uint32_t cfg_read(uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	assert_int_equal(sys->pread(sys->ctx, dfd, &v, len, (off_t)(7ull << 40 | off)), len);
	return v;
}

static void cfg_write(uint32_t off, uint32_t len, uint32_t v)
{
	assert_int_equal(sys->pwrite(sys->ctx, dfd, &v, len, (off_t)(7ull << 40 | off)), len);
}

/*
 * vfio_pci_config.c: BARs, INTx-disable and the capability links are virtual; STATUS and
 * MSI-X writes are dropped; hidden capabilities (debug port) are unlinked.
 */
static void test_fake_config_virtualized(void **state)
{
	(void)state;
	fake_vfio_add_cap(&fv.dev[0], PCI_CAP_ID_DBG, 0xa0, 8);
	fv.dev[0].config[PCI_STATUS + 1] = PCI_STATUS_DETECTED_PARITY >> 8;
	open_device();
	cfg_write(PCI_BASE_ADDRESS_0, 4, 0xffffffff);
	assert_int_equal(cfg_read(PCI_BASE_ADDRESS_0, 4), 0xffffc004u);
	assert_int_equal(fv.dev[0].config[PCI_BASE_ADDRESS_0 + 3], 0xfe);
	/*
	 * INTx-disable is virtual; with INTx not in use vfio_pci_intx_mask() has the device's own
	 * bit follow it, and vfio_pci_intx_unmask() clears it again.
	 */
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	assert_int_equal(cfg_read(PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_INTX_DISABLE);
	assert_true(fv.dev[0].virq_disabled);
	assert_true(fv.dev[0].config[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8));
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY);
	assert_false(fv.dev[0].virq_disabled);
	assert_false(fv.dev[0].config[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8));
	cfg_write(PCI_STATUS, 2, PCI_STATUS_DETECTED_PARITY);
	assert_true(fv.dev[0].config[PCI_STATUS + 1] & (PCI_STATUS_DETECTED_PARITY >> 8));
	cfg_write(0x42, 2, PCI_MSIX_FLAGS_ENABLE | 64);
	assert_int_equal(cfg_read(0x42, 2), 64);
	/* The PCI Express capability's next pointer skips the debug port. */
	assert_int_equal(cfg_read(0x61, 1), 0);
	assert_int_equal(fv.dev[0].config[0x61], 0xa0);
}

static ssize_t bar_rw(void *buf, size_t len, uint64_t off, bool write)
{
	return write ? sys->pwrite(sys->ctx, dfd, buf, len, (off_t)off)
	             : sys->pread(sys->ctx, dfd, buf, len, (off_t)off);
}

/*
 * vfio_pm_config_write() and __vfio_pci_memory_enabled(): in D3hot, and with memory decode
 * off, BAR accesses fail (-EIO) and mmaps fault; the mmaps are revoked on the way.
 */
static void test_fake_sleep_and_memory_off_revoke_bars(void **state)
{
	uint32_t v = 0;
	void *p;
	int err;

	(void)state;
	open_device();
	p = sys->mmap(sys->ctx, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, 0, &err);
	assert_true(p != MAP_FAILED);
	assert_true(fake_vfio_mmap_ok(p, 4));
	assert_int_equal(bar_rw(&v, 4, 0x10, false), 4);
	cfg_write(0x54, 2, 3);
	assert_int_equal(fake_vfio_power(&fv.dev[0]), 3);
	assert_int_equal(fv.zaps, 1);
	assert_false(fake_vfio_mmap_ok(p, 4));
	assert_int_equal(bar_rw(&v, 4, 0x10, false), -EIO);
	cfg_write(0x54, 2, 0);
	assert_true(fake_vfio_mmap_ok(p, 4));
	cfg_write(PCI_COMMAND, 2, 0);
	assert_int_equal(fv.zaps, 2);
	assert_false(fake_vfio_mmap_ok(p, 4));
	assert_int_equal(bar_rw(&v, 4, 0x10, true), -EIO);
	assert_int_equal(sys->munmap(sys->ctx, p, 0x1000), 0);
}

/* vfio_pci_bar_rw(): the MSI-X table is not the user's: reads all-ones, writes dropped. */
static void test_fake_msix_table_not_accessible(void **state)
{
	uint32_t v = 0x12345678;

	(void)state;
	open_device();
	fv.dev[0].bar0[0x2000] = 0x11;
	assert_int_equal(bar_rw(&v, 4, 0x2000, true), 4);
	assert_int_equal(fv.dev[0].bar0[0x2000], 0x11);
	assert_int_equal(bar_rw(&v, 4, 0x2000, false), 4);
	assert_int_equal(v, 0xffffffffu);
}

/* vfio_pci_core_mmap(): shared, a BAR it lets map, not past its end. */
static void test_fake_mmap_refusals(void **state)
{
	int err;

	(void)state;
	open_device();
	assert_true(sys->mmap(sys->ctx, 0x1000, PROT_READ, MAP_PRIVATE, dfd, 0, &err) ==
	            MAP_FAILED);
	assert_true(sys->mmap(sys->ctx, 0x5000, PROT_READ, MAP_SHARED, dfd, 0, &err) == MAP_FAILED);
	assert_true(sys->mmap(sys->ctx, 0x1000, PROT_READ, MAP_SHARED, dfd, (off_t)(1ull << 40),
	                      &err) == MAP_FAILED);
	assert_true(sys->mmap(sys->ctx, 0x1000, PROT_READ, MAP_SHARED, dfd, (off_t)(6ull << 40),
	                      &err) == MAP_FAILED);
	assert_int_equal(err, -EINVAL);
}

/*
 * VFIO_DEVICE_RESET: -EINVAL without a function reset; pci_try_reset_function() restores
 * the config space (COMMAND included) it saved, and leaves the function in D0.
 */
static void test_fake_reset_rules(void **state)
{
	(void)state;
	open_device();
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	cfg_write(0x54, 2, 3);
	assert_int_equal(ioc(dfd, VFIO_DEVICE_RESET, NULL), 0);
	assert_int_equal(cfg_read(PCI_COMMAND, 2), PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(fake_vfio_power(&fv.dev[0]), 0);
	fv.dev[0].reset_works = false;
	assert_int_equal(ioc(dfd, VFIO_DEVICE_RESET, NULL), -EINVAL);
	/* vfio_exp_config_write(): FLR through the PCI Express capability is a reset too. */
	cfg_write(0x68, 2, PCI_EXP_DEVCTL_BCR_FLR);
	assert_int_equal(fv.dev[0].resets, 2);
	assert_int_equal(cfg_read(0x68, 2) & PCI_EXP_DEVCTL_BCR_FLR, 0);
}

/*
 * VFIO_DEVICE_GET_PCI_HOT_RESET_INFO and VFIO_DEVICE_PCI_HOT_RESET: -ENODEV without a bus
 * reset, -ENOSPC with the count for a short buffer, -EBADF for a non-group fd, -EINVAL when a
 * device the reset hits is in a group not given.
 */
static void test_fake_hot_reset_rules(void **state)
{
	struct vfio_pci_hot_reset_info hi = { .argsz = sizeof(hi) };
	struct {
		struct vfio_pci_hot_reset h;
		int32_t fd[2];
	} hr = { .h = { .argsz = sizeof(hr), .count = 1 } };

	(void)state;
	open_device();
	assert_int_equal(ioc(dfd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hi), -ENODEV);
	fv.dev[0].bus_reset = true;
	fv.bus_extra = "0000:01:00.1";
	fv.bus_extra_group = 9;
	assert_int_equal(ioc(dfd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &hi), -ENOSPC);
	assert_int_equal(hi.count, 2);
	hr.h.group_fds[0] = 12345;
	assert_int_equal(ioc(dfd, VFIO_DEVICE_PCI_HOT_RESET, &hr), -EBADF);
	hr.h.group_fds[0] = gfd;
	assert_int_equal(ioc(dfd, VFIO_DEVICE_PCI_HOT_RESET, &hr), -EINVAL);
	fv.bus_extra = NULL;
	assert_int_equal(ioc(dfd, VFIO_DEVICE_PCI_HOT_RESET, &hr), 0);
	assert_int_equal(fv.dev[0].hot_resets, 1);
}

/*
 * vfio_ioctl_set_iommu(): a group first; vfio_group_ioctl_set_container(): once;
 * vfio_group_ioctl_get_device_fd(): the container set up, a device of the group.
 */
static void test_fake_container_order(void **state)
{
	(void)state;
	cfd = sys->open(sys->ctx, "/dev/vfio/vfio", O_RDWR);
	gfd = sys->open(sys->ctx, "/dev/vfio/7", O_RDWR);
	assert_int_equal(ioc(cfd, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), -EINVAL);
	assert_int_equal(ioc(gfd, VFIO_GROUP_GET_DEVICE_FD, (void *)"0000:01:00.0"), -EINVAL);
	assert_int_equal(ioc(gfd, VFIO_GROUP_SET_CONTAINER, &cfd), 0);
	assert_int_equal(ioc(gfd, VFIO_GROUP_SET_CONTAINER, &cfd), -EINVAL);
	assert_int_equal(ioc(cfd, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), 0);
	assert_int_equal(ioc(cfd, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), -EINVAL);
	assert_int_equal(ioc(gfd, VFIO_GROUP_GET_DEVICE_FD, (void *)"0000:02:00.0"), -ENODEV);
}

/* vfio_dma_do_map(): page-aligned, not overlapping what is mapped. */
static void test_fake_map_dma_rules(void **state)
{
	struct vfio_iommu_type1_dma_map m = { .argsz = sizeof(m),
		                              .flags = VFIO_DMA_MAP_FLAG_READ,
		                              .vaddr = 0x10000,
		                              .iova = 0x100000,
		                              .size = 0x200000 };

	(void)state;
	open_device();
	assert_int_equal(ioc(cfd, VFIO_IOMMU_MAP_DMA, &m), 0);
	m.iova = 0x200000;
	assert_int_equal(ioc(cfd, VFIO_IOMMU_MAP_DMA, &m), -EEXIST);
	m.iova = 0x1000000 + 0x800;
	assert_int_equal(ioc(cfd, VFIO_IOMMU_MAP_DMA, &m), -EINVAL);
	{
		struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u),
			                                .iova = 0x100000,
			                                .size = 0x200000 };

		assert_int_equal(ioc(cfd, VFIO_IOMMU_UNMAP_DMA, &u), 0);
	}
}

/* vfio_pci_config_rw(): accesses past config space are -EFAULT. */
static void test_fake_config_bounds(void **state)
{
	uint32_t v;

	(void)state;
	fv.dev[0].config_size = 256;
	open_device();
	assert_int_equal(sys->pread(sys->ctx, dfd, &v, 4, (off_t)(7ull << 40 | 254)), -EFAULT);
	assert_int_equal(sys->pread(sys->ctx, dfd, &v, 4, (off_t)(7ull << 40 | 256)), -EFAULT);
}

/*
 * vfio_config_do_rw(): chunks aligned, never across a capability; vfio_raw_config_write():
 * a vendor capability sees each chunk at its width.
 */
static void test_fake_config_chunks(void **state)
{
	uint8_t b[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	(void)state;
	fake_vfio_add_cap(&fv.dev[0], PCI_CAP_ID_VNDR, 0xa0, 8);
	fv.dev[0].config[0xa2] = 8;
	open_device();
	assert_int_equal(sys->pwrite(sys->ctx, dfd, b, 6, (off_t)(7ull << 40 | 0xa2)), 6);
	assert_int_equal(fv.dev[0].vndr_writes, 2);
	assert_int_equal(fv.dev[0].vndr_width[0], 2);
	assert_int_equal(fv.dev[0].vndr_width[1], 4);
	assert_int_equal(fv.dev[0].config[0xa7], 6);
}

/* KVM's VFIO device holds each group once (kvm_vfio_file_add(): -EEXIST). */
static void test_fake_hv_group_add_once(void **state)
{
	struct vm *vm;

	(void)state;
	fake_hv_reset();
	assert_int_equal(fake_vm_create(1, MiB(16), &vm), 0);
	assert_int_equal(fake_hv_ops.vfio_group_add(vm->hvm, 200), 0);
	assert_int_equal(fake_hv_ops.vfio_group_add(vm->hvm, 200), -EEXIST);
	assert_int_equal(fake_hv_ops.vfio_group_add(vm->hvm, 201), 0);
	vm_destroy(vm);
}

/*
 * An eventfd feeds one irqfd of a VM (kvm_irqfd_assign(), mshv_irqfd_assign(): -EBUSY for a
 * second); several eventfds may feed one GSI, as the functions sharing an INTx line do.
 */
static void test_fake_hv_irqfd_once(void **state)
{
	struct vm *vm;

	(void)state;
	fake_hv_reset();
	assert_int_equal(fake_vm_create(1, MiB(16), &vm), 0);
	assert_int_equal(fake_hv_ops.irqfd_assign(vm->hvm, efd[0], 17), 0);
	assert_int_equal(fake_hv_ops.irqfd_assign(vm->hvm, efd[0], 18), -EBUSY);
	assert_int_equal(fake_hv_ops.irqfd_assign(vm->hvm, efd[1], 17), 0);
	assert_int_equal(fake_hv_irqfd_gsi(efd[1]), 17);
	assert_int_equal(fake_hv_ops.irqfd_deassign(vm->hvm, efd[0], 17), 0);
	assert_int_equal(fake_hv_irqfd_gsi(efd[0]), -1);
	vm_destroy(vm);
	assert_int_equal(fake_hv_irqfd_gsi(efd[1]), -1);
}

/* An INTx action without data (DATA_NONE), as hvmm's EOI unmask makes it. */
static int intx_action(uint32_t action, uint32_t start, uint32_t count)
{
	struct vfio_irq_set a = { .argsz = sizeof(a),
		                  .flags = action | VFIO_IRQ_SET_DATA_NONE,
		                  .index = VFIO_PCI_INTX_IRQ_INDEX,
		                  .start = start,
		                  .count = count };

	return ioc(dfd, VFIO_DEVICE_SET_IRQS, &a);
}

static uint64_t signals(int fd)
{
	uint64_t n = 0;

	return read(fd, &n, sizeof(n)) == sizeof(n) ? n : 0;
}

/*
 * vfio_pci_set_intx_trigger(): INTx only with no other interrupt type on, one vector, an
 * eventfd; MSI refused while INTx is on (vfio_msi_enable(): !is_irq_none()); mask and unmask
 * only while INTx is on (vfio_pci_set_intx_mask/_unmask()).
 */
static void test_fake_intx_exclusive(void **state)
{
	int pipefd[2];

	(void)state;
	add_msi();
	open_device();
	assert_int_equal(intx_action(VFIO_IRQ_SET_ACTION_UNMASK, 0, 1), -EINVAL);
	assert_int_equal(intx_action(VFIO_IRQ_SET_ACTION_MASK, 0, 1), -EINVAL);
	assert_int_equal(pipe(pipefd), 0);
	assert_int_equal(set_irqs(VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &pipefd[0]), -EINVAL);
	close(pipefd[0]);
	close(pipefd[1]);
	assert_int_equal(fv.dev[0].irq_type, FAKE_VFIO_NO_IRQS);
	assert_int_equal(set_irqs(VFIO_PCI_INTX_IRQ_INDEX, 0, 2, efd), -EINVAL);
	assert_int_equal(set_irqs(VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd[0]), 0);
	assert_int_equal(fv.dev[0].irq_type, VFIO_PCI_INTX_IRQ_INDEX);
	assert_int_equal(intx_action(VFIO_IRQ_SET_ACTION_UNMASK, 0, 2), -EINVAL);
	assert_int_equal(set_irqs(VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd[1]), -EINVAL);
	assert_int_equal(set_irqs(VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL), 0);
	assert_int_equal(set_irqs(VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd[1]), 0);
	assert_int_equal(set_irqs(VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd[0]), -EINVAL);
}

/*
 * vfio_intx_handler() masks the line and signals; vfio_pci_intx_unmask_handler() signals again
 * instead of unmasking a line still asserted, and refuses while the user has INTx disabled
 * (vfio_basic_config_write(): the virtual INTx-disable bit masks and unmasks).
 */
static void test_fake_intx_automask(void **state)
{
	(void)state;
	open_device();
	assert_int_equal(set_irqs(VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd[0]), 0);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_true(fv.dev[0].intx_masked);
	assert_int_equal(signals(efd[0]), 1);
	assert_int_equal(intx_action(VFIO_IRQ_SET_ACTION_UNMASK, 0, 1), 0);
	assert_int_equal(signals(efd[0]), 1);
	assert_true(fv.dev[0].intx_masked);
	fake_vfio_intx_line(&fv.dev[0], false);
	assert_int_equal(intx_action(VFIO_IRQ_SET_ACTION_UNMASK, 0, 1), 0);
	assert_false(fv.dev[0].intx_masked);
	cfg_write(PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE);
	assert_true(fv.dev[0].intx_masked);
	fake_vfio_intx_line(&fv.dev[0], true);
	assert_int_equal(intx_action(VFIO_IRQ_SET_ACTION_UNMASK, 0, 1), 0);
	assert_true(fv.dev[0].intx_masked);
	assert_int_equal(fv.dev[0].intx_signals, 2);
	cfg_write(PCI_COMMAND, 2, 0);
	assert_int_equal(fv.dev[0].intx_signals, 3);
}

/* vfio_config_init() and vfio_intx_enable(): no host IRQ, no pin, no INTx. */
static void test_fake_intx_without_host_irq(void **state)
{
	(void)state;
	fv.dev[0].intx_no_irq = true;
	open_device();
	assert_int_equal(cfg_read(PCI_INTERRUPT_PIN, 1), 0);
	assert_int_equal(set_irqs(VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd[0]), -EINVAL);
}

int main(void)
{
#define T(t) cmocka_unit_test_setup_teardown(t, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_fake_short_host_answers_count),
		T(test_fake_refuses_msix_while_msi),
		T(test_fake_refuses_non_eventfd),
		T(test_fake_refuses_growth_without_dynamic),
		T(test_fake_has_every_advertised_vector),
		T(test_fake_refuses_disable_when_off),
		T(test_fake_refuses_bad_err_req),
		T(test_fake_config_virtualized),
		T(test_fake_sleep_and_memory_off_revoke_bars),
		T(test_fake_msix_table_not_accessible),
		T(test_fake_mmap_refusals),
		T(test_fake_reset_rules),
		T(test_fake_hot_reset_rules),
		T(test_fake_container_order),
		T(test_fake_map_dma_rules),
		T(test_fake_config_bounds),
		T(test_fake_config_chunks),
		T(test_fake_hv_group_add_once),
		T(test_fake_hv_irqfd_once),
		T(test_fake_intx_exclusive),
		T(test_fake_intx_automask),
		T(test_fake_intx_without_host_irq),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
