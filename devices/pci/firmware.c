/* SPDX-License-Identifier: MIT */
/*
 * What a PC's firmware does before the OS runs, where hvmm stands in for it: the check that
 * the functions' BARs fit the host bridge's windows, and decoding turned on.
 *
 * hvmm assigns no BAR itself: the guest's PCI code does, inside the windows ACPI gives the host
 * bridge.  Behind each root port it opens a non-prefetchable window (32-bit, as bridges have
 * it) and a prefetchable one (64-bit on hvmm's ports), each 1 MiB-granular and aligned to its
 * largest BAR, and lays those out in the host bridge's windows, the most aligned first.  A
 * device whose BARs cannot fit is found here, when it is assigned: the guest would leave the
 * BARs unassigned and say so only in its own log, and the device would not work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/internal.h"

#define PCI_WIN_GRAIN MiB(1)

/* One bridge window a root port needs: its functions' BARs of one kind. */
struct pci_need {
	struct pci_port *port;
	bool pref;
	uint64_t size, align;
};

static const char *pci_size_str(uint64_t v, char *buf, size_t n)
{
	static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
	unsigned u = 0;

	while (u < 6 && v && !(v & 1023)) {
		v >>= 10;
		u++;
	}
	snprintf(buf, n, "%llu %s", (unsigned long long)v, unit[u]);
	return buf;
}

static bool pci_bar_is_mem(const struct pci_bar *b)
{
	return b->size &&
	       (b->kind == PCI_BAR_MEM32 || b->kind == PCI_BAR_MEM64 || b->kind == PCI_BAR_ROM);
}

/* A BAR's window: the prefetchable one for prefetchable BARs; ROMs go non-prefetchable. */
static bool pci_bar_pref(const struct pci_bar *b)
{
	return b->prefetch && b->kind != PCI_BAR_ROM;
}

/*
 * The two windows port p needs, and whether the prefetchable one may go above 4 GiB (every
 * prefetchable BAR behind it is 64-bit).  Sizes are sums: BARs are powers of two, so laid out
 * largest first each lands aligned.
 */
static bool pci_port_needs(struct pci_port *p, struct pci_need *np, struct pci_need *pf)
{
	bool all64 = true;

	*np = (struct pci_need){ p, false, 0, PCI_WIN_GRAIN };
	*pf = (struct pci_need){ p, true, 0, PCI_WIN_GRAIN };
	for (unsigned f = 0; f < 8; f++) {
		for (unsigned i = 0; p->fn[f] && i < PCI_NR_BARS; i++) {
			const struct pci_bar *b = &p->fn[f]->bars[i];
			struct pci_need *n = pci_bar_pref(b) ? pf : np;

			if (!pci_bar_is_mem(b))
				continue;
			n->size += b->size;
			if (b->size > n->align)
				n->align = b->size;
			all64 &= !pci_bar_pref(b) || b->kind == PCI_BAR_MEM64;
		}
	}
	np->size = (np->size + PCI_WIN_GRAIN - 1) & ~(PCI_WIN_GRAIN - 1);
	pf->size = (pf->size + PCI_WIN_GRAIN - 1) & ~(PCI_WIN_GRAIN - 1);
	return all64;
}

static int pci_need_cmp(const void *a, const void *b)
{
	const struct pci_need *x = *(struct pci_need *const *)a, *y = *(struct pci_need *const *)b;

	if (x->align != y->align)
		return x->align > y->align ? -1 : 1;
	return x->size > y->size ? -1 : x->size < y->size;
}

/* Lay the windows v[0..n) out in [base, base + size), most aligned first: what they span. */
static uint64_t pci_pack(struct pci_need **v, unsigned n, uint64_t base)
{
	uint64_t at = base;

	qsort(v, n, sizeof(*v), pci_need_cmp);
	for (unsigned i = 0; i < n; i++) {
		at = (at + v[i]->align - 1) & ~(v[i]->align - 1);
		if (at < base || at + v[i]->size < at)
			return UINT64_MAX; /* ran off the address space */
		at += v[i]->size;
	}
	return at - base;
}

/* "root port rp0 1 GiB (0000:01:00.0 BAR2 1 GiB, ROM 256 KiB)" for each window in v. */
static void pci_needs_str(struct pci_need **v, unsigned n, char *out, size_t cap)
{
	size_t len = 0;
	char a[40], b[8];

	out[0] = 0;
	for (unsigned k = 0; k < n && len < cap; k++) {
		struct pci_port *p = v[k]->port;
		const char *sep = " (";

		len += (size_t)snprintf(out + len, cap - len, "%sroot port %s %s", k ? "; " : "",
		                        p->name, pci_size_str(v[k]->size, a, sizeof(a)));
		for (unsigned f = 0; f < 8 && len < cap; f++) {
			for (unsigned i = 0; p->fn[f] && i < PCI_NR_BARS && len < cap; i++) {
				const struct pci_bar *bar = &p->fn[f]->bars[i];

				if (!pci_bar_is_mem(bar) || pci_bar_pref(bar) != v[k]->pref)
					continue;
				if (i == PCI_ROM_BAR)
					snprintf(b, sizeof(b), "ROM");
				else
					snprintf(b, sizeof(b), "BAR%u", i);
				len += (size_t)snprintf(out + len, cap - len, "%s%s %s %s", sep,
				                        p->fn[f]->name, b,
				                        pci_size_str(bar->size, a, sizeof(a)));
				sep = ", ";
			}
		}
		if (len < cap && strcmp(sep, " ("))
			len += (size_t)snprintf(out + len, cap - len, ")");
	}
}

static int pci_fit(struct pci_need **v, unsigned n, uint64_t base, uint64_t size, const char *which,
                   const char *why)
{
	uint64_t used = pci_pack(v, n, base);
	char need[40], have[40], list[640];

	if (used <= size)
		return 0;
	pci_needs_str(v, n, list, sizeof(list));
	if (used == UINT64_MAX)
		snprintf(need, sizeof(need), "more than the address space");
	else
		pci_size_str(used, need, sizeof(need));
	log_err(
	    "pci: the assigned devices' BARs do not fit the %s PCI window (%s at %#llx): laid "
	    "out as a guest does, each root port's window aligned to its largest BAR, they need "
	    "%s of it: %s.  %s",
	    which, pci_size_str(size, have, sizeof(have)), (unsigned long long)base, need, list,
	    why);
	return -ENOSPC;
}

int pci_root_check_windows(struct pci_root *root)
{
	struct pci_need needs[2 * PCI_MAX_ROOT_PORTS], *w32[2 * PCI_MAX_ROOT_PORTS],
	    *w64[PCI_MAX_ROOT_PORTS];
	const struct pci_windows *w = &root->win;
	unsigned n = 0, n32 = 0, n64 = 0;
	int r;

	pthread_mutex_lock(&root->lock);
	for (struct pci_port *p = root->ports; p && n < PCI_MAX_ROOT_PORTS; p = p->next, n++) {
		struct pci_need *np = &needs[2 * n], *pf = &needs[2 * n + 1];
		bool in64 = pci_port_needs(p, np, pf) && w->mem64_size;

		if (np->size)
			w32[n32++] = np;
		if (pf->size && in64)
			w64[n64++] = pf;
		else if (pf->size)
			w32[n32++] = pf;
	}
	r = pci_fit(w32, n32, w->mem32_base, w->mem32_size, "32-bit",
	            w->mem64_size
	                ? "Non-prefetchable BARs, 32-bit BARs and ROMs must lie below 4 GiB, where "
	                  "the window's size is fixed: assign fewer of these devices to one VM"
	                : "The host's physical address bits leave no room for a 64-bit window "
	                  "above RAM, so every BAR must lie below 4 GiB: assign fewer of these "
	                  "devices to one VM, or give it less memory, or use a host with more "
	                  "address bits");
	if (!r)
		r = pci_fit(
		    w64, n64, w->mem64_base, w->mem64_size, "64-bit",
		    "hvmm sizes this window from the host's physical address bits: assign "
		    "fewer of these devices to one VM, or use a host with more address bits");
	pthread_mutex_unlock(&root->lock);
	return r;
}

/* Decoding on, and the INTx GSI in INTERRUPT_LINE; config lock held. */
static void pci_handover_fn(struct pci_dev *dev, unsigned slot)
{
	uint32_t cmd = pci_cfg_get(dev, PCI_COMMAND, 2) | PCI_COMMAND_IO | PCI_COMMAND_MEMORY;
	uint32_t pin = dev->cfg[PCI_INTERRUPT_PIN], line;

	pci_cfg_access(dev, PCI_COMMAND, &cmd, 2, true);
	if (slot && pin >= 1 && pin <= 4 && dev->root->ioapic) {
		line = pci_intx_gsi(slot, pin);
		pci_cfg_access(dev, PCI_INTERRUPT_LINE, &line, 1, true);
	}
}

void pci_root_handover(struct pci_root *root)
{
	pthread_mutex_lock(&root->lock);
	for (struct pci_port *p = root->ports; p; p = p->next) {
		pci_handover_fn(p->dev, 0);
		for (unsigned f = 0; f < 8; f++) {
			if (p->fn[f])
				pci_handover_fn(p->fn[f], p->dev->devfn >> 3);
		}
	}
	pthread_mutex_unlock(&root->lock);
}
