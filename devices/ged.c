/* SPDX-License-Identifier: MIT */
/*
 * The Generic Event Device's register: events the platform raises for the guest (the power
 * button) wait in GED_PORT, and IOAPIC pin GED_IRQ is asserted while any does.  The guest's
 * _EVT method (platform/acpi.c) reads the register, which hands over and clears the events
 * and drops the line, then notifies the devices the bits name.  A level-triggered line means
 * an event raised while the guest is busy, or before its driver bound, is not lost.
 */
#include <stdlib.h>
#include <string.h>

#include "devices/devices.h"

struct ged {
	struct ioapic *ioapic;
	pthread_mutex_t lock;
	uint32_t pending;
};

static void ged_access(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct ged *g = opaque;
	uint8_t v[8] = { 0 };
	uint32_t ev;

	if (is_write)
		return; /* nothing to acknowledge: reading did */
	pthread_mutex_lock(&g->lock);
	ev = g->pending;
	/* Only a read that covers the whole register takes the events. */
	if (off == 0 && len >= 4) {
		g->pending = 0;
		ioapic_set_irq(g->ioapic, GED_IRQ, false);
	}
	pthread_mutex_unlock(&g->lock);
	le32_put(v, ev);
	memcpy(data, v + (off < 4 ? off : 4), len <= 4 ? len : 4);
	if (len > 4)
		memset((uint8_t *)data + 4, 0, len - 4);
}

void ged_event(struct ged *g, uint32_t events)
{
	pthread_mutex_lock(&g->lock);
	g->pending |= events;
	if (g->pending)
		ioapic_set_irq(g->ioapic, GED_IRQ, true);
	pthread_mutex_unlock(&g->lock);
}

static void ged_destroy(void *opaque)
{
	struct ged *g = opaque;

	pthread_mutex_destroy(&g->lock);
	free(g);
}

int ged_create(struct vm *vm, struct ioapic *ioapic, struct ged **out)
{
	struct ged *g = calloc(1, sizeof(*g));
	int r;

	if (!g) {
		log_err("out of memory for the generic event device");
		return -ENOMEM;
	}
	g->ioapic = ioapic;
	pthread_mutex_init(&g->lock, NULL);
	if ((r = vm_on_destroy(vm, ged_destroy, g))) {
		ged_destroy(g);
		return r;
	}
	if ((r = bus_register(&vm->pio, GED_PORT, GED_LEN, ged_access, g, "acpi ged")))
		return r;
	*out = g;
	return 0;
}
