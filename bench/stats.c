/* SPDX-License-Identifier: MIT */
/* Geometric means of paired ratios and their bootstrap intervals (bench/stats.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "bench/stats.h"

/* xorshift64*: the same stream for the same seed on every machine. */
static uint64_t stats_rng(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static int stats_cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double stats_quantile(const double *sorted, size_t n, double q)
{
	double pos = q * (double)(n - 1);
	size_t i = (size_t)pos;

	if (i + 1 >= n)
		return sorted[n - 1];
	return sorted[i] + (pos - (double)i) * (sorted[i + 1] - sorted[i]);
}

double stats_geomean(const double *v, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += log(v[i]);
	return exp(s / (double)n);
}

int stats_bootstrap_geomean(const double *ratio, size_t n, unsigned resamples, uint64_t seed,
                            double level, double *lo, double *hi)
{
	double *logs, *means;

	if (!n || resamples < 2 || !(level > 0 && level < 1))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (!(ratio[i] > 0))
			return -EINVAL;
	}
	logs = malloc(n * sizeof(*logs));
	means = malloc(resamples * sizeof(*means));
	if (!logs || !means) {
		free(logs);
		free(means);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++)
		logs[i] = log(ratio[i]);
	seed |= 1; /* xorshift must not start at 0 */
	for (unsigned b = 0; b < resamples; b++) {
		double s = 0;

		for (size_t i = 0; i < n; i++)
			s += logs[stats_rng(&seed) % n];
		means[b] = s / (double)n;
	}
	qsort(means, resamples, sizeof(*means), stats_cmp);
	/* Quantiles of the logs, then back: exp keeps the order, so these are the ratios'. */
	*lo = exp(stats_quantile(means, resamples, (1 - level) / 2));
	*hi = exp(stats_quantile(means, resamples, 1 - (1 - level) / 2));
	free(logs);
	free(means);
	return 0;
}
