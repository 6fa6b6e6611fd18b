/* SPDX-License-Identifier: MIT */
/* PIO and MMIO buses: sorted, non-overlapping ranges with binary-search dispatch. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

int bus_init(struct bus *bus, const char *name)
{
	int r;

	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	r = pthread_rwlock_init(&bus->lock, NULL);
	if (r) {
		log_err("pthread_rwlock_init for %s bus: %s", name, strerror(r));
		return -r;
	}
	ratelimit_init(&bus->unclaimed_rl, 10);
	return 0;
}

void bus_destroy(struct bus *bus)
{
	free(bus->ranges);
	bus->ranges = NULL;
	bus->nr = bus->cap = 0;
	pthread_rwlock_destroy(&bus->lock);
}

/* Index of the first range whose end is above addr (lower bound); caller holds the lock. */
static size_t bus_lower(const struct bus *bus, uint64_t addr)
{
	size_t lo = 0, hi = bus->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->ranges[mid];

		if (r->base + r->size - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int bus_insert(struct bus *bus, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
                      const char *name, bool quiet)
{
	size_t i;
	int r = 0;

	if (!size || base + size - 1 < base || !fn)
		return -EINVAL;
	pthread_rwlock_wrlock(&bus->lock);
	i = bus_lower(bus, base);
	if (i < bus->nr && bus->ranges[i].base <= base + size - 1) {
		const struct bus_range *o = &bus->ranges[i];

		if (quiet) {
			r = -EEXIST;
			goto out;
		}
		log_err("%s range %#llx-%#llx for %s overlaps %#llx-%#llx of %s", bus->name,
		        (unsigned long long)base, (unsigned long long)(base + size - 1), name,
		        (unsigned long long)o->base, (unsigned long long)(o->base + o->size - 1),
		        o->name);
		r = -EEXIST;
		goto out;
	}
	if (bus->nr == bus->cap) {
		size_t cap = bus->cap ? bus->cap * 2 : 16;
		struct bus_range *n = realloc(bus->ranges, cap * sizeof(*n));

		if (!n) {
			log_err("%s bus: out of memory registering %s", bus->name, name);
			r = -ENOMEM;
			goto out;
		}
		bus->ranges = n;
		bus->cap = cap;
	}
	memmove(&bus->ranges[i + 1], &bus->ranges[i], (bus->nr - i) * sizeof(*bus->ranges));
	bus->ranges[i] = (struct bus_range){ base, size, fn, opaque, name };
	bus->nr++;
out:
	pthread_rwlock_unlock(&bus->lock);
	return r;
}

int bus_register(struct bus *bus, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
                 const char *name)
{
	return bus_insert(bus, base, size, fn, opaque, name, false);
}

int bus_try_register(struct bus *bus, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
                     const char *name)
{
	return bus_insert(bus, base, size, fn, opaque, name, true);
}

int bus_unregister(struct bus *bus, uint64_t base, void *opaque)
{
	size_t i;
	int r = -ENOENT;

	pthread_rwlock_wrlock(&bus->lock);
	i = bus_lower(bus, base);
	if (i < bus->nr && bus->ranges[i].base == base && bus->ranges[i].opaque == opaque) {
		memmove(&bus->ranges[i], &bus->ranges[i + 1],
		        (bus->nr - i - 1) * sizeof(*bus->ranges));
		bus->nr--;
		r = 0;
	}
	pthread_rwlock_unlock(&bus->lock);
	return r;
}

static int bus_lookup(struct bus *bus, uint64_t addr, uint32_t len, struct bus_range *out)
{
	size_t i;
	int r = -ENOENT;

	pthread_rwlock_rdlock(&bus->lock);
	i = bus_lower(bus, addr);
	if (i < bus->nr) {
		const struct bus_range *b = &bus->ranges[i];

		if (b->base <= addr && addr - b->base + len <= b->size) {
			*out = *b;
			r = 0;
		}
	}
	pthread_rwlock_unlock(&bus->lock);
	return r;
}

int bus_find(struct bus *bus, uint64_t addr, struct bus_range *out)
{
	return bus_lookup(bus, addr, 1, out);
}

bool bus_access(struct bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write)
{
	struct bus_range b;
	uint32_t suppressed;

	if (len && len <= 8 && bus_lookup(bus, addr, len, &b) == 0) {
		/* Called unlocked: device objects outlive every vCPU, ranges may move meanwhile. */
		b.fn(b.opaque, addr - b.base, data, len, is_write);
		return true;
	}
	if (!is_write)
		memset(data, 0xff, len > 8 ? 8 : len);
	atomic_fetch_add_explicit(&bus->unclaimed, 1, memory_order_relaxed);
	if (ratelimit_allow(&bus->unclaimed_rl, &suppressed)) {
		if (suppressed)
			log_warn("%s: %u unclaimed accesses not shown", bus->name, suppressed);
		log_warn("unclaimed %s %s at %#llx, %u bytes", bus->name,
		         is_write ? "write" : "read", (unsigned long long)addr, len);
	}
	return false;
}
