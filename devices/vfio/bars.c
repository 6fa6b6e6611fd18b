/* SPDX-License-Identifier: MIT */
/*
 * BARs of an assigned device.  Where the hypervisor maps device memory by address (KVM, MSHV
 * with the VFIO bridge), memory BARs are mapped straight into the guest (no exits) except the
 * pages holding the MSI-X table and PBA, which the PCI core traps and emulates: each mappable
 * piece is mmap'd on its own, at its own offset of the device fd.  Where it does not (mainline
 * MSHV), or with --vfio-bars trap, nothing is mapped and every access is proxied with
 * pread/pwrite on the device fd, as are bytes of the MSI-X pages outside the table and PBA,
 * non-mappable regions and I/O BARs.
 */
#include <linux/vfio.h>
#include <string.h>
#include <sys/mman.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"

#define PAGE 4096ull

/* The page range [lo, hi) of BAR `bar` that must stay trapped: MSI-X table or PBA (which). */
static bool vfio_trapped_range(const struct vfio_pci *vp, unsigned bar, int which, uint64_t *lo,
                               uint64_t *hi)
{
	struct pci_msix_layout l;
	uint64_t off, len;

	if (!vp->pdev || !pci_msix_layout(vp->pdev, &l) || (which ? l.pba_bar : l.table_bar) != bar)
		return false;
	off = which ? l.pba_off : l.table_off;
	len = which ? l.pba_size : l.table_size;
	*lo = off & ~(PAGE - 1);
	*hi = (off + len + PAGE - 1) & ~(PAGE - 1);
	return true;
}

/* Cut [start, end) of BAR `bar` around its MSI-X pages into pieces; returns how many. */
static unsigned vfio_cut(const struct vfio_pci *vp, unsigned bar, uint64_t start, uint64_t end,
                         uint64_t (*out)[2], unsigned max)
{
	uint64_t cut_lo[2], cut_hi[2];
	unsigned n = 0, k = 0;

	for (int w = 0; w < 2; w++) {
		uint64_t lo, hi;

		if (vfio_trapped_range(vp, bar, w, &lo, &hi) && lo < end && hi > start) {
			cut_lo[n] = lo > start ? lo : start;
			cut_hi[n] = hi < end ? hi : end;
			n++;
		}
	}
	if (n == 2 && cut_lo[1] < cut_lo[0]) {
		uint64_t t = cut_lo[0], u = cut_hi[0];

		cut_lo[0] = cut_lo[1];
		cut_hi[0] = cut_hi[1];
		cut_lo[1] = t;
		cut_hi[1] = u;
	}
	for (unsigned i = 0; i <= n && k < max; i++) {
		uint64_t s = i == 0 ? start : cut_hi[i - 1];
		uint64_t e = i == n ? end : cut_lo[i];

		if (e > s) {
			out[k][0] = s;
			out[k][1] = e;
			k++;
		}
	}
	return k;
}

static void vfio_choose_mode(struct vfio_pci *vp)
{
	const struct hv_caps *caps = &vp->vm->caps;

	if (vp->force_trap) {
		vp->bar_mode = VFIO_BARS_TRAPPED;
		vp->bar_mode_why = "--vfio-bars trap";
	} else if (caps->devmem == HV_DEVMEM_TRAP) {
		vp->bar_mode = VFIO_BARS_TRAPPED;
		vp->bar_mode_why = caps->devmem_why ? caps->devmem_why : "the hypervisor said so";
	} else {
		vp->bar_mode = VFIO_BARS_MAPPED;
		vp->bar_mode_why = caps->devmem_why ? caps->devmem_why : "mapped by address";
	}
}

int vfio_bars_mmap(struct vfio_pci *vp)
{
	const struct vfio_sys *sys = vp->dev.c->sys;

	vfio_choose_mode(vp);
	if (vp->bar_mode == VFIO_BARS_TRAPPED)
		return 0; /* nothing to map: every access goes through the device fd */
	for (unsigned b = 0; b < 6; b++) {
		struct vfio_region *reg = &vp->dev.regions[b];

		if (!(reg->flags & VFIO_REGION_INFO_FLAG_MMAP))
			continue;
		for (unsigned a = 0; a < reg->nr_areas; a++) {
			const struct vfio_area *ar = &reg->areas[a];
			uint64_t cut[3][2];
			unsigned n;

			if (!ar->size || (ar->offset | ar->size) & (PAGE - 1))
				continue; /* the kernel only offers page-aligned areas */
			n = vfio_cut(vp, b, ar->offset, ar->offset + ar->size, cut, 3);
			for (unsigned i = 0; i < n; i++) {
				struct vfio_piece *pc = &vp->pieces[b][vp->nr_pieces[b]];
				uint64_t size = cut[i][1] - cut[i][0];
				int err;
				void *p;

				if (vp->nr_pieces[b] == VFIO_MAX_PIECES) {
					log_warn("%s: BAR%u has too many mappable pieces; the rest "
					         "traps",
					         vp->dev.name, b);
					break;
				}
				p = sys->mmap(sys->ctx, size, PROT_READ | PROT_WRITE, MAP_SHARED,
				              vp->dev.fd, (off_t)(reg->offset + cut[i][0]), &err);
				if (p == MAP_FAILED) {
					/* Not fatal: that part of the BAR is proxied instead. */
					log_warn("%s: mmap of BAR%u+%#llx (%llu KiB): %s; accesses "
					         "there will trap",
					         vp->dev.name, b, (unsigned long long)cut[i][0],
					         (unsigned long long)(size >> 10), strerror(-err));
					continue;
				}
				*pc = (struct vfio_piece){ cut[i][0], size, p };
				vp->nr_pieces[b]++;
			}
		}
	}
	return 0;
}

void vfio_bars_munmap(struct vfio_pci *vp)
{
	const struct vfio_sys *sys = vp->dev.c->sys;

	for (unsigned b = 0; b < 6; b++) {
		for (unsigned i = 0; i < vp->nr_pieces[b]; i++)
			sys->munmap(sys->ctx, vp->pieces[b][i].hva, vp->pieces[b][i].size);
		vp->nr_pieces[b] = 0;
	}
}

static int vfio_map_piece(struct vfio_pci *vp, unsigned bar, uint64_t gpa, void *hva, uint64_t size)
{
	struct vfio_map *m;
	int r;

	if (vp->nr_maps == VFIO_MAX_MAPS) {
		log_warn("%s: too many BAR mappings; the rest of BAR%u traps", vp->dev.name, bar);
		return 0;
	}
	m = &vp->maps[vp->nr_maps];
	*m = (struct vfio_map){ bar, { gpa, size, hva, HV_MEM_DEVICE } };
	r = vp->vm->hv->mem_map(vp->vm->hvm, &m->r);
	if (r)
		return r;
	vp->nr_maps++;
	return 0;
}

/* Unmap the parts of BAR `bar` mapped straight into the guest (the trapped view stays). */
static void vfio_bar_unmap_direct(struct vfio_pci *vp, unsigned bar)
{
	for (unsigned i = 0; i < vp->nr_maps;) {
		if (vp->maps[i].bar != bar) {
			i++;
			continue;
		}
		if (vp->vm->hv->mem_unmap(vp->vm->hvm, &vp->maps[i].r))
			log_warn("%s: unmapping BAR%u from the guest failed", vp->dev.name, bar);
		vp->maps[i] = vp->maps[--vp->nr_maps];
	}
}

void vfio_bar_unmap(struct pci_dev *pdev, unsigned bar, uint64_t addr, uint64_t size)
{
	struct vfio_pci *vp = pdev->priv;

	(void)size;
	vfio_bar_unmap_direct(vp, bar);
	pci_bar_unmap_default(pdev, bar, addr);
}

/*
 * Map the pieces of memory BAR `bar`, decoding at addr, over its trapped view: each piece
 * whole, at the start of its own mapping; a BAR sized smaller cuts it.
 */
static int vfio_bar_map_direct(struct vfio_pci *vp, unsigned bar, uint64_t addr, uint64_t size)
{
	int r;

	for (unsigned i = 0; i < vp->nr_pieces[bar]; i++) {
		const struct vfio_piece *pc = &vp->pieces[bar][i];
		uint64_t len = pc->size;

		if (pc->off >= size)
			continue;
		if (len > size - pc->off)
			len = size - pc->off;
		if ((r = vfio_map_piece(vp, bar, addr + pc->off, pc->hva, len))) {
			vfio_bar_unmap_direct(vp, bar);
			return r;
		}
	}
	return 0;
}

int vfio_bar_map(struct pci_dev *pdev, unsigned bar, uint64_t addr, uint64_t size)
{
	struct vfio_pci *vp = pdev->priv;
	int r;

	/* The trapped view under everything: what is not mapped over it still works. */
	r = pci_bar_map_default(pdev, bar, addr);
	if (r)
		return r;
	if (bar >= 6 || pdev->bars[bar].kind == PCI_BAR_IO || vp->pm_state)
		return 0;
	r = vfio_bar_map_direct(vp, bar, addr, size);
	if (r)
		pci_bar_unmap_default(pdev, bar, addr);
	return r;
}

/*
 * Before the device's memory goes away under the guest (memory decode off, a low-power
 * state): vfio-pci then revokes its mmaps, and a guest access through a mapping left in place
 * would fault in the hypervisor (KVM_RUN fails with EFAULT) instead of reading all-ones.
 */
void vfio_bars_unmap_direct(struct vfio_pci *vp)
{
	for (unsigned b = 0; b < 6; b++)
		vfio_bar_unmap_direct(vp, b);
}

/* The device's memory is back (D0 again): map what decodes straight through once more. */
void vfio_bars_map_direct(struct vfio_pci *vp)
{
	for (unsigned b = 0; b < 6; b++) {
		struct pci_bar *pb = &vp->pdev->bars[b];

		if (!pb->mapped || pb->kind == PCI_BAR_IO || pb->kind == PCI_BAR_UPPER)
			continue;
		if (vfio_bar_map_direct(vp, b, pb->addr, pb->size))
			log_warn("%s: BAR%u stays trapped after the device's return to D0",
			         vp->dev.name, b);
	}
}

void vfio_bar_trapped(struct pci_dev *pdev, unsigned bar, uint64_t off, bool is_write)
{
	struct vfio_pci *vp = pdev->priv;
	uint64_t page = off / PAGE;

	(void)is_write;
	pthread_mutex_lock(&vp->stats_lock);
	if (bar < 6 && page < VFIO_STAT_PAGES)
		vp->stats.bar_trapped[bar][page]++;
	else
		vp->stats.bar_trapped_other++;
	pthread_mutex_unlock(&vp->stats_lock);
}

/* A proxied access took t0..now: counted, for what trapping costs per access. */
static void vfio_proxy_count(struct vfio_pci *vp, uint64_t t0)
{
	uint64_t dt = clock_ns() - t0;

	pthread_mutex_lock(&vp->stats_lock);
	vp->stats.bar_proxied++;
	vp->stats.bar_proxy_ns += dt;
	pthread_mutex_unlock(&vp->stats_lock);
}

/* Outside D0 a function answers only config cycles: reads all-ones, writes dropped. */
static bool vfio_bar_asleep(struct vfio_pci *vp)
{
	return __atomic_load_n(&vp->pm_state, __ATOMIC_RELAXED) != 0;
}

void vfio_bar_read(struct pci_dev *pdev, unsigned bar, uint64_t off, void *data, uint32_t len)
{
	struct vfio_pci *vp = pdev->priv;
	uint64_t t0 = clock_ns();

	if (vfio_bar_asleep(vp))
		memset(data, 0xff, len);
	else if (bar == PCI_ROM_BAR)
		vfio_rom_read(vp, off, data, len);
	else if (vfio_region_read(&vp->dev, bar, off, data, len))
		memset(data, 0xff, len);
	vfio_proxy_count(vp, t0);
}

void vfio_bar_write(struct pci_dev *pdev, unsigned bar, uint64_t off, const void *data,
                    uint32_t len)
{
	struct vfio_pci *vp = pdev->priv;
	uint64_t t0 = clock_ns();

	if (bar == PCI_ROM_BAR || vfio_bar_asleep(vp))
		return;
	if (vfio_region_write(&vp->dev, bar, off, data, len))
		pci_guest_warn(pdev->root, "%s: BAR%u write at %#llx failed", vp->dev.name, bar,
		               (unsigned long long)off);
	vfio_proxy_count(vp, t0);
}
