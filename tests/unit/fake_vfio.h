/* SPDX-License-Identifier: MIT */
/*
 * A fake VFIO kernel held in memory, behind struct vfio_sys (fake_vfio.c: the host, container,
 * groups and DMA; fake_vfio_dev.c: the device fd, its interrupts, resets and regions;
 * fake_vfio_cfg.c: vfio-pci's config-space virtualization).  It is only worth what it
 * refuses: every rule it enforces cites the Linux source it copies (file and function), and
 * it answers what the real one answers (positive SET_IRQS counts, -EIO on a BAR whose memory
 * is off, restored COMMAND after a reset).  Test-only: its state is file-global.
 */
#ifndef HVMM_TESTS_FAKE_VFIO_H
#define HVMM_TESTS_FAKE_VFIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vfio_sys;
struct vfio_iommu_type1_dma_map;

#define FAKE_VFIO_DEVS    4
#define FAKE_VFIO_VECS    2048
#define FAKE_VFIO_MAPS    32
#define FAKE_VFIO_DMA     64
#define FAKE_VFIO_BAR0    16384
#define FAKE_VFIO_WIDTHS  16
#define FAKE_VFIO_NO_IRQS (-1) /* irq_type: nothing enabled (vfio-pci: VFIO_PCI_NUM_IRQS) */

/* One PCI function bound to vfio-pci.  Tests set the first block, then open it. */
struct fake_vfio_dev {
	const char *name;      /* "0000:01:00.0" */
	bool exists;           /* /sys/bus/pci/devices/<name> */
	const char *driver;    /* "vfio-pci", "nvme", NULL for none */
	int group;             /* IOMMU group; -1: no iommu_group link */
	bool reset_works;      /* VFIO_DEVICE_FLAGS_RESET: a function reset exists */
	int reset_err;         /* what VFIO_DEVICE_RESET answers now (-EAGAIN: device lock busy) */
	bool bus_reset;        /* a slot or bus reset exists (hot reset) */
	bool dyn_msix;         /* Linux >= 6.5 with dynamic MSI-X: NORESIZE clear for MSI-X */
	uint32_t host_vectors; /* MSI/MSI-X vectors the host can give (0: as many as asked) */
	bool mmap_ok[6];       /* bar_mmap_supported[]: MMAP flag and mmap allowed */
	uint8_t config[4096];  /* the hardware's config space */
	uint32_t config_size;
	uint64_t bar_size[6];
	uint8_t rom[8192];
	uint32_t rom_size;  /* 0: no ROM */
	bool intx_no_irq;   /* the host routed no IRQ to the device: no INTx (pdev->irq 0) */
	bool intx_no_2_3;   /* no INTx masking in COMMAND (pci_intx_mask_supported() false) */
	unsigned nr_sparse; /* sparse-mmap areas of BAR0 reported (0: none) */
	uint64_t sparse_off[4], sparse_size[4];
	uint8_t bar0[FAKE_VFIO_BAR0] __attribute__((aligned(4096)));

	/* vfio-pci's state for the device (set up when its fd is opened). */
	uint8_t vconfig[4096];    /* virtualized bytes */
	uint8_t virt[4096];       /* bits read from and written to vconfig */
	uint8_t wr[4096];         /* bits a write may change */
	uint8_t map[4096];        /* capability id covering each byte (0xff: none) */
	bool ext[4096];           /* map[] holds an extended capability id */
	uint64_t bar_flags_v[7];  /* BAR type flags vfio-pci regenerates */
	int irq_type;             /* VFIO_PCI_*_IRQ_INDEX enabled, FAKE_VFIO_NO_IRQS */
	bool intx_masked;         /* ctx[0].masked: the INTx line masked on the host */
	bool virq_disabled;       /* the user's INTx-disable bit in COMMAND */
	bool intx_line;           /* the device asserts its INTx line */
	uint32_t nvec;            /* vectors allocated for it */
	int trig[FAKE_VFIO_VECS]; /* eventfd wired to each vector, -1 */
	int err_fd, req_fd;
	unsigned fds_open;

	/* What the fake saw. */
	unsigned resets, hot_resets, rom_reads, set_irqs_calls, irq_enables, irq_disables;
	unsigned cfg_reads, cfg_writes;
	unsigned intx_enables, intx_disables, intx_signals, intx_mask_calls, intx_unmask_calls;
	unsigned vndr_writes; /* chunks written to a vendor-specific capability */
	uint8_t vndr_width[FAKE_VFIO_WIDTHS];
};

/* The host as the fake shows it; tests set fields before calling into devices/vfio. */
struct fake_vfio {
	bool dev_vfio_nodes; /* /dev/vfio/vfio and /dev/vfio/<group> exist */
	int open_err;        /* error for opening a group node */
	bool viable;
	int set_container_err; /* e.g. -EPERM without interrupt remapping */
	int set_iommu_err;
	int map_err;
	uint64_t memlock; /* UINT64_MAX: unlimited */
	/* Other members of the first device's group, for the viability diagnostic. */
	const char *group_extra[4];
	const char *extra_drivers[4];
	/* A device on a fake device's bus that a bus reset also hits, in another group. */
	const char *bus_extra;
	int bus_extra_group;
	struct fake_vfio_dev dev[FAKE_VFIO_DEVS];
	unsigned nr_devs;

	/* Kernel state. */
	bool container_open, iommu_set;
	unsigned groups_set[8]; /* group ids attached to the container */
	unsigned nr_groups_set;
	struct {
		uint8_t *addr;
		size_t len;
		unsigned dev;
	} maps[FAKE_VFIO_MAPS];
	struct {
		uint64_t iova, size, vaddr;
	} dma[FAKE_VFIO_DMA];
	unsigned nr_dma;
	/*
	 * Called at each VFIO_IOMMU_MAP_DMA before it takes effect, on the caller's thread (a
	 * test holds the mapping there to see what waits for it).
	 */
	void (*on_map)(const struct vfio_iommu_type1_dma_map *m);

	/*
	 * Called when vfio-pci would revoke a device's BAR mmaps (zap_vma_ptes(): memory decode
	 * off, D3hot, a reset), so a test can look at what the VMM still maps over them.
	 */
	void (*on_zap)(struct fake_vfio_dev *d);

	/* What the fake saw. */
	unsigned zaps, dma_maps, dma_unmaps, open_fds;
	uint64_t dma_iova[FAKE_VFIO_DMA], dma_size[FAKE_VFIO_DMA]; /* of each MAP_DMA, in order */
};

extern const struct vfio_sys fake_vfio_sys;
/* Reset `f` to a healthy host with one NVMe-like device 0000:01:00.0 in group 7. */
void fake_vfio_init(struct fake_vfio *f);
/* The fake_vfio_sys calls operate on this one. */
void fake_vfio_use(struct fake_vfio *f);
/* Another device like dev[0] called `name` in IOMMU group `group`; its index. */
unsigned fake_vfio_add_dev(struct fake_vfio *f, const char *name, int group);
/*
 * Link a capability `id` of `len` bytes at `at` into dev's standard list (after the last) or,
 * for at >= 0x100, its extended list; the body is zero for the test to fill.
 */
void fake_vfio_add_cap(struct fake_vfio_dev *d, uint16_t id, uint32_t at, uint32_t len);
/* Offset of capability `id` in dev's hardware config space (0: none). */
uint32_t fake_vfio_cap(const struct fake_vfio_dev *d, uint16_t id, bool ext);
/* The eventfd vfio-pci signals for `vector` of interrupt `index`, -1 if none. */
int fake_vfio_trigger(const struct fake_vfio_dev *d, unsigned index, unsigned vector);
/*
 * The device drives its INTx line to `level` (its Interrupt Status bit follows); vfio-pci's
 * interrupt handler runs for a rising line it has not masked: it masks the line and signals
 * the trigger (vfio_intx_handler()).
 */
void fake_vfio_intx_line(struct fake_vfio_dev *d, bool level);
/*
 * Whether a CPU access to [hva, hva + len) of a BAR mmap would succeed now: vfio-pci faults
 * with SIGBUS while the device's memory is disabled or it is in D3hot (vfio_pci_core.c,
 * vfio_pci_mmap_huge_fault and __vfio_pci_memory_enabled).  True outside the fake's mmaps.
 */
bool fake_vfio_mmap_ok(const void *hva, size_t len);
/* The device's power state as the hardware has it (PMCSR), 0-3. */
unsigned fake_vfio_power(const struct fake_vfio_dev *d);

/* For fake_vfio_dev.c and fake_vfio_cfg.c. */
struct fake_vfio *fake_vfio_cur(void);
void fake_vfio_cfg_init(struct fake_vfio_dev *d);
int fake_vfio_cfg_rw(struct fake_vfio_dev *d, uint8_t *buf, size_t len, uint64_t off, bool write);
void fake_vfio_function_reset(struct fake_vfio_dev *d);
int fake_vfio_dev_ioctl(struct fake_vfio_dev *d, unsigned long req, void *arg);
long fake_vfio_dev_rw(struct fake_vfio_dev *d, void *buf, size_t len, uint64_t off, bool write);
bool fake_vfio_is_eventfd(int fd);
/* The IOMMU group a fake group fd stands for, -1 if fd is none. */
int fake_vfio_fd_group(int fd);
bool fake_vfio_memory_on(const struct fake_vfio_dev *d);
void fake_vfio_zap(struct fake_vfio_dev *d);
/* vfio_pci_intx_mask() and vfio_pci_intx_unmask(), for the INTx-disable bit of COMMAND. */
void fake_vfio_intx_mask(struct fake_vfio_dev *d);
void fake_vfio_intx_unmask(struct fake_vfio_dev *d);

#endif
