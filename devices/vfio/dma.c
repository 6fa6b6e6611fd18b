/* SPDX-License-Identifier: MIT */
/*
 * Guest RAM mapped for the assigned devices' DMA, IOVA == GPA, through the container's type1
 * IOMMU.
 *
 * Mapping pins: the kernel faults in, zeroes and pins every page of guest RAM and the IOMMU
 * maps it, a cost that grows with RAM (seconds for 4 GiB of 4 KiB pages, more where the host
 * is itself a VM).  At start that work runs on a thread of its own while the guest boots.  A
 * device reaches memory only once the guest has set its Bus Master Enable (PCI Local Bus 3.0,
 * 6.2.2: with the bit clear a function issues no memory request, MSI included), so that
 * config write waits for the mapping (reset.c) and nothing else has to.  RAM goes in chunks of
 * VFIO_DMA_CHUNK, each its own type1 mapping, so a VM that stops during start-up waits for
 * one chunk rather than all of RAM.
 */
#include <errno.h>
#include <linux/vfio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "devices/vfio/internal.h"

int vfio_check_iova(const struct vfio_usable_range *ranges, unsigned nr,
                    const struct guest_mem *mem, uint64_t *bad_gpa)
{
	for (unsigned i = 0; i < mem->nr_ram; i++) {
		uint64_t start = mem->ram[i].gpa, last = start + mem->ram[i].size - 1;
		bool inside = !nr; /* no list from the kernel: nothing to check against */

		for (unsigned j = 0; j < nr && !inside; j++)
			inside = ranges[j].start <= start && last <= ranges[j].end;
		if (!inside) {
			*bad_gpa = start;
			return -ERANGE;
		}
	}
	return 0;
}

/* What can be known before pinning: the IOMMU reaches all of RAM, the memlock limit covers it. */
static int vfio_dma_check(struct vfio_container *c, const struct guest_mem *mem)
{
	uint64_t limit, bad;
	unsigned chunks;
	int r;

	if (vfio_check_iova(c->ranges, c->nr_ranges, mem, &bad)) {
		log_err("VFIO: guest RAM at %#llx is outside the host IOMMU's usable IOVA ranges, "
		        "so the device could not reach it; use less --memory",
		        (unsigned long long)bad);
		for (unsigned i = 0; i < c->nr_ranges; i++)
			log_err("  usable: %#llx-%#llx", (unsigned long long)c->ranges[i].start,
			        (unsigned long long)c->ranges[i].end);
		return -ERANGE;
	}
	r = c->sys->memlock_limit(c->sys->ctx, &limit);
	if (r == 0 && limit < mem->ram_size) {
		log_err("VFIO pins all guest RAM: the memlock limit is %llu KiB but %llu KiB are "
		        "needed; raise it (ulimit -l %llu, or memlock in "
		        "/etc/security/limits.conf) or run as root",
		        (unsigned long long)(limit >> 10),
		        (unsigned long long)(mem->ram_size >> 10),
		        (unsigned long long)(mem->ram_size >> 10));
		return -ENOMEM;
	}
	chunks = c->nr_dma; /* nothing, unless a caller maps twice (the kernel says EEXIST) */
	for (unsigned i = 0; i < mem->nr_ram; i++)
		chunks += (unsigned)((mem->ram[i].size + VFIO_DMA_CHUNK - 1) / VFIO_DMA_CHUNK);
	if (chunks > c->max_dma) {
		struct vfio_dma *d = realloc(c->dma, chunks * sizeof(*d));

		if (!d) {
			log_err("VFIO: no memory for a table of %u DMA mappings", chunks);
			return -ENOMEM;
		}
		c->dma = d;
		c->max_dma = chunks;
	}
	return 0;
}

static void vfio_dma_unmap_mapped(struct vfio_container *c)
{
	while (c->nr_dma) {
		struct vfio_dma *d = &c->dma[--c->nr_dma];
		struct vfio_iommu_type1_dma_unmap unmap = {
			.argsz = sizeof(unmap),
			.iova = d->iova,
			.size = d->size,
		};
		int r = c->sys->ioctl(c->sys->ctx, c->fd, VFIO_IOMMU_UNMAP_DMA, &unmap);

		if (r < 0)
			log_warn("VFIO_IOMMU_UNMAP_DMA iova %#llx: %s", (unsigned long long)d->iova,
			         strerror(-r));
	}
}

/*
 * Map RAM chunk by chunk, stopping (-ECANCELED) when the container is told to or *stop is
 * set.  On any failure what was mapped is unmapped.
 */
static int vfio_dma_map_chunks(struct vfio_container *c, const struct guest_mem *mem,
                               const _Atomic int *stop)
{
	uint64_t t0 = clock_ns();
	int r = 0;

	for (unsigned i = 0; i < mem->nr_ram; i++) {
		for (uint64_t off = 0; off < mem->ram[i].size; off += VFIO_DMA_CHUNK) {
			uint64_t left = mem->ram[i].size - off;
			struct vfio_iommu_type1_dma_map map = {
				.argsz = sizeof(map),
				.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
				.vaddr = (uintptr_t)mem->ram[i].hva + off,
				.iova = mem->ram[i].gpa + off,
				.size = left < VFIO_DMA_CHUNK ? left : VFIO_DMA_CHUNK,
			};

			if (atomic_load(&c->map_cancel) || (stop && atomic_load(stop))) {
				r = -ECANCELED;
				goto undo;
			}
			r = c->sys->ioctl(c->sys->ctx, c->fd, VFIO_IOMMU_MAP_DMA, &map);
			if (r < 0) {
				log_err("VFIO_IOMMU_MAP_DMA iova %#llx size %llu MiB: %s%s",
				        (unsigned long long)map.iova,
				        (unsigned long long)(map.size >> 20), strerror(-r),
				        r == -ENOMEM ? " (memlock limit or host memory too low)"
				                     : "");
				goto undo;
			}
			c->dma[c->nr_dma++] = (struct vfio_dma){ map.iova, map.size,
				                                 (uint8_t *)mem->ram[i].hva + off };
		}
	}
	log_info("VFIO: guest RAM pinned and mapped for DMA: %llu MiB in %.3f s",
	         (unsigned long long)(mem->ram_size >> 20), (double)(clock_ns() - t0) / 1e9);
	return 0;
undo:
	vfio_dma_unmap_mapped(c);
	return r;
}

static void vfio_dma_set_result(struct vfio_container *c, int r)
{
	pthread_mutex_lock(&c->map_lock);
	c->map_result = r;
	c->map_running = false;
	pthread_cond_broadcast(&c->map_cond);
	pthread_mutex_unlock(&c->map_lock);
}

/* Map on the calling thread, the result kept for vfio_container_map_wait(). */
static int vfio_dma_map_here(struct vfio_container *c, const struct guest_mem *mem)
{
	int r = vfio_dma_map_chunks(c, mem, NULL);

	vfio_dma_set_result(c, r);
	return r;
}

int vfio_container_map_ram(struct vfio_container *c, const struct guest_mem *mem)
{
	int r;

	if ((r = vfio_dma_check(c, mem)))
		return r;
	mem_prepare_pin(mem);
	return vfio_dma_map_here(c, mem);
}

static void *vfio_dma_thread(void *opaque)
{
	struct vfio_container *c = opaque;
	int r = vfio_dma_map_chunks(c, c->map_mem, c->map_stop);
	uint64_t one = 1;

	if (r == -ECANCELED)
		log_debug("VFIO: mapping guest RAM for DMA stopped: the VM stops");
	vfio_dma_set_result(c, r);
	if (c->map_efd >= 0 && write(c->map_efd, &one, sizeof(one)) < 0)
		log_debug("VFIO: DMA mapping's eventfd: %s", strerror(errno));
	return NULL;
}

int vfio_container_map_ram_start(struct vfio_container *c, const struct guest_mem *mem,
                                 const _Atomic int *stop, int done_efd)
{
	sigset_t all, old;
	int r;

	if ((r = vfio_dma_check(c, mem)))
		return r;
	mem_prepare_pin(mem);
	c->map_mem = mem;
	c->map_stop = stop;
	c->map_efd = done_efd;
	atomic_store(&c->map_cancel, false);
	pthread_mutex_lock(&c->map_lock);
	c->map_running = true;
	pthread_mutex_unlock(&c->map_lock);
	/* The thread takes no signal: they are the event loop's (signalfd) and the vCPUs'. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&c->map_thread, NULL, vfio_dma_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r == 0) {
		c->map_joinable = true;
		return 0;
	}
	log_debug("VFIO: no thread to map guest RAM (%s): mapping it before the guest runs",
	          strerror(r));
	return vfio_dma_map_here(c, mem);
}

int vfio_container_map_wait(struct vfio_container *c)
{
	int r;

	if (c->fd < 0)
		return 0;
	pthread_mutex_lock(&c->map_lock);
	while (c->map_running)
		pthread_cond_wait(&c->map_cond, &c->map_lock);
	r = c->map_result;
	pthread_mutex_unlock(&c->map_lock);
	return r;
}

void vfio_container_unmap_all(struct vfio_container *c)
{
	if (c->map_joinable) {
		atomic_store(&c->map_cancel, true);
		pthread_join(c->map_thread, NULL);
		c->map_joinable = false;
	}
	vfio_dma_unmap_mapped(c);
}
