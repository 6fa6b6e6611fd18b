/* SPDX-License-Identifier: MIT */
/*
 * The backend contract: what hv-kvm/ and hv-mshv/ implement and core calls.
 *
 * A backend is one const struct hv_ops.  Each defines the opaque struct hv_vm and struct
 * hv_vcpu in its own internal.h; nothing above the backends sees a KVM or MSHV type.  Guest
 * memory is keyed by the exact region {gpa, size, hva, flags} (KVM's slot numbers stay inside
 * hv-kvm/, because /dev/mshv has no slots and unmaps by exact match).  vcpu_run() returns only
 * for the four things core decides (enum hv_exit); port I/O, MMIO and EOIs are callbacks made
 * inside it.  A backend uses core's log and base helpers and the emulator (emu/), nothing else.
 */
#ifndef HVMM_CORE_HV_H
#define HVMM_CORE_HV_H

#include "core/base.h"

/* Limits both sides of the contract agree on. */
#define VM_MAX_CPUS    255
#define IOAPIC_PINS    24   /* GSIs 0-23 are the interrupt controller's pins (KVM reserves them) */
#define IRQ_MAX_ROUTES 1024 /* GSIs in the MSI route table */

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

/*
 * How a backend can map device memory (an mmap of a VFIO BAR, HV_MEM_DEVICE) into the guest.
 * The VFIO code maps BARs straight into the guest only when the mapping is resolved by
 * address; otherwise it leaves every BAR access trapped and proxies it through the device fd.
 */
enum hv_devmem {
	HV_DEVMEM_DIRECT, /* each page resolved from its host address (KVM) */
	HV_DEVMEM_BRIDGE, /* by address, once vfio_group_add() registered the group (MSHV with
	                     the VFIO bridge device) */
	HV_DEVMEM_TRAP,   /* the kernel would map the wrong host pages: never map, trap */
};

struct hv_caps {
	bool pio_ioeventfd; /* false on MSHV: port I/O doorbells must trap */
	bool readonly_mem;
	uint32_t max_vcpus;
	uint32_t max_gsi;
	/*
	 * Guest-physical address bits the guest can use, as its CPUID 0x80000008 will say; 0 when
	 * the backend does not know (the host's own CPUID then speaks for it).
	 */
	uint32_t phys_bits;
	enum hv_devmem devmem;
	const char *devmem_why; /* one line for the log: why this mode on this host */
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
	/* Replace the whole MSI route table. */
	int (*set_msi_routes)(struct hv_vm *vm, const struct hv_msi_route *routes, size_t n) WUR;
	/*
	 * Not called by hvmm's devices today; tests/guest/doorbell_test.c holds every backend to
	 * them, for the devices that will need them.  A write of e->fd's doorbell (address,
	 * width and, with datamatch, value) signals the eventfd instead of exiting; -EOPNOTSUPP
	 * for a port doorbell where hv_caps.pio_ioeventfd is false.
	 */
	int (*ioeventfd_assign)(struct hv_vm *vm, const struct hv_ioeventfd *e) WUR;
	int (*ioeventfd_deassign)(struct hv_vm *vm, const struct hv_ioeventfd *e) WUR;
	/* Deliver one MSI now, without a route.  Tests only today, as the ioeventfds. */
	int (*signal_msi)(struct hv_vm *vm, uint64_t address, uint32_t data) WUR;
	/*
	 * Optional (NULL: nothing to do): tell the hypervisor a VFIO group is assigned to this
	 * VM (KVM's KVM-VFIO device, which lets it honour the device's cache coherency; MSHV's
	 * VFIO bridge device where the kernel has one, hv_caps.devmem == HV_DEVMEM_BRIDGE).
	 */
	int (*vfio_group_add)(struct hv_vm *vm, int group_fd) WUR;
	/*
	 * Optional, with vfio_group_add: the group leaves the VM (a hot-removed device), so the
	 * hypervisor drops its reference and the host can take the group back.
	 */
	int (*vfio_group_del)(struct hv_vm *vm, int group_fd) WUR;
	/*
	 * Optional: the backend's own counters as one line into buf (empty: nothing to say),
	 * printed with the devices' counters (-v at exit, SIGUSR1).
	 */
	void (*stats)(struct hv_vm *vm, char *buf, size_t len);
	/*
	 * The ioctl requests the backend makes once the VM runs, from vCPU threads and the event
	 * loop (run, registers, memory regions, irqfds, ioeventfds, routes, MSIs).  The seccomp
	 * filter lets these through, with those a device adds by vm_sandbox_allow(), and no
	 * other ioctl.
	 */
	const uint32_t *run_ioctls;
	size_t nr_run_ioctls;
};

#endif
