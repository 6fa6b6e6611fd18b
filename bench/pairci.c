/* SPDX-License-Identifier: MIT */
/*
 * pairci: the ratio of paired measurements with its bootstrap interval (bench/stats.h).
 *
 *   pairci [-r RESAMPLES] [-l LEVEL] [-S SEED] < PAIRS
 *
 * Reads one pair a line, "A B" (hvmm's figure and its peer's, measured one right after the
 * other), and prints one line:
 *
 *   PAIRCI n=N gmean=G lo=L hi=H median=M min=X max=Y
 *
 * G is the geometric mean of the N ratios A/B, [L, H] its LEVEL (default 0.95) percentile-
 * bootstrap interval from RESAMPLES (default 10000) resamples of the pairs, M, X and Y the
 * median, smallest and largest ratio.  Lines that are empty or start with '#' are skipped; a
 * pair that is not two positive numbers is an error (exit 1).  No pairs: "n=0", exit 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/stats.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	unsigned resamples = 10000;
	double level = 0.95, *r = NULL, lo, hi, a, b;
	unsigned long long seed = 0x5eed;
	size_t n = 0, cap = 0, lineno = 0;
	char line[256];
	int opt;

	while ((opt = getopt(argc, argv, "r:l:S:")) != -1) {
		switch (opt) {
		case 'r':
			resamples = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'l':
			level = strtod(optarg, NULL);
			break;
		case 'S':
			seed = strtoull(optarg, NULL, 0);
			break;
		default:
			fprintf(stderr,
			        "usage: pairci [-r RESAMPLES] [-l LEVEL] [-S SEED] < PAIRS\n");
			return 2;
		}
	}
	while (fgets(line, sizeof(line), stdin)) {
		char *p = line + strspn(line, " \t");

		lineno++;
		if (*p == '#' || *p == '\n' || !*p)
			continue;
		if (sscanf(p, "%lf %lf", &a, &b) != 2 || !(a > 0) || !(b > 0)) {
			fprintf(stderr, "pairci: line %zu is not two positive numbers: %s", lineno,
			        line);
			return 1;
		}
		if (n == cap) {
			double *more = realloc(r, (cap = cap ? 2 * cap : 64) * sizeof(*r));

			if (!more) {
				fprintf(stderr, "pairci: out of memory\n");
				return 1;
			}
			r = more;
		}
		r[n++] = a / b;
	}
	if (!n) {
		printf("PAIRCI n=0\n");
		return 1;
	}
	if (stats_bootstrap_geomean(r, n, resamples, seed, level, &lo, &hi)) {
		fprintf(stderr, "pairci: -r needs at least 2 resamples and -l a level in (0, 1)\n");
		return 2;
	}
	double g = stats_geomean(r, n);

	qsort(r, n, sizeof(*r), cmp);
	printf("PAIRCI n=%zu gmean=%.4f lo=%.4f hi=%.4f median=%.4f min=%.4f max=%.4f\n", n, g, lo,
	       hi, stats_quantile(r, n, 0.5), r[0], r[n - 1]);
	free(r);
	return 0;
}
