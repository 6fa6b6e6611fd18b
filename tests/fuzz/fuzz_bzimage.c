/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target bzimage: bzimage_is_bzimage(), bzimage_parse() and bzimage_load() on arbitrary
 * bytes, with an arbitrary command line, initrd size and RSDP address, into a small guest
 * memory of heap blocks (2 MiB low RAM, and 64 KiB at 4 GiB when asked), so AddressSanitizer
 * sees any write past a region.
 *
 * Input: flags (u8), command line length (u8) and bytes, initrd length (u32, at most 1 MiB),
 * RSDP address (u64), then the image.
 *
 * Checked: parse and load agree and return only the documented codes with a terminated
 * message; an accepted header describes a kernel inside the file that runs at or above
 * 1 MiB; a refused load leaves RAM untouched; an accepted one put the kernel at 1 MiB, the
 * command line at BOOT_CMDLINE_GPA and the initrd page aligned above the running kernel and
 * below both initrd_addr_max and the end of low RAM.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "tests/fuzz/fuzz.h"

#define LOW_SIZE   MiB(2)
#define HIGH_SIZE  KiB(64)
#define INITRD_MAX MiB(1)

static struct guest_mem mem;
static uint8_t *ref[2]; /* what RAM holds before every run */
static uint8_t *initrd;

static void init_mem(void)
{
	fuzz_guest_mem(&mem, ref, LOW_SIZE, HIGH_SIZE);
	initrd = malloc(INITRD_MAX);
	if (!initrd)
		fuzz_fail(__FILE__, __LINE__, "out of memory");
	for (uint64_t k = 0; k < INITRD_MAX; k++)
		initrd[k] = (uint8_t)(k * 7);
}

static uint8_t *gpa(uint64_t a)
{
	return mem.ram[0].hva + a;
}

static void check_header(const struct bzimage_hdr *h, size_t len)
{
	FUZZ_CHECK(h->kernel_off <= len && h->kernel_len <= len - h->kernel_off);
	FUZZ_CHECK(h->kernel_len > 0x200);
	FUZZ_CHECK(h->hdr_end >= 0x264 && h->hdr_end <= 0x290 && h->hdr_end <= len);
	FUZZ_CHECK(h->run_start >= MiB(1) && h->run_end > h->run_start);
	FUZZ_CHECK(h->run_end >= MiB(1) + h->kernel_len);
}

/* Field by field: struct padding holds whatever the copies left there. */
static bool hdr_equal(const struct bzimage_hdr *a, const struct bzimage_hdr *b)
{
	return a->version == b->version && a->xloadflags == b->xloadflags &&
	       a->setup_sects == b->setup_sects && a->hdr_end == b->hdr_end &&
	       a->kernel_off == b->kernel_off && a->kernel_len == b->kernel_len &&
	       a->initrd_addr_max == b->initrd_addr_max &&
	       a->kernel_alignment == b->kernel_alignment && a->relocatable == b->relocatable &&
	       a->cmdline_size == b->cmdline_size && a->pref_address == b->pref_address &&
	       a->init_size == b->init_size && a->run_start == b->run_start &&
	       a->run_end == b->run_end;
}

static void check_loaded(const struct bzimage_info *info, const struct bzimage_hdr *h,
                         const uint8_t *img, const char *cmdline, size_t initrd_len)
{
	uint64_t ceiling = (uint64_t)h->initrd_addr_max + 1;

	FUZZ_CHECK(hdr_equal(&info->hdr, h));
	FUZZ_CHECK(info->entry == MiB(1) + 0x200 && info->boot_params == BOOT_ZERO_PAGE);
	FUZZ_CHECK(h->run_end <= mem.ram[0].size);
	FUZZ_CHECK(!memcmp(gpa(MiB(1)), img + h->kernel_off, h->kernel_len));
	FUZZ_CHECK(!strcmp((char *)gpa(BOOT_CMDLINE_GPA), cmdline));
	FUZZ_CHECK(info->initrd_size == initrd_len);
	if (!initrd_len) {
		FUZZ_CHECK(info->initrd_gpa == 0);
		return;
	}
	if (ceiling > mem.ram[0].size)
		ceiling = mem.ram[0].size;
	FUZZ_CHECK(!(info->initrd_gpa & 0xfff) && info->initrd_gpa >= h->run_end);
	FUZZ_CHECK(info->initrd_gpa + initrd_len <= ceiling);
	FUZZ_CHECK(!memcmp(gpa(info->initrd_gpa), initrd, initrd_len));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errlens[] = { 1, 16, 128, 256 };
	struct fuzz_in in = { data, size };
	uint8_t flags = fuzz_u8(&in);
	size_t errlen = errlens[(flags >> 1) & 3], cl, initrd_len, len;
	const uint8_t *img, *cp = fuzz_bytes(&in, fuzz_u8(&in), &cl);
	uint64_t rsdp;
	struct bzimage_hdr h;
	struct bzimage_info info;
	char cmdline[256], err[256];
	int r1, r2;

	if (!mem.ram[0].hva)
		init_mem();
	mem.nr_ram = flags & 1 ? 2 : 1;
	mem.ram_size = LOW_SIZE + (flags & 1 ? HIGH_SIZE : 0);
	memcpy(cmdline, cp, cl);
	cmdline[cl] = 0; /* an embedded NUL just makes it shorter */
	initrd_len = fuzz_u32(&in) % (INITRD_MAX + 1);
	rsdp = fuzz_u64(&in);
	img = fuzz_bytes(&in, in.n, &len);

	FUZZ_CHECK(bzimage_is_bzimage(img, len) ==
	           (len >= 0x206 && !memcmp(img + 0x202, "HdrS", 4)));
	r1 = bzimage_parse(img, len, &h, err, errlen);
	FUZZ_CHECK(r1 == 0 || r1 == -ENOEXEC);
	FUZZ_CHECK(r1 == 0 || fuzz_terminated(err, errlen));
	if (r1 == 0)
		check_header(&h, len);
	r2 = bzimage_load(&mem, img, len, cmdline, initrd, initrd_len, rsdp, &info, err, errlen);
	FUZZ_CHECK(r2 == 0 || r2 == -ENOEXEC || r2 == -E2BIG);
	FUZZ_CHECK(r1 == 0 || r2 == r1);
	if (r2) {
		FUZZ_CHECK(fuzz_terminated(err, errlen));
		/* Refused after the header passed: every check must come before any write. */
		for (unsigned i = 0; r1 == 0 && i < 2; i++)
			FUZZ_CHECK(!memcmp(mem.ram[i].hva, ref[i], mem.ram[i].size));
		return 0;
	}
	check_loaded(&info, &h, img, cmdline, initrd_len);
	for (unsigned i = 0; i < 2; i++)
		memcpy(mem.ram[i].hva, ref[i], mem.ram[i].size);
	return 0;
}
