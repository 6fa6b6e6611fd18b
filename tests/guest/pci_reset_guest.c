/* Port 0xCF9: a byte write with the reset bit resets; dword 0xCF8 and other values do not. */
#include "pci_guest.h"

void guest_main(uint32_t cpu)
{
	(void)cpu;
	outl(PCI_CONF1_ADDR_PORT, PCI_CONF1_ENABLE | 0x08);
	outb(PCI_RESET_CTL_PORT, 0x02); /* hard-reset setup, no reset yet */
	GUEST_ASSERT(inb(PCI_RESET_CTL_PORT) == 0x02);
	GUEST_ASSERT(inl(PCI_CONF1_ADDR_PORT) == (PCI_CONF1_ENABLE | 0x08));
	GUEST_ASSERT(inb(PCI_CONF1_DATA_PORT + 3) == 0x06);
	guest_report(1, 1);
	outb(PCI_RESET_CTL_PORT, 0x06);
	for (;;)
		__asm__ volatile("cli; hlt");
}
