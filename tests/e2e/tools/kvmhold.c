/* SPDX-License-Identifier: MIT */
/*
 * kvmhold: keep one idle KVM VM (in-kernel irqchip, one vCPU that never runs) alive in L1
 * while the e2e scenarios, the test matrix and the nested benchmarks start and stop dozens
 * of VMs (tests/e2e/l1/init starts it once for the whole run).
 *
 *   kvmhold        prints "KVMHOLD ready" once the VM exists, then sleeps until killed
 *
 * Why: L1 runs under multi-threaded TCG, and KVM flips kernel static keys when the first
 * VM appears and the last one goes (preempt notifiers), and when a vCPU's local APIC is
 * software-disabled or enabled (apic_sw_disabled, at vCPU creation and when a guest sets
 * its SVR).  Each flip live-patches kernel text on all CPUs with int3 breakpoints.  In
 * one bench-boot run both of L1's CPUs were then found looping at the preempt-notifier
 * branch in finish_task_switch (soft lockups, L1 wedged for good) -- cross-CPU code
 * patching that TCG did not get right.  While this VM lives, those keys stay enabled,
 * so the VMs under test create and destroy no text patches at all.  It costs nothing
 * the benchmark sees: a VM without a running vCPU takes no CPU time.
 */
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <sys/ioctl.h>
#include <unistd.h>

int main(void)
{
	int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC), vm, vcpu;

	if (kvm < 0) {
		perror("kvmhold: /dev/kvm");
		return 1;
	}
	vm = ioctl(kvm, KVM_CREATE_VM, 0);
	if (vm < 0) {
		perror("kvmhold: KVM_CREATE_VM");
		return 1;
	}
	/* The in-kernel local APIC comes with the irqchip; the vCPU's starts disabled. */
	if (ioctl(vm, KVM_CREATE_IRQCHIP, 0) < 0) {
		perror("kvmhold: KVM_CREATE_IRQCHIP");
		return 1;
	}
	vcpu = ioctl(vm, KVM_CREATE_VCPU, 0);
	if (vcpu < 0) {
		perror("kvmhold: KVM_CREATE_VCPU");
		return 1;
	}
	printf("KVMHOLD ready\n");
	fflush(stdout);
	for (;;)
		pause();
}
