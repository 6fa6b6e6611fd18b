/* SPDX-License-Identifier: MIT */
/* Guest RAM and the guest-physical map it is laid out in (core/mem.c). */
#ifndef HVMM_CORE_MEM_H
#define HVMM_CORE_MEM_H

#include "core/base.h"

/*
 * RAM fills [0, 3 GiB); the rest goes above 4 GiB.  The 3-4 GiB hole holds MMIO:
 */
#define MEM_LOW_END       GiB(3)
#define MEM_HIGH_BASE     GiB(4)
#define MEM_PCI_MMIO32    0xC0000000ull /* 32-bit PCI BAR window */
#define MEM_PCI_MMIO32_SZ MiB(512)
/*
 * PCIe ECAM for buses 0-31: bus 0 and one secondary bus for each of at most 31 root ports.
 * Not 256 buses: Linux probes every bus MCFG declares through 0xCF8/0xCFC at boot (the
 * peer-bridge scan), some 64 exits a bus.
 */
#define MEM_ECAM_BASE   0xE0000000ull
#define MEM_ECAM_BUSES  32
#define MEM_ECAM_SIZE   MiB(MEM_ECAM_BUSES)
#define MEM_IOAPIC_BASE 0xFEC00000ull
#define MEM_LAPIC_BASE  0xFEE00000ull
#define MEM_MIN_SIZE    MiB(2)
#define MEM_HUGE_ALIGN  MiB(2) /* guest RAM's host alignment (transparent huge pages) */
#define MEM_MAX_SIZE    GiB(1024)

/*
 * Where guest RAM comes from (--memory-backend).  Pinning all of it for an assigned device
 * costs the kernel work per page: with huge pages there are 512 times fewer of them.
 */
enum mem_backend {
	MEM_BACKEND_ANON,    /* private anonymous memory (the host's THP policy may give 2 MiB) */
	MEM_BACKEND_MEMFD,   /* a memfd (shmem), mapped shared: 4 KiB pages */
	MEM_BACKEND_HUGETLB, /* 2 MiB pages from the host's hugetlb pool, reserved at start */
};
#define MEM_HUGE_PAGE MiB(2) /* the one huge page size MEM_BACKEND_HUGETLB uses */

/* The host's pool of 2 MiB huge pages, as mem_host_probe() reads it from sysfs. */
struct mem_host {
	bool has_huge;      /* the kernel offers 2 MiB hugetlb pages at all */
	uint64_t huge_nr;   /* pages in the pool (vm.nr_hugepages) */
	uint64_t huge_free; /* free and not reserved by another mapping */
};

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct mem_region ram[2]; /* below 3 GiB, and above 4 GiB if RAM is larger */
	unsigned nr_ram;
	uint64_t ram_size;
	void *base; /* one host mapping holds all RAM */
	enum mem_backend backend;
};

/* Pure: split `ram_size` bytes into the x86 layout.  -EINVAL if the size is out of range. */
int mem_layout(uint64_t ram_size, struct mem_region out[2], unsigned *nr) WUR;
/*
 * All of RAM is about to be pinned (VFIO): ask for transparent huge pages for anonymous RAM,
 * which makes pinning and the IOMMU's and hypervisor's mappings cheaper.  Never fails: a
 * host that declines keeps its small pages.
 */
void mem_prepare_pin(const struct guest_mem *mem);
/* Reserve host memory for guest RAM (anonymous, lazily backed) and lay it out. */
int mem_init(struct guest_mem *mem, uint64_t ram_size) WUR;
/*
 * The same from `backend`.  Huge pages are reserved from the host's pool here, so a VM never
 * runs short of them later; a pool too small is refused with the number of pages to reserve
 * (-ENOMEM), a host without 2 MiB pages with -ENODEV, a size that is not a multiple of 2 MiB
 * with -EINVAL.  Anonymous and memfd RAM is backed on first touch.
 */
int mem_init_backed(struct guest_mem *mem, uint64_t ram_size, enum mem_backend backend) WUR;
/*
 * Pure: can `backend` hold `ram_size` bytes on a host with `host`'s pool?  *need = the huge
 * pages it takes (0 without huge pages).  0, or -EINVAL (size not a multiple of the page),
 * -ENODEV (no 2 MiB pages on this host), -ENOMEM (fewer than *need free).
 */
int mem_backend_check(enum mem_backend backend, uint64_t ram_size, const struct mem_host *host,
                      uint64_t *need) WUR;
/* Read the host's 2 MiB pool from sysfs; a host without one reads as has_huge false. */
void mem_host_probe(struct mem_host *host);
/* Pure: "anon", "memfd", "hugetlb" to the backend (-EINVAL otherwise), and back. */
int mem_backend_parse(const char *name, enum mem_backend *out) WUR;
const char *mem_backend_name(enum mem_backend backend);
void mem_destroy(struct guest_mem *mem);
/*
 * The one checked guest-address helper: host pointer for [gpa, gpa + len), which must lie
 * entirely in one RAM region (-EFAULT otherwise, also on overflow).  Never logs: a guest can
 * supply any address.
 */
int mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len, void **out) WUR;
/* Highest guest-physical RAM address + 1. */
uint64_t mem_top(const struct guest_mem *mem);

#endif
