/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target elf: elf_load() on arbitrary bytes into a small guest memory built here: low RAM
 * up to 1 MiB + 64 KiB and, when the first input byte is odd, 64 KiB at 4 GiB.  The regions
 * are heap blocks, so AddressSanitizer sees a write one byte past a region, which it would not
 * in mem_init()'s mmap.
 *
 * Input: one byte choosing the layout, then the file.
 *
 * Checked: the result is 0 or -ENOEXEC with a terminated message; a refused file leaves RAM
 * untouched; an accepted one reports the entry point of its header and the end of its
 * highest PT_LOAD segment, inside guest RAM.
 */
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "tests/fuzz/fuzz.h"

#define LOW_SIZE  (MiB(1) + KiB(64))
#define HIGH_SIZE KiB(64)

static struct guest_mem mem;
static uint8_t *ref[2]; /* what RAM holds before every run */

static void init_mem(void)
{
	fuzz_guest_mem(&mem, ref, LOW_SIZE, HIGH_SIZE);
}

/* The end of the highest loadable segment, from the program headers elf_load() accepted. */
static uint64_t loads_end(const uint8_t *file)
{
	Elf64_Ehdr eh;
	uint64_t top = 0;

	memcpy(&eh, file, sizeof(eh));
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;

		memcpy(&ph, file + eh.e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD && ph.p_memsz && ph.p_paddr + ph.p_memsz > top)
			top = ph.p_paddr + ph.p_memsz;
	}
	return top;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	uint8_t layout = fuzz_u8(&in);
	uint64_t entry = 0, end = 0;
	char err[128] = "";
	size_t len;
	const uint8_t *file;
	Elf64_Ehdr eh;
	void *p;
	int r;

	if (!mem.ram[0].hva)
		init_mem();
	mem.nr_ram = layout & 1 ? 2 : 1;
	mem.ram_size = LOW_SIZE + (layout & 1 ? HIGH_SIZE : 0);
	file = fuzz_bytes(&in, in.n, &len);
	r = elf_load(&mem, file, len, &entry, &end, err, sizeof(err));
	FUZZ_CHECK(r == 0 || r == -ENOEXEC);
	if (r) {
		FUZZ_CHECK(err[0] && fuzz_terminated(err, sizeof(err)));
		for (unsigned i = 0; i < 2; i++)
			FUZZ_CHECK(!memcmp(mem.ram[i].hva, ref[i], mem.ram[i].size));
		return 0;
	}
	FUZZ_CHECK(elf_is_elf(file, len));
	memcpy(&eh, file, sizeof(eh)); /* the input need not be aligned */
	FUZZ_CHECK(entry == eh.e_entry);
	FUZZ_CHECK(end == loads_end(file) && end > BOOT_ELF_MIN_GPA);
	FUZZ_CHECK(mem_ptr(&mem, end - 1, 1, &p) == 0 && mem_ptr(&mem, entry, 1, &p) == 0);
	/* Nothing below 1 MiB is ever written: hvmm's own structures live there. */
	FUZZ_CHECK(!memcmp(mem.ram[0].hva, ref[0], BOOT_ELF_MIN_GPA));
	for (unsigned i = 0; i < 2; i++)
		memcpy(mem.ram[i].hva, ref[i], mem.ram[i].size);
	return 0;
}
