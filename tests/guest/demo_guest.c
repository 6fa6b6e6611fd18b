/*
 * The demo guest `make demo` boots: it reports its CPUs, the memory map hvmm handed it and
 * the platform devices it finds, then powers off.
 */
#include "guest.h"

static volatile uint32_t arrived;
static volatile uint32_t ids[GUEST_MAX_CPUS];

static const char *memtype(uint32_t t)
{
	return t == 1 ? "RAM" : t == 2 ? "reserved" : "other";
}

static void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

/* Bus 0 through ECAM: the host bridge and every root port. */
static void demo_pci(void)
{
	for (uint32_t dev = 0; dev < 32; dev++) {
		uint32_t id = MMIO32(0xe0000000ul + (dev << 15));
		uint32_t class = MMIO32(0xe0000000ul + (dev << 15) + 8) >> 8;

		if ((id & 0xffff) == 0xffff)
			continue;
		guest_printf("  PCI 00:%x.0 %x:%x class %x\n", dev, id & 0xffff, id >> 16, class);
	}
}

/* The ACPI tables hvmm built, from the RSDP in start_info. */
static void demo_acpi(void)
{
	const uint8_t *rsdp = (const void *)(uintptr_t)guest_si->rsdp_paddr;
	const uint8_t *xsdt;
	uint32_t len;

	if (!guest_si->rsdp_paddr)
		return;
	xsdt = (const void *)(uintptr_t)(*(const uint64_t *)(rsdp + 24));
	len = *(const uint32_t *)(xsdt + 4);
	guest_printf("  ACPI at %p: RSDP XSDT", (const void *)rsdp);
	for (uint32_t off = 36; off + 8 <= len; off += 8) {
		const char *t = (const char *)(uintptr_t)(*(const uint64_t *)(xsdt + off));

		guest_printf(" %c%c%c%c", t[0], t[1], t[2], t[3]);
	}
	guest_printf("\n");
}

void guest_main(uint32_t cpu)
{
	const struct guest_memmap_entry *mm;
	uint32_t a, b, c, d, vendor[4] = { 0 };
	uint64_t total = 0;

	ids[cpu % GUEST_MAX_CPUS] = lapic_id();
	__atomic_fetch_add(&arrived, 1, __ATOMIC_SEQ_CST);
	if (cpu != 0)
		return;
	guest_printf("hvmm demo guest\n");
	cpuid(0, &a, &vendor[0], &vendor[2], &vendor[1]);
	cpuid(1, &a, &b, &c, &d);
	guest_printf("cpu vendor %s, family %u, %s hypervisor\n", (const char *)vendor,
	             ((a >> 8) & 0xf) + ((a >> 20) & 0xff), c >> 31 ? "under a" : "no");
	for (unsigned spins = 0; arrived < b >> 16 && spins < 100000; spins++)
		cpu_relax();
	guest_printf("cpus: %u online of %u in CPUID\n", arrived, (b >> 16) & 0xff);
	for (uint32_t i = 0; i < arrived && i < GUEST_MAX_CPUS; i++)
		guest_printf("  cpu %u: APIC ID %u\n", i, ids[i]);
	guest_printf("memory map (%u entries):\n", guest_si->memmap_entries);
	mm = (const void *)(uintptr_t)guest_si->memmap_paddr;
	for (uint32_t i = 0; i < guest_si->memmap_entries; i++) {
		guest_printf("  %lx-%lx %s\n", mm[i].addr, mm[i].addr + mm[i].size - 1,
		             memtype(mm[i].type));
		if (mm[i].type == 1)
			total += mm[i].size;
	}
	guest_printf("RAM: %lu MiB usable\n", total >> 20);
	guest_printf("devices:\n");
	outb(0x3f8 + 7, 0xa5);
	if (inb(0x3f8 + 7) == 0xa5)
		guest_printf("  16550A UART at port 0x3f8 (COM1)\n");
	a = ioapic_read(1);
	guest_printf("  IOAPIC at 0xfec00000: version %x, %u pins\n", a & 0xff,
	             ((a >> 16) & 0xff) + 1);
	guest_printf("  LAPIC at 0xfee00000: version %x\n", MMIO32(0xfee00030) & 0xff);
	demo_pci();
	demo_acpi();
	guest_printf("command line: '%s'\n", guest_cmdline());
	guest_printf("demo done, powering off\n");
	outb(0x600, (5 << 2) | (1 << 5));
	for (;;)
		__asm__ volatile("cli; hlt");
}
