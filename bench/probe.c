/* SPDX-License-Identifier: MIT */
/*
 * probe: run one VMM command and time what its guest does, the same way for every VMM.
 *
 *   probe [-t SECONDS] [-m RAM_MIB] [-e STDERR_FILE] [-R] -- COMMAND [ARG...]
 *
 * The command's stdout must be the guest's serial console.  The bench guest
 * (bench/guest/bench.c) writes one-byte markers there; probe records, relative to the moment
 * just before it forks the command, when each marker first arrives and when the command
 * exits, and prints one line of key=value pairs:
 *
 *   first=NS     marker '!': the guest program's first action
 *   begin=NS     marker 'B': an exit loop starts
 *   end=NS       marker 'E': it ended
 *   hold=NS      marker 'H': the guest holds still; probe samples the VMM's memory
 *                (/proc/PID/status and smaps) and then stops it with SIGTERM
 *   exit=NS      the command was reaped
 *   status=N     its exit status (or 128 + signal)
 *   bytes=N      console bytes seen
 *   cpu_us=N     CPU time the command used, user + system, all threads (from wait4): less
 *                sensitive to other load on the machine than the wall times
 *   rss_kb= anon_kb= file_kb= shmem_kb= ram_rss_kb= lck_kb= pin_kb= huge_kb= (with 'H'):
 *                VmRSS, its RssAnon/RssFile/RssShmem parts, the resident part of the
 *                guest-RAM mapping (the anonymous, memfd or hugetlb mapping whose size is
 *                RAM_MIB (-m) or up to 4 MiB more; its hugetlb pages included), VmLck (what
 *                VFIO's type1 IOMMU charges for pinned guest RAM), VmPin, and HugetlbPages
 *                (hugetlb pages mapped, which VmRSS does not count)
 *
 * -R runs the command without address-space randomization (personality ADDR_NO_RANDOMIZE):
 * under an emulator that translates guest code per virtual address (QEMU's TCG, which runs the
 * nested host), a program whose code lands at new addresses at every exec is translated anew
 * each time, which a benchmark of start-up would measure instead of the program.
 * A marker that never came is printed as -1.  The timeout (default 60 s) kills the command
 * and makes probe exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct mem_sample {
	long rss_kb, anon_kb, file_kb, shmem_kb, ram_rss_kb, lck_kb, pin_kb, huge_kb;
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One "Key:   N kB" line of /proc/PID/status; -1 if absent. */
static long status_kb(const char *status, const char *key)
{
	const char *p = strstr(status, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void sample_memory(pid_t pid, long ram_mib, struct mem_sample *m)
{
	char path[64], buf[8192], line[512];
	FILE *f;
	size_t n;
	long cur_size = -1, cur_rss = 0;
	bool in_ram = false;

	*m = (struct mem_sample){ -1, -1, -1, -1, -1, -1, -1, -1 };
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	m->rss_kb = status_kb(buf, "VmRSS:");
	m->anon_kb = status_kb(buf, "RssAnon:");
	m->file_kb = status_kb(buf, "RssFile:");
	m->shmem_kb = status_kb(buf, "RssShmem:");
	m->lck_kb = status_kb(buf, "VmLck:");
	m->pin_kb = status_kb(buf, "VmPin:");
	m->huge_kb = status_kb(buf, "HugetlbPages:");

	/*
	 * smaps: a header line "start-end perms offset dev inode [path]" opens each mapping,
	 * then "Size:", "Rss:" ... lines.  Guest RAM is a mapping of the RAM size, anonymous (no
	 * path), a memfd or hugetlb; QEMU may round it up for alignment and guard pages.  Its
	 * hugetlb pages are in the *_Hugetlb lines, not in Rss.
	 */
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perms[8];
		int consumed = 0;

		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s%n", &lo, &hi, perms, &consumed) == 3) {
			const char *rest = line + consumed;
			long kb = (long)((hi - lo) >> 10);

			while (*rest == ' ')
				rest++;
			in_ram = (*rest == '\n' || !*rest || strstr(rest, "memfd:") ||
			          strstr(rest, "anon_hugepage")) &&
			         kb >= ram_mib * 1024 && kb <= ram_mib * 1024 + 4096;
			cur_size = kb;
			cur_rss = 0;
			continue;
		}
		if (in_ram && cur_size > 0 &&
		    (!strncmp(line, "Rss:", 4) || !strncmp(line, "Private_Hugetlb:", 16) ||
		     !strncmp(line, "Shared_Hugetlb:", 15))) {
			cur_rss += strtol(strchr(line, ':') + 1, NULL, 10);
			/* Several candidates (should not happen): keep the biggest resident one. */
			if (cur_rss > m->ram_rss_kb)
				m->ram_rss_kb = cur_rss;
		}
	}
	fclose(f);
}

static void usage(void)
{
	fprintf(
	    stderr,
	    "usage: probe [-t SECONDS] [-m RAM_MIB] [-e STDERR_FILE] [-R] -- COMMAND [ARG...]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *errfile = "/dev/null";
	long timeout_s = 60, ram_mib = 0;
	int64_t t_first = -1, t_begin = -1, t_end = -1, t_hold = -1, t_exit = -1;
	struct mem_sample mem = { -1, -1, -1, -1, -1, -1, -1, -1 };
	struct rusage ru = { 0 };
	unsigned long bytes = 0;
	int pipefd[2], status = 0, opt, code = -1;
	bool eof = false, timed_out = false, no_aslr = false;
	uint64_t t0, deadline;
	pid_t pid;

	while ((opt = getopt(argc, argv, "t:m:e:R")) != -1) {
		switch (opt) {
		case 't':
			timeout_s = strtol(optarg, NULL, 10);
			break;
		case 'm':
			ram_mib = strtol(optarg, NULL, 10);
			break;
		case 'e':
			errfile = optarg;
			break;
		case 'R':
			no_aslr = true;
			break;
		default:
			usage();
		}
	}
	if (optind >= argc)
		usage();
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		perror("probe: pipe");
		return 1;
	}
	fflush(stdout);
	t0 = now_ns();
	pid = fork();
	if (pid < 0) {
		perror("probe: fork");
		return 1;
	}
	if (pid == 0) {
		int in = open("/dev/null", O_RDONLY);
		int err = open(errfile, O_WRONLY | O_CREAT | O_APPEND, 0644);

		if (in < 0 || err < 0 || dup2(in, 0) < 0 || dup2(pipefd[1], 1) < 0 ||
		    dup2(err, 2) < 0)
			_exit(127);
		if (no_aslr &&
		    personality((unsigned long)personality(0xffffffff) | ADDR_NO_RANDOMIZE) < 0)
			_exit(127);
		execvp(argv[optind], &argv[optind]);
		_exit(127);
	}
	close(pipefd[1]);
	deadline = t0 + (uint64_t)timeout_s * 1000000000ull;

	/* Read the console until EOF (the VMM exited or closed it), timestamping markers. */
	while (!eof) {
		struct pollfd p = { .fd = pipefd[0], .events = POLLIN };
		uint64_t t = now_ns();
		char buf[4096];
		ssize_t n;

		if (t >= deadline) {
			timed_out = true;
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)((deadline - t) / 1000000 + 1)) <= 0)
			continue;
		n = read(pipefd[0], buf, sizeof(buf));
		t = now_ns() - t0;
		if (n <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			eof = true;
			break;
		}
		bytes += (unsigned long)n;
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '!' && t_first < 0)
				t_first = (int64_t)t;
			else if (buf[i] == 'B' && t_begin < 0)
				t_begin = (int64_t)t;
			else if (buf[i] == 'E' && t_end < 0)
				t_end = (int64_t)t;
			else if (buf[i] == 'H' && t_hold < 0) {
				t_hold = (int64_t)t;
				sample_memory(pid, ram_mib, &mem);
				kill(pid, SIGTERM);
			}
		}
	}
	while (wait4(pid, &status, 0, &ru) < 0 && errno == EINTR)
		;
	t_exit = (int64_t)(now_ns() - t0);
	if (WIFEXITED(status))
		code = WEXITSTATUS(status);
	else if (WIFSIGNALED(status))
		code = 128 + WTERMSIG(status);
	printf("first=%lld begin=%lld end=%lld hold=%lld exit=%lld status=%d bytes=%lu "
	       "cpu_us=%lld rss_kb=%ld anon_kb=%ld file_kb=%ld shmem_kb=%ld ram_rss_kb=%ld "
	       "lck_kb=%ld pin_kb=%ld huge_kb=%ld%s\n",
	       (long long)t_first, (long long)t_begin, (long long)t_end, (long long)t_hold,
	       (long long)t_exit, code, bytes,
	       (long long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 +
	           ru.ru_utime.tv_usec + ru.ru_stime.tv_usec,
	       mem.rss_kb, mem.anon_kb, mem.file_kb, mem.shmem_kb, mem.ram_rss_kb, mem.lck_kb,
	       mem.pin_kb, mem.huge_kb, timed_out ? " timeout=1" : "");
	return timed_out ? 1 : 0;
}
