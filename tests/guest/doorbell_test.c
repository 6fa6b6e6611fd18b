/*
 * signal_msi, MMIO ioeventfds with a data match, and port doorbells: an ioeventfd where
 * hv_caps.pio_ioeventfd says there are some (KVM), a trapped port otherwise (MSHV, whose
 * backend must refuse a port ioeventfd with -EOPNOTSUPP).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "guest.h"

#define VECTOR        0x45
#define MMIO_DOORBELL 0xd0100000ull
#define PIO_DOORBELL  0x740

struct bell_state {
	struct vm *vm;
	int mmio_efd, pio_efd;
	struct hv_ioeventfd mmio, pio;
	bool pio_assigned;
	uint64_t mmio_kicks, pio_kicks; /* read from the eventfds at stage 2 */
	unsigned mmio_trapped, pio_trapped;
	uint64_t mmio_trapped_value;
	int pio_refusal;
};

static void bell_mmio(void *o, uint64_t off, void *data, uint32_t len, bool write)
{
	struct bell_state *s = o;

	(void)off;
	if (!write) {
		memset(data, 0, len);
		return;
	}
	s->mmio_trapped++;
	s->mmio_trapped_value = 0;
	memcpy(&s->mmio_trapped_value, data, len < 8 ? len : 8);
}

static void bell_pio(void *o, uint64_t off, void *data, uint32_t len, bool write)
{
	struct bell_state *s = o;

	(void)off;
	(void)len;
	if (write)
		s->pio_trapped++;
	else
		memset(data, 0, len);
}

static void bell_teardown(void *o)
{
	struct bell_state *s = o;

	if (s->mmio.fd >= 0 && s->vm->hv->ioeventfd_deassign(s->vm->hvm, &s->mmio))
		log_warn("doorbell: MMIO ioeventfd deassign failed");
	if (s->pio_assigned && s->vm->hv->ioeventfd_deassign(s->vm->hvm, &s->pio))
		log_warn("doorbell: port ioeventfd deassign failed");
	close(s->mmio_efd);
	close(s->pio_efd);
	free(s);
}

static int bell_setup(struct gt_ctx *c)
{
	struct bell_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	s->vm = c->vm;
	s->mmio_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->pio_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	s->mmio = (struct hv_ioeventfd){
		.addr = MMIO_DOORBELL, .len = 4, .datamatch = true, .data = 7, .fd = -1
	};
	s->pio =
	    (struct hv_ioeventfd){ .addr = PIO_DOORBELL, .len = 2, .pio = true, .fd = s->pio_efd };
	if (s->mmio_efd < 0 || s->pio_efd < 0 || vm_on_destroy(c->vm, bell_teardown, s)) {
		free(s);
		return -1;
	}
	c->priv = s;
	if (bus_register(&c->vm->mmio, MMIO_DOORBELL, 0x1000, bell_mmio, s, "doorbell") ||
	    bus_register(&c->vm->pio, PIO_DOORBELL, 2, bell_pio, s, "port doorbell"))
		return -1;
	s->mmio.fd = s->mmio_efd;
	if (c->vm->hv->ioeventfd_assign(c->vm->hvm, &s->mmio)) {
		s->mmio.fd = -1;
		return -1;
	}
	if (c->vm->caps.pio_ioeventfd) {
		if (c->vm->hv->ioeventfd_assign(c->vm->hvm, &s->pio))
			return -1;
		s->pio_assigned = true;
	} else {
		s->pio_refusal = c->vm->hv->ioeventfd_assign(c->vm->hvm, &s->pio);
	}
	return 0;
}

static uint64_t bell_sync(struct gt_ctx *c, uint32_t cpu, uint64_t stage)
{
	struct bell_state *s = c->priv;

	(void)cpu;
	if (stage == 1) {
		int r = c->vm->hv->signal_msi(c->vm->hvm, MEM_LAPIC_BASE, VECTOR);

		if (r)
			gt_fail(c, "signal_msi: %s", strerror(-r));
		return 0;
	}
	if (read(s->mmio_efd, &s->mmio_kicks, 8) != 8)
		s->mmio_kicks = 0;
	if (read(s->pio_efd, &s->pio_kicks, 8) != 8)
		s->pio_kicks = 0;
	return 0;
}

static int bell_check(struct gt_ctx *c)
{
	struct bell_state *s = c->priv;
	uint64_t hits;

	if (!gt_report(c, 1, &hits) || hits != 1)
		return gt_fail(c, "the guest saw %llu directly signalled MSIs, expected 1",
		               (unsigned long long)hits);
	if (s->mmio_kicks != 3 || s->mmio_trapped != 1 || s->mmio_trapped_value != 8)
		return gt_fail(c,
		               "MMIO doorbell: %llu eventfd kicks and %u trapped writes (last "
		               "%#llx); expected 3 and 1 (8)",
		               (unsigned long long)s->mmio_kicks, s->mmio_trapped,
		               (unsigned long long)s->mmio_trapped_value);
	if (!c->vm->caps.pio_ioeventfd && s->pio_refusal != -EOPNOTSUPP)
		return gt_fail(c, "a port ioeventfd without pio_ioeventfd gave %d, not -EOPNOTSUPP",
		               s->pio_refusal);
	if (s->pio_kicks + s->pio_trapped != 2 || (s->pio_assigned && s->pio_trapped))
		return gt_fail(c, "port doorbell: %llu eventfd kicks, %u trapped writes",
		               (unsigned long long)s->pio_kicks, s->pio_trapped);
	return 0;
}

GUEST_TEST(gt_doorbell) = {
	.name = "doorbell",
	.expect_done = true,
	.setup = bell_setup,
	.on_sync = bell_sync,
	.check = bell_check,
};
