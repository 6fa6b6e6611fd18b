/* SPDX-License-Identifier: MIT */
/*
 * Root ports: type-1 headers on bus 0 with the bus numbers, I/O, memory and prefetchable
 * windows the guest programs, a PCI Express capability of the root-port type (what Linux's
 * pcieport binds to) with a hot-plug slot (slot.c) and MSI for its services.  A function behind a
 * port decodes only inside the port's windows while the port's COMMAND enables that space, as on
 * hardware.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/internal.h"

/* Each root port's secondary bus must be reachable through ECAM, which MCFG declares. */
_Static_assert(PCI_MAX_ROOT_PORTS < MEM_ECAM_BUSES, "one ECAM bus for each root port");

/* Bridge control bits a PCIe root port implements. */
#define PCI_PORT_BRCTL_WMASK                                                                       \
	(PCI_BRIDGE_CTL_PARITY | PCI_BRIDGE_CTL_SERR | PCI_BRIDGE_CTL_ISA | PCI_BRIDGE_CTL_VGA |   \
	 0x10 | PCI_BRIDGE_CTL_MASTER_ABORT | PCI_BRIDGE_CTL_BUS_RESET)

#define PCI_ERR_STATUS_W1C                                                                         \
	(PCI_STATUS_PARITY | PCI_STATUS_SIG_TARGET_ABORT | PCI_STATUS_REC_TARGET_ABORT |           \
	 PCI_STATUS_REC_MASTER_ABORT | PCI_STATUS_SIG_SYSTEM_ERROR | PCI_STATUS_DETECTED_PARITY)

int pci_port_init(struct pci_port *port, uint8_t devfn)
{
	struct pci_dev *d = port->dev;
	uint16_t pcie;
	int r;

	if ((r = pci_cfg_init(d, PCI_HEADER_TYPE, 1, PCI_HEADER_TYPE_BRIDGE, 0, 0)) ||
	    (r = pci_cfg_init(d, PCI_PRIMARY_BUS, 1, 0, 0xff, 0)) ||
	    (r = pci_cfg_init(d, PCI_SECONDARY_BUS, 1, 0, 0xff, 0)) ||
	    (r = pci_cfg_init(d, PCI_SUBORDINATE_BUS, 1, 0, 0xff, 0)) ||
	    (r = pci_cfg_init(d, PCI_IO_BASE, 1, PCI_IO_RANGE_TYPE_32, 0xf0, 0)) ||
	    (r = pci_cfg_init(d, PCI_IO_LIMIT, 1, PCI_IO_RANGE_TYPE_32, 0xf0, 0)) ||
	    (r = pci_cfg_init(d, PCI_SEC_STATUS, 2, 0, 0, PCI_ERR_STATUS_W1C)) ||
	    (r = pci_cfg_init(d, PCI_MEMORY_BASE, 2, 0, 0xfff0, 0)) ||
	    (r = pci_cfg_init(d, PCI_MEMORY_LIMIT, 2, 0, 0xfff0, 0)) ||
	    (r = pci_cfg_init(d, PCI_PREF_MEMORY_BASE, 2, PCI_PREF_RANGE_TYPE_64, 0xfff0, 0)) ||
	    (r = pci_cfg_init(d, PCI_PREF_MEMORY_LIMIT, 2, PCI_PREF_RANGE_TYPE_64, 0xfff0, 0)) ||
	    (r = pci_cfg_init(d, PCI_PREF_BASE_UPPER32, 4, 0, 0xffffffffu, 0)) ||
	    (r = pci_cfg_init(d, PCI_PREF_LIMIT_UPPER32, 4, 0, 0xffffffffu, 0)) ||
	    (r = pci_cfg_init(d, PCI_IO_BASE_UPPER16, 2, 0, 0xffff, 0)) ||
	    (r = pci_cfg_init(d, PCI_IO_LIMIT_UPPER16, 2, 0, 0xffff, 0)) ||
	    (r = pci_cfg_init(d, PCI_BRIDGE_CONTROL, 2, 0, PCI_PORT_BRCTL_WMASK, 0)) ||
	    (r = pci_cap_add_pcie(d, PCI_EXP_TYPE_ROOT_PORT, &pcie)) ||
	    (r = pci_cfg_init(
	         d, pcie + PCI_EXP_LNKCAP, 4,
	         pci_cfg_get(d, pcie + PCI_EXP_LNKCAP, 4) | (uint32_t)(devfn >> 3) << 24, 0, 0)) ||
	    (r = pci_slot_init(port, devfn)) ||
	    (r = pci_msi_init(d, 0, 1, PCI_MSI_64BIT | PCI_MSI_MASKABLE, NULL)))
		return r;
	return 0;
}

static bool pci_port_name_ok(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n >= sizeof(((struct pci_port *)0)->name))
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

static struct pci_port *pci_port_find_locked(struct pci_root *root, const char *name)
{
	for (struct pci_port *p = root->ports; p; p = p->next) {
		if (!strcmp(p->name, name))
			return p;
	}
	return NULL;
}

int pci_root_port_find(struct pci_root *root, const char *name, struct pci_port **out)
{
	struct pci_port *p;

	pthread_mutex_lock(&root->lock);
	p = pci_port_find_locked(root, name);
	pthread_mutex_unlock(&root->lock);
	if (!p)
		return -ENOENT;
	*out = p;
	return 0;
}

int pci_root_port_create(struct pci_root *root, const char *name, struct pci_port **out)
{
	struct pci_dev_info info = {
		.vendor = PCI_VENDOR_REDHAT,
		.device = PCI_DEVICE_ROOT_PORT,
		.class_code = PCI_CLASS_CODE_PCI_BRIDGE,
	};
	char dname[64];
	struct pci_port *p, **tail;
	unsigned slot = 0;
	int r;

	if (!pci_port_name_ok(name)) {
		log_err("pci: root port name \"%s\": use 1-31 letters, digits, '-' or '_'", name);
		return -EINVAL;
	}
	pthread_mutex_lock(&root->lock);
	if (pci_port_find_locked(root, name)) {
		r = -EEXIST;
		log_err("pci: there is already a root port called %s", name);
	} else {
		r = -ENOSPC;
		for (slot = PCI_ROOT_PORT_FIRST_DEV;
		     slot < PCI_ROOT_PORT_FIRST_DEV + PCI_MAX_ROOT_PORTS && slot < 32; slot++) {
			if (!root->bus0[slot << 3]) {
				r = 0;
				break;
			}
		}
		if (r)
			log_err("pci: bus 0 is full: at most %d root ports", PCI_MAX_ROOT_PORTS);
	}
	pthread_mutex_unlock(&root->lock);
	if (r)
		return r;
	p = calloc(1, sizeof(*p));
	if (!p) {
		log_err("pci: out of memory for root port %s", name);
		return -ENOMEM;
	}
	p->root = root;
	snprintf(p->name, sizeof(p->name), "%s", name);
	snprintf(dname, sizeof(dname), "root port %s", name);
	info.name = dname;
	if ((r = pci_dev_create(root, &info, &p->dev)) ||
	    (r = pci_port_init(p, (uint8_t)(slot << 3)))) {
		free(p);
		return r;
	}
	pthread_mutex_lock(&root->lock);
	/* Ports are created while the VM is built, on one thread: the slot is still free. */
	p->dev->bridge = p;
	p->dev->devfn = (uint8_t)(slot << 3);
	p->dev->attached = true;
	memcpy(p->dev->reset_cfg, p->dev->cfg, sizeof(p->dev->cfg));
	root->bus0[slot << 3] = p->dev;
	for (tail = &root->ports; *tail; tail = &(*tail)->next)
		;
	*tail = p;
	root->nr_ports++;
	pthread_mutex_unlock(&root->lock);
	*out = p;
	return 0;
}

unsigned pci_root_ports(struct pci_root *root, struct pci_port_info *out, unsigned max)
{
	unsigned n = 0;

	pthread_mutex_lock(&root->lock);
	for (struct pci_port *p = root->ports; p; p = p->next, n++) {
		struct pci_port_info *i = &out[n];

		if (n >= max)
			continue;
		*i = (struct pci_port_info){
			.devfn = p->dev->devfn,
			.sec_bus = p->dev->cfg[PCI_SECONDARY_BUS],
			.occupied = p->fn[0] != NULL,
			.powered = !(pci_cfg_get(p->dev, p->dev->pcie_cap + PCI_EXP_SLTCTL, 2) &
			             PCI_EXP_SLTCTL_PCC),
			.link_up = pci_slot_link_up(p),
		};
		snprintf(i->name, sizeof(i->name), "%s", p->name);
		if (p->fn[0])
			snprintf(i->dev_name, sizeof(i->dev_name), "%s", p->fn[0]->name);
	}
	pthread_mutex_unlock(&root->lock);
	return n;
}

const char *pci_port_name(const struct pci_port *port)
{
	return port->name;
}

struct pci_dev *pci_port_dev(struct pci_port *port)
{
	return port->dev;
}

bool pci_port_forwards(const struct pci_port *port, uint64_t addr, uint64_t size, bool io)
{
	const struct pci_dev *d = port->dev;
	uint16_t cmd = (uint16_t)pci_cfg_get(d, PCI_COMMAND, 2);
	uint64_t end = addr + size - 1, base, limit;

	if (io) {
		if (!(cmd & PCI_COMMAND_IO))
			return false;
		base = (uint64_t)(d->cfg[PCI_IO_BASE] & PCI_IO_RANGE_MASK) << 8 |
		       (uint64_t)pci_cfg_get(d, PCI_IO_BASE_UPPER16, 2) << 16;
		limit = (uint64_t)(d->cfg[PCI_IO_LIMIT] & PCI_IO_RANGE_MASK) << 8 | 0xfff |
		        (uint64_t)pci_cfg_get(d, PCI_IO_LIMIT_UPPER16, 2) << 16;
		return addr >= base && end <= limit;
	}
	if (!(cmd & PCI_COMMAND_MEMORY))
		return false;
	base = (uint64_t)(pci_cfg_get(d, PCI_MEMORY_BASE, 2) & PCI_MEMORY_RANGE_MASK) << 16;
	limit =
	    (uint64_t)(pci_cfg_get(d, PCI_MEMORY_LIMIT, 2) & PCI_MEMORY_RANGE_MASK) << 16 | 0xfffff;
	if (addr >= base && end <= limit)
		return true;
	base = (uint64_t)(pci_cfg_get(d, PCI_PREF_MEMORY_BASE, 2) & PCI_PREF_RANGE_MASK) << 16 |
	       (uint64_t)pci_cfg_get(d, PCI_PREF_BASE_UPPER32, 4) << 32;
	limit = (uint64_t)(pci_cfg_get(d, PCI_PREF_MEMORY_LIMIT, 2) & PCI_PREF_RANGE_MASK) << 16 |
	        0xfffff | (uint64_t)pci_cfg_get(d, PCI_PREF_LIMIT_UPPER32, 4) << 32;
	return addr >= base && end <= limit;
}

static bool pci_meets(uint32_t off, uint32_t len, uint32_t start, uint32_t end)
{
	return off < end && start < off + len;
}

void pci_port_cfg_written(struct pci_port *port, uint32_t off, uint32_t len)
{
	pci_slot_cfg_written(port, off, len);
	bool reset = pci_cfg_get(port->dev, PCI_BRIDGE_CONTROL, 2) & PCI_BRIDGE_CTL_BUS_RESET;

	if (pci_meets(off, len, PCI_BRIDGE_CONTROL, PCI_BRIDGE_CONTROL + 2)) {
		/* The secondary bus is reset when the bit is set; devices wait out its release. */
		if (reset && !port->bus_reset) {
			for (unsigned i = 0; i < 8; i++) {
				if (port->fn[i])
					pci_dev_reset(port->fn[i]);
			}
		}
		port->bus_reset = reset;
	}
	if (pci_meets(off, len, PCI_COMMAND, PCI_COMMAND + 2) ||
	    pci_meets(off, len, PCI_IO_BASE, PCI_CAPABILITY_LIST)) {
		for (unsigned i = 0; i < 8; i++) {
			if (port->fn[i])
				pci_bars_update(port->fn[i]);
		}
	}
}
