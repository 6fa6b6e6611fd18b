/* SPDX-License-Identifier: MIT */
/*
 * The fake VFIO kernel's config region: vfio-pci's virtualization (vfio_pci_config.c) as far
 * as hvmm meets it.  Per byte, which bits read from and write to a virtual copy, which may be
 * written at all; capabilities vfio-pci hides are cut out of the lists; accesses are chopped
 * into aligned chunks that never span two capabilities (vfio_config_do_rw()); vendor-specific
 * capabilities and bytes outside any capability are written raw; the PM, PCI Express and AF
 * capabilities act on writes (power state, Function Level Reset).  See fake_vfio.h.
 */
#include <linux/pci_regs.h>
#include <string.h>

#include "tests/unit/unit.h"

#define MAP_NONE  0xff /* PCI_CAP_ID_INVALID */
#define MAP_BASIC 0x00 /* PCI_CAP_ID_BASIC: the standard header */

static uint16_t fake_msi_flags(const struct fake_vfio_dev *d, uint32_t pos)
{
	return (uint16_t)(d->config[pos + PCI_MSI_FLAGS] | d->config[pos + PCI_MSI_FLAGS + 1] << 8);
}

/* pci_cap_length[] (vfio_pci_config.c): 0 hides the capability, 0xff is variable. */
static uint32_t fake_cap_len(const struct fake_vfio_dev *d, uint8_t id, uint32_t pos)
{
	const uint8_t *c = d->config;

	switch (id) {
	case PCI_CAP_ID_PM:
		return PCI_PM_SIZEOF;
	case PCI_CAP_ID_VPD:
		return PCI_CAP_VPD_SIZEOF;
	case PCI_CAP_ID_MSI:
		return 10 + (fake_msi_flags(d, pos) & PCI_MSI_FLAGS_64BIT ? 4 : 0) +
		       (fake_msi_flags(d, pos) & PCI_MSI_FLAGS_MASKBIT ? 10 : 0);
	case PCI_CAP_ID_VNDR:
		return c[pos + PCI_CAP_FLAGS];
	case PCI_CAP_ID_EXP:
		return (c[pos + PCI_EXP_FLAGS] & PCI_EXP_FLAGS_VERS) == 1
		           ? PCI_CAP_EXP_ENDPOINT_SIZEOF_V1
		           : PCI_CAP_EXP_ENDPOINT_SIZEOF_V2;
	case PCI_CAP_ID_MSIX:
		return PCI_CAP_MSIX_SIZEOF;
	case PCI_CAP_ID_AF:
		return PCI_CAP_AF_SIZEOF;
	default:
		return 0; /* hidden, like slot ID, debug port, hot-swap, secure device */
	}
}

/* pci_ext_cap_length[]: the extended capabilities the fake models; the rest are hidden. */
static uint32_t fake_ecap_len(const struct fake_vfio_dev *d, uint16_t id, uint32_t pos)
{
	uint32_t h;

	switch (id) {
	case PCI_EXT_CAP_ID_ERR:
		return PCI_ERR_ROOT_COMMAND;
	case PCI_EXT_CAP_ID_DSN:
		return PCI_EXT_CAP_DSN_SIZEOF;
	case PCI_EXT_CAP_ID_ARI:
		return PCI_EXT_CAP_ARI_SIZEOF;
	case PCI_EXT_CAP_ID_ATS:
		return PCI_EXT_CAP_ATS_SIZEOF;
	case PCI_EXT_CAP_ID_SRIOV:
		return PCI_EXT_CAP_SRIOV_SIZEOF;
	case PCI_EXT_CAP_ID_LTR:
		return PCI_EXT_CAP_LTR_SIZEOF;
	case PCI_EXT_CAP_ID_REBAR:
		return 4 + 8 * ((d->config[pos + PCI_REBAR_CTRL] & PCI_REBAR_CTRL_NBAR_MASK) >>
		                PCI_REBAR_CTRL_NBAR_SHIFT);
	case PCI_EXT_CAP_ID_VNDR:
		memcpy(&h, d->config + pos + PCI_VSEC_HDR, 4);
		return h >> PCI_VSEC_HDR_LEN_SHIFT;
	default:
		return 0;
	}
}

/* Permission bits of [off, off + len); past 4 bytes the dword pattern repeats (p_setd()s). */
static void perm(struct fake_vfio_dev *d, uint32_t off, uint32_t len, uint32_t virt, uint32_t wr)
{
	for (uint32_t i = 0; i < len && off + i < sizeof(d->virt); i++) {
		d->virt[off + i] = (uint8_t)(virt >> (8 * (i % 4)));
		d->wr[off + i] = (uint8_t)(wr >> (8 * (i % 4)));
	}
}

/* init_pci_cap_basic_perm(). */
static void fake_basic_perms(struct fake_vfio_dev *d)
{
	perm(d, PCI_VENDOR_ID, 4, ~0u, 0);
	perm(d, PCI_COMMAND, 2, PCI_COMMAND_INTX_DISABLE, 0xffff);
	perm(d, PCI_STATUS, 2, PCI_STATUS_CAP_LIST, 0);
	perm(d, PCI_CACHE_LINE_SIZE, 2, 0, 0xffff);
	perm(d, PCI_BIST, 1, 0, 0xff);
	for (uint32_t b = PCI_BASE_ADDRESS_0; b <= PCI_BASE_ADDRESS_5; b += 4)
		perm(d, b, 4, ~0u, ~0u);
	perm(d, PCI_ROM_ADDRESS, 4, ~0u, ~0u);
	perm(d, PCI_CAPABILITY_LIST, 1, 0xff, 0);
	perm(d, PCI_INTERRUPT_LINE, 1, 0xff, 0xff);
	perm(d, PCI_INTERRUPT_PIN, 1, 0xff, 0);
}

/* init_pci_cap_{pm,msi,exp,af}_perm(); the rest read straight through and drop writes. */
static void fake_cap_perms(struct fake_vfio_dev *d, uint8_t id, uint32_t pos, uint32_t len)
{
	uint16_t flags = fake_msi_flags(d, pos);

	perm(d, pos, 2, 0xffff, 0); /* ID and next: the list is vfio-pci's to edit */
	switch (id) {
	case PCI_CAP_ID_PM:
		perm(d, pos + PCI_PM_CTRL, 4, 0, ~(uint32_t)PCI_PM_CTRL_STATE_MASK);
		break;
	case PCI_CAP_ID_MSI:
		perm(d, pos + PCI_MSI_FLAGS, 1, 0xff, 0xff);
		perm(d, pos + PCI_MSI_ADDRESS_LO, len - PCI_MSI_ADDRESS_LO, ~0u, ~0u);
		if (flags & PCI_MSI_FLAGS_MASKBIT)
			perm(d,
			     pos +
			         (flags & PCI_MSI_FLAGS_64BIT ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32),
			     8, 0, ~0u);
		break;
	case PCI_CAP_ID_EXP:
		perm(d, pos + PCI_EXP_DEVCTL, 2, PCI_EXP_DEVCTL_BCR_FLR,
		     (uint16_t)~PCI_EXP_DEVCTL_PHANTOM);
		if (len > PCI_EXP_DEVCTL2)
			perm(d, pos + PCI_EXP_DEVCTL2, 2, 0, (uint16_t)~PCI_EXP_DEVCTL2_ARI);
		break;
	case PCI_CAP_ID_AF:
		perm(d, pos + PCI_AF_CTRL, 1, PCI_AF_CTRL_FLR, PCI_AF_CTRL_FLR);
		break;
	default:
		break;
	}
}

/* vfio_cap_init(): the standard list, hidden capabilities unlinked in the virtual copy. */
static void fake_caps_init(struct fake_vfio_dev *d)
{
	uint8_t *prev = &d->vconfig[PCI_CAPABILITY_LIST];
	uint32_t pos = d->config[PCI_CAPABILITY_LIST];
	unsigned caps = 0;

	if (!(d->config[PCI_STATUS] & PCI_STATUS_CAP_LIST))
		return;
	for (unsigned loops = 0; pos >= PCI_STD_HEADER_SIZEOF && loops < 48; loops++) {
		uint8_t id = d->config[pos], next = d->config[pos + PCI_CAP_LIST_NEXT];
		uint32_t len = fake_cap_len(d, id, pos);

		if (!len) {
			*prev = next;
			pos = next;
			continue;
		}
		memset(d->map + pos, id, len);
		memcpy(d->vconfig + pos, d->config + pos, len);
		fake_cap_perms(d, id, pos, len);
		prev = &d->vconfig[pos + PCI_CAP_LIST_NEXT];
		pos = next;
		caps++;
	}
	if (!caps)
		d->vconfig[PCI_STATUS] &= (uint8_t)~PCI_STATUS_CAP_LIST;
}

/* vfio_ecap_init(): hidden ones skipped; a hidden first one leaves a null header. */
static void fake_ecaps_init(struct fake_vfio_dev *d)
{
	uint32_t epos = PCI_CFG_SPACE_SIZE, *prev = NULL, h;

	memcpy(&h, d->config + epos, 4);
	if (d->config_size <= PCI_CFG_SPACE_SIZE || !h || !fake_vfio_cap(d, PCI_CAP_ID_EXP, false))
		return;
	for (unsigned loops = 0; loops < 64 && epos >= PCI_CFG_SPACE_SIZE; loops++) {
		uint32_t len, v;
		bool hidden = false;

		memcpy(&h, d->config + epos, 4);
		len = fake_ecap_len(d, (uint16_t)PCI_EXT_CAP_ID(h), epos);
		if (!len && prev) {
			*prev = (*prev & 0x000fffffu) | (uint32_t)PCI_EXT_CAP_NEXT(h) << 20;
			epos = PCI_EXT_CAP_NEXT(h);
			continue;
		}
		if (!len) {
			len = 4;
			hidden = true;
		}
		if (len > sizeof(d->map) - epos)
			len = (uint32_t)(sizeof(d->map) - epos);
		memset(d->map + epos, (uint8_t)PCI_EXT_CAP_ID(h), len);
		memset(d->ext + epos, 1, len);
		memcpy(d->vconfig + epos, d->config + epos, len);
		perm(d, epos, 4, ~0u, 0);
		if (hidden) {
			v = h & 0xfff00000u;
			memcpy(d->vconfig + epos, &v, 4);
		}
		prev = (uint32_t *)(void *)(d->vconfig + epos);
		if (PCI_EXT_CAP_NEXT(h) <= epos)
			break;
		epos = PCI_EXT_CAP_NEXT(h);
	}
}

void fake_vfio_cfg_init(struct fake_vfio_dev *d)
{
	memset(d->map, MAP_NONE, sizeof(d->map));
	memset(d->ext, 0, sizeof(d->ext));
	memset(d->virt, 0, sizeof(d->virt));
	memset(d->wr, 0, sizeof(d->wr));
	memset(d->map, MAP_BASIC, PCI_STD_HEADER_SIZEOF);
	memcpy(d->vconfig, d->config, PCI_STD_HEADER_SIZEOF);
	/* vfio_config_init(): no pin without an IRQ the host routed. */
	if (d->intx_no_irq)
		d->vconfig[PCI_INTERRUPT_PIN] = 0;
	fake_basic_perms(d);
	for (unsigned i = 0; i < 6; i++) {
		uint32_t raw;

		memcpy(&raw, d->config + PCI_BASE_ADDRESS_0 + 4 * i, 4);
		d->bar_flags_v[i] = raw & (raw & PCI_BASE_ADDRESS_SPACE_IO ? 3u : 0xfu);
	}
	fake_caps_init(d);
	fake_ecaps_init(d);
}

/* vfio_bar_fixup(): the virtual BARs answer sizing like hardware, from the host's sizes. */
static void fake_bar_fixup(struct fake_vfio_dev *d)
{
	for (unsigned i = 0; i < 6; i++) {
		uint32_t *bar = (uint32_t *)(void *)(d->vconfig + PCI_BASE_ADDRESS_0 + 4 * i);
		uint64_t mask = ~(d->bar_size[i] - 1);

		if (!d->bar_size[i]) {
			*bar = 0;
			continue;
		}
		*bar = (*bar & (uint32_t)mask) | (uint32_t)d->bar_flags_v[i];
		if (d->bar_flags_v[i] & PCI_BASE_ADDRESS_MEM_TYPE_64 && i < 5) {
			bar[1] &= (uint32_t)(mask >> 32);
			i++;
		}
	}
	{
		uint32_t *rom = (uint32_t *)(void *)(d->vconfig + PCI_ROM_ADDRESS);

		*rom = d->rom_size ? *rom & ((uint32_t) ~(d->rom_size - 1) | PCI_ROM_ADDRESS_ENABLE)
		                   : 0;
	}
}

/* vfio_pci_cap_remaining_dword() + the chunking of vfio_config_do_rw(). */
static uint32_t fake_chunk(const struct fake_vfio_dev *d, uint32_t pos, uint32_t len)
{
	uint32_t n = 1;

	while ((pos + n) % 4 && d->map[pos + n] == d->map[pos] && d->ext[pos + n] == d->ext[pos])
		n++;
	n = n < len ? n : len;
	if (n >= 4 && !(pos % 4))
		return 4;
	if (n >= 2 && !(pos % 2))
		return 2;
	return 1;
}

/* Where a capability of the map starts (vfio_find_cap_start()). */
static uint32_t fake_cap_start(const struct fake_vfio_dev *d, uint32_t pos)
{
	uint32_t base = pos >= PCI_CFG_SPACE_SIZE ? PCI_CFG_SPACE_SIZE : PCI_STD_HEADER_SIZEOF;

	while (pos > base && d->map[pos - 1] == d->map[pos] && d->ext[pos - 1] == d->ext[pos])
		pos--;
	return pos;
}

void fake_vfio_function_reset(struct fake_vfio_dev *d)
{
	uint32_t pm = fake_vfio_cap(d, PCI_CAP_ID_PM, false);

	/* vfio_pci_zap_and_down_write_memory_lock() comes first (vfio_pci_core.c). */
	fake_vfio_zap(d);
	/*
	 * pci_try_reset_function(): pci_dev_save_and_disable() brings the function to D0 and
	 * saves its config space (COMMAND included) before the reset; pci_dev_restore() writes
	 * it back after.  So the function leaves a reset in D0 with the COMMAND it had.
	 */
	if (pm)
		d->config[pm + PCI_PM_CTRL] &= (uint8_t)~PCI_PM_CTRL_STATE_MASK;
}

/* What a written chunk of capability `id` does besides the bytes (the writefn hooks). */
static void fake_cfg_written(struct fake_vfio_dev *d, uint32_t pos, uint32_t n, const uint8_t *val)
{
	uint8_t id = d->map[pos];
	uint32_t start = fake_cap_start(d, pos), off = pos - start;

	if (d->ext[pos] || id == MAP_NONE)
		return;
	if (id == PCI_CAP_ID_PM && off == PCI_PM_CTRL) {
		/*
		 * vfio_pm_config_write(): the power state follows the write;
		 * vfio_lock_and_set_power_state() revokes the mmaps on the way to D3hot.
		 */
		if ((val[0] & PCI_PM_CTRL_STATE_MASK) == 3 && fake_vfio_power(d) < 3)
			fake_vfio_zap(d);
		d->config[pos] = (uint8_t)((d->config[pos] & ~PCI_PM_CTRL_STATE_MASK) |
		                           (val[0] & PCI_PM_CTRL_STATE_MASK));
	} else if (id == PCI_CAP_ID_EXP && off <= PCI_EXP_DEVCTL + 1 && off + n > PCI_EXP_DEVCTL) {
		/* vfio_exp_config_write(): a virtual FLR bit becomes a reset if DEVCAP has FLR. */
		uint8_t *hi = &d->vconfig[start + PCI_EXP_DEVCTL + 1];

		if (*hi & (PCI_EXP_DEVCTL_BCR_FLR >> 8)) {
			*hi &= (uint8_t) ~(PCI_EXP_DEVCTL_BCR_FLR >> 8);
			if (d->config[start + PCI_EXP_DEVCAP + 3] & (PCI_EXP_DEVCAP_FLR >> 24)) {
				fake_vfio_function_reset(d);
				d->resets++;
			}
		}
	} else if (id == PCI_CAP_ID_AF && off <= PCI_AF_CTRL && off + n > PCI_AF_CTRL) {
		/* vfio_af_config_write(): the same for the Advanced Features FLR. */
		uint8_t *ctl = &d->vconfig[start + PCI_AF_CTRL],
		        cap = d->config[start + PCI_AF_CAP];

		if (*ctl & PCI_AF_CTRL_FLR) {
			*ctl &= (uint8_t)~PCI_AF_CTRL_FLR;
			if ((cap & PCI_AF_CAP_FLR) && (cap & PCI_AF_CAP_TP)) {
				fake_vfio_function_reset(d);
				d->resets++;
			}
		}
	} else if (id == PCI_CAP_ID_VNDR) {
		if (d->vndr_writes < FAKE_VFIO_WIDTHS)
			d->vndr_width[d->vndr_writes] = (uint8_t)n;
		d->vndr_writes++;
	}
}

/* One chunk: raw (vendor-specific, outside any capability) or through the permission bits. */
static void fake_cfg_chunk(struct fake_vfio_dev *d, uint8_t *buf, uint32_t pos, uint32_t n,
                           bool write)
{
	uint8_t id = d->map[pos];
	/* vfio_raw_config_write(): unassigned bytes and vendor-specific capabilities. */
	bool raw = id == MAP_NONE || (id == PCI_CAP_ID_VNDR && !d->ext[pos]) ||
	           (id == PCI_EXT_CAP_ID_VNDR && d->ext[pos]);

	if (!write) {
		if (pos < PCI_STD_HEADER_SIZEOF)
			fake_bar_fixup(d);
		for (uint32_t i = 0; i < n; i++) {
			uint8_t v = d->virt[pos + i];

			buf[i] = (uint8_t)((d->config[pos + i] & ~v) | (d->vconfig[pos + i] & v));
		}
		return;
	}
	/* vfio_basic_config_write(): memory decode turned off revokes the mmaps first. */
	if (pos == PCI_COMMAND && (d->config[PCI_COMMAND] & PCI_COMMAND_MEMORY) &&
	    !(buf[0] & PCI_COMMAND_MEMORY))
		fake_vfio_zap(d);
	for (uint32_t i = 0; i < n; i++) {
		uint8_t w = raw ? 0xff : d->wr[pos + i], v = raw ? 0 : d->virt[pos + i];

		d->vconfig[pos + i] =
		    (uint8_t)((d->vconfig[pos + i] & ~(w & v)) | (buf[i] & w & v));
		d->config[pos + i] =
		    (uint8_t)((d->config[pos + i] & ~(w & ~v)) | (buf[i] & w & ~v));
	}
	/* vfio_basic_config_write(): the virtual INTx-disable bit masks and unmasks the line. */
	if (pos <= PCI_COMMAND + 1 && pos + n > PCI_COMMAND) {
		bool off = d->vconfig[PCI_COMMAND + 1] & (PCI_COMMAND_INTX_DISABLE >> 8);

		if (off && !d->virq_disabled) {
			d->virq_disabled = true;
			fake_vfio_intx_mask(d);
		} else if (!off && d->virq_disabled) {
			d->virq_disabled = false;
			fake_vfio_intx_unmask(d);
		}
	}
	fake_cfg_written(d, pos, n, buf);
}

int fake_vfio_cfg_rw(struct fake_vfio_dev *d, uint8_t *buf, size_t len, uint64_t off, bool write)
{
	for (size_t done = 0; done < len;) {
		uint32_t pos = (uint32_t)(off + done);
		uint32_t n = fake_chunk(d, pos, (uint32_t)(len - done));

		fake_cfg_chunk(d, buf + done, pos, n, write);
		done += n;
	}
	return (int)len;
}
