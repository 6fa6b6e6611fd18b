/* SPDX-License-Identifier: MIT */
/*
 * Private to devices/vfio/ (and its tests), like internal.h, which includes it: the host's
 * VFIO kernel interface as the module's files use it -- the syscall table (sys.c),
 * diagnostics (diag.c), the container and groups (container.c), guest RAM mapped for DMA
 * (dma.c), and the device fd with
 * its regions, interrupts and resets (device.c).  Nothing here knows about PCI emulation.
 */
#ifndef HVMM_VFIO_KERNEL_H
#define HVMM_VFIO_KERNEL_H

#include <pthread.h>
#include <stdatomic.h>
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
#define VFIO_MAX_IOVA_RANGES 16
/* Guest RAM is mapped in pieces of at most this size (dma.c says why). */
#define VFIO_DMA_CHUNK MiB(256)

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
	struct vfio_dma *dma; /* what is mapped, one entry per chunk */
	unsigned nr_dma, max_dma;
	struct vfio_usable_range ranges[VFIO_MAX_IOVA_RANGES];
	unsigned nr_ranges; /* 0: the kernel did not say */
	uint64_t pgsize_mask;
	/*
	 * The mapping thread (vfio_container_map_ram_start()).  map_lock and map_cond guard
	 * map_running and map_result; while it runs, the thread alone touches dma and nr_dma.
	 */
	pthread_mutex_t map_lock;
	pthread_cond_t map_cond;
	pthread_t map_thread;
	bool map_joinable; /* started and not yet joined (by the caller of ..._start() only) */
	bool map_running;
	int map_result; /* of the last mapping: 0, or -errno (-ECANCELED: stopped) */
	_Atomic bool map_cancel;
	const _Atomic int *map_stop; /* the VM's stopping flag: nonzero ends the mapping early */
	const struct guest_mem *map_mem;
	int map_efd; /* written once the thread is done, either way; -1 for none */
};

/* Open /dev/vfio/vfio and check the API version and type1v2 support. */
int vfio_container_open(const struct vfio_sys *sys, struct vfio_container *c) WUR;
/*
 * Open group `id` (once; later calls count users), check it is viable, attach it to the
 * container and, on the first group, select the type1v2 IOMMU and read its IOVA ranges.
 */
int vfio_container_add_group(struct vfio_container *c, unsigned id, struct vfio_group **out) WUR;
void vfio_container_put_group(struct vfio_container *c, struct vfio_group *g);
void vfio_container_close(struct vfio_container *c);

/* ---- guest RAM mapped for DMA (dma.c) ------------------------------------------------------- */

/*
 * Map every guest RAM region IOVA == GPA, here and now.  Checks the layout against the
 * IOMMU's usable ranges and the memlock limit first, naming the size needed; on a failure
 * nothing stays mapped.
 */
int vfio_container_map_ram(struct vfio_container *c, const struct guest_mem *mem) WUR;
/*
 * The same on a thread of its own, so the guest boots while RAM is pinned: the checks run
 * here (their error returned, nothing started), the mapping on the thread, which stops
 * early (-ECANCELED) once *stop is nonzero, logs its failure, and writes 1 to done_efd
 * (if >= 0) when it ends, either way.  Maps here when no thread can be started.
 */
int vfio_container_map_ram_start(struct vfio_container *c, const struct guest_mem *mem,
                                 const _Atomic int *stop, int done_efd) WUR;
/*
 * Wait until no mapping runs; the last mapping's result (0 if none ran).  What must not
 * happen before guest RAM is mapped (a device's bus mastering) waits here.
 */
int vfio_container_map_wait(struct vfio_container *c) WUR;
/* Stop a mapping that runs (waiting for its current chunk), then unmap everything mapped. */
void vfio_container_unmap_all(struct vfio_container *c);

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
/* An action without data on vector 0 of interrupt `index` (INTx's MASK and UNMASK); logged. */
int vfio_device_irq_action(struct vfio_device *d, unsigned index, uint32_t action) WUR;
/*
 * Reset the function: VFIO_DEVICE_RESET, or without one a hot reset of its bus when every
 * device that reset hits is in a group of this VM's container.  -ENOTSUP (logged) when
 * neither is possible; callers go on with an unreset device.
 */
int vfio_device_reset(struct vfio_device *d) WUR;

#endif
