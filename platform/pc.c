/* SPDX-License-Identifier: MIT */
/*
 * The board: which devices the PC has, how they are wired to each other, and in what order
 * they are built.  A new device is one more line in pc_devices[].
 */
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "devices/pci/pci.h"
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

static int pc_add_ged(struct pc *pc, const struct vm_config *cfg)
{
	(void)cfg;
	return ged_create(pc->vm, pc->ioapic, &pc->ged);
}

static int pc_add_pci(struct pc *pc, const struct vm_config *cfg)
{
	(void)cfg;
	return pci_root_create(pc->vm, &pc->pci);
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

/* The board, in the order it is built: each device is wired to ones built before it. */
static int (*const pc_devices[])(struct pc *pc, const struct vm_config *cfg) = {
	pc_add_ioapic,     /* IOAPIC at MEM_IOAPIC_BASE: GSIs 0-23, the EOI hook */
	pc_add_com1,       /* 16550A at COM1_PORT on IOAPIC pin COM1_IRQ */
	pc_add_power,      /* ACPI sleep and reset registers at POWER_PORT, the i8042 reset */
	pc_add_ged,        /* generic event device at GED_PORT on IOAPIC pin GED_IRQ */
	pc_add_pci,        /* PCIe root complex: ECAM, 0xCF8/0xCFC, host bridge 00:00.0 */
	pc_add_root_ports, /* --pcie-root-port */
	pc_add_vfio,       /* --vfio, behind the root ports */
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
