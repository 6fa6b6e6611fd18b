/* SPDX-License-Identifier: MIT */
/*
 * Per-thread seccomp filters.  Set-up (opening devices, mapping memory, creating threads) is
 * done before they are installed; afterwards a vCPU thread and the event-loop thread may only
 * make the calls their work needs.  The main thread, which only waits and then tears down,
 * is not filtered.
 */
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/vm.h"

/*
 * What every filtered thread needs: guest I/O, device fds, memory for malloc, locks, logs.
 * ioctl is not here: only the requests the backend and the devices name pass (see below).
 */
static const int sandbox_common[] = {
	SYS_read,        SYS_write,  SYS_writev,        SYS_pread64,         SYS_pwrite64,
	SYS_futex,       SYS_mmap,   SYS_munmap,        SYS_mprotect,        SYS_madvise,
	SYS_brk,         SYS_mremap, SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep,
	SYS_gettid,      SYS_getpid, SYS_tgkill,        SYS_rt_sigprocmask,  SYS_rt_sigreturn,
	SYS_sched_yield, SYS_exit,   SYS_exit_group,    SYS_restart_syscall, SYS_eventfd2,
	SYS_epoll_ctl,   SYS_close,  SYS_fcntl,         SYS_getrandom,
};

/* The event loop also waits. */
static const int sandbox_loop[] = {
	SYS_epoll_wait,
	SYS_epoll_pwait,
};

/*
 * The API thread (platform/api.c) serves clients on its listening socket: it accepts them,
 * reads requests and writes replies, and waits in its own epoll set.  It opens nothing: a
 * client cannot make it reach a file, another socket or a new process.
 */
static const int sandbox_api[] = {
	SYS_epoll_wait, SYS_epoll_pwait, SYS_accept4, SYS_recvfrom, SYS_sendto, SYS_shutdown,
};

/* The sanitizers' runtime makes calls of its own (reports, stack unwinding). */
static const int sandbox_sanitizer[] = {
	SYS_sigaltstack, SYS_prctl,    SYS_getrlimit,  SYS_sched_getaffinity,
	SYS_openat,      SYS_readlink, SYS_newfstatat, SYS_fstat,
	SYS_lseek,       SYS_uname,
};

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANDBOX_SANITIZED 1
#else
#define SANDBOX_SANITIZED 0
#endif

#define MAX_INSNS 256

static void emit(struct sock_filter *f, unsigned *n, struct sock_filter insn)
{
	if (*n < MAX_INSNS)
		f[(*n)++] = insn;
}

static void allow_list(struct sock_filter *f, unsigned *n, const int *nrs, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		/* if (nr == X) return ALLOW; */
		emit(f, n,
		     (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)nrs[i], 0,
		                                  1));
		emit(f, n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	}
}

/*
 * if (nr == SYS_ioctl) { if (request is one of reqs) return ALLOW; return deny; }
 * First in the filter, because KVM_RUN (first in its backend's list) is the call a vCPU
 * thread makes on every exit.  The kernel takes an ioctl's request as 32 bits, so the low
 * word of args[1] (first, on little-endian x86-64) is compared.  The accumulator keeps the
 * system call number for what follows when the call is not ioctl.
 */
static void allow_ioctls(struct sock_filter *f, unsigned *n, const uint32_t *reqs, size_t count,
                         uint32_t deny)
{
	emit(f, n,
	     (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, 0,
	                                  (uint8_t)(2 + 2 * count)));
	emit(f, n,
	     (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	                                  offsetof(struct seccomp_data, args[1])));
	for (size_t i = 0; i < count; i++) {
		emit(f, n, (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, reqs[i], 0, 1));
		emit(f, n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW));
	}
	emit(f, n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny));
}

int sandbox_apply(enum sandbox_role role, enum sandbox_mode mode, const uint32_t *ioctls,
                  size_t nr_ioctls)
{
	struct sock_filter f[MAX_INSNS];
	struct sock_fprog prog;
	unsigned n = 0;
	uint32_t deny = mode == SANDBOX_LOG ? SECCOMP_RET_LOG : SECCOMP_RET_KILL_PROCESS;

	if (mode == SANDBOX_OFF)
		return 0;
	/* Only x86-64 system calls: the x32 and i386 entry points are other numbers. */
	emit(f, &n,
	     (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	                                  offsetof(struct seccomp_data, arch)));
	emit(f, &n,
	     (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0));
	emit(f, &n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS));
	/* The jump over the requests holds at most 255 instructions. */
	if (nr_ioctls > 126) {
		log_err("seccomp: %zu ioctl requests do not fit in one filter", nr_ioctls);
		return -E2BIG;
	}
	emit(f, &n,
	     (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS,
	                                  offsetof(struct seccomp_data, nr)));
	allow_ioctls(f, &n, ioctls, nr_ioctls, deny);
	allow_list(f, &n, sandbox_common, ARRAY_SIZE(sandbox_common));
	if (role == SANDBOX_LOOP)
		allow_list(f, &n, sandbox_loop, ARRAY_SIZE(sandbox_loop));
	if (role == SANDBOX_API)
		allow_list(f, &n, sandbox_api, ARRAY_SIZE(sandbox_api));
	if (SANDBOX_SANITIZED)
		allow_list(f, &n, sandbox_sanitizer, ARRAY_SIZE(sandbox_sanitizer));
	emit(f, &n, (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, deny));
	if (n == MAX_INSNS) {
		log_err("seccomp filter too long");
		return -E2BIG;
	}
	prog = (struct sock_fprog){ .len = (unsigned short)n, .filter = f };
	/* No new privileges: required to install a filter without CAP_SYS_ADMIN, and wise. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		int r = -errno;

		log_err("prctl PR_SET_NO_NEW_PRIVS: %s", strerror(errno));
		return r;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		int r = -errno;

		log_err("seccomp SECCOMP_SET_MODE_FILTER (%s thread): %s; run with --seccomp off "
		        "on a kernel without seccomp",
		        role == SANDBOX_LOOP  ? "event loop"
		        : role == SANDBOX_API ? "API"
		                              : "vCPU",
		        strerror(errno));
		return r;
	}
	return 0;
}
