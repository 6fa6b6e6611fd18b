/* SPDX-License-Identifier: MIT */
/*
 * The VM and its lifecycle (core/vm.c, core/run.c), the MSI route table (core/irq.c) and the
 * per-thread seccomp filter (core/sandbox.c).
 *
 * core knows no device: the layer above builds them in the add_devices step of vm_create(),
 * and they reach back only through the hooks below (teardown, counters, EOIs, abandon), the
 * buses, the event loop and the route table.
 */
#ifndef HVMM_CORE_VM_H
#define HVMM_CORE_VM_H

#include <pthread.h>
#include <stdatomic.h>

#include "core/bus.h"
#include "core/hv.h"
#include "core/log.h"
#include "core/loop.h"
#include "core/mem.h"

/* Exit status of hvmm, one per way a VM can end (documented in man/hvmm.1.scd). */
enum vm_exit_code {
	VM_EXIT_POWEROFF = 0, /* guest powered off */
	VM_EXIT_ERROR = 1,    /* hvmm or hypervisor failure */
	VM_EXIT_USAGE = 2,    /* bad command line or input file */
	VM_EXIT_RESET = 3,    /* guest asked for a reset (reboot) */
	VM_EXIT_CRASH = 4,    /* triple fault / unrecoverable guest exception */
	VM_EXIT_DEVICE = 5,   /* an assigned device was taken back by the host or failed */
	VM_EXIT_STOPPED = 6,  /* stopped by a "stop" request on the API socket */
	VM_EXIT_SIGNAL = 128, /* + signal number: stopped by SIGINT, SIGTERM or SIGHUP */
};

/* --seccomp: kill the process on a forbidden system call, log it (kernel audit log), or off. */
enum sandbox_mode { SANDBOX_ON, SANDBOX_LOG, SANDBOX_OFF };
enum sandbox_role { SANDBOX_VCPU, SANDBOX_LOOP, SANDBOX_API };

/*
 * Install the seccomp allow-list of `role` on the calling thread (core/sandbox.c): its system
 * calls, and of ioctl only the `nr_ioctls` requests in `ioctls` (compared on their low 32
 * bits, which is all the kernel looks at).  Called by vm_run() on each vCPU thread and on the
 * event-loop thread once set-up is over.  -E2BIG if the lists do not fit in one filter.
 */
int sandbox_apply(enum sandbox_role role, enum sandbox_mode mode, const uint32_t *ioctls,
                  size_t nr_ioctls) WUR;

#define VM_MAX_SANDBOX_IOCTLS 48

struct vm;

/* What core needs to build a VM; the platform layer fills it in. */
struct vm_params {
	uint64_t mem_size;
	enum mem_backend mem_backend; /* where guest RAM comes from (core/mem.h) */
	uint32_t nr_cpus;
	enum sandbox_mode sandbox;
	/*
	 * Build the devices: called once the hypervisor VM, RAM, buses, event loop and route
	 * table exist and before the vCPUs.  A device registers its teardown with
	 * vm_on_destroy(), so a failure here needs no clean-up of its own.  NULL: no devices.
	 */
	int (*add_devices)(struct vm *vm, void *opaque) WUR;
	void *opaque;
};

/*
 * What a vCPU's thread counts: returns from vcpu_run() and the accesses and EOIs the backend
 * handed to core.  Written by that thread only, read by anyone (relaxed: counters).
 */
struct vcpu_stats {
	_Atomic uint64_t runs, pio, mmio, eois;
};

struct vcpu {
	struct vm *vm;
	struct hv_vcpu *hv;
	struct hv_io io;
	uint32_t index;
	pthread_t thread;
	bool thread_started;
	_Atomic bool running; /* its thread is in the run loop */
	struct vcpu_stats stats;
};

/* A device's callback with its context, as registered by the vm_on_*() hooks. */
struct vm_hook {
	void (*fn)(void *opaque);
	void *opaque;
};

/* The MSI route table, owned by core and pushed to the backend whole on every change. */
struct irq_table {
	pthread_mutex_t lock;
	struct hv_msi_route routes[IRQ_MAX_ROUTES];
	bool used[IRQ_MAX_ROUTES]; /* indexed by gsi */
	bool valid[IRQ_MAX_ROUTES];
	struct hv_msi_route scratch[IRQ_MAX_ROUTES]; /* the flattened table being pushed */
};

struct vm {
	const struct hv_ops *hv;
	struct hv_vm *hvm;
	struct hv_caps caps;
	struct guest_mem mem;
	struct bus pio;
	struct bus mmio;
	struct loop loop;
	struct irq_table irq;
	struct vcpu *vcpus;
	uint32_t nr_vcpus;
	/* Device hooks (see the vm_on_*() functions). */
	struct vm_hook *cleanups; /* run in reverse order of registration */
	size_t nr_cleanups;
	struct vm_stats_fn {
		void (*fn)(void *opaque, enum log_level level);
		void *opaque;
	} stats[8];
	unsigned nr_stats;
	struct vm_eoi_fn {
		void (*fn)(void *opaque, uint8_t vector);
		void *opaque;
	} eoi;
	struct vm_hook abandon;
	/* Set once by the first vm_stop(); read by every vCPU thread. */
	_Atomic int stopping;
	_Atomic int exit_code;
	int stop_efd; /* wakes the event loop when a vCPU thread stops the VM */
	int signal_fd;
	enum sandbox_mode sandbox;
	uint32_t sandbox_ioctls[VM_MAX_SANDBOX_IOCTLS]; /* what the filter lets through */
	unsigned nr_sandbox_ioctls;
	_Atomic uint32_t vcpus_running;
	/* A second signal gave up on vCPUs that would not stop: only vm_abandon() is safe now. */
	_Atomic bool abandoned;
	/* vm_destroy() has begun: the hypervisor VM goes too (see vm_tearing_down()). */
	bool tearing_down;
	/* A device's host resources must be free when hvmm exits (vm_keep_teardown_here()). */
	bool teardown_here;
	/* vm_detach_teardown() succeeded: the child's exit unmaps guest RAM, not vm_destroy(). */
	bool teardown_detached;
	/* Work for the unfiltered thread that waits in vm_run() (vm_run_privileged()). */
	struct vm_ctl {
		pthread_mutex_t lock;
		pthread_cond_t cond;
		bool loop_done; /* the event loop ended: no new job is taken */
		int (*fn)(void *opaque);
		void *opaque;
		enum { VM_JOB_NONE, VM_JOB_QUEUED, VM_JOB_RUNNING, VM_JOB_DONE } state;
		int result;
	} ctl;
};

/*
 * Build a VM: hypervisor, RAM, buses, event loop, route table, then p->add_devices, then the
 * vCPUs.  Loads no kernel.  On failure everything built so far is released (devices through
 * their vm_on_destroy() steps).  -EINVAL if the backend cannot run p->nr_cpus vCPUs.
 */
int vm_create(const struct vm_params *p, const struct hv_ops *hv, struct vm **out) WUR;
/*
 * Release the VM: the devices' vm_on_destroy() steps in reverse order, the vCPUs, the
 * hypervisor VM, RAM.  Guest RAM stays mapped in the hypervisor VM until the VM itself goes:
 * its release removes every region, irqfd and ioeventfd at once, where removing them one by
 * one costs the kernel a grace period each.
 */
void vm_destroy(struct vm *vm);
/*
 * True once vm_destroy() has begun.  A device's teardown then leaves the hypervisor-side undo
 * steps (irqfd deassign, region unmap) to the hypervisor VM's release; closing its own fds is
 * enough.
 */
static inline bool vm_tearing_down(const struct vm *vm)
{
	return vm->tearing_down;
}
/*
 * Hand the kernel's release of the hypervisor VM to a short-lived child process, so that
 * hvmm's exit does not wait for it (on KVM, tens of milliseconds of RCU grace periods with
 * no CPU spent).  Call at exit, once the VM has stopped and everything hvmm prints is out,
 * right before vm_destroy().  The child shares this process's memory and holds a copy of its
 * file descriptors; it waits until this process has exited, then closes its copies and exits,
 * and the kernel releases the VM (and unmaps guest RAM, which vm_destroy() then leaves
 * mapped) in its context.  Nothing is lost: guest RAM and the VM go when the child exits,
 * moments after hvmm.  Not done (false) when a device called
 * vm_keep_teardown_here() or the child cannot be started; then vm_destroy() waits as usual.
 */
bool vm_detach_teardown(struct vm *vm);
/*
 * A device whose host resources must be free the moment hvmm exits says so.  Assigned VFIO
 * devices do: the hypervisor's VFIO bridge (KVM's kvm-vfio device) holds the IOMMU group
 * until the VM is released, and the user may rebind the device or start the next VM at once.
 */
void vm_keep_teardown_here(struct vm *vm);

/* ---- hooks for devices ---------------------------------------------------------------- */

/* Register fn(opaque) to run at vm_destroy(), before the VM's memory and hypervisor go. */
int vm_on_destroy(struct vm *vm, void (*fn)(void *), void *opaque) WUR;
/*
 * Register fn(opaque, level) to print a device's counters: on SIGUSR1 and, with -v, at exit,
 * in the order of registration.  -ENOSPC past eight.
 */
int vm_on_stats(struct vm *vm, void (*fn)(void *opaque, enum log_level level), void *opaque) WUR;
/*
 * The interrupt controller that wants the backend's EOIs of level-triggered vectors (the
 * hv_io eoi callback), on the vCPU thread.  One per VM; -EBUSY for a second.
 */
int vm_on_eoi(struct vm *vm, void (*fn)(void *opaque, uint8_t vector), void *opaque) WUR;
/*
 * What vm_abandon() must restore for the user (the console's terminal mode).  One per VM;
 * -EBUSY for a second.
 */
int vm_on_abandon(struct vm *vm, void (*fn)(void *), void *opaque) WUR;
/*
 * Let the running VM's threads make these ioctl requests too (a device's run-time calls, e.g.
 * VFIO's interrupt set-up); vm_create() adds the backend's run_ioctls.  Call before vm_run().
 * -ENOSPC past VM_MAX_SANDBOX_IOCTLS.
 */
int vm_sandbox_allow(struct vm *vm, const uint32_t *reqs, size_t n) WUR;

/* ---- running -------------------------------------------------------------------------- */

/*
 * Start one thread per vCPU and run the event loop until the VM stops, the calling thread
 * waiting.  `signal_fd` (a signalfd, or -1) ends the VM with 128 + signal.  *exit_code gets
 * the vm_exit_code.
 */
int vm_run(struct vm *vm, int signal_fd, int *exit_code) WUR;
/*
 * After vm_run() returned with vm->abandoned set (a second signal while vCPUs would not stop):
 * restore what the user sees (the vm_on_abandon() hook) without touching state vCPU threads
 * may hold.  The process must then exit without vm_destroy().
 */
void vm_abandon(struct vm *vm);
/*
 * Run fn(opaque) on the thread waiting in vm_run(), which has no seccomp filter, and return
 * its result: for the rare run-time work that opens files or makes set-up calls (adding an
 * assigned device), asked for by a filtered thread that checked its input.  One job at a
 * time; callers queue, and a job asked for before vm_run() waits for it.  -ECANCELED if the
 * VM stopped before the job began.  Never from a vCPU or the event loop.
 */
int vm_run_privileged(struct vm *vm, int (*fn)(void *opaque), void *opaque) WUR;
/* Ask the VM to stop with `code`; the first caller's code wins.  Any thread, async-safe. */
void vm_stop(struct vm *vm, int code);
/*
 * Pure: what the vCPU loop does with an exit.  Returns true if the VM must stop, with the
 * exit code in *code.
 */
bool vm_exit_action(enum hv_exit exit, int *code);

/* ---- MSI routes (core/irq.c) ---------------------------------------------------------- */

/* GSIs below IOAPIC_PINS belong to the interrupt controller; irq_alloc() hands out others. */
int irq_init(struct vm *vm) WUR;
int irq_alloc(struct vm *vm, uint32_t *gsi) WUR;
void irq_free(struct vm *vm, uint32_t gsi);
/* Point `gsi` at an MSI message (valid) or remove its route, then push the table. */
int irq_set_route(struct vm *vm, uint32_t gsi, uint64_t address, uint32_t data, bool valid) WUR;

#endif
