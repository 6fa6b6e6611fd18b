/* SPDX-License-Identifier: MIT */
/* hv-mshv: irqfds, ioeventfds, the MSI route table and direct interrupt assertion. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hv-mshv/internal.h"

#define MSI_ADDR_BASE_MASK 0xfff00000ull
#define MSI_ADDR_BASE      0xfee00000ull

int mshv_msi_decode(uint64_t address, uint32_t data, struct mshv_in_assert_irq *out)
{
	if ((address & MSI_ADDR_BASE_MASK) != MSI_ADDR_BASE)
		return -EINVAL;
	*out = (struct mshv_in_assert_irq){
		.type = (data >> 8) & 7, /* delivery mode, same numbers as the hypervisor's */
		.flags = ((data & (1u << 15)) ? MSHV_IRQ_LEVEL : 0) |
		         ((address & (1u << 2)) ? MSHV_IRQ_LOGICAL : 0),
		.apic_id = (address >> 12) & 0xff,
		.vector = data & 0xff,
	};
	return 0;
}

static int mshv_irqfd(struct hv_vm *vm, int fd, uint32_t gsi, uint32_t flags)
{
	struct mshv_user_irqfd a = { .fd = fd, .resamplefd = 0, .gsi = gsi, .flags = flags };
	int r = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_IRQFD, &a);

	if (r < 0) {
		log_err("MSHV_IRQFD%s gsi %u: %s", flags ? " deassign" : "", gsi, strerror(-r));
		return r;
	}
	return 0;
}

int mshv_irqfd_assign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	return mshv_irqfd(vm, fd, gsi, 0);
}

int mshv_irqfd_deassign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	return mshv_irqfd(vm, fd, gsi, 1u << MSHV_IRQFD_BIT_DEASSIGN);
}

static int mshv_ioeventfd(struct hv_vm *vm, const struct hv_ioeventfd *e, uint32_t flags)
{
	struct mshv_user_ioeventfd a = {
		.datamatch = e->data,
		.addr = e->addr,
		.len = e->len,
		.fd = e->fd,
		.flags = flags | (e->datamatch ? 1u << MSHV_IOEVENTFD_BIT_DATAMATCH : 0),
	};
	int r;

	/* caps.pio_ioeventfd is false: callers trap port doorbells instead. */
	if (e->pio)
		return -EOPNOTSUPP;
	r = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_IOEVENTFD, &a);
	if (r < 0) {
		log_err("MSHV_IOEVENTFD%s mmio %#llx: %s", flags ? " deassign" : "",
		        (unsigned long long)e->addr, strerror(-r));
		return r;
	}
	return 0;
}

int mshv_ioeventfd_assign(struct hv_vm *vm, const struct hv_ioeventfd *e)
{
	return mshv_ioeventfd(vm, e, 0);
}

int mshv_ioeventfd_deassign(struct hv_vm *vm, const struct hv_ioeventfd *e)
{
	return mshv_ioeventfd(vm, e, 1u << MSHV_IOEVENTFD_BIT_DEASSIGN);
}

int mshv_set_msi_routes(struct hv_vm *vm, const struct hv_msi_route *routes, size_t n)
{
	struct mshv_user_irq_table *t;
	int r = 0;

	if (n > MSHV_MAX_GSI) {
		log_err("MSHV_SET_MSI_ROUTING: %zu routes, /dev/mshv takes at most %u", n,
		        MSHV_MAX_GSI);
		return -E2BIG;
	}
	t = calloc(1, sizeof(*t) + n * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	t->nr = (uint32_t)n;
	for (size_t i = 0; i < n; i++) {
		/* x86 MSIs below 4 GiB only: the kernel refuses a nonzero address_hi. */
		if (routes[i].address >> 32 || routes[i].gsi >= MSHV_MAX_GSI) {
			log_err("MSHV_SET_MSI_ROUTING: gsi %u address %#llx cannot be routed",
			        routes[i].gsi, (unsigned long long)routes[i].address);
			r = -EINVAL;
			goto out;
		}
		t->entries[i] = (struct mshv_user_irq_entry){
			.gsi = routes[i].gsi,
			.address_lo = (uint32_t)routes[i].address,
			.address_hi = 0,
			.data = routes[i].data,
		};
	}
	r = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_SET_MSI_ROUTING, t);
	if (r < 0)
		log_err("MSHV_SET_MSI_ROUTING (%zu routes): %s", n, strerror(-r));
	else
		r = 0;
out:
	free(t);
	return r;
}

int mshv_signal_msi(struct hv_vm *vm, uint64_t address, uint32_t data)
{
	struct mshv_in_assert_irq in;

	if (mshv_msi_decode(address, data, &in)) {
		log_err("signal_msi: address %#llx is not an x86 MSI address",
		        (unsigned long long)address);
		return -EINVAL;
	}
	return mshv_hvcall(vm, vm->fd, MSHV_HVCALL_ASSERT_VIRTUAL_INTERRUPT, 0, &in, sizeof(in),
	                   NULL, 0, NULL);
}
