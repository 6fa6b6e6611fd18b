/* SPDX-License-Identifier: MIT */
/* VM lifecycle: build, run one thread per vCPU plus the event loop, stop in order. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "core/core.h"
#include "devices/devices.h"
#include "devices/vfio/vfio.h"
#include "devices/pci/pci.h"

bool vm_exit_action(enum hv_exit exit, int *code)
{
	switch (exit) {
	case HV_EXIT_SHUTDOWN:
		*code = VM_EXIT_CRASH;
		return true;
	case HV_EXIT_RESET:
		*code = VM_EXIT_RESET;
		return true;
	case HV_EXIT_HALT:        /* a backend that returns halts wants to be re-entered */
	case HV_EXIT_INTERRUPTED: /* the loop re-checks `stopping` */
		return false;
	}
	*code = VM_EXIT_ERROR;
	return true;
}

void vm_stop(struct vm *vm, int code)
{
	int expected = 0;
	uint64_t one = 1;

	if (!atomic_compare_exchange_strong(&vm->stopping, &expected, 1))
		return;
	atomic_store(&vm->exit_code, code);
	if (write(vm->stop_efd, &one, sizeof(one)) < 0)
		log_debug("stop eventfd write: %s", strerror(errno));
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].hv)
			vm->hv->vcpu_kick(vm->vcpus[i].hv);
	}
}

void vm_abandon(struct vm *vm)
{
	if (vm->serial)
		serial_restore_console(vm->serial);
}

int vm_sandbox_allow(struct vm *vm, const uint32_t *reqs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		bool have = false;

		for (unsigned j = 0; j < vm->nr_sandbox_ioctls && !have; j++)
			have = vm->sandbox_ioctls[j] == reqs[i];
		if (have)
			continue;
		if (vm->nr_sandbox_ioctls == VM_MAX_SANDBOX_IOCTLS) {
			log_err("seccomp: more than %d ioctl requests to allow",
			        VM_MAX_SANDBOX_IOCTLS);
			return -ENOSPC;
		}
		vm->sandbox_ioctls[vm->nr_sandbox_ioctls++] = reqs[i];
	}
	return 0;
}

int vm_on_stats(struct vm *vm, void (*fn)(void *opaque, enum log_level level), void *opaque)
{
	if (vm->nr_stats == ARRAY_SIZE(vm->stats)) {
		log_err("too many counter printers");
		return -ENOSPC;
	}
	vm->stats[vm->nr_stats++] = (struct vm_stats_fn){ fn, opaque };
	return 0;
}

int vm_on_destroy(struct vm *vm, void (*fn)(void *), void *opaque)
{
	struct vm_cleanup *n = realloc(vm->cleanups, (vm->nr_cleanups + 1) * sizeof(*n));

	if (!n) {
		log_err("out of memory registering a teardown step");
		return -ENOMEM;
	}
	vm->cleanups = n;
	vm->cleanups[vm->nr_cleanups++] = (struct vm_cleanup){ fn, opaque };
	return 0;
}

static void vm_pio(void *ctx, uint16_t port, void *data, uint32_t len, bool is_write)
{
	struct vcpu *vcpu = ctx;

	bus_access(&vcpu->vm->pio, port, data, len, is_write);
}

static void vm_mmio(void *ctx, uint64_t gpa, void *data, uint32_t len, bool is_write)
{
	struct vcpu *vcpu = ctx;

	bus_access(&vcpu->vm->mmio, gpa, data, len, is_write);
}

static void vm_eoi(void *ctx, uint8_t vector)
{
	struct vcpu *vcpu = ctx;

	if (vcpu->vm->ioapic)
		ioapic_eoi(vcpu->vm->ioapic, vector);
}

static int vm_map_ram(struct vm *vm)
{
	for (unsigned i = 0; i < vm->mem.nr_ram; i++) {
		struct hv_mem_region r = { vm->mem.ram[i].gpa, vm->mem.ram[i].size,
			                   vm->mem.ram[i].hva, 0 };
		int ret = vm->hv->mem_map(vm->hvm, &r);

		if (ret)
			return ret;
		vm->nr_ram_mapped++;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (!vm)
		return;
	while (vm->nr_cleanups) {
		struct vm_cleanup *c = &vm->cleanups[--vm->nr_cleanups];

		c->fn(c->opaque);
	}
	free(vm->cleanups);
	for (uint32_t i = 0; vm->vcpus && i < vm->nr_vcpus; i++) {
		if (vm->vcpus[i].hv)
			vm->hv->vcpu_destroy(vm->vcpus[i].hv);
	}
	free(vm->vcpus);
	if (vm->hvm) {
		/* Only what was mapped: a failed vm_create() may have mapped part of RAM. */
		for (unsigned i = 0; i < vm->nr_ram_mapped; i++) {
			struct hv_mem_region r = { vm->mem.ram[i].gpa, vm->mem.ram[i].size,
				                   vm->mem.ram[i].hva, 0 };

			if (vm->hv->mem_unmap(vm->hvm, &r))
				log_debug("unmapping guest RAM region %u failed", i);
		}
		vm->hv->vm_destroy(vm->hvm);
	}
	pthread_mutex_destroy(&vm->irq.lock);
	mem_destroy(&vm->mem);
	loop_destroy(&vm->loop);
	bus_destroy(&vm->mmio);
	bus_destroy(&vm->pio);
	if (vm->stop_efd >= 0)
		close(vm->stop_efd);
	free(vm);
}

int vm_create(const struct vm_config *cfg, const struct hv_ops *hv, struct vm **out)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	int r;

	if (!vm) {
		log_err("out of memory allocating the VM");
		return -ENOMEM;
	}
	vm->hv = hv;
	vm->stop_efd = -1;
	vm->signal_fd = -1;
	vm->sandbox = cfg->sandbox;
	atomic_init(&vm->vcpus_running, 0);
	atomic_init(&vm->abandoned, false);
	vm->loop.epfd = -1;
	atomic_init(&vm->stopping, 0);
	atomic_init(&vm->exit_code, VM_EXIT_POWEROFF);
	if ((r = bus_init(&vm->pio, "pio")) || (r = bus_init(&vm->mmio, "mmio")) ||
	    (r = loop_init(&vm->loop)) ||
	    (r = vm_sandbox_allow(vm, hv->run_ioctls, hv->nr_run_ioctls)))
		goto fail;
	vm->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->stop_efd < 0) {
		r = -errno;
		log_err("eventfd: %s", strerror(errno));
		goto fail;
	}
	if ((r = hv->vm_create(&vm->hvm)))
		goto fail;
	hv->caps(vm->hvm, &vm->caps);
	if (cfg->nr_cpus > vm->caps.max_vcpus) {
		log_err("--cpus %u: %s supports at most %u vCPUs here", cfg->nr_cpus, hv->name,
		        vm->caps.max_vcpus);
		r = -EINVAL;
		goto fail;
	}
	if ((r = mem_init(&vm->mem, cfg->mem_size)) || (r = vm_map_ram(vm)))
		goto fail;
	if ((r = irq_init(vm)) || (r = ioapic_create(vm, &vm->ioapic)) ||
	    (r = serial_create(vm, cfg->serial, cfg->serial_path, &vm->serial)) ||
	    (r = power_create(vm)) || (r = pci_root_create(vm, &vm->pci)) ||
	    (r = vfio_assign_all(vm, cfg)))
		goto fail;

	vm->vcpus = calloc(cfg->nr_cpus, sizeof(*vm->vcpus));
	if (!vm->vcpus) {
		r = -ENOMEM;
		log_err("out of memory allocating %u vCPUs", cfg->nr_cpus);
		goto fail;
	}
	vm->nr_vcpus = cfg->nr_cpus;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		v->vm = vm;
		v->index = i;
		v->io = (struct hv_io){ .ctx = v, .pio = vm_pio, .mmio = vm_mmio, .eoi = vm_eoi };
		r = hv->vcpu_create(vm->hvm, i, vm->nr_vcpus, &v->io, &v->hv);
		if (r)
			goto fail;
	}
	*out = vm;
	return 0;
fail:
	vm_destroy(vm);
	return r;
}

int file_read_all(const char *path, void **buf, size_t *len)
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
static int vm_load_initrd(struct vm *vm, const char *path, uint64_t kernel_end, uint64_t *gpa,
                          uint64_t *size)
{
	void *buf, *dst;
	size_t len;
	uint64_t at;
	int r = file_read_all(path, &buf, &len);

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

int vm_check_kernel(const char *path, const void *img, size_t len)
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
static int vm_load_linux(struct vm *vm, const struct vm_config *cfg, const void *img, size_t len,
                         uint64_t rsdp)
{
	struct bzimage_info bi;
	struct hv_regs regs;
	struct hv_sregs sregs;
	void *initrd = NULL;
	size_t initrd_len = 0;
	char err[256];
	int r;

	if (cfg->initrd && (r = file_read_all(cfg->initrd, &initrd, &initrd_len)))
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
	vm->entry = bi.entry;
	vm->linux_boot = true;
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

int vm_load(struct vm *vm, const struct vm_config *cfg, const void *img, size_t len)
{
	struct hv_regs regs;
	struct hv_sregs sregs;
	struct hvm_start_info *hsi;
	uint64_t entry, end, initrd_gpa = 0, initrd_size = 0, si, rsdp;
	char err[256];
	int r;

	if ((r = vm_check_kernel(cfg->kernel, img, len)))
		return r;
	/* Both kinds of guest learn the platform (CPUs, IOAPIC, ECAM, power) from ACPI. */
	if ((r = acpi_setup(&vm->mem, vm->nr_vcpus, &rsdp)))
		return r;
	if (bzimage_is_bzimage(img, len) && !elf_is_elf(img, len))
		return vm_load_linux(vm, cfg, img, len, rsdp);
	r = elf_load(&vm->mem, img, len, &entry, &end, err, sizeof(err));
	if (r) {
		log_err("%s: %s", cfg->kernel, err);
		return r;
	}
	if (cfg->initrd && (r = vm_load_initrd(vm, cfg->initrd, end, &initrd_gpa, &initrd_size)))
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
	vm->entry = entry;
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
