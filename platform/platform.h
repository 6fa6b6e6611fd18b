/* SPDX-License-Identifier: MIT */
/*
 * platform: the PC that hvmm builds, above devices/ and core/.  Files: main.c (the only exit),
 * cli.c (the command line), backends.c (which hypervisor), pc.c (the board: its devices in
 * one list), boot.c, elf.c and bzimage.c (loading a kernel and entering it), acpi.c and aml.c
 * (the tables that describe the board to the guest).  Every guest-visible fact of the
 * platform that is not a device's own register set is written here.
 */
#ifndef HVMM_PLATFORM_H
#define HVMM_PLATFORM_H

#include "core/vm.h"
#include "devices/devices.h"
#include "devices/pci/pci.h"

#define HVMM_VERSION "0.1.0"

/* ------------------------------------------------------------------------------------------ */
/* Configuration and the command line (cli.c)                                                   */
/* ------------------------------------------------------------------------------------------ */

#define VM_MAX_VFIO       8
#define VM_MAX_ROOT_PORTS 16

struct vm_config {
	const char *hypervisor; /* "kvm", "mshv", "auto" */
	uint64_t mem_size;
	enum mem_backend mem_backend; /* --memory-backend */
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
	bool vfio_trap_bars;                       /* --vfio-bars trap */
	const char *root_ports[VM_MAX_ROOT_PORTS]; /* --pcie-root-port NAME */
	unsigned nr_root_ports;
	const char *api_socket; /* --api-socket PATH, NULL for none */
};

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
/* Hypervisor backends (backends.c)                                                             */
/* ------------------------------------------------------------------------------------------ */

/* Backends compiled in, in probe order. */
extern const struct hv_ops *const hv_backends[];
/*
 * Pick the backend called `name` ("kvm", "mshv", or "auto"/NULL to probe in order).  On failure
 * logs why, naming the fix (e.g. no /dev/kvm), and returns -ENODEV or -EINVAL.
 */
int hv_select(const char *name, const struct hv_ops **out) WUR;

/* ------------------------------------------------------------------------------------------ */
/* The board (pc.c)                                                                             */
/* ------------------------------------------------------------------------------------------ */

struct pci_root;
struct vfio_assign;

/* The PC: one VM and the devices the board put in it.  Owned by the VM: freed by vm_destroy(). */
struct pc {
	struct vm *vm;
	struct ioapic *ioapic;
	struct serial *serial;
	struct ged *ged;
	struct pci_root *pci;
	struct vfio_assign *vfio; /* NULL without --vfio and --api-socket */
};

/*
 * Build the VM `cfg` describes on `hv`, with the board's devices: IOAPIC, COM1, power and
 * reset, the PCIe root complex, cfg's root ports and assigned devices, then what a PC's
 * firmware leaves the OS (PCI decoding on).  Loads no kernel.  On failure everything built so
 * far is released.  Tear down with vm_destroy(pc->vm).
 */
int pc_create(const struct vm_config *cfg, const struct hv_ops *hv, struct pc **out) WUR;

/*
 * The PCI host bridge's memory windows (the root complex checks assigned devices against
 * them; ACPI's _CRS gives them to the guest): MEM_PCI_MMIO32_SZ at MEM_PCI_MMIO32, and a
 * 64-bit window from the first 1 GiB boundary at or above max(top of RAM, PC_MMIO64_MIN) up
 * to 2^phys_bits, the guest-physical address space, capped at 2^PC_PHYS_BITS_CAP (4-level
 * nested paging's reach) -- none when less than 1 GiB is left.  Pure.
 */
#define PC_MMIO64_MIN     GiB(64)
#define PC_PHYS_BITS_CAP  48
#define PC_PHYS_BITS_NONE 36 /* x86's MAXPHYADDR when CPUID has no leaf 0x80000008 */
void pc_pci_windows_for(uint64_t ram_top, uint32_t phys_bits, struct pci_windows *out);
/* The windows of `vm`: its RAM, and the guest's physical address bits (pc_phys_bits()). */
void pc_pci_windows(const struct vm *vm, struct pci_windows *out);
/*
 * The guest-physical address bits of `vm`: the backend's (hv_caps.phys_bits), else the
 * host's CPUID 0x80000008 (its guest physical address size when it gives one).
 */
uint32_t pc_phys_bits(const struct vm *vm);

/* ------------------------------------------------------------------------------------------ */
/* The API socket (api.c, api_cmd.c) and its client (remote.c); the protocol is docs/api.md     */
/* ------------------------------------------------------------------------------------------ */

#define API_PROTOCOL    1
#define API_MAX_REQUEST 16384 /* bytes of one request line, newline included */
#define API_MAX_CLIENTS 8     /* connections served at once */
#define API_MAX_BACKLOG                                                                            \
	(1u << 20) /* reply bytes a client may leave unread before it is dropped                   \
	            */

struct api;

/*
 * Listen on the unix socket `path` (created with mode 0600).  A socket file nobody listens on
 * any more (a hvmm that was killed) is replaced; one that answers is not: -EADDRINUSE.  Logs
 * the failing step with its fix.  Before the VM is built, so a bad path costs nothing.
 */
int api_open(const char *path, struct api **out) WUR;
/*
 * Serve `pc` from a thread of its own, under the SANDBOX_API filter in `mode` with the VM's
 * ioctl list: clients connect, send requests and get replies until api_close().
 */
int api_start(struct api *api, struct pc *pc, enum sandbox_mode mode) WUR;
/* Stop the thread (if started), close every connection and remove the socket file.  NULL: no-op. */
void api_close(struct api *api);

/*
 * One request line (without its newline; any bytes) against `pc`: *reply gets a malloc'd reply
 * line ending in a newline, a "return" or an "error" object (docs/api.md).  A request can only
 * fail with a reply; -ENOMEM if not even that could be built.  Any thread but a vCPU's.
 */
int api_request(struct pc *pc, const char *line, size_t len, char **reply) WUR;
/* The line a new connection is greeted with (malloc'd, newline-terminated); NULL: no memory. */
char *api_greeting(void);

/*
 * One connection's bytes: requests are split at newlines and answered in order through
 * `send`; a line longer than API_MAX_REQUEST is answered with an error and ends the
 * connection (its framing is lost).  api_conn_feed() returns false once the connection must
 * be closed.  Used by the server for every client, and by the fuzz target.
 */
struct api_conn {
	char buf[API_MAX_REQUEST];
	size_t len;
	bool closing;
};
bool api_conn_feed(struct api_conn *c, struct pc *pc, const char *data, size_t n,
                   bool (*send)(void *opaque, const char *line), void *opaque);
/* The client closed its side: answer a last request that lacked its newline. */
void api_conn_eof(struct api_conn *c, struct pc *pc, bool (*send)(void *opaque, const char *line),
                  void *opaque);

/*
 * `hvmm remote --api-socket PATH COMMAND [ARGS]`: send one request, print the reply.  Returns
 * the process's exit status: 0 the request succeeded, 1 it was refused or the VM could not
 * be reached, 2 bad usage.
 */
int remote_main(int argc, char **argv);
const char *remote_usage(void);

/* ------------------------------------------------------------------------------------------ */
/* Loading a kernel (boot.c, elf.c)                                                             */
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
int boot_read_file(const char *path, void **buf, size_t *len) WUR;
/* Cheap format check before any VM exists: 0 if `img` looks like a kernel hvmm can load. */
int boot_check_kernel(const char *path, const void *img, size_t len) WUR;
/*
 * Load the kernel image `img` (cfg->kernel's contents: ELF64 or bzImage), cfg->initrd and
 * cfg->cmdline with the ACPI tables, and set every vCPU's start state: an ELF guest's vCPUs
 * all enter at its entry (RDI = start_info, RSI = vCPU index); a Linux guest's BSP enters
 * startup_64 (RSI = zero page) and its APs wait for INIT/SIPI.  Logs the reason; -ENOEXEC,
 * -E2BIG and -EINVAL mean the input is at fault.
 */
int boot_load(struct vm *vm, const struct vm_config *cfg, const void *img, size_t len) WUR;

/* ------------------------------------------------------------------------------------------ */
/* Linux boot (bzimage.c) and ACPI (acpi.c)                                                     */
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
 * Pure: build RSDP (at buf[0]), XSDT, FADT (hardware-reduced, sleep/reset registers of
 * devices/power.c), MCFG, MADT (nr_cpus LAPICs with APIC ID = vCPU index, the IOAPIC) and
 * DSDT (\_S5, PCI0 with the windows `w` and the INTx routing _PRT, COM1) into buf, which the
 * guest sees at `gpa`.  *len gets the bytes used.  -EINVAL for nr_cpus outside
 * 1..VM_MAX_CPUS, -ENOSPC if cap is too small.  Does not log.
 */
int acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, uint32_t nr_cpus,
               const struct pci_windows *w, size_t *len) WUR;
/* Build the tables into guest RAM at ACPI_BASE; *rsdp_gpa gets the RSDP's address. */
int acpi_setup(struct guest_mem *mem, uint32_t nr_cpus, const struct pci_windows *w,
               uint64_t *rsdp_gpa) WUR;

#endif
