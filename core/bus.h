/* SPDX-License-Identifier: MIT */
/* The port and MMIO buses devices register their ranges on (core/bus.c). */
#ifndef HVMM_CORE_BUS_H
#define HVMM_CORE_BUS_H

#include <pthread.h>

#include "core/log.h"

/* A device access: `offset` is relative to the registered base; offset + len <= size. */
typedef void (*bus_fn)(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t size;
	bus_fn fn;
	void *opaque;
	const char *name;
};

/*
 * Lookups (one per exit, on every vCPU) take no lock and write no shared memory: they search
 * the ranges under a sequence count and search again if a writer changed them meanwhile (a
 * seqlock).  Writers (register, unregister) serialise on `wlock`.  An array outgrown by a
 * registration is kept until bus_destroy(), since a lookup may still be reading it; arrays
 * only double, so the kept ones add up to less than the live one.
 */
struct bus_array;
struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	pthread_mutex_t wlock;
	_Atomic uint32_t seq;             /* odd while a writer changes the ranges */
	struct bus_array *_Atomic ranges; /* sorted by base, non-overlapping */
	_Atomic size_t nr;
	struct bus_array *retired; /* outgrown arrays, freed by bus_destroy() */
	struct ratelimit unclaimed_rl;
	_Atomic uint64_t unclaimed;
};

int bus_init(struct bus *bus, const char *name) WUR;
void bus_destroy(struct bus *bus);
/* -EEXIST (logged, naming both owners) if the range overlaps one already there. */
int bus_register(struct bus *bus, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
                 const char *name) WUR;
/*
 * bus_register() for ranges the guest places (PCI BARs): -EEXIST is not logged, so the
 * caller can report it under a rate limit.
 */
int bus_try_register(struct bus *bus, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
                     const char *name) WUR;
/* Remove the range registered at exactly `base` with `opaque`; -ENOENT if there is none. */
int bus_unregister(struct bus *bus, uint64_t base, void *opaque) WUR;
/*
 * Dispatch an access.  Handlers run without the bus lock held, so a handler may (un)register
 * ranges (a BAR move from a config write).  An access no range fully contains is unclaimed:
 * a read returns all-ones, the access is counted and logged under a rate limit.  Returns
 * whether a handler took it.
 */
bool bus_access(struct bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write);
/* Find the range containing addr (for tests and diagnostics); -ENOENT if none. */
int bus_find(struct bus *bus, uint64_t addr, struct bus_range *out) WUR;

#endif
