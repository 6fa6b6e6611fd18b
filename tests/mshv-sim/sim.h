/* SPDX-License-Identifier: MIT */
/*
 * mshv-sim: a stand-in for /dev/mshv that runs the guest on this machine's /dev/kvm, so
 * hv-mshv's real code paths can be tested where no Microsoft Hypervisor exists.
 *
 * It implements the UAPI calls hv-mshv makes, through hv-mshv's struct mshv_sys table:
 * a partition is a KVM VM with a split irqchip, a VP a KVM vCPU, guest memory KVM memslots
 * (with /dev/mshv's exact-match unmap and EEXIST on overlap), the register hypercalls
 * KVM_GET/SET_REGS/SREGS/MSRS/MP_STATE, MSI routes and irqfds KVM's own, MSHV_RUN_VP is
 * KVM_RUN with its exits presented as hv_message intercepts.  I/O is presented as MSHV does:
 * RIP on the instruction, its bytes in the message, nothing completed.
 *
 * Every emulated instruction is checked against KVM's emulator: the accesses hvmm made for an
 * intercept (recorded by wrapping the struct hv_io callbacks) must be the ones KVM makes when
 * it finishes the same instruction with the same device data, and the registers hvmm wrote
 * must be the ones KVM ends with.  A difference fails the run loudly.
 *
 * Test code only: it is linked into the guest-program runner, never into libhvmm.  Its
 * statistics are process-global on purpose.
 */
#ifndef HVMM_TESTS_MSHV_SIM_H
#define HVMM_TESTS_MSHV_SIM_H

#include <linux/kvm.h>
#include <stdarg.h>

#include "hv-mshv/internal.h"

/* ---- for test programs ---------------------------------------------------------------- */

/* hv-mshv's own ops on the simulator; named "mshv-sim". */
extern const struct hv_ops hv_mshv_sim_ops;

struct mshv_sim_stats {
	uint64_t intercepts;    /* I/O intercepts presented to hvmm */
	uint64_t mmio_checked;  /* MMIO accesses compared with KVM's */
	uint64_t pio_checked;   /* port accesses (string elements each) compared */
	uint64_t insns_checked; /* instructions whose resulting registers were compared */
	uint64_t ram_checked;   /* bytes a string instruction wrote to RAM, compared */
	uint64_t mismatches;
	uint64_t host_faults;    /* what the real driver would do to the host: see sim_host_fault */
	uint64_t eagains;        /* hypercalls answered EAGAIN (memory deposited), partial or not */
	uint64_t eagain_partial; /* ... of which register rep calls with some reps done */
	uint64_t pinned;         /* guest RAM bytes pinned at MSHV_SET_GUEST_MEMORY */
};
#define MSHV_SIM_NR_STATS 10
/* Totals of this process. */
void mshv_sim_get_stats(struct mshv_sim_stats *out);

/*
 * Which kernel the simulator is, from the environment variable HVMM_MSHV_SIM (comma-separated
 * words), read when a VM is created:
 *   kernel=mainline  mainline mshv_root (the default): no VFIO bridge, MMIO from vm_pgoff
 *   kernel=bridge    with the "PCI passthru on Hyper-V" series: the VFIO bridge device,
 *                    MMIO resolved by address
 *   assignable       /dev/mshv answers the host's assignable synthetic features (rust-vmm's
 *                    HVCALL_GET_PARTITION_PROPERTY_EX); mainline does not
 *   eagain=N         every Nth hypercall answers EAGAIN after a deposit (0: never; default 11)
 *   legacy-bars      test hook: hv-mshv believes this kernel maps BARs by address (the old
 *                    hvmm), so the simulator can show what mainline does with them
 */
struct mshv_sim_opts {
	bool bridge;
	bool assignable;
	unsigned eagain_every;
	bool legacy_bars;
};
struct mshv_sim;
/* Parse HVMM_MSHV_SIM-style words; -EINVAL on an unknown one. */
int mshv_sim_parse_opts(const char *s, struct mshv_sim_opts *out);
/*
 * Tests of the simulator's own rules: the host faults counted since the last call, which are
 * then forgiven (uncounted, the simulated host alive again).
 */
uint64_t mshv_sim_take_faults(struct mshv_sim *sim);

/* ---- internal ------------------------------------------------------------------------- */

#define SIM_MAX_FDS     (MSHV_MAX_VPS + 8)
#define SIM_MAX_REGIONS 128
#define SIM_MAX_RESULTS 64
#define SIM_LOG_MAX     (2 * EMU_REP_MAX_ITERATIONS + 64)

/* One access hvmm made through the struct hv_io callbacks. */
struct sim_access {
	bool mmio, write;
	uint32_t len;
	uint64_t addr;
	uint64_t data;
};

/* Per vCPU: hvmm's original callbacks, the wrapping ones, and what went through them. */
struct sim_rec {
	const struct hv_io *orig;
	struct hv_io io;
	struct sim_access *log;
	unsigned n;
	bool overflow;
};

struct sim_region {
	uint64_t gpa, size, uaddr;
	uint8_t flags; /* MSHV_SET_MEM_BIT_* */
	uint32_t slot;
	bool mmio; /* a VM_IO/VM_PFNMAP mapping, resolved by address (the bridge kernel) */
};

/* What /proc/self/smaps says of the mapping that holds an address. */
struct sim_vma {
	uint64_t start, end;
	uint64_t pgoff;  /* the VMA's vm_pgoff (the offset column, in pages) */
	bool io, pfnmap; /* VmFlags "io" (VM_IO), "pf" (VM_PFNMAP) */
	bool writable;
	char path[128];
};

/* An irqfd hvmm bound, and the route table hvmm last set. */
struct sim_irqfd {
	int fd;
	uint32_t gsi;
};

/* The instruction an I/O exit belongs to, as presented to hvmm. */
struct sim_insn {
	uint64_t rip; /* its first byte */
	uint8_t bytes[16];
	unsigned nbytes;
	bool decoded;
	struct emu_insn d;
};

/* An intercept presented and not yet finished in KVM. */
struct sim_pending {
	bool active;
	struct kvm_regs pre;    /* the state hvmm was shown */
	struct kvm_regs shadow; /* ...as hvmm wrote it since */
	bool written;
	struct kvm_sregs sregs;
	struct sim_insn insn;
};

struct sim_vp {
	struct mshv_sim *sim;
	uint32_t index;
	int fd; /* the KVM vCPU fd, also the VP fd hvmm holds */
	struct kvm_run *run;
	struct mshv_reg_page *page;
	uint8_t *msg_page;
	struct sim_rec *rec;
	struct sim_pending pend;
	bool ran;
	bool finishing; /* closing: check what is pending, never run the guest again */
	/*
	 * Where this KVM leaves RIP when a port OUT exits to userspace: on the OUT (upstream
	 * Linux: complete_fast_pio_out skips it at the next KVM_RUN) or past it (KVM ports that
	 * complete the OUT first).  Learned from the first OUT whose exit says which; until
	 * then an exit that reads both ways counts as upstream's.
	 */
	enum { SIM_OUT_UNKNOWN, SIM_OUT_AT, SIM_OUT_PAST } out_rip;
	unsigned vectoring_retries; /* KVM_INTERNAL_ERROR_DELIVERY_EV in a row, re-entered */
};

/* How many refusals "during event delivery" in a row are re-entered before the VP fails. */
#define SIM_VECTORING_RETRIES 4

struct mshv_sim {
	struct mshv_sys sys;
	struct mshv_sim_opts opts;
	pthread_mutex_t lock; /* fds, regions, results, VP table, routes, irqfds */
	int dev_fd;           /* /dev/kvm, standing for /dev/mshv */
	int part_fd;          /* the KVM VM, standing for the partition */
	int smaps_fd;         /* /proc/self/smaps, opened before any seccomp filter */
	int bridge_fd;        /* the VFIO bridge device (kernel=bridge), -1 until created */
	int bridge_files[8];  /* the VFIO files added to it */
	unsigned nr_bridge_files;
	bool dead; /* a simulated host fault happened: nothing works any more */
	bool initialized;
	uint64_t pt_flags;
	uint64_t synth_features;
	uint64_t msr_action;
	uint64_t procs_per_socket;
	uint64_t hvcalls; /* counted for the EAGAIN rule */
	int run_size;
	struct kvm_cpuid2 *cpuid;    /* KVM's supported CPUID: the "hypervisor defaults" */
	struct kvm_cpuid2 *hv_cpuid; /* the Hyper-V leaves KVM can emulate (or NULL) */
	uint64_t assignable;         /* synthetic features KVM can emulate: the "host's" set */
	uint64_t routed[MSHV_MAX_GSI / 64];
	struct sim_irqfd irqfds[64];
	unsigned nr_irqfds;
	struct sim_region regions[SIM_MAX_REGIONS];
	unsigned nr_regions;
	uint64_t slots_used[4]; /* bitmap of KVM memslots */
	struct mshv_in_intercept_result results[SIM_MAX_RESULTS];
	unsigned nr_results;
	struct sim_vp *vps[MSHV_MAX_VPS];
	struct sim_rec rec[MSHV_MAX_VPS];
};

/* sim.c */
/* The syscall table that makes this simulator hv-mshv's kernel. */
void sim_sys_init(struct mshv_sim *sim);
/* A cross-check failed: log it loudly, count it; returns -EPROTO for the caller to return. */
int sim_mismatch(struct sim_vp *vp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Host pointer for guest-physical [gpa, gpa + len) inside one RAM region, or NULL. */
void *sim_ram_ptr(struct mshv_sim *sim, uint64_t gpa, uint64_t len, uint8_t *flags);
/*
 * What the real driver would do to the host (crash it, or show the guest other host pages):
 * logged loudly naming the rule and its source, counted (a test fails on it), and the
 * simulated host is dead from then on -- every later call fails.  Returns -EIO.
 */
int sim_host_fault(struct mshv_sim *sim, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* sim_mem.c */
int sim_set_memory(struct mshv_sim *sim, const struct mshv_user_mem_region *m);
/* The mapping holding `addr`, from /proc/self/smaps; -ENOENT if none. */
int sim_vma_of(struct mshv_sim *sim, uint64_t addr, struct sim_vma *out);
int sim_create_device(struct mshv_sim *sim, struct mshv_create_device *cd);
int sim_device_attr(struct mshv_sim *sim, const struct mshv_device_attr *a);

/* sim_hv.c: what the hypervisor shows the guest */
/* The Hyper-V CPUID leaves the partition's synthetic features grant, into c (appended). */
void sim_hv_cpuid(const struct mshv_sim *sim, struct kvm_cpuid2 *c, uint32_t cap);
/* KVM's Hyper-V leaves, and the synthetic features they can back (sim->assignable). */
void sim_hv_probe(struct mshv_sim *sim);

/* sim_ops.c */
void sim_stat_add(uint64_t *field_in_stats, uint64_t n);
struct mshv_sim_stats *sim_stats(void);

/* sim_vp.c */
int sim_vp_create(struct mshv_sim *sim, uint32_t index);
void sim_vp_close(struct sim_vp *vp);
int sim_vp_apply_cpuid(struct sim_vp *vp);
int sim_hvcall_vp(struct sim_vp *vp, uint16_t code, uint16_t reps, const void *in, size_t in_sz,
                  void *out, size_t out_sz, uint16_t *status, uint16_t *reps_done);
void sim_seg_to_hv(struct mshv_seg *o, const struct kvm_segment *s);
enum emu_mode sim_mode(const struct kvm_sregs *s);
__u64 *sim_gpr(struct kvm_regs *r, unsigned n);
/* Read guest-linear bytes that are RAM; returns how many were read. */
unsigned sim_read_linear(struct sim_vp *vp, uint64_t la, void *buf, unsigned len);
int sim_translate(struct sim_vp *vp, uint64_t la, uint64_t *gpa, bool *writeable);
/* HVCALL_TRANSLATE_VIRTUAL_ADDRESS's result code for `t`, the GPA in *gpa. */
uint32_t sim_translate_code(struct sim_vp *vp, const struct mshv_in_translate *t, uint64_t *gpa);

/* An I/O exit turned into an intercept. */
struct sim_prep {
	struct kvm_regs pre;
	struct kvm_sregs sregs;
	struct sim_insn insn;
	struct mshv_msg msg;
};

/* One KVM I/O exit, either kind. */
struct sim_io {
	bool mmio, write;
	uint64_t addr; /* gpa or port */
	unsigned size; /* bytes per element */
	unsigned count;
	uint64_t data; /* the first element, for writes */
};

/* sim_present.c */
uint64_t sim_amask(unsigned addr_size);
/* Linear address of segment:offset in an address size, as the vCPU's mode forms it. */
uint64_t sim_la(const struct kvm_sregs *s, unsigned seg, uint64_t off, unsigned addr_size);
bool sim_string_op(enum emu_op op);
void sim_io_of(const struct kvm_run *run, struct sim_io *io);
void sim_fill_page(struct sim_vp *vp, const struct kvm_regs *r, const struct kvm_sregs *s);
void sim_header(struct sim_vp *vp, struct mshv_intercept_header *h, const struct kvm_regs *r,
                const struct kvm_sregs *s, unsigned insn_len, uint8_t access);
/* Turn the I/O exit in vp->run into the intercept MSHV would deliver. */
int sim_prepare(struct sim_vp *vp, struct sim_prep *p);
void sim_deliver(struct sim_vp *vp, const struct mshv_msg *msg, struct mshv_run_vp *out);
/* Deliver a prepared intercept and open it: the VP's state is hvmm's until it resumes. */
void sim_present(struct sim_vp *vp, const struct sim_prep *p, struct mshv_run_vp *out);

/* sim_run.c */
int sim_run_vp(struct sim_vp *vp, struct mshv_run_vp *out);
/* At VP close: finish and check an intercept hvmm completed but never resumed from. */
void sim_run_finish(struct sim_vp *vp);

#endif
