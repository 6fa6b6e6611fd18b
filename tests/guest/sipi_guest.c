/*
 * Application processors that wait for INIT/SIPI, started by the BSP the way Linux starts
 * them: INIT, then a start-up IPI whose vector points at a real-mode trampoline below 1 MiB.
 * Each AP reads its initial APIC ID from CPUID leaf 1 in real mode, leaves it for the BSP and
 * halts.  Nothing of the AP may run before its SIPI.
 */
#include "guest.h"

#define NR_CPUS      3
#define TRAMP        0x8000u /* start-up vector 0x08 */
#define FLAGS        0x8800u /* one u32 per APIC ID: 0x5a000000 | the ID the AP read */
#define ARRIVALS     0x8900u
#define LAPIC_ICR_LO 0xfee00300u
#define LAPIC_ICR_HI 0xfee00310u
#define ICR_BUSY     (1u << 12)

extern const char ap_tramp[], ap_tramp_end[];
__asm__(".pushsection .rodata.tramp, \"a\"\n"
        ".globl ap_tramp, ap_tramp_end\n"
        ".code16\n"
        "ap_tramp:\n"
        "	cli\n"
        "	xorw %ax, %ax\n"
        "	movw %ax, %ds\n"
        "	movl $1, %eax\n"
        "	cpuid\n"
        "	shrl $24, %ebx\n"
        "	movl %ebx, %eax\n"
        "	orl $0x5a000000, %eax\n"
        "	shll $2, %ebx\n"
        "	movl %eax, 0x8800(%bx)\n"
        "	lock incl 0x8900\n"
        "1:	hlt\n"
        "	jmp 1b\n"
        "ap_tramp_end:\n"
        ".code64\n"
        ".popsection\n");

static void icr_send(uint32_t apic_id, uint32_t lo)
{
	MMIO32(LAPIC_ICR_HI) = apic_id << 24;
	MMIO32(LAPIC_ICR_LO) = lo;
	for (unsigned spins = 0; (MMIO32(LAPIC_ICR_LO) & ICR_BUSY) && spins < 1000000; spins++)
		cpu_relax();
}

void guest_main(uint32_t cpu)
{
	volatile uint32_t *flags = (volatile uint32_t *)(uintptr_t)FLAGS;
	volatile uint32_t *arrivals = (volatile uint32_t *)(uintptr_t)ARRIVALS;

	if (cpu != 0)
		return; /* an AP that entered at the ELF entry: reported by its absence below */
	memset((void *)(uintptr_t)FLAGS, 0, 0x104);
	memcpy((void *)(uintptr_t)TRAMP, ap_tramp, (size_t)(ap_tramp_end - ap_tramp));
	lapic_enable();
	/* The APs have had the time the BSP took to get here: none may have run. */
	for (unsigned spins = 0; spins < 100000; spins++)
		cpu_relax();
	guest_report(0, *arrivals);
	for (uint32_t id = 1; id < NR_CPUS; id++) {
		icr_send(id, 0x4500);                 /* INIT, level assert */
		icr_send(id, 0x4600 | (TRAMP >> 12)); /* start-up */
	}
	for (unsigned spins = 0; *arrivals < NR_CPUS - 1 && spins < 50000000; spins++)
		cpu_relax();
	guest_report(1, *arrivals);
	for (uint32_t id = 1; id < NR_CPUS; id++)
		guest_report(0x100 + id, flags[id]);
}
