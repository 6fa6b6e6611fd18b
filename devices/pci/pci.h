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
 * msi.c, root.c (root complex, host bridge, routing), port.c (root ports), testdev.c.
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
 * The first section (constants and the test device's register layout) is also usable by
 * freestanding guest programs.
 */
#ifndef HVMM_PCI_H
#define HVMM_PCI_H

#include <linux/pci_regs.h>

#define PCI_VENDOR_REDHAT      0x1b36
#define PCI_DEVICE_HOST_BRIDGE 0x0008
#define PCI_DEVICE_ROOT_PORT   0x000c

#define PCI_CLASS_CODE_HOST_BRIDGE 0x060000
#define PCI_CLASS_CODE_PCI_BRIDGE  0x060400

#define PCI_NR_BARS 7 /* six BARs and the expansion ROM */
#define PCI_ROM_BAR 6

/* Configuration mechanism #1 and the PC reset control register inside its address port. */
#define PCI_CONF1_ADDR_PORT 0xcf8
#define PCI_CONF1_DATA_PORT 0xcfc
#define PCI_RESET_CTL_PORT  0xcf9
#define PCI_RESET_CTL_RST   0x04 /* a byte write with this bit resets the machine */
#define PCI_CONF1_ENABLE    0x80000000u

/* Offset of a function's config space in the ECAM window. */
#define PCI_ECAM_OFFSET(bus, dev, fn) (((bus) << 20) | ((dev) << 15) | ((fn) << 12))

/* Root ports sit on bus 0 from this device number up, in creation order. */
#define PCI_ROOT_PORT_FIRST_DEV 1
#define PCI_MAX_ROOT_PORTS      31

/*
 * The test device (testdev.c, tests only: not on the command line).  BAR0: 64-bit memory,
 * registers + MSI-X table + PBA.  BAR2: I/O, an ID and a scratch register.  ROM: 2 KiB,
 * 0x55 0xaa then byte i = i.  Capabilities: PCI Express endpoint (FLR), MSI (1 vector, 64-bit,
 * maskable), MSI-X (TESTDEV_NR_VECTORS), and a vendor-specific extended capability.
 * Interrupts go to MSI-X when it is enabled, else to MSI, else nowhere.
 */
#define TESTDEV_DEVICE_ID    0x7e57
#define TESTDEV_CLASS        0xff0000u /* "does not fit a defined class": no driver binds */
#define TESTDEV_BAR0_SIZE    0x4000
#define TESTDEV_BAR2_SIZE    0x20
#define TESTDEV_ROM_SIZE     0x800
#define TESTDEV_ID_VALUE     0x44545648u /* "HVTD" */
#define TESTDEV_REG_ID       0x00        /* RO 32-bit */
#define TESTDEV_REG_SCRATCH  0x08        /* RW 64-bit */
#define TESTDEV_REG_DOORBELL 0x10        /* W: raise the vector written */
#define TESTDEV_REG_DMA_SRC  0x18        /* RW 64-bit guest-physical source */
#define TESTDEV_REG_DMA_DST  0x20        /* RW 64-bit guest-physical destination */
#define TESTDEV_REG_DMA_LEN  0x28        /* RW, at most TESTDEV_DMA_MAX */
#define TESTDEV_REG_DMA_CMD  0x30 /* W: TESTDEV_DMA_START [| TESTDEV_DMA_IRQ | vector << 8] */
#define TESTDEV_REG_DMA_STS  0x38 /* RO: TESTDEV_DMA_* status of the last command */
#define TESTDEV_DMA_START    0x1
#define TESTDEV_DMA_IRQ      0x2 /* raise vector (cmd >> 8) & 0xff when done */
#define TESTDEV_DMA_IDLE     0
#define TESTDEV_DMA_DONE     1
#define TESTDEV_DMA_FAULT    2 /* an address range is not guest RAM, or len is too big */
#define TESTDEV_DMA_NO_BM    3 /* bus mastering is off in COMMAND */
#define TESTDEV_DMA_MAX      0x10000
#define TESTDEV_MSIX_TABLE   0x2000
#define TESTDEV_MSIX_PBA     0x3000
#define TESTDEV_NR_VECTORS   4
#define TESTDEV_IO_ID        0x00 /* BAR2: RO 32-bit TESTDEV_ID_VALUE */
#define TESTDEV_IO_SCRATCH   0x04 /* BAR2: RW 32-bit */

#if __STDC_HOSTED__
#include "core/vm.h"

struct pci_root;
struct pci_port;
struct pci_dev;
struct pci_msix;
struct pci_msi;

/* ------------------------------------------------------------------------------------------ */
/* Functions and their config space (core.c)                                                    */
/* ------------------------------------------------------------------------------------------ */

/* What a config hook did with an access. */
enum pci_cfg_result {
	PCI_CFG_EMULATE = 0, /* not handled: the core does the access on its copy */
	PCI_CFG_DONE = 1,    /* handled (a read filled *val); the core does nothing */
};

/*
 * A function's behaviour.  Every op is optional.  VFIO proxies config space through the
 * cfg hooks and returns PCI_CFG_EMULATE for what the core emulates (BARs, ROM, MSI, MSI-X,
 * COMMAND's decode bits after forwarding them); emulated devices usually leave them NULL.
 */
struct pci_dev_ops {
	/*
	 * Called first for every guest config access: off + len <= 4096, len 1, 2 or 4, off
	 * aligned to len.  Config lock held.
	 */
	enum pci_cfg_result (*cfg_read)(struct pci_dev *dev, uint32_t off, uint32_t len,
	                                uint32_t *val);
	enum pci_cfg_result (*cfg_write)(struct pci_dev *dev, uint32_t off, uint32_t len,
	                                 uint32_t val);
	/*
	 * Make BAR `bar` (PCI_ROM_BAR for the ROM) decode at [addr, addr + size): called when
	 * decoding turns on or the BAR moves while on (after bar_unmap of the old place).  The
	 * core has already refused places over RAM, the ECAM window, [IOAPIC, 4 GiB), ports
	 * above 0xffff and outside the upstream port's windows.  Returns 0, or -errno and the
	 * BAR does not decode (-EEXIST: overlaps another range).  Without bar_map the core
	 * calls pci_bar_map_default().  Config lock held.  Give both bar_map and bar_unmap or
	 * neither.
	 */
	int (*bar_map)(struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size);
	void (*bar_unmap)(struct pci_dev *dev, unsigned bar, uint64_t addr, uint64_t size);
	/*
	 * Guest accesses to a BAR mapped by pci_bar_map_default(), MSI-X table and PBA ranges
	 * excepted: `off` from the BAR's start, len 1-8, any alignment.  vCPU thread, no PCI
	 * lock.  A NULL bar_read reads all-ones.
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
	/*
	 * Function Level Reset or secondary bus reset: the core has already restored config
	 * space, unmapped BARs and reset MSI/MSI-X.  Config lock held.
	 */
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
	struct pci_msix *msix;
	struct pci_msi *msi;
	uint16_t pcie_cap;           /* offset of the PCI Express capability, 0 if none */
	uint16_t cap_free, cap_last; /* standard capability list builder state */
	uint16_t ext_free, ext_last; /* extended capability list builder state */
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
 * Set up register [off, off + len) (len 1, 2 or 4, little-endian): its value and which bits
 * the guest may write or write-1-to-clear.  Before pci_attach(), or under the config lock.
 * -EINVAL (logged: a programming error) if the range is outside config space.
 */
int pci_cfg_init(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t val, uint32_t wmask,
                 uint32_t w1c) WUR;
/* The core's copy of [off, off + len), len 1-4; bytes outside config space read as zero. */
uint32_t pci_cfg_get(const struct pci_dev *dev, uint32_t off, uint32_t len);
/*
 * A config access exactly as a guest makes it (hooks, masks, side effects), taking the config
 * lock: for tests, diagnostics and a VMM-side reset.  -EINVAL if len is not 1, 2 or 4, off is
 * not aligned to len or out of range.  Never from a hook or op (the lock is not recursive).
 */
int pci_cfg_read(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t *val) WUR;
int pci_cfg_write(struct pci_dev *dev, uint32_t off, uint32_t len, uint32_t val) WUR;
/*
 * A guest-physical range for DMA by `dev`: -EPERM if bus mastering is off in COMMAND,
 * -EFAULT if [gpa, gpa + len) is not inside one RAM region.  Never logs.
 */
int pci_dma_ptr(struct pci_dev *dev, uint64_t gpa, uint64_t len, void **out) WUR;
/*
 * Raise interrupt `vector` of an emulated device: through MSI-X if it is enabled, else MSI,
 * else dropped (no INTx).  Any thread.
 */
void pci_dev_notify(struct pci_dev *dev, unsigned vector);

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
 * Register BAR `bar` at `addr` on the VM's MMIO or PIO bus with the core's handler, which
 * serves the MSI-X table and PBA itself and passes the rest to bar_read/bar_write.  VFIO's
 * bar_map calls this for the trapped view and then maps the mmap-able parts over it.
 * -EEXIST (not logged) if the range overlaps another.
 */
int pci_bar_map_default(struct pci_dev *dev, unsigned bar, uint64_t addr) WUR;
void pci_bar_unmap_default(struct pci_dev *dev, unsigned bar, uint64_t addr);
/* Where BAR `bar` decodes now: true and *addr, or false if it does not decode.  Locks. */
bool pci_bar_decoding(struct pci_dev *dev, unsigned bar, uint64_t *addr);

/* ------------------------------------------------------------------------------------------ */
/* Capabilities (cap.c)                                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * Append a capability of `size` bytes (>= 2) with ID `id` to the standard list (first at
 * 0x40, dword aligned, linked from 0x34, STATUS.CAP_LIST set); *off gets its offset.  The
 * body is zero and read-only: set it up with pci_cfg_init().  -ENOSPC past 0xff.
 */
int pci_cap_add(struct pci_dev *dev, uint8_t id, uint32_t size, uint16_t *off) WUR;
/* Same for the extended list (first at 0x100, header id/version/next).  -ENOSPC. */
int pci_ext_cap_add(struct pci_dev *dev, uint16_t id, uint8_t version, uint32_t size,
                    uint16_t *off) WUR;
/* Offset of the first capability `id` in the list, 0 if absent (bounded walk: loops end). */
uint16_t pci_cap_find(const struct pci_dev *dev, uint8_t id);
uint16_t pci_ext_cap_find(const struct pci_dev *dev, uint16_t id);
/*
 * Add a PCI Express capability (version 2) of port type `type` (PCI_EXP_TYPE_ENDPOINT,
 * PCI_EXP_TYPE_RC_END or PCI_EXP_TYPE_ROOT_PORT).  Endpoints advertise Function Level Reset:
 * a guest write of DEVCTL.BCR_FLR resets the function.  Root ports report a 16 GT/s x16
 * link, active once a device is attached.  -EINVAL, -ENOSPC.
 */
int pci_cap_add_pcie(struct pci_dev *dev, uint8_t type, uint16_t *off) WUR;

/* ------------------------------------------------------------------------------------------ */
/* MSI-X and MSI (vec.c, msix.c, msi.c)                                                         */
/* ------------------------------------------------------------------------------------------ */

/*
 * Delivery: every vector that is enabled and unmasked is "live": it owns a GSI (irq_alloc)
 * whose route holds the guest's address/data, and an eventfd bound to that GSI with an irqfd.
 * Writing the eventfd raises the vector with no exit to userspace: emulated devices do it
 * through pci_msix_notify()/pci_msi_notify(), VFIO hands the eventfd to the host device.
 * A vector that is not live has its irqfd unbound and its eventfd watched by the event loop,
 * so a trigger sets the pending bit; unmasking delivers a pending vector.  Resources are
 * allocated the first time a vector goes live and kept until VM teardown.
 *
 * Table entries written while live take effect at the write (the route is updated at once).
 */
struct pci_msi_vector {
	unsigned index;
	uint64_t address;
	uint32_t data;
	bool enabled; /* capability enabled (MSI: and index below the enabled count) */
	bool masked;  /* vector or function masked */
	bool live;    /* enabled && !masked, and its route and irqfd are in place */
	int efd;      /* eventfd raising this vector; -1 until it first went live */
	uint32_t gsi;
};
/*
 * Called on every change of a vector's enabled/masked/live state, address or data, with the
 * new state, under the emulator's lock (and often the config lock): it must not call back
 * into the same emulator.  VFIO wires v->efd to the host vector when v->live first goes true.
 */
typedef void (*pci_msi_hook)(void *opaque, const struct pci_msi_vector *v);

/*
 * MSI-X with `nr` (1-2048) vectors: table at table_off in BAR table_bar, PBA at pba_off in
 * BAR pba_bar (BARs already declared, ranges inside them, not overlapping, 8-byte aligned).
 * cap = 0 appends the capability; otherwise the capability already at `cap` (VFIO: copied
 * from the device) is taken over.  Vectors start masked.  -EINVAL, -ENOSPC, -ENOMEM.
 */
int pci_msix_init(struct pci_dev *dev, uint16_t cap, unsigned nr, unsigned table_bar,
                  uint32_t table_off, unsigned pba_bar, uint32_t pba_off,
                  struct pci_msix **out) WUR;
/* Set the owner's hook (NULL to remove); before the guest runs. */
void pci_msix_set_hook(struct pci_msix *m, pci_msi_hook fn, void *opaque);
/* Raise `vector`: delivered if live, pending if enabled but masked, dropped otherwise.  Any thread.
 */
void pci_msix_notify(struct pci_msix *m, unsigned vector);
/* The vector's eventfd, allocating its GSI and eventfd now if needed.  -EINVAL, -ENOSPC. */
int pci_msix_vector_fd(struct pci_msix *m, unsigned vector, int *fd) WUR;
/* The vector's state now (tests, diagnostics).  -EINVAL for a bad vector. */
int pci_msix_vector_state(struct pci_msix *m, unsigned vector, struct pci_msi_vector *out,
                          bool *pending) WUR;
bool pci_msix_enabled(struct pci_msix *m);

#define PCI_MSI_64BIT    (1u << 0)
#define PCI_MSI_MASKABLE (1u << 1) /* per-vector mask and pending bits */
/*
 * MSI with `nr` vectors (1, 2, 4, 8, 16 or 32) and PCI_MSI_* flags; cap as for MSI-X.
 * Vector i of an enabled block of 2^MME sends data with its low MME bits replaced by i.
 */
int pci_msi_init(struct pci_dev *dev, uint16_t cap, unsigned nr, unsigned flags,
                 struct pci_msi **out) WUR;
void pci_msi_set_hook(struct pci_msi *m, pci_msi_hook fn, void *opaque);
void pci_msi_notify(struct pci_msi *m, unsigned vector);
int pci_msi_vector_fd(struct pci_msi *m, unsigned vector, int *fd) WUR;
int pci_msi_vector_state(struct pci_msi *m, unsigned vector, struct pci_msi_vector *out,
                         bool *pending) WUR;
bool pci_msi_enabled(struct pci_msi *m);

/* ------------------------------------------------------------------------------------------ */
/* Root complex and root ports (root.c, port.c)                                                 */
/* ------------------------------------------------------------------------------------------ */

/*
 * The root complex of `vm`: ECAM at MEM_ECAM_BASE (buses 0-31, accesses of 1, 2, 4 and 8
 * bytes), 0xCF8/0xCFC (dword address register; data of any width at 0xCFC-0xCFF; a byte write
 * to 0xCF9 with PCI_RESET_CTL_RST stops the VM with VM_EXIT_RESET) and the host bridge at
 * 00:00.0.  Absent functions read all-ones.  Torn down with the VM (vm_on_destroy), which
 * also destroys every function.  Called by vm_create().
 */
int pci_root_create(struct vm *vm, struct pci_root **out) WUR;
/*
 * A root port named `name` (unique; letters, digits, '-', '_', at most 31 characters) at the
 * next free device of bus 0.  Its secondary bus is what the guest programs; one device (up to
 * 8 functions) can sit behind it.  -EINVAL name, -EEXIST taken, -ENOSPC bus 0 full.
 */
int pci_root_port_create(struct pci_root *root, const char *name, struct pci_port **out) WUR;
/* The port called `name`; -ENOENT, not logged. */
int pci_root_port_find(struct pci_root *root, const char *name, struct pci_port **out) WUR;
const char *pci_port_name(const struct pci_port *port);
/* The port's own function on bus 0 (its type-1 header). */
struct pci_dev *pci_port_dev(struct pci_port *port);
/*
 * Plug `dev` in as function 0 behind `port`, or behind a new port of its own ("rpN") when
 * port is NULL.  Snapshots dev's config space as its reset state.  -EBUSY if the port has a
 * device, -EINVAL if dev is already attached.
 */
int pci_attach(struct pci_root *root, struct pci_port *port, struct pci_dev *dev) WUR;
/* Same, as function `fn` (0-7) of the port's device: for multi-function devices. */
int pci_attach_fn(struct pci_root *root, struct pci_port *port, unsigned fn,
                  struct pci_dev *dev) WUR;

/* The test device behind `port` (NULL: its own port).  Tests only. */
int pci_testdev_create(struct pci_root *root, struct pci_port *port, struct pci_dev **out) WUR;

/* ------------------------------------------------------------------------------------------ */
/* Between the files of devices/pci only                                                       */
/* ------------------------------------------------------------------------------------------ */

struct pci_root {
	struct vm *vm;
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
	struct pci_port *next;
};

/* Warn under the root's rate limit (things a guest can provoke). */
void pci_guest_warn(struct pci_root *root, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A guest config access to `dev` (config lock held): hooks, then the emulated path. */
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

/* Root ports (config lock held). */
int pci_port_init(struct pci_port *port, uint8_t devfn) WUR;
bool pci_port_forwards(const struct pci_port *port, uint64_t addr, uint64_t size, bool io);
void pci_port_cfg_written(struct pci_port *port, uint32_t off, uint32_t len);
/* The function at `devfn` on `bus` as config routing sees it now; NULL if none. */
struct pci_dev *pci_root_lookup(struct pci_root *root, uint8_t bus, uint8_t devfn);

/* MSI-X and MSI hooks into the core (config lock held unless said otherwise). */
bool pci_msix_bar_access(struct pci_msix *m, unsigned bar, uint64_t off, void *data, uint32_t len,
                         bool is_write); /* no lock; true if it was the table/PBA */
void pci_msix_cfg_written(struct pci_msix *m, uint32_t off, uint32_t len);
void pci_msix_reset(struct pci_msix *m);
void pci_msix_destroy(struct pci_msix *m);
void pci_msi_cfg_written(struct pci_msi *m, uint32_t off, uint32_t len);
void pci_msi_cfg_read(struct pci_msi *m, uint32_t off, uint32_t len, uint32_t *val);
void pci_msi_reset(struct pci_msi *m);
void pci_msi_destroy(struct pci_msi *m);

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
	bool reported;
	struct pci_msi_vector last; /* what the hook was last told */
};

struct pci_vecs {
	struct pci_dev *dev;
	const char *kind; /* "MSI-X" or "MSI" */
	pthread_mutex_t lock;
	unsigned nr;
	struct pci_vec *v;
	bool enabled;
	bool fmask;
	unsigned nr_enabled; /* vectors the enable covers (MSI: 2^MME) */
	pci_msi_hook hook;
	void *hook_opaque;
};

int pci_vecs_init(struct pci_vecs *s, struct pci_dev *dev, unsigned nr, const char *kind) WUR;
void pci_vecs_destroy(struct pci_vecs *s);
/* Reconcile vector i (all: every vector) with its state; s->lock held. */
void pci_vecs_sync(struct pci_vecs *s, unsigned i);
void pci_vecs_sync_all(struct pci_vecs *s);
/* Move an eventfd trigger that arrived while not live into the pending bit; s->lock held. */
void pci_vecs_collect(struct pci_vecs *s, unsigned i);
void pci_vecs_notify(struct pci_vecs *s, unsigned i);
int pci_vecs_fd(struct pci_vecs *s, unsigned i, int *fd) WUR;
int pci_vecs_state(struct pci_vecs *s, unsigned i, struct pci_msi_vector *out, bool *pending) WUR;

#endif /* __STDC_HOSTED__ */
#endif
