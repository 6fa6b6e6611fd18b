/* SPDX-License-Identifier: MIT */
/*
 * PIO and MMIO buses: sorted, non-overlapping ranges with binary-search dispatch; lookups
 * take no lock (see struct bus in core/bus.h).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/bus.h"

/* A sorted array of ranges; `cap` never changes once the array is published. */
struct bus_array {
	struct bus_array *next_retired;
	size_t cap;
	struct bus_range r[];
};

int bus_init(struct bus *bus, const char *name)
{
	int r;

	memset(bus, 0, sizeof(*bus));
	bus->name = name;
	r = pthread_mutex_init(&bus->wlock, NULL);
	if (r) {
		log_err("pthread_mutex_init for %s bus: %s", name, strerror(r));
		return -r;
	}
	atomic_init(&bus->seq, 0);
	atomic_init(&bus->ranges, NULL);
	atomic_init(&bus->nr, 0);
	ratelimit_init(&bus->unclaimed_rl, 10);
	return 0;
}

void bus_destroy(struct bus *bus)
{
	struct bus_array *a = atomic_load(&bus->ranges);

	free(a);
	while ((a = bus->retired)) {
		bus->retired = a->next_retired;
		free(a);
	}
	atomic_store(&bus->ranges, NULL);
	atomic_store(&bus->nr, 0);
	pthread_mutex_destroy(&bus->wlock);
}

/*
 * Range fields are read by lookups while a writer may be moving them, so both sides access
 * them atomically (relaxed: plain moves on x86); the sequence count says whether what a
 * lookup read is consistent.
 */
static inline __attribute__((always_inline)) void range_load(struct bus_range *out,
                                                             const struct bus_range *r)
{
	out->base = __atomic_load_n(&r->base, __ATOMIC_RELAXED);
	out->size = __atomic_load_n(&r->size, __ATOMIC_RELAXED);
	out->fn = __atomic_load_n(&r->fn, __ATOMIC_RELAXED);
	out->opaque = __atomic_load_n(&r->opaque, __ATOMIC_RELAXED);
	out->name = __atomic_load_n(&r->name, __ATOMIC_RELAXED);
}

static void range_store(struct bus_range *r, const struct bus_range *v)
{
	__atomic_store_n(&r->base, v->base, __ATOMIC_RELAXED);
	__atomic_store_n(&r->size, v->size, __ATOMIC_RELAXED);
	__atomic_store_n(&r->fn, v->fn, __ATOMIC_RELAXED);
	__atomic_store_n(&r->opaque, v->opaque, __ATOMIC_RELAXED);
	__atomic_store_n(&r->name, v->name, __ATOMIC_RELAXED);
}

/* Index of the first of r[0, nr) whose end is at or above addr (lower bound). */
static inline __attribute__((always_inline)) size_t bus_lower(const struct bus_range *r, size_t nr,
                                                              uint64_t addr)
{
	size_t lo = 0, hi = nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t base = __atomic_load_n(&r[mid].base, __ATOMIC_RELAXED);
		uint64_t size = __atomic_load_n(&r[mid].size, __ATOMIC_RELAXED);

		if (base + size - 1 < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline void spin_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

/* Writer side of the sequence count; callers hold wlock. */
static void bus_write_begin(struct bus *bus)
{
	uint32_t s = atomic_load_explicit(&bus->seq, memory_order_relaxed);

	atomic_store_explicit(&bus->seq, s + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release); /* odd count before any range store */
}

static void bus_write_end(struct bus *bus)
{
	uint32_t s = atomic_load_explicit(&bus->seq, memory_order_relaxed);

	atomic_store_explicit(&bus->seq, s + 1, memory_order_release);
}

static int bus_insert(struct bus *bus, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
                      const char *name, bool quiet)
{
	struct bus_array *a, *n;
	struct bus_range o, v = { base, size, fn, opaque, name };
	size_t i, nr;
	int r = 0;

	if (!size || base + size - 1 < base || !fn)
		return -EINVAL;
	pthread_mutex_lock(&bus->wlock);
	a = atomic_load_explicit(&bus->ranges, memory_order_relaxed);
	nr = atomic_load_explicit(&bus->nr, memory_order_relaxed);
	i = a ? bus_lower(a->r, nr, base) : 0;
	if (i < nr && a->r[i].base <= base + size - 1) {
		range_load(&o, &a->r[i]);
		r = -EEXIST;
		if (quiet)
			goto out;
		log_err("%s range %#llx-%#llx for %s overlaps %#llx-%#llx of %s", bus->name,
		        (unsigned long long)base, (unsigned long long)(base + size - 1), name,
		        (unsigned long long)o.base, (unsigned long long)(o.base + o.size - 1),
		        o.name);
		goto out;
	}
	if (!a || nr == a->cap) {
		/* A bigger array, filled before lookups can see it. */
		size_t cap = a ? a->cap * 2 : 16;

		n = malloc(sizeof(*n) + cap * sizeof(n->r[0]));
		if (!n) {
			log_err("%s bus: out of memory registering %s", bus->name, name);
			r = -ENOMEM;
			goto out;
		}
		n->cap = cap;
		n->next_retired = NULL;
		if (nr)
			memcpy(n->r, a->r, nr * sizeof(n->r[0]));
		if (a) {
			a->next_retired = bus->retired;
			bus->retired = a;
		}
		a = n;
		bus_write_begin(bus);
		atomic_store_explicit(&bus->ranges, a, memory_order_release);
	} else {
		bus_write_begin(bus);
	}
	for (size_t j = nr; j > i; j--)
		range_store(&a->r[j], &a->r[j - 1]);
	range_store(&a->r[i], &v);
	atomic_store_explicit(&bus->nr, nr + 1, memory_order_relaxed);
	bus_write_end(bus);
out:
	pthread_mutex_unlock(&bus->wlock);
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
	struct bus_array *a;
	size_t i, nr;
	int r = -ENOENT;

	pthread_mutex_lock(&bus->wlock);
	a = atomic_load_explicit(&bus->ranges, memory_order_relaxed);
	nr = atomic_load_explicit(&bus->nr, memory_order_relaxed);
	i = a ? bus_lower(a->r, nr, base) : 0;
	if (i < nr && a->r[i].base == base && a->r[i].opaque == opaque) {
		bus_write_begin(bus);
		for (; i + 1 < nr; i++)
			range_store(&a->r[i], &a->r[i + 1]);
		atomic_store_explicit(&bus->nr, nr - 1, memory_order_relaxed);
		bus_write_end(bus);
		r = 0;
	}
	pthread_mutex_unlock(&bus->wlock);
	return r;
}

/*
 * Reader side: search, then check that no writer ran meanwhile (the count is unchanged and
 * even); otherwise search again.  Writers hold the count odd for a few stores, so a lookup
 * spins briefly at worst.  Every array a lookup can reach stays allocated while the bus
 * lives, and the number of ranges searched is capped at that array's size, so even a torn
 * read stays inside memory the bus owns.
 */
static inline __attribute__((always_inline)) int bus_lookup(struct bus *bus, uint64_t addr,
                                                            uint32_t len, struct bus_range *out)
{
	for (;;) {
		uint32_t seq = atomic_load_explicit(&bus->seq, memory_order_acquire);
		const struct bus_array *a;
		struct bus_range b;
		size_t nr, i;
		int r = -ENOENT;

		if (seq & 1) {
			spin_pause();
			continue;
		}
		a = atomic_load_explicit(&bus->ranges, memory_order_acquire);
		nr = atomic_load_explicit(&bus->nr, memory_order_relaxed);
		if (!a)
			nr = 0;
		else if (nr > a->cap)
			nr = a->cap;
		i = nr ? bus_lower(a->r, nr, addr) : 0;
		if (i < nr) {
			range_load(&b, &a->r[i]);
			if (b.base <= addr && addr - b.base + len <= b.size) {
				*out = b;
				r = 0;
			}
		}
		atomic_thread_fence(memory_order_acquire); /* the reads above before the re-check */
		if (atomic_load_explicit(&bus->seq, memory_order_relaxed) == seq)
			return r;
	}
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
	/* The message is info-level: skip the clock read of the rate limit when it is off. */
	if (log_get_level() >= LOG_INFO && ratelimit_allow(&bus->unclaimed_rl, &suppressed)) {
		if (suppressed)
			log_info("%s: %u unclaimed accesses not shown", bus->name, suppressed);
		/* Info, not warning: guests probe for absent devices as a matter of course. */
		log_info("unclaimed %s %s at %#llx, %u bytes", bus->name,
		         is_write ? "write" : "read", (unsigned long long)addr, len);
	}
	return false;
}
