/* SPDX-License-Identifier: MIT */
/*
 * devices/pci: the PCIe platform.  A root complex (ECAM at MEM_ECAM_BASE and configuration
 * mechanism #1 at 0xCF8/0xCFC), a host bridge at 00:00.0, root ports on bus 0 each leading to
 * one secondary bus, and a PCI core every function is built on: config space with writable and
 * write-1-to-clear masks, BAR sizing and decoding, capability lists, and one MSI/MSI-X
 * emulator.  Register offsets and bits come from <linux/pci_regs.h>.
 *
 * Files: core.c (functions, config space), bar.c (BARs and decoding), cap.c (capability lists,
 * the PCI Express capability), vec.c (interrupt vectors shared by MSI and MSI-X), msix.c,
 * msi.c, intx.c (INTx pins and the GSIs they are wired to), root.c (root complex, host bridge,
 * routing), port.c (root ports), slot.c (their hot-plug slots, declared in slot.h),
 * firmware.c (the host bridge's windows and the state a PC's firmware hands the guest).  What
 * only those files share is in internal.h.
 *
 * Identities: the host bridge is 1b36:0008 and root ports are 1b36:000c, the IDs QEMU gives
 * the same roles, so guests bind only their class drivers (Linux: pcieport).
 *
 * Locking: one mutex per root complex (the "config lock") serialises every config access,
 * BAR (un)mapping and topology change; device ops marked "config lock held" run under it and
 * must not call pci_cfg_read()/pci_cfg_write().  Each MSI/MSI-X emulator has its own lock,
 * always taken after the config lock.  BAR accesses (bar_read/bar_write) run on vCPU threads
 * with no PCI lock held.
 *
 * Interrupt words: a device *triggers* a vector; the emulator tells the vector's owner that
 * its *state changed* (enabled, masked, live, address, data).
 *
 * Its constants are in regs.h, which freestanding guest programs include too.
 */
#ifndef HVMM_PCI_H
#define HVMM_PCI_H

#include "devices/pci/regs.h"

#if __STDC_HOSTED__
#include "core/vm.h"
#include "devices/devices.h"

struct pci_root;
struct pci_port;
struct pci_dev;
struct pci_vecs;

/* ------------------------------------------------------------------------------------------ */
/* Functions and their config space (core.c)                                                    */
/* ------------------------------------------------------------------------------------------ */

/* What a cfg_read/cfg_write op did with an access. */
enum pci_cfg_result {
	PCI_CFG_EMULATE = 0, /* not handled: the core does the access on its copy */
	PCI_CFG_DONE = 1,    /* handled (a read filled *val); the core does nothing */
};

/*
 * A function's behaviour.  Every op is optional.  VFIO proxies config space through the
 * cfg ops and returns PCI_CFG_EMULATE for what the core emulates (BARs, ROM, MSI, MSI-X,
 * COMMAND's decode bits after forwarding them); emulated devices usually leave them NULL.
 */
struct pci_dev_ops {
	/* First for every guest config access (len 1, 2 or 4, aligned).  Config lock held. */
	enum pci_cfg_result (*cfg_read)(struct pci_dev *dev, uint32_t off, uint32_t len,
	                                uint32_t *val);
	enum pci_cfg_result (*cfg_write)(struct pci_dev *dev, uint32_t off, uint32_t len,
	                                 uint32_t val);
	/*
	 * Make BAR `bar` (PCI_ROM_BAR for the ROM) decode at [addr, addr + size): called when
	 * decoding turns on or the BAR moves while on (after bar_unmap of the old place).  The
	 * core has already refused places over RAM, the ECAM window, [IOAPIC, 4 GiB), ports
	 * above 0xffff and outside the upstream port's windows.  Returns 0, or -errno and the
	 * BAR does not decode (-EEXIST: overlaps another range).  Without bar_map the core calls
	 * pci_bar_map_default().  Config lock held.  Give both bar_map and bar_unmap or neither.
	 */
	int (*bar_map)(struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size);
	void (*bar_unmap)(struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size);
	/*
	 * Guest accesses to a BAR mapped by pci_bar_map_default(), but the MSI-X table and PBA:
	 * `off` from the BAR's start, len 1-8, any alignment.  vCPU thread, no PCI lock.  A NULL
	 * bar_read reads all-ones.
	 */
	void (*bar_read)(struct pci_dev *dev, unsigned bar, uint64_t off, void *data, uint32_t len);
	void (*bar_write)(struct pci_dev *dev, unsigned bar, uint64_t off, const void *data,
	                  uint32_t len);
	/*
	 * Told of every guest access that reached the core's BAR handler (MSI-X table and PBA
	 * included), before it is served: for counting what was not mapped straight through.
	 * vCPU thread, no PCI lock.
	 */
	void (*bar_trapped)(struct pci_dev *dev, unsigned bar, uint64_t off, bool is_write);
	/* FLR or bus reset, after the core reset its copy of the function.  Config lock held. */
	void (*reset)(struct pci_dev *dev);
	/* VM teardown, after the core released BARs and vectors; free dev->priv. */
	void (*destroy)(struct pci_dev *dev);
};

struct pci_dev_info {
	const char *name; /* for messages; copied */
	uint16_t vendor, device, subsys_vendor, subsys;
	uint32_t class_code; /* base << 16 | sub-class << 8 | programming interface */
	uint8_t revision;
	const struct pci_dev_ops *ops;
	void *priv;
};

enum pci_bar_kind {
	PCI_BAR_NONE,
	PCI_BAR_IO,
	PCI_BAR_MEM32,
	PCI_BAR_MEM64,
	PCI_BAR_ROM,
	PCI_BAR_UPPER, /* the high half of the 64-bit BAR below it */
};

struct pci_bar {
	struct pci_dev *dev;
	unsigned index;
	enum pci_bar_kind kind;
	bool prefetch;
	uint64_t size;
	bool mapped; /* decoding at addr */
	uint64_t addr;
	bool crowded; /* enabled and placed legally, but another range was there */
};

/*
 * One PCI function.  The core owns it from pci_dev_create() to VM teardown.  cfg and the masks
 * belong to the core: set them up with pci_cfg_init() before pci_attach(), read them with
 * pci_cfg_get() under the config lock.
 */
struct pci_dev {
	struct vm *vm;
	struct pci_root *root;
	const struct pci_dev_ops *ops;
	void *priv;
	char name[48];
	uint8_t cfg[PCI_CFG_SPACE_EXP_SIZE];
	uint8_t wmask[PCI_CFG_SPACE_EXP_SIZE];     /* bits the guest may write */
	uint8_t w1c[PCI_CFG_SPACE_EXP_SIZE];       /* bits a guest 1 clears */
	uint8_t reset_cfg[PCI_CFG_SPACE_EXP_SIZE]; /* cfg as attached: restored by resets */
	struct pci_bar bars[PCI_NR_BARS];
	struct pci_vecs *msix;       /* the MSI-X capability's vectors, NULL if none */
	struct pci_vecs *msi;        /* the MSI capability's */
	uint16_t pcie_cap;           /* offset of the PCI Express capability, 0 if none */
	uint16_t cap_free, cap_last; /* standard capability list builder state */
	uint16_t ext_free, ext_last; /* extended capability list builder state */
	struct pci_intx *intx;       /* the source pci_intx_connect() wired, NULL if none */
	struct pci_port *bridge;     /* the port this function is, for a root port */
	struct pci_port *port;       /* the port upstream, NULL on bus 0 */
	uint8_t devfn;
	bool attached;
	struct pci_dev *next; /* the root's list of every function */
};

/*
 * A function with a type-0 header: IDs and class set, COMMAND (I/O, memory, bus master,
 * parity, SERR, INTx disable), STATUS error bits (write-1-to-clear), cache line size and
 * interrupt line writable, everything else zero and read-only.  Owned by `root` until VM
 * teardown, attached or not.  -ENOMEM.
 */
int pci_dev_create(struct pci_root *root, const struct pci_dev_info *info,
                   struct pci_dev **out) WUR;
/*
 * Set up register [off, off + len) (len 1, 2 or 4, little-endian): its value, the bits the guest
 * may write or write-1-to-clear.  Before pci_attach() or under the config lock.  -EINVAL
 * (logged: a programming error) outside config space.
 */
int pci_cfg_init(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t val, uint32_t wmask,
                 uint32_t w1c) WUR;
/* The core's copy of [off, off + len), len 1-4; bytes outside config space read as zero. */
uint32_t pci_cfg_get(const struct pci_dev *dev, uint32_t off, uint32_t len);
/* Guest RAM for DMA by `dev`: -EPERM if bus mastering is off, -EFAULT outside RAM.  No log. */
int pci_dma_ptr(struct pci_dev *dev, uint64_t gpa, uint64_t len, void **out) WUR;
/* Trigger `vector` of an emulated device: MSI-X if enabled, else MSI, else none.  Any thread. */
void pci_dev_trigger(struct pci_dev *dev, unsigned vector);

/* INTx (intx.c).  Pure: the GSI of pin `pin` (1-4) of a function behind the port at `slot`. */
uint32_t pci_intx_gsi(unsigned slot, unsigned pin);
/*
 * Wire `dev`'s INTx pin (PCI_INTERRUPT_PIN): *gsi gets its GSI, and fn(opaque, ready) hears
 * of that IOAPIC pin as ioapic_add_source() tells, until the function is released.  After
 * pci_attach().  -ENOENT: no pin, or no IOAPIC; -EBUSY: wired already.
 */
int pci_intx_connect(struct pci_dev *dev, ioapic_source_fn fn, void *opaque, uint32_t *gsi) WUR;

/* ------------------------------------------------------------------------------------------ */
/* BARs (bar.c)                                                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * Declare BAR `bar` (0-5; a 64-bit BAR takes bar and bar + 1): a power-of-two size (memory
 * >= 16 bytes, I/O 4-256 bytes), prefetchable for memory only.  The core then answers sizing
 * (all-ones written, size mask read back) through the masks alone.  -EINVAL on a bad index,
 * kind, size, or a clash with a BAR already declared.  Before pci_attach().
 */
int pci_bar_init(struct pci_dev *dev, unsigned bar, enum pci_bar_kind kind, uint64_t size,
                 bool prefetch) WUR;
/* Declare the expansion ROM BAR (PCI_ROM_BAR): power of two >= 2 KiB.  -EINVAL. */
int pci_rom_init(struct pci_dev *dev, uint64_t size) WUR;
/*
 * Register BAR `bar` at `addr` on the VM's MMIO or PIO bus with the core's handler (the MSI-X
 * table and PBA, then bar_read/bar_write).  VFIO's bar_map calls this for the trapped view,
 * then maps the mmap-able parts over it.  -EEXIST (not logged) if the range overlaps another.
 */
int pci_bar_map_default(struct pci_dev *dev, unsigned bar, uint64_t addr) WUR;
void pci_bar_unmap_default(struct pci_dev *dev, unsigned bar, uint64_t addr);

/* ------------------------------------------------------------------------------------------ */
/* Capabilities (cap.c)                                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * Append a capability of `size` bytes (>= 2) with ID `id` to the standard list (first at 0x40,
 * dword aligned, STATUS.CAP_LIST set); *off gets its offset.  The body is zero and read-only:
 * set it up with pci_cfg_init().  -ENOSPC past 0xff.
 */
int pci_cap_add(struct pci_dev *dev, uint8_t id, uint32_t size, uint16_t *off) WUR;
/* Same for the extended list (first at 0x100, header id/version/next).  -ENOSPC. */
int pci_ext_cap_add(struct pci_dev *dev, uint16_t id, uint8_t version, uint32_t size,
                    uint16_t *off) WUR;
/* Offset of the first capability `id` in the list, 0 if absent (bounded walk: loops end). */
uint16_t pci_cap_find(const struct pci_dev *dev, uint8_t id);
uint16_t pci_ext_cap_find(const struct pci_dev *dev, uint16_t id);
/*
 * Add a PCI Express capability (version 2) of type `type` (PCI_EXP_TYPE_ENDPOINT, _RC_END or
 * _ROOT_PORT).  Endpoints advertise Function Level Reset (DEVCTL.BCR_FLR resets the function);
 * root ports a 16 GT/s x16 link, active once a device is attached.  -EINVAL, -ENOSPC.
 */
int pci_cap_add_pcie(struct pci_dev *dev, uint8_t type, uint16_t *off) WUR;

/* ------------------------------------------------------------------------------------------ */
/* MSI-X and MSI (vec.c, msix.c, msi.c)                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * Delivery: every enabled, unmasked vector is "live": it owns a GSI (irq_alloc) whose route
 * holds the guest's address/data, and an eventfd bound to that GSI with an irqfd.  Writing
 * the eventfd triggers the vector with no exit to userspace: emulated devices do it through
 * pci_vecs_trigger() (or pci_dev_trigger()), VFIO hands the eventfd to the host device.  A
 * vector that is not live has its irqfd unbound and its eventfd watched by the event loop, so
 * a trigger sets the pending bit; unmasking delivers a pending vector.  Resources are made the
 * first time a vector goes live and kept until VM teardown.  Table entries written while live
 * take effect at the write.  One struct pci_vecs holds one capability's vectors: dev->msix and
 * dev->msi.
 */
struct pci_vec_state {
	unsigned index;
	uint64_t address;
	uint32_t data;
	bool enabled; /* capability enabled (MSI: and index below the enabled count) */
	bool masked;  /* vector or function masked */
	bool live;    /* enabled && !masked, and its route and irqfd are in place */
	int efd;      /* eventfd triggering this vector; -1 until it first went live */
	uint32_t gsi;
};
/*
 * The vector's state changed: enabled, masked, live, address or data, or its eventfd was made.
 * Called with the new state under the emulator's lock (often the config lock too): it must
 * not call back into that emulator.  VFIO wires v->efd to the host vector when v->live is.
 */
typedef void (*pci_vec_changed_fn)(void *opaque, const struct pci_vec_state *v);

/*
 * MSI-X with `nr` (1-2048) vectors: table at table_off in BAR table_bar, PBA at pba_off in
 * BAR pba_bar (BARs already declared, ranges inside them, not overlapping, 8-byte aligned).
 * cap = 0 appends the capability, else the one at `cap` (VFIO: the device's) is taken over.
 * Vectors start masked.  They are dev->msix (and *out unless NULL).  -EINVAL, -ENOSPC, -ENOMEM.
 */
int pci_msix_init(struct pci_dev *dev, uint16_t cap, unsigned nr, unsigned table_bar,
                  uint32_t table_off, unsigned pba_bar, uint32_t pba_off,
                  struct pci_vecs **out) WUR;

/* Where an MSI-X capability keeps its table and PBA: the pages a BAR mapping must trap. */
struct pci_msix_layout {
	unsigned nr;
	unsigned table_bar, pba_bar;
	uint64_t table_off, table_size; /* in bytes, within the BAR */
	uint64_t pba_off, pba_size;
};
/* dev's MSI-X layout; false if dev has no MSI-X. */
bool pci_msix_layout(const struct pci_dev *dev, struct pci_msix_layout *out);

#define PCI_MSI_64BIT    (1u << 0)
#define PCI_MSI_MASKABLE (1u << 1) /* per-vector mask and pending bits */
/*
 * MSI with `nr` vectors (1, 2, 4, 8, 16 or 32) and PCI_MSI_* flags; cap as for MSI-X.
 * Vector i of an enabled block of 2^MME sends data with its low MME bits replaced by i.  The
 * vectors are dev->msi (and *out unless NULL).
 */
int pci_msi_init(struct pci_dev *dev, uint16_t cap, unsigned nr, unsigned flags,
                 struct pci_vecs **out) WUR;

/* Tell fn(opaque, state) of every state change (NULL to stop); before the guest runs. */
void pci_vecs_on_change(struct pci_vecs *s, pci_vec_changed_fn fn, void *opaque);
/* Trigger `vector`: delivered if live, pending if enabled but masked, else dropped.  Any thread. */
void pci_vecs_trigger(struct pci_vecs *s, unsigned vector);
/* The vector's eventfd, allocating its GSI and eventfd now if needed.  -EINVAL, -ENOSPC. */
int pci_vecs_fd(struct pci_vecs *s, unsigned vector, int *fd) WUR;
/* Whether the guest enabled the capability. */
bool pci_vecs_enabled(struct pci_vecs *s);

/* ------------------------------------------------------------------------------------------ */
/* Root complex and root ports (root.c, port.c)                                                 */
/* ------------------------------------------------------------------------------------------ */

/* The host bridge's memory windows (ACPI _CRS): below 4 GiB, and above RAM (size 0: none). */
struct pci_windows {
	uint64_t mem32_base, mem32_size;
	uint64_t mem64_base, mem64_size;
};

/*
 * The root complex of `vm`: ECAM at MEM_ECAM_BASE (buses 0-31, accesses of 1, 2, 4, 8 bytes),
 * 0xCF8/0xCFC (dword address register; data of any width at 0xCFC-0xCFF; a byte write to
 * 0xCF9 with PCI_RESET_CTL_RST stops the VM with VM_EXIT_RESET), the host bridge at 00:00.0
 * with windows `w`, INTx pins wired to `ioapic` (NULL: none).  Absent functions read
 * all-ones.  Torn down with the VM, with every function.  Every PCI call below takes it.
 */
int pci_root_create(struct vm *vm, struct ioapic *ioapic, const struct pci_windows *w,
                    struct pci_root **out) WUR;
/*
 * A root port named `name` (unique; letters, digits, '-', '_', at most 31) at the next free
 * device of bus 0, leading to the secondary bus the guest programs, where one device (up to 8
 * functions) sits.  -EINVAL name, -EEXIST taken, -ENOSPC bus 0 full.
 */
int pci_root_port_create(struct pci_root *root, const char *name, struct pci_port **out) WUR;
/* The port called `name`; -ENOENT, not logged. */
int pci_root_port_find(struct pci_root *root, const char *name, struct pci_port **out) WUR;
/*
 * Plug `dev` in as function 0 behind `port`, or behind a new port of its own ("rpN") when
 * port is NULL.  Snapshots dev's config space as its reset state.  -EBUSY if the port has a
 * device, -EINVAL if dev is already attached.
 */
int pci_attach(struct pci_root *root, struct pci_port *port, struct pci_dev *dev) WUR;
/*
 * Plug `dev` in as function `fn` (0-7) of the device behind `port` (a new port of its own
 * when NULL); the port's function 0 then says it is multi-function.  A guest sees other
 * functions only once function 0 is there.  Errors as pci_attach().
 */
int pci_attach_fn(struct pci_root *root, struct pci_port *port, unsigned fn,
                  struct pci_dev *dev) WUR;
/*
 * A Function Level Reset a device's cfg_write op recognised in the guest's write (config lock
 * held): the core resets the function as for its own FLR and calls the reset op.
 */
void pci_dev_flr(struct pci_dev *dev);

/*
 * Whether the memory BARs of the functions attached so far fit the windows as a guest lays
 * them out (firmware.c says how); -ENOSPC, logged with each root port's needs, if not.
 */
int pci_root_check_windows(struct pci_root *root) WUR;
/* Once before the guest runs, as a PC's firmware: decoding on, INTx GSIs in INTERRUPT_LINE. */
void pci_root_handover(struct pci_root *root);

/* Warn under the root's rate limit (things a guest can provoke), prefixed "pci: ". */
void pci_guest_warn(struct pci_root *root, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* ------------------------------------------------------------------------------------------ */
/* For tests and diagnostics: no device of the product calls these                             */
/* ------------------------------------------------------------------------------------------ */

/*
 * A config access exactly as a guest makes it (ops, masks, side effects), taking the config
 * lock (never from a device op).  -EINVAL: len not 1, 2 or 4, off unaligned or out of range.
 */
int pci_cfg_read(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t *val) WUR;
int pci_cfg_write(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t val) WUR;
/* Where BAR `bar` decodes now: true and *addr, or false if it does not decode.  Locks. */
bool pci_bar_decoding(struct pci_dev *dev, unsigned bar, uint64_t *addr);
/* A vector's state now.  -EINVAL for a bad vector. */
int pci_vecs_state(struct pci_vecs *s, unsigned vector, struct pci_vec_state *out,
                   bool *pending) WUR;
const char *pci_port_name(const struct pci_port *port);
/* The port's own function on bus 0 (its type-1 header). */
struct pci_dev *pci_port_dev(struct pci_port *port);

#include "devices/pci/slot.h"

#endif /* __STDC_HOSTED__ */
#endif
