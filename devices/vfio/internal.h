/* SPDX-License-Identifier: MIT */
/* Private to devices/vfio/ (and its tests): what its files share.  See vfio.h for the split. */
#ifndef HVMM_VFIO_INTERNAL_H
#define HVMM_VFIO_INTERNAL_H

#include <sys/types.h>

#include "devices/vfio/vfio.h"

/* ---- the syscall table (sys.c) ------------------------------------------------------------ */

/*
 * Thin wrappers over the calls VFIO needs.  Each returns what the syscall returns on success
 * and a negative errno on failure (never -1 with errno), so fakes need no errno games.
 */
struct vfio_sys {
	void *ctx;
	int (*open)(void *ctx, const char *path, int flags);
	int (*close)(void *ctx, int fd);
	int (*ioctl)(void *ctx, int fd, unsigned long req, void *arg);
	ssize_t (*pread)(void *ctx, int fd, void *buf, size_t len, off_t off);
	ssize_t (*pwrite)(void *ctx, int fd, const void *buf, size_t len, off_t off);
	/* Returns MAP_FAILED and sets *err on failure. */
	void *(*mmap)(void *ctx, size_t len, int prot, int flags, int fd, off_t off, int *err);
	int (*munmap)(void *ctx, void *addr, size_t len);
	/* sysfs and /dev look-ups for diagnostics: readlink(2) into buf (NUL-terminated). */
	int (*readlink)(void *ctx, const char *path, char *buf, size_t len);
	/* Read a small text file (sysfs attribute) into buf, NUL-terminated, newline stripped. */
	int (*read_text)(void *ctx, const char *path, char *buf, size_t len);
	/* Call fn for each entry name of a directory (not . and ..); -errno if it cannot be read.
	 */
	int (*list_dir)(void *ctx, const char *path, void (*fn)(void *arg, const char *name),
	                void *arg);
	/* access(2) with F_OK. */
	bool (*exists)(void *ctx, const char *path);
	/* How much may be pinned: RLIMIT_MEMLOCK, or UINT64_MAX with CAP_IPC_LOCK or no limit. */
	int (*memlock_limit)(void *ctx, uint64_t *out);
};

/* The host's real calls. */
extern const struct vfio_sys vfio_sys_host;
/* vfio_assign_all() on the calls of `sys` (the tests' fake VFIO kernel). */
int vfio_assign_all_sys(struct vm *vm, struct pci_root *root, const struct vfio_spec *specs,
                        unsigned n, bool hotplug, const struct vfio_sys *sys,
                        struct vfio_assign **out) WUR;

/* ---- diagnostics (diag.c) ------------------------------------------------------------------ */

/*
 * Find the IOMMU group of `bdf` and check the device can be assigned: it exists, is bound to
 * vfio-pci, its group's /dev/vfio node exists.  On failure logs what is wrong and the
 * commands that fix it, and returns -ENODEV (no device / no IOMMU / no VFIO), -EBUSY (bound to
 * another driver) or -EACCES.
 */
int vfio_diag_check_device(const struct vfio_sys *sys, const struct vfio_bdf *bdf,
                           unsigned *group) WUR;
/* Log the devices of `group` and their drivers (for a group that is not viable). */
void vfio_diag_group_members(const struct vfio_sys *sys, unsigned group);
/* Log why interrupt remapping matters and how to allow unsafe interrupts (EPERM on attach). */
void vfio_diag_no_intr_remap(void);
/* True if the kernel offers iommufd and the VFIO device cdev (/dev/iommu, /dev/vfio/devices). */
bool vfio_diag_have_iommufd(const struct vfio_sys *sys);

/* ---- container, groups and DMA (container.c) ------------------------------------------------ */

struct vfio_group {
	unsigned id;
	int fd;
	unsigned users;
	bool hv_added; /* the hypervisor was told (KVM-VFIO device): once per group */
};

/* An IOVA range the IOMMU can translate. */
struct vfio_usable_range {
	uint64_t start, end; /* inclusive */
};

#define VFIO_MAX_GROUPS      16
#define VFIO_MAX_DMA         8
#define VFIO_MAX_IOVA_RANGES 16

struct vfio_dma {
	uint64_t iova, size;
	void *hva;
};

/*
 * One container per VM: every assigned device's group joins it, so guest RAM is pinned and
 * mapped once whatever the number of devices.
 */
struct vfio_container {
	const struct vfio_sys *sys;
	int fd;
	bool iommu_set;
	struct vfio_group groups[VFIO_MAX_GROUPS];
	unsigned nr_groups;
	struct vfio_dma dma[VFIO_MAX_DMA];
	unsigned nr_dma;
	struct vfio_usable_range ranges[VFIO_MAX_IOVA_RANGES];
	unsigned nr_ranges; /* 0: the kernel did not say */
	uint64_t pgsize_mask;
};

/* Open /dev/vfio/vfio and check the API version and type1v2 support. */
int vfio_container_open(const struct vfio_sys *sys, struct vfio_container *c) WUR;
/*
 * Open group `id` (once; later calls count users), check it is viable, attach it to the
 * container and, on the first group, select the type1v2 IOMMU and read its IOVA ranges.
 */
int vfio_container_add_group(struct vfio_container *c, unsigned id, struct vfio_group **out) WUR;
void vfio_container_put_group(struct vfio_container *c, struct vfio_group *g);
/*
 * Map every guest RAM region IOVA == GPA.  Checks the layout against the IOMMU's usable
 * ranges and the memlock limit first, naming the size needed.
 */
int vfio_container_map_ram(struct vfio_container *c, const struct guest_mem *mem) WUR;
/* Unmap everything mapped; safe to call twice. */
void vfio_container_unmap_all(struct vfio_container *c);
void vfio_container_close(struct vfio_container *c);

/* Pure: -ERANGE if some [gpa, gpa+size) of `mem` is not inside one of `ranges`. */
int vfio_check_iova(const struct vfio_usable_range *ranges, unsigned nr,
                    const struct guest_mem *mem, uint64_t *bad_gpa) WUR;

/* ---- the device fd, regions and interrupts (device.c) --------------------------------------- */

#define VFIO_MAX_REGIONS   9 /* BAR0-5, ROM, config, VGA */
#define VFIO_MAX_IRQS      5 /* INTx, MSI, MSI-X, ERR, REQ */
#define VFIO_MAX_SPARSE    8
#define VFIO_REGION_BAR0   0
#define VFIO_REGION_ROM    6
#define VFIO_REGION_CONFIG 7
#define VFIO_IRQ_INTX      0
#define VFIO_IRQ_MSI       1
#define VFIO_IRQ_MSIX      2

struct vfio_area {
	uint64_t offset, size; /* within the region */
};

struct vfio_region {
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_* */
	uint64_t size;
	uint64_t offset; /* of the region in the device fd */
	/* Where mmap is allowed; one whole-region area when the kernel gives no sparse list. */
	struct vfio_area areas[VFIO_MAX_SPARSE];
	unsigned nr_areas;
};

struct vfio_irq {
	uint32_t flags; /* VFIO_IRQ_INFO_* */
	uint32_t count;
};

struct vfio_device {
	struct vfio_container *c;
	struct vfio_group *group;
	struct vfio_bdf bdf;
	char name[16];
	int fd;
	uint32_t flags; /* VFIO_DEVICE_FLAGS_* */
	uint32_t nr_regions, nr_irqs;
	struct vfio_region regions[VFIO_MAX_REGIONS];
	struct vfio_irq irqs[VFIO_MAX_IRQS];
};

/*
 * Check the device (naming the fix on failure), join its group to the container, get the
 * device fd and read its region and interrupt information.
 */
int vfio_device_open(struct vfio_container *c, const struct vfio_bdf *bdf,
                     struct vfio_device *d) WUR;
void vfio_device_close(struct vfio_device *d);
/* pread/pwrite in region `index`; short transfers are -EIO.  Bounds-checked against its size. */
int vfio_region_read(struct vfio_device *d, unsigned index, uint64_t off, void *buf,
                     size_t len) WUR;
int vfio_region_write(struct vfio_device *d, unsigned index, uint64_t off, const void *buf,
                      size_t len) WUR;
/*
 * Point vectors [start, start + count) of interrupt `index` at eventfds (-1 detaches one);
 * count 0 disables the whole index.  A host that can give fewer vectors than an enable asks
 * for enables none and says how many it has: -ENOSPC, *avail set (unless NULL, then logged).
 */
int vfio_device_set_irqs(struct vfio_device *d, unsigned index, uint32_t start, uint32_t count,
                         const int *fds, uint32_t *avail) WUR;
/*
 * Reset the function: VFIO_DEVICE_RESET, or without one a hot reset of its bus when every
 * device that reset hits is in a group of this VM's container.  -ENOTSUP (logged) when
 * neither is possible; callers go on with an unreset device.
 */
int vfio_device_reset(struct vfio_device *d) WUR;

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
/* Print the counters of one device at `level`. */
void vfio_stats_print(struct vfio_pci *vp, enum log_level level);

/* ---- the VM's assigned devices (assign.c, hotplug.c) ---------------------------------------- */

#define VFIO_MAX_DEVICES 8

struct vfio_assign {
	struct vm *vm;
	struct pci_root *root;
	const struct vfio_sys *sys;
	struct vfio_container c; /* opened with the first device (c.fd < 0 before) */
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
