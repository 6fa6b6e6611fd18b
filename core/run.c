/* SPDX-License-Identifier: MIT */
/*
 * Running a VM: one thread per vCPU, one event-loop thread, each under its seccomp filter;
 * the calling thread waits for the loop and then for the vCPUs.  Signals arrive through a
 * signalfd on the loop: the first SIGINT/SIGTERM/SIGHUP stops the VM in order, a second one
 * while vCPUs are still stopping gives up on them (vm->abandoned) so hvmm can exit at once.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/vm.h"

/* What the guest was doing when it crashed: enough to find the code in its System.map. */
static void vcpu_report_crash(struct vcpu *vcpu)
{
	const struct hv_ops *hv = vcpu->vm->hv;
	struct hv_regs r;
	struct hv_sregs s;

	if (hv->vcpu_get_regs(vcpu->hv, &r) || hv->vcpu_get_sregs(vcpu->hv, &s)) {
		log_err("vCPU %u: guest crashed (triple fault or unrecoverable exception); its "
		        "registers could not be read",
		        vcpu->index);
		return;
	}
	/* KVM on AMD re-initialises a vCPU at a shutdown: then the state is the reset state. */
	if (r.rip == 0xfff0 && s.cs.selector == 0xf000) {
		log_err("vCPU %u: guest crashed (triple fault or unrecoverable exception); the "
		        "hypervisor reset the vCPU, so where it was is not known",
		        vcpu->index);
		return;
	}
	log_err("vCPU %u: guest crashed (triple fault or unrecoverable exception) at rip %#llx "
	        "rsp %#llx rflags %#llx cs %#x cr0 %#llx cr2 %#llx cr3 %#llx cr4 %#llx efer %#llx "
	        "idt %#llx+%#x",
	        vcpu->index, (unsigned long long)r.rip, (unsigned long long)r.rsp,
	        (unsigned long long)r.rflags, s.cs.selector, (unsigned long long)s.cr0,
	        (unsigned long long)s.cr2, (unsigned long long)s.cr3, (unsigned long long)s.cr4,
	        (unsigned long long)s.efer, (unsigned long long)s.idt.base, s.idt.limit);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *vcpu = arg;
	struct vm *vm = vcpu->vm;
	uint64_t one = 1;
	enum hv_exit exit;
	char name[16];
	int code;

	/* Named before the filter goes on: a host can then find and pin each vCPU's thread. */
	snprintf(name, sizeof(name), "vcpu%u", vcpu->index);
	prctl(PR_SET_NAME, name);
	if (sandbox_apply(SANDBOX_VCPU, vm->sandbox, vm->sandbox_ioctls, vm->nr_sandbox_ioctls))
		vm_stop(vm, VM_EXIT_ERROR);
	atomic_store(&vcpu->running, true);
	while (!atomic_load(&vm->stopping)) {
		int r = vm->hv->vcpu_run(vcpu->hv, &exit);

		atomic_store_explicit(
		    &vcpu->stats.runs,
		    atomic_load_explicit(&vcpu->stats.runs, memory_order_relaxed) + 1,
		    memory_order_relaxed);
		if (r) {
			vm_stop(vm, VM_EXIT_ERROR);
			break;
		}
		if (vm_exit_action(exit, &code)) {
			if (code == VM_EXIT_CRASH)
				vcpu_report_crash(vcpu);
			vm_stop(vm, code);
			break;
		}
	}
	atomic_store(&vcpu->running, false);
	/* Tell the loop, which waits for the last vCPU while it still serves signals. */
	atomic_fetch_sub(&vm->vcpus_running, 1);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_debug("stop eventfd write: %s", strerror(errno));
	return NULL;
}

static void vm_stop_ready(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	uint64_t v;

	(void)events;
	/* Drain it; the loop re-checks `stopping` and the vCPU count after every dispatch. */
	if (read(vm->stop_efd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		log_debug("stop eventfd read: %s", strerror(errno));
}

/* Every printer registered with vm_on_stats(), in order (the board's comes first). */
static void vm_print_counters(struct vm *vm, enum log_level level)
{
	char line[512] = "";

	for (unsigned i = 0; i < vm->nr_stats; i++)
		vm->stats[i].fn(vm->stats[i].opaque, level);
	if (vm->hv->stats)
		vm->hv->stats(vm->hvm, line, sizeof(line));
	if (line[0])
		log_msg(level, "%s: %s", vm->hv->name, line);
}

static void vm_signal_ready(void *opaque, uint32_t events)
{
	struct vm *vm = opaque;
	struct signalfd_siginfo si;

	(void)events;
	while (read(vm->signal_fd, &si, sizeof(si)) == sizeof(si)) {
		if (si.ssi_signo == SIGUSR1) {
			vm_print_counters(vm, LOG_ERR); /* asked for: always shown */
			continue;
		}
		if (atomic_load(&vm->stopping)) {
			log_warn("second signal %u: not waiting for the vCPUs to stop",
			         si.ssi_signo);
			atomic_store(&vm->abandoned, true);
			continue;
		}
		log_info("stopping on signal %u", si.ssi_signo);
		vm_stop(vm, VM_EXIT_SIGNAL + (int)si.ssi_signo);
	}
}

/* No job is taken any more: a caller waiting in vm_run_privileged() gets -ECANCELED. */
static void vm_ctl_close(struct vm *vm)
{
	pthread_mutex_lock(&vm->ctl.lock);
	vm->ctl.loop_done = true;
	pthread_cond_broadcast(&vm->ctl.cond);
	pthread_mutex_unlock(&vm->ctl.lock);
}

static void *loop_thread(void *arg)
{
	struct vm *vm = arg;

	prctl(PR_SET_NAME, "event-loop");
	if (sandbox_apply(SANDBOX_LOOP, vm->sandbox, vm->sandbox_ioctls, vm->nr_sandbox_ioctls))
		vm_stop(vm, VM_EXIT_ERROR);
	while (!atomic_load(&vm->stopping) ||
	       (atomic_load(&vm->vcpus_running) > 0 && !atomic_load(&vm->abandoned))) {
		if (loop_poll(&vm->loop, -1))
			vm_stop(vm, VM_EXIT_ERROR);
	}
	/* vm_run()'s thread stops taking jobs and goes on to join the threads. */
	vm_ctl_close(vm);
	return NULL;
}

/* vm_run()'s thread while the VM runs: take privileged jobs until the event loop ends. */
static void vm_serve_jobs(struct vm *vm)
{
	struct vm_ctl *c = &vm->ctl;

	pthread_mutex_lock(&c->lock);
	while (!c->loop_done) {
		if (c->state == VM_JOB_QUEUED) {
			c->state = VM_JOB_RUNNING;
			pthread_mutex_unlock(&c->lock);
			int r = c->fn(c->opaque);
			pthread_mutex_lock(&c->lock);
			c->result = r;
			c->state = VM_JOB_DONE;
			pthread_cond_broadcast(&c->cond);
			continue;
		}
		pthread_cond_wait(&c->cond, &c->lock);
	}
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

int vm_run_privileged(struct vm *vm, int (*fn)(void *opaque), void *opaque)
{
	struct vm_ctl *c = &vm->ctl;
	int r;

	pthread_mutex_lock(&c->lock);
	while (c->state != VM_JOB_NONE && !c->loop_done)
		pthread_cond_wait(&c->cond, &c->lock);
	if (c->loop_done) {
		pthread_mutex_unlock(&c->lock);
		return -ECANCELED;
	}
	c->fn = fn;
	c->opaque = opaque;
	c->state = VM_JOB_QUEUED;
	pthread_cond_broadcast(&c->cond);
	/* A job that began runs to its end: opaque may live on this thread's stack. */
	while (c->state == VM_JOB_RUNNING || (c->state == VM_JOB_QUEUED && !c->loop_done))
		pthread_cond_wait(&c->cond, &c->lock);
	r = c->state == VM_JOB_DONE ? c->result : -ECANCELED;
	c->state = VM_JOB_NONE;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	return r;
}

/*
 * The stack of a vCPU or event-loop thread.  Far below glibc's default of 8 MiB (the
 * RLIMIT_STACK), and below 2 MiB on purpose: a host whose transparent-huge-page policy is
 * "always" backs any 2 MiB-aligned stretch of an 8 MiB stack with a huge page at the first
 * touch, so each thread cost 2 MiB of RSS and zeroing it at start (measured in the nested
 * host: about 2 ms per thread before its first instruction).  The handlers these threads run
 * keep their buffers small; a sanitizer build needs several times more.
 */
#if defined(__SANITIZE_ADDRESS__)
#define VM_THREAD_STACK (1536u * 1024)
#else
#define VM_THREAD_STACK (512u * 1024)
#endif

static int vm_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	pthread_attr_t attr;
	int r = pthread_attr_init(&attr);

	if (r)
		return r;
	r = pthread_attr_setstacksize(&attr, VM_THREAD_STACK);
	if (!r)
		r = pthread_create(t, &attr, fn, arg);
	pthread_attr_destroy(&attr);
	return r;
}

int vm_run(struct vm *vm, int signal_fd, int *exit_code)
{
	uint32_t started = 0;
	pthread_t loop;
	int r;

	vm->signal_fd = signal_fd;
	if ((r = loop_add(&vm->loop, vm->stop_efd, EPOLLIN, vm_stop_ready, vm))) {
		vm_ctl_close(vm);
		return r;
	}
	if (signal_fd >= 0 && (r = loop_add(&vm->loop, signal_fd, EPOLLIN, vm_signal_ready, vm)))
		goto out;
	atomic_store(&vm->vcpus_running, vm->nr_vcpus);
	for (; started < vm->nr_vcpus; started++) {
		struct vcpu *v = &vm->vcpus[started];

		r = vm_thread_start(&v->thread, vcpu_thread, v);
		if (r) {
			log_err("pthread_create for vCPU %u: %s", started, strerror(r));
			atomic_fetch_sub(&vm->vcpus_running, vm->nr_vcpus - started);
			vm_stop(vm, VM_EXIT_ERROR);
			r = -r;
			break;
		}
		v->thread_started = true;
	}
	r = vm_thread_start(&loop, loop_thread, vm);
	if (r) {
		log_err("pthread_create for the event loop: %s", strerror(r));
		vm_stop(vm, VM_EXIT_ERROR);
		r = -r;
	} else {
		vm_serve_jobs(vm);
		pthread_join(loop, NULL);
	}
	vm_ctl_close(vm);
	if (atomic_load(&vm->abandoned)) {
		/* Hung vCPUs keep their threads; the process exits without tearing the VM down. */
		*exit_code = atomic_load(&vm->exit_code);
		return 0;
	}
	for (uint32_t i = 0; i < started; i++) {
		pthread_join(vm->vcpus[i].thread, NULL);
		vm->vcpus[i].thread_started = false;
	}
	vm_print_counters(vm, LOG_INFO);
	if (signal_fd >= 0 && loop_del(&vm->loop, signal_fd))
		log_debug("signalfd was not in the loop");
out:
	vm_ctl_close(vm);
	if (loop_del(&vm->loop, vm->stop_efd))
		log_debug("stop eventfd was not in the loop");
	*exit_code = atomic_load(&vm->exit_code);
	return r;
}
