/* SPDX-License-Identifier: MIT */
/*
 * l2stamp: time a VMM from its start to a line its guest prints, for the nested boot
 * benchmark (the same way for hvmm and for QEMU).
 *
 *   l2stamp [-t SECONDS] [-o CONSOLE_LOG] [-e STDERR_FILE] [-s STDERR_MARKER] [-r FILE]...
 *           MARKER -- COMMAND [ARG...]
 *
 * Takes a CLOCK_MONOTONIC timestamp just before it forks COMMAND, runs it in a session of
 * its own with stdin on /dev/null, its stdout (the guest's serial console) on a pipe and
 * its stderr in STDERR_FILE, copies the console to CONSOLE_LOG, and waits -- blocked in
 * poll(2), using no CPU the guest could want -- until the console shows MARKER.  When the
 * line holding MARKER is complete it kills the whole session with SIGKILL, reaps it, and
 * prints one line:
 *
 *   L2STAMP marker=MARKER secs=S guest_uptime=U bytes=N rss_kb=R lck_kb=L pin_kb=P
 *           huge_kb=H t0_ns=T [NAME=VALUE]...
 *
 * secs: from just before the fork to the arrival of MARKER's last byte; T: that moment before
 * the fork on CLOCK_MONOTONIC, in ns (to place other events, e.g. a trace, on the same clock).
 * guest_uptime: the value of "uptime=" on the marker's line, if any (the guest's own /proc/uptime),
 * else -1. R, L, P and H are the VMM's VmRSS, VmLck (what VFIO's type1 IOMMU charges for pinned
 * guest RAM), VmPin and HugetlbPages (huge pages mapped, which VmRSS does not count) from
 * /proc/PID/status at that moment, -1 where the kernel has no such line.
 * Each -r FILE is read when the marker's line is complete, before the kill, and printed as
 * NAME=VALUE (NAME its base name, VALUE its first word): the nested benchmark reads L1
 * KVM's debugfs counters this way, which count only VMs still alive.
 * With -s, stderr goes through a pipe as well (still copied to STDERR_FILE), and the line
 * gets "err_secs=S": from before the fork to the first stderr line holding STDERR_MARKER
 * (hvmm's "pinned and mapped for DMA" line, for one), waiting for it past MARKER until
 * SECONDS if need be, -1 if it never came.
 * If COMMAND exits or SECONDS (default 120) pass first, it prints the same line with
 * secs=-1 and "status=" (exit status or 128 + signal) or "timeout=1", and exits 1.
 */
#include <errno.h>
#include <libgen.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* values[i] = the first word of files[i], or "-1". */
static void read_files(const char *const *files, char (*values)[64], unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		FILE *f = fopen(files[i], "r");

		if (!f || fscanf(f, "%63s", values[i]) != 1)
			strcpy(values[i], "-1");
		if (f)
			fclose(f);
	}
}

/*
 * The VMM's stderr, with -s: copied to `out`; *t set to `t` when a complete line first holds
 * `marker`.  False once the pipe is closed.
 */
struct errwatch {
	int fd, out;
	const char *marker;
	char line[1024];
	size_t len;
	uint64_t t;
};

static bool errwatch_read(struct errwatch *w, uint64_t t)
{
	char buf[4096];
	ssize_t n = read(w->fd, buf, sizeof(buf));

	if (n < 0 && errno == EINTR)
		return true;
	if (n <= 0)
		return false;
	if (write(w->out, buf, (size_t)n) != n)
		perror("l2stamp: stderr file");
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] != '\n') {
			if (w->len < sizeof(w->line) - 1)
				w->line[w->len++] = buf[i];
			continue;
		}
		w->line[w->len] = 0;
		if (!w->t && strstr(w->line, w->marker))
			w->t = t;
		w->len = 0;
	}
	return true;
}

/* The "KEY: N kB" values of the VMM's /proc/PID/status, -1 for each one missing. */
static void read_status(pid_t pid, long kb[4])
{
	static const char *const keys[4] = { "VmRSS:", "VmLck:", "VmPin:", "HugetlbPages:" };
	char path[64], line[256];
	FILE *f;

	for (int i = 0; i < 4; i++)
		kb[i] = -1;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		for (int i = 0; i < 4; i++) {
			if (!strncmp(line, keys[i], strlen(keys[i])))
				kb[i] = strtol(line + strlen(keys[i]), NULL, 10);
		}
	}
	fclose(f);
}

static void usage(void)
{
	fprintf(stderr, "usage: l2stamp [-t SECONDS] [-o CONSOLE_LOG] [-e STDERR_FILE] "
	                "[-s STDERR_MARKER] [-r FILE]... MARKER -- COMMAND [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *logfile = "/dev/null", *errfile = "/dev/null", *marker, *reads[16];
	struct errwatch ew = { .fd = -1, .out = -1 };
	int errpipe[2] = { -1, -1 };
	char values[16][64];
	unsigned nreads = 0;
	long timeout_s = 120;
	char line[4096], uptime[32] = "-1";
	long kb[4] = { -1, -1, -1, -1 };
	size_t len = 0, mlen;
	unsigned long bytes = 0;
	int pipefd[2], log, opt, status = 0;
	bool found = false, done = false, timed_out = false;
	uint64_t t0, t_marker = 0, deadline;
	pid_t pid;

	while ((opt = getopt(argc, argv, "t:o:e:s:r:")) != -1) {
		switch (opt) {
		case 't':
			timeout_s = strtol(optarg, NULL, 10);
			break;
		case 'o':
			logfile = optarg;
			break;
		case 'e':
			errfile = optarg;
			break;
		case 's':
			ew.marker = optarg;
			break;
		case 'r':
			if (nreads == sizeof(reads) / sizeof(reads[0]))
				usage();
			reads[nreads++] = optarg;
			break;
		default:
			usage();
		}
	}
	if (argc - optind < 2)
		usage();
	marker = argv[optind++];
	mlen = strlen(marker);
	if (!mlen || mlen >= sizeof(line))
		usage();
	log = open(logfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log < 0 || pipe2(pipefd, O_CLOEXEC) < 0 ||
	    (ew.marker &&
	     (pipe2(errpipe, O_CLOEXEC) < 0 ||
	      (ew.out = open(errfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0))) {
		perror("l2stamp");
		return 1;
	}
	ew.fd = errpipe[0];
	fflush(stdout);
	t0 = now_ns();
	pid = fork();
	if (pid < 0) {
		perror("l2stamp: fork");
		return 1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int err =
		    ew.marker ? errpipe[1] : open(errfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);

		/* Its own session: one kill of the group ends the VMM and anything it started. */
		if (setsid() < 0 || in < 0 || err < 0 || dup2(in, 0) < 0 ||
		    dup2(pipefd[1], 1) < 0 || dup2(err, 2) < 0)
			_exit(127);
		execvp(argv[optind], &argv[optind]);
		_exit(127);
	}
	close(pipefd[1]);
	if (ew.marker)
		close(errpipe[1]);
	deadline = t0 + (uint64_t)timeout_s * 1000000000ull;

	/* With -s, past the marker only for the stderr line, if it has not come yet. */
	while (!done || (ew.fd >= 0 && !ew.t)) {
		struct pollfd p[2] = { { .fd = done ? -1 : pipefd[0], .events = POLLIN },
			               { .fd = ew.fd, .events = POLLIN } };
		uint64_t t = now_ns();
		char buf[4096];
		ssize_t n;

		if (t >= deadline) {
			timed_out = !done;
			break;
		}
		if (poll(p, ew.fd >= 0 ? 2 : 1, (int)((deadline - t) / 1000000 + 1)) <= 0)
			continue;
		if (ew.fd >= 0 && p[1].revents && !errwatch_read(&ew, now_ns())) {
			close(ew.fd);
			ew.fd = -1;
		}
		if (!p[0].revents)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		t = now_ns();
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the VMM exited (or closed its console) before the marker */
		bytes += (unsigned long)n;
		if (write(log, buf, (size_t)n) != n) {
			perror("l2stamp: console log");
			break;
		}
		/* Collect lines; a line longer than the buffer is cut (markers are short). */
		for (ssize_t i = 0; i < n && !done; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				line[len] = 0;
				if (!found && len >= mlen &&
				    !memcmp(line + len - mlen, marker, mlen)) {
					found = true;
					t_marker = t;
				}
				continue;
			}
			if (found) {
				const char *u = strstr(line, "uptime=");

				if (u)
					sscanf(u + 7, "%31[0-9.]", uptime);
				read_files(reads, values, nreads);
				read_status(pid, kb);
				done = true;
			}
			len = 0;
			line[0] = 0;
		}
	}
	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	close(log);
	if (done) {
		printf(
		    "L2STAMP marker=%s secs=%.3f guest_uptime=%s bytes=%lu rss_kb=%ld lck_kb=%ld "
		    "pin_kb=%ld huge_kb=%ld t0_ns=%llu",
		    marker, (double)(t_marker - t0) / 1e9, uptime, bytes, kb[0], kb[1], kb[2],
		    kb[3], (unsigned long long)t0);
		if (ew.marker)
			printf(" err_secs=%.3f", ew.t ? (double)(ew.t - t0) / 1e9 : -1.0);
		for (unsigned i = 0; i < nreads; i++) {
			char name[256];

			snprintf(name, sizeof(name), "%s", reads[i]);
			printf(" %s=%s", basename(name), values[i]);
		}
		printf("\n");
		return 0;
	}
	if (timed_out)
		printf("L2STAMP marker=%s secs=-1 guest_uptime=-1 bytes=%lu timeout=1\n", marker,
		       bytes);
	else
		printf("L2STAMP marker=%s secs=-1 guest_uptime=-1 bytes=%lu status=%d\n", marker,
		       bytes, WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return 1;
}
