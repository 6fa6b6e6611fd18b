/* SPDX-License-Identifier: MIT */
/* MSI-X: the capability's enable and function mask, the vector table and the PBA in a BAR. */
#include <stdlib.h>
#include <string.h>

#include "devices/pci/internal.h"

#define MSIX_MAX_VECTORS 2048

struct pci_msix {
	struct pci_vecs vecs; /* first: dev->msix points here */
	struct pci_dev *dev;
	uint16_t cap;
	unsigned table_bar, pba_bar;
	uint64_t table_off, table_size;
	uint64_t pba_off, pba_size;
};

static struct pci_msix *pci_msix_of(struct pci_vecs *s)
{
	return (struct pci_msix *)s;
}

static bool pci_msix_region_ok(struct pci_dev *dev, unsigned bar, uint64_t off, uint64_t size)
{
	const struct pci_bar *b = &dev->bars[bar < PCI_STD_NUM_BARS ? bar : 0];

	return bar < PCI_STD_NUM_BARS && (b->kind == PCI_BAR_MEM32 || b->kind == PCI_BAR_MEM64) &&
	       !(off & 7) && off < b->size && size <= b->size - off;
}

int pci_msix_init(struct pci_dev *dev, uint16_t cap, unsigned nr, unsigned table_bar,
                  uint32_t table_off, unsigned pba_bar, uint32_t pba_off, struct pci_vecs **out)
{
	struct pci_msix *m;
	int r;

	if (dev->msix || nr < 1 || nr > MSIX_MAX_VECTORS ||
	    !pci_msix_region_ok(dev, table_bar, table_off, nr * PCI_MSIX_ENTRY_SIZE) ||
	    !pci_msix_region_ok(dev, pba_bar, pba_off, (nr + 63) / 64 * 8) ||
	    (table_bar == pba_bar && table_off < pba_off + (nr + 63) / 64 * 8 &&
	     pba_off < table_off + nr * PCI_MSIX_ENTRY_SIZE) ||
	    (cap &&
	     (cap < PCI_STD_HEADER_SIZEOF || cap > PCI_CFG_SPACE_SIZE - PCI_CAP_MSIX_SIZEOF))) {
		log_err(
		    "pci: %s: invalid MSI-X layout (%u vectors, table BAR %u+%#x, PBA BAR %u+%#x)",
		    dev->name, nr, table_bar, table_off, pba_bar, pba_off);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		log_err("pci: %s: out of memory for MSI-X", dev->name);
		return -ENOMEM;
	}
	m->dev = dev;
	m->table_bar = table_bar;
	m->table_off = table_off;
	m->table_size = (uint64_t)nr * PCI_MSIX_ENTRY_SIZE;
	m->pba_bar = pba_bar;
	m->pba_off = pba_off;
	m->pba_size = (nr + 63) / 64 * 8;
	if ((r = pci_vecs_init(&m->vecs, dev, nr, "MSI-X"))) {
		free(m);
		return r;
	}
	for (unsigned i = 0; i < nr; i++)
		m->vecs.v[i].vmask = true;
	if ((!cap && (r = pci_cap_add(dev, PCI_CAP_ID_MSIX, PCI_CAP_MSIX_SIZEOF, &cap))) ||
	    (r = pci_cfg_init(dev, cap, 1, PCI_CAP_ID_MSIX, 0, 0)) ||
	    (r = pci_cfg_init(dev, cap + PCI_MSIX_FLAGS, 2, nr - 1,
	                      PCI_MSIX_FLAGS_ENABLE | PCI_MSIX_FLAGS_MASKALL, 0)) ||
	    (r = pci_cfg_init(dev, cap + PCI_MSIX_TABLE, 4, table_off | table_bar, 0, 0)) ||
	    (r = pci_cfg_init(dev, cap + PCI_MSIX_PBA, 4, pba_off | pba_bar, 0, 0))) {
		pci_vecs_destroy(&m->vecs);
		free(m);
		return r;
	}
	m->cap = cap;
	dev->msix = &m->vecs;
	if (out)
		*out = &m->vecs;
	return 0;
}

bool pci_msix_layout(const struct pci_dev *dev, struct pci_msix_layout *out)
{
	const struct pci_msix *m;

	if (!dev->msix)
		return false;
	m = pci_msix_of(dev->msix);
	*out = (struct pci_msix_layout){
		.nr = m->vecs.nr,
		.table_bar = m->table_bar,
		.pba_bar = m->pba_bar,
		.table_off = m->table_off,
		.table_size = m->table_size,
		.pba_off = m->pba_off,
		.pba_size = m->pba_size,
	};
	return true;
}

void pci_msix_cfg_written(struct pci_vecs *s, uint32_t off, uint32_t len)
{
	struct pci_msix *m = pci_msix_of(s);
	uint16_t ctl;

	if (off >= m->cap + PCI_MSIX_FLAGS + 2u || off + len <= m->cap + PCI_MSIX_FLAGS + 0u)
		return;
	ctl = (uint16_t)pci_cfg_get(m->dev, m->cap + PCI_MSIX_FLAGS, 2);
	pthread_mutex_lock(&m->vecs.lock);
	m->vecs.enabled = ctl & PCI_MSIX_FLAGS_ENABLE;
	m->vecs.fmask = ctl & PCI_MSIX_FLAGS_MASKALL;
	pci_vecs_sync_all(&m->vecs);
	pthread_mutex_unlock(&m->vecs.lock);
}

static void pci_msix_entry_get(const struct pci_vec *v, uint8_t e[PCI_MSIX_ENTRY_SIZE])
{
	uint32_t w[4] = { (uint32_t)v->address, (uint32_t)(v->address >> 32), v->data,
		          v->vmask ? PCI_MSIX_ENTRY_CTRL_MASKBIT : 0 };

	memcpy(e, w, sizeof(w));
}

static void pci_msix_entry_set(struct pci_vec *v, const uint8_t e[PCI_MSIX_ENTRY_SIZE])
{
	uint32_t w[4];

	memcpy(w, e, sizeof(w));
	/* The address is dword aligned: its two low bits are reserved and read as zero. */
	v->address = (w[0] & ~3u) | (uint64_t)w[1] << 32;
	v->data = w[2];
	v->vmask = w[3] & PCI_MSIX_ENTRY_CTRL_MASKBIT;
}

/* Any size and alignment; bytes past the table read as zero and are not written. */
static void pci_msix_table_access(struct pci_msix *m, uint64_t off, uint8_t *d, uint32_t len,
                                  bool is_write)
{
	struct pci_vecs *s = &m->vecs;

	pthread_mutex_lock(&s->lock);
	for (uint32_t done = 0; done < len;) {
		uint64_t o = off + done;
		unsigned i = (unsigned)(o / PCI_MSIX_ENTRY_SIZE), at = o % PCI_MSIX_ENTRY_SIZE;
		uint32_t n =
		    PCI_MSIX_ENTRY_SIZE - at < len - done ? PCI_MSIX_ENTRY_SIZE - at : len - done;
		uint8_t e[PCI_MSIX_ENTRY_SIZE];

		if (o >= m->table_size) {
			if (!is_write)
				memset(d + done, 0, len - done);
			break;
		}
		pci_msix_entry_get(&s->v[i], e);
		if (is_write) {
			memcpy(e + at, d + done, n);
			pci_msix_entry_set(&s->v[i], e);
			pci_vecs_sync(s, i);
		} else {
			memcpy(d + done, e + at, n);
		}
		done += n;
	}
	pthread_mutex_unlock(&s->lock);
}

/* The PBA is read-only: writes are dropped. */
static void pci_msix_pba_read(struct pci_msix *m, uint64_t off, uint8_t *d, uint32_t len)
{
	struct pci_vecs *s = &m->vecs;

	memset(d, 0, len);
	pthread_mutex_lock(&s->lock);
	for (uint32_t k = 0; k < len && off + k < m->pba_size; k++) {
		for (unsigned b = 0; b < 8; b++) {
			unsigned i = (unsigned)((off + k) * 8 + b);

			if (i >= s->nr)
				break;
			pci_vecs_collect(s, i);
			if (s->v[i].pending)
				d[k] |= (uint8_t)(1u << b);
		}
	}
	pthread_mutex_unlock(&s->lock);
}

bool pci_msix_bar_access(struct pci_vecs *s, unsigned bar, uint64_t off, void *data, uint32_t len,
                         bool is_write)
{
	struct pci_msix *m = pci_msix_of(s);

	if (bar == m->table_bar && off >= m->table_off && off - m->table_off < m->table_size) {
		pci_msix_table_access(m, off - m->table_off, data, len, is_write);
		return true;
	}
	if (bar == m->pba_bar && off >= m->pba_off && off - m->pba_off < m->pba_size) {
		if (!is_write)
			pci_msix_pba_read(m, off - m->pba_off, data, len);
		return true;
	}
	return false;
}

void pci_msix_destroy(struct pci_vecs *s)
{
	if (!s)
		return;
	pci_vecs_destroy(s);
	free(pci_msix_of(s));
}
