/* SPDX-License-Identifier: MIT */
/*
 * The expansion ROM of an assigned device.  Every read of VFIO's ROM region makes the kernel
 * map the ROM again (enabling the ROM BAR and memory decoding on the device for the read),
 * and firmware or a guest driver reads a ROM a few bytes at a time; the ROM does not change,
 * so it is read once, on the guest's first access, and served from memory after that.
 */
#include <stdlib.h>
#include <string.h>

#include "devices/vfio/internal.h"

/* ROMs larger than this are read through on every access rather than kept. */
#define VFIO_ROM_CACHE_MAX MiB(16)

/* Read the whole ROM region once; rom_lock held.  A failure leaves reads all-ones. */
static void vfio_rom_load(struct vfio_pci *vp)
{
	uint64_t size = vp->dev.regions[VFIO_REGION_ROM].size;
	uint8_t *buf;

	vp->rom_read = true;
	if (!size || size > VFIO_ROM_CACHE_MAX)
		return;
	buf = malloc(size);
	if (!buf) {
		log_warn("%s: no memory to keep its %llu KiB ROM; it reads as all-ones",
		         vp->dev.name, (unsigned long long)(size >> 10));
		return;
	}
	if (vfio_region_read(&vp->dev, VFIO_REGION_ROM, 0, buf, size)) {
		log_warn("%s: its ROM cannot be read; it reads as all-ones", vp->dev.name);
		free(buf);
		return;
	}
	vp->rom = buf;
}

void vfio_rom_read(struct vfio_pci *vp, uint64_t off, void *data, uint32_t len)
{
	uint64_t size = vp->dev.regions[VFIO_REGION_ROM].size;

	pthread_mutex_lock(&vp->rom_lock);
	if (!vp->rom_read)
		vfio_rom_load(vp);
	if (vp->rom && off < size && len <= size - off)
		memcpy(data, vp->rom + off, len);
	else if (vp->rom || vfio_region_read(&vp->dev, VFIO_REGION_ROM, off, data, len))
		memset(data, 0xff, len);
	pthread_mutex_unlock(&vp->rom_lock);
}

void vfio_rom_free(struct vfio_pci *vp)
{
	free(vp->rom);
	vp->rom = NULL;
	vp->rom_read = false;
}
