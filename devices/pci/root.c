/* SPDX-License-Identifier: MIT */
/*
 * The root complex: config routing from ECAM and from configuration mechanism #1, the host
 * bridge at 00:00.0, attaching functions behind root ports, and teardown.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devices/pci/internal.h"

struct pci_dev *pci_root_lookup(struct pci_root *root, uint8_t bus, uint8_t devfn)
{
	if (bus == 0)
		return root->bus0[devfn];
	for (struct pci_port *p = root->ports; p; p = p->next) {
		uint8_t sec = p->dev->cfg[PCI_SECONDARY_BUS];

		/*
		 * A PCIe link below a root port carries device 0 only; no switches downstream.
		 * Nothing answers over a link that is down (an empty or unpowered slot).
		 */
		if (sec && bus == sec)
			return devfn < 8 && pci_slot_link_up(p) ? p->fn[devfn] : NULL;
	}
	return NULL;
}

/* One naturally aligned access of 1, 2 or 4 bytes; config lock held. */
static void pci_root_cfg(struct pci_root *root, uint8_t bus, uint8_t devfn, uint32_t off,
                         uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_dev *dev = pci_root_lookup(root, bus, devfn);

	if (!dev) {
		if (!is_write)
			memset(data, 0xff, len); /* master abort: nothing answers */
		return;
	}
	pci_cfg_access(dev, off, data, len, is_write);
}

/*
 * Split any access into naturally aligned pieces the core accepts: 8 bytes (ECAM) as two
 * dwords, misaligned ones byte by byte.  Pieces never leave the function's 4 KiB.
 */
static void pci_root_cfg_split(struct pci_root *root, uint8_t bus, uint8_t devfn, uint32_t off,
                               uint8_t *data, uint32_t len, bool is_write)
{
	uint32_t piece = len == 8 ? 4 : len;

	if (off & (piece - 1))
		piece = 1;
	pthread_mutex_lock(&root->lock);
	for (uint32_t done = 0; done < len; done += piece) {
		if (off + done >= PCI_CFG_SPACE_EXP_SIZE) {
			if (!is_write)
				memset(data + done, 0xff, len - done);
			break;
		}
		pci_root_cfg(root, bus, devfn, off + done, data + done, piece, is_write);
	}
	pthread_mutex_unlock(&root->lock);
}

static void pci_root_ecam(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	pci_root_cfg_split(opaque, (uint8_t)(off >> 20), (uint8_t)(off >> 12),
	                   (uint32_t)(off & 0xfff), data, len, is_write);
}

/*
 * 0xCF8-0xCFF.  Only dword accesses reach the address register; 0xCF9 is the PC's reset
 * control register, which shares the port range on real chipsets.
 */
static void pci_root_conf1(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct pci_root *root = opaque;
	uint32_t addr;

	if (off < 4) {
		pthread_mutex_lock(&root->lock);
		if (off == 0 && len == 4) {
			if (is_write)
				memcpy(&root->conf1_addr, data, 4);
			else
				memcpy(data, &root->conf1_addr, 4);
		} else if (off == 1 && len == 1) {
			if (is_write)
				root->reset_ctl = *(uint8_t *)data & 0x0e;
			else
				*(uint8_t *)data = root->reset_ctl;
		} else if (!is_write) {
			memset(data, 0xff, len);
		}
		pthread_mutex_unlock(&root->lock);
		if (is_write && off == 1 && len == 1 && (*(uint8_t *)data & PCI_RESET_CTL_RST)) {
			log_info("guest reset through port 0xcf9");
			vm_stop(root->vm, VM_EXIT_RESET);
		}
		return;
	}
	pthread_mutex_lock(&root->lock);
	addr = root->conf1_addr;
	pthread_mutex_unlock(&root->lock);
	if (!(addr & PCI_CONF1_ENABLE) || off + len > 8) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pci_root_cfg_split(root, (uint8_t)(addr >> 16), (uint8_t)(addr >> 8),
	                   (addr & 0xfc) + (uint32_t)(off - 4), data, len, is_write);
}

static void pci_dev_free(struct pci_dev *dev)
{
	pci_intx_release(dev);
	pci_bars_release(dev);
	pci_msix_destroy(dev->msix);
	pci_msi_destroy(dev->msi);
	if (dev->ops->destroy)
		dev->ops->destroy(dev);
	free(dev);
}

static void pci_root_destroy(void *opaque)
{
	struct pci_root *root = opaque;
	struct vm *vm = root->vm;

	if (bus_unregister(&vm->mmio, MEM_ECAM_BASE, root) ||
	    bus_unregister(&vm->pio, PCI_CONF1_ADDR_PORT, root))
		log_debug("pci: config windows were not registered");
	while (root->devs) {
		struct pci_dev *d = root->devs;

		root->devs = d->next;
		pci_dev_free(d);
	}
	while (root->ports) {
		struct pci_port *p = root->ports;

		root->ports = p->next;
		free(p);
	}
	pthread_mutex_destroy(&root->lock);
	free(root);
}

int pci_root_create(struct vm *vm, struct ioapic *ioapic, const struct pci_windows *w,
                    struct pci_root **out)
{
	struct pci_dev_info host = {
		.name = "host bridge",
		.vendor = PCI_VENDOR_REDHAT,
		.device = PCI_DEVICE_HOST_BRIDGE,
		.subsys_vendor = PCI_VENDOR_REDHAT,
		.subsys = 0x1100,
		.class_code = PCI_CLASS_CODE_HOST_BRIDGE,
	};
	struct pci_root *root = calloc(1, sizeof(*root));
	int r;

	if (!root) {
		log_err("pci: out of memory for the root complex");
		return -ENOMEM;
	}
	root->vm = vm;
	root->ioapic = ioapic;
	root->win = *w;
	pthread_mutex_init(&root->lock, NULL);
	ratelimit_init(&root->rl, 10);
	r = vm_on_destroy(vm, pci_root_destroy, root);
	if (r) {
		pthread_mutex_destroy(&root->lock);
		free(root);
		return r;
	}
	if ((r = pci_dev_create(root, &host, &root->host)))
		return r;
	root->host->attached = true;
	memcpy(root->host->reset_cfg, root->host->cfg, sizeof(root->host->cfg));
	root->bus0[0] = root->host;
	if ((r = bus_register(&vm->mmio, MEM_ECAM_BASE, MEM_ECAM_SIZE, pci_root_ecam, root,
	                      "pci ecam")) ||
	    (r = bus_register(&vm->pio, PCI_CONF1_ADDR_PORT, 8, pci_root_conf1, root,
	                      "pci config ports")))
		return r;
	*out = root;
	return 0;
}

int pci_attach_locked(struct pci_root *root, struct pci_port *port, unsigned fn,
                      struct pci_dev *dev)
{
	if (dev->attached || dev->root != root || dev->bridge || fn > 7) {
		log_err("pci: %s cannot be attached as function %u of %s", dev->name, fn,
		        port->name);
		return -EINVAL;
	}
	if (port->fn[fn]) {
		log_err("pci: port %s function %u already holds %s", port->name, fn,
		        port->fn[fn]->name);
		return -EBUSY;
	}
	dev->port = port;
	dev->devfn = (uint8_t)fn;
	dev->attached = true;
	memcpy(dev->reset_cfg, dev->cfg, sizeof(dev->cfg));
	port->fn[fn] = dev;
	/* Other functions only show up once function 0 says it is multi-function. */
	for (unsigned i = 1; i < 8 && port->fn[0]; i++) {
		if (port->fn[i]) {
			port->fn[0]->cfg[PCI_HEADER_TYPE] |= 0x80;
			port->fn[0]->reset_cfg[PCI_HEADER_TYPE] |= 0x80;
			break;
		}
	}
	return 0;
}

int pci_attach_fn(struct pci_root *root, struct pci_port *port, unsigned fn, struct pci_dev *dev)
{
	char name[32];
	int r;

	if (!port) {
		/* The first "rpN" nobody took, so automatic ports never clash with named ones. */
		for (unsigned n = 0; n <= PCI_MAX_ROOT_PORTS; n++) {
			snprintf(name, sizeof(name), "rp%u", n);
			if (pci_root_port_find(root, name, &port) == -ENOENT)
				break;
		}
		if ((r = pci_root_port_create(root, name, &port)))
			return r;
	}
	pthread_mutex_lock(&root->lock);
	r = pci_attach_locked(root, port, fn, dev);
	/* Present when the machine powered on: the slot is powered and its link trained. */
	if (!r)
		pci_slot_attached(port, true);
	pthread_mutex_unlock(&root->lock);
	return r;
}

int pci_attach(struct pci_root *root, struct pci_port *port, struct pci_dev *dev)
{
	return pci_attach_fn(root, port, 0, dev);
}
