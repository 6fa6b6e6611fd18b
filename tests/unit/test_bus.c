/* Bus registration, overlap refusal, lookup and dispatch, unclaimed accesses. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "core/bus.h"

struct hits {
	uint64_t off;
	uint32_t len;
	int n;
};

static void h_fn(void *o, uint64_t off, void *data, uint32_t len, bool w)
{
	struct hits *h = o;

	h->off = off;
	h->len = len;
	h->n++;
	if (!w)
		memset(data, 0x5a, len);
}

static void test_register_and_dispatch(void **state)
{
	struct bus b;
	struct hits h1 = { 0 }, h2 = { 0 };
	uint32_t v = 0;

	(void)state;
	assert_int_equal(bus_init(&b, "test"), 0);
	assert_int_equal(bus_register(&b, 0x1000, 0x100, h_fn, &h1, "one"), 0);
	assert_int_equal(bus_register(&b, 0x2000, 0x10, h_fn, &h2, "two"), 0);
	assert_true(bus_access(&b, 0x1010, &v, 4, false));
	assert_int_equal(h1.n, 1);
	assert_int_equal(h1.off, 0x10);
	assert_int_equal(h1.len, 4);
	assert_int_equal(v, 0x5a5a5a5a);
	assert_true(bus_access(&b, 0x200f, &v, 1, true));
	assert_int_equal(h2.off, 0xf);
	bus_destroy(&b);
}

static void test_overlap_refused(void **state)
{
	struct bus b;
	struct hits h = { 0 };

	(void)state;
	assert_int_equal(bus_init(&b, "test"), 0);
	assert_int_equal(bus_register(&b, 0x1000, 0x100, h_fn, &h, "a"), 0);
	assert_int_equal(bus_register(&b, 0x10ff, 1, h_fn, &h, "end"), -EEXIST);
	assert_int_equal(bus_register(&b, 0xf00, 0x101, h_fn, &h, "start"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x0, 0x10000, h_fn, &h, "cover"), -EEXIST);
	assert_int_equal(bus_register(&b, 0x1100, 1, h_fn, &h, "after"), 0);
	assert_int_equal(bus_register(&b, 0xfff, 1, h_fn, &h, "before"), 0);
	assert_int_equal(bus_register(&b, 0x5000, 0, h_fn, &h, "empty"), -EINVAL);
	assert_int_equal(bus_register(&b, ~0ull, 2, h_fn, &h, "wraps"), -EINVAL);
	bus_destroy(&b);
}

static void test_unregister(void **state)
{
	struct bus b;
	struct hits h = { 0 }, other = { 0 };
	struct bus_range r;

	(void)state;
	assert_int_equal(bus_init(&b, "test"), 0);
	assert_int_equal(bus_register(&b, 0x1000, 0x100, h_fn, &h, "a"), 0);
	assert_int_equal(bus_unregister(&b, 0x1000, &other), -ENOENT);
	assert_int_equal(bus_unregister(&b, 0x1001, &h), -ENOENT);
	assert_int_equal(bus_find(&b, 0x1080, &r), 0);
	assert_int_equal(r.base, 0x1000);
	assert_int_equal(bus_unregister(&b, 0x1000, &h), 0);
	assert_int_equal(bus_find(&b, 0x1080, &r), -ENOENT);
	assert_int_equal(bus_register(&b, 0x1000, 0x100, h_fn, &h, "again"), 0);
	bus_destroy(&b);
}

static void test_unclaimed_reads_all_ones(void **state)
{
	struct bus b;
	struct hits h = { 0 };
	uint64_t v = 0;

	(void)state;
	log_set_level(LOG_ERR); /* the rate-limited warning is not what is tested here */
	assert_int_equal(bus_init(&b, "test"), 0);
	assert_int_equal(bus_register(&b, 0x1000, 0x10, h_fn, &h, "a"), 0);
	assert_false(bus_access(&b, 0x2000, &v, 8, false));
	assert_true(v == ~0ull);
	/* Straddling the end of a range is not claimed either. */
	v = 0;
	assert_false(bus_access(&b, 0x100e, &v, 4, false));
	assert_int_equal((uint32_t)v, 0xffffffffu);
	assert_int_equal(h.n, 0);
	assert_false(bus_access(&b, 0x3000, &v, 4, true));
	assert_int_equal(atomic_load(&b.unclaimed), 3);
	bus_destroy(&b);
}

static void test_many_ranges_sorted(void **state)
{
	struct bus b;
	struct hits h[64];
	uint8_t v;

	(void)state;
	memset(h, 0, sizeof(h));
	assert_int_equal(bus_init(&b, "test"), 0);
	/* Registered out of order; lookups must still find each one. */
	for (int i = 0; i < 64; i++) {
		int k = (i * 37) % 64;

		assert_int_equal(bus_register(&b, 0x100 * k, 0x80, h_fn, &h[k], "r"), 0);
	}
	for (int k = 0; k < 64; k++) {
		assert_true(bus_access(&b, 0x100 * k + 0x7f, &v, 1, false));
		assert_int_equal(h[k].n, 1);
		assert_false(bus_access(&b, 0x100 * k + 0x80, &v, 1, false));
	}
	bus_destroy(&b);
}

/* A writer moving and adding ranges while lookups run: no lookup ever sees a torn range. */
struct mover {
	struct bus *b;
	struct hits *moving, *extra;
	_Atomic bool done;
	int errors; /* checked by the test's own thread: cmocka asserts only there */
};

static void *mover_thread(void *arg)
{
	struct mover *m = arg;

	for (int i = 0; i < 20000; i++) {
		uint64_t from = i % 2 ? 0x9000 : 0x5000, to = i % 2 ? 0x5000 : 0x9000;

		m->errors += bus_unregister(m->b, from, m->moving) != 0;
		m->errors += bus_register(m->b, to, 0x100, h_fn, m->moving, "moving") != 0;
		/* Now and then a new range, so the array grows under the readers too. */
		if (i % 500 == 0)
			m->errors += bus_register(m->b, 0x100000 + (uint64_t)i * 0x100, 0x10, h_fn,
			                          m->extra, "extra") != 0;
	}
	atomic_store(&m->done, true);
	return NULL;
}

static void test_lookups_during_changes(void **state)
{
	struct bus b;
	struct hits stable = { 0 }, moving = { 0 }, extra = { 0 };
	struct mover m = { &b, &moving, &extra, false, 0 };
	struct bus_range r;
	pthread_t th;
	unsigned long lookups = 0;

	(void)state;
	assert_int_equal(bus_init(&b, "test"), 0);
	assert_int_equal(bus_register(&b, 0x7000, 0x100, h_fn, &stable, "stable"), 0);
	assert_int_equal(bus_register(&b, 0x5000, 0x100, h_fn, &moving, "moving"), 0);
	assert_int_equal(pthread_create(&th, NULL, mover_thread, &m), 0);
	while (!atomic_load(&m.done) || lookups < 1000) {
		assert_int_equal(bus_find(&b, 0x7010, &r), 0);
		assert_ptr_equal(r.opaque, &stable);
		assert_int_equal(r.base, 0x7000);
		assert_int_equal(r.size, 0x100);
		if (bus_find(&b, 0x5080, &r) == 0) {
			assert_ptr_equal(r.opaque, &moving);
			assert_int_equal(r.base, 0x5000);
		}
		if (bus_find(&b, 0x9080, &r) == 0) {
			assert_ptr_equal(r.opaque, &moving);
			assert_int_equal(r.base, 0x9000);
		}
		lookups++;
	}
	pthread_join(th, NULL);
	assert_int_equal(m.errors, 0);
	assert_int_equal(bus_find(&b, 0x100000 + 19500 * 0x100, &r), 0);
	assert_ptr_equal(r.opaque, &extra);
	bus_destroy(&b);
}

static void test_ratelimit(void **state)
{
	struct ratelimit rl;
	uint32_t sup;
	int allowed = 0;

	(void)state;
	ratelimit_init(&rl, 5);
	for (int i = 0; i < 100; i++)
		allowed += ratelimit_allow(&rl, &sup);
	assert_int_equal(allowed, 5);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_and_dispatch),
		cmocka_unit_test(test_overlap_refused),
		cmocka_unit_test(test_unregister),
		cmocka_unit_test(test_unclaimed_reads_all_ones),
		cmocka_unit_test(test_many_ranges_sorted),
		cmocka_unit_test(test_lookups_during_changes),
		cmocka_unit_test(test_ratelimit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
