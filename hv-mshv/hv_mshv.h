/* SPDX-License-Identifier: MIT */
/*
 * hv-mshv: the hv_ops backend over /dev/mshv (Linux as a Microsoft Hypervisor root partition).
 *
 * The backend reaches the kernel only through a struct mshv_sys table (open, ioctl, mmap,
 * munmap, close); the default table makes the real system calls, and a test can hand
 * mshv_vm_create_with() another table (tests/mshv-sim stands in for /dev/mshv on a KVM host;
 * tests/unit/test_mshv.c scripts one).
 *
 * Headers: this one is public; uapi.h is the /dev/mshv kernel interface, abi.h the subset of
 * the hypervisor's ABI hvmm uses, internal.h the backend's own types.  Only hv-mshv/ (and the
 * tests that stand in for its kernel) include those three.
 */
#ifndef HVMM_HV_MSHV_H
#define HVMM_HV_MSHV_H

#include <stddef.h>
#include <sys/types.h>

#include "core/hv.h"

/*
 * The calls hv-mshv makes into the kernel.  Each returns what the system call returns, but
 * failures as a negative errno instead of -1 and errno: open/ioctl a non-negative value or
 * -errno, mmap 0 (the mapping in *out) or -errno.  mmap always maps shared, read-write.
 */
struct mshv_sys {
	void *ctx;
	int (*open)(void *ctx, const char *path, int flags);
	int (*ioctl)(void *ctx, int fd, unsigned long request, void *arg);
	int (*mmap)(void *ctx, int fd, off_t offset, size_t len, void **out);
	int (*munmap)(void *ctx, void *addr, size_t len);
	int (*close)(void *ctx, int fd);
};

/* The real system calls. */
extern const struct mshv_sys mshv_sys_default;
extern const struct hv_ops hv_mshv_ops;

/* hv_mshv_ops.vm_create on another syscall table (copied; sys->ctx must outlive the VM). */
int mshv_vm_create_with(const struct mshv_sys *sys, struct hv_vm **out) WUR;
/* The table a VM was created with (a simulator finds its context through it). */
const struct mshv_sys *mshv_vm_sys(const struct hv_vm *vm);

#endif
