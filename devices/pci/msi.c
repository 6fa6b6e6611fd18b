/* SPDX-License-Identifier: MIT */
/* MSI: multiple messages, 64-bit addresses, per-vector mask and pending bits. */
#include <stdlib.h>

#include "devices/pci/internal.h"

struct pci_msi {
	struct pci_vecs vecs; /* first: dev->msi points here */
	struct pci_dev *dev;
	uint16_t cap;
	unsigned flags;
	unsigned log2_nr; /* Multiple Message Capable */
	uint16_t data_off, mask_off, pend_off, size;
};

static struct pci_msi *pci_msi_of(struct pci_vecs *s)
{
	return (struct pci_msi *)s;
}

int pci_msi_init(struct pci_dev *dev, uint16_t cap, unsigned nr, unsigned flags,
                 struct pci_vecs **out)
{
	bool wide = flags & PCI_MSI_64BIT, maskable = flags & PCI_MSI_MASKABLE;
	uint16_t data_off = wide ? PCI_MSI_DATA_64 : PCI_MSI_DATA_32;
	uint16_t size = maskable ? data_off + 12 : data_off + 2;
	uint32_t ctl, mask_bits = nr >= 32 ? 0xffffffffu : (1u << nr) - 1;
	struct pci_msi *m;
	unsigned log2_nr = 0;
	int r;

	while ((1u << log2_nr) < nr)
		log2_nr++;
	if (dev->msi || nr < 1 || nr > 32 || (nr & (nr - 1)) ||
	    (flags & ~(PCI_MSI_64BIT | PCI_MSI_MASKABLE)) ||
	    (cap && (cap < PCI_STD_HEADER_SIZEOF || cap + size > PCI_CFG_SPACE_SIZE))) {
		log_err("pci: %s: invalid MSI set-up (%u vectors, flags %#x)", dev->name, nr,
		        flags);
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		log_err("pci: %s: out of memory for MSI", dev->name);
		return -ENOMEM;
	}
	m->dev = dev;
	m->flags = flags;
	m->log2_nr = log2_nr;
	m->data_off = data_off;
	m->mask_off = wide ? PCI_MSI_MASK_64 : PCI_MSI_MASK_32;
	m->pend_off = wide ? PCI_MSI_PENDING_64 : PCI_MSI_PENDING_32;
	m->size = size;
	if ((r = pci_vecs_init(&m->vecs, dev, nr, "MSI"))) {
		free(m);
		return r;
	}
	m->vecs.nr_enabled = 1;
	ctl = log2_nr << 1 | (wide ? PCI_MSI_FLAGS_64BIT : 0) |
	      (maskable ? PCI_MSI_FLAGS_MASKBIT : 0);
	if ((!cap && (r = pci_cap_add(dev, PCI_CAP_ID_MSI, size, &cap))) ||
	    (r = pci_cfg_init(dev, cap, 1, PCI_CAP_ID_MSI, 0, 0)) ||
	    (r = pci_cfg_init(dev, cap + PCI_MSI_FLAGS, 2, ctl,
	                      PCI_MSI_FLAGS_ENABLE | PCI_MSI_FLAGS_QSIZE, 0)) ||
	    (r = pci_cfg_init(dev, cap + PCI_MSI_ADDRESS_LO, 4, 0, 0xfffffffcu, 0)) ||
	    (wide && (r = pci_cfg_init(dev, cap + PCI_MSI_ADDRESS_HI, 4, 0, 0xffffffffu, 0))) ||
	    (r = pci_cfg_init(dev, cap + data_off, 2, 0, 0xffff, 0)) ||
	    (maskable && (r = pci_cfg_init(dev, cap + m->mask_off, 4, 0, mask_bits, 0))) ||
	    (maskable && (r = pci_cfg_init(dev, cap + m->pend_off, 4, 0, 0, 0)))) {
		pci_vecs_destroy(&m->vecs);
		free(m);
		return r;
	}
	m->cap = cap;
	dev->msi = &m->vecs;
	if (out)
		*out = &m->vecs;
	return 0;
}

void pci_msi_cfg_written(struct pci_vecs *s, uint32_t off, uint32_t len)
{
	struct pci_msi *m = pci_msi_of(s);
	struct pci_dev *dev = m->dev;
	uint16_t ctl;
	uint64_t address;
	uint32_t data, mask = 0;
	unsigned mme, n;

	if (off >= m->cap + (uint32_t)m->size || off + len <= m->cap)
		return;
	ctl = (uint16_t)pci_cfg_get(dev, m->cap + PCI_MSI_FLAGS, 2);
	/* Enabling more messages than the function asked for is undefined: clamp. */
	mme = (ctl & PCI_MSI_FLAGS_QSIZE) >> 4;
	if (mme > m->log2_nr)
		mme = m->log2_nr;
	n = 1u << mme;
	address = pci_cfg_get(dev, m->cap + PCI_MSI_ADDRESS_LO, 4);
	if (m->flags & PCI_MSI_64BIT)
		address |= (uint64_t)pci_cfg_get(dev, m->cap + PCI_MSI_ADDRESS_HI, 4) << 32;
	data = pci_cfg_get(dev, m->cap + m->data_off, 2);
	if (m->flags & PCI_MSI_MASKABLE)
		mask = pci_cfg_get(dev, m->cap + m->mask_off, 4);
	pthread_mutex_lock(&s->lock);
	s->enabled = ctl & PCI_MSI_FLAGS_ENABLE;
	s->nr_enabled = n;
	for (unsigned i = 0; i < s->nr; i++) {
		struct pci_vec *v = &s->v[i];

		v->address = address;
		v->data = (data & ~(n - 1)) | (i & (n - 1));
		v->vmask = mask >> i & 1;
	}
	pci_vecs_sync_all(s);
	pthread_mutex_unlock(&s->lock);
}

void pci_msi_cfg_read(struct pci_vecs *s, uint32_t off, uint32_t len, uint32_t *val)
{
	struct pci_msi *m = pci_msi_of(s);
	uint32_t reg = m->cap + m->pend_off, pending = 0;

	if (!(m->flags & PCI_MSI_MASKABLE) || off >= reg + 4 || off + len <= reg)
		return;
	pthread_mutex_lock(&s->lock);
	for (unsigned i = 0; i < s->nr; i++) {
		pci_vecs_collect(s, i);
		if (s->v[i].pending)
			pending |= 1u << i;
	}
	pthread_mutex_unlock(&s->lock);
	for (uint32_t k = 0; k < len; k++) {
		uint32_t at = off + k;

		if (at >= reg && at < reg + 4) {
			*val &= ~(0xffu << (8 * k));
			*val |= (pending >> (8 * (at - reg)) & 0xff) << (8 * k);
		}
	}
}

void pci_msi_destroy(struct pci_vecs *s)
{
	if (!s)
		return;
	pci_vecs_destroy(s);
	free(pci_msi_of(s));
}
