/* SPDX-License-Identifier: MIT */
/*
 * randread: block reads the way the nested benchmark measures an NVMe in L1 (native driver)
 * and in L2 (passed through by hvmm, or by QEMU's vfio-pci).
 *
 *   randread [-b BYTES] [-q DEPTH] [-m rand|seq] [-s SPAN_MIB] [-t SECONDS] [-n COUNT]
 *            [-w WARMUP_SECONDS] [-S SEED] [-c CPU] DEVICE
 *
 * Opens DEVICE with O_DIRECT (no page cache in the guest doing the reading) and reads BYTES
 * (default 4096) at a time within the first SPAN_MIB MiB, until SECONDS have passed or COUNT
 * reads are done (whichever is first; default 5 s, no count).  -m rand (the default): at
 * random BYTES-aligned offsets from a fixed-seed generator, so every run with the same SEED
 * reads the same sequence of blocks and the places the benchmark compares read the same data;
 * -m seq: one block after the other, from the start of the span again at its end.
 * The first WARMUP_SECONDS of reads (default 0.5) are not counted.  -c CPU pins the reader to
 * one CPU, so its I/O queue and completion interrupt stay on that CPU from run to run.
 *
 * Queue depth 1 (the default) is one pread(2) at a time.  -q DEPTH > 1 keeps DEPTH reads in
 * flight through io_uring, set up with the raw system calls (the program is static and the
 * guests have no liburing): one thread submits and reaps, waiting in io_uring_enter(2) for at
 * least one completion at a time.
 *
 * Prints one line of key=value pairs:
 *
 *   RANDREAD dev=D cpu=C bs=B span_mib=M qd=Q mode=rand|seq ios=N secs=S iops=X mbps=Y
 *            lat_us_min= lat_us_p50= lat_us_p99= lat_us_max= lat_us_mean= all_ios=A
 *
 * A counts the warm-up reads too (every read this run issued).  iops is N / S, S the time
 * from the first counted read's start to the last one's end; mbps is N * B / S in 10^6 bytes
 * a second.  Latency is per read, from its submission (the pread(2) call, or the io_uring
 * submission) to its completion reaching the program (CLOCK_MONOTONIC): the whole round trip
 * through the driver, the device and its interrupt back to the caller.
 * Exit status 0, or 1 with a message when the device cannot be opened or a read fails.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/io_uring.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
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
	fprintf(stderr, "usage: randread [-b BYTES] [-q DEPTH] [-m rand|seq] [-s SPAN_MIB] "
	                "[-t SECONDS] [-n COUNT] [-w WARMUP_SECONDS] [-S SEED] [-c CPU] DEVICE\n");
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

/* One run's settings and what it measured. */
struct run {
	int fd;
	const char *dev;
	uint64_t bs, blocks, seed, next_block;
	bool seq;
	double seconds, warmup;
	unsigned long long max_count;
	uint64_t t_warm, t_first, t_stop, t_last;
	uint32_t *lat; /* per counted read, ns */
	size_t n, cap, all;
};

static uint64_t next_offset(struct run *r)
{
	uint64_t block = r->seq ? r->next_block++ % r->blocks : rng_next(&r->seed) % r->blocks;

	return block * r->bs;
}

/*
 * A read submitted at t0 completed at t1: count it if it began after the warm-up.  Returns
 * false once the run is over (time or count), or on running out of memory.
 */
static bool sample_add(struct run *r, uint64_t t0, uint64_t t1)
{
	r->all++;
	if (t0 < r->t_warm)
		return true;
	if (!r->t_first) {
		r->t_first = t0;
		r->t_stop = t0 + (uint64_t)(r->seconds * 1e9);
	}
	if (r->n == r->cap) {
		uint32_t *more = realloc(r->lat, 2 * r->cap * sizeof(*r->lat));

		if (!more) {
			fprintf(stderr, "randread: out of memory for %zu samples\n", r->n);
			exit(1);
		}
		r->lat = more;
		r->cap *= 2;
	}
	/* A single read beyond 4 s would be a hang, not a latency: clamp to fit. */
	r->lat[r->n++] = (uint32_t)((t1 - t0) > 0xffffffffull ? 0xffffffffull : (t1 - t0));
	if (t1 > r->t_last)
		r->t_last = t1;
	return !(t1 >= r->t_stop || (r->max_count && r->n >= r->max_count));
}

static int read_failed(const struct run *r, uint64_t off, long res)
{
	fprintf(stderr, "randread: read of %llu bytes at %llu: %s\n", (unsigned long long)r->bs,
	        (unsigned long long)off, res < 0 ? strerror((int)-res) : "short read");
	return 1;
}

/* Queue depth 1: one pread(2) at a time. */
static int run_sync(struct run *r)
{
	void *buf;

	if (posix_memalign(&buf, 4096, r->bs) != 0) {
		fprintf(stderr, "randread: out of memory\n");
		return 1;
	}
	for (;;) {
		uint64_t off = next_offset(r), t0 = now_ns(), t1;
		ssize_t got = pread(r->fd, buf, r->bs, (off_t)off);

		t1 = now_ns();
		if (got != (ssize_t)r->bs)
			return read_failed(r, off, got < 0 ? -errno : 0);
		if (!sample_add(r, t0, t1))
			break;
	}
	free(buf);
	return 0;
}

/* The io_uring rings as mapped into this process. */
struct uring {
	int fd;
	unsigned sq_mask, cq_mask;
	_Atomic unsigned *sq_tail, *cq_head, *cq_tail;
	unsigned *sq_array;
	struct io_uring_sqe *sqes;
	struct io_uring_cqe *cqes;
};

static int uring_setup(struct uring *u, unsigned entries)
{
	struct io_uring_params p;
	size_t sq_len, cq_len;
	uint8_t *sq, *cq;

	memset(&p, 0, sizeof(p));
	u->fd = (int)syscall(__NR_io_uring_setup, entries, &p);
	if (u->fd < 0) {
		fprintf(stderr, "randread: io_uring_setup(%u): %s\n", entries, strerror(errno));
		return -1;
	}
	sq_len = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	cq_len = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	if (p.features & IORING_FEAT_SINGLE_MMAP)
		sq_len = cq_len = sq_len > cq_len ? sq_len : cq_len;
	sq = mmap(NULL, sq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
	          IORING_OFF_SQ_RING);
	cq = (p.features & IORING_FEAT_SINGLE_MMAP)
	         ? sq
	         : mmap(NULL, cq_len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, u->fd,
	                IORING_OFF_CQ_RING);
	u->sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
	               MAP_SHARED | MAP_POPULATE, u->fd, IORING_OFF_SQES);
	if (sq == MAP_FAILED || cq == MAP_FAILED || u->sqes == MAP_FAILED) {
		fprintf(stderr, "randread: mapping the io_uring rings: %s\n", strerror(errno));
		return -1;
	}
	u->sq_mask = *(unsigned *)(sq + p.sq_off.ring_mask);
	u->sq_tail = (_Atomic unsigned *)(sq + p.sq_off.tail);
	u->sq_array = (unsigned *)(sq + p.sq_off.array);
	u->cq_mask = *(unsigned *)(cq + p.cq_off.ring_mask);
	u->cq_head = (_Atomic unsigned *)(cq + p.cq_off.head);
	u->cq_tail = (_Atomic unsigned *)(cq + p.cq_off.tail);
	u->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
	return 0;
}

/* Queue one read of slot `slot`'s buffer; it goes to the kernel with the next enter. */
static void uring_queue(struct uring *u, unsigned slot, int fd, void *buf, uint64_t bs,
                        uint64_t off)
{
	unsigned tail = atomic_load_explicit(u->sq_tail, memory_order_relaxed);
	unsigned i = tail & u->sq_mask;
	struct io_uring_sqe *e = &u->sqes[i];

	memset(e, 0, sizeof(*e));
	e->opcode = IORING_OP_READ;
	e->fd = fd;
	e->addr = (uintptr_t)buf;
	e->len = (unsigned)bs;
	e->off = off;
	e->user_data = slot;
	u->sq_array[i] = i;
	atomic_store_explicit(u->sq_tail, tail + 1, memory_order_release);
}

/* Queue depth > 1: `qd` reads in flight, each slot resubmitted as soon as it completes. */
static int run_uring(struct run *r, unsigned qd)
{
	struct uring u;
	uint64_t *t_sub = calloc(qd, sizeof(*t_sub)), *off = calloc(qd, sizeof(*off));
	uint8_t *bufs;
	unsigned inflight = 0, to_submit = 0;
	bool more = true;

	if (!t_sub || !off || posix_memalign((void **)&bufs, 4096, qd * r->bs) != 0) {
		fprintf(stderr, "randread: out of memory\n");
		return 1;
	}
	if (uring_setup(&u, qd) < 0)
		return 1;
	for (unsigned s = 0; s < qd; s++) {
		off[s] = next_offset(r);
		uring_queue(&u, s, r->fd, bufs + s * r->bs, r->bs, off[s]);
		t_sub[s] = now_ns();
		to_submit++;
	}
	/* Once the run is over, what is in flight is reaped (and counted) but not replaced. */
	while (more || inflight) {
		int got = (int)syscall(__NR_io_uring_enter, u.fd, to_submit, 1,
		                       IORING_ENTER_GETEVENTS, NULL, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "randread: io_uring_enter: %s\n", strerror(errno));
			return 1;
		}
		inflight += (unsigned)got;
		to_submit -= (unsigned)got;
		unsigned head = atomic_load_explicit(u.cq_head, memory_order_relaxed);

		while (head != atomic_load_explicit(u.cq_tail, memory_order_acquire)) {
			struct io_uring_cqe *c = &u.cqes[head & u.cq_mask];
			unsigned s = (unsigned)c->user_data;
			uint64_t t1 = now_ns();

			head++;
			inflight--;
			if (c->res != (int)r->bs)
				return read_failed(r, off[s], c->res < 0 ? c->res : 0);
			if (!sample_add(r, t_sub[s], t1))
				more = false;
			if (!more)
				continue;
			off[s] = next_offset(r);
			uring_queue(&u, s, r->fd, bufs + s * r->bs, r->bs, off[s]);
			t_sub[s] = now_ns();
			to_submit++;
		}
		atomic_store_explicit(u.cq_head, head, memory_order_release);
	}
	close(u.fd);
	free(bufs);
	free(t_sub);
	free(off);
	return 0;
}

int main(int argc, char **argv)
{
	struct run r = { .bs = 4096,
		         .seed = 0x9e3779b97f4a7c15ull,
		         .seconds = 5,
		         .warmup = 0.5,
		         .cap = 1 << 16 };
	uint64_t span = 32ull << 20, dev_size = 0;
	unsigned qd = 1;
	struct stat st;
	int opt, cpu = -1, rc;

	while ((opt = getopt(argc, argv, "b:q:m:s:t:n:w:S:c:")) != -1) {
		switch (opt) {
		case 'b':
			r.bs = (uint64_t)number(optarg);
			break;
		case 'q':
			qd = (unsigned)number(optarg);
			break;
		case 'm':
			if (strcmp(optarg, "rand") && strcmp(optarg, "seq"))
				usage();
			r.seq = !strcmp(optarg, "seq");
			break;
		case 's':
			span = (uint64_t)number(optarg) << 20;
			break;
		case 't':
			r.seconds = number(optarg);
			break;
		case 'n':
			r.max_count = (unsigned long long)number(optarg);
			break;
		case 'w':
			r.warmup = number(optarg);
			break;
		case 'S':
			r.seed = (uint64_t)number(optarg) | 1; /* xorshift must not start at 0 */
			break;
		case 'c':
			cpu = (int)number(optarg);
			break;
		default:
			usage();
		}
	}
	if (optind != argc - 1 || r.bs < 512 || (r.bs & (r.bs - 1)) || qd < 1 || qd > 4096)
		usage();
	r.dev = argv[optind];

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
	r.fd = open(r.dev, O_RDONLY | O_DIRECT);
	if (r.fd < 0) {
		fprintf(stderr, "randread: %s: %s\n", r.dev, strerror(errno));
		return 1;
	}
	/* Never read past the end: a block device's size, or a regular file's. */
	if (fstat(r.fd, &st) == 0 && S_ISBLK(st.st_mode))
		ioctl(r.fd, BLKGETSIZE64, &dev_size);
	else if (fstat(r.fd, &st) == 0)
		dev_size = (uint64_t)st.st_size;
	if (dev_size && span > dev_size)
		span = dev_size;
	if (span < r.bs) {
		fprintf(stderr, "randread: %s is smaller than one %llu-byte block\n", r.dev,
		        (unsigned long long)r.bs);
		return 1;
	}
	if (!(r.lat = malloc(r.cap * sizeof(*r.lat)))) {
		fprintf(stderr, "randread: out of memory\n");
		return 1;
	}
	r.blocks = span / r.bs;
	r.t_warm = now_ns() + (uint64_t)(r.warmup * 1e9);
	rc = qd == 1 ? run_sync(&r) : run_uring(&r, qd);
	close(r.fd);
	if (rc)
		return rc;

	double secs = (double)(r.t_last - r.t_first) / 1e9, sum = 0;
	size_t n = r.n;

	for (size_t i = 0; i < n; i++)
		sum += r.lat[i];
	qsort(r.lat, n, sizeof(*r.lat), cmp_u32);
	printf("RANDREAD dev=%s cpu=%d bs=%llu span_mib=%llu qd=%u mode=%s ios=%zu secs=%.3f "
	       "iops=%.1f mbps=%.2f lat_us_min=%.1f lat_us_p50=%.1f lat_us_p99=%.1f "
	       "lat_us_max=%.1f lat_us_mean=%.1f all_ios=%zu\n",
	       r.dev, cpu, (unsigned long long)r.bs, (unsigned long long)(span >> 20), qd,
	       r.seq ? "seq" : "rand", n, secs, secs > 0 ? (double)n / secs : 0,
	       secs > 0 ? (double)n * (double)r.bs / secs / 1e6 : 0, r.lat[0] / 1e3,
	       percentile(r.lat, n, 0.50) / 1e3, percentile(r.lat, n, 0.99) / 1e3,
	       r.lat[n - 1] / 1e3, sum / (double)n / 1e3, r.all);
	free(r.lat);
	return 0;
}
