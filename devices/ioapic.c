/* SPDX-License-Identifier: MIT */
/* Userspace IOAPIC delivering through MSI routes + irqfds (one path for KVM and MSHV). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/devices.h"

#define IOREGSEL 0x00
#define IOWIN    0x10
#define IOEOI    0x40

#define RTE_VECTOR   0xffull
#define RTE_DELMODE  (7ull << 8)
#define RTE_DESTMODE (1ull << 11)
#define RTE_RIRR     (1ull << 14)
#define RTE_LEVEL    (1ull << 15)
#define RTE_MASK     (1ull << 16)
#define RTE_RO_BITS  ((1ull << 12) | RTE_RIRR)
/* routed[] of a pin with no MSI route yet: the RTE bits a route is built from leave 16-55 clear. */
#define RTE_NOT_ROUTED (~0ull)

struct ioapic {
	struct vm *vm;
	pthread_mutex_t lock;
	uint32_t ioregsel;
	uint32_t id;
	uint64_t rte[IOAPIC_PINS];
	uint64_t routed[IOAPIC_PINS]; /* the RTE bits the pin's current MSI route was built from */
	uint32_t lines;               /* input level of each pin */
	int efd[IOAPIC_PINS];         /* the pin's irqfd, -1 until the guest first unmasks it */
	uint32_t connect_failed;      /* pins whose irqfd could not be made: not retried */
	struct ioapic_stats stats;
	struct {
		unsigned pin;
		ioapic_source_fn fn;
		void *opaque;
	} src[IOAPIC_MAX_SOURCES]; /* level sources with irqfds of their own (ioapic_add_source) */
	unsigned nr_src;
};

/* Tell the pin's own-irqfd sources whether it can take their next interrupt; lock held. */
static void ioapic_tell_sources(struct ioapic *io, unsigned pin, bool ready)
{
	for (unsigned i = 0; i < io->nr_src; i++) {
		if (io->src[i].pin == pin)
			io->src[i].fn(io->src[i].opaque, ready);
	}
}

/*
 * Give a pin its eventfd and irqfd, the first time the guest unmasks it.  Guests use a few
 * of the 24 pins, and each irqfd costs a deassign at teardown, which KVM makes wait for its
 * irqfd clean-up (an SRCU grace period: milliseconds each on a busy host, tens of them
 * before this was lazy).  Caller holds the lock.
 */
static void ioapic_connect(struct ioapic *io, unsigned pin)
{
	int fd;

	if (io->efd[pin] >= 0 || (io->connect_failed & (1u << pin)))
		return;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		log_warn("ioapic: eventfd for pin %u: %s; the pin stays silent", pin,
		         strerror(errno));
		io->connect_failed |= 1u << pin;
		return;
	}
	if (io->vm->hv->irqfd_assign(io->vm->hvm, fd, pin)) { /* the backend logged why */
		close(fd);
		io->connect_failed |= 1u << pin;
		return;
	}
	io->efd[pin] = fd;
}

/* Fire the pin's irqfd; caller holds the lock. */
static void ioapic_fire(struct ioapic *io, unsigned pin)
{
	uint64_t one = 1;

	if (io->efd[pin] < 0)
		return; /* its irqfd could not be made (logged then) */
	if (write(io->efd[pin], &one, sizeof(one)) != sizeof(one))
		log_warn("ioapic: write to irqfd of pin %u: %s", pin, strerror(errno));
	io->stats.delivered++;
}

/* Deliver a pin if its state calls for it; caller holds the lock. */
static void ioapic_service(struct ioapic *io, unsigned pin)
{
	uint64_t *rte = &io->rte[pin];

	if (!(io->lines & (1u << pin)) || (*rte & RTE_MASK))
		return;
	if (*rte & RTE_LEVEL) {
		if (*rte & RTE_RIRR)
			return;
		*rte |= RTE_RIRR;
	}
	ioapic_fire(io, pin);
}

/* Translate an RTE into its MSI message and push the route if it changed. */
static void ioapic_update_route(struct ioapic *io, unsigned pin)
{
	const uint64_t bits = RTE_VECTOR | RTE_DELMODE | RTE_DESTMODE | RTE_LEVEL | (0xffull << 56);
	uint64_t rte = io->rte[pin] & bits;
	uint64_t addr;
	uint32_t data;

	if (rte == io->routed[pin])
		return;
	addr = MEM_LAPIC_BASE | ((rte >> 56) << 12) | (rte & RTE_DESTMODE ? 1u << 2 : 0);
	data = (uint32_t)(rte & (RTE_VECTOR | RTE_DELMODE)) | (rte & RTE_LEVEL ? 1u << 15 : 0) |
	       (1u << 14);
	if (irq_set_route(io->vm, pin, addr, data, true) == 0)
		io->routed[pin] = rte;
}

static uint32_t ioapic_read_reg(struct ioapic *io)
{
	uint32_t idx = io->ioregsel & 0xff;

	switch (idx) {
	case 0x00:
		return io->id << 24;
	case 0x01:
		return 0x11 | ((IOAPIC_PINS - 1) << 16); /* 82093AA, 24 entries */
	case 0x02:
		return io->id << 24;
	default:
		if (idx >= 0x10 && idx < 0x10 + 2 * IOAPIC_PINS) {
			uint64_t rte = io->rte[(idx - 0x10) / 2];

			return idx & 1 ? (uint32_t)(rte >> 32) : (uint32_t)rte;
		}
		return 0xffffffff;
	}
}

static void ioapic_write_reg(struct ioapic *io, uint32_t val)
{
	uint32_t idx = io->ioregsel & 0xff;
	uint64_t rte, old_mask;
	unsigned pin;

	if (idx == 0x00) {
		io->id = (val >> 24) & 0xf;
		return;
	}
	if (idx < 0x10 || idx >= 0x10 + 2 * IOAPIC_PINS)
		return;
	pin = (idx - 0x10) / 2;
	rte = io->rte[pin];
	old_mask = rte & RTE_MASK;
	if (idx & 1)
		rte = (rte & 0xffffffffull) | ((uint64_t)val << 32);
	else
		rte = (rte & ~0xffffffffull) | val;
	/* Remote IRR and delivery status are read-only; an edge pin never holds Remote IRR. */
	rte = (rte & ~RTE_RO_BITS) | (io->rte[pin] & RTE_RO_BITS);
	if (!(rte & RTE_LEVEL))
		rte &= ~RTE_RIRR;
	io->rte[pin] = rte;
	ioapic_update_route(io, pin);
	if (!(rte & RTE_MASK))
		ioapic_connect(io, pin);
	/* Unmasking a level pin whose line is still up delivers it now. */
	if (rte & RTE_LEVEL)
		ioapic_service(io, pin);
	if ((rte & RTE_MASK) != old_mask)
		ioapic_tell_sources(io, pin, !(rte & RTE_MASK));
}

static void ioapic_mmio(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct ioapic *io = opaque;
	uint32_t val = 0;

	if (is_write)
		memcpy(&val, data, len < 4 ? len : 4);
	pthread_mutex_lock(&io->lock);
	switch (off & ~3ull) {
	case IOREGSEL:
		if (is_write)
			io->ioregsel = val;
		else
			val = io->ioregsel;
		break;
	case IOWIN:
		if (is_write)
			ioapic_write_reg(io, val);
		else
			val = ioapic_read_reg(io);
		break;
	case IOEOI:
		if (is_write) {
			pthread_mutex_unlock(&io->lock);
			ioapic_eoi(io, (uint8_t)val);
			return;
		}
		val = 0;
		break;
	default:
		val = 0xffffffff;
		break;
	}
	pthread_mutex_unlock(&io->lock);
	if (!is_write) {
		uint64_t wide = val; /* an 8-byte read returns the register and zeros */

		memcpy(data, &wide, len);
	}
}

void ioapic_set_irq(struct ioapic *io, unsigned pin, bool level)
{
	uint32_t bit;
	bool rising;

	if (pin >= IOAPIC_PINS)
		return;
	bit = 1u << pin;
	pthread_mutex_lock(&io->lock);
	rising = level && !(io->lines & bit);
	io->lines = level ? io->lines | bit : io->lines & ~bit;
	if (io->rte[pin] & RTE_LEVEL)
		ioapic_service(io, pin);
	else if (rising && !(io->rte[pin] & RTE_MASK))
		ioapic_fire(io, pin);
	pthread_mutex_unlock(&io->lock);
}

void ioapic_eoi(struct ioapic *io, uint8_t vector)
{
	pthread_mutex_lock(&io->lock);
	io->stats.eois++;
	for (unsigned pin = 0; pin < IOAPIC_PINS; pin++) {
		uint64_t *rte = &io->rte[pin];

		if ((*rte & RTE_VECTOR) != vector || !(*rte & RTE_LEVEL))
			continue;
		/*
		 * Sources with irqfds of their own bypass Remote IRR: every EOI of the pin's
		 * vector may be the end of theirs.  A masked pin waits for its unmask.
		 */
		if (!(*rte & RTE_MASK))
			ioapic_tell_sources(io, pin, true);
		if (!(*rte & RTE_RIRR))
			continue;
		*rte &= ~RTE_RIRR;
		ioapic_service(io, pin);
	}
	pthread_mutex_unlock(&io->lock);
}

int ioapic_add_source(struct ioapic *io, unsigned pin, ioapic_source_fn fn, void *opaque)
{
	int r = 0;

	if (pin >= IOAPIC_PINS)
		return -EINVAL;
	pthread_mutex_lock(&io->lock);
	if (io->nr_src == IOAPIC_MAX_SOURCES) {
		log_err("ioapic: more than %d level sources with irqfds of their own",
		        IOAPIC_MAX_SOURCES);
		r = -ENOSPC;
	} else {
		io->src[io->nr_src].pin = pin;
		io->src[io->nr_src].fn = fn;
		io->src[io->nr_src].opaque = opaque;
		io->nr_src++;
	}
	pthread_mutex_unlock(&io->lock);
	return r;
}

void ioapic_del_source(struct ioapic *io, unsigned pin, ioapic_source_fn fn, void *opaque)
{
	pthread_mutex_lock(&io->lock);
	for (unsigned i = 0; i < io->nr_src; i++) {
		if (io->src[i].pin == pin && io->src[i].fn == fn && io->src[i].opaque == opaque) {
			io->src[i] = io->src[--io->nr_src];
			break;
		}
	}
	pthread_mutex_unlock(&io->lock);
}

void ioapic_stats(struct ioapic *io, struct ioapic_stats *out)
{
	pthread_mutex_lock(&io->lock);
	*out = io->stats;
	pthread_mutex_unlock(&io->lock);
}

static void ioapic_eoi_hook(void *opaque, uint8_t vector)
{
	ioapic_eoi(opaque, vector);
}

static void ioapic_destroy(void *opaque)
{
	struct ioapic *io = opaque;

	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		if (io->efd[i] < 0)
			continue;
		/* At VM teardown the hypervisor VM's release takes every irqfd at once. */
		if (!vm_tearing_down(io->vm) &&
		    io->vm->hv->irqfd_deassign(io->vm->hvm, io->efd[i], i))
			log_debug("ioapic: irqfd deassign of pin %u failed", i);
		close(io->efd[i]);
	}
	pthread_mutex_destroy(&io->lock);
	free(io);
}

int ioapic_create(struct vm *vm, struct ioapic **out)
{
	struct ioapic *io = calloc(1, sizeof(*io));
	int r;

	if (!io) {
		log_err("ioapic: out of memory");
		return -ENOMEM;
	}
	io->vm = vm;
	pthread_mutex_init(&io->lock, NULL);
	for (unsigned i = 0; i < IOAPIC_PINS; i++) {
		io->efd[i] = -1;
		io->rte[i] = RTE_MASK;
		io->routed[i] = RTE_NOT_ROUTED;
	}
	r = vm_on_destroy(vm, ioapic_destroy, io);
	if (r) {
		ioapic_destroy(io);
		return r;
	}
	if ((r = vm_on_eoi(vm, ioapic_eoi_hook, io)) ||
	    (r = bus_register(&vm->mmio, MEM_IOAPIC_BASE, 0x1000, ioapic_mmio, io, "ioapic")))
		return r;
	*out = io;
	return 0;
}
