/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the cmocka unit tests: a scripted fake hv_ops that stands in for a
 * hypervisor, so core's exit handling, devices and interrupt routing run without /dev/kvm.
 */
#ifndef HVMM_TESTS_UNIT_H
#define HVMM_TESTS_UNIT_H

#include "platform/platform.h"

enum fake_kind {
	FAKE_PIO,  /* call io->pio(addr, data, len, write) */
	FAKE_MMIO, /* call io->mmio(...) */
	FAKE_EOI,  /* call io->eoi(data) */
	FAKE_EXIT, /* vcpu_run returns `exit` */
	FAKE_FAIL, /* vcpu_run returns `err` (negative errno) */
	FAKE_HANG, /* vcpu_run blocks, deaf to kicks, until fake_hv_release() */
};

struct fake_step {
	enum fake_kind kind;
	uint64_t addr;
	uint64_t data; /* written value; for reads, what the device returned (filled in) */
	uint32_t len;
	bool write;
	enum hv_exit exit;
	int err;
};

#define FAKE_MAX_VCPUS 8

/* What the fake saw, for assertions. */
struct fake_record {
	unsigned nr_routes;
	struct hv_msi_route routes[IRQ_MAX_ROUTES];
	unsigned route_pushes;
	unsigned irqfds;   /* currently assigned */
	unsigned mem_maps; /* currently mapped regions */
	unsigned undos;    /* mem_unmap and irqfd_deassign calls */
	unsigned releases; /* VMs released (vm_destroy) */
	unsigned kicks;
	unsigned signal_msis;
	enum hv_vcpu_state vcpu_state[FAKE_MAX_VCPUS]; /* as last set */
	unsigned vfio_groups;                          /* groups the KVM-VFIO device holds */
};

extern const struct hv_ops fake_hv_ops;
/*
 * Script vCPU `index` (before vm_create).  When a script runs out, vcpu_run blocks until
 * kicked and then returns HV_EXIT_INTERRUPTED.  `steps` must outlive the VM.
 */
void fake_hv_script(uint32_t index, struct fake_step *steps, size_t n);
/* Make the next vm_create (n == 0) or the n-th ioctl-like call fail with err. */
void fake_hv_fail_vm_create(int err);
/*
 * Fault injection: the n-th set-up call into the fake (create VM, map memory, vCPU state and
 * registers, irqfd, MSI routing) fails with err (n = 0: none).  fake_hv_calls() counts them.
 */
void fake_hv_fail_nth(unsigned n, int err);
/* Count one more injectable call (`op` names it); the error to return if it is the n-th. */
int fake_hv_fault(const char *op);
unsigned fake_hv_calls(void);
/* True once a vCPU is inside a FAKE_HANG. */
bool fake_hv_hanging(void);
/* Let every FAKE_HANG return (HV_EXIT_INTERRUPTED). */
void fake_hv_release(void);
/* Forget every script and record; the next VM has 40 guest-physical address bits. */
void fake_hv_reset(void);
/* The guest-physical address bits the fake's caps report for VMs created from now on. */
void fake_hv_set_phys_bits(uint32_t bits);
/* The GSI eventfd `fd` is bound to as an irqfd now, -1 if none. */
int fake_hv_irqfd_gsi(int fd);
const struct fake_record *fake_hv_record(void);
/*
 * A guest access to `gpa` as the hypervisor would do it: through the memory mapped there (a
 * VFIO BAR mmap faulting like vfio-pci's: -EFAULT, what KVM_RUN then returns), else as an
 * MMIO exit on vm's bus.  Returns 0 or -EFAULT.
 */
int fake_hv_guest_access(struct vm *vm, uint64_t gpa, void *data, uint32_t len, bool write);

/* The PC on the fake hypervisor with the given vCPUs and RAM, serial off. */
int fake_pc_create(uint32_t cpus, uint64_t mem, struct pc **out);
/*
 * The same with root ports named ports[0..n) and, with `api`, built as for --api-socket
 * (devices may be hot-plugged: the VFIO assignment exists, its container not yet open).
 */
int fake_pc_create_ports(uint32_t cpus, uint64_t mem, const char *const *ports, unsigned n,
                         bool api, struct pc **out);
/* The same, for tests that need only its VM. */
int fake_vm_create(uint32_t cpus, uint64_t mem, struct vm **out);

/* ---- capturing what hvmm logs (log lines go to stderr) ---- */

/* Start sending stderr to a temporary file. */
void capture_begin(void);
/* Stop, restore stderr and return what was logged (static buffer, NUL-terminated). */
const char *capture_end(void);

/* ---- a fake VFIO kernel behind struct vfio_sys ---- */

#include "tests/unit/fake_vfio.h"

#endif
