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

/* The synthetic processor features hvmm asks for (see mshv_synthetic_features()). */
#define MSHV_SYNTH_DEFAULT                                                                         \
	(MSHV_SYNTH_HYPERVISOR_PRESENT | MSHV_SYNTH_HV1 | MSHV_SYNTH_ACCESS_PARTITION_REF |        \
	 MSHV_SYNTH_ACCESS_INTR_CTRL | MSHV_SYNTH_ACCESS_HYPERCALL | MSHV_SYNTH_ACCESS_VP_INDEX |  \
	 MSHV_SYNTH_ACCESS_REF_TSC | MSHV_SYNTH_ACCESS_GUEST_IDLE | MSHV_SYNTH_ACCESS_FREQUENCY |  \
	 MSHV_SYNTH_TLB_FLUSH_HYPERCALLS | MSHV_SYNTH_CLUSTER_IPI | MSHV_SYNTH_ACCESS_VP_REGS |    \
	 MSHV_SYNTH_FLUSH_GPA_SPACE)

/* Why a guest MSI route was kept from the driver (mshv_route_check()). */
enum mshv_route_drop {
	MSHV_DROP_ABSENT_VP,  /* physical destination: no VP has that APIC ID */
	MSHV_DROP_BROADCAST,  /* physical destination 0xFF */
	MSHV_DROP_NO_VP,      /* logical destination naming no VP */
	MSHV_DROP_BAD_VECTOR, /* fixed or lowest-priority with a vector below 16 */
	MSHV_DROP_NOT_MSI,    /* not an x86 MSI address */
	MSHV_NR_DROPS,
};

/* An irqfd hvmm asked for: bound in the kernel only while its GSI has a valid route. */
struct mshv_irqfd_rec {
	int fd;
	uint32_t gsi;
	bool bound;
};

struct hv_vm {
	struct mshv_sys sys;
	int dev_fd;
	int fd;
	long page_size;
	struct hv_caps caps;
	uint64_t synth_features;  /* what the partition was created with */
	const char *synth_source; /* where the mask came from, for the log and counters */
	int vfio_dev_fd;          /* the VFIO bridge device, once a group was added */
	bool topology_set;        /* PROCESSORS_PER_SOCKET, with the first VP */
	/* Guest memory, keyed by the exact region; read by vCPU threads during emulation. */
	pthread_rwlock_t mem_lock;
	struct hv_mem_region *regions;
	size_t nr_regions, cap_regions;
	/*
	 * Interrupts (irq.c): which VPs exist (APIC ID = VP index), which GSIs have a route the
	 * driver may take, the irqfds hvmm asked for, and what was dropped.
	 */
	pthread_mutex_t irq_lock;
	uint64_t vps[MSHV_MAX_VPS / 64];
	uint32_t nr_vps;
	uint64_t routed[MSHV_MAX_GSI / 64];
	struct mshv_irqfd_rec *irqfds;
	size_t nr_irqfds, cap_irqfds;
	uint64_t dropped[MSHV_MAX_GSI / 64]; /* GSIs whose route was last kept from the kernel */
	uint64_t drops[MSHV_NR_DROPS];       /* routes that became unroutable, by reason */
	uint32_t drops_logged;               /* a bit per enum mshv_route_drop */
	_Atomic uint64_t halt_pauses;        /* paced HALT re-entries, all VPs */
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
	/* HALT messages back to back at one RIP: re-entry is paced (mshv_handle_halt()). */
	uint64_t halt_rip;
	unsigned halts_in_a_row;
	uint64_t halt_pauses;
};

/* partition.c */
/*
 * The synthetic features to create a partition with: MSHV_SYNTH_DEFAULT, intersected with the
 * host's assignable set when this kernel lets hvmm read it (*source says which).
 */
uint64_t mshv_synthetic_features(struct hv_vm *vm, const char **source);
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
/* Tests only (the simulator's legacy-bars): override what hv_caps.devmem says. */
void mshv_vm_set_devmem(struct hv_vm *vm, enum hv_devmem mode, const char *why);

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

/* emulate.c */
/* The VP's register page holds its current registers (MSHV writes it at each intercept). */
static inline bool mshv_page_valid(const struct hv_vcpu *v)
{
	return v->regs && v->regs->isvalid && v->regs->version == 1;
}
/* The decoder's mode from the intercept's execution state and CS attributes. */
static inline enum emu_mode mshv_mode(uint16_t exec_state, uint16_t cs_attr)
{
	if (!(exec_state & MSHV_EXEC_CR0_PE))
		return EMU_MODE_REAL16;
	if ((exec_state & MSHV_EXEC_EFER_LMA) && (cs_attr & MSHV_SEG_L))
		return EMU_MODE_LONG64;
	return (cs_attr & MSHV_SEG_DB) ? EMU_MODE_PROT32 : EMU_MODE_PROT16;
}
/* The emulator's view of a vCPU at an intercept: mode, GPRs, segment bases. */
int mshv_emu_state(struct hv_vcpu *v, const struct mshv_intercept_header *h,
                   struct emu_cpu *cpu) WUR;
/*
 * Emulate the intercepted instruction (`count` bytes of it in `insn`, fetched from the guest
 * when 0) and write its effects back: registers, RIP, memory, the buses.  -errno (logged)
 * when it cannot be decoded or its memory cannot be reached.
 */
int mshv_emulate(struct hv_vcpu *v, const struct mshv_intercept_header *h, const uint8_t *insn,
                 unsigned count, const struct emu_hint *hint) WUR;

/* run.c */
int mshv_vcpu_run(struct hv_vcpu *v, enum hv_exit *out) WUR;

/* irq.c */
/* Which reason keeps this route from the driver, or -1 if it may go.  Caller holds irq_lock. */
int mshv_route_check(const struct hv_vm *vm, const struct hv_msi_route *r);
/* A VP now exists: its APIC ID may be a route's destination. */
void mshv_irq_vp_added(struct hv_vm *vm, uint32_t index);
void mshv_irq_destroy(struct hv_vm *vm);
void mshv_irq_stats(struct hv_vm *vm, char *buf, size_t len);
/* The VFIO bridge (hv_caps.devmem == HV_DEVMEM_BRIDGE): register a VFIO group. */
int mshv_vfio_group_add(struct hv_vm *vm, int group_fd) WUR;
/* Decode an x86 MSI {address, data} into an ASSERT_VIRTUAL_INTERRUPT input; -EINVAL if not one. */
int mshv_msi_decode(uint64_t address, uint32_t data, struct mshv_in_assert_irq *out) WUR;
int mshv_irqfd_assign(struct hv_vm *vm, int fd, uint32_t gsi) WUR;
int mshv_irqfd_deassign(struct hv_vm *vm, int fd, uint32_t gsi) WUR;
int mshv_ioeventfd_assign(struct hv_vm *vm, const struct hv_ioeventfd *e) WUR;
int mshv_ioeventfd_deassign(struct hv_vm *vm, const struct hv_ioeventfd *e) WUR;
int mshv_set_msi_routes(struct hv_vm *vm, const struct hv_msi_route *routes, size_t n) WUR;
int mshv_signal_msi(struct hv_vm *vm, uint64_t address, uint32_t data) WUR;

#endif
