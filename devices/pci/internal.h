/* SPDX-License-Identifier: MIT */
/*
 * Private to devices/pci/ (and its white-box tests): the root complex and its ports, the
 * steps one file of the PCI core takes for another, and the vector machinery MSI and MSI-X
 * share.
 */
#ifndef HVMM_PCI_INTERNAL_H
#define HVMM_PCI_INTERNAL_H

#include "devices/pci/pci.h"

struct pci_root {
	struct vm *vm;
	struct ioapic *ioapic;     /* where INTx pins are wired; NULL: no INTx */
	struct pci_windows win;    /* the host bridge's windows */
	pthread_mutex_t lock;      /* the config lock */
	struct pci_dev *bus0[256]; /* by devfn */
	struct pci_port *ports;
	unsigned nr_ports;
	struct pci_dev *devs; /* every function, for teardown */
	struct pci_dev *host;
	uint32_t conf1_addr;
	uint8_t reset_ctl;
	struct ratelimit rl; /* guest-provoked messages */
	bool bars_freed;     /* a BAR stopped decoding since crowded BARs were last retried */
};

struct pci_port {
	struct pci_root *root;
	struct pci_dev *dev;
	char name[32];
	struct pci_dev *fn[8]; /* the functions of device 0 on the secondary bus */
	bool bus_reset;        /* Secondary Bus Reset as last written */
	bool slot_irq;         /* the slot's enabled events were pending at the last check */
	struct pci_port *next;
};

/* Warn under the root's rate limit (things a guest can provoke). */
void pci_guest_warn(struct pci_root *root, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A guest config access to `dev` (config lock held): the cfg ops, then the emulated path. */
void pci_cfg_access(struct pci_dev *dev, uint32_t off, void *data, uint32_t len, bool is_write);
/* Reset `dev` to its attach-time state (config lock held): BARs, vectors, then ops->reset. */
void pci_dev_reset(struct pci_dev *dev);
/* Bring every BAR's decoding in line with config space (config lock held). */
void pci_bars_update(struct pci_dev *dev);
/* Offset of BAR `bar`'s register for this header type; 0 if the header has no such BAR. */
uint32_t pci_bar_reg(const struct pci_dev *dev, unsigned bar);
bool pci_dev_is_bridge(const struct pci_dev *dev);
void pci_bars_release(struct pci_dev *dev);
/* The PCI Express capability reacting to a write (FLR). */
void pci_pcie_cfg_written(struct pci_dev *dev, uint32_t off, uint32_t len);

/* A function's INTx source, wired by pci_intx_connect(); pci_intx_release() undoes it. */
struct pci_intx {
	ioapic_source_fn fn;
	void *opaque;
	uint32_t gsi;
};
void pci_intx_release(struct pci_dev *dev);

/* Root ports (config lock held). */
int pci_port_init(struct pci_port *port, uint8_t devfn) WUR;
bool pci_port_forwards(const struct pci_port *port, uint64_t addr, uint64_t size, bool io);
void pci_port_cfg_written(struct pci_port *port, uint32_t off, uint32_t len);
/* Attach `dev` as function `fn` behind `port`. */
int pci_attach_locked(struct pci_root *root, struct pci_port *port, unsigned fn,
                      struct pci_dev *dev) WUR;
/* The hot-plug slot every root port is (slot.c; config lock held). */
int pci_slot_init(struct pci_port *port, uint8_t devfn) WUR;
void pci_slot_cfg_written(struct pci_port *port, uint32_t off, uint32_t len);
/* A function was attached: present (at_build: powered, link up, no event) or hot-plugged. */
void pci_slot_attached(struct pci_port *port, bool at_build);
bool pci_slot_link_up(const struct pci_port *port);
/* The function at `devfn` on `bus` as config routing sees it now; NULL if none. */
struct pci_dev *pci_root_lookup(struct pci_root *root, uint8_t bus, uint8_t devfn);

/* The vector machinery MSI and MSI-X share (vec.c). */
struct pci_vec {
	struct pci_vecs *set;
	unsigned index;
	uint64_t address;
	uint32_t data;
	bool vmask; /* the vector's own mask bit */
	bool pending;
	bool live;
	bool watched; /* eventfd in the event loop */
	bool failed;  /* resources could not be allocated: not retried until reset */
	bool routed;
	uint64_t routed_address;
	uint32_t routed_data;
	int efd;
	uint32_t gsi;
	bool announced;            /* the owner has been told a state */
	struct pci_vec_state last; /* what the owner was last told */
};

/*
 * The vectors of one capability.  MSI-X and MSI (msix.c, msi.c) each embed one as the first
 * member of their own state, which is how they get back to it from dev->msix or dev->msi.
 */
struct pci_vecs {
	struct pci_dev *dev;
	const char *kind; /* "MSI-X" or "MSI" */
	pthread_mutex_t lock;
	unsigned nr;
	struct pci_vec *v;
	bool enabled;
	bool fmask;
	unsigned nr_enabled; /* vectors the enable covers (MSI: 2^MME) */
	pci_vec_changed_fn changed;
	void *changed_opaque;
};

int pci_vecs_init(struct pci_vecs *s, struct pci_dev *dev, unsigned nr, const char *kind) WUR;
void pci_vecs_destroy(struct pci_vecs *s);
/* Reconcile vector i (all: every vector) with its state; s->lock held. */
void pci_vecs_sync(struct pci_vecs *s, unsigned i);
void pci_vecs_sync_all(struct pci_vecs *s);
/* Move an eventfd trigger that arrived while not live into the pending bit; s->lock held. */
void pci_vecs_collect(struct pci_vecs *s, unsigned i);
/*
 * Back to the capability's reset state: disabled, `nr_enabled` vectors covered by an enable,
 * every message cleared and masked as `masked` (MSI-X entries reset masked, MSI vectors not),
 * nothing pending.  Takes s->lock.
 */
void pci_vecs_reset(struct pci_vecs *s, unsigned nr_enabled, bool masked);

/* MSI-X and MSI steps the rest of the core takes (config lock held unless said otherwise). */
bool pci_msix_bar_access(struct pci_vecs *s, unsigned bar, uint64_t off, void *data, uint32_t len,
                         bool is_write); /* no lock; true if it was the table/PBA */
void pci_msix_cfg_written(struct pci_vecs *s, uint32_t off, uint32_t len);
void pci_msix_destroy(struct pci_vecs *s);
void pci_msi_cfg_written(struct pci_vecs *s, uint32_t off, uint32_t len);
void pci_msi_cfg_read(struct pci_vecs *s, uint32_t off, uint32_t len, uint32_t *val);
void pci_msi_destroy(struct pci_vecs *s);

#endif
