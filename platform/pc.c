/* SPDX-License-Identifier: MIT */
/*
 * The board: which devices the PC has, how they are wired to each other, and in what order
 * they are built.  A new device is one more line in pc_devices[].
 */
#include <cpuid.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "devices/vfio/vfio.h"

struct pc_build {
	struct pc *pc;
	const struct vm_config *cfg;
	bool vm_owns_pc; /* vm_destroy() frees pc, also when vm_create() fails */
};

/* The board's counter line: the buses' unclaimed accesses and the IOAPIC's deliveries. */
static void pc_print_counters(void *opaque, enum log_level level)
{
	struct pc *pc = opaque;
	struct ioapic_stats st = { 0 };

	if (pc->ioapic)
		ioapic_stats(pc->ioapic, &st);
	log_msg(level,
	        "counters: unclaimed pio %llu, unclaimed mmio %llu, ioapic interrupts %llu, "
	        "eois %llu",
	        (unsigned long long)atomic_load(&pc->vm->pio.unclaimed),
	        (unsigned long long)atomic_load(&pc->vm->mmio.unclaimed),
	        (unsigned long long)st.delivered, (unsigned long long)st.eois);
}

static int pc_add_ioapic(struct pc *pc, const struct vm_config *cfg)
{
	(void)cfg;
	return ioapic_create(pc->vm, &pc->ioapic);
}

static int pc_add_com1(struct pc *pc, const struct vm_config *cfg)
{
	return serial_create(pc->vm, pc->ioapic, cfg->serial, cfg->serial_path, &pc->serial);
}

static int pc_add_power(struct pc *pc, const struct vm_config *cfg)
{
	(void)cfg;
	return power_create(pc->vm);
}

uint32_t pc_phys_bits(const struct vm *vm)
{
	unsigned a, b, c, d, phys, guest;

	if (vm->caps.phys_bits)
		return vm->caps.phys_bits;
	if (__get_cpuid_max(0x80000000, NULL) < 0x80000008)
		return PC_PHYS_BITS_NONE;
	__cpuid(0x80000008, a, b, c, d);
	(void)b, (void)c, (void)d;
	phys = a & 0xff;
	guest = (a >> 16) & 0xff;
	return guest && guest < phys ? guest : phys;
}

void pc_pci_windows_for(uint64_t ram_top, uint32_t phys_bits, struct pci_windows *out)
{
	uint64_t base = ram_top > PC_MMIO64_MIN ? ram_top : PC_MMIO64_MIN, end;

	if (phys_bits > PC_PHYS_BITS_CAP)
		phys_bits = PC_PHYS_BITS_CAP;
	end = 1ull << phys_bits;
	base = (base + GiB(1) - 1) & ~(GiB(1) - 1);
	*out =
	    (struct pci_windows){ .mem32_base = MEM_PCI_MMIO32, .mem32_size = MEM_PCI_MMIO32_SZ };
	if (end > base && end - base >= GiB(1)) {
		out->mem64_base = base;
		out->mem64_size = end - base;
	}
}

void pc_pci_windows(const struct vm *vm, struct pci_windows *out)
{
	pc_pci_windows_for(mem_top(&vm->mem), pc_phys_bits(vm), out);
}

static int pc_add_ged(struct pc *pc, const struct vm_config *cfg)
{
	(void)cfg;
	return ged_create(pc->vm, pc->ioapic, &pc->ged);
}

static int pc_add_pci(struct pc *pc, const struct vm_config *cfg)
{
	struct pci_windows w;

	(void)cfg;
	pc_pci_windows(pc->vm, &w);
	if (w.mem64_size)
		log_info("PCI: 64-bit window %llu GiB at %#llx (%u physical address bits)",
		         (unsigned long long)(w.mem64_size >> 30), (unsigned long long)w.mem64_base,
		         pc_phys_bits(pc->vm));
	else
		log_info("PCI: no 64-bit window (%u physical address bits leave none above RAM)",
		         pc_phys_bits(pc->vm));
	return pci_root_create(pc->vm, pc->ioapic, &w, &pc->pci);
}

/* --pcie-root-port NAME: the named ports, in command-line order, before any device. */
static int pc_add_root_ports(struct pc *pc, const struct vm_config *cfg)
{
	for (unsigned i = 0; i < cfg->nr_root_ports; i++) {
		struct pci_port *p;
		int r = pci_root_port_create(pc->pci, cfg->root_ports[i], &p);

		if (r)
			return r;
	}
	return 0;
}

/* --vfio [PORT:]BDF: the assigned devices, behind their named ports or ports of their own. */
static int pc_add_vfio(struct pc *pc, const struct vm_config *cfg)
{
	struct vfio_spec specs[VM_MAX_VFIO];

	for (unsigned i = 0; i < cfg->nr_vfio; i++)
		specs[i] =
		    (struct vfio_spec){ cfg->vfio_bdf[i], cfg->vfio_port[i], cfg->vfio_trap_bars };
	/* With the API, devices may be added later: their run-time calls must pass the filters. */
	return vfio_assign_all(pc->vm, pc->pci, specs, cfg->nr_vfio, cfg->api_socket != NULL,
	                       &pc->vfio);
}

/* What a PC's firmware leaves the OS, once every PCI function is in place. */
static int pc_pci_handover(struct pc *pc, const struct vm_config *cfg)
{
	(void)cfg;
	pci_root_handover(pc->pci);
	return 0;
}

/* The board's GSIs: ISA IRQs below 16, PCI INTx on their own lines, the GED on its own. */
_Static_assert(COM1_IRQ < PCI_INTX_GSI_BASE, "COM1 shares a PCI INTx line");
_Static_assert(GED_IRQ >= PCI_INTX_GSI_BASE + PCI_INTX_GSIS && GED_IRQ < IOAPIC_PINS,
               "the GED shares a PCI INTx line");

/* The board, in the order it is built: each device is wired to ones built before it. */
static int (*const pc_devices[])(struct pc *pc, const struct vm_config *cfg) = {
	pc_add_ioapic, /* IOAPIC at MEM_IOAPIC_BASE: GSIs 0-23, the EOI hook */
	pc_add_com1,   /* 16550A at COM1_PORT on IOAPIC pin COM1_IRQ */
	pc_add_power,  /* ACPI sleep and reset registers at POWER_PORT, the i8042 reset */
	pc_add_ged,    /* generic event device at GED_PORT on IOAPIC pin GED_IRQ */
	pc_add_pci,    /* PCIe root complex: ECAM, 0xCF8/0xCFC, host bridge, INTx to the IOAPIC */
	pc_add_root_ports, /* --pcie-root-port */
	pc_add_vfio,       /* --vfio, behind the root ports */
	pc_pci_handover,   /* decoding on, INTx lines written, as firmware leaves them */
};

static int pc_add_devices(struct vm *vm, void *opaque)
{
	struct pc_build *b = opaque;
	struct pc *pc = b->pc;
	int r;

	/* From here the VM owns the board's record: vm_destroy() frees it last. */
	if ((r = vm_on_destroy(vm, free, pc)))
		return r;
	b->vm_owns_pc = true;
	pc->vm = vm;
	/* First, so the board's counter line comes before any device's. */
	if ((r = vm_on_stats(vm, pc_print_counters, pc)))
		return r;
	for (size_t i = 0; i < ARRAY_SIZE(pc_devices); i++) {
		if ((r = pc_devices[i](pc, b->cfg)))
			return r;
	}
	return 0;
}

int pc_create(const struct vm_config *cfg, const struct hv_ops *hv, struct pc **out)
{
	struct pc *pc = calloc(1, sizeof(*pc));
	struct pc_build b = { pc, cfg, false };
	struct vm_params p = {
		.mem_size = cfg->mem_size,
		.mem_backend = cfg->mem_backend,
		.nr_cpus = cfg->nr_cpus,
		.sandbox = cfg->sandbox,
		.add_devices = pc_add_devices,
		.opaque = &b,
	};
	struct vm *vm;
	int r;

	if (!pc) {
		log_err("out of memory allocating the board");
		return -ENOMEM;
	}
	r = vm_create(&p, hv, &vm);
	if (r) {
		if (!b.vm_owns_pc)
			free(pc);
		return r;
	}
	*out = pc;
	return 0;
}
