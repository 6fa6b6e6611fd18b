/* SPDX-License-Identifier: MIT */
/*
 * Exiting before the kernel's release of the hypervisor VM (vm_detach_teardown in
 * core/vm.h).  Measured in the nested host on KVM: of a 60-110 ms run of a guest that powers
 * off at once, closing the VM's file descriptor took 20-70 ms, nearly all of it waiting for
 * RCU grace periods in kvm_destroy_vm, while hvmm used 10-30 ms of CPU in all.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/vm.h"

#define TEARDOWN_STACK (64u * 1024)

/*
 * A system call without libc: the child shares the parent's memory and thread-local storage,
 * so it must not write errno (the parent's main thread's) or enter anything that locks.
 */
static inline long teardown_syscall3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile("syscall"
	                 : "=a"(ret)
	                 : "a"(nr), "D"(a), "S"(b), "d"(c)
	                 : "rcx", "r11", "memory");
	return ret;
}

/*
 * The child: a copy of the parent's descriptor table and nothing of its own, on a stack of
 * its own.  The standard streams first, so that whoever reads hvmm's output sees its end with
 * hvmm's exit.  Then it waits until hvmm is gone -- the write end of the pipe, its own copy
 * closed, reads end of file once hvmm's last copy goes with hvmm -- so that the references
 * it drops after that are the last ones and the kernel releases the VM here, not in hvmm.
 */
__attribute__((no_sanitize_address)) static int teardown_child(void *arg)
{
	const int *pipefd = arg;
	char c;

	teardown_syscall3(SYS_close_range, 0, 2, 0);
	teardown_syscall3(SYS_close, pipefd[1], 0, 0);
	while (teardown_syscall3(SYS_read, pipefd[0], (long)&c, 1) == -EINTR)
		;
	if (teardown_syscall3(SYS_close_range, 3, ~0u, 0) < 0) {
		for (long fd = 3; fd < 65536; fd++)
			teardown_syscall3(SYS_close, fd, 0, 0);
	}
	teardown_syscall3(SYS_exit, 0, 0, 0);
	return 0;
}

void vm_keep_teardown_here(struct vm *vm)
{
	vm->teardown_here = true;
}

bool vm_detach_teardown(struct vm *vm)
{
	void *stack;
	int *pipefd;
	pid_t pid;

	if (vm->teardown_here)
		return false;
	/*
	 * Left mapped on purpose: the child runs on it after this process is gone.  The pipe's
	 * two numbers live at its bottom, where the child reads them (the stack grows down from
	 * the top, far away).
	 */
	stack = mmap(NULL, TEARDOWN_STACK, PROT_READ | PROT_WRITE,
	             MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
	if (stack == MAP_FAILED) {
		log_debug("teardown: no stack for the child (%s): releasing the VM here",
		          strerror(errno));
		return false;
	}
	pipefd = stack;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		log_debug("teardown: pipe: %s: releasing the VM here", strerror(errno));
		munmap(stack, TEARDOWN_STACK);
		return false;
	}
	/*
	 * CLONE_VM: no copy of guest RAM's page tables.  No CLONE_FILES: the child's own table
	 * holds the references that keep the VM alive.  No exit signal: nobody waits for it.
	 */
	pid = clone(teardown_child, (char *)stack + TEARDOWN_STACK, CLONE_VM, pipefd);
	if (pid < 0) {
		log_debug("teardown: clone: %s: releasing the VM here", strerror(errno));
		close(pipefd[0]);
		close(pipefd[1]);
		munmap(stack, TEARDOWN_STACK);
		return false;
	}
	/* hvmm needs only the write end, held open until its exit. */
	close(pipefd[0]);
	vm->teardown_detached = true;
	log_debug("teardown: process %d releases the hypervisor VM after hvmm's exit", (int)pid);
	return true;
}
