/* SPDX-License-Identifier: MIT */
/* A fake VFIO kernel held in memory, behind struct vfio_sys.  Test-only global state. */
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/vfio/internal.h"
#include "tests/unit/unit.h"

#define FD_CONTAINER 100
#define FD_GROUP     200
#define FD_DEVICE    300
#define DEV_NAME     "0000:01:00.0"

static struct fake_vfio *fv;

void fake_vfio_use(struct fake_vfio *f)
{
	fv = f;
}

void fake_vfio_init(struct fake_vfio *f)
{
	memset(f, 0, sizeof(*f));
	f->device_exists = true;
	f->driver = "vfio-pci";
	f->group = 7;
	f->dev_vfio_nodes = true;
	f->viable = true;
	f->memlock = UINT64_MAX;
	f->reset_supported = true;
	f->group_members[0] = DEV_NAME;
	f->member_drivers[0] = "vfio-pci";
	/* An NVMe-like endpoint: 1b36:0010, class 010802, BAR0 16 KiB 64-bit memory. */
	f->config[0] = 0x36;
	f->config[1] = 0x1b;
	f->config[2] = 0x10;
	f->config[3] = 0x00;
	f->config[0x09] = 0x02;
	f->config[0x0a] = 0x08;
	f->config[0x0b] = 0x01;
	f->config[0x0e] = 0x00;
	f->config[0x10] = 0x04; /* 64-bit memory BAR */
	/* MSI-X at 0x40: table in BAR0 at 0x2000, PBA at 0x3000, like QEMU's NVMe. */
	f->config[0x06] = 0x10; /* STATUS: capability list */
	f->config[0x34] = 0x40;
	f->config[0x40] = 0x11;
	f->config[0x41] = 0x00;
	f->config[0x42] = 64; /* 65 vectors */
	f->config[0x44] = 0x00;
	f->config[0x45] = 0x20; /* table: BIR 0, offset 0x2000 */
	f->config[0x48] = 0x00;
	f->config[0x49] = 0x30; /* PBA: BIR 0, offset 0x3000 */
	f->bar_size[0] = sizeof(f->bar0);
	f->bar_flags[0] =
	    VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE | VFIO_REGION_INFO_FLAG_MMAP;
	f->msix_count = 65;
	for (unsigned i = 0; i < 3; i++)
		for (unsigned j = 0; j < 64; j++)
			f->irq_fds[i][j] = -1;
	fv = f;
}

static int f_open(void *ctx, const char *path, int flags)
{
	char node[64];

	(void)ctx;
	(void)flags;
	if (!strcmp(path, "/dev/vfio/vfio")) {
		if (!fv->dev_vfio_nodes)
			return -ENOENT;
		fv->open_fds++;
		return FD_CONTAINER;
	}
	snprintf(node, sizeof(node), "/dev/vfio/%d", fv->group);
	if (!strcmp(path, node)) {
		if (fv->open_err)
			return fv->open_err;
		fv->open_fds++;
		return FD_GROUP;
	}
	return -ENOENT;
}

static int f_close(void *ctx, int fd)
{
	(void)ctx;
	(void)fd;
	fv->open_fds--;
	return 0;
}

static int f_region_info(struct vfio_region_info *ri)
{
	uint32_t want = ri->argsz;

	ri->flags = 0;
	ri->size = 0;
	ri->cap_offset = 0;
	ri->offset = (uint64_t)ri->index << 40;
	if (ri->index < 6) {
		ri->size = fv->bar_size[ri->index];
		ri->flags = fv->bar_flags[ri->index];
	} else if (ri->index == VFIO_PCI_CONFIG_REGION_INDEX) {
		ri->size = fv->config_size ? fv->config_size : sizeof(fv->config);
		ri->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	} else if (ri->index == VFIO_PCI_VGA_REGION_INDEX) {
		return -EINVAL;
	}
	if (ri->index == 0 && fv->nr_sparse) {
		size_t need = sizeof(*ri) + sizeof(struct vfio_region_info_cap_sparse_mmap) +
		              fv->nr_sparse * sizeof(struct vfio_region_sparse_mmap_area);

		ri->flags |= VFIO_REGION_INFO_FLAG_CAPS;
		ri->argsz = (uint32_t)need;
		if (want >= need) {
			struct vfio_region_info_cap_sparse_mmap *sp = (void *)(ri + 1);

			ri->cap_offset = sizeof(*ri);
			sp->header.id = VFIO_REGION_INFO_CAP_SPARSE_MMAP;
			sp->header.version = 1;
			sp->header.next = 0;
			sp->nr_areas = fv->nr_sparse;
			for (unsigned i = 0; i < fv->nr_sparse; i++) {
				sp->areas[i].offset = fv->sparse_off[i];
				sp->areas[i].size = fv->sparse_size[i];
			}
		}
	}
	return 0;
}

static int f_set_irqs(struct vfio_irq_set *s)
{
	fv->set_irqs_calls++;
	if (s->index > 2)
		return -EINVAL;
	if (s->flags & VFIO_IRQ_SET_DATA_NONE && s->count == 0) {
		for (unsigned j = 0; j < 64; j++)
			fv->irq_fds[s->index][j] = -1;
		return 0;
	}
	if (s->start + s->count > (s->index == 2 ? fv->msix_count : 1) || s->start + s->count > 64)
		return -EINVAL;
	for (unsigned i = 0; i < s->count; i++)
		memcpy(&fv->irq_fds[s->index][s->start + i], s->data + 4 * i, 4);
	return 0;
}

static int f_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	(void)ctx;
	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		return (uintptr_t)arg == VFIO_TYPE1v2_IOMMU;
	case VFIO_SET_IOMMU:
		return fv->set_iommu_err;
	case VFIO_IOMMU_GET_INFO: {
		struct vfio_iommu_type1_info *i = arg;

		i->flags = 0;
		i->iova_pgsizes = 0x40201000ull;
		return 0;
	}
	case VFIO_IOMMU_MAP_DMA: {
		struct vfio_iommu_type1_dma_map *m = arg;

		if (fv->map_err)
			return fv->map_err;
		if (fv->dma_maps < 4) {
			fv->dma_iova[fv->dma_maps] = m->iova;
			fv->dma_size[fv->dma_maps] = m->size;
		}
		fv->dma_maps++;
		return 0;
	}
	case VFIO_IOMMU_UNMAP_DMA:
		fv->dma_unmaps++;
		return 0;
	case VFIO_GROUP_GET_STATUS: {
		struct vfio_group_status *st = arg;

		st->flags = fv->viable ? VFIO_GROUP_FLAGS_VIABLE : 0;
		return 0;
	}
	case VFIO_GROUP_SET_CONTAINER:
		return fv->set_container_err;
	case VFIO_GROUP_GET_DEVICE_FD:
		if (fd != FD_GROUP || strcmp(arg, DEV_NAME))
			return -ENODEV;
		fv->open_fds++;
		return FD_DEVICE;
	case VFIO_DEVICE_GET_INFO: {
		struct vfio_device_info *i = arg;

		i->flags =
		    VFIO_DEVICE_FLAGS_PCI | (fv->reset_supported ? VFIO_DEVICE_FLAGS_RESET : 0);
		i->num_regions = VFIO_PCI_NUM_REGIONS;
		i->num_irqs = VFIO_PCI_NUM_IRQS;
		return 0;
	}
	case VFIO_DEVICE_GET_REGION_INFO:
		return f_region_info(arg);
	case VFIO_DEVICE_GET_IRQ_INFO: {
		struct vfio_irq_info *ii = arg;

		ii->flags = VFIO_IRQ_INFO_EVENTFD | (ii->index == 0 ? VFIO_IRQ_INFO_MASKABLE : 0) |
		            (ii->index == 2 ? VFIO_IRQ_INFO_NORESIZE : 0);
		ii->count = ii->index == 2 ? fv->msix_count : ii->index < 2 ? 1 : 0;
		return 0;
	}
	case VFIO_DEVICE_SET_IRQS:
		return f_set_irqs(arg);
	case VFIO_DEVICE_RESET:
		fv->resets++;
		return 0;
	default:
		return -ENOTTY;
	}
}

static uint8_t *f_region(off_t off, size_t len, uint64_t *limit)
{
	unsigned index = (unsigned)((uint64_t)off >> 40);
	uint64_t o = (uint64_t)off & ((1ull << 40) - 1);
	uint8_t *base;

	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		base = fv->config;
		*limit = fv->config_size ? fv->config_size : sizeof(fv->config);
	} else if (index == 0) {
		base = fv->bar0;
		*limit = sizeof(fv->bar0);
	} else {
		return NULL;
	}
	if (o > *limit || len > *limit - o)
		return NULL;
	return base + o;
}

static ssize_t f_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	uint64_t limit;
	uint8_t *p = f_region(off, len, &limit);

	(void)ctx;
	(void)fd;
	if (!p)
		return -EINVAL;
	if (((uint64_t)off >> 40) == VFIO_PCI_CONFIG_REGION_INDEX)
		fv->cfg_reads++;
	memcpy(buf, p, len);
	return (ssize_t)len;
}

static ssize_t f_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	uint64_t limit;
	uint8_t *p = f_region(off, len, &limit);

	(void)ctx;
	(void)fd;
	if (!p)
		return -EINVAL;
	if (((uint64_t)off >> 40) == VFIO_PCI_CONFIG_REGION_INDEX)
		fv->cfg_writes++;
	memcpy(p, buf, len);
	return (ssize_t)len;
}

static void *f_mmap(void *ctx, size_t len, int prot, int flags, int fd, off_t off, int *err)
{
	uint64_t limit;
	uint8_t *p = f_region(off, len, &limit);

	(void)ctx;
	(void)prot;
	(void)flags;
	(void)fd;
	/* Hand out anonymous memory, so the mapping behaves like one for munmap. */
	if (!p) {
		*err = -EINVAL;
		return MAP_FAILED;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	*err = p == MAP_FAILED ? -ENOMEM : 0;
	return p;
}

static int f_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	return munmap(addr, len) ? -EINVAL : 0;
}

static int f_readlink(void *ctx, const char *path, char *buf, size_t len)
{
	const char *dev = "/sys/bus/pci/devices/";
	char want[128];

	(void)ctx;
	if (strncmp(path, dev, strlen(dev)))
		return -ENOENT;
	for (unsigned i = 0; i < 4 && fv->group_members[i]; i++) {
		snprintf(want, sizeof(want), "%s%s/driver", dev, fv->group_members[i]);
		if (!strcmp(path, want)) {
			const char *drv = i == 0 ? fv->driver : fv->member_drivers[i];

			if (!drv)
				return -ENOENT;
			snprintf(buf, len, "../../../bus/pci/drivers/%s", drv);
			return 0;
		}
	}
	snprintf(want, sizeof(want), "%s" DEV_NAME "/iommu_group", dev);
	if (!strcmp(path, want) && fv->group >= 0) {
		snprintf(buf, len, "../../../kernel/iommu_groups/%d", fv->group);
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
	char want[96];

	(void)ctx;
	snprintf(want, sizeof(want), "/sys/kernel/iommu_groups/%d/devices", fv->group);
	if (strcmp(path, want))
		return -ENOENT;
	for (unsigned i = 0; i < 4 && fv->group_members[i]; i++)
		fn(arg, fv->group_members[i]);
	return 0;
}

static bool f_exists(void *ctx, const char *path)
{
	char node[64];

	(void)ctx;
	if (!strcmp(path, "/sys/bus/pci/devices/" DEV_NAME))
		return fv->device_exists;
	snprintf(node, sizeof(node), "/dev/vfio/%d", fv->group);
	if (!strcmp(path, "/dev/vfio/vfio") || !strcmp(path, node))
		return fv->dev_vfio_nodes;
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
