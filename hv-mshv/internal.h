/* SPDX-License-Identifier: MIT */
/*
 * Private to hv-mshv/: the backend's VM and VP, and the functions its files share (and its
 * tests use): partition.c (partition, memory, hypercalls), vp.c (registers and VPs), run.c
 * (the intercept loop and its emulation), irq.c (routes, irqfds, MSIs).
 */
#ifndef HVMM_HV_MSHV_INTERNAL_H
#define HVMM_HV_MSHV_INTERNAL_H

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "core/log.h"
#include "emu/emu.h"
#include "hv-mshv/abi.h"
#include "hv-mshv/hv_mshv.h"

/* Same choice as hv-kvm: a no-op handler, only there to interrupt MSHV_RUN_VP with EINTR. */
#define HV_MSHV_KICK_SIGNAL SIGUSR2

struct hv_vm {
	struct mshv_sys sys;
	int dev_fd;
	int fd;
	long page_size;
	struct hv_caps caps;
	/* Guest memory, keyed by the exact region; read by vCPU threads during emulation. */
	pthread_rwlock_t mem_lock;
	struct hv_mem_region *regions;
	size_t nr_regions, cap_regions;
};

struct hv_vcpu {
	struct hv_vm *vm;
	int fd;
	uint32_t index;
	const struct hv_io *io;
	struct mshv_reg_page *regs; /* the register page, shared with the hypervisor */
	void *msg_page;             /* the intercept-message page */
	struct mshv_run_vp run;
	/* Kick protocol: see mshv_vcpu_kick() in hv-mshv/vp.c. */
	_Atomic bool kick;
	_Atomic bool in_run;
	_Atomic bool have_thread;
	pthread_t thread;
	struct ratelimit msr_rl;
};

/* partition.c */
int mshv_hvcall(struct hv_vm *vm, int fd, uint16_t code, uint16_t reps, void *in, size_t in_sz,
                void *out, size_t out_sz, uint16_t *reps_done) WUR;
const char *mshv_hvcall_name(uint16_t code);
/* The region that contains [gpa, gpa + len), copied out; false if none.  Caller holds no lock. */
bool mshv_mem_find(struct hv_vm *vm, uint64_t gpa, uint64_t len, struct hv_mem_region *out);
int mshv_probe(void) WUR;
int mshv_vm_create(struct hv_vm **out) WUR;
void mshv_vm_destroy(struct hv_vm *vm);
void mshv_caps(struct hv_vm *vm, struct hv_caps *out);
int mshv_mem_map(struct hv_vm *vm, const struct hv_mem_region *r) WUR;
int mshv_mem_unmap(struct hv_vm *vm, const struct hv_mem_region *r) WUR;

/* vp.c: registers and VPs */
void mshv_seg_to_hv(struct mshv_seg *o, const struct hv_segment *s);
void mshv_seg_from_hv(struct hv_segment *o, const struct mshv_seg *s);
/* Marshal hv_regs/hv_sregs to (name, value) lists and back; the names are fixed tables. */
#define MSHV_NR_REGS  18
#define MSHV_NR_SREGS 17
extern const uint32_t mshv_regs_names[MSHV_NR_REGS];
extern const uint32_t mshv_sregs_names[MSHV_NR_SREGS];
void mshv_regs_pack(const struct hv_regs *r, union mshv_reg_value v[MSHV_NR_REGS]);
void mshv_regs_unpack(struct hv_regs *r, const union mshv_reg_value v[MSHV_NR_REGS]);
void mshv_sregs_pack(const struct hv_sregs *s, union mshv_reg_value v[MSHV_NR_SREGS]);
void mshv_sregs_unpack(struct hv_sregs *s, const union mshv_reg_value v[MSHV_NR_SREGS]);
int mshv_get_regs(struct hv_vcpu *v, const uint32_t *names, union mshv_reg_value *vals,
                  size_t n) WUR;
int mshv_set_regs(struct hv_vcpu *v, const uint32_t *names, const union mshv_reg_value *vals,
                  size_t n) WUR;
int mshv_vcpu_create(struct hv_vm *vm, uint32_t index, uint32_t nr, const struct hv_io *io,
                     struct hv_vcpu **out) WUR;
void mshv_vcpu_destroy(struct hv_vcpu *v);
int mshv_vcpu_set_state(struct hv_vcpu *v, enum hv_vcpu_state state) WUR;
int mshv_vcpu_get_regs(struct hv_vcpu *v, struct hv_regs *out) WUR;
int mshv_vcpu_set_regs(struct hv_vcpu *v, const struct hv_regs *regs) WUR;
int mshv_vcpu_get_sregs(struct hv_vcpu *v, struct hv_sregs *out) WUR;
int mshv_vcpu_set_sregs(struct hv_vcpu *v, const struct hv_sregs *sregs) WUR;
void mshv_vcpu_kick(struct hv_vcpu *v);

/* run.c */
/* The emulator's view of a vCPU at an intercept: mode, GPRs, segment bases. */
int mshv_emu_state(struct hv_vcpu *v, const struct mshv_intercept_header *h,
                   struct emu_cpu *cpu) WUR;
int mshv_vcpu_run(struct hv_vcpu *v, enum hv_exit *out) WUR;

/* irq.c */
/* Decode an x86 MSI {address, data} into an ASSERT_VIRTUAL_INTERRUPT input; -EINVAL if not one. */
int mshv_msi_decode(uint64_t address, uint32_t data, struct mshv_in_assert_irq *out) WUR;
int mshv_irqfd_assign(struct hv_vm *vm, int fd, uint32_t gsi) WUR;
int mshv_irqfd_deassign(struct hv_vm *vm, int fd, uint32_t gsi) WUR;
int mshv_ioeventfd_assign(struct hv_vm *vm, const struct hv_ioeventfd *e) WUR;
int mshv_ioeventfd_deassign(struct hv_vm *vm, const struct hv_ioeventfd *e) WUR;
int mshv_set_msi_routes(struct hv_vm *vm, const struct hv_msi_route *routes, size_t n) WUR;
int mshv_signal_msi(struct hv_vm *vm, uint64_t address, uint32_t data) WUR;

#endif
