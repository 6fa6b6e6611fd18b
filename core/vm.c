/* SPDX-License-Identifier: MIT */
/* VM lifecycle: build, the hooks devices register, stop, tear down (core/run.c runs it). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/vm.h"

bool vm_exit_action(enum hv_exit exit, int *code)
{
	switch (exit) {
	case HV_EXIT_SHUTDOWN:
		*code = VM_EXIT_CRASH;
		return true;
	case HV_EXIT_RESET:
		*code = VM_EXIT_RESET;
		return true;
	case HV_EXIT_HALT:        /* a backend that returns halts wants to be re-entered */
	case HV_EXIT_INTERRUPTED: /* the loop re-checks `stopping` */
		return false;
	}
	*code = VM_EXIT_ERROR;
	return true;
}

void vm_stop(struct vm *vm, int code)
{
	int expected = 0;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, 1))
		return;
	atomic_store(&vm->exit_code, code);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_debug("stop eventfd write: %s", strerror(errno));
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].hv)
			vm->hv->vcpu_kick(vm->vcpus[i].hv);
	}
}

void vm_abandon(struct vm *vm)
{
	if (vm->abandon.fn)
		vm->abandon.fn(vm->abandon.opaque);
}

int vm_sandbox_allow(struct vm *vm, const uint32_t *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool have = false;

		for (unsigned j = 0; j < vm->nr_sandbox_ioctls && !have; j++)
			have = vm->sandbox_ioctls[j] == reqs[i];
		if (have)
			continue;
		if (vm->nr_sandbox_ioctls == VM_MAX_SANDBOX_IOCTLS) {
			log_err("seccomp: more than %d ioctl requests to allow",
			        VM_MAX_SANDBOX_IOCTLS);
			return -ENOSPC;
		}
		vm->sandbox_ioctls[vm->nr_sandbox_ioctls++] = reqs[i];
	}
	return 0;
}

int vm_on_stats(struct vm *vm, void (*fn)(void *opaque, enum log_level level), void *opaque)
{
	if (vm->nr_stats == ARRAY_SIZE(vm->stats)) {
		log_err("too many counter printers");
		return -ENOSPC;
	}
	vm->stats[vm->nr_stats++] = (struct vm_stats_fn){ fn, opaque };
	return 0;
}

int vm_on_destroy(struct vm *vm, void (*fn)(void *), void *opaque)
{
	struct vm_hook *n = realloc(vm->cleanups, (vm->nr_cleanups + 1) * sizeof(*n));

	if (!n) {
		log_err("out of memory registering a teardown step");
		return -ENOMEM;
	}
	vm->cleanups = n;
	vm->cleanups[vm->nr_cleanups++] = (struct vm_hook){ fn, opaque };
	return 0;
}

int vm_on_eoi(struct vm *vm, void (*fn)(void *opaque, uint8_t vector), void *opaque)
{
	if (vm->eoi.fn) {
		log_err("a second interrupt controller wants the EOIs");
		return -EBUSY;
	}
	vm->eoi = (struct vm_eoi_fn){ fn, opaque };
	return 0;
}

int vm_on_abandon(struct vm *vm, void (*fn)(void *), void *opaque)
{
	if (vm->abandon.fn) {
		log_err("a second device wants to restore the console");
		return -EBUSY;
	}
	vm->abandon = (struct vm_hook){ fn, opaque };
	return 0;
}

/* One writer (the vCPU's thread): a relaxed load and store, no locked instruction. */
static void vcpu_count(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
	                      memory_order_relaxed);
}

static void vm_pio(void *ctx, uint16_t port, void *data, uint32_t len, bool is_write)
{
	struct vcpu *vcpu = ctx;

	vcpu_count(&vcpu->stats.pio);
	bus_access(&vcpu->vm->pio, port, data, len, is_write);
}

static void vm_mmio(void *ctx, uint64_t gpa, void *data, uint32_t len, bool is_write)
{
	struct vcpu *vcpu = ctx;

	vcpu_count(&vcpu->stats.mmio);
	bus_access(&vcpu->vm->mmio, gpa, data, len, is_write);
}

static void vm_eoi(void *ctx, uint8_t vector)
{
	struct vm *vm = ((struct vcpu *)ctx)->vm;

	vcpu_count(&((struct vcpu *)ctx)->stats.eois);
	if (vm->eoi.fn)
		vm->eoi.fn(vm->eoi.opaque, vector);
}

static int vm_map_ram(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nr_ram; i++) {
		struct hv_mem_region r = { vm->mem.ram[i].gpa, vm->mem.ram[i].size,
			                   vm->mem.ram[i].hva, 0 };
		int ret = vm->hv->mem_map(vm->hvm, &r);

		if (ret)
			return ret;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	vm->tearing_down = true;
	while (vm->nr_cleanups) {
		struct vm_hook *c = &vm->cleanups[--vm->nr_cleanups];

		c->fn(c->opaque);
	}
	free(vm->cleanups);
	for (uint32_t i = 0; vm->vcpus && i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].hv)
			vm->hv->vcpu_destroy(vm->vcpus[i].hv);
	}
	free(vm->vcpus);
	/* RAM regions go with the hypervisor VM, before the memory behind them is unmapped. */
	if (vm->hvm)
		vm->hv->vm_destroy(vm->hvm);
	pthread_mutex_destroy(&vm->irq.lock);
	pthread_mutex_destroy(&vm->ctl.lock);
	pthread_cond_destroy(&vm->ctl.cond);
	/* Detached: unmapping what the guest touched is the exiting child's work, not ours. */
	if (!vm->teardown_detached)
		mem_destroy(&vm->mem);
	loop_destroy(&vm->loop);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	free(vm);
}

int vm_create(const struct vm_params *p, const struct hv_ops *hv, struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int r;

	if (!vm) {
		log_err("out of memory allocating the VM");
		return -ENOMEM;
	}
	vm->hv = hv;
	vm->stop_efd = -1;
	vm->signal_fd = -1;
	vm->sandbox = p->sandbox;
	atomic_init(&vm->vcpus_running, 0);
	atomic_init(&vm->abandoned, false);
	vm->loop.epfd = -1;
	pthread_mutex_init(&vm->ctl.lock, NULL);
	pthread_cond_init(&vm->ctl.cond, NULL);
	atomic_init(&vm->stopping, 0);
	atomic_init(&vm->exit_code, VM_EXIT_POWEROFF);
	if ((r = bus_init(&vm->pio, "pio")) || (r = bus_init(&vm->mmio, "mmio")) ||
	    (r = loop_init(&vm->loop)) ||
	    (r = vm_sandbox_allow(vm, hv->run_ioctls, hv->nr_run_ioctls)))
		goto fail;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0) {
		r = -errno;
		log_err("eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((r = hv->vm_create(&vm->hvm)))
		goto fail;
	hv->caps(vm->hvm, &vm->caps);
	if (p->nr_cpus > vm->caps.max_vcpus) {
		log_err("--cpus %u: %s supports at most %u vCPUs here", p->nr_cpus, hv->name,
		        vm->caps.max_vcpus);
		r = -EINVAL;
		goto fail;
	}
	if ((r = mem_init_backed(&vm->mem, p->mem_size, p->mem_backend)) || (r = vm_map_ram(vm)) ||
	    (r = irq_init(vm)))
		goto fail;
	if (p->add_devices && (r = p->add_devices(vm, p->opaque)))
		goto fail;

	vm->vcpus = calloc(p->nr_cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		r = -ENOMEM;
		log_err("out of memory allocating %u vCPUs", p->nr_cpus);
		goto fail;
	}
	vm->nr_vcpus = p->nr_cpus;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->index = i;
		v->io = (struct hv_io){ .ctx = v, .pio = vm_pio, .mmio = vm_mmio, .eoi = vm_eoi };
		r = hv->vcpu_create(vm->hvm, i, vm->nr_vcpus, &v->io, &v->hv);
		if (r)
			goto fail;
	}
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return r;
}
