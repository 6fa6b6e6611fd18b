/* SPDX-License-Identifier: MIT */
/*
 * What every layer shares: the attribute behind the return-value convention, size helpers, and
 * the one set of little-endian accessors for bytes laid out by a guest, a file or a device.
 *
 * The convention: a function that can fail returns 0 or a negative errno and hands results
 * back through out-parameters; the failure is logged once, where it happens, naming the
 * operation, and callers only propagate the code.  Only main() exits.
 */
#ifndef HVMM_CORE_BASE_H
#define HVMM_CORE_BASE_H

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WUR           __attribute__((warn_unused_result))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KiB(x)        ((uint64_t)(x) << 10)
#define MiB(x)        ((uint64_t)(x) << 20)
#define GiB(x)        ((uint64_t)(x) << 30)

/*
 * Little-endian values at any alignment.  le_get()/le_put() take 1 to 8 bytes; the sized
 * forms are the common cases.
 */
static inline uint64_t le_get(const void *p, unsigned len)
{
	const uint8_t *b = p;
	uint64_t v = 0;

	for (unsigned i = 0; i < len && i < 8; i++)
		v |= (uint64_t)b[i] << (8 * i);
	return v;
}

static inline void le_put(void *p, uint64_t v, unsigned len)
{
	uint8_t *b = p;

	for (unsigned i = 0; i < len && i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static inline uint16_t le16_get(const void *p)
{
	return (uint16_t)le_get(p, 2);
}

static inline uint32_t le32_get(const void *p)
{
	return (uint32_t)le_get(p, 4);
}

static inline uint64_t le64_get(const void *p)
{
	return le_get(p, 8);
}

static inline void le16_put(void *p, uint16_t v)
{
	le_put(p, v, 2);
}

static inline void le32_put(void *p, uint32_t v)
{
	le_put(p, v, 4);
}

static inline void le64_put(void *p, uint64_t v)
{
	le_put(p, v, 8);
}

#endif
