/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the cmocka unit tests: a scripted fake hv_ops that stands in for a
 * hypervisor, so core's exit handling, devices and interrupt routing run without /dev/kvm.
 */
#ifndef HVMM_TESTS_UNIT_H
#define HVMM_TESTS_UNIT_H

#include "core/core.h"

enum fake_kind {
	FAKE_PIO,  /* call io->pio(addr, data, len, write) */
	FAKE_MMIO, /* call io->mmio(...) */
	FAKE_EOI,  /* call io->eoi(data) */
	FAKE_EXIT, /* vcpu_run returns `exit` */
	FAKE_FAIL, /* vcpu_run returns `err` (negative errno) */
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

/* What the fake saw, for assertions. */
struct fake_record {
	unsigned nr_routes;
	struct hv_msi_route routes[IRQ_MAX_ROUTES];
	unsigned route_pushes;
	unsigned irqfds;   /* currently assigned */
	unsigned mem_maps; /* currently mapped regions */
	unsigned kicks;
	unsigned signal_msis;
};

extern const struct hv_ops fake_hv_ops;
/*
 * Script vCPU `index` (before vm_create).  When a script runs out, vcpu_run blocks until
 * kicked and then returns HV_EXIT_INTERRUPTED.  `steps` must outlive the VM.
 */
void fake_hv_script(uint32_t index, struct fake_step *steps, size_t n);
/* Make the next vm_create (n == 0) or the n-th ioctl-like call fail with err. */
void fake_hv_fail_vm_create(int err);
/* Forget every script and record. */
void fake_hv_reset(void);
const struct fake_record *fake_hv_record(void);

/* A VM on the fake hypervisor with the given vCPUs and RAM, serial off. */
int fake_vm_create(uint32_t cpus, uint64_t mem, struct vm **out);

#endif
