/* SPDX-License-Identifier: MIT */
/*
 * Interrupt vectors shared by the MSI and MSI-X emulators.  A live vector (enabled, unmasked)
 * is an irqfd: its eventfd raises its GSI, whose route is the guest's message, with no exit to
 * userspace; this is the path a passthrough device's interrupts must take, so emulated
 * devices use it too and the two never diverge.  A vector that is not live has its irqfd
 * unbound and its eventfd watched by the event loop, which turns a trigger into the pending
 * bit.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "devices/pci/internal.h"

int pci_vecs_init(struct pci_vecs *s, struct pci_dev *dev, unsigned nr, const char *kind)
{
	memset(s, 0, sizeof(*s));
	s->v = calloc(nr, sizeof(*s->v));
	if (!s->v) {
		log_err("pci: %s: out of memory for %u %s vectors", dev->name, nr, kind);
		return -ENOMEM;
	}
	s->dev = dev;
	s->kind = kind;
	s->nr = nr;
	s->nr_enabled = nr;
	pthread_mutex_init(&s->lock, NULL);
	for (unsigned i = 0; i < nr; i++)
		s->v[i] = (struct pci_vec){ .set = s, .index = i, .efd = -1 };
	return 0;
}

/* Take a trigger that arrived while the vector was not live; s->lock held. */
void pci_vecs_collect(struct pci_vecs *s, unsigned i)
{
	struct pci_vec *v = &s->v[i];
	uint64_t n;

	if (v->efd < 0 || v->live)
		return;
	if (read(v->efd, &n, sizeof(n)) == sizeof(n) && n && s->enabled)
		v->pending = true;
}

/* Event loop: the eventfd of a vector that was not live when watched fired. */
static void pci_vec_fired(void *opaque, uint32_t events)
{
	struct pci_vec *v = opaque;
	struct pci_vecs *s = v->set;
	uint64_t one = 1;

	(void)events;
	pthread_mutex_lock(&s->lock);
	if (v->live) {
		/* It went live after the loop picked the event up: hand the trigger back to the
		 * irqfd. */
		if (read(v->efd, &one, sizeof(one)) == sizeof(one) &&
		    write(v->efd, &one, sizeof(one)) != sizeof(one))
			log_debug("pci: eventfd write: %s", strerror(errno));
	} else {
		pci_vecs_collect(s, v->index);
	}
	pthread_mutex_unlock(&s->lock);
}

static void pci_vec_watch(struct pci_vec *v, bool on)
{
	struct loop *loop = &v->set->dev->vm->loop;

	if (on == v->watched || v->efd < 0)
		return;
	if (on) {
		if (loop_add(loop, v->efd, EPOLLIN, pci_vec_fired, v) == 0)
			v->watched = true;
	} else {
		if (loop_del(loop, v->efd))
			log_debug("pci: vector eventfd %d was not in the loop", v->efd);
		v->watched = false;
	}
}

static int pci_vec_alloc(struct pci_vecs *s, struct pci_vec *v)
{
	struct vm *vm = s->dev->vm;
	int efd, r;

	if (v->efd >= 0)
		return 0;
	if (v->failed)
		return -ENOSPC;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		r = -errno;
		pci_guest_warn(s->dev->root, "%s: eventfd for %s vector %u: %s", s->dev->name,
		               s->kind, v->index, strerror(errno));
		v->failed = true;
		return r;
	}
	r = irq_alloc(vm, &v->gsi);
	if (r) {
		close(efd);
		v->failed = true;
		return r;
	}
	v->efd = efd;
	return 0;
}

/* Tell the owner the vector's state if it differs from what it was last told. */
static void pci_vec_state_changed(struct pci_vecs *s, struct pci_vec *v)
{
	struct pci_vec_state cur = {
		.index = v->index,
		.address = v->address,
		.data = v->data,
		.enabled = s->enabled && v->index < s->nr_enabled,
		.masked = s->fmask || v->vmask,
		.live = v->live,
		.efd = v->efd,
		.gsi = v->efd >= 0 ? v->gsi : 0,
	};
	const struct pci_vec_state *l = &v->last;

	if (v->announced && l->address == cur.address && l->data == cur.data &&
	    l->enabled == cur.enabled && l->masked == cur.masked && l->live == cur.live &&
	    l->efd == cur.efd)
		return;
	v->last = cur;
	v->announced = true;
	if (s->changed)
		s->changed(s->changed_opaque, &cur);
}

static void pci_vec_go_live(struct pci_vecs *s, struct pci_vec *v)
{
	struct vm *vm = s->dev->vm;
	uint64_t one = 1;
	int r;

	if (pci_vec_alloc(s, v))
		return;
	if (!v->routed || v->routed_address != v->address || v->routed_data != v->data) {
		r = irq_set_route(vm, v->gsi, v->address, v->data, true);
		if (r) {
			pci_guest_warn(s->dev->root, "%s: route of %s vector %u: %s", s->dev->name,
			               s->kind, v->index, strerror(-r));
			return;
		}
		v->routed = true;
		v->routed_address = v->address;
		v->routed_data = v->data;
	}
	if (v->live)
		return;
	pci_vec_watch(v, false);
	/* A trigger still counted in the eventfd becomes pending, so it is sent exactly once. */
	pci_vecs_collect(s, v->index);
	r = vm->hv->irqfd_assign(vm->hvm, v->efd, v->gsi);
	if (r) {
		pci_vec_watch(v, true);
		return;
	}
	v->live = true;
	if (v->pending) {
		v->pending = false;
		if (write(v->efd, &one, sizeof(one)) != sizeof(one))
			log_debug("pci: eventfd write: %s", strerror(errno));
	}
}

static void pci_vec_go_idle(struct pci_vecs *s, struct pci_vec *v)
{
	struct vm *vm = s->dev->vm;

	if (v->live) {
		if (vm->hv->irqfd_deassign(vm->hvm, v->efd, v->gsi))
			log_debug("pci: irqfd deassign of GSI %u failed", v->gsi);
		v->live = false;
	}
	pci_vec_watch(v, true);
}

void pci_vecs_sync(struct pci_vecs *s, unsigned i)
{
	struct pci_vec *v = &s->v[i];
	bool want = s->enabled && !s->fmask && !v->vmask && i < s->nr_enabled;

	if (want)
		pci_vec_go_live(s, v);
	else
		pci_vec_go_idle(s, v);
	pci_vec_state_changed(s, v);
}

void pci_vecs_sync_all(struct pci_vecs *s)
{
	for (unsigned i = 0; i < s->nr; i++)
		pci_vecs_sync(s, i);
}

void pci_vecs_trigger(struct pci_vecs *s, unsigned i)
{
	struct pci_vec *v;
	uint64_t one = 1;

	if (i >= s->nr)
		return;
	v = &s->v[i];
	pthread_mutex_lock(&s->lock);
	if (v->live) {
		if (write(v->efd, &one, sizeof(one)) != sizeof(one))
			log_debug("pci: eventfd write: %s", strerror(errno));
	} else if (s->enabled && i < s->nr_enabled) {
		v->pending = true;
	}
	pthread_mutex_unlock(&s->lock);
}

int pci_vecs_fd(struct pci_vecs *s, unsigned i, int *fd)
{
	int r;

	if (i >= s->nr)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	r = pci_vec_alloc(s, &s->v[i]);
	if (!r) {
		*fd = s->v[i].efd;
		if (!s->v[i].live)
			pci_vec_watch(&s->v[i], true);
		pci_vec_state_changed(s, &s->v[i]);
	}
	pthread_mutex_unlock(&s->lock);
	return r;
}

int pci_vecs_state(struct pci_vecs *s, unsigned i, struct pci_vec_state *out, bool *pending)
{
	struct pci_vec *v;

	if (i >= s->nr)
		return -EINVAL;
	v = &s->v[i];
	pthread_mutex_lock(&s->lock);
	pci_vecs_collect(s, i);
	*out = (struct pci_vec_state){
		.index = i,
		.address = v->address,
		.data = v->data,
		.enabled = s->enabled && i < s->nr_enabled,
		.masked = s->fmask || v->vmask,
		.live = v->live,
		.efd = v->efd,
		.gsi = v->efd >= 0 ? v->gsi : 0,
	};
	*pending = v->pending;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

void pci_vecs_reset(struct pci_vecs *s, unsigned nr_enabled, bool masked)
{
	pthread_mutex_lock(&s->lock);
	s->enabled = false;
	s->fmask = false;
	s->nr_enabled = nr_enabled;
	for (unsigned i = 0; i < s->nr; i++) {
		struct pci_vec *v = &s->v[i];

		v->address = 0;
		v->data = 0;
		v->vmask = masked;
		v->pending = false;
		v->failed = false;
	}
	pci_vecs_sync_all(s);
	pthread_mutex_unlock(&s->lock);
}

void pci_vecs_on_change(struct pci_vecs *s, pci_vec_changed_fn fn, void *opaque)
{
	pthread_mutex_lock(&s->lock);
	s->changed = fn;
	s->changed_opaque = opaque;
	pthread_mutex_unlock(&s->lock);
}

bool pci_vecs_enabled(struct pci_vecs *s)
{
	bool on;

	pthread_mutex_lock(&s->lock);
	on = s->enabled;
	pthread_mutex_unlock(&s->lock);
	return on;
}

void pci_vecs_destroy(struct pci_vecs *s)
{
	struct vm *vm;

	if (!s->v)
		return;
	vm = s->dev->vm;
	for (unsigned i = 0; i < s->nr; i++) {
		struct pci_vec *v = &s->v[i];

		if (v->efd < 0)
			continue;
		/* At VM teardown the hypervisor VM's release takes every irqfd at once. */
		if (v->live && !vm_tearing_down(vm) &&
		    vm->hv->irqfd_deassign(vm->hvm, v->efd, v->gsi))
			log_debug("pci: irqfd deassign of GSI %u failed", v->gsi);
		pci_vec_watch(v, false);
		close(v->efd);
		irq_free(vm, v->gsi);
	}
	free(s->v);
	s->v = NULL;
	pthread_mutex_destroy(&s->lock);
}
