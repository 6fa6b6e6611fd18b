/* SPDX-License-Identifier: MIT */
/*
 * PCIe native hot-plug: every root port is a slot (PCIe Base 7.5.3.9-11) with an attention
 * button, a power controller, attention and power indicators and command-completed support,
 * and reports its link's data-link-layer state.  The guest runs the slot (Linux's pciehp,
 * once the host bridge's _OSC grants it): it powers the slot on when a device is present,
 * and off when it has released the device after an attention button press.  The platform
 * plugs and unplugs functions and presses the button.
 *
 * Slot events (button pressed, presence detect changed, command completed, link state
 * changed) raise the port's MSI when the guest enabled them: on the rising edge of the OR of
 * every enabled event's status bit, as 6.7.3.4 says, so a guest must clear all of them to
 * get another interrupt.  The device behind a slot is reachable (config routing, BARs) only
 * while its link is up: present and powered.  Everything here runs under the config lock.
 */
#include "devices/pci/internal.h"

#define SLOT_STA_EVENTS                                                                            \
	(PCI_EXP_SLTSTA_ABP | PCI_EXP_SLTSTA_PFD | PCI_EXP_SLTSTA_MRLSC | PCI_EXP_SLTSTA_PDC |     \
	 PCI_EXP_SLTSTA_CC | PCI_EXP_SLTSTA_DLLSC)
#define SLOT_CTL_WMASK                                                                             \
	(PCI_EXP_SLTCTL_ABPE | PCI_EXP_SLTCTL_PFDE | PCI_EXP_SLTCTL_MRLSCE | PCI_EXP_SLTCTL_PDCE | \
	 PCI_EXP_SLTCTL_CCIE | PCI_EXP_SLTCTL_HPIE | PCI_EXP_SLTCTL_AIC | PCI_EXP_SLTCTL_PIC |     \
	 PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_DLLSCE)

static uint16_t slot_get(struct pci_port *p, uint32_t reg)
{
	return (uint16_t)pci_cfg_get(p->dev, p->dev->pcie_cap + reg, 2);
}

/* Change bits of a slot or link register, in config space and in the port's reset state. */
static void slot_set(struct pci_port *p, uint32_t reg, uint16_t clear, uint16_t set)
{
	uint32_t off = p->dev->pcie_cap + reg;
	uint16_t v = (uint16_t)((slot_get(p, reg) & ~clear) | set);

	le16_put(p->dev->cfg + off, v);
	le16_put(p->dev->reset_cfg + off, v);
}

int pci_slot_init(struct pci_port *p, uint8_t devfn)
{
	struct pci_dev *d = p->dev;
	uint16_t c = d->pcie_cap;
	uint32_t cap = PCI_EXP_SLTCAP_ABP | PCI_EXP_SLTCAP_PCP | PCI_EXP_SLTCAP_AIP |
	               PCI_EXP_SLTCAP_PIP | PCI_EXP_SLTCAP_HPC | (uint32_t)(devfn >> 3) << 19;
	int r;

	/* An empty slot starts powered off with both indicators off. */
	if ((r = pci_cfg_init(d, c + PCI_EXP_FLAGS, 2,
	                      pci_cfg_get(d, c + PCI_EXP_FLAGS, 2) | PCI_EXP_FLAGS_SLOT, 0, 0)) ||
	    (r = pci_cfg_init(d, c + PCI_EXP_SLTCAP, 4, cap, 0, 0)) ||
	    (r = pci_cfg_init(d, c + PCI_EXP_SLTCTL, 2,
	                      PCI_EXP_SLTCTL_ATTN_IND_OFF | PCI_EXP_SLTCTL_PWR_IND_OFF |
	                          PCI_EXP_SLTCTL_PWR_OFF,
	                      SLOT_CTL_WMASK, 0)) ||
	    (r = pci_cfg_init(d, c + PCI_EXP_SLTSTA, 2, 0, 0, SLOT_STA_EVENTS)))
		return r;
	return 0;
}

/* The OR of the enabled events; an MSI goes out when it rises. */
static void slot_update_irq(struct pci_port *p)
{
	uint16_t ctl = slot_get(p, PCI_EXP_SLTCTL), sta = slot_get(p, PCI_EXP_SLTSTA), ev = 0;
	bool now;

	if (ctl & PCI_EXP_SLTCTL_ABPE)
		ev |= sta & PCI_EXP_SLTSTA_ABP;
	if (ctl & PCI_EXP_SLTCTL_PDCE)
		ev |= sta & PCI_EXP_SLTSTA_PDC;
	if (ctl & PCI_EXP_SLTCTL_CCIE)
		ev |= sta & PCI_EXP_SLTSTA_CC;
	if (ctl & PCI_EXP_SLTCTL_DLLSCE)
		ev |= sta & PCI_EXP_SLTSTA_DLLSC;
	now = (ctl & PCI_EXP_SLTCTL_HPIE) && ev;
	if (now && !p->slot_irq)
		pci_dev_trigger(p->dev, 0);
	p->slot_irq = now;
}

bool pci_slot_link_up(const struct pci_port *p)
{
	return pci_cfg_get(p->dev, p->dev->pcie_cap + PCI_EXP_LNKSTA, 2) & PCI_EXP_LNKSTA_DLLLA;
}

static bool slot_power_on(struct pci_port *p)
{
	return !(slot_get(p, PCI_EXP_SLTCTL) & PCI_EXP_SLTCTL_PCC);
}

/* The link follows presence and power; a change is an event, and power loss a reset. */
static void slot_link_update(struct pci_port *p)
{
	bool up = slot_get(p, PCI_EXP_SLTSTA) & PCI_EXP_SLTSTA_PDS && slot_power_on(p);

	if (up == pci_slot_link_up(p))
		return;
	slot_set(p, PCI_EXP_LNKSTA, PCI_EXP_LNKSTA_DLLLA, up ? PCI_EXP_LNKSTA_DLLLA : 0);
	slot_set(p, PCI_EXP_SLTSTA, 0, PCI_EXP_SLTSTA_DLLSC);
	if (!up) {
		/* Functions without power lose their state: BARs, vectors, the device's own. */
		for (unsigned i = 0; i < 8; i++) {
			if (p->fn[i])
				pci_dev_reset(p->fn[i]);
		}
	}
}

void pci_slot_cfg_written(struct pci_port *p, uint32_t off, uint32_t len)
{
	uint32_t ctl = p->dev->pcie_cap + PCI_EXP_SLTCTL;

	if (off >= ctl + 4 || off + len <= ctl)
		return;
	/* Any write of Slot Control is a command, and it completes at once. */
	if (off < ctl + 2) {
		slot_set(p, PCI_EXP_SLTSTA, 0, PCI_EXP_SLTSTA_CC);
		slot_link_update(p);
	}
	slot_update_irq(p);
}

void pci_slot_attached(struct pci_port *p, bool at_build)
{
	/*
	 * A hot-plugged card comes with a press of the attention button, as on hardware with
	 * one: a guest driving such a slot (Linux's pciehp) enables the button's event and not
	 * presence detect's, and powers the slot on 5 s after a press (a second press cancels).
	 */
	slot_set(p, PCI_EXP_SLTSTA, 0,
	         PCI_EXP_SLTSTA_PDS | (at_build ? 0 : PCI_EXP_SLTSTA_PDC | PCI_EXP_SLTSTA_ABP));
	/* Present at power-on: the firmware would have powered it and lit its indicator. */
	if (at_build)
		slot_set(p, PCI_EXP_SLTCTL, PCI_EXP_SLTCTL_PCC | PCI_EXP_SLTCTL_PIC,
		         PCI_EXP_SLTCTL_PWR_ON | PCI_EXP_SLTCTL_PWR_IND_ON);
	slot_link_update(p);
	if (at_build)
		slot_set(p, PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_DLLSC, 0);
	slot_update_irq(p);
}

int pci_slot_plug(struct pci_port *port, struct pci_dev *dev)
{
	struct pci_root *root = port->root;
	int r;

	pthread_mutex_lock(&root->lock);
	r = pci_attach_locked(root, port, 0, dev);
	if (!r) {
		pci_slot_attached(port, false);
		log_info("pci: %s plugged into slot %s", dev->name, port->name);
	}
	pthread_mutex_unlock(&root->lock);
	return r;
}

void pci_slot_press_button(struct pci_port *port)
{
	pthread_mutex_lock(&port->root->lock);
	slot_set(port, PCI_EXP_SLTSTA, 0, PCI_EXP_SLTSTA_ABP);
	slot_update_irq(port);
	pthread_mutex_unlock(&port->root->lock);
}

bool pci_slot_powered(struct pci_port *port)
{
	bool on;

	pthread_mutex_lock(&port->root->lock);
	on = slot_power_on(port);
	pthread_mutex_unlock(&port->root->lock);
	return on;
}

int pci_slot_unplug(struct pci_port *port, struct pci_dev **out)
{
	struct pci_root *root = port->root;
	struct pci_dev *first, *gone[8] = { NULL };

	pthread_mutex_lock(&root->lock);
	first = port->fn[0];
	if (!first) {
		pthread_mutex_unlock(&root->lock);
		return -ENOENT;
	}
	for (unsigned i = 0; i < 8; i++) {
		struct pci_dev *d = port->fn[i];

		if (!d)
			continue;
		pci_dev_reset(d); /* BARs unmapped, vectors off, the device's own reset */
		d->attached = false;
		d->port = NULL;
		port->fn[i] = NULL;
		gone[i] = d;
	}
	slot_set(port, PCI_EXP_SLTSTA, PCI_EXP_SLTSTA_PDS, PCI_EXP_SLTSTA_PDC);
	slot_link_update(port);
	slot_update_irq(port);
	pthread_mutex_unlock(&root->lock);
	/* Off the IOAPIC's pin now, so the slot's next device can have the line. */
	for (unsigned i = 0; i < 8; i++) {
		if (gone[i])
			pci_intx_release(gone[i]);
	}
	log_info("pci: %s unplugged from slot %s", first->name, port->name);
	*out = first;
	return 0;
}
