/* SPDX-License-Identifier: MIT */
/* Guest RAM: the x86 layout and the one checked guest-address helper. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/mman.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

int mem_layout(uint64_t ram_size, struct mem_region out[2], unsigned *nr)
{
	if (ram_size < MEM_MIN_SIZE || ram_size > MEM_MAX_SIZE || (ram_size & 0xfff))
		return -EINVAL;
	memset(out, 0, 2 * sizeof(*out));
	out[0].gpa = 0;
	out[0].size = ram_size < MEM_LOW_END ? ram_size : MEM_LOW_END;
	*nr = 1;
	if (ram_size > MEM_LOW_END) {
		out[1].gpa = MEM_HIGH_BASE;
		out[1].size = ram_size - MEM_LOW_END;
		*nr = 2;
	}
	return 0;
}

static const char *const mem_backend_names[] = {
	[MEM_BACKEND_ANON] = "anon",
	[MEM_BACKEND_MEMFD] = "memfd",
	[MEM_BACKEND_HUGETLB] = "hugetlb",
};

int mem_backend_parse(const char *name, enum mem_backend *out)
{
	for (size_t i = 0; i < ARRAY_SIZE(mem_backend_names); i++) {
		if (name && !strcmp(name, mem_backend_names[i])) {
			*out = (enum mem_backend)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *mem_backend_name(enum mem_backend backend)
{
	return (size_t)backend < ARRAY_SIZE(mem_backend_names) ? mem_backend_names[backend] : "?";
}

int mem_backend_check(enum mem_backend backend, uint64_t ram_size, const struct mem_host *host,
                      uint64_t *need)
{
	*need = 0;
	if (backend != MEM_BACKEND_HUGETLB)
		return 0;
	*need = (ram_size + MEM_HUGE_PAGE - 1) / MEM_HUGE_PAGE;
	if (ram_size % MEM_HUGE_PAGE)
		return -EINVAL;
	if (!host->has_huge)
		return -ENODEV;
	return host->huge_free < *need ? -ENOMEM : 0;
}

/* One number from a sysfs file; false if it cannot be read. */
static bool mem_read_u64(const char *path, uint64_t *out)
{
	char buf[32];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;
	*out = strtoull(buf, NULL, 10);
	return true;
}

void mem_host_probe(struct mem_host *host)
{
	static const char dir[] = "/sys/kernel/mm/hugepages/hugepages-2048kB/";
	char path[128];
	uint64_t free_pages = 0, resv = 0;

	memset(host, 0, sizeof(*host));
	snprintf(path, sizeof(path), "%snr_hugepages", dir);
	host->has_huge = mem_read_u64(path, &host->huge_nr);
	snprintf(path, sizeof(path), "%sfree_hugepages", dir);
	if (!mem_read_u64(path, &free_pages))
		return;
	/* Reserved pages are free but promised to mappings that have not touched them yet. */
	snprintf(path, sizeof(path), "%sresv_hugepages", dir);
	if (!mem_read_u64(path, &resv))
		resv = 0;
	host->huge_free = free_pages > resv ? free_pages - resv : 0;
}

/*
 * A 2 MiB-aligned stretch of address space for `size` bytes, reserved (no access, nothing
 * backing it) so that a mapping can be placed over it with MAP_FIXED.  Over-allocate by one
 * huge page and trim: only RAM that starts 2 MiB-aligned can be backed by transparent huge
 * pages, and KVM maps the guest's RAM with 2 MiB pages only where the host does.
 */
static int mem_reserve_aligned(uint64_t size, int prot, int flags, void **out)
{
	void *raw = mmap(NULL, size + MEM_HUGE_ALIGN, prot, flags, -1, 0);
	uintptr_t head;

	if (raw == MAP_FAILED)
		return -errno;
	head = (MEM_HUGE_ALIGN - ((uintptr_t)raw & (MEM_HUGE_ALIGN - 1))) & (MEM_HUGE_ALIGN - 1);
	/* Both trims are of pages this mmap just made; munmap cannot fail on them. */
	if (head)
		munmap(raw, head);
	munmap((uint8_t *)raw + head + size, MEM_HUGE_ALIGN - head);
	*out = (uint8_t *)raw + head;
	return 0;
}

/*
 * Anonymous RAM, NORESERVE: backed on first touch, so a large guest costs nothing up front.
 * The host's THP policy decides about huge pages (Debian's kernel: "always"): hvmm does
 * not ask for them with MADV_HUGEPAGE, since every first touch then faults in 2 MiB, so a
 * guest touching a little of its RAM pays for much more -- except when all of it is pinned
 * for VFIO anyway (mem_prepare_pin()).  --memory-backend hugetlb is the way to ask.
 */
static int mem_map_anon(uint64_t size, void **out)
{
	int r = mem_reserve_aligned(size, PROT_READ | PROT_WRITE,
	                            MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, out);

	if (r)
		log_err("mmap of %llu MiB guest RAM: %s", (unsigned long long)(size >> 20),
		        strerror(-r));
	return r;
}

/* A memfd (shmem) mapped shared: RAM another process could map too, backed on first touch. */
static int mem_map_memfd(uint64_t size, void **out)
{
	void *base, *p;
	int fd, r;

	fd = memfd_create("hvmm-ram", MFD_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		log_err("memfd_create for guest RAM: %s", strerror(errno));
		return r;
	}
	if (ftruncate(fd, (off_t)size) < 0) {
		r = -errno;
		log_err("ftruncate of the guest RAM memfd to %llu MiB: %s",
		        (unsigned long long)(size >> 20), strerror(errno));
		goto out;
	}
	r = mem_reserve_aligned(size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
	                        &base);
	if (r) {
		log_err("mmap of %llu MiB address space for guest RAM: %s",
		        (unsigned long long)(size >> 20), strerror(-r));
		goto out;
	}
	p = mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		log_err("mmap of the guest RAM memfd: %s", strerror(errno));
		munmap(base, size);
		goto out;
	}
	*out = p;
out:
	/* The mapping holds the file from here on. */
	close(fd);
	return r;
}

/* The hugetlb pool's pages for RAM, reserved now (no MAP_NORESERVE), 2 MiB-aligned. */
static int mem_map_hugetlb(uint64_t size, void **out)
{
	struct mem_host host;
	uint64_t need;
	void *p;
	int r;

	mem_host_probe(&host);
	r = mem_backend_check(MEM_BACKEND_HUGETLB, size, &host, &need);
	if (r == -EINVAL) {
		log_err("--memory-backend hugetlb: guest RAM must be a multiple of 2 MiB; %llu KiB "
		        "is not (use --memory %lluM)",
		        (unsigned long long)(size >> 10), (unsigned long long)(need * 2));
		return r;
	}
	if (r == -ENODEV) {
		log_err(
		    "--memory-backend hugetlb: this host's kernel offers no 2 MiB huge pages "
		    "(no /sys/kernel/mm/hugepages/hugepages-2048kB); use --memory-backend anon");
		return r;
	}
	if (r == 0) {
		p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		         MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
		if (p != MAP_FAILED) {
			*out = p;
			return 0;
		}
		r = -errno;
		if (r != -ENOMEM) {
			log_err("mmap of %llu MiB guest RAM in 2 MiB huge pages: %s",
			        (unsigned long long)(size >> 20), strerror(errno));
			return r;
		}
		mem_host_probe(&host); /* another process took them meanwhile */
	}
	log_err("--memory-backend hugetlb: %llu MiB of guest RAM needs %llu free 2 MiB huge pages "
	        "and the host has %llu free (of %llu); reserve more as root with 'echo %llu > "
	        "/proc/sys/vm/nr_hugepages', or hugepages=%llu on the host kernel's command line",
	        (unsigned long long)(size >> 20), (unsigned long long)need,
	        (unsigned long long)host.huge_free, (unsigned long long)host.huge_nr,
	        (unsigned long long)(host.huge_nr + need - host.huge_free),
	        (unsigned long long)(host.huge_nr + need - host.huge_free));
	return -ENOMEM;
}

int mem_init(struct guest_mem *mem, uint64_t ram_size)
{
	return mem_init_backed(mem, ram_size, MEM_BACKEND_ANON);
}

int mem_init_backed(struct guest_mem *mem, uint64_t ram_size, enum mem_backend backend)
{
	void *base = NULL;
	int r;

	memset(mem, 0, sizeof(*mem));
	r = mem_layout(ram_size, mem->ram, &mem->nr_ram);
	if (r) {
		log_err("guest memory size %llu is out of range (%llu bytes to %llu GiB, 4 KiB "
		        "multiple)",
		        (unsigned long long)ram_size, (unsigned long long)MEM_MIN_SIZE,
		        (unsigned long long)(MEM_MAX_SIZE >> 30));
		return r;
	}
	switch (backend) {
	case MEM_BACKEND_ANON:
		r = mem_map_anon(ram_size, &base);
		break;
	case MEM_BACKEND_MEMFD:
		r = mem_map_memfd(ram_size, &base);
		break;
	case MEM_BACKEND_HUGETLB:
		r = mem_map_hugetlb(ram_size, &base);
		break;
	default:
		log_err("unknown guest memory backend %d", (int)backend);
		r = -EINVAL;
	}
	if (r) {
		mem->nr_ram = 0;
		return r;
	}
	madvise(base, ram_size, MADV_DONTDUMP);
	mem->base = base;
	mem->ram_size = ram_size;
	mem->backend = backend;
	mem->ram[0].hva = base;
	if (mem->nr_ram == 2)
		mem->ram[1].hva = (uint8_t *)base + mem->ram[0].size;
	log_debug("guest RAM: %llu MiB, %s", (unsigned long long)(ram_size >> 20),
	          mem_backend_name(backend));
	return 0;
}

void mem_prepare_pin(const struct guest_mem *mem)
{
	/*
	 * Pinning faults in every page, so the reason anonymous RAM goes without MADV_HUGEPAGE
	 * (mem_map_anon()) is gone; and without the advice, the host's default THP defrag
	 * policy ("madvise") hands out 4 KiB pages wherever no free 2 MiB page is at hand,
	 * each then pinned, and mapped by the IOMMU and the hypervisor, one by one.
	 */
	if (mem->backend != MEM_BACKEND_ANON || !mem->base)
		return;
	if (madvise(mem->base, mem->ram_size, MADV_HUGEPAGE) < 0)
		log_debug("madvise MADV_HUGEPAGE on guest RAM: %s", strerror(errno));
}

void mem_destroy(struct guest_mem *mem)
{
	if (mem->base)
		munmap(mem->base, mem->ram_size);
	mem->base = NULL;
	mem->nr_ram = 0;
}

int mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len, void **out)
{
	for (unsigned i = 0; i < mem->nr_ram; i++) {
		const struct mem_region *r = &mem->ram[i];

		if (gpa < r->gpa || gpa - r->gpa >= r->size)
			continue;
		if (len > r->size - (gpa - r->gpa))
			return -EFAULT;
		*out = r->hva + (gpa - r->gpa);
		return 0;
	}
	return -EFAULT;
}

uint64_t mem_top(const struct guest_mem *mem)
{
	const struct mem_region *r = &mem->ram[mem->nr_ram - 1];

	return r->gpa + r->size;
}
