/* The ELF loader on good and malformed input: every bad file is refused, RAM untouched. */
#include <elf.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "platform/platform.h"

#define LOAD_AT 0x200000ull

struct image {
	Elf64_Ehdr eh;
	Elf64_Phdr ph[2];
	uint8_t code[64];
};

static void make_image(struct image *im)
{
	memset(im, 0, sizeof(*im));
	memcpy(im->eh.e_ident, ELFMAG, SELFMAG);
	im->eh.e_ident[EI_CLASS] = ELFCLASS64;
	im->eh.e_ident[EI_DATA] = ELFDATA2LSB;
	im->eh.e_ident[EI_VERSION] = EV_CURRENT;
	im->eh.e_type = ET_EXEC;
	im->eh.e_machine = EM_X86_64;
	im->eh.e_version = EV_CURRENT;
	im->eh.e_entry = LOAD_AT + 4;
	im->eh.e_phoff = offsetof(struct image, ph);
	im->eh.e_ehsize = sizeof(Elf64_Ehdr);
	im->eh.e_phentsize = sizeof(Elf64_Phdr);
	im->eh.e_phnum = 2;
	im->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD,
		                  .p_flags = PF_R | PF_X,
		                  .p_offset = offsetof(struct image, code),
		                  .p_paddr = LOAD_AT,
		                  .p_vaddr = LOAD_AT,
		                  .p_filesz = 64,
		                  .p_memsz = 4096 };
	im->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE };
	memset(im->code, 0xcc, sizeof(im->code));
}

static struct guest_mem mem;

static int setup(void **state)
{
	(void)state;
	return mem_init(&mem, MiB(8));
}

static int teardown(void **state)
{
	(void)state;
	mem_destroy(&mem);
	return 0;
}

static void test_good_image(void **state)
{
	struct image im;
	uint64_t entry = 0, end = 0;
	char err[256] = "";
	uint8_t *ram;

	(void)state;
	make_image(&im);
	ram = (uint8_t *)mem.ram[0].hva + LOAD_AT;
	memset(ram, 0x77, 8192);
	assert_int_equal(elf_load(&mem, &im, sizeof(im), &entry, &end, err, sizeof(err)), 0);
	assert_int_equal(entry, LOAD_AT + 4);
	assert_int_equal(end, LOAD_AT + 4096);
	assert_int_equal(ram[0], 0xcc);
	assert_int_equal(ram[63], 0xcc);
	assert_int_equal(ram[64], 0); /* bss zeroed */
	assert_int_equal(ram[4095], 0);
	assert_int_equal(ram[4096], 0x77); /* nothing past memsz */
}

typedef void (*mutator)(struct image *im, size_t *len);

static void expect_refused(mutator m, const char *want)
{
	struct image im;
	size_t len = sizeof(im);
	uint64_t entry, end;
	char err[256] = "";
	uint8_t *ram = (uint8_t *)mem.ram[0].hva + LOAD_AT;

	make_image(&im);
	m(&im, &len);
	memset(ram, 0x77, 64);
	assert_int_not_equal(elf_load(&mem, &im, len, &entry, &end, err, sizeof(err)), 0);
	if (!strstr(err, want))
		fail_msg("error '%s' lacks '%s'", err, want);
	assert_int_equal(ram[0], 0x77); /* guest RAM untouched */
}

static void m_short(struct image *im, size_t *len)
{
	(void)im;
	*len = 20;
}
static void m_magic(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_ident[1] = 'X';
}
static void m_class(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_ident[EI_CLASS] = ELFCLASS32;
}
static void m_endian(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_ident[EI_DATA] = ELFDATA2MSB;
}
static void m_version(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_version = 7;
}
static void m_machine(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_machine = EM_AARCH64;
}
static void m_type(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_type = ET_DYN;
}
static void m_phentsize(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_phentsize = 32;
}
static void m_phnum0(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_phnum = 0;
}
static void m_phnum_big(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_phnum = 60000;
}
static void m_phoff(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_phoff = ~0ull - 8;
}
static void m_trunc_seg(struct image *im, size_t *len)
{
	(void)im;
	*len = offsetof(struct image, code) + 10;
}
static void m_seg_off(struct image *im, size_t *len)
{
	(void)len;
	im->ph[0].p_offset = 1ull << 62;
}
static void m_filesz(struct image *im, size_t *len)
{
	(void)len;
	im->ph[0].p_filesz = 8192;
	im->ph[0].p_memsz = 4096;
}
static void m_low(struct image *im, size_t *len)
{
	(void)len;
	im->ph[0].p_paddr = 0x8000;
	im->eh.e_entry = 0x8004;
}
static void m_beyond(struct image *im, size_t *len)
{
	(void)len;
	im->ph[0].p_paddr = MiB(8) - 16;
	im->eh.e_entry = MiB(8) - 12;
}
static void m_wrap(struct image *im, size_t *len)
{
	(void)len;
	im->ph[0].p_memsz = ~0ull;
}
static void m_entry(struct image *im, size_t *len)
{
	(void)len;
	im->eh.e_entry = 0x300000;
}
static void m_noexec(struct image *im, size_t *len)
{
	(void)len;
	im->ph[0].p_flags = PF_R;
}
static void m_noload(struct image *im, size_t *len)
{
	(void)len;
	im->ph[0].p_type = PT_NOTE;
}

static void test_refusals(void **state)
{
	(void)state;
	expect_refused(m_short, "too short");
	expect_refused(m_magic, "bad magic");
	expect_refused(m_class, "not a 64-bit ELF");
	expect_refused(m_endian, "little-endian");
	expect_refused(m_version, "version");
	expect_refused(m_machine, "not x86-64");
	expect_refused(m_type, "not an executable");
	expect_refused(m_phentsize, "program header size");
	expect_refused(m_phnum0, "program headers");
	expect_refused(m_phnum_big, "program headers");
	expect_refused(m_phoff, "past the end");
	expect_refused(m_trunc_seg, "truncated");
	expect_refused(m_seg_off, "past the end");
	expect_refused(m_filesz, "exceeds memory size");
	expect_refused(m_low, "below 1 MiB");
	expect_refused(m_beyond, "does not fit in guest RAM");
	expect_refused(m_wrap, "does not fit in guest RAM");
	expect_refused(m_entry, "entry point");
	expect_refused(m_noexec, "entry point");
	expect_refused(m_noload, "no loadable segments");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_image),
		cmocka_unit_test(test_refusals),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
