/* SPDX-License-Identifier: MIT */
/*
 * Private to devices/vfio/ (and its tests): what its files share.  See vfio.h for the split;
 * the kernel side (syscalls, container, device fd) is in kernel.h.
 */
#ifndef HVMM_VFIO_INTERNAL_H
#define HVMM_VFIO_INTERNAL_H

#include "devices/vfio/kernel.h"

/* ---- the assigned device as a PCI function (config.c, bars.c, rom.c, intr.c, reset.c, ...) - */

struct pci_dev;
struct pci_root;
struct pci_port;
struct pci_vecs;
struct pci_vec_state;
struct vfio_assign;

#define VFIO_MAX_MAPS   16 /* guest mappings of BAR parts at one time, per device */
#define VFIO_STAT_PAGES 64 /* trapped accesses counted per page for the first pages */

/* What "zero exits" is measured with. */
struct vfio_stats {
	uint64_t cfg_reads, cfg_writes;
	uint64_t bar_trapped[6][VFIO_STAT_PAGES]; /* trapped BAR accesses by page */
	uint64_t bar_trapped_other;               /* beyond the pages counted one by one */
	uint64_t msi_updates;                     /* MSI/MSI-X vector changes from the guest */
	uint64_t vectors_routed;                  /* vectors wired host eventfd -> irqfd */
	uint64_t bar_proxied, bar_proxy_ns; /* BAR accesses done through the device fd, and time */
};

/*
 * Where the guest reaches a BAR (vfio_bars_mmap()): straight through mappings of its pieces,
 * or every access trapped and proxied through the device fd -- on a hypervisor that cannot
 * map device memory safely (hv_caps.devmem, mainline MSHV), or when the user asks for it.
 */
enum vfio_bar_mode {
	VFIO_BARS_MAPPED,
	VFIO_BARS_TRAPPED,
};

/*
 * A part of a BAR the guest reaches without exits: a mappable area less the MSI-X table and
 * PBA pages, mmap'd on its own at its own file offset, so that each guest mapping starts its
 * own VMA (a hypervisor may resolve a mapping from its VMA, not its address).
 */
#define VFIO_MAX_PIECES (VFIO_MAX_SPARSE + 2)
struct vfio_piece {
	uint64_t off, size; /* within the BAR */
	void *hva;
};

/* A guest mapping of part of a BAR straight to the device's mmap. */
struct vfio_map {
	unsigned bar;
	struct hv_mem_region r;
};

/*
 * The host side of one interrupt capability (intr.c).  The host enables the index when the
 * guest enables the capability, not at the first unmask: some devices decide at that moment
 * which vectors they will ever signal.
 */
struct vfio_irqs {
	unsigned index;      /* VFIO_IRQ_MSI or VFIO_IRQ_MSIX */
	uint32_t nr;         /* vectors of the capability */
	bool dynamic;        /* MSI-X without NORESIZE: the host adds vectors while enabled */
	uint32_t host_count; /* vectors the host enabled; 0: the index is off */
	uint32_t limit;      /* vectors that can be wired one by one */
	uint32_t nr_enabled; /* vectors whose last announced state was enabled */
	bool refused;        /* the host refused the enable: not retried until the guest disables */
	bool *enabled;
	int *want; /* the eventfd each vector should have on the host, -1 */
	int *fds;  /* the eventfd wired on the host, -1 */
};

/* The device's INTx (intx.c), under the device's intr_lock. */
struct vfio_intx {
	uint8_t pin;      /* INTA-INTD as 1-4; 0: no INTx offered */
	uint32_t gsi;     /* where the pin is wired */
	int efd;          /* VFIO's trigger, an irqfd on gsi; -1 until attached */
	bool wanted;      /* the device's interrupt is INTx (neither MSI nor MSI-X is on) */
	bool on;          /* enabled on the host: wanted, and the guest has unmasked the pin */
	bool ready;       /* the IOAPIC pin can take an interrupt, as last told */
	bool refused;     /* the host refused the enable: not asked again */
	uint64_t unmasks; /* lines unmasked after an EOI or the pin's unmask */
};

struct vfio_pci {
	struct vm *vm;
	struct vfio_assign *owner;
	struct vfio_device dev;
	struct pci_dev *pdev;
	/* Config bytes the PCI core emulates; the rest is read from and written to the device. */
	uint8_t emulated[4096];
	uint8_t forwarded[4096]; /* emulated bytes whose writes also go to the device */
	uint32_t cfg_size;
	/* Capabilities hvmm acts on (0: absent). */
	uint16_t msi_cap, pm_cap, pcie_cap, af_cap;
	/* Power state as the guest last set it: BARs are not mapped straight through outside D0. */
	uint8_t pm_state;
	/* The mmap'd pieces of each memory BAR (none when trapped). */
	struct vfio_piece pieces[6][VFIO_MAX_PIECES];
	unsigned nr_pieces[6];
	enum vfio_bar_mode bar_mode;
	bool force_trap;          /* --vfio-bars trap */
	const char *bar_mode_why; /* for the log and the counters */
	struct vfio_map maps[VFIO_MAX_MAPS];
	unsigned nr_maps;
	struct pci_vecs *msix;
	struct pci_vecs *msi;
	struct vfio_irqs msix_irqs, msi_irqs;
	struct vfio_intx intx;
	pthread_mutex_t intr_lock;
	/* The expansion ROM, read once on the guest's first access (rom.c). */
	pthread_mutex_t rom_lock;
	uint8_t *rom;
	bool rom_read;
	/* Error (AER) and request eventfds, -1 if the device has none (assign.c). */
	int err_efd, req_efd;
	pthread_mutex_t stats_lock;
	struct vfio_stats stats;
};

/*
 * Build the PCI function for an opened device: config shadow (BARs, ROM, MSI, MSI-X, the
 * multi-function bit and capability-list pointers emulated by the core, everything else
 * proxied at the guest's access width; SR-IOV, resizable-BAR and ARI capabilities hidden; a
 * root complex integrated endpoint presented as an endpoint), BARs from the region sizes,
 * MSI-X and MSI emulators wired to host vectors as their state changes.  Does not attach it.
 */
int vfio_pci_create(struct vm *vm, struct pci_root *root, struct vfio_pci *vp) WUR;
void vfio_pci_destroy(struct vfio_pci *vp);
/* The PCI core's destroy op: vfio_pci_destroy() once the core has released BARs and vectors. */
void vfio_pci_release(struct pci_dev *pdev);
/*
 * Choose the BAR mode (the hypervisor's hv_caps.devmem, --vfio-bars) and, when mapped, mmap
 * the pieces of every memory BAR (bars.c); undone by vfio_pci_destroy().
 */
int vfio_bars_mmap(struct vfio_pci *vp) WUR;
void vfio_bars_munmap(struct vfio_pci *vp);
/* The BAR side of the PCI device ops (bars.c): see struct pci_dev_ops. */
int vfio_bar_map(struct pci_dev *pdev, unsigned bar, uint64_t addr, uint64_t size) WUR;
void vfio_bar_unmap(struct pci_dev *pdev, unsigned bar, uint64_t addr, uint64_t size);
void vfio_bar_read(struct pci_dev *pdev, unsigned bar, uint64_t off, void *data, uint32_t len);
void vfio_bar_write(struct pci_dev *pdev, unsigned bar, uint64_t off, const void *data,
                    uint32_t len);
/* Count a trapped access by BAR page (the MSI-X table and PBA pages included). */
void vfio_bar_trapped(struct pci_dev *pdev, unsigned bar, uint64_t off, bool is_write);
/*
 * Unmap every part of the BARs mapped straight into the guest, keeping the trapped views
 * (before the device's memory turns off under them); map them again for the BARs that
 * decode (once it is back).  Config lock held.
 */
void vfio_bars_unmap_direct(struct vfio_pci *vp);
void vfio_bars_map_direct(struct vfio_pci *vp);
/* A guest read of the expansion ROM (rom.c): read from the device once, then from memory. */
void vfio_rom_read(struct vfio_pci *vp, uint64_t off, void *data, uint32_t len);
void vfio_rom_free(struct vfio_pci *vp);
/*
 * What a guest config write [off, off + len) of bytes b does besides its bytes (reset.c),
 * config lock held.  vfio_cfg_take_flr(): true if it initiates a Function Level Reset the
 * device supports (PCI Express DEVCTL or AF), with that bit taken out of b.  Before the
 * write reaches the device: direct BAR mappings unmapped if it turns memory decode off or
 * leaves D0.  After: mapped again if it brings the device back to D0.
 */
bool vfio_cfg_take_flr(struct vfio_pci *vp, uint32_t off, uint32_t len, uint8_t *b);
/*
 * A write that sets COMMAND's Bus Master Enable waits until guest RAM is mapped for DMA (the
 * mapping runs in the background from start, dma.c); if it could not be, the bit is taken out
 * of b and the guest warned.  Config lock held.
 */
void vfio_cfg_wait_dma(struct vfio_pci *vp, uint32_t off, uint32_t len, uint8_t *b);
void vfio_cfg_before_write(struct vfio_pci *vp, uint32_t off, uint32_t len, const uint8_t *b);
void vfio_cfg_after_write(struct vfio_pci *vp, uint32_t off, uint32_t len, const uint8_t *b);
/*
 * Quiesce the device (interrupts off, D0, COMMAND's I/O, memory, bus master and INTx-disable
 * cleared) and reset it (vfio_device_reset()).  At start, at teardown, and for the guest's
 * resets (vfio_pci_guest_reset(), the PCI core's reset op, after the core reset its copy).
 */
int vfio_pci_reset(struct vfio_pci *vp) WUR;
void vfio_pci_guest_reset(struct pci_dev *pdev);
/*
 * The MSI-X and MSI state-changed callbacks (intr.c): wire a vector's eventfd to the host
 * vector when it goes live.
 */
void vfio_intr_msix_changed(void *opaque, const struct pci_vec_state *v);
void vfio_intr_msi_changed(void *opaque, const struct pci_vec_state *v);
/* The host side of a capability of nr vectors (-ENOMEM, logged); freed by vfio_intr_free(). */
int vfio_intr_init(struct vfio_pci *vp, struct vfio_irqs *s, unsigned index, uint32_t nr) WUR;
void vfio_intr_free(struct vfio_irqs *s);
/* Stop every host interrupt of the device (before reset and at teardown). */
void vfio_intr_disable(struct vfio_pci *vp);
/*
 * INTx (intx.c).  vfio_intx_init(): offer the device's pin `pin` (as its config space has it)
 * if vfio-pci counts an INTx the host can mask; before the function is attached.
 * vfio_intx_attach(): once attached, wire the pin: its GSI, an eventfd bound to it with an
 * irqfd, the IOAPIC's EOIs and masks, INTx enabled on the host; -errno (logged) when the
 * eventfd or irqfd cannot be made, 0 when the host refuses INTx (a warning).
 * vfio_intx_on()/off(): INTx is the device's interrupt or not, intr_lock held (MSI and MSI-X
 * take its place, resets bring it back); on the host it is enabled once the guest has unmasked
 * the pin as well.  vfio_intx_free(): the eventfd gone, at release.
 */
void vfio_intx_init(struct vfio_pci *vp, uint8_t pin);
int vfio_intx_attach(struct vfio_pci *vp) WUR;
void vfio_intx_on(struct vfio_pci *vp);
void vfio_intx_off(struct vfio_pci *vp);
void vfio_intx_free(struct vfio_pci *vp);
/* Print the counters of one device at `level`. */
void vfio_stats_print(struct vfio_pci *vp, enum log_level level);

/* ---- the VM's assigned devices (assign.c, hotplug.c) ---------------------------------------- */

#define VFIO_MAX_DEVICES 8

struct vfio_assign {
	struct vm *vm;
	struct pci_root *root;
	const struct vfio_sys *sys;
	struct vfio_container c; /* opened with the first device (c.fd < 0 before) */
	int map_efd;             /* the start-time DMA mapping's end, watched by the loop */
	pthread_mutex_t lock;    /* devs and refs: devices come and go while the VM runs */
	struct vfio_pci *devs[VFIO_MAX_DEVICES];
	struct pci_port *ports[VFIO_MAX_DEVICES]; /* where each was hot-plugged, NULL if not */
	unsigned nr_devs;
	unsigned refs; /* the assignment itself + one per device the PCI core still holds */
};

/*
 * The assignment of `vm`, its devices' calls made through `sys`; torn down with the VM.  The
 * container is opened with the first device (vfio_assign_build()), so a VM that may get
 * devices later needs no VFIO on the host until it does.
 */
int vfio_assign_open(struct vm *vm, struct pci_root *root, const struct vfio_sys *sys,
                     struct vfio_assign **out) WUR;
/*
 * Open `bdf` into the container, reset it, build its PCI function (not attached), mmap its
 * BARs and, for its group's first device, tell the hypervisor.  *out is in a->devs.
 */
int vfio_assign_build(struct vfio_assign *a, const struct vfio_bdf *bdf, bool trap_bars,
                      struct vfio_pci **out) WUR;
/* Stop watching and close one of a device's notification eventfds (error, request). */
void vfio_notify_close(struct vfio_pci *vp, int *efd);

#endif
