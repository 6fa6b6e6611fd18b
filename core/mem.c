/* SPDX-License-Identifier: MIT */
/* Guest RAM: the x86 layout and the one checked guest-address helper. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

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

int mem_init(struct guest_mem *mem, uint64_t ram_size)
{
	void *raw, *base;
	uintptr_t head;
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
	/*
	 * NORESERVE: RAM is backed on first touch, so a large guest costs nothing up front.
	 * Over-allocate by one huge page and trim, so the RAM starts 2 MiB-aligned: only then
	 * can a host that backs anonymous memory with transparent huge pages do so here, and
	 * KVM map the guest's RAM with 2 MiB pages (fewer stage-2 faults and TLB misses).
	 * The host's policy decides (Debian's default is "always"): hvmm does not ask for them
	 * with MADV_HUGEPAGE where the host leaves it to the program, since every first touch
	 * then faults in 2 MiB, so a guest touching a little of its RAM pays for much more.
	 */
	raw = mmap(NULL, ram_size + MEM_HUGE_ALIGN, PROT_READ | PROT_WRITE,
	           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED) {
		r = -errno;
		log_err("mmap of %llu MiB guest RAM: %s", (unsigned long long)(ram_size >> 20),
		        strerror(errno));
		return r;
	}
	head = (MEM_HUGE_ALIGN - ((uintptr_t)raw & (MEM_HUGE_ALIGN - 1))) & (MEM_HUGE_ALIGN - 1);
	base = (uint8_t *)raw + head;
	/* Both trims are of pages this mmap just made; munmap cannot fail on them. */
	if (head)
		munmap(raw, head);
	munmap((uint8_t *)base + ram_size, MEM_HUGE_ALIGN - head);
	madvise(base, ram_size, MADV_DONTDUMP);
	mem->base = base;
	mem->ram_size = ram_size;
	mem->ram[0].hva = base;
	if (mem->nr_ram == 2)
		mem->ram[1].hva = (uint8_t *)base + mem->ram[0].size;
	return 0;
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
