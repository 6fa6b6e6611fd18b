/* The ACPI tables, built into guest RAM and parsed back as a guest's ACPI code would. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "platform/internal.h"
#include "devices/devices.h"

#define NR_CPUS 4

static struct guest_mem mem;
static struct pci_windows win; /* as the board gives them for mem on a 40-bit host */

static uint8_t sum(const uint8_t *p, size_t n)
{
	uint8_t s = 0;

	while (n--)
		s += *p++;
	return s;
}

/* A table in guest RAM: its signature, a length that fits in RAM, a zero checksum. */
static const uint8_t *table(uint64_t gpa, const char *sig)
{
	void *p;
	uint32_t len;

	assert_int_equal(mem_ptr(&mem, gpa, 36, &p), 0);
	assert_memory_equal(p, sig, 4);
	len = le32_get((uint8_t *)p + 4);
	assert_true(len >= 36);
	assert_int_equal(mem_ptr(&mem, gpa, len, &p), 0);
	assert_int_equal(sum(p, len), 0);
	assert_memory_equal((uint8_t *)p + 10, "HVMM  ", 6);
	/* Everything lies in the reserved BIOS area hvmm gives the tables. */
	assert_true(gpa >= ACPI_BASE && gpa + len <= ACPI_END);
	return p;
}

/* Find the XSDT entry with signature `sig`. */
static const uint8_t *xsdt_find(const uint8_t *xsdt, const char *sig)
{
	uint32_t n = (le32_get(xsdt + 4) - 36) / 8;

	for (uint32_t i = 0; i < n; i++) {
		void *p;
		uint64_t a = le64_get(xsdt + 36 + 8 * i);

		assert_int_equal(mem_ptr(&mem, a, 4, &p), 0);
		if (!memcmp(p, sig, 4))
			return table(a, sig);
	}
	fail_msg("no %s in the XSDT", sig);
	return NULL;
}

static const uint8_t *rsdp_xsdt(void)
{
	uint64_t rsdp_gpa = 0;
	void *p;
	const uint8_t *rsdp;

	assert_int_equal(acpi_setup(&mem, NR_CPUS, &win, &rsdp_gpa), 0);
	assert_int_equal(rsdp_gpa, ACPI_BASE);
	assert_int_equal(rsdp_gpa % 16, 0); /* guests scan on 16-byte boundaries */
	assert_int_equal(mem_ptr(&mem, rsdp_gpa, 36, &p), 0);
	rsdp = p;
	assert_memory_equal(rsdp, "RSD PTR ", 8);
	assert_int_equal(sum(rsdp, 20), 0);
	assert_int_equal(rsdp[15], 2);
	assert_int_equal(le32_get(rsdp + 20), 36);
	assert_int_equal(sum(rsdp, 36), 0);
	return table(le64_get(rsdp + 24), "XSDT");
}

static int setup(void **state)
{
	(void)state;
	if (mem_init(&mem, MiB(64)))
		return -1;
	pc_pci_windows_for(mem_top(&mem), 40, &win);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	mem_destroy(&mem);
	return 0;
}

static void test_xsdt(void **state)
{
	const uint8_t *xsdt;

	(void)state;
	xsdt = rsdp_xsdt();
	assert_int_equal(le32_get(xsdt + 4), 36 + 3 * 8);
	xsdt_find(xsdt, "FACP");
	xsdt_find(xsdt, "APIC");
	xsdt_find(xsdt, "MCFG");
}

static void assert_gas_io(const uint8_t *g, uint16_t port)
{
	assert_int_equal(g[0], 1); /* SystemIO */
	assert_int_equal(g[1], 8);
	assert_int_equal(g[2], 0);
	assert_int_equal(g[3], 1); /* byte access */
	assert_int_equal(le64_get(g + 4), port);
}

static void test_fadt(void **state)
{
	const uint8_t *fadt;

	(void)state;
	fadt = xsdt_find(rsdp_xsdt(), "FACP");
	assert_int_equal(le32_get(fadt + 4), 276);
	assert_int_equal(fadt[8], 6);
	assert_true(le32_get(fadt + 112) & (1u << 20));        /* HW_REDUCED_ACPI */
	assert_true(le32_get(fadt + 112) & (1u << 10));        /* RESET_REG_SUP */
	assert_int_equal(le16_get(fadt + 109) & 0x3, 0);       /* no legacy devices, no 8042 */
	assert_int_equal(le16_get(fadt + 109) & (1u << 3), 0); /* MSI allowed */
	assert_int_equal(le16_get(fadt + 46), 0);              /* no SCI */
	assert_int_equal(le32_get(fadt + 76), 0);              /* no PM timer */
	assert_gas_io(fadt + 116, POWER_RESET_REG);
	assert_int_equal(fadt[128], POWER_RESET_VALUE);
	assert_gas_io(fadt + 244, POWER_SLEEP_CTL);
	assert_gas_io(fadt + 256, POWER_SLEEP_STS);
	table(le64_get(fadt + 140), "DSDT");
}

static void test_madt(void **state)
{
	const uint8_t *madt, *p, *end;
	unsigned lapics = 0, ioapics = 0, isos = 0;
	bool seen[NR_CPUS] = { false };

	(void)state;
	madt = xsdt_find(rsdp_xsdt(), "APIC");
	assert_int_equal(le32_get(madt + 36), MEM_LAPIC_BASE);
	assert_int_equal(le32_get(madt + 40), 0); /* no PCAT_COMPAT */
	end = madt + le32_get(madt + 4);
	for (p = madt + 44; p < end; p += p[1]) {
		assert_true(p[1] >= 2 && p + p[1] <= end);
		switch (p[0]) {
		case 0:
			assert_int_equal(p[1], 8);
			assert_true(p[3] < NR_CPUS);
			assert_false(seen[p[3]]);
			seen[p[3]] = true;
			assert_int_equal(le32_get(p + 4) & 1, 1); /* enabled */
			lapics++;
			break;
		case 1:
			assert_int_equal(p[1], 12);
			assert_int_equal(le32_get(p + 4), MEM_IOAPIC_BASE);
			assert_int_equal(le32_get(p + 8), 0);
			ioapics++;
			break;
		case 2:
			assert_int_equal(p[1], 10);
			assert_int_equal(p[3], 0); /* IRQ0 */
			assert_int_equal(le32_get(p + 4), 2);
			isos++;
			break;
		default:
			break;
		}
	}
	assert_ptr_equal(p, end);
	assert_int_equal(lapics, NR_CPUS);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 1);
}

static void test_mcfg(void **state)
{
	const uint8_t *mcfg;

	(void)state;
	mcfg = xsdt_find(rsdp_xsdt(), "MCFG");
	assert_int_equal(le32_get(mcfg + 4), 36 + 8 + 16);
	assert_int_equal(le64_get(mcfg + 44), MEM_ECAM_BASE);
	assert_int_equal(le16_get(mcfg + 52), 0);
	assert_int_equal(mcfg[54], 0);
	/* Buses 0-31, no more: Linux's boot-time scan probes every bus MCFG declares. */
	assert_int_equal(mcfg[55], 31);
	assert_int_equal((uint64_t)(mcfg[55] + 1) << 20, MEM_ECAM_SIZE);
}

/* Decode an AML PkgLength at p: its value, and how many bytes it took. */
static size_t pkglen(const uint8_t *p, size_t *bytes)
{
	size_t n = (p[0] >> 6) + 1, v;

	*bytes = n;
	if (n == 1)
		return p[0] & 0x3f;
	v = p[0] & 0x0f;
	for (size_t i = 1; i < n; i++)
		v |= (size_t)p[i] << (4 + 8 * (i - 1));
	return v;
}

static const uint8_t *find(const uint8_t *hay, size_t n, const void *needle, size_t len)
{
	for (size_t i = 0; i + len <= n; i++) {
		if (!memcmp(hay + i, needle, len))
			return hay + i;
	}
	return NULL;
}

static void test_dsdt(void **state)
{
	/* NameOp "_S5_" PackageOp PkgLength(8) NumElements(4) BytePrefix 5 ... Zero Zero */
	static const uint8_t s5[] = { 0x08, '_',  'S',  '5',  '_',  0x12, 0x08,
		                      0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00 };
	static const uint8_t pnp0a08[] = { 0x0c, 0x41, 0xd0, 0x0a, 0x08 };
	static const uint8_t pnp0501[] = { 0x0c, 0x41, 0xd0, 0x05, 0x01 };
	static const uint8_t com1_io[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08 };
	static const uint8_t com1_irq[] = { 0x22, 0x10, 0x00 };
	const uint8_t *fadt, *dsdt, *aml, *p, *end;
	size_t len, n, plen;

	(void)state;
	fadt = xsdt_find(rsdp_xsdt(), "FACP");
	dsdt = table(le64_get(fadt + 140), "DSDT");
	assert_int_equal(dsdt[8], 2); /* 64-bit integers */
	len = le32_get(dsdt + 4);
	aml = dsdt + 36;
	end = dsdt + len;
	n = len - 36;

	/* Name(_S5_, Package(4){5, 5, 0, 0}) first; SLP_TYP 5 is what devices/power.c wants. */
	assert_memory_equal(aml, s5, sizeof(s5));
	assert_int_equal(POWER_S5_TYP, 5);
	/* Then Scope(\_SB_), whose PkgLength runs exactly to the end of the table. */
	p = aml + sizeof(s5);
	assert_int_equal(p[0], 0x10);
	plen = pkglen(p + 1, &n);
	assert_ptr_equal(p + 1 + plen, end);
	assert_memory_equal(p + 1 + n, "\\_SB_", 5);

	n = len - 36;
	assert_non_null(find(aml, n, "PCI0", 4));
	assert_non_null(find(aml, n, pnp0a08, sizeof(pnp0a08)));
	assert_non_null(find(aml, n, "_SEG", 4));
	assert_non_null(find(aml, n, "_BBN", 4));
	assert_non_null(find(aml, n, "COM1", 4));
	assert_non_null(find(aml, n, pnp0501, sizeof(pnp0501)));
	assert_non_null(find(aml, n, com1_io, sizeof(com1_io)));
	assert_non_null(find(aml, n, com1_irq, sizeof(com1_irq)));
}

/* Every Device's PkgLength ends inside its scope, and _CRS buffers end with an end tag. */
static void test_dsdt_devices(void **state)
{
	const uint8_t *fadt, *dsdt, *end, *p;
	unsigned devices = 0;

	(void)state;
	fadt = xsdt_find(rsdp_xsdt(), "FACP");
	dsdt = table(le64_get(fadt + 140), "DSDT");
	end = dsdt + le32_get(dsdt + 4);
	for (p = dsdt + 36; p + 2 < end; p++) {
		const uint8_t *body, *crs;
		size_t n, plen;

		if (p[0] != 0x5b || p[1] != 0x82)
			continue;
		plen = pkglen(p + 2, &n);
		body = p + 2;
		assert_true(body + plen <= end);
		crs = find(body, plen, "_CRS", 4);
		if (!memcmp(body + n, "PWRB", 4)) {
			assert_null(crs); /* a fixed-feature-less button needs no resources */
			devices++;
			continue;
		}
		assert_non_null(crs);
		/* Name(_CRS, Buffer(PkgLength, size, bytes...)) */
		assert_int_equal(crs[4], 0x11);
		{
			size_t bn, blen = pkglen(crs + 5, &bn);
			const uint8_t *bend = crs + 5 + blen;

			assert_true(bend <= body + plen);
			assert_int_equal(bend[-2], 0x79);
		}
		devices++;
	}
	assert_int_equal(devices, 5); /* PCI0, PWRB, GED0, COM1, MRES */
}

/* The 64-bit window runs from above RAM to the top of the guest-physical address space. */
static void test_pci_window_sizes(void **state)
{
	struct pci_windows w;

	(void)state;
	/* A nested host with 40 bits: from 64 GiB to 1 TiB. */
	pc_pci_windows_for(MiB(512), 40, &w);
	assert_int_equal(w.mem32_base, MEM_PCI_MMIO32);
	assert_int_equal(w.mem32_size, MiB(512));
	assert_int_equal(w.mem64_base, GiB(64));
	assert_int_equal(w.mem64_size, GiB(1024) - GiB(64));
	/* Above RAM, at the next 1 GiB boundary. */
	pc_pci_windows_for(GiB(105) + MiB(1), 46, &w);
	assert_int_equal(w.mem64_base, GiB(106));
	assert_int_equal(w.mem64_base + w.mem64_size, 1ull << 46);
	/* A 52-bit host: the cap, 4-level nested paging's 48 bits. */
	pc_pci_windows_for(GiB(2), 52, &w);
	assert_int_equal(w.mem64_base + w.mem64_size, 1ull << PC_PHYS_BITS_CAP);
	/* 36 bits (64 GiB) leave nothing above 64 GiB; RAM up to the top leaves nothing either. */
	pc_pci_windows_for(GiB(2), 36, &w);
	assert_int_equal(w.mem64_size, 0);
	pc_pci_windows_for(GiB(1023) + 1, 40, &w);
	assert_int_equal(w.mem64_size, 0);
	/* Less than 1 GiB left is no window. */
	pc_pci_windows_for(GiB(2), 36, &w);
	assert_int_equal(w.mem64_size, 0);
	pc_pci_windows_for(GiB(64), 37, &w);
	assert_int_equal(w.mem64_base, GiB(64));
	assert_int_equal(w.mem64_size, GiB(64));
}

static void test_pci_windows(void **state)
{
	static const uint8_t ecam[] = { 0x86, 0x09, 0x00, 0x01, 0x00, 0x00,
		                        0x00, 0xe0, 0x00, 0x00, 0x00, 0x02 };
	static uint8_t buf[64 * 1024];
	struct pci_windows none = { .mem32_base = MEM_PCI_MMIO32, .mem32_size = MiB(512) };
	const uint8_t *fadt, *dsdt, *q;
	size_t len;

	(void)state;
	fadt = xsdt_find(rsdp_xsdt(), "FACP");
	dsdt = table(le64_get(fadt + 140), "DSDT");
	/* QWordMemory window at 64 GiB, up to 1 TiB, and the ECAM motherboard resource. */
	q = find(dsdt, le32_get(dsdt + 4), (uint8_t[]){ 0x8a, 0x2b, 0x00 }, 3);
	assert_non_null(q);
	assert_int_equal(le64_get(q + 14), GiB(64));
	assert_int_equal(le64_get(q + 22), GiB(1024) - 1);
	assert_int_equal(le64_get(q + 38), GiB(960));
	assert_non_null(find(dsdt, le32_get(dsdt + 4), ecam, sizeof(ecam)));
	/* WordBusNumber: the host bridge decodes buses 0-31, the range MCFG gives. */
	q = find(dsdt, le32_get(dsdt + 4), (uint8_t[]){ 0x88, 0x0d, 0x00, 0x02 }, 4);
	assert_non_null(q);
	assert_int_equal(q[8] | q[9] << 8, 0);
	assert_int_equal(q[10] | q[11] << 8, 31);
	/* No 64-bit window: no QWordMemory in the host bridge's _CRS. */
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, 1, &none, &len), 0);
	assert_null(find(buf, len, (uint8_t[]){ 0x8a, 0x2b, 0x00 }, 3));
}

/* An AML integer at p (ZeroOp, OneOp, Byte/Word/DWord/QWord consts): its value and length. */
static uint64_t aml_int_at(const uint8_t *p, size_t *n)
{
	switch (p[0]) {
	case 0x00:
	case 0x01:
		*n = 1;
		return p[0];
	case 0x0a:
		*n = 2;
		return p[1];
	case 0x0b:
		*n = 3;
		return le16_get(p + 1);
	case 0x0c:
		*n = 5;
		return le32_get(p + 1);
	case 0x0e:
		*n = 9;
		return le64_get(p + 1);
	default:
		fail_msg("no AML integer at opcode %#x", p[0]);
		return 0;
	}
}

/*
 * The host bridge's _PRT as a guest's AML interpreter reads it: a Package of one Package
 * {address, pin, source 0, GSI} per pin of every slot a root port can have, each GSI the one
 * the PCI core wires that pin to, and none of them COM1's or an ISA IRQ.
 */
static void test_dsdt_prt(void **state)
{
	const uint8_t *fadt, *dsdt, *p;
	bool seen[32][4] = { { false } };
	unsigned per_gsi[PCI_INTX_GSIS] = { 0 };
	size_t n, bytes, plen;

	(void)state;
	fadt = xsdt_find(rsdp_xsdt(), "FACP");
	dsdt = table(le64_get(fadt + 140), "DSDT");
	p = find(dsdt, le32_get(dsdt + 4), (uint8_t[]){ 0x08, '_', 'P', 'R', 'T', 0x12 }, 6);
	assert_non_null(p);
	p += 6;
	plen = pkglen(p, &bytes);
	assert_true(p + plen <= dsdt + le32_get(dsdt + 4));
	p += bytes;
	assert_int_equal(p[0], PCI_MAX_ROOT_PORTS * 4);
	p++;
	for (unsigned e = 0; e < PCI_MAX_ROOT_PORTS * 4; e++) {
		const uint8_t *end;
		uint64_t addr, pin, src, gsi;

		assert_int_equal(p[0], 0x12);
		end = p + 1 + pkglen(p + 1, &bytes);
		p += 1 + bytes;
		assert_int_equal(*p++, 4);
		addr = aml_int_at(p, &n);
		p += n;
		pin = aml_int_at(p, &n);
		p += n;
		src = aml_int_at(p, &n);
		p += n;
		gsi = aml_int_at(p, &n);
		p += n;
		assert_ptr_equal(p, end);
		assert_int_equal(addr & 0xffff, 0xffff);
		assert_true((addr >> 16) >= PCI_ROOT_PORT_FIRST_DEV && (addr >> 16) < 32);
		assert_true(pin < 4);
		assert_false(seen[addr >> 16][pin]);
		seen[addr >> 16][pin] = true;
		assert_int_equal(src, 0);
		assert_int_equal(gsi, pci_intx_gsi((unsigned)(addr >> 16), (unsigned)pin + 1));
		assert_true(gsi >= PCI_INTX_GSI_BASE && gsi < IOAPIC_PINS && gsi != COM1_IRQ);
		per_gsi[gsi - PCI_INTX_GSI_BASE]++;
	}
	/* The swizzle spreads the ports' pins evenly over the lines. */
	for (unsigned g = 0; g < PCI_INTX_GSIS; g++)
		assert_true(per_gsi[g] >= PCI_MAX_ROOT_PORTS * 4 / PCI_INTX_GSIS &&
		            per_gsi[g] <=
		                (PCI_MAX_ROOT_PORTS * 4 + PCI_INTX_GSIS - 1) / PCI_INTX_GSIS);
	/* No INTx line is another device's: COM1's, the GED's. */
	assert_true(GED_IRQ >= PCI_INTX_GSI_BASE + PCI_INTX_GSIS);
	/* Neighbouring ports' INTA are different lines. */
	assert_int_not_equal(pci_intx_gsi(1, 1), pci_intx_gsi(2, 1));
	assert_int_equal(pci_intx_gsi(1, 1), pci_intx_gsi(1 + PCI_INTX_GSIS, 1));
}

/* Package of Packages, as _PRT is: element counts, nesting and PkgLength of every size. */
static void test_aml_packages(void **state)
{
	/* PkgLength counts itself and the body: 4 for the inner package, 12 for the outer. */
	static const uint8_t small[] = { 0x12, 0x0c, 0x02, 0x12, 0x04, 0x01, 0x0a,
		                         0x05, 0x0c, 0x78, 0x56, 0x34, 0x12 };
	uint8_t out[4096];
	struct aml a = { .p = out, .cap = sizeof(out) };
	size_t outer, inner, bytes;

	(void)state;
	outer = aml_package(&a, 2);
	inner = aml_package(&a, 1);
	aml_int(&a, 5);
	aml_close(&a, inner);
	aml_int(&a, 0x12345678);
	aml_close(&a, outer);
	assert_false(a.full);
	assert_int_equal(a.len, sizeof(small));
	assert_memory_equal(out, small, sizeof(small));
	/* 100 elements of 5 bytes: a two-byte PkgLength that counts itself. */
	a = (struct aml){ .p = out, .cap = sizeof(out) };
	outer = aml_package(&a, 100);
	for (unsigned i = 0; i < 100; i++)
		aml_int(&a, 0x10000 + i);
	aml_close(&a, outer);
	assert_int_equal(pkglen(out + 1, &bytes), a.len - 1);
	assert_int_equal(bytes, 2);
	assert_int_equal(out[1 + bytes], 100);
	/* One that does not fit marks the buffer full rather than writing past it. */
	a = (struct aml){ .p = out, .cap = 8 };
	outer = aml_package(&a, 3);
	aml_int(&a, 0x12345678);
	aml_int(&a, 0x12345678);
	aml_close(&a, outer);
	assert_true(a.full);
	assert_true(a.len <= 8);
}

static void test_build_limits(void **state)
{
	static uint8_t buf[64 * 1024];
	size_t len = 0;

	(void)state;
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, 0, &win, &len), -EINVAL);
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, VM_MAX_CPUS + 1, &win, &len),
	                 -EINVAL);
	/* Too small for the fixed tables, then for the DSDT only. */
	assert_int_equal(acpi_build(buf, 100, ACPI_BASE, 1, &win, &len), -ENOSPC);
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, 1, &win, &len), 0);
	assert_int_equal(acpi_build(buf, len - 1, ACPI_BASE, 1, &win, &len), -ENOSPC);
	assert_int_equal(acpi_build(buf, sizeof(buf), ACPI_BASE, VM_MAX_CPUS, &win, &len), 0);
	assert_true(len < ACPI_END - ACPI_BASE);
	assert_int_equal(acpi_build(buf, len, ACPI_BASE, VM_MAX_CPUS, &win, &len), 0);
	assert_int_equal(acpi_build(buf, len - 1, ACPI_BASE, VM_MAX_CPUS, &win, &len), -ENOSPC);
}

/* The one address-space emitter writes the Word, DWord and QWord forms of ACPI 6.4.3.5. */
static void test_aml_windows(void **state)
{
	static const uint8_t word[16] = { 0x88, 13, 0, AML_RES_BUS, AML_RES_WINDOW, 0, 0, 0, 0, 0,
		                          0x1f, 0,  0, 0,           0x20,           0 };
	static const uint8_t dword[26] = {
		0x87, 23,   0,    AML_RES_MEM, AML_RES_WINDOW, 1, 0, 0, 0, 0, 0, 0, 0,
		0xc0, 0xff, 0xff, 0xff,        0xdf,           0, 0, 0, 0, 0, 0, 0, 0x20
	};
	struct aml_res r = { .n = 0 };

	(void)state;
	aml_res_window(&r, AML_RES_BUS, 0, 2, 0, 32);
	assert_int_equal(r.n, sizeof(word));
	assert_memory_equal(r.b, word, sizeof(word));
	r = (struct aml_res){ .n = 0 };
	aml_res_window(&r, AML_RES_MEM, AML_RES_MEM_RW, 4, 0xc0000000, MiB(512));
	assert_int_equal(r.n, sizeof(dword));
	assert_memory_equal(r.b, dword, sizeof(dword));
	r = (struct aml_res){ .n = 0 };
	aml_res_window(&r, AML_RES_MEM, 0, 8, GiB(64), GiB(64));
	assert_int_equal(r.n, 46);
	assert_int_equal(r.b[0], 0x8a);
	assert_int_equal(le16_get(r.b + 1), 43);
	assert_int_equal(le64_get(r.b + 14), GiB(64));
	assert_int_equal(le64_get(r.b + 22), GiB(128) - 1);
	assert_int_equal(le64_get(r.b + 38), GiB(64));
	assert_false(r.full);
}

/* A _CRS buffer never grows past AML_RES_MAX: the descriptor that does not fit is refused. */
static void test_aml_res_bounds(void **state)
{
	uint8_t before[AML_RES_MAX];
	struct aml_res r = { .n = 0 };
	uint8_t out[512];
	struct aml a = { .p = out, .cap = sizeof(out) };
	size_t n;

	(void)state;
	while (r.n + 46 <= AML_RES_MAX)
		aml_res_window(&r, AML_RES_MEM, 0, 8, GiB(64), GiB(64));
	assert_false(r.full);
	n = r.n;
	memcpy(before, r.b, sizeof(before));
	aml_res_window(&r, AML_RES_MEM, 0, 8, GiB(64), GiB(64));
	assert_true(r.full);
	assert_int_equal(r.n, n);
	assert_memory_equal(r.b, before, sizeof(before));
	/* Once full, even a descriptor that would fit is refused: the buffer is incomplete. */
	aml_res_end(&r);
	assert_int_equal(r.n, n);
	/* The table that would carry it fails instead of carrying a truncated _CRS. */
	aml_name_res(&a, "_CRS", &r);
	assert_true(a.full);
	assert_int_equal(a.len, 0);
	/* A width the encoder does not know is refused the same way. */
	r = (struct aml_res){ .n = 0 };
	aml_res_window(&r, AML_RES_IO, 0, 3, 0, 16);
	assert_true(r.full);
	assert_int_equal(r.n, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xsdt),           cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_madt),           cmocka_unit_test(test_mcfg),
		cmocka_unit_test(test_dsdt),           cmocka_unit_test(test_dsdt_devices),
		cmocka_unit_test(test_pci_windows),    cmocka_unit_test(test_pci_window_sizes),
		cmocka_unit_test(test_dsdt_prt),       cmocka_unit_test(test_aml_packages),
		cmocka_unit_test(test_build_limits),   cmocka_unit_test(test_aml_windows),
		cmocka_unit_test(test_aml_res_bounds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
