/* SPDX-License-Identifier: MIT */
/*
 * Runs every guest test on every backend, each in a child process with a timeout, and prints
 * TAP.  The backends are those compiled in (hv_backends[]) and the simulated MSHV
 * (tests/mshv-sim, "mshv-sim"); a backend this host lacks is a SKIP with the reason.  The
 * output ends with the test x hypervisor matrix as TAP comments.
 * Usage: guest-runner GUEST_DIR [TEST-NAME...]
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest.h"
#include "tests/mshv-sim/sim.h"

/* Every guest test, in the order they run.  Each is defined in its NAME_test.c. */
extern const struct guest_test gt_serial, gt_pio_mmio, gt_unclaimed, gt_flood, gt_msi_irqfd,
    gt_ioapic_edge, gt_ioapic_level, gt_intx_irqfd, gt_triple_fault, gt_smp, gt_poweroff, gt_reset,
    gt_demo;
/* devices/pci */
extern const struct guest_test gt_pci_enum, gt_pci_msix, gt_pci_dma, gt_pci_hostile, gt_pci_reset,
    gt_pci_hotplug;
/*
 * what differs between KVM and MSHV: emulated instructions, direct MSIs, doorbells, APs
 * started by INIT/SIPI, the hypervisor's CPUID leaves, the simulated host's rules; MMIO
 * right after a guest exception (what a nested SVM may misreport)
 */
extern const struct guest_test gt_emu, gt_doorbell, gt_sipi, gt_hv_cpuid, gt_mshv_rules,
    gt_vectoring;
static const struct guest_test *const guest_tests[] = {
	&gt_serial,       &gt_pio_mmio,
	&gt_unclaimed,    &gt_flood,
	&gt_msi_irqfd,    &gt_ioapic_edge,
	&gt_ioapic_level, &gt_intx_irqfd,
	&gt_triple_fault, &gt_smp,
	&gt_poweroff,     &gt_reset,
	&gt_demo,         &gt_pci_enum,
	&gt_pci_msix,     &gt_pci_dma,
	&gt_pci_hostile,  &gt_pci_reset,
	&gt_pci_hotplug,  &gt_emu,
	&gt_doorbell,     &gt_sipi,
	&gt_hv_cpuid,     &gt_mshv_rules,
	&gt_vectoring,    NULL,
};

#define MAX_COLUMNS 8

/* The counters of struct mshv_sim_stats, in order, as an array. */
static uint64_t *sim_field(struct mshv_sim_stats *st, unsigned i)
{
	_Static_assert(sizeof(*st) == MSHV_SIM_NR_STATS * sizeof(uint64_t), "mshv_sim_stats");
	return (uint64_t *)st + i;
}

/* In the child: the simulator's counts go to NAME.sim beside the stderr log. */
static int sim_stats_save(const char *errpath, struct gt_ctx *c, int rc)
{
	struct mshv_sim_stats st;
	char path[320];
	FILE *f;

	mshv_sim_get_stats(&st);
	snprintf(path, sizeof(path), "%.*s.sim", (int)(strlen(errpath) - 7), errpath);
	f = fopen(path, "w");
	if (f) {
		for (unsigned i = 0; i < MSHV_SIM_NR_STATS; i++)
			fprintf(f, "%llu ", (unsigned long long)*sim_field(&st, i));
		fprintf(f, "\n");
		fclose(f);
	}
	if (st.mismatches && !rc) {
		gt_fail(c, "mshv-sim: %llu cross-check mismatches with KVM",
		        (unsigned long long)st.mismatches);
		return 1;
	}
	/* What the real driver would have done to the host fails the test, whatever it saw. */
	if (st.host_faults && !rc) {
		gt_fail(c, "mshv-sim: %llu simulated host faults (see the log)",
		        (unsigned long long)st.host_faults);
		return 1;
	}
	return rc;
}

/* In the parent: add a child's counts to the run's. */
static void sim_stats_add(const char *tmpdir, const struct guest_test *t, const struct hv_ops *hv,
                          struct mshv_sim_stats *sum)
{
	unsigned long long v;
	char path[320];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s-%s.sim", tmpdir, t->name, hv->name);
	f = fopen(path, "r");
	if (!f)
		return;
	for (unsigned i = 0; i < MSHV_SIM_NR_STATS && fscanf(f, "%llu", &v) == 1; i++)
		*sim_field(sum, i) += v;
	fclose(f);
}

static const char *skip_reason(const struct hv_ops *hv)
{
	if (!strcmp(hv->name, "mshv"))
		return "no /dev/mshv: this host is not running as a Microsoft Hypervisor root "
		       "partition";
	if (!strcmp(hv->name, "kvm") || !strcmp(hv->name, "mshv-sim"))
		return "no usable /dev/kvm on this host (make e2e runs this cell on real KVM in "
		       "the nested host)";
	return "not available on this host";
}

static void print_matrix(const struct guest_test *const *tests, const char (*res)[MAX_COLUMNS],
                         size_t nt, const struct hv_ops *const *cols, size_t nc)
{
	static const char *const word[] = { ['P'] = "PASS", ['F'] = "FAIL", ['S'] = "SKIP" };

	printf("# test x hypervisor:\n# %-20s", "");
	for (size_t b = 0; b < nc; b++)
		printf(" %-9s", cols[b]->name);
	printf("\n");
	for (size_t i = 0; i < nt; i++) {
		if (!res[i][0])
			continue; /* not selected */
		printf("# %-20s", tests[i]->name);
		for (size_t b = 0; b < nc; b++)
			printf(" %-9s", word[(unsigned char)res[i][b]]);
		printf("\n");
	}
}

/* /proc/PID/task/TID/NAME into buf, one line, or "?". */
static void task_read(pid_t pid, const char *tid, const char *name, char *buf, size_t len)
{
	char path[320];

	snprintf(path, sizeof(path), "/proc/%d/task/%s/%s", (int)pid, tid, name);
	if (gt_read_file(path, buf, len))
		snprintf(buf, len, "?");
	buf[strcspn(buf, "\n")] = 0;
}

/*
 * A child that timed out: where each of its threads is (name, state, kernel wait channel,
 * system call number and first arguments) into its stderr log, so a hang says where.
 */
static void dump_threads(pid_t pid, const char *errpath)
{
	char path[64], comm[64], wchan[64], sc[128], stat[512];
	FILE *out = fopen(errpath, "a");
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	if (!out || !(d = opendir(path))) {
		if (out)
			fclose(out);
		return;
	}
	fprintf(out, "guest-runner: timed out; the test process's threads:\n");
	while ((e = readdir(d))) {
		const char *p;
		char state = '?';

		if (e->d_name[0] == '.')
			continue;
		task_read(pid, e->d_name, "comm", comm, sizeof(comm));
		task_read(pid, e->d_name, "wchan", wchan, sizeof(wchan));
		task_read(pid, e->d_name, "syscall", sc, sizeof(sc));
		task_read(pid, e->d_name, "stat", stat, sizeof(stat));
		if ((p = strrchr(stat, ')')) && p[1] == ' ')
			state = p[2];
		fprintf(out, "  thread %s (%s): state %c, wchan %s, syscall %.48s\n", e->d_name,
		        comm, state, wchan, sc);
	}
	closedir(d);
	fclose(out);
}

static int run_child(const struct guest_test *t, const struct hv_ops *hv, const char *dir,
                     const char *tmpdir, char *why, size_t whylen)
{
	unsigned timeout = t->timeout_s ? t->timeout_s : 60;
	char errpath[300];
	pid_t pid;
	int status;
	uint64_t deadline;

	snprintf(errpath, sizeof(errpath), "%s/%s-%s.stderr", tmpdir, t->name, hv->name);
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		snprintf(why, whylen, "fork: %s", strerror(errno));
		return 1;
	}
	if (pid == 0) {
		struct gt_ctx *c = calloc(1, sizeof(*c));
		int fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		FILE *res;
		int rc;

		if (fd >= 0) {
			dup2(fd, STDERR_FILENO);
			close(fd);
		}
		snprintf(c->serial_path, sizeof(c->serial_path), "%s/%s-%s.serial", tmpdir, t->name,
		         hv->name);
		snprintf(c->stderr_path, sizeof(c->stderr_path), "%s", errpath);
		rc = gt_run(t, hv, dir, c);
		if (hv == &hv_mshv_sim_ops)
			rc = sim_stats_save(errpath, c, rc);
		/* Hand the reason to the parent through a file beside the stderr log. */
		snprintf(errpath + strlen(errpath) - 7, 8, ".why");
		res = fopen(errpath, "w");
		if (res) {
			fputs(c->fail, res);
			fclose(res);
		}
		free(c);
		_exit(rc);
	}
	deadline = clock_ns() + (uint64_t)timeout * 1000000000ull;
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (clock_ns() > deadline) {
			dump_threads(pid, errpath);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			snprintf(why, whylen, "timed out after %u s", timeout);
			return 1;
		}
		usleep(2000);
	}
	if (WIFSIGNALED(status)) {
		snprintf(why, whylen, "killed by signal %d (see %s)", WTERMSIG(status), errpath);
		return 1;
	}
	if (WEXITSTATUS(status)) {
		char whypath[300];

		snprintf(whypath, sizeof(whypath), "%.*s.why", (int)(strlen(errpath) - 7), errpath);
		if (gt_read_file(whypath, why, whylen) || !why[0])
			snprintf(why, whylen, "failed with status %d (see %s)", WEXITSTATUS(status),
			         errpath);
		return 1;
	}
	return 0;
}

static bool selected(const char *name, int argc, char **argv)
{
	if (argc <= 2)
		return true;
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], name))
			return true;
	}
	return false;
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : "build/release/guest";
	char tmpdir[] = "/tmp/hvmm-guest-XXXXXX";
	const struct hv_ops *cols[MAX_COLUMNS];
	char(*res)[MAX_COLUMNS];
	struct mshv_sim_stats sim = { 0 };
	unsigned n = 0, failed = 0;
	size_t nc = 0, nt = 0;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	log_set_level(LOG_WARN);
	for (size_t b = 0; hv_backends[b] && nc < MAX_COLUMNS - 1; b++)
		cols[nc++] = hv_backends[b];
	cols[nc++] = &hv_mshv_sim_ops;
	while (guest_tests[nt])
		nt++;
	res = calloc(nt, sizeof(*res));
	if (!res)
		return 1;
	for (size_t i = 0; i < nt; i++)
		if (selected(guest_tests[i]->name, argc, argv))
			n += (unsigned)nc;
	printf("TAP version 13\n1..%u\n", n);
	n = 0;
	for (size_t i = 0; i < nt; i++) {
		const struct guest_test *t = guest_tests[i];

		if (!selected(t->name, argc, argv))
			continue;
		for (size_t b = 0; b < nc; b++) {
			const struct hv_ops *hv = cols[b];
			char why[512] = "";
			uint64_t t0 = clock_ns();

			n++;
			if (hv->probe()) {
				printf("ok %u - guest/%s [%s] # SKIP %s\n", n, t->name, hv->name,
				       skip_reason(hv));
				res[i][b] = 'S';
				continue;
			}
			if (run_child(t, hv, dir, tmpdir, why, sizeof(why))) {
				printf("not ok %u - guest/%s [%s]\n# %s\n", n, t->name, hv->name,
				       why);
				res[i][b] = 'F';
				failed++;
			} else {
				printf("ok %u - guest/%s [%s] (%.2f s)\n", n, t->name, hv->name,
				       (clock_ns() - t0) / 1e9);
				res[i][b] = 'P';
			}
			if (hv == &hv_mshv_sim_ops)
				sim_stats_add(tmpdir, t, hv, &sim);
			fflush(stdout);
		}
	}
	print_matrix(guest_tests, (const char(*)[MAX_COLUMNS])res, nt, cols, nc);
	printf("# mshv-sim cross-check against KVM's emulator: %llu I/O intercepts, %llu MMIO and "
	       "%llu port accesses, %llu instructions' registers, %llu bytes of string-op RAM "
	       "writes compared; %llu mismatches\n",
	       (unsigned long long)sim.intercepts, (unsigned long long)sim.mmio_checked,
	       (unsigned long long)sim.pio_checked, (unsigned long long)sim.insns_checked,
	       (unsigned long long)sim.ram_checked, (unsigned long long)sim.mismatches);
	printf("# mshv-sim host model: %llu hypercalls answered EAGAIN, %llu MiB of guest RAM "
	       "pinned at map time, %llu simulated host faults\n",
	       (unsigned long long)sim.eagains, (unsigned long long)(sim.pinned >> 20),
	       (unsigned long long)sim.host_faults);
	free(res);
	if (!failed) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", tmpdir);
	} else {
		printf("# logs of this run are in %s\n", tmpdir);
	}
	return failed ? 1 : 0;
}
