/* SPDX-License-Identifier: MIT */
/*
 * randread: 4 KiB random reads at queue depth 1, the way the nested benchmark measures an
 * NVMe in L1 (native driver) and in L2 (passed through by hvmm, or by QEMU's vfio-pci).
 *
 *   randread [-b BYTES] [-s SPAN_MIB] [-t SECONDS] [-n COUNT] [-w WARMUP_SECONDS]
 *            [-S SEED] [-c CPU] DEVICE
 *
 * Opens DEVICE with O_DIRECT (no page cache in the guest doing the reading) and issues one
 * pread(2) at a time at a random BYTES-aligned offset within the first SPAN_MIB MiB, until
 * SECONDS have passed or COUNT reads are done (whichever is first; default 5 s, no count).
 * The first WARMUP_SECONDS of reads (default 0.5) are not counted.  The offsets come from a
 * fixed-seed generator, so every run with the same SEED reads the same sequence of blocks:
 * the three places the benchmark compares read the same data.  -c CPU pins the reader to
 * one CPU, so its I/O queue and completion interrupt stay on that CPU from run to run.
 *
 * Prints one line of key=value pairs:
 *
 *   RANDREAD dev=D cpu=C bs=B span_mib=M qd=1 ios=N secs=S iops=X
 *            lat_us_min= lat_us_p50= lat_us_p99= lat_us_max= lat_us_mean= all_ios=A
 *
 * A counts the warm-up reads too (every read this run issued).  iops is N / S, S the time
 * from the first counted read's start to the last one's end.
 * Latency is per pread(2) (CLOCK_MONOTONIC around the call): the whole round trip from the
 * system call through the driver, the device and its interrupt back to the caller.
 * Exit status 0, or 1 with a message when the device cannot be opened or a read fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: small, fast, and the same sequence everywhere for a given seed. */
static uint64_t rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dull;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return (x > y) - (x < y);
}

/* The sample at fraction q (0..1) of the sorted array, nearest rank. */
static uint32_t percentile(const uint32_t *v, size_t n, double q)
{
	size_t i = (size_t)(q * (double)n + 0.5);

	if (i > 0)
		i--;
	return v[i < n ? i : n - 1];
}

static void usage(void)
{
	fprintf(stderr, "usage: randread [-b BYTES] [-s SPAN_MIB] [-t SECONDS] [-n COUNT] "
	                "[-w WARMUP_SECONDS] [-S SEED] [-c CPU] DEVICE\n");
	exit(2);
}

static double number(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end || v < 0)
		usage();
	return v;
}

int main(int argc, char **argv)
{
	double seconds = 5, warmup = 0.5;
	uint64_t bs = 4096, span = 32ull << 20, seed = 0x9e3779b97f4a7c15ull, dev_size = 0;
	unsigned long long max_count = 0;
	size_t n = 0, all = 0, cap = 1 << 16;
	uint32_t *lat;
	struct stat st;
	void *buf;
	int fd, opt, cpu = -1;

	while ((opt = getopt(argc, argv, "b:s:t:n:w:S:c:")) != -1) {
		switch (opt) {
		case 'b':
			bs = (uint64_t)number(optarg);
			break;
		case 's':
			span = (uint64_t)number(optarg) << 20;
			break;
		case 't':
			seconds = number(optarg);
			break;
		case 'n':
			max_count = (unsigned long long)number(optarg);
			break;
		case 'w':
			warmup = number(optarg);
			break;
		case 'S':
			seed = (uint64_t)number(optarg) | 1; /* xorshift must not start at 0 */
			break;
		case 'c':
			cpu = (int)number(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || bs < 512 || (bs & (bs - 1)))
		usage();

	if (cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof(set), &set) < 0) {
			fprintf(stderr, "randread: cannot run on CPU %d: %s\n", cpu,
			        strerror(errno));
			return 1;
		}
	}
	fd = open(argv[optind], O_RDONLY | O_DIRECT);
	if (fd < 0) {
		fprintf(stderr, "randread: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	/* Never read past the end: a block device's size, or a regular file's. */
	if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode))
		ioctl(fd, BLKGETSIZE64, &dev_size);
	else if (fstat(fd, &st) == 0)
		dev_size = (uint64_t)st.st_size;
	if (dev_size && span > dev_size)
		span = dev_size;
	if (span < bs) {
		fprintf(stderr, "randread: %s is smaller than one %llu-byte block\n", argv[optind],
		        (unsigned long long)bs);
		return 1;
	}
	/* O_DIRECT wants the buffer aligned to the logical block size; a page covers all. */
	if (posix_memalign(&buf, 4096, bs) != 0 || !(lat = malloc(cap * sizeof(*lat)))) {
		fprintf(stderr, "randread: out of memory\n");
		return 1;
	}

	uint64_t blocks = span / bs;
	uint64_t start = now_ns(), t_warm = start + (uint64_t)(warmup * 1e9);
	uint64_t t_first = 0, t_last = 0, t_stop = 0;

	for (;;) {
		uint64_t off = (rng_next(&seed) % blocks) * bs;
		uint64_t t0 = now_ns(), t1;
		ssize_t r = pread(fd, buf, bs, (off_t)off);

		t1 = now_ns();
		all++;
		if (r != (ssize_t)bs) {
			fprintf(stderr, "randread: read of %llu bytes at %llu: %s\n",
			        (unsigned long long)bs, (unsigned long long)off,
			        r < 0 ? strerror(errno) : "short read");
			return 1;
		}
		if (t0 < t_warm)
			continue;
		if (!t_first) {
			t_first = t0;
			t_stop = t0 + (uint64_t)(seconds * 1e9);
		}
		if (n == cap) {
			uint32_t *more = realloc(lat, 2 * cap * sizeof(*lat));

			if (!more) {
				fprintf(stderr, "randread: out of memory for %zu samples\n", n);
				return 1;
			}
			lat = more;
			cap *= 2;
		}
		/* A single read beyond 4 s would be a hang, not a latency: clamp to fit. */
		lat[n++] = (uint32_t)((t1 - t0) > 0xffffffffull ? 0xffffffffull : (t1 - t0));
		t_last = t1;
		if (t1 >= t_stop || (max_count && n >= max_count))
			break;
	}
	close(fd);

	double secs = (double)(t_last - t_first) / 1e9, sum = 0;

	for (size_t i = 0; i < n; i++)
		sum += lat[i];
	qsort(lat, n, sizeof(*lat), cmp_u32);
	printf("RANDREAD dev=%s cpu=%d bs=%llu span_mib=%llu qd=1 ios=%zu secs=%.3f iops=%.1f "
	       "lat_us_min=%.1f lat_us_p50=%.1f lat_us_p99=%.1f lat_us_max=%.1f lat_us_mean=%.1f "
	       "all_ios=%zu\n",
	       argv[optind], cpu, (unsigned long long)bs, (unsigned long long)(span >> 20), n, secs,
	       secs > 0 ? (double)n / secs : 0, lat[0] / 1e3, percentile(lat, n, 0.50) / 1e3,
	       percentile(lat, n, 0.99) / 1e3, lat[n - 1] / 1e3, sum / (double)n / 1e3, all);
	free(lat);
	free(buf);
	return 0;
}
