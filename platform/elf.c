/* SPDX-License-Identifier: MIT */
/* ELF64 loader: every field a file supplies is checked before it is used. */
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "platform/platform.h"

#define ELF_ERR(...) (snprintf(err, errlen, __VA_ARGS__), -ENOEXEC)

bool elf_is_elf(const void *buf, size_t len)
{
	return len >= SELFMAG && memcmp(buf, ELFMAG, SELFMAG) == 0;
}

int elf_load(struct guest_mem *mem, const void *buf, size_t len, uint64_t *entry, uint64_t *end,
             char *err, size_t errlen)
{
	const uint8_t *file = buf;
	Elf64_Ehdr eh;
	bool entry_ok = false;
	unsigned loads = 0;
	uint64_t top = 0;

	if (len < sizeof(eh))
		return ELF_ERR("file is %zu bytes, too short for an ELF header", len);
	memcpy(&eh, file, sizeof(eh));
	if (!elf_is_elf(buf, len))
		return ELF_ERR("not an ELF file (bad magic)");
	if (eh.e_ident[EI_CLASS] != ELFCLASS64)
		return ELF_ERR("not a 64-bit ELF (class %u); build the guest for x86-64",
		               eh.e_ident[EI_CLASS]);
	if (eh.e_ident[EI_DATA] != ELFDATA2LSB)
		return ELF_ERR("not a little-endian ELF");
	if (eh.e_ident[EI_VERSION] != EV_CURRENT || eh.e_version != EV_CURRENT)
		return ELF_ERR("unknown ELF version %u", eh.e_version);
	if (eh.e_machine != EM_X86_64)
		return ELF_ERR("ELF machine %u is not x86-64", eh.e_machine);
	if (eh.e_type != ET_EXEC)
		return ELF_ERR("ELF type %u is not an executable (link it static, non-PIE)",
		               eh.e_type);
	if (eh.e_phentsize != sizeof(Elf64_Phdr))
		return ELF_ERR("program header size %u, expected %zu", eh.e_phentsize,
		               sizeof(Elf64_Phdr));
	if (eh.e_phnum == 0 || eh.e_phnum > 256)
		return ELF_ERR("%u program headers (expected 1 to 256)", eh.e_phnum);
	if (eh.e_phoff > len || (uint64_t)eh.e_phnum * sizeof(Elf64_Phdr) > len - eh.e_phoff)
		return ELF_ERR("program headers at %#llx run past the end of the %zu-byte file",
		               (unsigned long long)eh.e_phoff, len);

	/* Check every segment before copying any, so a bad file leaves guest RAM untouched. */
	for (int pass = 0; pass < 2; pass++) {
		for (unsigned i = 0; i < eh.e_phnum; i++) {
			Elf64_Phdr ph;
			void *dst;

			memcpy(&ph, file + eh.e_phoff + i * sizeof(ph), sizeof(ph));
			if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
				continue;
			if (pass == 1) {
				if (mem_ptr(mem, ph.p_paddr, ph.p_memsz, &dst))
					return -EFAULT; /* checked in pass 0 */
				memcpy(dst, file + ph.p_offset, ph.p_filesz);
				memset((uint8_t *)dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
				continue;
			}
			if (ph.p_filesz > ph.p_memsz)
				return ELF_ERR(
				    "segment %u: file size %#llx exceeds memory size %#llx", i,
				    (unsigned long long)ph.p_filesz,
				    (unsigned long long)ph.p_memsz);
			if (ph.p_offset > len || ph.p_filesz > len - ph.p_offset)
				return ELF_ERR("segment %u: bytes %#llx+%#llx run past the end of "
				               "the %zu-byte file (truncated?)",
				               i, (unsigned long long)ph.p_offset,
				               (unsigned long long)ph.p_filesz, len);
			if (ph.p_paddr < BOOT_ELF_MIN_GPA)
				return ELF_ERR("segment %u: physical address %#llx is below 1 MiB, "
				               "which hvmm reserves; link the guest at 1 MiB or "
				               "higher",
				               i, (unsigned long long)ph.p_paddr);
			if (mem_ptr(mem, ph.p_paddr, ph.p_memsz, &dst))
				return ELF_ERR("segment %u: %#llx+%#llx does not fit in guest RAM "
				               "(give more --memory)",
				               i, (unsigned long long)ph.p_paddr,
				               (unsigned long long)ph.p_memsz);
			if ((ph.p_flags & PF_X) && eh.e_entry >= ph.p_paddr &&
			    eh.e_entry - ph.p_paddr < ph.p_memsz)
				entry_ok = true;
			if (ph.p_paddr + ph.p_memsz > top)
				top = ph.p_paddr + ph.p_memsz;
			loads++;
		}
		if (pass == 0 && !loads)
			return ELF_ERR("no loadable segments");
		if (pass == 0 && !entry_ok)
			return ELF_ERR("entry point %#llx is not in an executable segment",
			               (unsigned long long)eh.e_entry);
	}
	*entry = eh.e_entry;
	*end = top;
	return 0;
}
