/* SPDX-License-Identifier: MIT */
/* Device addresses and set-up diagnostics: every failure names what to do about it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/vfio/internal.h"

#define SYSFS_PCI "/sys/bus/pci/devices"

static int hex_field(const char *s, size_t len, unsigned max, unsigned *out)
{
	unsigned v = 0;

	if (!len)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		unsigned d;

		if (c >= '0' && c <= '9')
			d = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			d = (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			d = (unsigned)(c - 'A' + 10);
		else
			return -EINVAL;
		v = v * 16 + d;
	}
	if (v > max)
		return -EINVAL;
	*out = v;
	return 0;
}

int vfio_bdf_parse(const char *s, struct vfio_bdf *out)
{
	unsigned dom = 0, bus, dev, fn;
	const char *c1 = strchr(s, ':'), *c2, *dot;

	if (!c1)
		return -EINVAL;
	c2 = strchr(c1 + 1, ':');
	if (c2) {
		/* DDDD:BB:DD.F */
		if (hex_field(s, (size_t)(c1 - s), 0xffff, &dom) || c1 - s != 4)
			return -EINVAL;
		s = c1 + 1;
		c1 = c2;
	}
	dot = strchr(c1 + 1, '.');
	if (!dot || c1 - s != 2 || dot - c1 - 1 != 2 || strlen(dot + 1) != 1)
		return -EINVAL;
	if (hex_field(s, 2, 0xff, &bus) || hex_field(c1 + 1, 2, 0x1f, &dev) ||
	    hex_field(dot + 1, 1, 7, &fn))
		return -EINVAL;
	*out = (struct vfio_bdf){ (uint16_t)dom, (uint8_t)bus, (uint8_t)dev, (uint8_t)fn };
	return 0;
}

void vfio_bdf_format(const struct vfio_bdf *b, char *buf, size_t len)
{
	snprintf(buf, len, "%04x:%02x:%02x.%x", b->domain, b->bus, b->dev, b->fn);
}

bool vfio_diag_have_iommufd(const struct vfio_sys *sys)
{
	return sys->exists(sys->ctx, "/dev/iommu") && sys->exists(sys->ctx, "/dev/vfio/devices");
}

static const char *basename_of(const char *path)
{
	const char *s = strrchr(path, '/');

	return s ? s + 1 : path;
}

int vfio_diag_check_device(const struct vfio_sys *sys, const struct vfio_bdf *bdf, unsigned *group)
{
	char name[16], path[128], link[256], drv[256] = "", node[64];
	char *end;
	unsigned long g;
	int r;

	vfio_bdf_format(bdf, name, sizeof(name));
	snprintf(path, sizeof(path), SYSFS_PCI "/%s", name);
	if (!sys->exists(sys->ctx, path)) {
		log_err("--vfio %s: no such PCI device on this host; `lspci -D` lists the devices",
		        name);
		return -ENODEV;
	}
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/driver", name);
	if (sys->readlink(sys->ctx, path, link, sizeof(link)) == 0)
		snprintf(drv, sizeof(drv), "%s", basename_of(link));
	if (strcmp(drv, "vfio-pci")) {
		char unbind[160] = "";

		if (drv[0])
			snprintf(unbind, sizeof(unbind),
			         "echo %s > " SYSFS_PCI "/%s/driver/unbind; ", name, name);
		log_err("--vfio %s: the device is %s%s, not vfio-pci; bind it with: modprobe "
		        "vfio-pci; %secho vfio-pci > " SYSFS_PCI "/%s/driver_override; echo %s > "
		        "/sys/bus/pci/drivers_probe",
		        name, drv[0] ? "bound to " : "bound to no driver", drv, unbind, name, name);
		return drv[0] ? -EBUSY : -ENODEV;
	}
	snprintf(path, sizeof(path), SYSFS_PCI "/%s/iommu_group", name);
	r = sys->readlink(sys->ctx, path, link, sizeof(link));
	if (r) {
		log_err("--vfio %s: the device has no IOMMU group: the host IOMMU is off; enable "
		        "VT-d/AMD-Vi in the firmware and boot with intel_iommu=on (Intel) or "
		        "amd_iommu=on (AMD)",
		        name);
		return -ENODEV;
	}
	g = strtoul(basename_of(link), &end, 10);
	if (*end || g > 0xffffff) {
		log_err("--vfio %s: unexpected IOMMU group link %s", name, link);
		return -ENODEV;
	}
	snprintf(node, sizeof(node), "/dev/vfio/%lu", g);
	if (!sys->exists(sys->ctx, "/dev/vfio/vfio") || !sys->exists(sys->ctx, node)) {
		log_err("--vfio %s: %s is missing: load the VFIO modules (modprobe vfio-pci "
		        "vfio_iommu_type1)",
		        name, sys->exists(sys->ctx, "/dev/vfio/vfio") ? node : "/dev/vfio/vfio");
		return -ENODEV;
	}
	*group = (unsigned)g;
	return 0;
}

struct member_ctx {
	const struct vfio_sys *sys;
};

static void diag_member(void *arg, const char *dev)
{
	struct member_ctx *m = arg;
	char path[160], link[256];
	const char *drv = "no driver";

	snprintf(path, sizeof(path), SYSFS_PCI "/%s/driver", dev);
	if (m->sys->readlink(m->sys->ctx, path, link, sizeof(link)) == 0)
		drv = basename_of(link);
	log_err("  %s: %s%s", dev, drv,
	        strcmp(drv, "vfio-pci") ? " (bind to vfio-pci, or unbind it)" : "");
}

void vfio_diag_group_members(const struct vfio_sys *sys, unsigned group)
{
	struct member_ctx m = { sys };
	char path[96];

	snprintf(path, sizeof(path), "/sys/kernel/iommu_groups/%u/devices", group);
	log_err("IOMMU group %u is not viable: every device in it must be bound to vfio-pci "
	        "or to no driver. Its devices:",
	        group);
	if (sys->list_dir(sys->ctx, path, diag_member, &m))
		log_err("  (cannot list %s)", path);
}

void vfio_diag_no_intr_remap(void)
{
	log_err("the IOMMU does not remap interrupts, so vfio_iommu_type1 refuses the device: "
	        "a device could forge MSIs to any vector. If the host is trusted (for example a "
	        "nested Hyper-V or QEMU host without interrupt remapping), allow it with: "
	        "echo 1 > /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts "
	        "(or modprobe vfio_iommu_type1 allow_unsafe_interrupts=1)");
}
