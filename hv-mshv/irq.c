/* SPDX-License-Identifier: MIT */
/* hv-mshv: irqfds, ioeventfds, the MSI route table and direct interrupt assertion. */
#include <errno.h>
#include <stdio.h>
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

static bool mshv_bit(const uint64_t *map, uint32_t i)
{
	return map[i / 64] & (1ull << (i % 64));
}

static void mshv_bit_set(uint64_t *map, uint32_t i, bool on)
{
	if (on)
		map[i / 64] |= 1ull << (i % 64);
	else
		map[i / 64] &= ~(1ull << (i % 64));
}

void mshv_irq_vp_added(struct hv_vm *vm, uint32_t index)
{
	pthread_mutex_lock(&vm->irq_lock);
	if (index < MSHV_MAX_VPS && !mshv_bit(vm->vps, index)) {
		mshv_bit_set(vm->vps, index, true);
		vm->nr_vps++;
	}
	pthread_mutex_unlock(&vm->irq_lock);
}

void mshv_irq_destroy(struct hv_vm *vm)
{
	free(vm->irqfds);
	vm->irqfds = NULL;
	pthread_mutex_destroy(&vm->irq_lock);
}

/*
 * Routes the driver may take.  An irqfd on a root-scheduler host first tries
 * mshv_try_assert_irq_fast() (drivers/hv/mshv_eventfd.c), which, for a physical destination,
 * does "vp = partition->pt_vp_array[irq->lapic_apic_id]" and then reads vp->vp_register_page
 * with no check that the VP exists: an MSI aimed at an APIC ID without a VP (0xFF, the
 * xAPIC broadcast, among them: hvmm has at most 255 VPs) oopses the host.  Logical
 * destinations go the slow way, a hypercall; one that names no VP is dropped all the same.
 * APIC ID = VP index in hvmm (the INITIAL_APIC_ID each VP is given).
 */
int mshv_route_check(const struct hv_vm *vm, const struct hv_msi_route *r)
{
	struct mshv_in_assert_irq q;

	if (mshv_msi_decode(r->address, r->data, &q))
		return MSHV_DROP_NOT_MSI;
	if ((q.type == MSHV_IRQ_FIXED || q.type == MSHV_IRQ_LOWPRIO) && q.vector < 16)
		return MSHV_DROP_BAD_VECTOR;
	if (q.flags & MSHV_IRQ_LOGICAL) {
		/* Logical: with at most 8 VPs, flat mode's bit n is VP n (Linux's LDR). */
		if (!q.apic_id || (vm->nr_vps <= 8 && !(q.apic_id & vm->vps[0] & 0xff)))
			return MSHV_DROP_NO_VP;
		return -1;
	}
	if (q.apic_id == 0xff)
		return MSHV_DROP_BROADCAST;
	if (!mshv_bit(vm->vps, (uint32_t)q.apic_id))
		return MSHV_DROP_ABSENT_VP;
	return -1;
}

static const char *const mshv_drop_why[MSHV_NR_DROPS] = {
	[MSHV_DROP_ABSENT_VP] = "its physical destination APIC ID has no VP (on a root-scheduler "
	                        "host the driver's fast path would dereference a missing VP)",
	[MSHV_DROP_BROADCAST] = "it is an xAPIC broadcast (physical destination 0xFF), which the "
	                        "driver would take for an APIC ID without a VP",
	[MSHV_DROP_NO_VP] = "its logical destination names no VP",
	[MSHV_DROP_BAD_VECTOR] = "its vector is below 16, which x86 does not deliver",
	[MSHV_DROP_NOT_MSI] = "its address is not an x86 MSI address",
};

/*
 * A route kept from the kernel: counted when its GSI becomes unroutable (the whole table is
 * sent at every change), the first of each kind logged.  Caller holds irq_lock.
 */
static void mshv_route_dropped(struct hv_vm *vm, const struct hv_msi_route *r, int why)
{
	if (mshv_bit(vm->dropped, r->gsi))
		return;
	vm->drops[why]++;
	if (vm->drops_logged & (1u << why))
		return;
	vm->drops_logged |= 1u << why;
	log_warn("mshv: the guest's MSI route of GSI %u (address %#llx data %#x) is not given to "
	         "the kernel: %s; interrupts on it are dropped (logged once; see the counters)",
	         r->gsi, (unsigned long long)r->address, r->data, mshv_drop_why[why]);
}

/* Bind or unbind the kernel irqfd of a record; caller holds irq_lock. */
static int mshv_irqfd_sync(struct hv_vm *vm, struct mshv_irqfd_rec *q)
{
	bool want = q->gsi < MSHV_MAX_GSI && mshv_bit(vm->routed, q->gsi);
	int r;

	if (want == q->bound)
		return 0;
	r = mshv_irqfd(vm, q->fd, q->gsi, want ? 0 : 1u << MSHV_IRQFD_BIT_DEASSIGN);
	if (!r)
		q->bound = want;
	return r;
}

/*
 * An irqfd is bound in the kernel only while its GSI has a valid route: with none, the
 * driver's irqfd would assert a zeroed interrupt -- vector 0 to APIC ID 0 -- through the fast
 * path, and on GSI 0 through the slow path too (mshv_assert_irq_slow() checks the route's
 * validity only "if (irqfd->irqfd_girq_ent.guest_irq_num)").  Until then a write to the
 * eventfd stays pending in it; the kernel delivers it when the irqfd is bound
 * (mshv_irqfd_assign() polls the eventfd), as KVM would have dropped nothing either.
 */
int mshv_irqfd_assign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	struct mshv_irqfd_rec *q;
	int r;

	if (gsi >= MSHV_MAX_GSI) {
		log_err("MSHV_IRQFD gsi %u: /dev/mshv has GSIs 0-%u", gsi, MSHV_MAX_GSI - 1);
		return -EINVAL;
	}
	pthread_mutex_lock(&vm->irq_lock);
	if (vm->nr_irqfds == vm->cap_irqfds) {
		size_t cap = vm->cap_irqfds ? 2 * vm->cap_irqfds : 32;

		q = realloc(vm->irqfds, cap * sizeof(*q));
		if (!q) {
			pthread_mutex_unlock(&vm->irq_lock);
			return -ENOMEM;
		}
		vm->irqfds = q;
		vm->cap_irqfds = cap;
	}
	q = &vm->irqfds[vm->nr_irqfds];
	*q = (struct mshv_irqfd_rec){ .fd = fd, .gsi = gsi };
	r = mshv_irqfd_sync(vm, q);
	if (!r)
		vm->nr_irqfds++;
	pthread_mutex_unlock(&vm->irq_lock);
	return r;
}

int mshv_irqfd_deassign(struct hv_vm *vm, int fd, uint32_t gsi)
{
	int r = 0; /* as the kernel's: deassigning what is not there is no error */

	pthread_mutex_lock(&vm->irq_lock);
	for (size_t i = 0; i < vm->nr_irqfds; i++) {
		struct mshv_irqfd_rec *q = &vm->irqfds[i];

		if (q->fd != fd || q->gsi != gsi)
			continue;
		r = q->bound ? mshv_irqfd(vm, fd, gsi, 1u << MSHV_IRQFD_BIT_DEASSIGN) : 0;
		if (!r)
			*q = vm->irqfds[--vm->nr_irqfds];
		break;
	}
	pthread_mutex_unlock(&vm->irq_lock);
	return r;
}

void mshv_irq_stats(struct hv_vm *vm, char *buf, size_t len)
{
	size_t waiting = 0;

	pthread_mutex_lock(&vm->irq_lock);
	for (size_t i = 0; i < vm->nr_irqfds; i++)
		waiting += !vm->irqfds[i].bound;
	snprintf(buf, len,
	         "MSI routes kept from the kernel %llu (absent VP %llu, broadcast %llu, no VP "
	         "named %llu, vector below 16 %llu, not MSI %llu), irqfds waiting for a route %zu",
	         (unsigned long long)(vm->drops[0] + vm->drops[1] + vm->drops[2] + vm->drops[3] +
	                              vm->drops[4]),
	         (unsigned long long)vm->drops[MSHV_DROP_ABSENT_VP],
	         (unsigned long long)vm->drops[MSHV_DROP_BROADCAST],
	         (unsigned long long)vm->drops[MSHV_DROP_NO_VP],
	         (unsigned long long)vm->drops[MSHV_DROP_BAD_VECTOR],
	         (unsigned long long)vm->drops[MSHV_DROP_NOT_MSI], waiting);
	pthread_mutex_unlock(&vm->irq_lock);
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

/*
 * Replace the route table with the routes the driver may take (mshv_route_check()).  Irqfds
 * whose GSI loses its route are unbound first, the table is sent, then irqfds whose GSI
 * gained one are bound: no irqfd is ever bound in the kernel without a valid route.
 */
int mshv_set_msi_routes(struct hv_vm *vm, const struct hv_msi_route *routes, size_t n)
{
	struct mshv_user_irq_table *t;
	uint64_t valid[MSHV_MAX_GSI / 64] = { 0 }, dropped[MSHV_MAX_GSI / 64] = { 0 };
	int r = 0;

	if (n > MSHV_MAX_GSI) {
		log_err("MSHV_SET_MSI_ROUTING: %zu routes, /dev/mshv takes at most %u", n,
		        MSHV_MAX_GSI);
		return -E2BIG;
	}
	t = calloc(1, sizeof(*t) + n * sizeof(t->entries[0]));
	if (!t)
		return -ENOMEM;
	pthread_mutex_lock(&vm->irq_lock);
	for (size_t i = 0; i < n; i++) {
		int why;

		/* x86 MSIs below 4 GiB only: the kernel refuses a nonzero address_hi. */
		if (routes[i].address >> 32 || routes[i].gsi >= MSHV_MAX_GSI) {
			log_err("MSHV_SET_MSI_ROUTING: gsi %u address %#llx cannot be routed",
			        routes[i].gsi, (unsigned long long)routes[i].address);
			r = -EINVAL;
			goto out;
		}
		if ((why = mshv_route_check(vm, &routes[i])) >= 0) {
			mshv_route_dropped(vm, &routes[i], why);
			mshv_bit_set(dropped, routes[i].gsi, true);
			continue;
		}
		mshv_bit_set(valid, routes[i].gsi, true);
		t->entries[t->nr++] = (struct mshv_user_irq_entry){
			.gsi = routes[i].gsi,
			.address_lo = (uint32_t)routes[i].address,
			.address_hi = 0,
			.data = routes[i].data,
		};
	}
	/* Unbind what loses its route: the routed set is, for now, the old one and the new one. */
	for (size_t i = 0; i < ARRAY_SIZE(valid); i++)
		vm->routed[i] &= valid[i];
	for (size_t i = 0; i < vm->nr_irqfds; i++)
		if ((r = mshv_irqfd_sync(vm, &vm->irqfds[i])))
			goto out;
	r = vm->sys.ioctl(vm->sys.ctx, vm->fd, MSHV_SET_MSI_ROUTING, t);
	if (r < 0) {
		log_err("MSHV_SET_MSI_ROUTING (%u routes): %s", t->nr, strerror(-r));
		goto out;
	}
	memcpy(vm->routed, valid, sizeof(valid));
	memcpy(vm->dropped, dropped, sizeof(dropped));
	for (size_t i = 0; i < vm->nr_irqfds; i++)
		if ((r = mshv_irqfd_sync(vm, &vm->irqfds[i])))
			goto out;
	r = 0;
out:
	pthread_mutex_unlock(&vm->irq_lock);
	free(t);
	return r;
}

int mshv_signal_msi(struct hv_vm *vm, uint64_t address, uint32_t data)
{
	struct hv_msi_route msi = { .address = address, .data = data };
	struct mshv_in_assert_irq in;
	int why;

	pthread_mutex_lock(&vm->irq_lock);
	why = mshv_route_check(vm, &msi);
	pthread_mutex_unlock(&vm->irq_lock);
	if (why >= 0 || mshv_msi_decode(address, data, &in)) {
		log_err("signal_msi: address %#llx data %#x: %s", (unsigned long long)address, data,
		        why >= 0 ? mshv_drop_why[why] : "not an x86 MSI");
		return -EINVAL;
	}
	return mshv_hvcall(vm, vm->fd, MSHV_HVCALL_ASSERT_VIRTUAL_INTERRUPT, 0, &in, sizeof(in),
	                   NULL, 0, NULL);
}
