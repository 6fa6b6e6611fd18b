/* SPDX-License-Identifier: MIT */
/* The VFIO container: groups and the type1v2 IOMMU (guest RAM's DMA mapping is in dma.c). */
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vfio/internal.h"

int vfio_container_open(const struct vfio_sys *sys, struct vfio_container *c)
{
	int r;

	memset(c, 0, sizeof(*c));
	c->sys = sys;
	c->fd = sys->open(sys->ctx, "/dev/vfio/vfio", O_RDWR);
	if (c->fd < 0) {
		r = c->fd;
		if (r == -EACCES)
			log_err("open /dev/vfio/vfio: permission denied; run hvmm as root");
		else
			log_err("open /dev/vfio/vfio: %s; load the VFIO modules (modprobe vfio-pci "
			        "vfio_iommu_type1)",
			        strerror(-r));
		return r;
	}
	r = sys->ioctl(sys->ctx, c->fd, VFIO_GET_API_VERSION, NULL);
	if (r != VFIO_API_VERSION) {
		log_err("VFIO_GET_API_VERSION: %d, hvmm needs %d", r, VFIO_API_VERSION);
		r = -ENOTSUP;
		goto fail;
	}
	r = sys->ioctl(sys->ctx, c->fd, VFIO_CHECK_EXTENSION,
	               (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (r <= 0) {
		log_err("VFIO_CHECK_EXTENSION: the host offers no type1v2 IOMMU; hvmm needs "
		        "vfio_iommu_type1 (modprobe vfio_iommu_type1)");
		r = -ENOTSUP;
		goto fail;
	}
	c->map_efd = -1;
	pthread_mutex_init(&c->map_lock, NULL);
	pthread_cond_init(&c->map_cond, NULL);
	return 0;
fail:
	sys->close(sys->ctx, c->fd);
	c->fd = -1;
	return r;
}

/* Walk the capability chain of VFIO_IOMMU_GET_INFO for the usable IOVA ranges. */
static int vfio_read_iova_ranges(struct vfio_container *c)
{
	struct vfio_iommu_type1_info probe = { .argsz = sizeof(probe) };
	struct vfio_iommu_type1_info *info;
	uint32_t off;
	int r;

	r = c->sys->ioctl(c->sys->ctx, c->fd, VFIO_IOMMU_GET_INFO, &probe);
	if (r < 0) {
		log_err("VFIO_IOMMU_GET_INFO: %s", strerror(-r));
		return r;
	}
	c->pgsize_mask = probe.iova_pgsizes;
	if (!(probe.flags & VFIO_IOMMU_INFO_CAPS) || probe.argsz <= sizeof(probe) ||
	    probe.argsz > 65536)
		return 0;
	info = calloc(1, probe.argsz);
	if (!info)
		return -ENOMEM;
	info->argsz = probe.argsz;
	r = c->sys->ioctl(c->sys->ctx, c->fd, VFIO_IOMMU_GET_INFO, info);
	if (r < 0) {
		log_err("VFIO_IOMMU_GET_INFO with capabilities: %s", strerror(-r));
		goto out;
	}
	r = 0;
	/* Offsets come from the kernel, but check them: a bad chain must not walk off the end. */
	for (off = info->cap_offset;
	     off && off + sizeof(struct vfio_info_cap_header) <= info->argsz;) {
		struct vfio_info_cap_header *h = (void *)((uint8_t *)info + off);

		if (h->id == VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE &&
		    off + sizeof(struct vfio_iommu_type1_info_cap_iova_range) <= info->argsz) {
			struct vfio_iommu_type1_info_cap_iova_range *cap = (void *)h;
			size_t room =
			    (info->argsz - off - sizeof(*cap)) / sizeof(cap->iova_ranges[0]);

			for (uint32_t i = 0;
			     i < cap->nr_iovas && i < room && c->nr_ranges < VFIO_MAX_IOVA_RANGES;
			     i++)
				c->ranges[c->nr_ranges++] =
				    (struct vfio_usable_range){ cap->iova_ranges[i].start,
					                        cap->iova_ranges[i].end };
		}
		if (h->next <= off)
			break;
		off = h->next;
	}
out:
	free(info);
	return r;
}

int vfio_container_add_group(struct vfio_container *c, unsigned id, struct vfio_group **out)
{
	struct vfio_group_status st = { .argsz = sizeof(st) };
	struct vfio_group *g;
	char path[64];
	int r;

	g = NULL;
	for (unsigned i = 0; i < c->nr_groups; i++) {
		if (c->groups[i].users && c->groups[i].id == id) {
			c->groups[i].users++;
			*out = &c->groups[i];
			return 0;
		}
		if (!c->groups[i].users && !g)
			g = &c->groups[i]; /* a slot a removed device's group left */
	}
	if (!g && c->nr_groups == VFIO_MAX_GROUPS) {
		log_err("VFIO: at most %d IOMMU groups per VM", VFIO_MAX_GROUPS);
		return -ENOSPC;
	}
	if (!g)
		g = &c->groups[c->nr_groups];
	g->id = id;
	g->hv_added = false; /* a slot a removed group left may be reused */
	snprintf(path, sizeof(path), "/dev/vfio/%u", id);
	g->fd = c->sys->open(c->sys->ctx, path, O_RDWR);
	if (g->fd < 0) {
		r = g->fd;
		if (r == -EACCES)
			log_err("open %s: permission denied; run hvmm as root or give your user "
			        "the group's node (chown $USER %s)",
			        path, path);
		else if (r == -EBUSY)
			log_err("open %s: busy: another process (a VMM?) already uses IOMMU group "
			        "%u",
			        path, id);
		else
			log_err("open %s: %s", path, strerror(-r));
		return r;
	}
	r = c->sys->ioctl(c->sys->ctx, g->fd, VFIO_GROUP_GET_STATUS, &st);
	if (r < 0) {
		log_err("VFIO_GROUP_GET_STATUS group %u: %s", id, strerror(-r));
		goto fail;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		vfio_diag_group_members(c->sys, id);
		r = -EBUSY;
		goto fail;
	}
	r = c->sys->ioctl(c->sys->ctx, g->fd, VFIO_GROUP_SET_CONTAINER, &c->fd);
	if (r < 0) {
		log_err("VFIO_GROUP_SET_CONTAINER group %u: %s", id, strerror(-r));
		if (r == -EPERM)
			vfio_diag_no_intr_remap();
		goto fail;
	}
	if (!c->iommu_set) {
		r = c->sys->ioctl(c->sys->ctx, c->fd, VFIO_SET_IOMMU,
		                  (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
		if (r < 0) {
			log_err("VFIO_SET_IOMMU type1v2: %s", strerror(-r));
			if (r == -EPERM)
				vfio_diag_no_intr_remap();
			goto fail;
		}
		c->iommu_set = true;
		if ((r = vfio_read_iova_ranges(c)))
			goto fail;
	}
	g->users = 1;
	if (g == &c->groups[c->nr_groups])
		c->nr_groups++;
	*out = g;
	return 0;
fail:
	c->sys->close(c->sys->ctx, g->fd);
	g->fd = -1;
	return r;
}

void vfio_container_put_group(struct vfio_container *c, struct vfio_group *g)
{
	bool last = true;

	if (!g || --g->users)
		return;
	for (unsigned i = 0; i < c->nr_groups; i++)
		last &= &c->groups[i] == g || !c->groups[i].users;
	/*
	 * The last group takes the IOMMU with it: unpin guest RAM while it is there; the next
	 * group sets the IOMMU up again and RAM is mapped anew.
	 */
	if (last) {
		vfio_container_unmap_all(c);
		c->iommu_set = false;
	}
	/*
	 * Closing the group fd detaches it from the container.  Other devices point at their
	 * groups: the slot stays where it is, free for the next group.
	 */
	c->sys->close(c->sys->ctx, g->fd);
	g->fd = -1;
}

void vfio_container_close(struct vfio_container *c)
{
	if (c->fd < 0 || !c->sys)
		return;
	vfio_container_unmap_all(c);
	while (c->nr_groups) {
		struct vfio_group *g = &c->groups[--c->nr_groups];

		if (g->fd >= 0)
			c->sys->close(c->sys->ctx, g->fd);
	}
	c->sys->close(c->sys->ctx, c->fd);
	c->fd = -1;
	free(c->dma);
	c->dma = NULL;
	c->max_dma = 0;
	pthread_cond_destroy(&c->map_cond);
	pthread_mutex_destroy(&c->map_lock);
}
