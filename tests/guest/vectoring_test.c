/* MMIO right after a guest-handled exception reaches the device every time (see the guest). */
#include <string.h>

#include "guest.h"

#define TMMIO 0xd0000000ull

struct vec_state {
	uint32_t regs[64];
	unsigned writes, reads;
};

static struct vec_state vs;

static void vec_mmio(void *o, uint64_t off, void *data, uint32_t len, bool write)
{
	struct vec_state *s = o;
	unsigned i = (unsigned)(off / 4) % 64;

	if (len != 4)
		return;
	if (write) {
		memcpy(&s->regs[i], data, 4);
		s->writes++;
	} else {
		memcpy(data, &s->regs[i], 4);
		s->reads++;
	}
}

static int vec_setup(struct gt_ctx *c)
{
	memset(&vs, 0, sizeof(vs));
	return bus_register(&c->vm->mmio, TMMIO, 0x1000, vec_mmio, &vs, "test mmio") ? -1 : 0;
}

static int vec_check(struct gt_ctx *c)
{
	uint64_t rounds = 0;

	if (!gt_report(c, 1, &rounds))
		return gt_fail(c, "the guest did not report its round count");
	if (vs.writes != rounds || vs.reads != rounds)
		return gt_fail(
		    c, "%u writes and %u reads reached the device, the guest made %llu each",
		    vs.writes, vs.reads, (unsigned long long)rounds);
	return 0;
}

GUEST_TEST(gt_vectoring) = {
	.name = "vectoring",
	.expect_done = true,
	.setup = vec_setup,
	.check = vec_check,
};
