/* SPDX-License-Identifier: MIT */
/*
 * Loading a kernel: reading the image, picking the ELF or Linux path, the initrd, and the
 * vCPUs' start state; entering 64-bit long mode directly; the PVH start_info of ELF guests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"

#define PTE_P      (1ull << 0)
#define PTE_RW     (1ull << 1)
#define PTE_PS     (1ull << 7)
#define GDT_CODE64 0x00af9b000000ffffull
#define GDT_DATA   0x00cf93000000ffffull
#define GDT_TSS64  0x00008b0000000067ull /* busy 64-bit TSS at 0, 104 bytes: only to be valid */

int boot_setup_longmode(struct guest_mem *mem, uint64_t entry, struct hv_regs *regs,
                        struct hv_sregs *sregs)
{
	uint64_t top = mem_top(mem) > MEM_HIGH_BASE ? mem_top(mem) : MEM_HIGH_BASE;
	uint64_t nr_pd = (top + GiB(1) - 1) / GiB(1);
	uint64_t *pml4, *pdpt, *gdt;
	uint64_t max_pd = (BOOT_PT_END - BOOT_PML4_GPA) / 4096 - 2;

	/* The identity map covers what fits below BOOT_PT_END: 4 GiB plus RAM up to ~14 GiB. */
	if (nr_pd > max_pd)
		nr_pd = max_pd;
	if (mem_ptr(mem, BOOT_PML4_GPA, (2 + nr_pd) * 4096, (void **)&pml4) ||
	    mem_ptr(mem, BOOT_GDT_GPA, 4 * 8, (void **)&gdt))
		return -EFAULT;
	memset(pml4, 0, (2 + nr_pd) * 4096);
	pdpt = pml4 + 512;
	pml4[0] = (BOOT_PML4_GPA + 4096) | PTE_P | PTE_RW;
	for (uint64_t i = 0; i < nr_pd; i++) {
		uint64_t *pd = pdpt + 512 * (i + 1);

		pdpt[i] = (BOOT_PML4_GPA + 4096 * (2 + i)) | PTE_P | PTE_RW;
		for (uint64_t j = 0; j < 512; j++)
			pd[j] = (i * GiB(1) + j * MiB(2)) | PTE_P | PTE_RW | PTE_PS;
	}
	gdt[0] = 0;
	gdt[1] = GDT_TSS64;
	gdt[2] = GDT_CODE64;
	gdt[3] = GDT_DATA;

	memset(regs, 0, sizeof(*regs));
	regs->rip = entry;
	regs->rflags = 0x2;
	memset(sregs, 0, sizeof(*sregs));
	sregs->cs = (struct hv_segment){ .selector = 0x10,
		                         .limit = 0xfffff,
		                         .type = 0xb,
		                         .s = 1,
		                         .present = 1,
		                         .l = 1,
		                         .g = 1 };
	sregs->ds = (struct hv_segment){ .selector = 0x18,
		                         .limit = 0xfffff,
		                         .type = 0x3,
		                         .s = 1,
		                         .present = 1,
		                         .db = 1,
		                         .g = 1 };
	sregs->es = sregs->fs = sregs->gs = sregs->ss = sregs->ds;
	sregs->tr =
	    (struct hv_segment){ .selector = 0x08, .limit = 0x67, .type = 0xb, .present = 1 };
	sregs->ldt =
	    (struct hv_segment){ .type = 0x2, .present = 1, .unusable = 1, .limit = 0xffff };
	sregs->gdt = (struct hv_dtable){ .base = BOOT_GDT_GPA, .limit = 4 * 8 - 1 };
	sregs->idt = (struct hv_dtable){ .base = 0, .limit = 0 };
	sregs->cr0 = 0x80050033; /* PG WP NE ET MP PE */
	sregs->cr3 = BOOT_PML4_GPA;
	sregs->cr4 = 0x20 | 0x200 | 0x400; /* PAE OSFXSR OSXMMEXCPT */
	sregs->efer = 0x500;               /* LME LMA */
	sregs->apic_base = MEM_LAPIC_BASE | 0x800 /* enabled */;
	return 0;
}

int boot_setup_start_info(struct guest_mem *mem, const char *cmdline, uint64_t initrd_gpa,
                          uint64_t initrd_size, uint64_t *start_info_gpa)
{
	struct hvm_start_info *si;
	struct hvm_memmap_entry *mm;
	struct hvm_modlist_entry *mod;
	size_t cl = cmdline ? strlen(cmdline) + 1 : 1;
	unsigned n = 0;
	char *dst;

	if (cl > BOOT_CMDLINE_MAX)
		return -E2BIG;
	if (mem_ptr(mem, BOOT_START_INFO, 0x100, (void **)&si) ||
	    mem_ptr(mem, BOOT_MEMMAP_GPA, 4 * sizeof(*mm) + sizeof(*mod), (void **)&mm) ||
	    mem_ptr(mem, BOOT_CMDLINE_GPA, cl, (void **)&dst))
		return -EFAULT;
	memcpy(dst, cmdline ? cmdline : "", cl);
	/* Below 1 MiB holds hvmm's boot structures: reserved, so the guest leaves them alone. */
	mm[n++] = (struct hvm_memmap_entry){ 0, MiB(1), 2, 0 };
	mm[n++] = (struct hvm_memmap_entry){ MiB(1), mem->ram[0].size - MiB(1), 1, 0 };
	if (mem->nr_ram > 1)
		mm[n++] = (struct hvm_memmap_entry){ mem->ram[1].gpa, mem->ram[1].size, 1, 0 };
	mod = (struct hvm_modlist_entry *)(mm + 4);
	memset(mod, 0, sizeof(*mod));
	memset(si, 0, sizeof(*si));
	si->magic = HVM_START_MAGIC;
	si->version = 1;
	si->cmdline_paddr = BOOT_CMDLINE_GPA;
	si->memmap_paddr = BOOT_MEMMAP_GPA;
	si->memmap_entries = n;
	if (initrd_size) {
		mod->paddr = initrd_gpa;
		mod->size = initrd_size;
		si->nr_modules = 1;
		si->modlist_paddr = BOOT_MEMMAP_GPA + 4 * sizeof(*mm);
	}
	*start_info_gpa = BOOT_START_INFO;
	return 0;
}

int boot_read_file(const char *path, void **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 1 << 16, n = 0;
	uint8_t *b = NULL;
	int r = 0;

	if (!f) {
		r = -errno;
		log_err("open %s: %s", path, strerror(errno));
		return r;
	}
	for (;;) {
		uint8_t *nb;
		size_t got;

		if (!b || n == cap) {
			if (b)
				cap *= 2;
			nb = realloc(b, cap);
			if (!nb) {
				r = -ENOMEM;
				log_err("read %s: out of memory at %zu bytes", path, n);
				goto out;
			}
			b = nb;
		}
		got = fread(b + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				r = -EIO;
				log_err("read %s: %s", path, strerror(errno));
			}
			break;
		}
	}
out:
	fclose(f);
	if (r) {
		free(b);
		return r;
	}
	*buf = b;
	*len = n;
	return 0;
}

/* Place the initrd at the top of low RAM, page aligned, above the kernel. */
static int boot_load_initrd(struct vm *vm, const char *path, uint64_t kernel_end, uint64_t *gpa,
                            uint64_t *size)
{
	void *buf, *dst;
	size_t len;
	uint64_t at;
	int r = boot_read_file(path, &buf, &len);

	if (r)
		return r;
	at = (vm->mem.ram[0].size - len) & ~0xfffull;
	if (len > vm->mem.ram[0].size || at < kernel_end || mem_ptr(&vm->mem, at, len, &dst)) {
		log_err("initrd %s (%zu bytes) does not fit in guest RAM below 3 GiB above the "
		        "kernel; give more --memory",
		        path, len);
		free(buf);
		return -E2BIG;
	}
	memcpy(dst, buf, len);
	free(buf);
	*gpa = at;
	*size = len;
	return 0;
}

int boot_check_kernel(const char *path, const void *img, size_t len)
{
	struct bzimage_hdr h;
	char err[256];
	int r;

	if (elf_is_elf(img, len))
		return 0;
	if (bzimage_is_bzimage(img, len)) {
		if ((r = bzimage_parse(img, len, &h, err, sizeof(err))))
			log_err("%s: %s", path, err);
		return r;
	}
	log_err("%s: not an ELF64 executable or a Linux bzImage", path);
	return -ENOEXEC;
}

/* Linux: the BSP enters startup_64 with RSI = zero page; APs wait for the kernel's INIT/SIPI. */
static int boot_load_linux(struct vm *vm, const struct vm_config *cfg, const void *img, size_t len,
                           uint64_t rsdp)
{
	struct bzimage_info bi;
	struct hv_regs regs;
	struct hv_sregs sregs;
	void *initrd = NULL;
	size_t initrd_len = 0;
	char err[256];
	int r;

	if (cfg->initrd && (r = boot_read_file(cfg->initrd, &initrd, &initrd_len)))
		return r;
	r = bzimage_load(&vm->mem, img, len, cfg->cmdline, initrd, initrd_len, rsdp, &bi, err,
	                 sizeof(err));
	free(initrd);
	if (r) {
		log_err("loading %s: %s", cfg->kernel, err);
		return r;
	}
	if ((r = boot_setup_longmode(&vm->mem, bi.entry, &regs, &sregs)))
		return r;
	regs.rsi = bi.boot_params;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct hv_vcpu *v = vm->vcpus[i].hv;

		if (i > 0)
			r = vm->hv->vcpu_set_state(v, HV_VCPU_WAIT_SIPI);
		else if (!(r = vm->hv->vcpu_set_sregs(v, &sregs)) &&
		         !(r = vm->hv->vcpu_set_regs(v, &regs)))
			r = vm->hv->vcpu_set_state(v, HV_VCPU_RUNNABLE);
		if (r)
			return r;
	}
	return 0;
}

int boot_load(struct vm *vm, const struct vm_config *cfg, const void *img, size_t len)
{
	struct hv_regs regs;
	struct hv_sregs sregs;
	struct hvm_start_info *hsi;
	uint64_t entry, end, initrd_gpa = 0, initrd_size = 0, si, rsdp;
	struct pci_windows w;
	char err[256];
	int r;

	if ((r = boot_check_kernel(cfg->kernel, img, len)))
		return r;
	/* Both kinds of guest learn the platform (CPUs, IOAPIC, ECAM, power) from ACPI. */
	pc_pci_windows(vm, &w);
	if ((r = acpi_setup(&vm->mem, vm->nr_vcpus, &w, &rsdp)))
		return r;
	if (bzimage_is_bzimage(img, len) && !elf_is_elf(img, len))
		return boot_load_linux(vm, cfg, img, len, rsdp);
	r = elf_load(&vm->mem, img, len, &entry, &end, err, sizeof(err));
	if (r) {
		log_err("%s: %s", cfg->kernel, err);
		return r;
	}
	if (cfg->initrd && (r = boot_load_initrd(vm, cfg->initrd, end, &initrd_gpa, &initrd_size)))
		return r;
	r = boot_setup_start_info(&vm->mem, cfg->cmdline, initrd_gpa, initrd_size, &si);
	if (r) {
		log_err("--cmdline is %zu bytes; at most %llu fit", strlen(cfg->cmdline),
		        (unsigned long long)BOOT_CMDLINE_MAX - 1);
		return r;
	}
	if (!mem_ptr(&vm->mem, si, sizeof(*hsi), (void **)&hsi))
		hsi->rsdp_paddr = rsdp;
	if ((r = boot_setup_longmode(&vm->mem, entry, &regs, &sregs)))
		return r;
	/* Every vCPU enters at the ELF entry: RDI = start_info, RSI = vCPU index. */
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct hv_vcpu *v = vm->vcpus[i].hv;

		regs.rdi = si;
		regs.rsi = i;
		if ((r = vm->hv->vcpu_set_sregs(v, &sregs)) ||
		    (r = vm->hv->vcpu_set_regs(v, &regs)) ||
		    (r = vm->hv->vcpu_set_state(v, HV_VCPU_RUNNABLE)))
			return r;
	}
	return 0;
}
