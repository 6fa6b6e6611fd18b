/* Exit handling and VM lifecycle, driven by the scripted fake hypervisor. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <poll.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "devices/devices.h"
#include "tests/unit/unit.h"

static int reset_fake(void **state)
{
	(void)state;
	fake_hv_reset();
	log_set_level(LOG_ERR);
	return 0;
}

static int run_script(struct fake_step *s0, size_t n0, struct fake_step *s1, size_t n1,
                      uint32_t cpus)
{
	struct vm *vm;
	int code = -1;

	fake_hv_script(0, s0, n0);
	if (s1)
		fake_hv_script(1, s1, n1);
	assert_int_equal(fake_vm_create(cpus, MiB(4), &vm), 0);
	assert_int_equal(vm_run(vm, -1, &code), 0);
	vm_destroy(vm);
	return code;
}

static void test_exit_action_table(void **state)
{
	int code = -1;

	(void)state;
	assert_true(vm_exit_action(HV_EXIT_SHUTDOWN, &code));
	assert_int_equal(code, VM_EXIT_CRASH);
	assert_true(vm_exit_action(HV_EXIT_RESET, &code));
	assert_int_equal(code, VM_EXIT_RESET);
	assert_false(vm_exit_action(HV_EXIT_INTERRUPTED, &code));
	assert_false(vm_exit_action(HV_EXIT_HALT, &code));
	assert_true(vm_exit_action((enum hv_exit)99, &code));
	assert_int_equal(code, VM_EXIT_ERROR);
}

static void test_poweroff_port(void **state)
{
	struct fake_step s[] = {
		{ .kind = FAKE_PIO,
		  .addr = POWER_SLEEP_CTL,
		  .data = (5 << 2) | (1 << 5),
		  .len = 1,
		  .write = true },
	};

	(void)state;
	assert_int_equal(run_script(s, 1, NULL, 0, 1), VM_EXIT_POWEROFF);
}

static void test_sleep_without_s5_keeps_running(void **state)
{
	struct fake_step s[] = {
		{ .kind = FAKE_PIO,
		  .addr = POWER_SLEEP_CTL,
		  .data = (3 << 2) | (1 << 5),
		  .len = 1,
		  .write = true }, /* S3 is not poweroff */
		{ .kind = FAKE_PIO, .addr = POWER_SLEEP_STS, .len = 1 },
		{ .kind = FAKE_EXIT, .exit = HV_EXIT_SHUTDOWN },
	};

	(void)state;
	assert_int_equal(run_script(s, 3, NULL, 0, 1), VM_EXIT_CRASH);
	assert_int_equal(s[1].data, 0);
}

/* A one-vCPU VM whose vCPU holds regs/sregs and then triple-faults: what hvmm logged. */
static const char *crash_log(const struct hv_regs *regs, const struct hv_sregs *sregs)
{
	struct fake_step s[] = { { .kind = FAKE_EXIT, .exit = HV_EXIT_SHUTDOWN } };
	const char *log;
	struct vm *vm;
	int code = -1;

	fake_hv_script(0, s, 1);
	assert_int_equal(fake_vm_create(1, MiB(4), &vm), 0);
	assert_int_equal(vm->hv->vcpu_set_regs(vm->vcpus[0].hv, regs), 0);
	assert_int_equal(vm->hv->vcpu_set_sregs(vm->vcpus[0].hv, sregs), 0);
	capture_begin();
	assert_int_equal(vm_run(vm, -1, &code), 0);
	log = capture_end();
	vm_destroy(vm);
	assert_int_equal(code, VM_EXIT_CRASH);
	return log;
}

static void test_triple_fault(void **state)
{
	struct hv_regs regs = { .rip = 0xffffffff81234567ull, .rsp = 0x7ff0 };
	struct hv_sregs sregs = { .cr3 = 0x10a000, .idt = { 0xfffffe0000000000ull, 0xfff } };
	const char *log;

	(void)state;
	log = crash_log(&regs, &sregs);
	/* The crash report says where the guest was, so its System.map can tell what ran. */
	assert_non_null(strstr(log, "vCPU 0: guest crashed"));
	assert_non_null(strstr(log, "rip 0xffffffff81234567 rsp 0x7ff0"));
	assert_non_null(strstr(log, "cr3 0x10a000"));
	assert_non_null(strstr(log, "idt 0xfffffe0000000000+0xfff"));

	/* A vCPU the hypervisor put back in its reset state has nothing to tell. */
	regs = (struct hv_regs){ .rip = 0xfff0 };
	sregs = (struct hv_sregs){ .cs = { .selector = 0xf000, .base = 0xffff0000 } };
	log = crash_log(&regs, &sregs);
	assert_non_null(strstr(log, "the hypervisor reset the vCPU"));
	assert_null(strstr(log, "rip 0x"));
}

static void test_reset_paths(void **state)
{
	struct fake_step hv[] = { { .kind = FAKE_EXIT, .exit = HV_EXIT_RESET } };
	struct fake_step kbd[] = {
		{ .kind = FAKE_EXIT, .exit = HV_EXIT_INTERRUPTED },
		{ .kind = FAKE_EXIT, .exit = HV_EXIT_HALT },
		{ .kind = FAKE_PIO, .addr = 0x64, .data = 0xfe, .len = 1, .write = true },
	};
	struct fake_step acpi[] = {
		{ .kind = FAKE_PIO,
		  .addr = POWER_RESET_REG,
		  .data = POWER_RESET_VALUE,
		  .len = 1,
		  .write = true },
	};

	(void)state;
	assert_int_equal(run_script(hv, 1, NULL, 0, 1), VM_EXIT_RESET);
	fake_hv_reset();
	assert_int_equal(run_script(kbd, 3, NULL, 0, 1), VM_EXIT_RESET);
	fake_hv_reset();
	assert_int_equal(run_script(acpi, 1, NULL, 0, 1), VM_EXIT_RESET);
}

static void test_backend_failure(void **state)
{
	struct fake_step s[] = { { .kind = FAKE_FAIL, .err = -EIO } };

	(void)state;
	assert_int_equal(run_script(s, 1, NULL, 0, 1), VM_EXIT_ERROR);
}

static void test_unclaimed_then_other_cpu_stops(void **state)
{
	struct fake_step s1[] = {
		{ .kind = FAKE_PIO, .addr = 0x1234, .len = 2 },
		{ .kind = FAKE_MMIO, .addr = 0xd0000000, .len = 8 },
		{ .kind = FAKE_MMIO, .addr = 0xd0000000, .len = 4, .data = 1, .write = true },
		{ .kind = FAKE_PIO,
		  .addr = POWER_SLEEP_CTL,
		  .data = (5 << 2) | (1 << 5),
		  .len = 1,
		  .write = true },
	};
	struct fake_step s0[] = {
		{ .kind = FAKE_EXIT, .exit = HV_EXIT_INTERRUPTED },
	};

	(void)state;
	/* vCPU 0 runs out of script and waits; vCPU 1's poweroff must kick it out. */
	assert_int_equal(run_script(s0, 1, s1, 4, 2), VM_EXIT_POWEROFF);
	assert_int_equal(s1[0].data, 0xffff);
	assert_true(s1[1].data == ~0ull);
	assert_true(fake_hv_record()->kicks >= 2);
}

static void test_first_stop_wins(void **state)
{
	struct vm *vm;

	(void)state;
	assert_int_equal(fake_vm_create(1, MiB(4), &vm), 0);
	vm_stop(vm, VM_EXIT_RESET);
	vm_stop(vm, VM_EXIT_POWEROFF);
	assert_int_equal(atomic_load(&vm->exit_code), VM_EXIT_RESET);
	vm_destroy(vm);
}

static void test_signal_stops_vm(void **state)
{
	struct vm *vm;
	sigset_t set;
	int sfd, code = -1;

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	assert_true(sfd >= 0);
	assert_int_equal(fake_vm_create(2, MiB(4), &vm), 0);
	kill(getpid(), SIGTERM); /* pending: the loop reads it at once */
	assert_int_equal(vm_run(vm, sfd, &code), 0);
	assert_int_equal(code, VM_EXIT_SIGNAL + SIGTERM);
	vm_destroy(vm);
	close(sfd);
}

/* SIGINT and SIGHUP end the VM in order like SIGTERM, each with its own code. */
static void test_sigint_sighup(void **state)
{
	int sigs[] = { SIGINT, SIGHUP };

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		struct vm *vm;
		sigset_t set;
		int sfd, code = -1;

		sigemptyset(&set);
		sigaddset(&set, sigs[i]);
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
		assert_true(sfd >= 0);
		assert_int_equal(fake_vm_create(1, MiB(4), &vm), 0);
		kill(getpid(), sigs[i]);
		assert_int_equal(vm_run(vm, sfd, &code), 0);
		assert_int_equal(code, VM_EXIT_SIGNAL + sigs[i]);
		assert_false(atomic_load(&vm->abandoned));
		vm_destroy(vm);
		close(sfd);
	}
}

/* SIGINT once the vCPU hangs, and again once the first one was acted on. */
static void *two_sigints(void *arg)
{
	struct vm *vm = arg;

	while (!fake_hv_hanging())
		usleep(1000);
	kill(getpid(), SIGINT);
	while (!atomic_load(&vm->stopping))
		usleep(1000);
	kill(getpid(), SIGINT);
	return NULL;
}

/* A vCPU deaf to kicks: a second SIGINT gives up waiting for it. */
static void test_second_signal_abandons(void **state)
{
	struct fake_step hang[] = { { .kind = FAKE_HANG } };
	pthread_t second;
	struct vm *vm;
	sigset_t set;
	int sfd, code = -1;

	(void)state;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	assert_true(sfd >= 0);
	fake_hv_script(0, hang, 1);
	assert_int_equal(fake_vm_create(1, MiB(4), &vm), 0);
	/* signalfd merges pending signals: they are sent one at a time, at the right moment. */
	assert_int_equal(pthread_create(&second, NULL, two_sigints, vm), 0);
	assert_int_equal(vm_run(vm, sfd, &code), 0);
	pthread_join(second, NULL);
	assert_int_equal(code, VM_EXIT_SIGNAL + SIGINT);
	assert_true(atomic_load(&vm->abandoned));
	vm_abandon(vm);
	/* Let the hung thread go so the test can clean up. */
	fake_hv_release();
	pthread_join(vm->vcpus[0].thread, NULL);
	vm_destroy(vm);
	close(sfd);
}

struct job {
	struct vm *vm;
	pthread_t self;
	pthread_t ran_on;
	int result;
};

/* The job notes the thread it ran on, then stops the VM, as a request could. */
static int job_fn(void *opaque)
{
	struct job *j = opaque;

	j->ran_on = pthread_self();
	vm_stop(j->vm, VM_EXIT_STOPPED);
	return 42;
}

static void *job_caller(void *arg)
{
	struct job *j = arg;

	j->result = vm_run_privileged(j->vm, job_fn, j);
	return NULL;
}

/*
 * A job asked for before vm_run() waits for it and runs on vm_run()'s thread, not on the
 * caller's; once the VM has stopped, a job is refused with -ECANCELED.
 */
static void test_privileged_jobs(void **state)
{
	struct job j = { 0 };
	struct vm *vm;
	int code = -1;

	(void)state;
	assert_int_equal(fake_vm_create(1, MiB(4), &vm), 0);
	j.vm = vm;
	assert_int_equal(pthread_create(&j.self, NULL, job_caller, &j), 0);
	assert_int_equal(vm_run(vm, -1, &code), 0);
	pthread_join(j.self, NULL);
	assert_int_equal(j.result, 42);
	assert_true(pthread_equal(j.ran_on, pthread_self()));
	assert_int_equal(code, VM_EXIT_STOPPED);
	assert_int_equal(vm_run_privileged(vm, job_fn, &j), -ECANCELED);
	vm_destroy(vm);
}

static void test_create_failure_releases_everything(void **state)
{
	struct vm *vm = NULL;

	(void)state;
	fake_hv_fail_vm_create(-ENODEV);
	assert_int_equal(fake_vm_create(1, MiB(4), &vm), -ENODEV);
	fake_hv_reset();
	/* Too many vCPUs for the backend: refused with -EINVAL, nothing leaked (ASan). */
	assert_int_equal(fake_vm_create(9, MiB(4), &vm), -EINVAL);
	assert_int_equal(fake_hv_record()->mem_maps, 0);
	/* Bad memory size. */
	assert_int_equal(fake_vm_create(1, MiB(1), &vm), -EINVAL);
}

/*
 * Teardown leaves RAM regions and irqfds to the hypervisor VM's release, which takes them all
 * at once: one by one, each would cost the kernel a grace period.
 */
static void test_teardown_leaves_undo_to_the_release(void **state)
{
	struct vm *vm;
	uint32_t v;
	unsigned undos;

	(void)state;
	assert_int_equal(fake_vm_create(1, GiB(4), &vm), 0);
	assert_int_equal(fake_hv_record()->mem_maps, 2); /* below 3 GiB and above 4 GiB */
	/* The IOAPIC binds a pin's irqfd when the guest first unmasks the pin. */
	assert_int_equal(fake_hv_record()->irqfds, 0);
	v = 0x10 + 2 * 4; /* IOREGSEL: low half of pin 4's redirection entry */
	bus_access(&vm->mmio, MEM_IOAPIC_BASE, &v, 4, true);
	v = 0x30; /* IOWIN: vector 0x30, edge, unmasked */
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + 0x10, &v, 4, true);
	assert_int_equal(fake_hv_record()->irqfds, 1);
	bus_access(&vm->mmio, MEM_IOAPIC_BASE + 0x10, &v, 4, true); /* again: still one */
	assert_int_equal(fake_hv_record()->irqfds, 1);
	undos = fake_hv_record()->undos;
	vm_destroy(vm);
	assert_int_equal(fake_hv_record()->undos, undos);
	assert_int_equal(fake_hv_record()->releases, 1);
	assert_int_equal(fake_hv_record()->mem_maps, 0);
	assert_int_equal(fake_hv_record()->irqfds, 0);
}

/* At exit with an assigned device the VM is released in this process; else in a child. */
static void test_detach_teardown(void **state)
{
	struct vm *vm;

	(void)state;
	assert_int_equal(fake_vm_create(1, MiB(16), &vm), 0);
	vm_keep_teardown_here(vm);
	assert_false(vm_detach_teardown(vm));
	vm_destroy(vm);
	assert_int_equal(fake_vm_create(1, MiB(16), &vm), 0);
	assert_true(vm_detach_teardown(vm));
	vm_destroy(vm);
	assert_int_equal(fake_hv_record()->releases, 2);
}

/*
 * The child that releases the VM keeps its references until the process that detached it has
 * exited, and drops them then: a pipe's write end stands in for the VM's descriptor.  In a
 * process of its own (playing hvmm): detach, close its own write end, and see no end of file
 * while it lives; here, after it exited, the end of file comes.
 */
static void test_detach_teardown_outlives_exit(void **state)
{
	struct pollfd p;
	int fds[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(pipe(fds), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct vm *vm;
		struct pollfd q = { .fd = fds[0], .events = POLLIN };

		if (fake_vm_create(1, MiB(16), &vm) || !vm_detach_teardown(vm))
			_exit(2);
		vm_destroy(vm);
		close(fds[1]);
		/* Only the teardown child holds the write end now. */
		_exit(poll(&q, 1, 200) == 0 ? 0 : 3);
	}
	close(fds[1]);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	p = (struct pollfd){ .fd = fds[0], .events = POLLIN };
	assert_int_equal(poll(&p, 1, 10000), 1);
	assert_true(p.revents & POLLHUP);
	close(fds[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_exit_action_table, reset_fake),
		cmocka_unit_test_setup(test_poweroff_port, reset_fake),
		cmocka_unit_test_setup(test_sleep_without_s5_keeps_running, reset_fake),
		cmocka_unit_test_setup(test_triple_fault, reset_fake),
		cmocka_unit_test_setup(test_reset_paths, reset_fake),
		cmocka_unit_test_setup(test_backend_failure, reset_fake),
		cmocka_unit_test_setup(test_unclaimed_then_other_cpu_stops, reset_fake),
		cmocka_unit_test_setup(test_first_stop_wins, reset_fake),
		cmocka_unit_test_setup(test_signal_stops_vm, reset_fake),
		cmocka_unit_test_setup(test_sigint_sighup, reset_fake),
		cmocka_unit_test_setup(test_second_signal_abandons, reset_fake),
		cmocka_unit_test_setup(test_privileged_jobs, reset_fake),
		cmocka_unit_test_setup(test_create_failure_releases_everything, reset_fake),
		cmocka_unit_test_setup(test_teardown_leaves_undo_to_the_release, reset_fake),
		cmocka_unit_test_setup(test_detach_teardown, reset_fake),
		cmocka_unit_test_setup(test_detach_teardown_outlives_exit, reset_fake),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
