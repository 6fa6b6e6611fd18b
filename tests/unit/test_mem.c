/* The guest memory layout and the checked guest-address helper. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_layout_small),
		cmocka_unit_test(test_layout_exactly_3g),
		cmocka_unit_test(test_layout_splits_around_hole),
		cmocka_unit_test(test_layout_refuses),
		cmocka_unit_test(test_mem_ptr_bounds),
	};

	log_set_level(LOG_ERR + 0);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
