/* The guest memory layout and the checked guest-address helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"

static void test_layout_small(void **state)
{
	struct mem_region r[2];
	unsigned n;

	(void)state;
	assert_int_equal(mem_layout(MiB(512), r, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].gpa, 0);
	assert_int_equal(r[0].size, MiB(512));
}

static void test_layout_exactly_3g(void **state)
{
	struct mem_region r[2];
	unsigned n;

	(void)state;
	assert_int_equal(mem_layout(GiB(3), r, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(r[0].size, GiB(3));
}

static void test_layout_splits_around_hole(void **state)
{
	struct mem_region r[2];
	unsigned n;

	(void)state;
	assert_int_equal(mem_layout(GiB(8), r, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(r[0].size, MEM_LOW_END);
	assert_int_equal(r[1].gpa, MEM_HIGH_BASE);
	assert_int_equal(r[1].size, GiB(5));
	/* Nothing lands in the MMIO hole. */
	assert_true(r[0].gpa + r[0].size <= MEM_PCI_MMIO32);
}

static void test_layout_refuses(void **state)
{
	struct mem_region r[2];
	unsigned n;

	(void)state;
	assert_int_equal(mem_layout(0, r, &n), -EINVAL);
	assert_int_equal(mem_layout(MiB(1), r, &n), -EINVAL);
	assert_int_equal(mem_layout(MiB(2) + 1, r, &n), -EINVAL);
	assert_int_equal(mem_layout(MEM_MAX_SIZE + KiB(4), r, &n), -EINVAL);
}

static void test_mem_ptr_bounds(void **state)
{
	struct guest_mem m;
	void *p;

	(void)state;
	assert_int_equal(mem_init(&m, GiB(4)), 0); /* lazily backed: costs nothing */
	assert_int_equal(mem_ptr(&m, 0, 16, &p), 0);
	assert_ptr_equal(p, m.ram[0].hva);
	assert_int_equal(mem_ptr(&m, MEM_LOW_END - 8, 8, &p), 0);
	assert_int_equal(mem_ptr(&m, MEM_LOW_END - 8, 9, &p), -EFAULT);
	assert_int_equal(mem_ptr(&m, MEM_LOW_END, 1, &p), -EFAULT);
	assert_int_equal(mem_ptr(&m, MEM_IOAPIC_BASE, 4, &p), -EFAULT);
	assert_int_equal(mem_ptr(&m, MEM_HIGH_BASE, 4, &p), 0);
	assert_ptr_equal(p, m.ram[1].hva);
	assert_int_equal(mem_ptr(&m, MEM_HIGH_BASE + GiB(1) - 4, 4, &p), 0);
	assert_int_equal(mem_ptr(&m, MEM_HIGH_BASE + GiB(1), 1, &p), -EFAULT);
	/* Lengths that would wrap around are refused, not wrapped. */
	assert_int_equal(mem_ptr(&m, 0x1000, ~0ull, &p), -EFAULT);
	assert_int_equal(mem_ptr(&m, ~0ull, 2, &p), -EFAULT);
	assert_int_equal(mem_top(&m), MEM_HIGH_BASE + GiB(1));
	mem_destroy(&m);
}

static void test_backend_names(void **state)
{
	enum mem_backend b;

	(void)state;
	assert_int_equal(mem_backend_parse("anon", &b), 0);
	assert_int_equal(b, MEM_BACKEND_ANON);
	assert_int_equal(mem_backend_parse("memfd", &b), 0);
	assert_int_equal(b, MEM_BACKEND_MEMFD);
	assert_int_equal(mem_backend_parse("hugetlb", &b), 0);
	assert_int_equal(b, MEM_BACKEND_HUGETLB);
	assert_int_equal(mem_backend_parse("hugetlbfs", &b), -EINVAL);
	assert_int_equal(mem_backend_parse("", &b), -EINVAL);
	assert_int_equal(mem_backend_parse(NULL, &b), -EINVAL);
	assert_string_equal(mem_backend_name(MEM_BACKEND_HUGETLB), "hugetlb");
	assert_string_equal(mem_backend_name((enum mem_backend)42), "?");
}

/* Which backing fits which host: the choices and the errors, without touching the host. */
static void test_backend_check(void **state)
{
	const struct mem_host none = { false, 0, 0 }, small = { true, 100, 10 },
	                      big = { true, 4096, 2048 };
	uint64_t need;

	(void)state;
	/* Pages of 4 KiB need nothing from the pool, whatever the host has. */
	assert_int_equal(mem_backend_check(MEM_BACKEND_ANON, GiB(4), &none, &need), 0);
	assert_int_equal(need, 0);
	assert_int_equal(mem_backend_check(MEM_BACKEND_MEMFD, MiB(3), &none, &need), 0);
	assert_int_equal(need, 0);
	/* 4 GiB in 2 MiB pages: 2048 of them, exactly what the big pool has free. */
	assert_int_equal(mem_backend_check(MEM_BACKEND_HUGETLB, GiB(4), &big, &need), 0);
	assert_int_equal(need, 2048);
	assert_int_equal(mem_backend_check(MEM_BACKEND_HUGETLB, GiB(4) + MiB(2), &big, &need),
	                 -ENOMEM);
	assert_int_equal(need, 2049);
	assert_int_equal(mem_backend_check(MEM_BACKEND_HUGETLB, MiB(64), &small, &need), -ENOMEM);
	assert_int_equal(need, 32);
	assert_int_equal(mem_backend_check(MEM_BACKEND_HUGETLB, MiB(20), &small, &need), 0);
	/* A size the pages cannot tile is refused before the pool is asked. */
	assert_int_equal(mem_backend_check(MEM_BACKEND_HUGETLB, MiB(3), &big, &need), -EINVAL);
	assert_int_equal(need, 2);
	assert_int_equal(mem_backend_check(MEM_BACKEND_HUGETLB, MiB(64), &none, &need), -ENODEV);
}

/* memfd RAM is real memory at the addresses the layout says, 2 MiB-aligned like anon. */
static void test_memfd_backing(void **state)
{
	struct guest_mem m;
	void *p;

	(void)state;
	assert_int_equal(mem_init_backed(&m, GiB(3) + MiB(8), MEM_BACKEND_MEMFD), 0);
	assert_int_equal(m.backend, MEM_BACKEND_MEMFD);
	assert_int_equal((uintptr_t)m.base % MEM_HUGE_ALIGN, 0);
	assert_int_equal(m.nr_ram, 2);
	assert_int_equal(mem_ptr(&m, MEM_HIGH_BASE + MiB(8) - 4, 4, &p), 0);
	*(volatile uint32_t *)p = 0x12345678;
	assert_int_equal(*(uint32_t *)((uint8_t *)m.base + GiB(3) + MiB(8) - 4), 0x12345678);
	mem_destroy(&m);
	assert_null(m.base);
}

/*
 * hugetlb on this host: whatever its pool holds, a request it cannot meet fails with the error
 * that names the fix, before any guest runs; one it can meet gives aligned, usable RAM.
 */
static void test_hugetlb_backing(void **state)
{
	struct mem_host host;
	struct guest_mem m;
	uint64_t need;

	(void)state;
	assert_int_equal(mem_init_backed(&m, MiB(3), MEM_BACKEND_HUGETLB), -EINVAL);
	mem_host_probe(&host);
	if (!host.has_huge) {
		assert_int_equal(mem_init_backed(&m, MiB(4), MEM_BACKEND_HUGETLB), -ENODEV);
		return;
	}
	/* More than the pool has free: refused up front, nothing left mapped. */
	assert_int_equal(
	    mem_init_backed(&m, MEM_HUGE_PAGE * (host.huge_free + 1), MEM_BACKEND_HUGETLB),
	    -ENOMEM);
	assert_null(m.base);
	if (mem_backend_check(MEM_BACKEND_HUGETLB, MiB(4), &host, &need))
		return; /* the pool is empty here: the refusal above is all there is to see */
	assert_int_equal(mem_init_backed(&m, MiB(4), MEM_BACKEND_HUGETLB), 0);
	assert_int_equal((uintptr_t)m.base % MEM_HUGE_PAGE, 0);
	((volatile uint8_t *)m.base)[MiB(4) - 1] = 1;
	mem_destroy(&m);
}

/* Whether the mapping that holds `addr` carries VmFlag `flag` in /proc/self/smaps. */
static bool vma_has_flag(const void *addr, const char *flag)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false, found = false;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		/* A mapping's first line is "lo-hi perms ..."; its fields are "Name: value". */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (inside && !strncmp(line, "VmFlags:", 8)) {
			char want[8];

			snprintf(want, sizeof(want), " %s", flag);
			found = strstr(line, want) != NULL;
			break;
		}
	}
	fclose(f);
	return found;
}

/* RAM about to be pinned asks for huge pages when it is anonymous, and only then. */
static void test_prepare_pin_advises_huge_pages(void **state)
{
	struct guest_mem m;

	(void)state;
	if (access("/sys/kernel/mm/transparent_hugepage/enabled", F_OK) < 0) {
		printf("# skip: this kernel has no transparent huge pages\n");
		skip();
	}
	assert_int_equal(mem_init_backed(&m, MiB(8), MEM_BACKEND_ANON), 0);
	assert_false(vma_has_flag(m.base, "hg"));
	mem_prepare_pin(&m);
	assert_true(vma_has_flag(m.base, "hg"));
	mem_destroy(&m);
	assert_int_equal(mem_init_backed(&m, MiB(8), MEM_BACKEND_MEMFD), 0);
	mem_prepare_pin(&m);
	assert_false(vma_has_flag(m.base, "hg"));
	mem_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_small),
		cmocka_unit_test(test_layout_exactly_3g),
		cmocka_unit_test(test_layout_splits_around_hole),
		cmocka_unit_test(test_layout_refuses),
		cmocka_unit_test(test_mem_ptr_bounds),
		cmocka_unit_test(test_backend_names),
		cmocka_unit_test(test_backend_check),
		cmocka_unit_test(test_memfd_backing),
		cmocka_unit_test(test_hugetlb_backing),
		cmocka_unit_test(test_prepare_pin_advises_huge_pages),
	};

	log_set_level(LOG_ERR + 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
