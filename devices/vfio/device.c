/* SPDX-License-Identifier: MIT */
/* The VFIO device: its fd, regions (with sparse-mmap areas), interrupts and reset. */
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vfio/internal.h"

/* Read the sparse-mmap capability of a region, if the kernel gives one. */
static int vfio_region_sparse(struct vfio_device *d, unsigned index, struct vfio_region *reg,
                              uint32_t argsz)
{
	struct vfio_region_info *info;
	uint32_t off;
	int r;

	if (argsz > 65536)
		return -EINVAL;
	info = calloc(1, argsz);
	if (!info)
		return -ENOMEM;
	info->argsz = argsz;
	info->index = index;
	r = d->c->sys->ioctl(d->c->sys->ctx, d->fd, VFIO_DEVICE_GET_REGION_INFO, info);
	if (r < 0)
		goto out;
	r = 0;
	for (off = info->cap_offset; off && off + sizeof(struct vfio_info_cap_header) <= argsz;) {
		struct vfio_info_cap_header *h = (void *)((uint8_t *)info + off);

		if (h->id == VFIO_REGION_INFO_CAP_SPARSE_MMAP &&
		    off + sizeof(struct vfio_region_info_cap_sparse_mmap) <= argsz) {
			struct vfio_region_info_cap_sparse_mmap *sp = (void *)h;
			size_t room = (argsz - off - sizeof(*sp)) / sizeof(sp->areas[0]);

			reg->nr_areas = 0;
			for (uint32_t i = 0;
			     i < sp->nr_areas && i < room && reg->nr_areas < VFIO_MAX_SPARSE; i++) {
				/* An area past the region's end would map someone else's bytes. */
				if (sp->areas[i].offset > reg->size ||
				    sp->areas[i].size > reg->size - sp->areas[i].offset)
					continue;
				reg->areas[reg->nr_areas++] =
				    (struct vfio_area){ sp->areas[i].offset, sp->areas[i].size };
			}
		}
		if (h->next <= off)
			break;
		off = h->next;
	}
out:
	free(info);
	return r;
}

static int vfio_device_info(struct vfio_device *d)
{
	const struct vfio_sys *sys = d->c->sys;
	struct vfio_device_info info = { .argsz = sizeof(info) };
	int r = sys->ioctl(sys->ctx, d->fd, VFIO_DEVICE_GET_INFO, &info);

	if (r < 0) {
		log_err("VFIO_DEVICE_GET_INFO %s: %s", d->name, strerror(-r));
		return r;
	}
	if (!(info.flags & VFIO_DEVICE_FLAGS_PCI) || info.num_regions <= VFIO_REGION_CONFIG) {
		log_err("--vfio %s: VFIO reports no PCI device here (flags %#x, %u regions)",
		        d->name, info.flags, info.num_regions);
		return -ENODEV;
	}
	d->flags = info.flags;
	d->nr_regions = info.num_regions < VFIO_MAX_REGIONS ? info.num_regions : VFIO_MAX_REGIONS;
	d->nr_irqs = info.num_irqs < VFIO_MAX_IRQS ? info.num_irqs : VFIO_MAX_IRQS;
	for (unsigned i = 0; i < d->nr_regions; i++) {
		struct vfio_region_info ri = { .argsz = sizeof(ri), .index = i };
		struct vfio_region *reg = &d->regions[i];

		r = sys->ioctl(sys->ctx, d->fd, VFIO_DEVICE_GET_REGION_INFO, &ri);
		if (r < 0 && i == VFIO_PCI_VGA_REGION_INDEX) {
			/* Only the VGA region may be absent: treat it as empty. */
			memset(reg, 0, sizeof(*reg));
			continue;
		}
		if (r < 0) {
			log_err("VFIO_DEVICE_GET_REGION_INFO %s region %u: %s", d->name, i,
			        strerror(-r));
			return r;
		}
		*reg =
		    (struct vfio_region){ .flags = ri.flags, .size = ri.size, .offset = ri.offset };
		if (ri.flags & VFIO_REGION_INFO_FLAG_MMAP) {
			reg->areas[0] = (struct vfio_area){ 0, ri.size };
			reg->nr_areas = 1;
		}
		if ((ri.flags & VFIO_REGION_INFO_FLAG_CAPS) && ri.argsz > sizeof(ri) &&
		    (r = vfio_region_sparse(d, i, reg, ri.argsz)) < 0) {
			log_err("VFIO_DEVICE_GET_REGION_INFO %s region %u caps: %s", d->name, i,
			        strerror(-r));
			return r;
		}
	}
	for (unsigned i = 0; i < d->nr_irqs; i++) {
		struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = i };

		r = sys->ioctl(sys->ctx, d->fd, VFIO_DEVICE_GET_IRQ_INFO, &ii);
		if (r < 0 && i <= VFIO_PCI_MSIX_IRQ_INDEX) {
			log_err("VFIO_DEVICE_GET_IRQ_INFO %s index %u: %s", d->name, i,
			        strerror(-r));
			return r;
		}
		d->irqs[i] =
		    r < 0 ? (struct vfio_irq){ 0, 0 } : (struct vfio_irq){ ii.flags, ii.count };
	}
	return 0;
}

int vfio_device_open(struct vfio_container *c, const struct vfio_bdf *bdf, struct vfio_device *d)
{
	const struct vfio_sys *sys = c->sys;
	unsigned group;
	int r;

	memset(d, 0, sizeof(*d));
	d->c = c;
	d->bdf = *bdf;
	d->fd = -1;
	vfio_bdf_format(bdf, d->name, sizeof(d->name));
	if ((r = vfio_diag_check_device(sys, bdf, &group)))
		return r;
	if ((r = vfio_container_add_group(c, group, &d->group)))
		return r;
	d->fd = sys->ioctl(sys->ctx, d->group->fd, VFIO_GROUP_GET_DEVICE_FD, d->name);
	if (d->fd < 0) {
		r = d->fd;
		log_err("VFIO_GROUP_GET_DEVICE_FD %s: %s", d->name, strerror(-r));
		goto fail;
	}
	if ((r = vfio_device_info(d)))
		goto fail;
	return 0;
fail:
	vfio_device_close(d);
	return r;
}

void vfio_device_close(struct vfio_device *d)
{
	if (d->fd >= 0)
		d->c->sys->close(d->c->sys->ctx, d->fd);
	d->fd = -1;
	vfio_container_put_group(d->c, d->group);
	d->group = NULL;
}

/* The group of this VM's container that `id` names, NULL if the VM does not hold it. */
static struct vfio_group *vfio_owned_group(struct vfio_container *c, uint32_t id)
{
	for (unsigned i = 0; i < c->nr_groups; i++) {
		if (c->groups[i].id == id)
			return &c->groups[i];
	}
	return NULL;
}

/* The devices a bus reset of d would hit: VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, sized twice. */
static int vfio_hot_reset_info(struct vfio_device *d, struct vfio_pci_hot_reset_info **out)
{
	const struct vfio_sys *sys = d->c->sys;
	struct vfio_pci_hot_reset_info probe = { .argsz = sizeof(probe) }, *info;
	size_t sz;
	int r;

	r = sys->ioctl(sys->ctx, d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, &probe);
	if (r == 0 && !probe.count)
		return -ENODEV;
	if (r < 0 && r != -ENOSPC)
		return r;
	if (probe.count > 256)
		return -E2BIG;
	sz = sizeof(*info) + probe.count * sizeof(info->devices[0]);
	info = calloc(1, sz);
	if (!info)
		return -ENOMEM;
	info->argsz = (uint32_t)sz;
	r = sys->ioctl(sys->ctx, d->fd, VFIO_DEVICE_GET_PCI_HOT_RESET_INFO, info);
	if (r < 0 || info->count > probe.count) {
		free(info);
		return r < 0 ? r : -EAGAIN;
	}
	*out = info;
	return 0;
}

/*
 * A hot reset (secondary bus or slot reset) of the device's bus: only when every device it
 * hits is in a group this VM holds, so no other user's device is reset under it.
 */
static int vfio_device_hot_reset(struct vfio_device *d)
{
	const struct vfio_sys *sys = d->c->sys;
	struct vfio_pci_hot_reset_info *info = NULL;
	struct vfio_pci_hot_reset *hr = NULL;
	uint32_t n = 0;
	int r;

	r = vfio_hot_reset_info(d, &info);
	if (r) {
		log_warn(
		    "%s: the device has no function reset and %s; it is not reset, so it keeps "
		    "what its last user left in it",
		    d->name,
		    r == -ENODEV ? "no bus reset either" : "its bus reset cannot be queried");
		return -ENOTSUP;
	}
	hr = calloc(1, sizeof(*hr) + info->count * sizeof(int32_t));
	if (!hr) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < info->count; i++) {
		struct vfio_pci_dependent_device *dep = &info->devices[i];
		struct vfio_group *g = vfio_owned_group(d->c, dep->group_id);
		bool dup = false;

		if (!g) {
			log_warn("%s: the device has no function reset, and a bus reset would also "
			         "reset %04x:%02x:%02x.%x (IOMMU group %u), which this VM does not "
			         "hold; "
			         "it is not reset (assign that device too to allow it)",
			         d->name, dep->segment, dep->bus, dep->devfn >> 3, dep->devfn & 7,
			         dep->group_id);
			r = -ENOTSUP;
			goto out;
		}
		for (uint32_t k = 0; k < n; k++)
			dup |= hr->group_fds[k] == g->fd;
		if (!dup)
			hr->group_fds[n++] = g->fd;
	}
	hr->argsz = (uint32_t)(sizeof(*hr) + n * sizeof(int32_t));
	hr->count = n;
	r = sys->ioctl(sys->ctx, d->fd, VFIO_DEVICE_PCI_HOT_RESET, hr);
	if (r < 0)
		log_warn("VFIO_DEVICE_PCI_HOT_RESET %s: %s", d->name, strerror(-r));
	else
		r = 0;
out:
	free(hr);
	free(info);
	return r;
}

int vfio_device_reset(struct vfio_device *d)
{
	int r;

	if (!(d->flags & VFIO_DEVICE_FLAGS_RESET))
		return vfio_device_hot_reset(d);
	r = d->c->sys->ioctl(d->c->sys->ctx, d->fd, VFIO_DEVICE_RESET, NULL);
	if (r < 0) {
		log_warn("VFIO_DEVICE_RESET %s: %s", d->name, strerror(-r));
		return r;
	}
	return 0;
}

static int vfio_region_check(struct vfio_device *d, unsigned index, uint64_t off, size_t len)
{
	if (index >= d->nr_regions || off > d->regions[index].size ||
	    len > d->regions[index].size - off)
		return -EINVAL;
	return 0;
}

int vfio_region_read(struct vfio_device *d, unsigned index, uint64_t off, void *buf, size_t len)
{
	ssize_t n;

	if (vfio_region_check(d, index, off, len))
		return -EINVAL;
	n = d->c->sys->pread(d->c->sys->ctx, d->fd, buf, len,
	                     (off_t)(d->regions[index].offset + off));
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? (int)n : -EIO;
}

int vfio_region_write(struct vfio_device *d, unsigned index, uint64_t off, const void *buf,
                      size_t len)
{
	ssize_t n;

	if (vfio_region_check(d, index, off, len))
		return -EINVAL;
	n = d->c->sys->pwrite(d->c->sys->ctx, d->fd, buf, len,
	                      (off_t)(d->regions[index].offset + off));
	if (n == (ssize_t)len)
		return 0;
	return n < 0 ? (int)n : -EIO;
}

int vfio_device_set_irqs(struct vfio_device *d, unsigned index, uint32_t start, uint32_t count,
                         const int *fds, uint32_t *avail)
{
	size_t sz = sizeof(struct vfio_irq_set) + count * sizeof(int32_t);
	struct vfio_irq_set *set = calloc(1, sz);
	int r;

	if (!set)
		return -ENOMEM;
	set->argsz = (uint32_t)sz;
	set->index = index;
	set->start = start;
	set->count = count;
	set->flags = VFIO_IRQ_SET_ACTION_TRIGGER |
	             (count ? VFIO_IRQ_SET_DATA_EVENTFD : VFIO_IRQ_SET_DATA_NONE);
	if (count)
		memcpy(set->data, fds, count * sizeof(int32_t));
	r = d->c->sys->ioctl(d->c->sys->ctx, d->fd, VFIO_DEVICE_SET_IRQS, set);
	free(set);
	if (r > 0) {
		/* vfio_msi_enable(): fewer vectors than asked, and none of them enabled. */
		if (avail) {
			*avail = (uint32_t)r;
			return -ENOSPC;
		}
		log_err("VFIO_DEVICE_SET_IRQS %s index %u vectors %u+%u: the host has only %d",
		        d->name, index, start, count, r);
		return -ENOSPC;
	}
	if (r < 0) {
		log_err("VFIO_DEVICE_SET_IRQS %s index %u vectors %u+%u: %s", d->name, index, start,
		        count, strerror(-r));
		return r;
	}
	return 0;
}

int vfio_device_irq_action(struct vfio_device *d, unsigned index, uint32_t action)
{
	struct vfio_irq_set set = {
		.argsz = sizeof(set),
		.flags = VFIO_IRQ_SET_DATA_NONE | action,
		.index = index,
		.start = 0,
		.count = 1,
	};
	int r = d->c->sys->ioctl(d->c->sys->ctx, d->fd, VFIO_DEVICE_SET_IRQS, &set);

	if (r < 0) {
		log_err("VFIO_DEVICE_SET_IRQS %s index %u %s: %s", d->name, index,
		        action == VFIO_IRQ_SET_ACTION_MASK ? "mask" : "unmask", strerror(-r));
		return r;
	}
	return 0;
}
