/* SPDX-License-Identifier: MIT */
/* The MSI route table: core owns it and hands the backend the whole table on each change. */
#include <errno.h>
#include <string.h>

#include "core/vm.h"

/* Push every valid route; caller holds the lock. */
static int irq_commit(struct vm *vm)
{
	struct hv_msi_route *flat = vm->irq.scratch;
	size_t n = 0;

	for (uint32_t gsi = 0; gsi < IRQ_MAX_ROUTES; gsi++) {
		if (vm->irq.valid[gsi])
			flat[n++] = vm->irq.routes[gsi];
	}
	return vm->hv->set_msi_routes(vm->hvm, flat, n);
}

int irq_init(struct vm *vm)
{
	int r;

	memset(&vm->irq, 0, sizeof(vm->irq));
	pthread_mutex_init(&vm->irq.lock, NULL);
	for (uint32_t gsi = 0; gsi < IOAPIC_PINS; gsi++)
		vm->irq.used[gsi] = true;
	pthread_mutex_lock(&vm->irq.lock);
	r = irq_commit(vm);
	pthread_mutex_unlock(&vm->irq.lock);
	return r;
}

int irq_alloc(struct vm *vm, uint32_t *gsi)
{
	uint32_t limit = vm->caps.max_gsi < IRQ_MAX_ROUTES ? vm->caps.max_gsi : IRQ_MAX_ROUTES;
	int r = -ENOSPC;

	pthread_mutex_lock(&vm->irq.lock);
	for (uint32_t i = IOAPIC_PINS; i < limit; i++) {
		if (!vm->irq.used[i]) {
			vm->irq.used[i] = true;
			*gsi = i;
			r = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vm->irq.lock);
	if (r)
		log_err("no free GSI: all %u MSI routes are in use", limit);
	return r;
}

void irq_free(struct vm *vm, uint32_t gsi)
{
	if (gsi < IOAPIC_PINS || gsi >= IRQ_MAX_ROUTES)
		return;
	pthread_mutex_lock(&vm->irq.lock);
	vm->irq.used[gsi] = false;
	if (vm->irq.valid[gsi]) {
		vm->irq.valid[gsi] = false;
		/*
		 * At teardown the routes go with the hypervisor VM: a table pushed per device
		 * would cost a grace period each (KVM_SET_GSI_ROUTING), and the devices' eventfds
		 * are already closed (irqfds are not deassigned then, see vm_tearing_down()).
		 */
		if (!vm_tearing_down(vm) && irq_commit(vm))
			log_warn("removing the route of GSI %u failed", gsi);
	}
	pthread_mutex_unlock(&vm->irq.lock);
}

int irq_set_route(struct vm *vm, uint32_t gsi, uint64_t address, uint32_t data, bool valid)
{
	int r;

	if (gsi >= IRQ_MAX_ROUTES)
		return -EINVAL;
	pthread_mutex_lock(&vm->irq.lock);
	vm->irq.routes[gsi] = (struct hv_msi_route){ gsi, address, data };
	vm->irq.valid[gsi] = valid;
	r = irq_commit(vm);
	pthread_mutex_unlock(&vm->irq.lock);
	return r;
}
