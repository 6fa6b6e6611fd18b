/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target vfio_config: the config shadow of an assigned device built from a hostile
 * device.  The fake VFIO kernel (tests/unit/fake_vfio.c) starts as an NVMe-like function; the
 * input replaces its config space (garbage capability lists, MSI/MSI-X with any table size,
 * BIR and offset, hidden extended capabilities), its BAR sizes, flags and sparse-mmap areas,
 * then vfio_pci_create() shadows it and the guest drives it through pci_cfg_read() and
 * pci_cfg_write(), BAR accesses, and the device changing its own config bytes meanwhile.
 *
 * Input:
 *   flags (u8): bit 0 the next 256 bytes are config space 0-255, bit 1 no reset support,
 *   bits 2-3 the config region's size (4096, 256, 2050, 128), bit 4 dynamic MSI-X
 *   six BAR size selectors (u8: 0 none, else 2^(s & 63), or s * 4099 when s & 0x40),
 *   BAR mmap bits (u8, a set bit: not mappable), host vector count (u8), sparse areas (u8
 * count, then u16 offset and u16 size per area, in pages) [256 bytes of config], patches (u8 count,
 * then u16 offset and u8 value each) then 10-byte operations: kind, sel, offset (u16), value (u32),
 * pad (u16); see op().
 *
 * Checked after every operation: bytes the core emulates without forwarding (BARs, ROM BAR,
 * MSI and MSI-X capabilities, capability links) never reach the device; every MSI/MSI-X
 * vector is live exactly when enabled and unmasked, what hvmm believes wired on the host is,
 * and a live vector the host has is wired (of a large MSI-X table, the first 16 vectors, and
 * all of them every 16th operation); and after teardown no device fd, irqfd, guest mapping or
 * file descriptor is left.
 */
#include <linux/vfio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/pci.h"
#include "devices/vfio/internal.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/unit.h"

#define RAM_SIZE MiB(16)
#define BAR_GPA  MEM_PCI_MMIO32
#define MAX_OPS  512

struct rig {
	struct fake_vfio fv;
	struct pc *pc;
	struct vm *vm;
	struct vfio_container cont;
	struct vfio_pci *vp;
	uint8_t device[4096]; /* the device's config as only the device itself changes it */
};

static struct rig rig; /* struct fake_vfio and the shadow are too big for the stack */

static void host_from_input(struct fuzz_in *in)
{
	/* PCI Express, conventional PCI, a size no device has, too small to be a function. */
	static const uint32_t sizes[] = { 4096, 256, 2050, 128 };
	struct fake_vfio_dev *d = &rig.fv.dev[0];
	uint8_t flags, mmap_bits, n;
	size_t got;

	fake_vfio_init(&rig.fv);
	flags = fuzz_u8(in);
	d->reset_works = !(flags & 2);
	d->dyn_msix = flags & 0x10;
	d->config_size = sizes[flags >> 2 & 3];
	for (unsigned i = 0; i < 6; i++) {
		uint8_t s = fuzz_u8(in);

		if (s)
			d->bar_size[i] = s & 0x40 ? s * 4099ull : 1ull << (s & 63);
	}
	mmap_bits = fuzz_u8(in);
	for (unsigned i = 0; i < 6; i++)
		d->mmap_ok[i] = !(mmap_bits & 1u << i);
	d->host_vectors = fuzz_u8(in) + 1u;
	d->nr_sparse = fuzz_u8(in) % 5;
	for (unsigned i = 0; i < d->nr_sparse; i++) {
		d->sparse_off[i] = (uint64_t)fuzz_u16(in) << 12;
		d->sparse_size[i] = (uint64_t)fuzz_u16(in) << 12;
	}
	if (flags & 1) {
		const uint8_t *raw = fuzz_bytes(in, 256, &got);

		memcpy(d->config, raw, got);
	}
	n = fuzz_u8(in);
	for (unsigned i = 0; i < n; i++) {
		uint16_t off = fuzz_u16(in) & 0xfff;

		d->config[off] = fuzz_u8(in);
	}
	memcpy(rig.device, d->config, sizeof(rig.device));
}

/* Firmware's part: bus numbers and a memory window on the port, BAR0 placed, decoding on. */
static void enable(void)
{
	struct pci_dev *port = pci_port_dev(rig.vp->pdev->port);

	FUZZ_MUST(pci_cfg_write(port, PCI_PRIMARY_BUS, 4, 0x00010100));
	FUZZ_MUST(pci_cfg_write(port, PCI_MEMORY_BASE, 4, (uint32_t)(BAR_GPA >> 16) | 0xdff00000u));
	FUZZ_MUST(pci_cfg_write(port, PCI_COMMAND, 2, PCI_COMMAND_MEMORY | PCI_COMMAND_IO));
	FUZZ_MUST(pci_cfg_write(rig.vp->pdev, PCI_BASE_ADDRESS_0, 4, (uint32_t)BAR_GPA));
	FUZZ_MUST(pci_cfg_write(rig.vp->pdev, PCI_BASE_ADDRESS_1, 4, 0));
	FUZZ_MUST(pci_cfg_write(rig.vp->pdev, PCI_COMMAND, 2,
	                        PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_IO));
}

/*
 * Every vector is live exactly when enabled and unmasked; what hvmm believes it wired on the
 * host is what the host has; and with the whole block enabled (no dynamic MSI-X) a live vector
 * the host has is wired to its eventfd.
 */
static void check_set(struct pci_vecs *s, const struct vfio_irqs *h, unsigned nr)
{
	struct pci_vec_state st;
	bool pending;

	for (unsigned i = 0; s && i < nr && pci_vecs_state(s, i, &st, &pending) == 0; i++) {
		FUZZ_CHECK(st.live == (st.enabled && !st.masked));
		if (!h->host_count || i >= h->nr)
			continue;
		FUZZ_CHECK(fake_vfio_trigger(&rig.fv.dev[0], h->index, i) == h->fds[i]);
		if (st.live && i < h->limit && !h->dynamic)
			FUZZ_CHECK(h->fds[i] == st.efd);
	}
}

static void check_vectors(unsigned nr_msix)
{
	check_set(rig.vp->msix, &rig.vp->msix_irqs, nr_msix);
	check_set(rig.vp->msi, &rig.vp->msi_irqs, 32);
}

/*
 * Bits of config byte o that the host's kernel writes itself: the enable (and MSI's vector
 * count) of the capability whose vectors it allocates, as pci_alloc_irq_vectors() does.
 */
static uint8_t host_owned(uint32_t o)
{
	uint32_t msix = fake_vfio_cap(&rig.fv.dev[0], PCI_CAP_ID_MSIX, false);
	uint32_t msi = fake_vfio_cap(&rig.fv.dev[0], PCI_CAP_ID_MSI, false);

	if (msix && o == msix + PCI_MSIX_FLAGS + 1u)
		return (PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL) >> 8;
	if (msi && o == msi + (uint32_t)PCI_MSI_FLAGS)
		return PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE;
	return 0;
}

/*
 * Config bytes [from, to) against what only the device may change, and the vectors.  After
 * a step, only what the step could touch is compared (the whole space at the end): a full
 * pass per step would cost more than the step.
 */
static void check(uint32_t from, uint32_t to, unsigned nr_msix)
{
	struct vfio_pci *vp = rig.vp;

	for (uint32_t o = from; o < to && o < sizeof(rig.device); o++) {
		if (vp->emulated[o] && !vp->forwarded[o])
			FUZZ_CHECK(!((rig.fv.dev[0].config[o] ^ rig.device[o]) & ~host_owned(o)));
		else
			rig.device[o] = rig.fv.dev[0].config[o];
	}
	check_vectors(nr_msix);
}

/* One guest or device step; then the first nr_check MSI-X vectors are checked. */
static void op(struct fuzz_in *in, unsigned nr_check)
{
	uint8_t kind = fuzz_u8(in), sel = fuzz_u8(in);
	uint16_t raw = fuzz_u16(in), off = raw & 0xfff;
	uint32_t val = fuzz_u32(in), len = 1u << ((sel & 3) % 3), rlen;
	uint64_t wide = (uint64_t)val << 32 | val;
	bool valid;

	fuzz_u16(in);
	switch (kind % 5) {
	case 0: /* reads of any length and place: only aligned 1, 2 or 4 bytes are done */
		rlen = sel & 4 ? (sel & 8 ? 3 : 8) : len;
		valid = (rlen == 1 || rlen == 2 || rlen == 4) && !(off & (rlen - 1));
		FUZZ_CHECK((pci_cfg_read(rig.vp->pdev, off, rlen, &val) == 0) == valid);
		break;
	case 1:
		FUZZ_CHECK(pci_cfg_write(rig.vp->pdev, off & ~(len - 1), len, val) == 0);
		check(off & ~(len - 1), (off & ~(len - 1)) + len, nr_check);
		return;
	case 2: /* the device changes its own config space */
		rig.fv.dev[0].config[off] = (uint8_t)val;
		rig.device[off] = (uint8_t)val;
		break;
	case 3:
		enable();
		check(0, PCI_STD_HEADER_SIZEOF, nr_check);
		return;
	case 4: /* a guest access to the BARs, trapped pages included */
		bus_access(&rig.vm->mmio, BAR_GPA + ((uint64_t)(sel >> 4) << 16 | raw), &wide,
		           1 + (sel & 7), sel & 8);
		break;
	}
	check(0, 0, nr_check);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct vfio_bdf bdf = { 0, 1, 0, 0 };
	struct fuzz_in in = { data, size };
	int fd = fuzz_lowest_free_fd();
	struct pci_msix_layout layout;
	unsigned nr_msix = 0;
	int r;

	log_set_level(LOG_ERR);
	fake_hv_reset();
	host_from_input(&in);
	memset(&rig.cont, 0, sizeof(rig.cont));
	FUZZ_MUST(fake_pc_create(1, RAM_SIZE, &rig.pc));
	rig.vm = rig.pc->vm;
	FUZZ_MUST(vfio_container_open(&fake_vfio_sys, &rig.cont));
	rig.vp = calloc(1, sizeof(*rig.vp));
	if (!rig.vp)
		fuzz_fail(__FILE__, __LINE__, "out of memory");
	FUZZ_MUST(vfio_device_open(&rig.cont, &bdf, &rig.vp->dev));
	/* As vfio_assign_one(): once the function exists, the PCI core owns and frees it. */
	r = vfio_pci_create(rig.vm, rig.pc->pci, rig.vp);
	if (r && !rig.vp->pdev)
		vfio_pci_destroy(rig.vp);
	if (!r) {
		FUZZ_MUST(vfio_bars_mmap(rig.vp));
		FUZZ_MUST(pci_attach(rig.pc->pci, NULL, rig.vp->pdev));
		if (pci_msix_layout(rig.vp->pdev, &layout))
			nr_msix = layout.nr;
		check(0, 4096, nr_msix);
		for (unsigned i = 0; i < MAX_OPS && in.n; i++)
			op(&in, i % 16 ? (nr_msix < 16 ? nr_msix : 16) : nr_msix);
		check(0, 4096, nr_msix);
		vfio_intr_disable(rig.vp);
	}
	vm_destroy(rig.vm);
	vfio_container_close(&rig.cont);
	FUZZ_CHECK(rig.fv.open_fds == 0);
	FUZZ_CHECK(fake_hv_record()->irqfds == 0 && fake_hv_record()->mem_maps == 0);
	FUZZ_CHECK(fuzz_lowest_free_fd() == fd);
	return 0;
}
