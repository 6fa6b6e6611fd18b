/*
 * A level-triggered source with an irqfd of its own on an IOAPIC pin, as an assigned device's
 * INTx is: it masks itself each time it signals and is unmasked when the IOAPIC tells it the
 * pin can take the next interrupt (the guest's EOI, which the hypervisor reports for the
 * level route: KVM_EXIT_IOAPIC_EOI, MSHV's APIC EOI intercept; or the pin's unmask).  The
 * source here behaves as vfio-pci's INTx does (automasked, signalled again at an unmask while
 * its line is still up), so the path runs on each backend with a real LAPIC.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "guest.h"
#include "devices/devices.h"

#define INTX_PIN 17

struct intx_state {
	int efd;
	pthread_mutex_t lock;
	bool line, masked;
	unsigned readies, sends;
};

static void intx_send(struct intx_state *s)
{
	uint64_t one = 1;

	if (write(s->efd, &one, sizeof(one)) == sizeof(one))
		s->sends++;
}

/* The IOAPIC's word, under its lock on a vCPU thread. */
static void intx_ready(void *opaque, bool ready)
{
	struct intx_state *s = opaque;

	pthread_mutex_lock(&s->lock);
	if (!ready) {
		s->masked = true;
	} else {
		s->readies++;
		if (s->masked && s->line)
			intx_send(s);
		else
			s->masked = false;
	}
	pthread_mutex_unlock(&s->lock);
}

static void intx_teardown(void *o)
{
	struct intx_state *s = o;

	close(s->efd);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int intx_setup(struct gt_ctx *c)
{
	struct intx_state *s = calloc(1, sizeof(*s));

	if (!s)
		return -1;
	pthread_mutex_init(&s->lock, NULL);
	s->masked = true;
	s->efd = eventfd(0, EFD_CLOEXEC);
	if (s->efd < 0 || vm_on_destroy(c->vm, intx_teardown, s)) {
		intx_teardown(s);
		return -1;
	}
	c->priv = s;
	if (c->vm->hv->irqfd_assign(c->vm->hvm, s->efd, INTX_PIN) ||
	    ioapic_add_source(c->pc->ioapic, INTX_PIN, intx_ready, s))
		return -1;
	return 0;
}

/* 30: the device raises its line (an interrupt if unmasked); 31: the guest serviced it. */
static uint64_t intx_sync(struct gt_ctx *c, uint32_t cpu, uint64_t stage)
{
	struct intx_state *s = c->priv;

	(void)cpu;
	pthread_mutex_lock(&s->lock);
	if (stage == 30) {
		s->line = true;
		if (!s->masked) {
			s->masked = true;
			intx_send(s);
		}
	} else if (stage == 31) {
		s->line = false;
	}
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int intx_check(struct gt_ctx *c)
{
	struct intx_state *s = c->priv;
	uint64_t open = 0, held = 0;

	/*
	 * Three rounds: one interrupt each, serviced before its EOI.  A hypervisor that reports
	 * the EOI at delivery instead of at the guest's EOI write (as some emulated ones do)
	 * finds the line still up and delivers once more: up to six are tolerated.
	 */
	if (!gt_report(c, 1, &open) || open < 3 || open > 6)
		return gt_fail(c, "guest saw %llu interrupts in three rounds, expected 3 to 6",
		               (unsigned long long)open);
	/* Raised while the pin was masked: one interrupt at the unmask (two as above). */
	if (!gt_report(c, 2, &held) || held < 1 || held > 2)
		return gt_fail(c, "guest saw %llu interrupts at the unmask, expected 1 or 2",
		               (unsigned long long)held);
	if (s->readies < open + held)
		return gt_fail(c, "the source heard %u EOIs and unmasks for %llu interrupts",
		               s->readies, (unsigned long long)(open + held));
	return 0;
}

GUEST_TEST(gt_intx_irqfd) = {
	.name = "intx_irqfd",
	.expect_done = true,
	.setup = intx_setup,
	.on_sync = intx_sync,
	.check = intx_check,
};
