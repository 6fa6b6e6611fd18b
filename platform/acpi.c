/* SPDX-License-Identifier: MIT */
/*
 * ACPI tables describing hvmm's platform to the guest: a hardware-reduced machine (no PM
 * timer, no SCI, no legacy PIC or PIT, which is what lets Linux boot without them) with
 * LAPICs, one IOAPIC, PCIe ECAM, COM1, and sleep/reset registers served by devices/power.c.
 *
 * Layout from ACPI_BASE, each table 16-byte aligned: RSDP, XSDT, FADT, MCFG, MADT, DSDT.
 * The DSDT's AML is generated here by a tiny encoder (only the opcodes hvmm needs).
 */
#include <string.h>

#include "platform/platform.h"

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

/* AML opcodes (ACPI 6.x, 20.3). */
#define AML_ZERO       0x00
#define AML_ONE        0x01
#define AML_NAME       0x08
#define AML_BYTE       0x0a
#define AML_WORD       0x0b
#define AML_DWORD      0x0c
#define AML_QWORD      0x0e
#define AML_SCOPE      0x10
#define AML_BUFFER     0x11
#define AML_PACKAGE    0x12
#define AML_EXT_PREFIX 0x5b
#define AML_DEVICE     0x82 /* after AML_EXT_PREFIX */
#define AML_ROOT       0x5c /* '\' */

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)v);
	put32(p + 4, (uint32_t)(v >> 32));
}

static uint8_t acpi_sum(const uint8_t *p, size_t len)
{
	uint8_t s = 0;

	while (len--)
		s += *p++;
	return s;
}

void acpi_pci_mmio64(const struct guest_mem *mem, uint64_t *base, uint64_t *size)
{
	uint64_t b = mem_top(mem) > ACPI_PCI_MMIO64_MIN ? mem_top(mem) : ACPI_PCI_MMIO64_MIN;

	*base = (b + GiB(1) - 1) & ~(GiB(1) - 1);
	*size = ACPI_PCI_MMIO64_SIZE;
}

/* ---- AML encoder ------------------------------------------------------------------------- */

/* Appends to p[0..cap); on overflow sets `full` and stops writing, checked once at the end. */
struct aml {
	uint8_t *p;
	size_t len, cap;
	bool full;
};

static void aml_put(struct aml *a, const void *src, size_t n)
{
	if (a->full || n > a->cap - a->len) {
		a->full = true;
		return;
	}
	memcpy(a->p + a->len, src, n);
	a->len += n;
}

static void aml_byte(struct aml *a, uint8_t v)
{
	aml_put(a, &v, 1);
}

/* Start a package-length object: returns where its body begins, for aml_close(). */
static size_t aml_open(struct aml *a, uint8_t op)
{
	aml_byte(a, op);
	return a->len;
}

/* Insert the PkgLength in front of the body, now that its size is known (20.2.4). */
static void aml_close(struct aml *a, size_t start)
{
	size_t body = a->len - start, n, total;
	uint8_t enc[4];

	if (a->full)
		return;
	if (body + 1 <= 0x3f)
		n = 1;
	else if (body + 2 <= 0xfff)
		n = 2;
	else if (body + 3 <= 0xfffff)
		n = 3;
	else
		n = 4;
	total = body + n; /* the length counts its own bytes */
	if (n == 1) {
		enc[0] = (uint8_t)total;
	} else {
		enc[0] = (uint8_t)(((n - 1) << 6) | (total & 0xf));
		for (size_t i = 1; i < n; i++)
			enc[i] = (uint8_t)(total >> (4 + 8 * (i - 1)));
	}
	if (n > a->cap - a->len) {
		a->full = true;
		return;
	}
	memmove(a->p + start + n, a->p + start, body);
	memcpy(a->p + start, enc, n);
	a->len += n;
}

static void aml_int(struct aml *a, uint64_t v)
{
	uint8_t b[8];

	if (v <= 1) {
		aml_byte(a, v ? AML_ONE : AML_ZERO);
	} else if (v <= 0xff) {
		aml_byte(a, AML_BYTE);
		aml_byte(a, (uint8_t)v);
	} else if (v <= 0xffff) {
		aml_byte(a, AML_WORD);
		put16(b, (uint16_t)v);
		aml_put(a, b, 2);
	} else if (v <= 0xffffffff) {
		aml_byte(a, AML_DWORD);
		put32(b, (uint32_t)v);
		aml_put(a, b, 4);
	} else {
		aml_byte(a, AML_QWORD);
		put64(b, v);
		aml_put(a, b, 8);
	}
}

/* Name(seg, ...): the caller appends the value. `seg` is exactly 4 characters. */
static void aml_name(struct aml *a, const char *seg)
{
	aml_byte(a, AML_NAME);
	aml_put(a, seg, 4);
}

static void aml_name_int(struct aml *a, const char *seg, uint64_t v)
{
	aml_name(a, seg);
	aml_int(a, v);
}

/* EisaId("PNP0A08"): three 5-bit letters and four hex digits, stored big-endian. */
static void aml_name_eisaid(struct aml *a, const char *seg, const char *id)
{
	uint32_t v = (uint32_t)(id[0] - 0x40) << 26 | (uint32_t)(id[1] - 0x40) << 21 |
	             (uint32_t)(id[2] - 0x40) << 16;

	for (int i = 3; i < 7; i++) {
		char c = id[i];

		v |= (uint32_t)(c <= '9' ? c - '0' : c - 'A' + 10) << (4 * (6 - i));
	}
	aml_name(a, seg);
	aml_int(a, __builtin_bswap32(v));
}

static void aml_name_buffer(struct aml *a, const char *seg, const uint8_t *data, size_t n)
{
	size_t b;

	aml_name(a, seg);
	b = aml_open(a, AML_BUFFER);
	aml_int(a, n);
	aml_put(a, data, n);
	aml_close(a, b);
}

/* Device(seg) { ... }: returns the mark to aml_close() when the body is done. */
static size_t aml_device(struct aml *a, const char *seg)
{
	size_t d;

	aml_byte(a, AML_EXT_PREFIX);
	d = aml_open(a, AML_DEVICE);
	aml_put(a, seg, 4);
	return d;
}

/* ---- Resource descriptors (6.4) for _CRS buffers ----------------------------------------- */

#define RES_MAX 160

struct res {
	uint8_t b[RES_MAX];
	size_t n;
};

/* Callers add a fixed, small number of descriptors, so RES_MAX always suffices. */
static uint8_t *res_add(struct res *r, size_t n)
{
	uint8_t *p = r->b + r->n;

	r->n += n;
	return p;
}

/* IO(Decode16, base, base, 1, len) */
static void res_io(struct res *r, uint16_t base, uint8_t len)
{
	uint8_t *p = res_add(r, 8);

	p[0] = 0x47;
	p[1] = 1;
	put16(p + 2, base);
	put16(p + 4, base);
	p[6] = 1;
	p[7] = len;
}

/* IRQNoFlags(){irq}: edge triggered, active high, the ISA default. */
static void res_irq(struct res *r, unsigned irq)
{
	uint8_t *p = res_add(r, 3);

	p[0] = 0x22;
	put16(p + 1, (uint16_t)(1u << irq));
}

/* General flags of a host bridge window: ResourceProducer, MinFixed, MaxFixed, PosDecode. */
#define RES_WINDOW 0x0c
#define RES_MEM    0
#define RES_IO     1
#define RES_BUS    2

static void res_word(struct res *r, uint8_t type, uint8_t tflags, uint16_t min, uint16_t max)
{
	uint8_t *p = res_add(r, 16);

	p[0] = 0x88;
	put16(p + 1, 13);
	p[3] = type;
	p[4] = RES_WINDOW;
	p[5] = tflags;
	put16(p + 6, 0);
	put16(p + 8, min);
	put16(p + 10, max);
	put16(p + 12, 0);
	put16(p + 14, (uint16_t)(max - min + 1));
}

static void res_dword_mem(struct res *r, uint8_t tflags, uint32_t base, uint32_t len)
{
	uint8_t *p = res_add(r, 26);

	p[0] = 0x87;
	put16(p + 1, 23);
	p[3] = RES_MEM;
	p[4] = RES_WINDOW;
	p[5] = tflags;
	put32(p + 6, 0);
	put32(p + 10, base);
	put32(p + 14, base + len - 1);
	put32(p + 18, 0);
	put32(p + 22, len);
}

static void res_qword_mem(struct res *r, uint8_t tflags, uint64_t base, uint64_t len)
{
	uint8_t *p = res_add(r, 46);

	p[0] = 0x8a;
	put16(p + 1, 43);
	p[3] = RES_MEM;
	p[4] = RES_WINDOW;
	p[5] = tflags;
	put64(p + 6, 0);
	put64(p + 14, base);
	put64(p + 22, base + len - 1);
	put64(p + 30, 0);
	put64(p + 38, len);
}

/* Memory32Fixed(ReadWrite, base, len) */
static void res_mem32_fixed(struct res *r, uint32_t base, uint32_t len)
{
	uint8_t *p = res_add(r, 12);

	p[0] = 0x86;
	put16(p + 1, 9);
	p[3] = 1;
	put32(p + 4, base);
	put32(p + 8, len);
}

static void res_end(struct res *r)
{
	uint8_t *p = res_add(r, 2);

	p[0] = 0x79;
	p[1] = 0; /* checksum 0: "treat as valid" */
}

#define RES_MEM_RW          0x01
#define RES_MEM_CACHEABLE   0x02
#define RES_IO_ENTIRE_RANGE 0x03

/* ---- Tables ------------------------------------------------------------------------------ */

static void acpi_header(uint8_t *t, const char *sig, uint32_t len, uint8_t rev,
                        const char *table_id)
{
	memcpy(t, sig, 4);
	put32(t + 4, len);
	t[8] = rev;
	memcpy(t + 10, ACPI_OEM_ID, 6);
	memcpy(t + 16, table_id, 8);
	put32(t + 24, 1);
	memcpy(t + 28, ACPI_CREATOR, 4);
	put32(t + 32, 1);
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
	put64(g + 4, port);
}

static void acpi_fadt(uint8_t *t, uint64_t dsdt)
{
	acpi_header(t, "FACP", ACPI_FADT_LEN, 6, "HVMMFACP");
	put16(t + FADT_IAPC_BOOT_ARCH, FADT_BOOT_ARCH);
	put32(t + FADT_FLAGS, FADT_HW_REDUCED_ACPI | FADT_RESET_REG_SUP);
	acpi_gas_io(t + FADT_RESET_REG, POWER_RESET_REG);
	t[FADT_RESET_VALUE] = POWER_RESET_VALUE;
	t[FADT_MINOR_VERSION] = 0;
	put64(t + FADT_X_DSDT, dsdt); /* the 32-bit DSDT field stays 0: X_DSDT rules */
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
	put32(t + ACPI_HDR_LEN, (uint32_t)MEM_LAPIC_BASE);
	put32(t + ACPI_HDR_LEN + 4, 0); /* no PCAT_COMPAT: there is no 8259 */
	/* Processor UID = APIC ID = vCPU index, as the backend's CPUID topology says. */
	for (uint32_t i = 0; i < nr_cpus; i++, p += 8) {
		p[0] = MADT_LAPIC;
		p[1] = 8;
		p[2] = (uint8_t)i;
		p[3] = (uint8_t)i;
		put32(p + 4, MADT_LAPIC_ENABLED);
	}
	p[0] = MADT_IOAPIC;
	p[1] = 12;
	p[2] = ACPI_IOAPIC_ID;
	p[3] = 0;
	put32(p + 4, (uint32_t)MEM_IOAPIC_BASE);
	put32(p + 8, 0); /* GSI base: pin N is GSI N */
	p += 12;
	/* The customary ISA IRQ0 -> GSI2; flags 0: the bus default, edge, active high. */
	p[0] = MADT_ISO;
	p[1] = 10;
	p[2] = 0;
	p[3] = 0;
	put32(p + 4, 2);
	put16(p + 8, 0);
	p += 10;
	/* NMI arrives on every LAPIC's LINT1, as on PCs. */
	p[0] = MADT_LAPIC_NMI;
	p[1] = 6;
	p[2] = MADT_ALL_PROCESSORS;
	put16(p + 3, 0);
	p[5] = 1;
	acpi_checksum(t);
}

static void acpi_mcfg(uint8_t *t)
{
	acpi_header(t, "MCFG", ACPI_HDR_LEN + 8 + 16, 1, "HVMMMCFG");
	put64(t + ACPI_HDR_LEN + 8, MEM_ECAM_BASE);
	put16(t + ACPI_HDR_LEN + 16, 0); /* segment */
	t[ACPI_HDR_LEN + 18] = 0;        /* first bus */
	t[ACPI_HDR_LEN + 19] = (uint8_t)((MEM_ECAM_SIZE >> 20) - 1);
	acpi_checksum(t);
}

static void acpi_dsdt_body(struct aml *a, const struct guest_mem *mem)
{
	uint64_t m64, m64_size;
	struct res r;
	size_t pkg, sb, dev;

	/* \_S5_: SLP_TYPa/b for poweroff, what devices/power.c takes as S5. */
	aml_name(a, "_S5_");
	pkg = aml_open(a, AML_PACKAGE);
	aml_byte(a, 4);
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
	r.n = 0;
	res_word(&r, RES_BUS, 0, 0, MEM_ECAM_BUSES - 1);
	res_io(&r, 0xcf8, 8);
	res_word(&r, RES_IO, RES_IO_ENTIRE_RANGE, 0x0d00, 0xffff);
	res_dword_mem(&r, RES_MEM_RW, (uint32_t)MEM_PCI_MMIO32, (uint32_t)MEM_PCI_MMIO32_SZ);
	acpi_pci_mmio64(mem, &m64, &m64_size);
	res_qword_mem(&r, RES_MEM_RW | RES_MEM_CACHEABLE, m64, m64_size);
	res_end(&r);
	aml_name_buffer(a, "_CRS", r.b, r.n);
	aml_close(a, dev);

	/* COM1, so Linux's 8250 driver gets its IRQ through ACPI (there is no ISA PIC). */
	dev = aml_device(a, "COM1");
	aml_name_eisaid(a, "_HID", "PNP0501");
	aml_name_int(a, "_UID", 1);
	r.n = 0;
	res_io(&r, COM1_PORT, 8);
	res_irq(&r, COM1_IRQ);
	res_end(&r);
	aml_name_buffer(a, "_CRS", r.b, r.n);
	aml_close(a, dev);

	/* Motherboard resources: ECAM, so Linux accepts MCFG even without its e820 check. */
	dev = aml_device(a, "MRES");
	aml_name_eisaid(a, "_HID", "PNP0C02");
	aml_name_int(a, "_UID", 2);
	r.n = 0;
	res_mem32_fixed(&r, (uint32_t)MEM_ECAM_BASE, (uint32_t)MEM_ECAM_SIZE);
	res_end(&r);
	aml_name_buffer(a, "_CRS", r.b, r.n);
	aml_close(a, dev);

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
               const struct guest_mem *mem, size_t *len)
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
	acpi_dsdt_body(&a, mem);
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
	put64(xsdt + ACPI_HDR_LEN, gpa + (uint64_t)(fadt - buf));
	put64(xsdt + ACPI_HDR_LEN + 8, gpa + (uint64_t)(madt - buf));
	put64(xsdt + ACPI_HDR_LEN + 16, gpa + (uint64_t)(mcfg - buf));
	acpi_checksum(xsdt);

	/* RSDP 2.0: the first 20 bytes carry their own checksum, all 36 the extended one. */
	memcpy(rsdp, "RSD PTR ", 8);
	memcpy(rsdp + 9, ACPI_OEM_ID, 6);
	rsdp[15] = 2;
	put32(rsdp + 16, 0); /* no RSDT: the XSDT is enough for any ACPI 2.0+ guest */
	put32(rsdp + 20, ACPI_RSDP_LEN);
	put64(rsdp + 24, gpa + (uint64_t)(xsdt - buf));
	rsdp[8] = (uint8_t)-acpi_sum(rsdp, 20);
	rsdp[32] = (uint8_t)-acpi_sum(rsdp, ACPI_RSDP_LEN);

	*len = off;
	return 0;
}

int acpi_setup(struct guest_mem *mem, uint32_t nr_cpus, uint64_t *rsdp_gpa)
{
	void *p;
	size_t len;
	int r;

	if (mem_ptr(mem, ACPI_BASE, ACPI_END - ACPI_BASE, &p)) {
		log_err("ACPI tables: guest RAM does not cover %#llx-%#llx",
		        (unsigned long long)ACPI_BASE, (unsigned long long)ACPI_END);
		return -EFAULT;
	}
	r = acpi_build(p, ACPI_END - ACPI_BASE, ACPI_BASE, nr_cpus, mem, &len);
	if (r) {
		log_err("building the ACPI tables for %u vCPUs: %s", nr_cpus, strerror(-r));
		return r;
	}
	log_debug("ACPI tables at %#llx, %zu bytes", (unsigned long long)ACPI_BASE, len);
	*rsdp_gpa = ACPI_BASE;
	return 0;
}
