/*
 * The instruction forms an emulating backend (MSHV) must get right, against memory-like MMIO
 * and a counting port: the guest checks results against RAM; the host checks what reached
 * the devices.  On mshv-sim each of these instructions is also checked against KVM's emulator.
 */
#include <stdlib.h>
#include <string.h>

#include "guest.h"

#define SCRATCH      0xd0000000ull
#define SCRATCH_SIZE 0x2000
#define SEQ_PORT     0x720

struct emu_state {
	uint8_t scratch[SCRATCH_SIZE];
	uint8_t seq;       /* the next byte a port read returns */
	uint8_t out[8192]; /* bytes written to SEQ_PORT, in order */
	size_t nout;
	unsigned long odd_len; /* accesses of a length no instruction makes */
};

static struct emu_state es;

static void emu_scratch(void *o, uint64_t off, void *data, uint32_t len, bool write)
{
	struct emu_state *s = o;

	if (len > 8 || off + len > SCRATCH_SIZE) {
		s->odd_len++;
		return;
	}
	if (write)
		memcpy(s->scratch + off, data, len);
	else
		memcpy(data, s->scratch + off, len);
}

static void emu_port(void *o, uint64_t off, void *data, uint32_t len, bool write)
{
	struct emu_state *s = o;
	uint8_t *b = data;

	(void)off;
	for (uint32_t i = 0; i < len; i++) {
		if (!write)
			b[i] = s->seq++;
		else if (s->nout < sizeof(s->out))
			s->out[s->nout++] = b[i];
	}
}

static int emu_setup(struct gt_ctx *c)
{
	memset(&es, 0, sizeof(es));
	if (bus_register(&c->vm->mmio, SCRATCH, SCRATCH_SIZE, emu_scratch, &es, "scratch") ||
	    bus_register(&c->vm->pio, SEQ_PORT, 8, emu_port, &es, "counting port"))
		return -1;
	return 0;
}

static int emu_check(struct gt_ctx *c)
{
	static const uint8_t head[] = { 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 'h', 'e',
		                        'l',  'l',  'o',  ',',  ' ',  'p',  'o',  'r', 't' };
	uint64_t v;

	if (!gt_report(c, 1, &v))
		return gt_fail(c, "the guest did not finish its checks");
	if (es.odd_len)
		return gt_fail(c, "%lu scratch accesses out of range", es.odd_len);
	if (es.nout != sizeof(head) + 5000)
		return gt_fail(c, "%zu bytes reached the port, expected %zu", es.nout,
		               sizeof(head) + 5000);
	if (memcmp(es.out, head, sizeof(head)))
		return gt_fail(c, "the port saw the wrong OUT/OUTSB bytes");
	for (unsigned i = 0; i < 5000; i++) {
		if (es.out[sizeof(head) + i] != (uint8_t)(i ^ (i >> 8)))
			return gt_fail(c, "REP OUTSW byte %u is %#x, expected %#x", i,
			               es.out[sizeof(head) + i], (uint8_t)(i ^ (i >> 8)));
	}
	return 0;
}

GUEST_TEST(gt_emu) = {
	.name = "emu",
	.expect_done = true,
	.timeout_s = 120,
	.setup = emu_setup,
	.check = emu_check,
};
