/* SPDX-License-Identifier: MIT */
/*
 * irqbench: how often hvmm's own threads wake up for an MSI delivered through an irqfd.
 *
 *   irqbench GUEST_ELF N [irq|irqhlt]
 *
 * It builds the VM exactly as hvmm's main() does (pc_create, boot_load, vm_run, which starts
 * the vCPU threads and the event-loop thread), with the bench guest (bench/guest/bench.c) in "irq"
 * mode (the vCPU spins with interrupts on) or "irqhlt" (it waits for each interrupt in hlt).  One
 * MSI route (vector 0x40 to vCPU 0) is bound to an eventfd with irqfd_assign(), as a passthrough
 * device's MSI-X vector would be.  A bench-only thread, which is not counted, then:
 *
 *   1. waits until the guest has written the address of its counter to BENCH_PORT;
 *   2. baseline: sleeps for as long as step 3 took in a calibration round, counting;
 *   3. writes the eventfd N times, each time waiting (by reading guest memory, which costs
 *      the guest nothing) until the guest's handler has counted it;
 *   4. sets the guest's stop flag (and sends one more MSI to wake a halted vCPU).
 *
 * What is counted for each phase, from /proc/self/task/TID/status and from wrappers around
 * the backend's vcpu_run() and the vCPU's I/O callbacks:
 *   loop_wake      voluntary context switches of every hvmm thread but the vCPUs: the
 *                  event loop and the main thread, which waits for it (a wake-up each)
 *   vcpu_wake      voluntary context switches of the vCPU thread (a halted vCPU is woken
 *                  inside KVM_RUN, in the kernel: this is not hvmm code running)
 *   vcpu_returns   returns from vcpu_run() plus I/O and EOI callbacks: each one is hvmm
 *                  userspace code running on the vCPU thread
 * The line printed gives both phases; the interrupt cost is (irq - base) / N.
 */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "platform/platform.h"

#define BENCH_PORT 0x510 /* the guest writes the address of its irq_state here */
#define VECTOR     0x40

struct guest_irq_state { /* layout of irq_state in bench/guest/bench.c */
	volatile uint64_t count;
	volatile uint64_t stop;
};

struct counts {
	long loop_wake, vcpu_wake, vcpu_nonvol;
	uint64_t vcpu_returns;
};

static const struct hv_ops *real_hv;
static struct hv_ops counting_hv;
static void (*real_pio)(void *, uint16_t, void *, uint32_t, bool);
static void (*real_mmio)(void *, uint64_t, void *, uint32_t, bool);
static void (*real_eoi)(void *, uint8_t);
static _Atomic uint64_t vcpu_returns;
static _Atomic pid_t vcpu_tids[VM_MAX_CPUS]; /* learnt from the first vcpu_run() of each */
static __thread bool tid_known;

static struct vm *vm;
static struct guest_irq_state *gstate;
static sem_t ready;
static int efd = -1;
static pid_t bench_tid;
static unsigned long nr_irqs;

static int counted_run(struct hv_vcpu *v, enum hv_exit *out)
{
	int r;

	if (!tid_known) {
		pid_t none = 0, me = (pid_t)syscall(SYS_gettid);

		for (unsigned i = 0; i < VM_MAX_CPUS; i++)
			if (atomic_compare_exchange_strong(&vcpu_tids[i], &none, me))
				break;
			else
				none = 0;
		tid_known = true;
	}
	r = real_hv->vcpu_run(v, out);

	atomic_fetch_add(&vcpu_returns, 1);
	return r;
}

static void counted_pio(void *ctx, uint16_t port, void *data, uint32_t len, bool is_write)
{
	atomic_fetch_add(&vcpu_returns, 1);
	real_pio(ctx, port, data, len, is_write);
}

static void counted_mmio(void *ctx, uint64_t gpa, void *data, uint32_t len, bool is_write)
{
	atomic_fetch_add(&vcpu_returns, 1);
	real_mmio(ctx, gpa, data, len, is_write);
}

static void counted_eoi(void *ctx, uint8_t vector)
{
	atomic_fetch_add(&vcpu_returns, 1);
	real_eoi(ctx, vector);
}

/* The guest tells where its counter lives; the address is checked like any guest input. */
static void bench_port(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	uint32_t gpa = 0;
	void *p;

	(void)opaque;
	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	if (off != 0 || len != 4 || gstate)
		return;
	memcpy(&gpa, data, 4);
	if (mem_ptr(&vm->mem, gpa, sizeof(*gstate), &p) == 0) {
		gstate = p;
		sem_post(&ready);
	}
}

static long task_field(pid_t tid, const char *key)
{
	char path[96], buf[4096];
	FILE *f;
	size_t n;
	const char *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/status", (int)tid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	p = strstr(buf, key);
	return p ? strtol(p + strlen(key), NULL, 10) : 0;
}

static bool is_vcpu(pid_t tid)
{
	for (unsigned i = 0; i < VM_MAX_CPUS; i++)
		if (atomic_load(&vcpu_tids[i]) == tid)
			return true;
	return false;
}

/* Every thread of this process but the bench thread, split into vCPUs and the rest. */
static void sample(struct counts *c)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;

	*c = (struct counts){ 0 };
	c->vcpu_returns = atomic_load(&vcpu_returns);
	if (!d)
		return;
	while ((e = readdir(d))) {
		pid_t tid = (pid_t)atol(e->d_name);

		if (tid <= 0 || tid == bench_tid)
			continue;
		if (!is_vcpu(tid)) {
			c->loop_wake += task_field(tid, "\nvoluntary_ctxt_switches:");
		} else {
			c->vcpu_wake += task_field(tid, "\nvoluntary_ctxt_switches:");
			c->vcpu_nonvol += task_field(tid, "nonvoluntary_ctxt_switches:");
		}
	}
	closedir(d);
}

static uint64_t now_ns(void)
{
	return clock_ns();
}

/* One MSI; wait until the guest's handler ran, polling guest memory every 10 µs. */
static int fire_and_wait(uint64_t target)
{
	uint64_t one = 1, deadline = now_ns() + 2000000000ull;
	struct timespec gap = { 0, 10000 };

	if (write(efd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	while (__atomic_load_n(&gstate->count, __ATOMIC_ACQUIRE) < target) {
		if (now_ns() > deadline)
			return -ETIMEDOUT;
		nanosleep(&gap, NULL);
	}
	return 0;
}

static void *bench_thread(void *arg)
{
	struct counts b0, b1, i0, i1;
	struct timespec ts;
	uint64_t t, dur, one = 1, target;
	int r = 0;

	(void)arg;
	bench_tid = (pid_t)syscall(SYS_gettid);
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 30;
	if (sem_timedwait(&ready, &ts)) {
		fprintf(stderr, "irqbench: the guest never reported its counter\n");
		vm_stop(vm, VM_EXIT_ERROR);
		return NULL;
	}
	/* Calibration: how long N interrupts take, so the baseline lasts as long. */
	target = gstate->count;
	t = now_ns();
	for (unsigned long i = 0; i < nr_irqs && !r; i++)
		r = fire_and_wait(++target);
	dur = now_ns() - t;

	sample(&b0);
	{
		struct timespec d = { (time_t)(dur / 1000000000ull), (long)(dur % 1000000000ull) };

		nanosleep(&d, NULL);
	}
	sample(&b1);

	sample(&i0);
	t = now_ns();
	for (unsigned long i = 0; i < nr_irqs && !r; i++)
		r = fire_and_wait(++target);
	t = now_ns() - t;
	sample(&i1);

	if (r)
		fprintf(stderr, "irqbench: MSI %llu: %s\n", (unsigned long long)target,
		        strerror(-r));
	printf("n=%lu irq_ns=%llu base_ns=%llu guest_count=%llu "
	       "base_loop_wake=%ld base_vcpu_wake=%ld base_vcpu_nonvol=%ld base_vcpu_returns=%llu "
	       "irq_loop_wake=%ld irq_vcpu_wake=%ld irq_vcpu_nonvol=%ld irq_vcpu_returns=%llu\n",
	       nr_irqs, (unsigned long long)t, (unsigned long long)dur,
	       (unsigned long long)gstate->count, b1.loop_wake - b0.loop_wake,
	       b1.vcpu_wake - b0.vcpu_wake, b1.vcpu_nonvol - b0.vcpu_nonvol,
	       (unsigned long long)(b1.vcpu_returns - b0.vcpu_returns), i1.loop_wake - i0.loop_wake,
	       i1.vcpu_wake - i0.vcpu_wake, i1.vcpu_nonvol - i0.vcpu_nonvol,
	       (unsigned long long)(i1.vcpu_returns - i0.vcpu_returns));
	fflush(stdout);
	/* Let the guest power off; a halted vCPU needs one more interrupt to see the flag. */
	__atomic_store_n(&gstate->stop, 1, __ATOMIC_RELEASE);
	if (write(efd, &one, sizeof(one)) != sizeof(one))
		vm_stop(vm, VM_EXIT_ERROR);
	if (r)
		vm_stop(vm, VM_EXIT_ERROR);
	return NULL;
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	struct pc *pc;
	char err[256];
	void *img = NULL;
	size_t len = 0;
	uint32_t gsi;
	pthread_t th;
	int code = VM_EXIT_ERROR;
	char *args[] = { "irqbench",
		         "--memory",
		         "64M",
		         "--serial",
		         "none",
		         "--kernel",
		         argc > 1 ? argv[1] : "",
		         "--cmdline",
		         argc > 3 ? argv[3] : "irq",
		         NULL };

	if (argc < 3 || (nr_irqs = strtoul(argv[2], NULL, 10)) == 0) {
		fprintf(stderr, "usage: irqbench GUEST_ELF N [irq|irqhlt]\n");
		return 2;
	}
	if (cli_parse((int)ARRAY_SIZE(args) - 1, args, &cfg, err, sizeof(err))) {
		fprintf(stderr, "irqbench: %s\n", err);
		return 2;
	}
	if (hv_select("kvm", &real_hv) || boot_read_file(cfg.kernel, &img, &len))
		return 1;
	counting_hv = *real_hv;
	counting_hv.vcpu_run = counted_run;
	sem_init(&ready, 0, 0);
	efd = eventfd(0, EFD_CLOEXEC);
	if (efd < 0 || pc_create(&cfg, &counting_hv, &pc))
		goto out;
	vm = pc->vm;
	/* Count every call back into hvmm from inside the backend's run loop too. */
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		real_pio = vm->vcpus[i].io.pio;
		real_mmio = vm->vcpus[i].io.mmio;
		real_eoi = vm->vcpus[i].io.eoi;
		vm->vcpus[i].io.pio = counted_pio;
		vm->vcpus[i].io.mmio = counted_mmio;
		vm->vcpus[i].io.eoi = counted_eoi;
	}
	if (bus_register(&vm->pio, BENCH_PORT, 4, bench_port, NULL, "bench") ||
	    irq_alloc(vm, &gsi) || irq_set_route(vm, gsi, MEM_LAPIC_BASE, VECTOR, true) ||
	    vm->hv->irqfd_assign(vm->hvm, efd, gsi) || boot_load(vm, &cfg, img, len))
		goto out;
	if (pthread_create(&th, NULL, bench_thread, NULL))
		goto out;
	if (vm_run(vm, -1, &code))
		code = VM_EXIT_ERROR;
	pthread_join(th, NULL);
out:
	vm_destroy(vm);
	free(img);
	if (efd >= 0)
		close(efd);
	return code;
}
