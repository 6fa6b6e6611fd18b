/* The arithmetic behind the benchmarks' intervals (bench/stats.c). */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "bench/stats.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-9)

static void test_quantile(void **state)
{
	const double v[] = { 1, 2, 3, 4, 5 };

	(void)state;
	NEAR(stats_quantile(v, 5, 0), 1);
	NEAR(stats_quantile(v, 5, 0.5), 3);
	NEAR(stats_quantile(v, 5, 1), 5);
	/* Between ranks: 0.1 of the way from the 1st to the 2nd value is 1.4. */
	NEAR(stats_quantile(v, 5, 0.1), 1.4);
	NEAR(stats_quantile(v, 4, 0.5), 2.5);
	NEAR(stats_quantile(v, 1, 0.975), 1);
}

static void test_geomean(void **state)
{
	const double even[] = { 2, 0.5 }, three[] = { 1, 2, 4 };

	(void)state;
	NEAR(stats_geomean(even, 2), 1);
	NEAR(stats_geomean(three, 3), 2);
}

/* Identical ratios leave nothing to resample: the interval is the ratio itself. */
static void test_bootstrap_degenerate(void **state)
{
	const double same[] = { 1.1, 1.1, 1.1, 1.1 };
	double lo, hi;

	(void)state;
	assert_int_equal(stats_bootstrap_geomean(same, 4, 1000, 1, 0.95, &lo, &hi), 0);
	NEAR(lo, 1.1);
	NEAR(hi, 1.1);
	assert_int_equal(stats_bootstrap_geomean(same, 1, 1000, 1, 0.95, &lo, &hi), 0);
	NEAR(lo, 1.1);
	NEAR(hi, 1.1);
}

/*
 * The interval lies within the ratios, holds their geometric mean, repeats for a seed, is
 * wider for more spread, and turns into its reciprocal when the pairs are turned around.
 */
static void test_bootstrap_properties(void **state)
{
	const double r[] = { 0.82, 1.05, 0.97, 1.21, 0.88, 1.02, 0.93, 1.10, 0.99, 1.04 };
	double inv[10], tight[10], lo, hi, lo2, hi2, ilo, ihi, tlo, thi;
	double g = stats_geomean(r, 10);

	(void)state;
	for (int i = 0; i < 10; i++) {
		inv[i] = 1 / r[i];
		tight[i] = pow(r[i], 0.25); /* the same ratios with a quarter of the spread */
	}
	assert_int_equal(stats_bootstrap_geomean(r, 10, 10000, 7, 0.95, &lo, &hi), 0);
	assert_true(lo > 0.82 && hi < 1.21);
	assert_true(lo < g && g < hi);
	assert_int_equal(stats_bootstrap_geomean(r, 10, 10000, 7, 0.95, &lo2, &hi2), 0);
	NEAR(lo, lo2);
	NEAR(hi, hi2);
	assert_int_equal(stats_bootstrap_geomean(inv, 10, 10000, 7, 0.95, &ilo, &ihi), 0);
	NEAR(ilo, 1 / hi);
	NEAR(ihi, 1 / lo);
	assert_int_equal(stats_bootstrap_geomean(tight, 10, 10000, 7, 0.95, &tlo, &thi), 0);
	assert_true(log(thi / tlo) < log(hi / lo) / 2);
	/* A 50% interval sits inside the 95% one. */
	assert_int_equal(stats_bootstrap_geomean(r, 10, 10000, 7, 0.5, &lo2, &hi2), 0);
	assert_true(lo < lo2 && hi2 < hi);
}

static void test_bootstrap_refuses(void **state)
{
	const double bad[] = { 1.0, 0.0 }, ok[] = { 1.0, 2.0 };
	double lo, hi;

	(void)state;
	assert_int_equal(stats_bootstrap_geomean(ok, 0, 100, 1, 0.95, &lo, &hi), -EINVAL);
	assert_int_equal(stats_bootstrap_geomean(bad, 2, 100, 1, 0.95, &lo, &hi), -EINVAL);
	assert_int_equal(stats_bootstrap_geomean(ok, 2, 1, 1, 0.95, &lo, &hi), -EINVAL);
	assert_int_equal(stats_bootstrap_geomean(ok, 2, 100, 1, 1.0, &lo, &hi), -EINVAL);
	assert_int_equal(stats_bootstrap_geomean(ok, 2, 100, 1, 0.0, &lo, &hi), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantile),
		cmocka_unit_test(test_geomean),
		cmocka_unit_test(test_bootstrap_degenerate),
		cmocka_unit_test(test_bootstrap_properties),
		cmocka_unit_test(test_bootstrap_refuses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
