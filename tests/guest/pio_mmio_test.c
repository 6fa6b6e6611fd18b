/* PIO and MMIO reach registered handlers with the right size and data. */
#include <string.h>

#include "guest.h"

#define TPORT   0x700
#define TMMIO   0xd0000000ull
#define MAX_LOG 32

struct access {
	bool mmio, write;
	uint64_t off, data;
	uint32_t len;
};

struct pm_state {
	struct access log[MAX_LOG];
	unsigned n;
};

static void pm_record(struct pm_state *s, bool mmio, uint64_t off, void *data, uint32_t len,
                      bool write)
{
	struct access a = { mmio, write, off, 0, len };

	if (write)
		memcpy(&a.data, data, len);
	else /* every byte: the offset's low digit (PIO) or its high digit (MMIO), then the size */
		memset(data, (int)(((mmio ? off >> 4 : off) & 0xf) << 4 | len), len);
	if (s->n < MAX_LOG)
		s->log[s->n++] = a;
}

static void pm_pio(void *o, uint64_t off, void *data, uint32_t len, bool write)
{
	pm_record(o, false, off, data, len, write);
}

static void pm_mmio(void *o, uint64_t off, void *data, uint32_t len, bool write)
{
	pm_record(o, true, off, data, len, write);
}

static struct pm_state pm;

static int pm_setup(struct gt_ctx *c)
{
	memset(&pm, 0, sizeof(pm));
	if (bus_register(&c->vm->pio, TPORT, 8, pm_pio, &pm, "test pio") ||
	    bus_register(&c->vm->mmio, TMMIO, 0x1000, pm_mmio, &pm, "test mmio"))
		return -1;
	return 0;
}

static int pm_check(struct gt_ctx *c)
{
	static const struct access want[] = {
		{ false, true, 1, 0x11, 1 },         { false, true, 2, 0x2233, 2 },
		{ false, true, 4, 0x44556677, 4 },   { false, false, 1, 0, 1 },
		{ false, false, 2, 0, 2 },           { false, false, 4, 0, 4 },
		{ true, true, 0x10, 0xa1, 1 },       { true, true, 0x20, 0xb2b3, 2 },
		{ true, true, 0x30, 0xc4c5c6c7, 4 }, { true, true, 0x40, 0xd8d9dadbdcdddedfull, 8 },
		{ true, false, 0x10, 0, 1 },         { true, false, 0x20, 0, 2 },
		{ true, false, 0x30, 0, 4 },         { true, false, 0x40, 0, 8 },
	};

	if (pm.n != ARRAY_SIZE(want))
		return gt_fail(c, "%u accesses reached the handlers, expected %zu", pm.n,
		               ARRAY_SIZE(want));
	for (unsigned i = 0; i < pm.n; i++) {
		const struct access *a = &pm.log[i], *w = &want[i];

		if (a->mmio != w->mmio || a->write != w->write || a->off != w->off ||
		    a->len != w->len || a->data != w->data)
			return gt_fail(c,
			               "access %u: %s %s off %#llx len %u data %#llx; expected "
			               "%s %s off %#llx len %u data %#llx",
			               i, a->mmio ? "mmio" : "pio", a->write ? "write" : "read",
			               (unsigned long long)a->off, a->len,
			               (unsigned long long)a->data, w->mmio ? "mmio" : "pio",
			               w->write ? "write" : "read", (unsigned long long)w->off,
			               w->len, (unsigned long long)w->data);
	}
	return 0;
}

GUEST_TEST(gt_pio_mmio) = {
	.name = "pio_mmio",
	.expect_done = true,
	.setup = pm_setup,
	.check = pm_check,
};
