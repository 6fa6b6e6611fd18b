/* SPDX-License-Identifier: MIT */
/*
 * The fake VFIO kernel's host side: sysfs as diag.c reads it, /dev/vfio, the container, its
 * groups and DMA mappings, fds and mmaps.  See fake_vfio.h.
 */
#include <fcntl.h>
#include <linux/pci_regs.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "devices/vfio/internal.h"
#include "tests/unit/unit.h"

#define FD_CONTAINER 100
#define FD_GROUP     200 /* + the group's slot in the device table */
#define FD_DEVICE    300 /* + the device's index */
#define PAGE         4096u

static struct fake_vfio *fv;

struct fake_vfio *fake_vfio_cur(void)
{
	return fv;
}

void fake_vfio_use(struct fake_vfio *f)
{
	fv = f;
}

uint32_t fake_vfio_cap(const struct fake_vfio_dev *d, uint16_t id, bool ext)
{
	uint32_t off;

	if (ext) {
		for (off = 0x100, id &= 0xffff; off >= 0x100 && off < 0xffc;) {
			uint32_t h;

			memcpy(&h, d->config + off, 4);
			if (!h)
				return 0;
			if ((h & 0xffff) == id)
				return off;
			if ((h >> 20) <= off)
				return 0;
			off = h >> 20;
		}
		return 0;
	}
	for (off = d->config[PCI_CAPABILITY_LIST]; off >= 0x40 && off < 0x100;) {
		if (d->config[off] == id)
			return off;
		if (d->config[off + 1] <= off)
			return 0;
		off = d->config[off + 1];
	}
	return 0;
}

void fake_vfio_add_cap(struct fake_vfio_dev *d, uint16_t id, uint32_t at, uint32_t len)
{
	uint8_t *c = d->config;

	memset(c + at, 0, len);
	if (at >= 0x100) {
		uint32_t last = 0, off = 0x100, h;

		for (unsigned n = 0; n < 64; n++) {
			memcpy(&h, c + off, 4);
			if (!h || off == at)
				break;
			last = off;
			if ((h >> 20) < 0x100)
				break;
			off = h >> 20;
		}
		h = (uint32_t)id | 1u << 16;
		memcpy(c + at, &h, 4);
		if (last) {
			memcpy(&h, c + last, 4);
			h = (h & 0xfffff) | at << 20;
			memcpy(c + last, &h, 4);
		}
		return;
	}
	c[at] = (uint8_t)id;
	c[at + 1] = 0;
	c[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	if (!c[PCI_CAPABILITY_LIST]) {
		c[PCI_CAPABILITY_LIST] = (uint8_t)at;
		return;
	}
	for (uint32_t off = c[PCI_CAPABILITY_LIST]; off;) {
		if (!c[off + 1]) {
			c[off + 1] = (uint8_t)at;
			return;
		}
		off = c[off + 1];
	}
}

static void fake_vfio_dev_init(struct fake_vfio_dev *d, const char *name, int group)
{
	uint8_t *c = d->config;
	uint32_t exp = 0x60;

	memset(d, 0, sizeof(*d));
	d->name = name;
	d->exists = true;
	d->driver = "vfio-pci";
	d->group = group;
	d->reset_works = true;
	d->mmap_ok[0] = true;
	/* An NVMe-like endpoint: 1b36:0010, class 010802, BAR0 16 KiB 64-bit memory. */
	c[0] = 0x36;
	c[1] = 0x1b;
	c[2] = 0x10;
	c[9] = 0x02;
	c[0x0a] = 0x08;
	c[0x0b] = 0x01;
	c[0x10] = 0x04; /* 64-bit memory BAR, at 0xfe000000 as the host assigned it */
	c[0x13] = 0xfe;
	c[PCI_INTERRUPT_PIN] = 1;
	c[PCI_COMMAND] = PCI_COMMAND_MEMORY; /* pci_enable_device() at open */
	d->config_size = sizeof(d->config);
	d->bar_size[0] = FAKE_VFIO_BAR0;
	/* MSI-X at 0x40, 65 vectors, table in BAR0 at 0x2000 and PBA at 0x3000, like QEMU's. */
	fake_vfio_add_cap(d, PCI_CAP_ID_MSIX, 0x40, PCI_CAP_MSIX_SIZEOF);
	c[0x42] = 64;
	c[0x45] = 0x20;
	c[0x49] = 0x30;
	/* Power management 1.2, D0, no soft reset on D3hot -> D0. */
	fake_vfio_add_cap(d, PCI_CAP_ID_PM, 0x50, PCI_PM_SIZEOF);
	c[0x52] = 3;
	c[0x54] = PCI_PM_CTRL_NO_SOFT_RESET;
	/* PCI Express 2.0 endpoint with Function Level Reset. */
	fake_vfio_add_cap(d, PCI_CAP_ID_EXP, exp, PCI_CAP_EXP_ENDPOINT_SIZEOF_V2);
	c[exp + PCI_EXP_FLAGS] = 2 | PCI_EXP_TYPE_ENDPOINT << 4;
	c[exp + PCI_EXP_DEVCAP + 3] = PCI_EXP_DEVCAP_FLR >> 24;
	c[exp + PCI_EXP_LNKCAP] = 0x11; /* 2.5 GT/s x1 */
	c[exp + PCI_EXP_LNKSTA] = 0x11;
	for (unsigned i = 0; i < FAKE_VFIO_VECS; i++)
		d->trig[i] = -1;
	d->err_fd = d->req_fd = -1;
	d->irq_type = FAKE_VFIO_NO_IRQS;
}

void fake_vfio_init(struct fake_vfio *f)
{
	memset(f, 0, sizeof(*f));
	f->dev_vfio_nodes = true;
	f->viable = true;
	f->memlock = UINT64_MAX;
	f->bus_extra_group = -1;
	fake_vfio_dev_init(&f->dev[0], "0000:01:00.0", 7);
	f->nr_devs = 1;
	fv = f;
}

unsigned fake_vfio_add_dev(struct fake_vfio *f, const char *name, int group)
{
	unsigned i = f->nr_devs++;
	struct fake_vfio_dev *d = &f->dev[i];

	memcpy(d, &f->dev[0], sizeof(*d));
	d->name = name;
	d->group = group;
	d->fds_open = 0;
	/* The hardware as dev[0]'s, vfio-pci's state and the counters fresh. */
	d->irq_type = FAKE_VFIO_NO_IRQS;
	d->nvec = 0;
	for (unsigned v = 0; v < FAKE_VFIO_VECS; v++)
		d->trig[v] = -1;
	d->err_fd = d->req_fd = -1;
	d->intx_masked = d->virq_disabled = d->intx_line = false;
	d->resets = d->hot_resets = d->rom_reads = d->set_irqs_calls = 0;
	d->irq_enables = d->irq_disables = d->cfg_reads = d->cfg_writes = d->vndr_writes = 0;
	d->intx_enables = d->intx_disables = d->intx_signals = 0;
	d->intx_mask_calls = d->intx_unmask_calls = 0;
	return i;
}

static struct fake_vfio_dev *fake_dev_named(const char *name)
{
	for (unsigned i = 0; i < fv->nr_devs; i++) {
		if (!strcmp(fv->dev[i].name, name))
			return &fv->dev[i];
	}
	return NULL;
}

/* The slot of group `id` among the devices' groups, -1 if no device is in it. */
static int fake_group_slot(int id)
{
	for (unsigned i = 0; i < fv->nr_devs; i++) {
		if (fv->dev[i].group == id)
			return (int)i;
	}
	return -1;
}

int fake_vfio_fd_group(int fd)
{
	unsigned slot = (unsigned)(fd - FD_GROUP);

	return fd >= FD_GROUP && slot < fv->nr_devs ? fv->dev[slot].group : -1;
}

static bool fake_group_set(int id)
{
	for (unsigned i = 0; i < fv->nr_groups_set; i++) {
		if ((int)fv->groups_set[i] == id)
			return true;
	}
	return false;
}

static int f_open(void *ctx, const char *path, int flags)
{
	unsigned id;
	int slot;

	(void)ctx;
	(void)flags;
	if (!strcmp(path, "/dev/vfio/vfio")) {
		if (!fv->dev_vfio_nodes)
			return -ENOENT;
		fv->open_fds++;
		fv->container_open = true;
		return FD_CONTAINER;
	}
	if (sscanf(path, "/dev/vfio/%u", &id) != 1 || !fv->dev_vfio_nodes ||
	    (slot = fake_group_slot((int)id)) < 0)
		return -ENOENT;
	if (fv->open_err)
		return fv->open_err;
	fv->open_fds++;
	return FD_GROUP + slot;
}

static int f_close(void *ctx, int fd)
{
	(void)ctx;
	if (fd >= FD_DEVICE && fd < FD_DEVICE + (int)fv->nr_devs) {
		struct fake_vfio_dev *d = &fv->dev[fd - FD_DEVICE];

		/*
		 * The last close releases the device: vfio_pci_core_close_device() disables
		 * its interrupts and drops the error and request triggers.
		 */
		if (!--d->fds_open) {
			d->irq_type = FAKE_VFIO_NO_IRQS;
			d->intx_masked = d->virq_disabled = false;
			d->nvec = 0;
			for (unsigned i = 0; i < FAKE_VFIO_VECS; i++)
				d->trig[i] = -1;
			d->err_fd = d->req_fd = -1;
		}
	} else if (fd >= FD_GROUP && fd < FD_GROUP + (int)fv->nr_devs) {
		int g = fake_vfio_fd_group(fd);

		/* Closing the group detaches it from the container (vfio_group_fops_release). */
		for (unsigned i = 0; i < fv->nr_groups_set; i++) {
			if ((int)fv->groups_set[i] == g) {
				fv->groups_set[i] = fv->groups_set[--fv->nr_groups_set];
				/*
				 * The last group takes the IOMMU driver and its mappings with it
				 * (__vfio_group_unset_container(): the container's iommu_driver is
				 * released when its group list empties); the next group sets one.
				 */
				if (!fv->nr_groups_set) {
					fv->iommu_set = false;
					fv->nr_dma = 0;
				}
				break;
			}
		}
	}
	fv->open_fds--;
	return 0;
}

static int f_container_ioctl(unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return (uintptr_t)arg == VFIO_TYPE1v2_IOMMU;
	case VFIO_SET_IOMMU:
		/* vfio_ioctl_set_iommu(): a group first, and only once. */
		if (!fv->nr_groups_set || fv->iommu_set)
			return -EINVAL;
		if (fv->set_iommu_err)
			return fv->set_iommu_err;
		fv->iommu_set = true;
		return 0;
	case VFIO_IOMMU_GET_INFO: {
		struct vfio_iommu_type1_info *i = arg;

		if (!fv->iommu_set)
			return -EINVAL;
		i->flags = 0;
		i->iova_pgsizes = 0x40201000ull;
		return 0;
	}
	case VFIO_IOMMU_MAP_DMA: {
		struct vfio_iommu_type1_dma_map *m = arg;

		if (fv->on_map)
			fv->on_map(m);
		if (fv->map_err)
			return fv->map_err;
		/* vfio_dma_do_map(): page-aligned and not overlapping an existing mapping. */
		if (!fv->iommu_set || !m->size || ((m->iova | m->size | m->vaddr) & (PAGE - 1)))
			return -EINVAL;
		for (unsigned i = 0; i < fv->nr_dma; i++) {
			if (m->iova < fv->dma[i].iova + fv->dma[i].size &&
			    fv->dma[i].iova < m->iova + m->size)
				return -EEXIST;
		}
		/* vfio_dma_do_map(): -ENOSPC past dma_entry_limit (65535 by default; smaller here).
		 */
		if (fv->nr_dma == FAKE_VFIO_DMA)
			return -ENOSPC;
		fv->dma[fv->nr_dma].iova = m->iova;
		fv->dma[fv->nr_dma].size = m->size;
		fv->dma[fv->nr_dma++].vaddr = m->vaddr;
		if (fv->dma_maps < FAKE_VFIO_DMA) {
			fv->dma_iova[fv->dma_maps] = m->iova;
			fv->dma_size[fv->dma_maps] = m->size;
		}
		fv->dma_maps++;
		return 0;
	}
	case VFIO_IOMMU_UNMAP_DMA: {
		struct vfio_iommu_type1_dma_unmap *u = arg;

		for (unsigned i = 0; i < fv->nr_dma; i++) {
			if (fv->dma[i].iova == u->iova && fv->dma[i].size == u->size) {
				fv->dma[i] = fv->dma[--fv->nr_dma];
				fv->dma_unmaps++;
				return 0;
			}
		}
		/* vfio_dma_do_unmap() unmaps nothing and says so through size 0. */
		u->size = 0;
		return 0;
	}
	default:
		return -ENOTTY;
	}
}

static int f_group_ioctl(int fd, unsigned long req, void *arg)
{
	int g = fake_vfio_fd_group(fd);
	struct fake_vfio_dev *d;

	switch (req) {
	case VFIO_GROUP_GET_STATUS: {
		struct vfio_group_status *st = arg;

		st->flags = (fv->viable ? VFIO_GROUP_FLAGS_VIABLE : 0) |
		            (fake_group_set(g) ? VFIO_GROUP_FLAGS_CONTAINER_SET : 0);
		return 0;
	}
	case VFIO_GROUP_SET_CONTAINER:
		if (*(int *)arg != FD_CONTAINER)
			return -EBADF;
		/* vfio_group_ioctl_set_container(): a group joins one container once. */
		if (fake_group_set(g))
			return -EINVAL;
		if (fv->set_container_err)
			return fv->set_container_err;
		fv->groups_set[fv->nr_groups_set++] = (unsigned)g;
		return 0;
	case VFIO_GROUP_GET_DEVICE_FD:
		d = fake_dev_named(arg);
		/* vfio_group_ioctl_get_device_fd(): a device of this group, container set. */
		if (!d || d->group != g)
			return -ENODEV;
		if (!fake_group_set(g) || !fv->iommu_set)
			return -EINVAL;
		if (!d->fds_open++)
			fake_vfio_cfg_init(d);
		fv->open_fds++;
		return FD_DEVICE + (int)(d - fv->dev);
	default:
		return -ENOTTY;
	}
}

static int f_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	if (fd == FD_CONTAINER)
		return f_container_ioctl(req, arg);
	if (fd >= FD_GROUP && fd < FD_GROUP + (int)fv->nr_devs)
		return f_group_ioctl(fd, req, arg);
	if (fd >= FD_DEVICE && fd < FD_DEVICE + (int)fv->nr_devs)
		return fake_vfio_dev_ioctl(&fv->dev[fd - FD_DEVICE], req, arg);
	return -EBADF;
}

static struct fake_vfio_dev *fake_dev_of_fd(int fd)
{
	if (fd >= FD_DEVICE && fd < FD_DEVICE + (int)fv->nr_devs)
		return &fv->dev[fd - FD_DEVICE];
	return NULL;
}

static ssize_t f_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	struct fake_vfio_dev *d = fake_dev_of_fd(fd);

	(void)ctx;
	return d ? fake_vfio_dev_rw(d, buf, len, (uint64_t)off, false) : -EBADF;
}

static ssize_t f_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	struct fake_vfio_dev *d = fake_dev_of_fd(fd);

	(void)ctx;
	return d ? fake_vfio_dev_rw(d, (void *)buf, len, (uint64_t)off, true) : -EBADF;
}

/*
 * vfio_pci_core_mmap(): shared mappings of a BAR the kernel lets map (bar_mmap_supported), not
 * past its page-rounded end.  The mapping is the fake's BAR memory itself, so what the guest
 * writes through it is what the device sees.
 */
static void *f_mmap(void *ctx, size_t len, int prot, int flags, int fd, off_t off, int *err)
{
	struct fake_vfio_dev *d = fake_dev_of_fd(fd);
	unsigned index = (unsigned)((uint64_t)off >> 40), m;
	uint64_t start = (uint64_t)off & ((1ull << 40) - 1);

	(void)ctx;
	(void)prot;
	*err = -EINVAL;
	if (!d || index >= VFIO_PCI_ROM_REGION_INDEX || !d->mmap_ok[index] ||
	    !(flags & MAP_SHARED) || (start & (PAGE - 1)) || !len)
		return MAP_FAILED;
	if (start + len > ((d->bar_size[index] + PAGE - 1) & ~(uint64_t)(PAGE - 1)) || index != 0 ||
	    start + len > FAKE_VFIO_BAR0)
		return MAP_FAILED;
	for (m = 0; m < FAKE_VFIO_MAPS && fv->maps[m].addr; m++)
		;
	if (m == FAKE_VFIO_MAPS) {
		*err = -ENOMEM;
		return MAP_FAILED;
	}
	fv->maps[m].addr = d->bar0 + start;
	fv->maps[m].len = len;
	fv->maps[m].dev = (unsigned)(d - fv->dev);
	*err = 0;
	return d->bar0 + start;
}

static int f_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	for (unsigned m = 0; m < FAKE_VFIO_MAPS; m++) {
		if (fv->maps[m].addr == addr && fv->maps[m].len == len) {
			fv->maps[m].addr = NULL;
			return 0;
		}
	}
	return -EINVAL;
}

void fake_vfio_zap(struct fake_vfio_dev *d)
{
	fv->zaps++;
	if (fv->on_zap)
		fv->on_zap(d);
}

bool fake_vfio_mmap_ok(const void *hva, size_t len)
{
	const uint8_t *p = hva;

	if (!fv)
		return true;
	for (unsigned m = 0; m < FAKE_VFIO_MAPS; m++) {
		const uint8_t *a = fv->maps[m].addr;

		if (a && p >= a && p + len <= a + fv->maps[m].len)
			return fake_vfio_memory_on(&fv->dev[fv->maps[m].dev]);
	}
	return true;
}

/* /sys/bus/pci/devices/<name>/{driver,iommu_group}. */
static int f_readlink(void *ctx, const char *path, char *buf, size_t len)
{
	const char *pre = "/sys/bus/pci/devices/";
	char name[32], what[32];
	struct fake_vfio_dev *d;

	(void)ctx;
	if (strncmp(path, pre, strlen(pre)) ||
	    sscanf(path + strlen(pre), "%31[^/]/%31s", name, what) != 2)
		return -ENOENT;
	d = fake_dev_named(name);
	if (!strcmp(what, "driver")) {
		const char *drv = d ? d->driver : NULL;

		for (unsigned i = 0; !d && i < 4 && fv->group_extra[i]; i++) {
			if (!strcmp(fv->group_extra[i], name))
				drv = fv->extra_drivers[i];
		}
		if (!drv)
			return -ENOENT;
		snprintf(buf, len, "../../../bus/pci/drivers/%s", drv);
		return 0;
	}
	if (!strcmp(what, "iommu_group") && d && d->group >= 0) {
		snprintf(buf, len, "../../../kernel/iommu_groups/%d", d->group);
		return 0;
	}
	return -ENOENT;
}

static int f_read_text(void *ctx, const char *path, char *buf, size_t len)
{
	(void)ctx;
	(void)path;
	(void)buf;
	(void)len;
	return -ENOENT;
}

static int f_list_dir(void *ctx, const char *path, void (*fn)(void *, const char *), void *arg)
{
	int g;

	(void)ctx;
	if (sscanf(path, "/sys/kernel/iommu_groups/%d/devices", &g) != 1 || fake_group_slot(g) < 0)
		return -ENOENT;
	for (unsigned i = 0; i < fv->nr_devs; i++) {
		if (fv->dev[i].group == g)
			fn(arg, fv->dev[i].name);
	}
	for (unsigned i = 0; g == fv->dev[0].group && i < 4 && fv->group_extra[i]; i++)
		fn(arg, fv->group_extra[i]);
	return 0;
}

static bool f_exists(void *ctx, const char *path)
{
	const char *pre = "/sys/bus/pci/devices/";
	struct fake_vfio_dev *d;
	unsigned id;

	(void)ctx;
	if (!strncmp(path, pre, strlen(pre)))
		return (d = fake_dev_named(path + strlen(pre))) && d->exists;
	if (!strcmp(path, "/dev/vfio/vfio"))
		return fv->dev_vfio_nodes;
	if (sscanf(path, "/dev/vfio/%u", &id) == 1)
		return fv->dev_vfio_nodes && fake_group_slot((int)id) >= 0;
	return false;
}

static int f_memlock(void *ctx, uint64_t *out)
{
	(void)ctx;
	*out = fv->memlock;
	return 0;
}

const struct vfio_sys fake_vfio_sys = {
	.open = f_open,
	.close = f_close,
	.ioctl = f_ioctl,
	.pread = f_pread,
	.pwrite = f_pwrite,
	.mmap = f_mmap,
	.munmap = f_munmap,
	.readlink = f_readlink,
	.read_text = f_read_text,
	.list_dir = f_list_dir,
	.exists = f_exists,
	.memlock_limit = f_memlock,
};
