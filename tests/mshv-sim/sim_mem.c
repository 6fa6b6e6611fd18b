/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: MSHV_SET_GUEST_MEMORY as mshv_root does it, and the VFIO bridge device.
 *
 * Each rule names its source; "main" is drivers/hv/mshv_root_main.c of torvalds/linux
 * @0ebac01a (the same in every version of mainline the index holds, 6.15 on).
 *
 * - RAM is pinned at map time (main, mshv_region_populate_pages(): "pin_user_pages_fast(
 *   userspace_addr, nr_pages, FOLL_WRITE | FOLL_LONGTERM, pages)"): all of it is committed
 *   then, and a mapping the process cannot write fails (FOLL_WRITE) -- with EFAULT here.
 *   Modelled with madvise(MADV_POPULATE_WRITE), which commits and fails the same way.
 * - A VM_IO/VM_PFNMAP mapping is MMIO, mapped from its VMA's vm_pgoff (main,
 *   mshv_map_user_memory(): "is_mmio = vma ? !!(vma->vm_flags & (VM_IO | VM_PFNMAP)) : 0;
 *   mmio_pfn = is_mmio ? vma->vm_pgoff : 0;" then "hv_call_map_mmio_pages(partition->pt_id,
 *   mem.guest_pfn, mmio_pfn, HVPFN_DOWN(mem.size))").  The PFN comes from the VMA that holds
 *   the start address, whatever the address's offset in it; and vfio-pci has kept its
 *   region offset in vm_pgoff, not a PFN, since commit aac6db75a9fc ("vfio/pci: Use
 *   unmap_mapping_range()", 2024, before mshv_root was merged): on every kernel with mshv_root
 *   a VFIO BAR handed to it shows the guest low host memory (BAR0) or bogus PFNs.  The
 *   simulator fails that loudly as a host fault (rule S1), whatever this machine's vfio-pci
 *   keeps there (6.1's still kept the PFN).
 * - kernel=bridge: the "PCI passthru on Hyper-V" series (V2 10/11, "mshv: Populate mmio
 *   mappings for PCI passthru") no longer maps at MSHV_SET_GUEST_MEMORY and resolves an
 *   unmapped GPA of an MMIO region at fault time "uaddr = rg->start_uaddr + ((gfn -
 *   rg->start_gfn) << HV_HYP_PAGE_SHIFT)" with follow_pfnmap: by address.  A KVM memory slot
 *   resolves by address too, so the simulator gives the region one.
 * - Overlaps: the driver checks only the new region's end points ("mshv_partition_region_by_
 *   gfn(partition, mem->guest_pfn) || ... guest_pfn + nr_pages - 1 ... by_uaddr(...)");
 *   the simulator refuses any overlap, as hv-mshv itself does (stricter, harmless).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tests/mshv-sim/sim.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* ---- /proc/self/smaps ---- */

/* Parse the header line of one VMA: "start-end perms offset dev inode   path". */
static bool sim_vma_header(const char *line, struct sim_vma *v)
{
	unsigned long long start, end, off;
	char perms[8];
	int n = 0;

	if (sscanf(line, "%llx-%llx %7s %llx %*s %*s %n", &start, &end, perms, &off, &n) < 4)
		return false;
	memset(v, 0, sizeof(*v));
	v->start = start;
	v->end = end;
	v->pgoff = off >> 12;
	v->writable = perms[1] == 'w';
	if (n > 0)
		snprintf(v->path, sizeof(v->path), "%.*s", (int)strcspn(line + n, "\n"), line + n);
	return true;
}

int sim_vma_of(struct mshv_sim *sim, uint64_t addr, struct sim_vma *out)
{
	size_t cap = 1 << 20, len = 0;
	char *buf = malloc(cap), *line, *next;
	struct sim_vma cur;
	bool in = false, found = false;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	if (sim->smaps_fd < 0) {
		free(buf);
		return -ENOENT;
	}
	/* pread: the fd was opened before any seccomp filter, and reading it again is allowed. */
	while ((r = pread(sim->smaps_fd, buf + len, cap - 1 - len, (off_t)len)) > 0) {
		len += (size_t)r;
		if (len == cap - 1) {
			char *n = realloc(buf, cap * 2);

			if (!n)
				break;
			buf = n;
			cap *= 2;
		}
	}
	buf[len] = 0;
	for (line = buf; line && *line && !found; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = 0;
		if (strchr(line, '-') && sim_vma_header(line, &cur)) {
			in = addr >= cur.start && addr < cur.end;
			continue;
		}
		if (in && !strncmp(line, "VmFlags:", 8)) {
			cur.io = strstr(line, " io") != NULL;
			cur.pfnmap = strstr(line, " pf") != NULL;
			*out = cur;
			found = true;
		}
	}
	free(buf);
	return found ? 0 : -ENOENT;
}

/* ---- MSHV_SET_GUEST_MEMORY ---- */

static bool sim_overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a < b + blen && b < a + alen;
}

static int sim_kvm_slot(struct mshv_sim *sim, const struct sim_region *r, uint64_t size)
{
	struct kvm_userspace_memory_region m = {
		.slot = r->slot,
		/* Without WRITABLE, guest writes fault: on KVM a read-only slot does that. */
		.flags = (r->flags & (1u << MSHV_SET_MEM_BIT_WRITABLE)) ? 0 : KVM_MEM_READONLY,
		.guest_phys_addr = r->gpa,
		.memory_size = size,
		.userspace_addr = r->uaddr,
	};

	return ioctl(sim->part_fd, KVM_SET_USER_MEMORY_REGION, &m) < 0 ? -errno : 0;
}

/* RAM: pinned, so committed and writable, or the map fails. */
static int sim_pin(struct mshv_sim *sim, const struct sim_region *n, const struct sim_vma *v)
{
	if (madvise((void *)(uintptr_t)n->uaddr, n->size, MADV_POPULATE_WRITE) == 0) {
		sim_stat_add(&sim_stats()->pinned, n->size);
		return 0;
	}
	if (errno != EINVAL) {
		log_err("mshv-sim: MSHV_SET_GUEST_MEMORY gpa %#llx: pinning the pages for writing "
		        "(pin_user_pages_fast FOLL_WRITE|FOLL_LONGTERM) fails: %s",
		        (unsigned long long)n->gpa, strerror(errno));
		return -EFAULT;
	}
	/* A kernel without MADV_POPULATE_WRITE (before 5.14): the mapping's permission says. */
	if (!v->writable) {
		log_err("mshv-sim: MSHV_SET_GUEST_MEMORY gpa %#llx: a read-only mapping cannot be "
		        "pinned for writing (FOLL_WRITE)",
		        (unsigned long long)n->gpa);
		return -EFAULT;
	}
	(void)sim;
	sim_stat_add(&sim_stats()->pinned, n->size);
	return 0;
}

/* MMIO: what the driver resolves the host pages from. */
static int sim_mmio(struct mshv_sim *sim, struct sim_region *n, const struct sim_vma *v)
{
	uint64_t off = n->uaddr - v->start;

	if (sim->opts.bridge) {
		n->mmio = true; /* resolved by address at fault time: a memory slot does that */
		return 0;
	}
	return sim_host_fault(
	    sim, "S1",
	    "MSHV_SET_GUEST_MEMORY gpa %#llx size %#llx at %#llx, a VM_IO/VM_PFNMAP mapping (%s): "
	    "mainline mshv_root would map it from host PFN %#llx, the vm_pgoff of its VMA "
	    "(which starts %#llx bytes before the address) -- a VFIO BAR's vm_pgoff is vfio-pci's "
	    "region offset on every kernel with mshv_root (aac6db75a9fc), not a PFN, so the guest "
	    "would see other host memory (drivers/hv/mshv_root_main.c mshv_map_user_memory: "
	    "mmio_pfn = vma->vm_pgoff)",
	    (unsigned long long)n->gpa, (unsigned long long)n->size, (unsigned long long)n->uaddr,
	    v->path[0] ? v->path : "anonymous", (unsigned long long)v->pgoff,
	    (unsigned long long)off);
}

int sim_set_memory(struct mshv_sim *sim, const struct mshv_user_mem_region *m)
{
	struct sim_region n = { .gpa = m->guest_pfn << 12,
		                .size = m->size,
		                .uaddr = m->userspace_addr,
		                .flags = m->flags };
	struct sim_vma v;
	int r = 0;

	if (!m->size || m->size & 0xfff || m->userspace_addr & 0xfff || m->flags & ~7u ||
	    m->rsvd[0] | m->rsvd[1] | m->rsvd[2] | m->rsvd[3] | m->rsvd[4] | m->rsvd[5] |
	        m->rsvd[6])
		return -EINVAL;
	if (!sim->initialized) {
		log_err("mshv-sim: MSHV_SET_GUEST_MEMORY before MSHV_INITIALIZE_PARTITION");
		return -EBADFD;
	}
	pthread_mutex_lock(&sim->lock);
	if (m->flags & (1u << MSHV_SET_MEM_BIT_UNMAP)) {
		/* No slots: the unmap names the exact mapping, or it fails. */
		r = -EINVAL;
		for (unsigned i = 0; i < sim->nr_regions; i++) {
			struct sim_region *o = &sim->regions[i];

			if (n.gpa < o->gpa || n.gpa >= o->gpa + o->size)
				continue;
			if (o->gpa == n.gpa && o->size == n.size && o->uaddr == n.uaddr &&
			    !(r = sim_kvm_slot(sim, o, 0))) {
				sim->slots_used[o->slot / 64] &= ~(1ull << (o->slot % 64));
				sim->regions[i] = sim->regions[--sim->nr_regions];
			}
			break;
		}
		goto out;
	}
	for (unsigned i = 0; i < sim->nr_regions; i++) {
		const struct sim_region *o = &sim->regions[i];

		/* Mappings may overlap neither in guest-physical space nor in userspace. */
		if (sim_overlap(n.gpa, n.size, o->gpa, o->size) ||
		    sim_overlap(n.uaddr, n.size, o->uaddr, o->size)) {
			r = -EEXIST;
			goto out;
		}
	}
	/* "vma = vma_lookup(current->mm, mem.userspace_addr); ... if (!vma) return -EINVAL;" */
	if (sim_vma_of(sim, n.uaddr, &v)) {
		r = -EINVAL;
		goto out;
	}
	r = (v.io || v.pfnmap) ? sim_mmio(sim, &n, &v) : sim_pin(sim, &n, &v);
	if (r)
		goto out;
	r = -ENOSPC;
	for (uint32_t s = 0; s < 256 && sim->nr_regions < SIM_MAX_REGIONS; s++) {
		if (sim->slots_used[s / 64] & (1ull << (s % 64)))
			continue;
		n.slot = s;
		if (!(r = sim_kvm_slot(sim, &n, n.size))) {
			sim->slots_used[s / 64] |= 1ull << (s % 64);
			sim->regions[sim->nr_regions++] = n;
		}
		break;
	}
out:
	pthread_mutex_unlock(&sim->lock);
	return r;
}

/* ---- the VFIO bridge device (kernel=bridge) ---- */

/*
 * "mshv: Add ioctl support for MSHV-VFIO bridge device" and "mshv: Implement mshv bridge
 * device for VFIO" (drivers/hv/mshv_vfio.c): MSHV_CREATE_DEVICE on the partition fd, type
 * MSHV_DEV_TYPE_VFIO only ("if (devargk.type != MSHV_DEV_TYPE_VFIO) return -ENODEV"),
 * MSHV_CREATE_DEVICE_TEST answers 0 without creating, one VFIO device per partition
 * (mshv_vfio_create_device(): -EBUSY).  Mainline has no such ioctl: mshv_partition_ioctl()
 * answers -ENOTTY.
 */
int sim_create_device(struct mshv_sim *sim, struct mshv_create_device *cd)
{
	int fd;

	if (!sim->opts.bridge)
		return -ENOTTY;
	if (cd->type != MSHV_DEV_TYPE_VFIO)
		return -ENODEV;
	if (cd->flags & MSHV_CREATE_DEVICE_TEST)
		return 0;
	if (sim->bridge_fd >= 0)
		return -EBUSY;
	/* A real file descriptor stands for the device, so closing it works. */
	fd = eventfd(0, EFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	sim->bridge_fd = fd;
	cd->fd = (uint32_t)fd;
	return 0;
}

/*
 * MSHV_SET_DEVICE_ATTR, group MSHV_DEV_VFIO_FILE, attr FILE_ADD: addr points at an int32 fd
 * (mshv_vfio_set_file(): get_user(fd, argp)) that must be a VFIO file
 * (mshv_vfio_file_is_valid(): vfio_file_is_valid) and not yet added (-EEXIST).
 */
int sim_device_attr(struct mshv_sim *sim, const struct mshv_device_attr *a)
{
	char path[64], target[128] = "";
	int32_t fd;
	ssize_t n;

	if (a->group != MSHV_DEV_VFIO_FILE || a->attr != MSHV_DEV_VFIO_FILE_ADD)
		return -ENXIO;
	memcpy(&fd, (const void *)(uintptr_t)a->addr, sizeof(fd));
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, target, sizeof(target) - 1);
	if (n < 0)
		return -EBADF;
	target[n] = 0;
	if (!strstr(target, "vfio")) {
		log_err("mshv-sim: MSHV_DEV_VFIO_FILE_ADD of fd %d (%s): not a VFIO file", fd,
		        target);
		return -EINVAL;
	}
	for (unsigned i = 0; i < sim->nr_bridge_files; i++)
		if (sim->bridge_files[i] == fd)
			return -EEXIST;
	if (sim->nr_bridge_files == ARRAY_SIZE(sim->bridge_files))
		return -ENOMEM;
	sim->bridge_files[sim->nr_bridge_files++] = fd;
	return 0;
}
