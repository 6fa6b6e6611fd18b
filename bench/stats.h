/* SPDX-License-Identifier: MIT */
/*
 * The arithmetic of the benchmarks' intervals (bench/stats.c), kept apart from the tools that
 * print them so that the unit tests can check it.
 *
 * A comparison is a set of pairs, hvmm and its peer measured one right after the other; each
 * pair gives a ratio.  The figure is the geometric mean of the ratios (the mean of their
 * logarithms, so that hvmm/peer and peer/hvmm give reciprocal figures), and its 95% interval
 * is a percentile bootstrap: the pairs are resampled with replacement many times, and the
 * interval is the middle 95% of the resamples' geometric means.
 */
#ifndef HVMM_BENCH_STATS_H
#define HVMM_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* The q-quantile (0..1) of n sorted values, interpolated between the nearest two. */
double stats_quantile(const double *sorted, size_t n, double q);
/* The geometric mean of n > 0 positive values. */
double stats_geomean(const double *v, size_t n);
/*
 * Percentile-bootstrap interval at `level` (e.g. 0.95) for the geometric mean of n > 0 positive
 * ratios: `resamples` resamples drawn with a generator seeded by `seed` (the same inputs give
 * the same interval).  0, or -EINVAL for no ratios, a ratio that is not positive, fewer than
 * 2 resamples or a level outside (0, 1); -ENOMEM.
 */
int stats_bootstrap_geomean(const double *ratio, size_t n, unsigned resamples, uint64_t seed,
                            double level, double *lo, double *hi);

#endif
