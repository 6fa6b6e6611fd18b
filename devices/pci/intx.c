/* SPDX-License-Identifier: MIT */
/*
 * INTx: which GSI each function's pin is wired to, and the sources that signal those GSIs
 * through irqfds of their own (assigned devices), registered with the IOAPIC.
 *
 * A function behind a root port is device 0 of the port's secondary bus, so a guest's bridge
 * swizzle, (pin - 1 + device) mod 4, leaves its pin as it is; the board's _PRT then routes
 * each port's slot and pin.  The port's slot spreads the ports' INTA over the PCI_INTX_GSIS
 * lines (16-19: above the ISA IRQs, clear of COM1 and of the GED's GSI 20), the four lines
 * of the classic swizzle, so four assigned devices each have a line of their own; from the
 * fifth port on, lines are shared.
 */
#include <stdlib.h>

#include "devices/pci/internal.h"

uint32_t pci_intx_gsi(unsigned slot, unsigned pin)
{
	return PCI_INTX_GSI_BASE + (slot + pin - 1) % PCI_INTX_GSIS;
}

int pci_intx_connect(struct pci_dev *dev, ioapic_source_fn fn, void *opaque, uint32_t *gsi)
{
	struct pci_root *root = dev->root;
	struct pci_intx *x;
	uint8_t pin;
	int r;

	pthread_mutex_lock(&root->lock);
	pin = dev->cfg[PCI_INTERRUPT_PIN];
	r = !root->ioapic || !dev->port || pin < 1 || pin > 4 ? -ENOENT : dev->intx ? -EBUSY : 0;
	pthread_mutex_unlock(&root->lock);
	if (r)
		return r;
	x = calloc(1, sizeof(*x));
	if (!x) {
		log_err("pci: %s: out of memory wiring INTx", dev->name);
		return -ENOMEM;
	}
	*x = (struct pci_intx){ fn, opaque, pci_intx_gsi(dev->port->dev->devfn >> 3, pin) };
	if ((r = ioapic_add_source(root->ioapic, x->gsi, fn, opaque))) {
		free(x);
		return r;
	}
	pthread_mutex_lock(&root->lock);
	dev->intx = x;
	pthread_mutex_unlock(&root->lock);
	*gsi = x->gsi;
	return 0;
}

void pci_intx_release(struct pci_dev *dev)
{
	if (!dev->intx)
		return;
	ioapic_del_source(dev->root->ioapic, dev->intx->gsi, dev->intx->fn, dev->intx->opaque);
	free(dev->intx);
	dev->intx = NULL;
}
