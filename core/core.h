/* SPDX-License-Identifier: MIT */
/*
 * core: the hypervisor-neutral heart of hvmm.
 *
 * Every function that can fail returns 0 or a negative errno and hands results back through
 * out-parameters.  Failures are logged once, where they happen, naming the operation; callers
 * only propagate the code.  Nothing here exits the process: only main() does.
 */
#ifndef HVMM_CORE_H
#define HVMM_CORE_H

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define WUR           __attribute__((warn_unused_result))
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define KiB(x)        ((uint64_t)(x) << 10)
#define MiB(x)        ((uint64_t)(x) << 20)
#define GiB(x)        ((uint64_t)(x) << 30)

#define HVMM_VERSION "0.1.0"

/* ------------------------------------------------------------------------------------------ */
/* Logging (core/log.c)                                                                         */
/* ------------------------------------------------------------------------------------------ */

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/*
 * The verbosity is process-wide configuration set once by main() before any thread starts;
 * it is the only writable state outside struct vm, because every layer (backends included)
 * logs and none of them should need a vm pointer to do so.
 */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* One line to stderr, prefixed "hvmm: " (and "warning: " for LOG_WARN). Thread-safe. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)  log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_DEBUG)                                                  \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

/*
 * A token bucket for messages a guest can provoke at will: at most `burst` messages per
 * second.  ratelimit_allow() returns true when a message may be printed; when a new window
 * opens after some were dropped, *suppressed receives how many, so the caller can say so.
 * Lock-free; safe to share between vCPU threads.
 */
struct ratelimit {
	_Atomic uint64_t window_ns;
	_Atomic uint32_t count;
	_Atomic uint32_t dropped;
	uint32_t burst;
};
void ratelimit_init(struct ratelimit *rl, uint32_t burst);
bool ratelimit_allow(struct ratelimit *rl, uint32_t *suppressed);

/* Monotonic clock in nanoseconds. */
uint64_t clock_ns(void);

/* ------------------------------------------------------------------------------------------ */
/* Hypervisor interface (implemented by hv-kvm/, hv-mshv/)                                      */
/* ------------------------------------------------------------------------------------------ */

struct hv_vm;   /* opaque, defined by each backend */
struct hv_vcpu; /* opaque, defined by each backend */

/* A guest memory region.  Backends key regions by this exact tuple, never by slot numbers. */
struct hv_mem_region {
	uint64_t gpa;
	uint64_t size;
	void *hva;
	uint32_t flags;
};
#define HV_MEM_READONLY (1u << 0) /* guest writes are delivered as MMIO writes */
#define HV_MEM_DEVICE   (1u << 1) /* a device BAR mapping: never DMA target, not executable */

struct hv_regs {
	uint64_t rax, rbx, rcx, rdx, rsi, rdi, rsp, rbp;
	uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
	uint64_t rip, rflags;
};

struct hv_segment {
	uint64_t base;
	uint32_t limit;
	uint16_t selector;
	uint8_t type, s, dpl, present, avl, l, db, g, unusable;
};

struct hv_dtable {
	uint64_t base;
	uint16_t limit;
};

struct hv_sregs {
	struct hv_segment cs, ds, es, fs, gs, ss, tr, ldt;
	struct hv_dtable gdt, idt;
	uint64_t cr0, cr2, cr3, cr4, cr8, efer, apic_base;
};

/* One MSI route: `gsi` delivers the x86 MSI message {address, data}. */
struct hv_msi_route {
	uint32_t gsi;
	uint64_t address;
	uint32_t data;
};

/*
 * I/O callbacks a backend calls from inside vcpu_run(), on the vCPU's thread.  Port I/O and
 * MMIO never surface as exits: a backend that must emulate an instruction (MSHV) may make
 * several calls for one intercept.  `data` holds `len` bytes (1, 2, 4 or 8), little-endian;
 * a read fills it.  eoi() reports an EOI of a level-triggered vector routed from the IOAPIC.
 */
struct hv_io {
	void *ctx;
	void (*pio)(void *ctx, uint16_t port, void *data, uint32_t len, bool is_write);
	void (*mmio)(void *ctx, uint64_t gpa, void *data, uint32_t len, bool is_write);
	void (*eoi)(void *ctx, uint8_t vector);
};

/* Why vcpu_run() returned.  Failures are a negative errno instead. */
enum hv_exit {
	HV_EXIT_HALT,        /* the vCPU halted and the backend does not wait for interrupts */
	HV_EXIT_SHUTDOWN,    /* triple fault or an unrecoverable guest exception */
	HV_EXIT_RESET,       /* the hypervisor saw a reset request */
	HV_EXIT_INTERRUPTED, /* vcpu_kick() or a signal: the caller re-checks its state */
};

enum hv_vcpu_state {
	HV_VCPU_RUNNABLE,  /* runs from the registers the VMM set */
	HV_VCPU_WAIT_SIPI, /* an application processor waiting for INIT/SIPI (Linux SMP boot) */
};

struct hv_ioeventfd {
	uint64_t addr;
	uint32_t len; /* 0 (any width, no datamatch), 1, 2, 4 or 8 */
	bool pio;
	bool datamatch;
	uint64_t data;
	int fd;
};

struct hv_caps {
	bool pio_ioeventfd; /* false on MSHV: port I/O doorbells must trap */
	bool readonly_mem;
	uint32_t max_vcpus;
	uint32_t max_gsi;
};

struct hv_ops {
	const char *name;
	/* 0 if this hypervisor can be used on this host; -ENODEV if its device is absent. */
	int (*probe)(void) WUR;
	/* Create a VM with an in-hypervisor LAPIC per vCPU and no in-kernel IOAPIC/PIC. */
	int (*vm_create)(struct hv_vm **out) WUR;
	/* Tear down everything the VM owns; safe on a partially built VM. */
	void (*vm_destroy)(struct hv_vm *vm);
	void (*caps)(struct hv_vm *vm, struct hv_caps *out);
	/* Map/unmap guest memory.  Unmap takes the exact region that was mapped. */
	int (*mem_map)(struct hv_vm *vm, const struct hv_mem_region *r) WUR;
	int (*mem_unmap)(struct hv_vm *vm, const struct hv_mem_region *r) WUR;
	/* Create vCPU `index` (also its APIC ID) of `nr_vcpus`; `io` must outlive the vCPU. */
	int (*vcpu_create)(struct hv_vm *vm, uint32_t index, uint32_t nr_vcpus,
	                   const struct hv_io *io, struct hv_vcpu **out) WUR;
	void (*vcpu_destroy)(struct hv_vcpu *vcpu);
	int (*vcpu_set_state)(struct hv_vcpu *vcpu, enum hv_vcpu_state state) WUR;
	int (*vcpu_get_regs)(struct hv_vcpu *vcpu, struct hv_regs *out) WUR;
	int (*vcpu_set_regs)(struct hv_vcpu *vcpu, const struct hv_regs *regs) WUR;
	int (*vcpu_get_sregs)(struct hv_vcpu *vcpu, struct hv_sregs *out) WUR;
	int (*vcpu_set_sregs)(struct hv_vcpu *vcpu, const struct hv_sregs *sregs) WUR;
	/* Run until something core must see; I/O is handled through hv_io callbacks inside. */
	int (*vcpu_run)(struct hv_vcpu *vcpu, enum hv_exit *out) WUR;
	/* Make a running (or about to run) vcpu_run() return HV_EXIT_INTERRUPTED soon.  Any thread.
	 */
	void (*vcpu_kick)(struct hv_vcpu *vcpu);
	/* Bind eventfd `fd` to `gsi`: a write to fd delivers the gsi's MSI route. */
	int (*irqfd_assign)(struct hv_vm *vm, int fd, uint32_t gsi) WUR;
	int (*irqfd_deassign)(struct hv_vm *vm, int fd, uint32_t gsi) WUR;
	int (*ioeventfd_assign)(struct hv_vm *vm, const struct hv_ioeventfd *e) WUR;
	int (*ioeventfd_deassign)(struct hv_vm *vm, const struct hv_ioeventfd *e) WUR;
	/* Replace the whole MSI route table. */
	int (*set_msi_routes)(struct hv_vm *vm, const struct hv_msi_route *routes, size_t n) WUR;
	/* Deliver one MSI now, without a route. */
	int (*signal_msi)(struct hv_vm *vm, uint64_t address, uint32_t data) WUR;
	/*
	 * Optional (NULL: nothing to do): tell the hypervisor a VFIO group is assigned to this
	 * VM (KVM's KVM-VFIO device, which lets it honour the device's cache coherency).
	 */
	int (*vfio_group_add)(struct hv_vm *vm, int group_fd) WUR;
	/*
	 * The ioctl requests the backend makes once the VM runs, from vCPU threads and the event
	 * loop (run, registers, memory regions, irqfds, ioeventfds, routes, MSIs).  The seccomp
	 * filter lets these through, with those a device adds by vm_sandbox_allow(), and no
	 * other ioctl.
	 */
	const uint32_t *run_ioctls;
	size_t nr_run_ioctls;
};

/* Backends compiled in, in probe order. */
extern const struct hv_ops *const hv_backends[];
/*
 * Pick the backend called `name` ("kvm", "mshv", or "auto"/NULL to probe in order).  On failure
 * logs why, naming the fix (e.g. no /dev/kvm), and returns -ENODEV or -EINVAL.
 */
int hv_select(const char *name, const struct hv_ops **out) WUR;

/* ------------------------------------------------------------------------------------------ */
/* Guest physical layout (core/mem.c)                                                           */
/* ------------------------------------------------------------------------------------------ */

/*
 * RAM fills [0, 3 GiB); the rest goes above 4 GiB.  The 3-4 GiB hole holds MMIO:
 */
#define MEM_LOW_END       GiB(3)
#define MEM_HIGH_BASE     GiB(4)
#define MEM_PCI_MMIO32    0xC0000000ull /* 32-bit PCI BAR window */
#define MEM_PCI_MMIO32_SZ MiB(512)
/*
 * PCIe ECAM for buses 0-31: bus 0 and one secondary bus for each of at most 31 root ports.
 * Not 256 buses: Linux probes every bus MCFG declares through 0xCF8/0xCFC at boot (the
 * peer-bridge scan), some 64 exits a bus.
 */
#define MEM_ECAM_BASE   0xE0000000ull
#define MEM_ECAM_BUSES  32
#define MEM_ECAM_SIZE   MiB(MEM_ECAM_BUSES)
#define MEM_IOAPIC_BASE 0xFEC00000ull
#define MEM_LAPIC_BASE  0xFEE00000ull
#define MEM_MIN_SIZE    MiB(2)
#define MEM_HUGE_ALIGN  MiB(2) /* guest RAM's host alignment (transparent huge pages) */
#define MEM_MAX_SIZE    GiB(1024)

struct mem_region {
	uint64_t gpa;
	uint64_t size;
	uint8_t *hva;
};

struct guest_mem {
	struct mem_region ram[2]; /* below 3 GiB, and above 4 GiB if RAM is larger */
	unsigned nr_ram;
	uint64_t ram_size;
	void *base; /* one host mapping holds all RAM */
};

/* Pure: split `ram_size` bytes into the x86 layout.  -EINVAL if the size is out of range. */
int mem_layout(uint64_t ram_size, struct mem_region out[2], unsigned *nr) WUR;
/* Reserve host memory for guest RAM (lazily backed) and lay it out. */
int mem_init(struct guest_mem *mem, uint64_t ram_size) WUR;
void mem_destroy(struct guest_mem *mem);
/*
 * The one checked guest-address helper: host pointer for [gpa, gpa + len), which must lie
 * entirely in one RAM region (-EFAULT otherwise, also on overflow).  Never logs: a guest can
 * supply any address.
 */
int mem_ptr(const struct guest_mem *mem, uint64_t gpa, uint64_t len, void **out) WUR;
/* Highest guest-physical RAM address + 1. */
uint64_t mem_top(const struct guest_mem *mem);

/* ------------------------------------------------------------------------------------------ */
/* Buses (core/bus.c)                                                                           */
/* ------------------------------------------------------------------------------------------ */

/* A device access: `offset` is relative to the registered base; offset + len <= size. */
typedef void (*bus_fn)(void *opaque, uint64_t offset, void *data, uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t size;
	bus_fn fn;
	void *opaque;
	const char *name;
};

/*
 * Lookups (one per exit, on every vCPU) take no lock and write no shared memory: they search
 * the ranges under a sequence count and search again if a writer changed them meanwhile (a
 * seqlock).  Writers (register, unregister) serialise on `wlock`.  An array outgrown by a
 * registration is kept until bus_destroy(), since a lookup may still be reading it; arrays
 * only double, so the kept ones add up to less than the live one.
 */
struct bus_array;
struct bus {
	const char *name; /* "pio" or "mmio", for messages */
	pthread_mutex_t wlock;
	_Atomic uint32_t seq;             /* odd while a writer changes the ranges */
	struct bus_array *_Atomic ranges; /* sorted by base, non-overlapping */
	_Atomic size_t nr;
	struct bus_array *retired; /* outgrown arrays, freed by bus_destroy() */
	struct ratelimit unclaimed_rl;
	_Atomic uint64_t unclaimed;
};

int bus_init(struct bus *bus, const char *name) WUR;
void bus_destroy(struct bus *bus);
/* -EEXIST (logged, naming both owners) if the range overlaps one already there. */
int bus_register(struct bus *bus, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
                 const char *name) WUR;
/*
 * bus_register() for ranges the guest places (PCI BARs): -EEXIST is not logged, so the
 * caller can report it under a rate limit.
 */
int bus_try_register(struct bus *bus, uint64_t base, uint64_t size, bus_fn fn, void *opaque,
                     const char *name) WUR;
/* Remove the range registered at exactly `base` with `opaque`; -ENOENT if there is none. */
int bus_unregister(struct bus *bus, uint64_t base, void *opaque) WUR;
/*
 * Dispatch an access.  Handlers run without the bus lock held, so a handler may (un)register
 * ranges (a BAR move from a config write).  An access no range fully contains is unclaimed:
 * a read returns all-ones, the access is counted and logged under a rate limit.  Returns
 * whether a handler took it.
 */
bool bus_access(struct bus *bus, uint64_t addr, void *data, uint32_t len, bool is_write);
/* Find the range containing addr (for tests and diagnostics); -ENOENT if none. */
int bus_find(struct bus *bus, uint64_t addr, struct bus_range *out) WUR;

/* ------------------------------------------------------------------------------------------ */
/* Event loop (core/loop.c)                                                                     */
/* ------------------------------------------------------------------------------------------ */

typedef void (*loop_fn)(void *opaque, uint32_t events);

struct loop_entry {
	int fd;
	loop_fn fn;
	void *opaque;
};

struct loop {
	int epfd;
	struct loop_entry *entries;
	size_t nr, cap;
	pthread_mutex_t lock;
};

int loop_init(struct loop *loop) WUR;
void loop_destroy(struct loop *loop);
/*
 * Watch fd for `events` (EPOLLIN...); fn runs on the loop's thread.  -EPERM, not logged, if fd
 * cannot be polled (a regular file, /dev/null).
 */
int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn, void *opaque) WUR;
int loop_del(struct loop *loop, int fd) WUR;
/* Wait up to timeout_ms (-1: forever) and dispatch what is ready.  -EINTR is not an error. */
int loop_poll(struct loop *loop, int timeout_ms) WUR;

/* ------------------------------------------------------------------------------------------ */
/* VM (core/vm.c, core/irq.c)                                                                   */
/* ------------------------------------------------------------------------------------------ */

/* Exit status of hvmm, one per way a VM can end (documented in man/hvmm.1.scd). */
enum vm_exit_code {
	VM_EXIT_POWEROFF = 0, /* guest powered off */
	VM_EXIT_ERROR = 1,    /* hvmm or hypervisor failure */
	VM_EXIT_USAGE = 2,    /* bad command line or input file */
	VM_EXIT_RESET = 3,    /* guest asked for a reset (reboot) */
	VM_EXIT_CRASH = 4,    /* triple fault / unrecoverable guest exception */
	VM_EXIT_SIGNAL = 128, /* + signal number: stopped by SIGINT, SIGTERM or SIGHUP */
};

enum serial_mode { SERIAL_STDIO, SERIAL_FILE, SERIAL_NONE };

/* --seccomp: kill the process on a forbidden system call, log it (kernel audit log), or off. */
enum sandbox_mode { SANDBOX_ON, SANDBOX_LOG, SANDBOX_OFF };
enum sandbox_role { SANDBOX_VCPU, SANDBOX_LOOP };

/*
 * Install the seccomp allow-list of `role` on the calling thread (core/sandbox.c): its system
 * calls, and of ioctl only the `nr_ioctls` requests in `ioctls` (compared on their low 32
 * bits, which is all the kernel looks at).  Called by vm_run() on each vCPU thread and on the
 * event-loop thread once set-up is over.  -E2BIG if the lists do not fit in one filter.
 */
int sandbox_apply(enum sandbox_role role, enum sandbox_mode mode, const uint32_t *ioctls,
                  size_t nr_ioctls) WUR;

#define VM_MAX_VFIO           8
#define VM_MAX_ROOT_PORTS     16
#define VM_MAX_SANDBOX_IOCTLS 48

struct vm_config {
	const char *hypervisor; /* "kvm", "mshv", "auto" */
	uint64_t mem_size;
	uint32_t nr_cpus;
	const char *kernel;
	const char *initrd;
	const char *cmdline;
	enum serial_mode serial;
	const char *serial_path;
	enum log_level log_level;
	bool help, version;
	enum sandbox_mode sandbox;
	/* --vfio [PORT:]BDF: the port part is split off by cli_parse() (NULL: a port of its own).
	 */
	const char *vfio_bdf[VM_MAX_VFIO];
	char vfio_port[VM_MAX_VFIO][32]; /* "" for none */
	unsigned nr_vfio;
	const char *root_ports[VM_MAX_ROOT_PORTS]; /* --pcie-root-port NAME */
	unsigned nr_root_ports;
};

#define VM_MAX_CPUS    255
#define IOAPIC_PINS    24
#define IRQ_MAX_ROUTES 1024

struct vm;
struct ioapic;
struct serial;
struct pci_root;

struct vcpu {
	struct vm *vm;
	struct hv_vcpu *hv;
	struct hv_io io;
	uint32_t index;
	pthread_t thread;
	bool thread_started;
};

/* Teardown callbacks, run in reverse order of registration. */
struct vm_cleanup {
	void (*fn)(void *opaque);
	void *opaque;
};

/* The MSI route table, owned by core and pushed to the backend whole on every change. */
struct irq_table {
	pthread_mutex_t lock;
	struct hv_msi_route routes[IRQ_MAX_ROUTES];
	bool used[IRQ_MAX_ROUTES]; /* indexed by gsi */
	bool valid[IRQ_MAX_ROUTES];
	struct hv_msi_route scratch[IRQ_MAX_ROUTES]; /* the flattened table being pushed */
};

struct vm {
	const struct hv_ops *hv;
	struct hv_vm *hvm;
	struct hv_caps caps;
	struct guest_mem mem;
	unsigned nr_ram_mapped; /* RAM regions mapped in the hypervisor so far */
	struct bus pio;
	struct bus mmio;
	struct loop loop;
	struct irq_table irq;
	struct vcpu *vcpus;
	uint32_t nr_vcpus;
	struct vm_cleanup *cleanups;
	size_t nr_cleanups;
	struct vm_stats_fn {
		void (*fn)(void *opaque, enum log_level level);
		void *opaque;
	} stats[8];
	unsigned nr_stats;
	struct ioapic *ioapic;
	struct serial *serial;
	struct pci_root *pci; /* the PCIe root complex (devices/pci) */
	/* Set once by the first vm_stop(); read by every vCPU thread. */
	_Atomic int stopping;
	_Atomic int exit_code;
	int stop_efd; /* wakes the event loop when a vCPU thread stops the VM */
	int signal_fd;
	enum sandbox_mode sandbox;
	uint32_t sandbox_ioctls[VM_MAX_SANDBOX_IOCTLS]; /* what the filter lets through */
	unsigned nr_sandbox_ioctls;
	_Atomic uint32_t vcpus_running;
	/* A second signal gave up on vCPUs that would not stop: only vm_abandon() is safe now. */
	_Atomic bool abandoned;
	uint64_t entry;
	bool linux_boot; /* APs wait for INIT/SIPI instead of starting at the entry */
};

/*
 * Build a VM from `cfg`: hypervisor, RAM, buses, event loop, IOAPIC, serial, power device,
 * vCPUs.  Does not load a kernel.  On failure everything built so far is released.
 */
int vm_create(const struct vm_config *cfg, const struct hv_ops *hv, struct vm **out) WUR;
void vm_destroy(struct vm *vm);
/*
 * Let the running VM's threads make these ioctl requests too (a device's run-time calls, e.g.
 * VFIO's interrupt set-up); vm_create() adds the backend's run_ioctls.  Call before vm_run().
 * -ENOSPC past VM_MAX_SANDBOX_IOCTLS.
 */
int vm_sandbox_allow(struct vm *vm, const uint32_t *reqs, size_t n) WUR;
/*
 * Register fn(opaque, level) to print a device's counters: on SIGUSR1 and, with -v, at exit.
 */
int vm_on_stats(struct vm *vm, void (*fn)(void *opaque, enum log_level level), void *opaque) WUR;
/* Register fn(opaque) to run at vm_destroy(), before the VM's memory and hypervisor go. */
int vm_on_destroy(struct vm *vm, void (*fn)(void *), void *opaque) WUR;
/*
 * Load the kernel image `img` (cfg->kernel's contents: ELF64 or bzImage), cfg->initrd and
 * cfg->cmdline, and set every vCPU's start state.  Logs the reason; -ENOEXEC, -E2BIG and
 * -EINVAL mean the input is at fault.
 */
int vm_load(struct vm *vm, const struct vm_config *cfg, const void *img, size_t len) WUR;
/* Cheap format check before any VM exists: 0 if `img` looks like a kernel hvmm can load. */
int vm_check_kernel(const char *path, const void *img, size_t len) WUR;
/*
 * Start one thread per vCPU and run the event loop on the calling thread until the VM stops.
 * `stop_signals` (a signalfd, or -1) ends the VM with 128 + signal.  *exit_code gets the
 * vm_exit_code.
 */
int vm_run(struct vm *vm, int signal_fd, int *exit_code) WUR;
/*
 * After vm_run() returned with vm->abandoned set (a second signal while vCPUs would not stop):
 * restore what the user sees (the terminal) without touching state vCPU threads may hold.
 * The process must then exit without vm_destroy().
 */
void vm_abandon(struct vm *vm);
/* Ask the VM to stop with `code`; the first caller's code wins.  Any thread, async-safe. */
void vm_stop(struct vm *vm, int code);

/*
 * Pure: what the vCPU loop does with an exit.  Returns true if the VM must stop, with the
 * exit code in *code.
 */
bool vm_exit_action(enum hv_exit exit, int *code);

/* GSIs 0..23 belong to the IOAPIC's pins; others are handed out by irq_alloc(). */
int irq_init(struct vm *vm) WUR;
int irq_alloc(struct vm *vm, uint32_t *gsi) WUR;
void irq_free(struct vm *vm, uint32_t gsi);
/* Point `gsi` at an MSI message (valid) or remove its route, then push the table. */
int irq_set_route(struct vm *vm, uint32_t gsi, uint64_t address, uint32_t data, bool valid) WUR;

/* ------------------------------------------------------------------------------------------ */
/* Loaders (core/elf.c, core/boot.c)                                                            */
/* ------------------------------------------------------------------------------------------ */

/* Fixed guest-physical places hvmm writes before the guest starts (below 1 MiB). */
#define BOOT_GDT_GPA     0x500ull
#define BOOT_START_INFO  0x6000ull /* hvm_start_info for ELF guests */
#define BOOT_MEMMAP_GPA  0x6100ull
#define BOOT_CMDLINE_GPA 0x20000ull
#define BOOT_CMDLINE_MAX 0x10000ull
#define BOOT_PML4_GPA    0x10000ull /* page tables run from here up to ... */
#define BOOT_PT_END      0x20000ull
#define BOOT_ELF_MIN_GPA MiB(1) /* ELF segments load at or above 1 MiB */

/* PVH start-of-day structure (Xen's hvm_start_info, version 1), handed to ELF guests in RDI. */
#define HVM_START_MAGIC 0x336ec578u
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};
struct hvm_memmap_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type; /* 1 RAM, 2 reserved */
	uint32_t reserved;
};
struct hvm_modlist_entry {
	uint64_t paddr;
	uint64_t size;
	uint64_t cmdline_paddr;
	uint64_t reserved;
};

/*
 * Load an ELF64 x86-64 executable from `buf` into guest RAM at its physical addresses;
 * *end gets the first byte above the highest loaded segment.
 * Every offset and size is checked against the file and guest RAM; on -EINVAL/-ENOEXEC/-E2BIG
 * `err` says what is wrong with the file.  Does not log.
 */
int elf_load(struct guest_mem *mem, const void *buf, size_t len, uint64_t *entry, uint64_t *end,
             char *err, size_t errlen) WUR;
/* True if buf starts with the ELF magic (used to pick a loader). */
bool elf_is_elf(const void *buf, size_t len);

/*
 * Write the GDT and identity page tables (first 4 GiB and RAM above, 2 MiB pages) and fill
 * the registers that enter 64-bit long mode at `entry`.  Pure on guest memory.
 */
int boot_setup_longmode(struct guest_mem *mem, uint64_t entry, struct hv_regs *regs,
                        struct hv_sregs *sregs) WUR;
/* Write hvm_start_info + memory map + command line + initrd module for an ELF guest. */
int boot_setup_start_info(struct guest_mem *mem, const char *cmdline, uint64_t initrd_gpa,
                          uint64_t initrd_size, uint64_t *start_info_gpa) WUR;
/* Read a whole file (for kernels and initrds); logs the failing operation with the path. */
int file_read_all(const char *path, void **buf, size_t *len) WUR;

/* ------------------------------------------------------------------------------------------ */
/* Command line (core/cli.c)                                                                    */
/* ------------------------------------------------------------------------------------------ */

/*
 * Parse argv into cfg (defaults first).  On a bad value: -EINVAL and one line in err naming the
 * option and the accepted form.  --help/--version only set cfg->help/cfg->version.
 */
int cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen) WUR;
/* Parse "512M"-style sizes (K/M/G/T suffixes, binary); -EINVAL if malformed or overflowing. */
int cli_parse_size(const char *s, uint64_t *out) WUR;
/* The --help text. */
const char *cli_usage(void);

/* ------------------------------------------------------------------------------------------ */
/* Linux boot (core/bzimage.c) and ACPI (core/acpi.c)                                           */
/* ------------------------------------------------------------------------------------------ */

/*
 * The zero page (struct boot_params) of a Linux guest: one page between the ELF start_info
 * (0x6000-0x6fff) and the page tables (BOOT_PML4_GPA).  Its command line is BOOT_CMDLINE_GPA.
 */
#define BOOT_ZERO_PAGE 0x7000ull
_Static_assert(BOOT_ZERO_PAGE >= BOOT_START_INFO + 0x1000 &&
                   BOOT_ZERO_PAGE + 0x1000 <= BOOT_PML4_GPA,
               "the zero page overlaps another boot structure");

/* What a bzImage's setup header says, after bzimage_parse() checked it. */
struct bzimage_hdr {
	uint16_t version; /* boot protocol, e.g. 0x020f */
	uint16_t xloadflags;
	uint32_t setup_sects; /* 0 in the file means 4 */
	size_t hdr_end;       /* the setup header is bytes [0x1f1, hdr_end) of the file */
	size_t kernel_off;    /* the protected-mode kernel is file[kernel_off, +kernel_len) */
	size_t kernel_len;
	uint32_t initrd_addr_max;
	uint32_t kernel_alignment;
	bool relocatable;
	uint32_t cmdline_size; /* longest command line, without its NUL */
	uint64_t pref_address;
	uint32_t init_size;
	uint64_t run_start; /* where the kernel decompresses to and runs ... */
	uint64_t run_end;   /* ... up to here (also past the image loaded at 1 MiB) */
};

struct bzimage_info {
	uint64_t entry;       /* startup_64: load address (1 MiB) + 0x200 */
	uint64_t boot_params; /* BOOT_ZERO_PAGE, for RSI */
	uint64_t initrd_gpa;  /* 0 without an initrd */
	uint64_t initrd_size;
	struct bzimage_hdr hdr;
};

/* True if buf has the "HdrS" magic at 0x202 (used to pick a loader). */
bool bzimage_is_bzimage(const void *buf, size_t len);
/*
 * Pure: check a bzImage's setup header for what hvmm needs (boot protocol 2.12+, a 64-bit
 * entry point, a protected-mode kernel inside the file).  -ENOEXEC with one line in err.
 */
int bzimage_parse(const void *buf, size_t len, struct bzimage_hdr *out, char *err,
                  size_t errlen) WUR;
/*
 * Pure on guest memory: load the protected-mode kernel at 1 MiB, the initrd (initrd_len 0:
 * none) as high as the kernel's initrd_addr_max and RAM below 3 GiB allow, page aligned,
 * above the running kernel, the command line at BOOT_CMDLINE_GPA, the zero page at
 * BOOT_ZERO_PAGE (setup header, e820 map from `mem`, acpi_rsdp_addr = rsdp_gpa), and the reset
 * stub at BOOT_RESET_VECTOR.  Checks all before writing RAM.  -ENOEXEC: bad image; -E2BIG: the
 * command line is longer than the kernel accepts, or the kernel or initrd do not fit in RAM.  One
 * line in err; does not log.
 */
int bzimage_load(struct guest_mem *mem, const void *buf, size_t len, const char *cmdline,
                 const void *initrd, size_t initrd_len, uint64_t rsdp_gpa, struct bzimage_info *out,
                 char *err, size_t errlen) WUR;

/*
 * A Linux guest's "firmware" at the x86 reset vector (F000:FFF0): 16-bit code that writes
 * POWER_RESET_VALUE to POWER_RESET_REG.  Linux on a hardware-reduced ACPI platform reboots
 * by jumping there (its reboot_type becomes EFI, then BIOS, without EFI runtime services).
 */
#define BOOT_RESET_VECTOR 0xFFFF0ull

/*
 * ACPI tables live in the e820-reserved BIOS area: the RSDP at ACPI_BASE (where a guest
 * scanning 0xE0000-0xFFFFF finds it), the other tables after it, below ACPI_END.
 */
#define ACPI_BASE 0xE0000ull
#define ACPI_END  0xF0000ull
/*
 * The PCI host bridge's 64-bit memory window: ACPI_PCI_MMIO64_SIZE bytes from the first
 * 1 GiB boundary at or above max(top of RAM, ACPI_PCI_MMIO64_MIN).
 */
#define ACPI_PCI_MMIO64_MIN  GiB(64)
#define ACPI_PCI_MMIO64_SIZE GiB(64)
void acpi_pci_mmio64(const struct guest_mem *mem, uint64_t *base, uint64_t *size);
/*
 * Pure: build RSDP (at buf[0]), XSDT, FADT (hardware-reduced, sleep/reset registers of
 * devices/power.c), MCFG, MADT (nr_cpus LAPICs with APIC ID = vCPU index, the IOAPIC) and
 * DSDT (\_S5, PCI0, COM1) into buf, which the guest sees at `gpa`.  *len gets the bytes used.
 * -EINVAL for nr_cpus outside 1..VM_MAX_CPUS, -ENOSPC if cap is too small.  Does not log.
 */
int acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, uint32_t nr_cpus,
               const struct guest_mem *mem, size_t *len) WUR;
/* Build the tables into guest RAM at ACPI_BASE; *rsdp_gpa gets the RSDP's address. */
int acpi_setup(struct guest_mem *mem, uint32_t nr_cpus, uint64_t *rsdp_gpa) WUR;

#endif
