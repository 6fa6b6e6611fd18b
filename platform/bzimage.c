/* SPDX-License-Identifier: MIT */
/*
 * The Linux/x86 boot protocol (Documentation/arch/x86/boot.rst), 64-bit entry: hvmm plays the
 * boot loader.  The protected-mode kernel goes to 1 MiB, a zero page (struct boot_params)
 * describes the machine, and the BSP starts in long mode at startup_64, 0x200 past the load
 * address, with RSI pointing at the zero page.  The real-mode setup code never runs.
 *
 * Everything the image says is checked before guest RAM is written, so a refused image
 * leaves RAM untouched.
 */
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"

/* Offsets in the image and, identically, in the zero page (the setup header sits at 0x1f1). */
#define BP_ACPI_RSDP        0x070 /* u64 */
#define BP_EXT_RAMDISK_IMG  0x0c0 /* u32: bits 63..32 of ramdisk_image */
#define BP_EXT_RAMDISK_SIZE 0x0c4
#define BP_EXT_CMDLINE      0x0c8
#define BP_E820_ENTRIES     0x1e8 /* u8 */
#define BP_E820_TABLE       0x2d0 /* struct boot_e820_entry[128] */
#define BP_E820_MAX         128
#define BP_E820_ENTRY_SIZE  20
#define HDR_START           0x1f1
#define HDR_SETUP_SECTS     0x1f1 /* u8 */
#define HDR_SYSSIZE         0x1f4 /* u32, 16-byte paragraphs */
#define HDR_VID_MODE        0x1fa /* u16 */
#define HDR_BOOT_FLAG       0x1fe /* u16 */
#define HDR_JUMP            0x200 /* u8 0xeb, then u8 offset: the header ends at 0x202 + it */
#define HDR_MAGIC           0x202 /* "HdrS" */
#define HDR_VERSION         0x206 /* u16 */
#define HDR_TYPE_OF_LOADER  0x210 /* u8 */
#define HDR_LOADFLAGS       0x211 /* u8 */
#define HDR_CODE32_START    0x214 /* u32 */
#define HDR_RAMDISK_IMAGE   0x218 /* u32 */
#define HDR_RAMDISK_SIZE    0x21c /* u32 */
#define HDR_CMD_LINE_PTR    0x228 /* u32 */
#define HDR_INITRD_ADDR_MAX 0x22c /* u32, highest byte the initrd may occupy */
#define HDR_KERNEL_ALIGN    0x230 /* u32 */
#define HDR_RELOCATABLE     0x234 /* u8 */
#define HDR_XLOADFLAGS      0x236 /* u16 */
#define HDR_CMDLINE_SIZE    0x238 /* u32, without the NUL */
#define HDR_PREF_ADDRESS    0x258 /* u64 */
#define HDR_INIT_SIZE       0x260 /* u32 */
#define HDR_MIN_END         0x264 /* the header must reach past init_size (2.10+ fields) */
#define HDR_MAX_END         0x290 /* where boot_params' room for the header ends */

#define BZ_MAGIC          0x53726448u /* "HdrS" */
#define BZ_BOOT_FLAG      0xaa55
#define BZ_MIN_VERSION    0x020c /* 2.12: xloadflags, so XLF_KERNEL_64 can be checked */
#define BZ_LOADED_HIGH    0x01
#define BZ_XLF_KERNEL_64  0x0001
#define BZ_LOAD_ADDR      MiB(1)
#define BZ_ENTRY64_OFFSET 0x200
#define BZ_LOADER_UNKNOWN 0xff /* no assigned boot loader ID */
#define BZ_VID_NORMAL     0xffff

#define E820_RAM      1
#define E820_RESERVED 2
/* The usual PC low-memory split: the EBDA below 640 KiB, then VGA, option ROMs and BIOS. */
#define E820_EBDA_START 0x9fc00ull

/*
 * At the reset vector, in real mode: ask devices/power.c for a reset.  Linux reboots by
 * jumping here when no other method works (see BOOT_RESET_VECTOR).
 */
/* clang-format off */
static const uint8_t bz_reset_stub[] = {
	0xb0, POWER_RESET_VALUE,                            /* mov al, POWER_RESET_VALUE */
	0xba, POWER_RESET_REG & 0xff, POWER_RESET_REG >> 8, /* mov dx, POWER_RESET_REG */
	0xee,                                               /* out dx, al */
	0xf4,                                               /* 1: hlt */
	0xeb, 0xfd,                                         /* jmp 1b */
};
/* clang-format on */
_Static_assert(BOOT_RESET_VECTOR + sizeof(bz_reset_stub) <= MiB(1), "reset stub below 1 MiB");

struct e820_entry {
	uint64_t addr, size;
	uint32_t type;
};

#define BZ_ERR(code, ...) (snprintf(err, errlen, __VA_ARGS__), (code))

bool bzimage_is_bzimage(const void *buf, size_t len)
{
	return len >= HDR_MAGIC + 4 && le32_get((const uint8_t *)buf + HDR_MAGIC) == BZ_MAGIC;
}

int bzimage_parse(const void *buf, size_t len, struct bzimage_hdr *out, char *err, size_t errlen)
{
	const uint8_t *b = buf;
	struct bzimage_hdr h = { 0 };
	uint64_t setup_len, syssize;

	if (!bzimage_is_bzimage(buf, len))
		return BZ_ERR(-ENOEXEC, "not a Linux bzImage (no \"HdrS\" at 0x202)");
	h.hdr_end = HDR_MAGIC + (size_t)b[HDR_JUMP + 1];
	if (len < HDR_MIN_END || len < h.hdr_end)
		return BZ_ERR(-ENOEXEC,
		              "bzImage is %zu bytes, too short for its setup header "
		              "(truncated?)",
		              len);
	if (le16_get(b + HDR_BOOT_FLAG) != BZ_BOOT_FLAG)
		return BZ_ERR(-ENOEXEC, "bzImage has no 0xAA55 boot flag at 0x1fe");
	h.version = le16_get(b + HDR_VERSION);
	if (h.version < BZ_MIN_VERSION)
		return BZ_ERR(-ENOEXEC,
		              "boot protocol %u.%02u is older than 2.12, the first with a "
		              "64-bit entry point (Linux 3.8); use a newer kernel",
		              h.version >> 8, h.version & 0xff);
	/* 2.12+ headers run at least through init_size; a shorter one is corrupt. */
	if (h.hdr_end < HDR_MIN_END || h.hdr_end > HDR_MAX_END)
		return BZ_ERR(-ENOEXEC, "setup header ends at %#zx, outside [%#x, %#x]", h.hdr_end,
		              HDR_MIN_END, HDR_MAX_END);
	if (!(b[HDR_LOADFLAGS] & BZ_LOADED_HIGH))
		return BZ_ERR(-ENOEXEC, "a zImage (loaded low), not a bzImage");
	h.xloadflags = le16_get(b + HDR_XLOADFLAGS);
	if (!(h.xloadflags & BZ_XLF_KERNEL_64))
		return BZ_ERR(-ENOEXEC, "kernel has no 64-bit entry point (XLF_KERNEL_64 clear: "
		                        "a 32-bit kernel?); hvmm boots 64-bit kernels only");
	h.setup_sects = b[HDR_SETUP_SECTS] ? b[HDR_SETUP_SECTS] : 4;
	setup_len = (h.setup_sects + 1ull) * 512;
	syssize = (uint64_t)le32_get(b + HDR_SYSSIZE) * 16;
	if (setup_len >= len || syssize > len - setup_len)
		return BZ_ERR(-ENOEXEC,
		              "bzImage is %zu bytes but its header says %llu (setup) + %llu "
		              "(kernel): truncated?",
		              len, (unsigned long long)setup_len, (unsigned long long)syssize);
	if (syssize <= BZ_ENTRY64_OFFSET)
		return BZ_ERR(-ENOEXEC,
		              "protected-mode kernel is %llu bytes, too small to hold "
		              "the 64-bit entry point at +0x200",
		              (unsigned long long)syssize);
	h.kernel_off = setup_len;
	h.kernel_len = syssize;
	h.initrd_addr_max = le32_get(b + HDR_INITRD_ADDR_MAX);
	h.kernel_alignment = le32_get(b + HDR_KERNEL_ALIGN);
	h.relocatable = b[HDR_RELOCATABLE] != 0;
	h.cmdline_size = le32_get(b + HDR_CMDLINE_SIZE);
	h.pref_address = le64_get(b + HDR_PREF_ADDRESS);
	h.init_size = le32_get(b + HDR_INIT_SIZE);
	if (h.relocatable &&
	    (h.kernel_alignment == 0 || (h.kernel_alignment & (h.kernel_alignment - 1)) != 0))
		return BZ_ERR(-ENOEXEC, "kernel_alignment %#x is not a power of two",
		              h.kernel_alignment);
	/*
	 * Where the kernel decompresses to and runs: a relocatable kernel aligns its load
	 * address up but never goes below its link address (pref_address); a fixed one runs at
	 * pref_address.  It needs init_size bytes there before it reads the memory map.
	 */
	h.run_start = h.pref_address;
	if (h.relocatable) {
		uint64_t a = (BZ_LOAD_ADDR + h.kernel_alignment - 1) & ~(h.kernel_alignment - 1ull);

		if (a > h.run_start)
			h.run_start = a;
	}
	if (h.run_start < BZ_LOAD_ADDR || h.run_start > GiB(1024))
		return BZ_ERR(-ENOEXEC, "kernel wants to run at %#llx, which hvmm cannot provide",
		              (unsigned long long)h.run_start);
	h.run_end = h.run_start + (h.init_size ? h.init_size : h.kernel_len);
	if (h.run_end < BZ_LOAD_ADDR + h.kernel_len)
		h.run_end = BZ_LOAD_ADDR + h.kernel_len;
	*out = h;
	return 0;
}

/* The e820 map: low RAM minus the PC's reserved areas, ECAM, and RAM above 4 GiB. */
static unsigned bzimage_e820(const struct guest_mem *mem, uint8_t *table)
{
	struct e820_entry e[5];
	unsigned n = 0;

	e[n++] = (struct e820_entry){ 0, E820_EBDA_START, E820_RAM };
	/* EBDA, VGA, option ROMs, BIOS: hvmm's ACPI tables live at ACPI_BASE in here. */
	e[n++] = (struct e820_entry){ E820_EBDA_START, MiB(1) - E820_EBDA_START, E820_RESERVED };
	e[n++] = (struct e820_entry){ MiB(1), mem->ram[0].size - MiB(1), E820_RAM };
	/* Linux trusts MCFG's ECAM only if the firmware reserves it too (e820 or PNP0C02). */
	e[n++] = (struct e820_entry){ MEM_ECAM_BASE, MEM_ECAM_SIZE, E820_RESERVED };
	if (mem->nr_ram > 1)
		e[n++] = (struct e820_entry){ mem->ram[1].gpa, mem->ram[1].size, E820_RAM };
	_Static_assert(ARRAY_SIZE(e) <= BP_E820_MAX, "the zero page holds 128 e820 entries");
	for (unsigned i = 0; i < n; i++) {
		uint8_t *p = table + i * BP_E820_ENTRY_SIZE;

		le64_put(p + 0, e[i].addr);
		le64_put(p + 8, e[i].size);
		le32_put(p + 16, e[i].type);
	}
	return n;
}

int bzimage_load(struct guest_mem *mem, const void *buf, size_t len, const char *cmdline,
                 const void *initrd, size_t initrd_len, uint64_t rsdp_gpa, struct bzimage_info *out,
                 char *err, size_t errlen)
{
	const uint8_t *b = buf;
	struct bzimage_hdr h;
	uint8_t *zp, *kdst, *cdst, *rdst, *idst = NULL;
	uint64_t low_top = mem->ram[0].size, floor, initrd_gpa = 0, ceiling;
	size_t cl = cmdline ? strlen(cmdline) : 0;
	int r;

	if ((r = bzimage_parse(buf, len, &h, err, errlen)))
		return r;
	if (cl > h.cmdline_size || cl >= BOOT_CMDLINE_MAX)
		return BZ_ERR(-E2BIG, "--cmdline is %zu bytes; this kernel accepts at most %llu",
		              cl,
		              (unsigned long long)(h.cmdline_size < BOOT_CMDLINE_MAX - 1
		                                       ? h.cmdline_size
		                                       : BOOT_CMDLINE_MAX - 1));
	if (h.run_end > low_top)
		return BZ_ERR(-E2BIG,
		              "the kernel needs RAM up to %llu MiB to decompress and start, guest "
		              "RAM below 3 GiB ends at %llu MiB; give more --memory",
		              (unsigned long long)((h.run_end + MiB(1) - 1) >> 20),
		              (unsigned long long)(low_top >> 20));
	if (initrd_len) {
		/* As high as the kernel allows, page aligned, clear of the running kernel. */
		floor = (h.run_end + 0xfff) & ~0xfffull;
		ceiling = (uint64_t)h.initrd_addr_max + 1;
		if (ceiling > low_top)
			ceiling = low_top;
		if (initrd_len > ceiling || ((ceiling - initrd_len) & ~0xfffull) < floor)
			return BZ_ERR(-E2BIG,
			              "initrd (%zu bytes) does not fit in guest RAM between the "
			              "kernel (up to %#llx) and %#llx; give more --memory",
			              initrd_len, (unsigned long long)floor,
			              (unsigned long long)ceiling);
		initrd_gpa = (ceiling - initrd_len) & ~0xfffull;
		if (mem_ptr(mem, initrd_gpa, initrd_len, (void **)&idst))
			return BZ_ERR(-E2BIG, "initrd at %#llx is outside guest RAM",
			              (unsigned long long)initrd_gpa);
	}
	if (mem_ptr(mem, BOOT_ZERO_PAGE, 4096, (void **)&zp) ||
	    mem_ptr(mem, BOOT_RESET_VECTOR, sizeof(bz_reset_stub), (void **)&rdst) ||
	    mem_ptr(mem, BOOT_CMDLINE_GPA, cl + 1, (void **)&cdst) ||
	    mem_ptr(mem, BZ_LOAD_ADDR, h.kernel_len, (void **)&kdst))
		return BZ_ERR(-E2BIG, "guest RAM is too small for the kernel; give more --memory");

	/* All checked: write guest RAM. */
	memcpy(kdst, b + h.kernel_off, h.kernel_len);
	if (idst)
		memcpy(idst, initrd, initrd_len);
	memcpy(cdst, cmdline ? cmdline : "", cl);
	cdst[cl] = 0;
	memcpy(rdst, bz_reset_stub, sizeof(bz_reset_stub));

	/* A clean zero page with the image's setup header, then the loader's fields. */
	memset(zp, 0, 4096);
	memcpy(zp + HDR_START, b + HDR_START, h.hdr_end - HDR_START);
	zp[HDR_TYPE_OF_LOADER] = BZ_LOADER_UNKNOWN;
	le16_put(zp + HDR_VID_MODE, BZ_VID_NORMAL);
	le32_put(zp + HDR_CODE32_START, (uint32_t)BZ_LOAD_ADDR);
	le32_put(zp + HDR_CMD_LINE_PTR, (uint32_t)BOOT_CMDLINE_GPA);
	le32_put(zp + HDR_RAMDISK_IMAGE, (uint32_t)initrd_gpa);
	le32_put(zp + HDR_RAMDISK_SIZE, (uint32_t)initrd_len);
	le32_put(zp + BP_EXT_RAMDISK_IMG, (uint32_t)(initrd_gpa >> 32));
	le32_put(zp + BP_EXT_RAMDISK_SIZE, (uint32_t)((uint64_t)initrd_len >> 32));
	le32_put(zp + BP_EXT_CMDLINE, 0);
	/* Read by Linux 5.0+; older kernels find the RSDP by scanning 0xE0000-0xFFFFF. */
	le64_put(zp + BP_ACPI_RSDP, rsdp_gpa);
	zp[BP_E820_ENTRIES] = (uint8_t)bzimage_e820(mem, zp + BP_E820_TABLE);

	*out = (struct bzimage_info){
		.entry = BZ_LOAD_ADDR + BZ_ENTRY64_OFFSET,
		.boot_params = BOOT_ZERO_PAGE,
		.initrd_gpa = initrd_gpa,
		.initrd_size = initrd_len,
		.hdr = h,
	};
	return 0;
}
