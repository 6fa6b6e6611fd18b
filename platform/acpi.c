/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables describing hvmm's platform to the guest: a hardware-reduced machine (no PM
 * timer, no SCI, no legacy PIC or PIT, which is what lets Linux boot without them) with
 * LAPICs, one IOAPIC, PCIe ECAM with the INTx routing of devices/pci (_PRT) and an _OSC
 * that grants native hot-plug, COM1, sleep/reset registers served by devices/power.c, and a
 * power button whose presses arrive through a Generic Event Device (devices/ged.c), the
 * hardware-reduced stand-in for the SCI.
 *
 * Layout from ACPI_BASE, each table 16-byte aligned: RSDP, XSDT, FADT, MCFG, MADT, DSDT.
 * The DSDT's AML is written with the encoder of aml.c.
 */
#include <string.h>

#include "platform/internal.h"

#define ACPI_OEM_ID      "HVMM  "
#define ACPI_CREATOR     "HVMM"
#define ACPI_HDR_LEN     36
#define ACPI_RSDP_LEN    36
#define ACPI_FADT_LEN    276 /* revision 6 */
#define ACPI_XSDT_TABLES 3   /* FADT, MADT, MCFG; the DSDT hangs off the FADT */

/* FADT fields (ACPI 6.x, table 5.9). */
#define FADT_IAPC_BOOT_ARCH 109
#define FADT_FLAGS          112
#define FADT_RESET_REG      116
#define FADT_RESET_VALUE    128
#define FADT_MINOR_VERSION  131
#define FADT_X_DSDT         140
#define FADT_SLEEP_CONTROL  244
#define FADT_SLEEP_STATUS   256
#define FADT_HYPERVISOR_ID  268
/* No VGA to probe, no CMOS RTC; no 8042 and no legacy devices (those bits stay clear). */
#define FADT_BOOT_ARCH       ((1u << 2) | (1u << 5))
#define FADT_RESET_REG_SUP   (1u << 10)
#define FADT_HW_REDUCED_ACPI (1u << 20)
#define GAS_SYSTEM_IO        1
#define GAS_ACCESS_BYTE      1

/* MADT structures (ACPI 6.x, 5.2.12). */
#define MADT_LAPIC          0
#define MADT_IOAPIC         1
#define MADT_ISO            2
#define MADT_LAPIC_NMI      4
#define MADT_LAPIC_ENABLED  1u
#define MADT_ALL_PROCESSORS 0xff
#define ACPI_IOAPIC_ID      0 /* its own ID space on x86-64, as on QEMU; the register reads 0 */

static uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

/* ---- Tables ------------------------------------------------------------------------------ */

static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev,
                        const char *table_id)
{
	memcpy(t, sig, 4);
	le32_put(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, table_id, 8);
	le32_put(t + 24, 1);
	memcpy(t + 28, ACPI_CREATOR, 4);
	le32_put(t + 32, 1);
}

static void acpi_checksum(uint8_t *t)
{
	t[9] = 0;
	t[9] = (uint8_t)-acpi_sum(t, (size_t)t[4] | (size_t)t[5] << 8 | (size_t)t[6] << 16);
}

static void acpi_gas_io(uint8_t *g, uint16_t port)
{
	g[0] = GAS_SYSTEM_IO;
	g[1] = 8; /* bit width */
	g[2] = 0; /* bit offset */
	g[3] = GAS_ACCESS_BYTE;
	le64_put(g + 4, port);
}

static void acpi_fadt(uint8_t *t, uint64_t dsdt)
{
	acpi_header(t, "FACP", ACPI_FADT_LEN, 6, "HVMMFACP");
	le16_put(t + FADT_IAPC_BOOT_ARCH, FADT_BOOT_ARCH);
	le32_put(t + FADT_FLAGS, FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP);
	acpi_gas_io(t + FADT_RESET_REG, POWER_RESET_REG);
	t[FADT_RESET_VALUE] = POWER_RESET_VALUE;
	t[FADT_MINOR_VERSION] = 0;
	le64_put(t + FADT_X_DSDT, dsdt); /* the 32-bit DSDT field stays 0: X_DSDT rules */
	acpi_gas_io(t + FADT_SLEEP_CONTROL, POWER_SLEEP_CTL);
	acpi_gas_io(t + FADT_SLEEP_STATUS, POWER_SLEEP_STS);
	memcpy(t + FADT_HYPERVISOR_ID, "HVMM\0\0\0\0", 8);
	acpi_checksum(t);
}

static size_t acpi_madt_len(uint32_t nr_cpus)
{
	return ACPI_HDR_LEN + 8 + nr_cpus * 8 + 12 + 10 + 6;
}

static void acpi_madt(uint8_t *t, uint32_t nr_cpus)
{
	uint8_t *p = t + ACPI_HDR_LEN + 8;

	acpi_header(t, "APIC", (uint32_t)acpi_madt_len(nr_cpus), 5, "HVMMAPIC");
	le32_put(t + ACPI_HDR_LEN, (uint32_t)MEM_LAPIC_BASE);
	le32_put(t + ACPI_HDR_LEN + 4, 0); /* no PCAT_COMPAT: there is no 8259 */
	/* Processor UID = APIC ID = vCPU index, as the backend's CPUID topology says. */
	for (uint32_t i = 0; i < nr_cpus; i++, p += 8) {
		p[0] = MADT_LAPIC;
		p[1] = 8;
		p[2] = (uint8_t)i;
		p[3] = (uint8_t)i;
		le32_put(p + 4, MADT_LAPIC_ENABLED);
	}
	p[0] = MADT_IOAPIC;
	p[1] = 12;
	p[2] = ACPI_IOAPIC_ID;
	p[3] = 0;
	le32_put(p + 4, (uint32_t)MEM_IOAPIC_BASE);
	le32_put(p + 8, 0); /* GSI base: pin N is GSI N */
	p += 12;
	/* The customary ISA IRQ0 -> GSI2; flags 0: the bus default, edge, active high. */
	p[0] = MADT_ISO;
	p[1] = 10;
	p[2] = 0;
	p[3] = 0;
	le32_put(p + 4, 2);
	le16_put(p + 8, 0);
	p += 10;
	/* NMI arrives on every LAPIC's LINT1, as on PCs. */
	p[0] = MADT_LAPIC_NMI;
	p[1] = 6;
	p[2] = MADT_ALL_PROCESSORS;
	le16_put(p + 3, 0);
	p[5] = 1;
	acpi_checksum(t);
}

static void acpi_mcfg(uint8_t *t)
{
	acpi_header(t, "MCFG", ACPI_HDR_LEN + 8 + 16, 1, "HVMMMCFG");
	le64_put(t + ACPI_HDR_LEN + 8, MEM_ECAM_BASE);
	le16_put(t + ACPI_HDR_LEN + 16, 0); /* segment */
	t[ACPI_HDR_LEN + 18] = 0;           /* first bus */
	t[ACPI_HDR_LEN + 19] = (uint8_t)((MEM_ECAM_SIZE >> 20) - 1);
	acpi_checksum(t);
}

/* Device(seg) { _HID hid, _UID uid, _CRS crs }. */
static void acpi_dsdt_device(struct aml *a, const char *seg, const char *hid, unsigned uid,
                             const struct aml_res *crs)
{
	size_t dev = aml_device(a, seg);

	aml_name_eisaid(a, "_HID", hid);
	aml_name_int(a, "_UID", uid);
	aml_name_res(a, "_CRS", crs);
	aml_close(a, dev);
}

/*
 * _PRT of the host bridge: INTA-INTD of every root port's slot to the GSIs pci_intx_gsi()
 * wires them to.  Functions behind a port are device 0 of its secondary bus, so a guest
 * swizzles their pins through the port unchanged and finds them here.  Source 0: the index is
 * a GSI, level-triggered and active low, which a guest programs the IOAPIC pin with.
 */
static void acpi_dsdt_prt(struct aml *a)
{
	size_t prt, e;

	aml_name(a, "_PRT");
	prt = aml_package(a, PCI_MAX_ROOT_PORTS * 4);
	for (unsigned slot = PCI_ROOT_PORT_FIRST_DEV;
	     slot < PCI_ROOT_PORT_FIRST_DEV + PCI_MAX_ROOT_PORTS; slot++) {
		for (unsigned pin = 0; pin < 4; pin++) {
			e = aml_package(a, 4);
			aml_int(a, (uint64_t)slot << 16 | 0xffff); /* any function of the slot */
			aml_int(a, pin);
			aml_int(a, 0);
			aml_int(a, pci_intx_gsi(slot, pin + 1));
			aml_close(a, e);
		}
	}
	aml_close(a, prt);
}

/* Control of PCIe features the guest may take through _OSC (PCI Firmware 3.3, 4.5.1). */
#define OSC_PCIE_UUID      "33DB4D5B-1FF7-401C-9657-7441C03DD766"
#define OSC_CTRL_NATIVE_HP (1u << 0)
#define OSC_CTRL_PME       (1u << 2)
#define OSC_CTRL_AER       (1u << 3)
#define OSC_CTRL_PCIE_CAP  (1u << 4)
#define OSC_GRANTED        (OSC_CTRL_NATIVE_HP | OSC_CTRL_PME | OSC_CTRL_AER | OSC_CTRL_PCIE_CAP)
#define OSC_ERR_UUID       (1u << 2)
#define OSC_ERR_REVISION   (1u << 3)
#define OSC_ERR_MASKED     (1u << 4)

/* Or(name, bit, name): set an error bit in a field of the caller's buffer. */
static void acpi_or_field(struct aml *a, const char *field, uint32_t bit)
{
	aml_byte(a, AML_OR);
	aml_path(a, field);
	aml_int(a, bit);
	aml_path(a, field);
}

/*
 * _OSC of the host bridge: the guest runs PCIe native hot-plug (Linux's pciehp binds only if
 * it is granted), PME, AER and the PCIe capability itself; nothing else is granted.
 *
 *   Method (_OSC, 4) {
 *     CreateDWordField (Arg3, 0, CDW1)
 *     If (Arg0 == ToUUID (OSC_PCIE_UUID)) {
 *       CreateDWordField (Arg3, 8, CDW3)
 *       Local0 = CDW3 & OSC_GRANTED
 *       If (Arg1 != 1) { CDW1 |= OSC_ERR_REVISION }
 *       If (CDW3 != Local0) { CDW1 |= OSC_ERR_MASKED }
 *       CDW3 = Local0
 *     } Else { CDW1 |= OSC_ERR_UUID }
 *     Return (Arg3)
 *   }
 */
static void acpi_pci_osc(struct aml *a)
{
	size_t m = aml_method(a, "_OSC", 4, false), i, j;

	aml_create_dword_field(a, AML_ARG(3), 0, "CDW1");
	i = aml_if(a);
	aml_byte(a, AML_LEQUAL);
	aml_byte(a, AML_ARG(0));
	aml_uuid(a, OSC_PCIE_UUID);
	aml_create_dword_field(a, AML_ARG(3), 8, "CDW3");
	aml_byte(a, AML_AND);
	aml_path(a, "CDW3");
	aml_int(a, OSC_GRANTED);
	aml_byte(a, AML_LOCAL(0));
	j = aml_if(a);
	aml_byte(a, AML_LNOT);
	aml_byte(a, AML_LEQUAL);
	aml_byte(a, AML_ARG(1));
	aml_int(a, 1);
	acpi_or_field(a, "CDW1", OSC_ERR_REVISION);
	aml_close(a, j);
	j = aml_if(a);
	aml_byte(a, AML_LNOT);
	aml_byte(a, AML_LEQUAL);
	aml_path(a, "CDW3");
	aml_byte(a, AML_LOCAL(0));
	acpi_or_field(a, "CDW1", OSC_ERR_MASKED);
	aml_close(a, j);
	aml_byte(a, AML_STORE);
	aml_byte(a, AML_LOCAL(0));
	aml_path(a, "CDW3");
	aml_close(a, i);
	i = aml_else(a);
	acpi_or_field(a, "CDW1", OSC_ERR_UUID);
	aml_close(a, i);
	aml_byte(a, AML_RETURN);
	aml_byte(a, AML_ARG(3));
	aml_close(a, m);
}

/*
 * The power button and the Generic Event Device that carries its presses (devices/ged.c):
 *
 *   Device (PWRB) { Name (_HID, EisaId ("PNP0C0C")) Name (_UID, 0) }
 *   Device (GED0) {
 *     Name (_HID, "ACPI0013") Name (_UID, 0)
 *     Name (_CRS, ResourceTemplate () { Interrupt (, Level, ActiveHigh, Exclusive) {GED_IRQ} })
 *     OperationRegion (EREG, SystemIO, GED_PORT, GED_LEN)
 *     Field (EREG, DWordAcc, NoLock, Preserve) { ESEL, 32 }
 *     Method (_EVT, 1, Serialized) {
 *       Local0 = ESEL
 *       If (Local0 & GED_EV_POWER_BUTTON) { Notify (\_SB.PWRB, 0x80) }
 *     }
 *   }
 */
static void acpi_dsdt_ged(struct aml *a)
{
	static const char *const fields[] = { "ESEL" };
	static const uint8_t bits[] = { 32 };
	struct aml_res r = { .n = 0 };
	size_t dev, m, i;

	dev = aml_device(a, "PWRB");
	aml_name_eisaid(a, "_HID", "PNP0C0C");
	aml_name_int(a, "_UID", 0);
	aml_close(a, dev);

	dev = aml_device(a, "GED0");
	aml_name_string(a, "_HID", "ACPI0013");
	aml_name_int(a, "_UID", 0);
	aml_res_ext_irq(&r, GED_IRQ, true);
	aml_res_end(&r);
	aml_name_res(a, "_CRS", &r);
	aml_opregion(a, "EREG", AML_SPACE_IO, GED_PORT, GED_LEN);
	aml_field(a, "EREG", AML_FIELD_DWORD, fields, bits, 1);
	m = aml_method(a, "_EVT", 1, true);
	aml_byte(a, AML_STORE);
	aml_path(a, "ESEL");
	aml_byte(a, AML_LOCAL(0));
	i = aml_if(a);
	aml_byte(a, AML_AND);
	aml_byte(a, AML_LOCAL(0));
	aml_int(a, GED_EV_POWER_BUTTON);
	aml_byte(a, AML_NULL_NAME); /* no target: the result is the predicate */
	aml_notify(a, "\\_SB_.PWRB", 0x80);
	aml_close(a, i);
	aml_close(a, m);
	aml_close(a, dev);
}

static void acpi_dsdt_body(struct aml *a, const struct pci_windows *w)
{
	struct aml_res r;
	size_t pkg, sb, dev;

	/* \_S5_: SLP_TYPa/b for poweroff, what devices/power.c takes as S5. */
	aml_name(a, "_S5_");
	pkg = aml_package(a, 4);
	aml_int(a, POWER_S5_TYP);
	aml_int(a, POWER_S5_TYP);
	aml_int(a, 0);
	aml_int(a, 0);
	aml_close(a, pkg);

	sb = aml_open(a, AML_SCOPE);
	aml_byte(a, AML_ROOT);
	aml_put(a, "_SB_", 4);

	/* PCIe host bridge: ECAM segment 0, buses 0-31, its I/O and memory windows. */
	dev = aml_device(a, "PCI0");
	aml_name_eisaid(a, "_HID", "PNP0A08");
	aml_name_eisaid(a, "_CID", "PNP0A03");
	aml_name_int(a, "_SEG", 0);
	aml_name_int(a, "_BBN", 0);
	aml_name_int(a, "_UID", 0);
	r = (struct aml_res){ .n = 0 };
	aml_res_window(&r, AML_RES_BUS, 0, 2, 0, MEM_ECAM_BUSES);
	aml_res_io(&r, 0xcf8, 8);
	aml_res_window(&r, AML_RES_IO, AML_RES_IO_ENTIRE_RANGE, 2, 0x0d00, 0x10000 - 0x0d00);
	aml_res_window(&r, AML_RES_MEM, AML_RES_MEM_RW, 4, w->mem32_base, w->mem32_size);
	if (w->mem64_size)
		aml_res_window(&r, AML_RES_MEM, AML_RES_MEM_RW | AML_RES_MEM_CACHEABLE, 8,
		               w->mem64_base, w->mem64_size);
	aml_res_end(&r);
	aml_name_res(a, "_CRS", &r);
	acpi_dsdt_prt(a);
	acpi_pci_osc(a);
	aml_close(a, dev);

	acpi_dsdt_ged(a);

	/* COM1, so Linux's 8250 driver gets its IRQ through ACPI (there is no ISA PIC). */
	r = (struct aml_res){ .n = 0 };
	aml_res_io(&r, COM1_PORT, 8);
	aml_res_irq(&r, COM1_IRQ);
	aml_res_end(&r);
	acpi_dsdt_device(a, "COM1", "PNP0501", 1, &r);

	/* Motherboard resources: ECAM, so Linux accepts MCFG even without its e820 check. */
	r = (struct aml_res){ .n = 0 };
	aml_res_mem32_fixed(&r, (uint32_t)MEM_ECAM_BASE, (uint32_t)MEM_ECAM_SIZE);
	aml_res_end(&r);
	acpi_dsdt_device(a, "MRES", "PNP0C02", 2, &r);

	aml_close(a, sb);
}

/* Reserve `len` zeroed bytes at the next 16-byte boundary of buf; -ENOSPC if they do not fit. */
static int acpi_alloc(uint8_t *buf, size_t cap, size_t *off, size_t len, uint8_t **out)
{
	size_t at = (*off + 15) & ~(size_t)15;

	if (at > cap || len > cap - at)
		return -ENOSPC;
	memset(buf + at, 0, len);
	*out = buf + at;
	*off = at + len;
	return 0;
}

int acpi_build(uint8_t *buf, size_t cap, uint64_t gpa, uint32_t nr_cpus,
               const struct pci_windows *w, size_t *len)
{
	uint8_t *rsdp, *xsdt, *fadt, *mcfg, *madt, *dsdt;
	size_t off = 0;
	struct aml a;
	int r;

	if (nr_cpus == 0 || nr_cpus > VM_MAX_CPUS)
		return -EINVAL;
	if ((r = acpi_alloc(buf, cap, &off, ACPI_RSDP_LEN, &rsdp)) ||
	    (r = acpi_alloc(buf, cap, &off, ACPI_HDR_LEN + 8 * ACPI_XSDT_TABLES, &xsdt)) ||
	    (r = acpi_alloc(buf, cap, &off, ACPI_FADT_LEN, &fadt)) ||
	    (r = acpi_alloc(buf, cap, &off, ACPI_HDR_LEN + 8 + 16, &mcfg)) ||
	    (r = acpi_alloc(buf, cap, &off, acpi_madt_len(nr_cpus), &madt)) ||
	    (r = acpi_alloc(buf, cap, &off, ACPI_HDR_LEN, &dsdt)))
		return r;

	/* The DSDT takes whatever room is left; its header gets the final length. */
	a = (struct aml){ .p = dsdt + ACPI_HDR_LEN, .cap = cap - off };
	acpi_dsdt_body(&a, w);
	if (a.full)
		return -ENOSPC;
	memset(dsdt, 0, ACPI_HDR_LEN);
	acpi_header(dsdt, "DSDT", (uint32_t)(ACPI_HDR_LEN + a.len), 2, "HVMMDSDT");
	acpi_checksum(dsdt);
	off += a.len;

	acpi_fadt(fadt, gpa + (uint64_t)(dsdt - buf));
	acpi_mcfg(mcfg);
	acpi_madt(madt, nr_cpus);

	acpi_header(xsdt, "XSDT", ACPI_HDR_LEN + 8 * ACPI_XSDT_TABLES, 1, "HVMMXSDT");
	le64_put(xsdt + ACPI_HDR_LEN, gpa + (uint64_t)(fadt - buf));
	le64_put(xsdt + ACPI_HDR_LEN + 8, gpa + (uint64_t)(madt - buf));
	le64_put(xsdt + ACPI_HDR_LEN + 16, gpa + (uint64_t)(mcfg - buf));
	acpi_checksum(xsdt);

	/* RSDP 2.0: the first 20 bytes carry their own checksum, all 36 the extended one. */
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, ACPI_OEM_ID, 6);
	rsdp[15] = 2;
	le32_put(rsdp + 16, 0); /* no RSDT: the XSDT is enough for any ACPI 2.0+ guest */
	le32_put(rsdp + 20, ACPI_RSDP_LEN);
	le64_put(rsdp + 24, gpa + (uint64_t)(xsdt - buf));
	rsdp[8] = (uint8_t)-acpi_sum(rsdp, 20);
	rsdp[32] = (uint8_t)-acpi_sum(rsdp, ACPI_RSDP_LEN);

	*len = off;
	return 0;
}

int acpi_setup(struct guest_mem *mem, uint32_t nr_cpus, const struct pci_windows *w,
               uint64_t *rsdp_gpa)
{
	void *p;
	size_t len;
	int r;

	if (mem_ptr(mem, ACPI_BASE, ACPI_END - ACPI_BASE, &p)) {
		log_err("ACPI tables: guest RAM does not cover %#llx-%#llx",
		        (unsigned long long)ACPI_BASE, (unsigned long long)ACPI_END);
		return -EFAULT;
	}
	r = acpi_build(p, ACPI_END - ACPI_BASE, ACPI_BASE, nr_cpus, w, &len);
	if (r) {
		log_err("building the ACPI tables for %u vCPUs: %s", nr_cpus, strerror(-r));
		return r;
	}
	log_debug("ACPI tables at %#llx, %zu bytes", (unsigned long long)ACPI_BASE, len);
	*rsdp_gpa = ACPI_BASE;
	return 0;
}
