/* SPDX-License-Identifier: MIT */
/*
 * Runs every guest test on every usable backend, each in a child process with a timeout,
 * and prints TAP.  Usage: guest-runner GUEST_DIR [TEST-NAME...]
 */
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

/* Every guest test, in the order they run.  Each is defined in its NAME_test.c. */
extern const struct guest_test gt_serial, gt_pio_mmio, gt_unclaimed, gt_flood, gt_msi_irqfd,
    gt_ioapic_edge, gt_ioapic_level, gt_triple_fault, gt_smp, gt_poweroff, gt_reset, gt_demo;
/* devices/pci */
extern const struct guest_test gt_pci_enum, gt_pci_msix, gt_pci_dma, gt_pci_hostile,
    gt_pci_reset;
static const struct guest_test *const guest_tests[] = {
	&gt_serial,    &gt_pio_mmio,    &gt_unclaimed,    &gt_flood,
	&gt_msi_irqfd, &gt_ioapic_edge, &gt_ioapic_level, &gt_triple_fault,
	&gt_smp,       &gt_poweroff,    &gt_reset,        &gt_demo,
	&gt_pci_enum,  &gt_pci_msix,    &gt_pci_dma,      &gt_pci_hostile,
	&gt_pci_reset, NULL,
};

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
	unsigned n = 0, failed = 0, skipped = 0;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	log_set_level(LOG_WARN);
	for (const struct guest_test *const *tp = guest_tests; *tp; tp++)
		if (selected((*tp)->name, argc, argv))
			for (size_t b = 0; hv_backends[b]; b++)
				n++;
	printf("TAP version 13\n1..%u\n", n);
	n = 0;
	for (const struct guest_test *const *tp = guest_tests; *tp; tp++) {
		const struct guest_test *t = *tp;

		if (!selected(t->name, argc, argv))
			continue;
		for (size_t b = 0; hv_backends[b]; b++) {
			const struct hv_ops *hv = hv_backends[b];
			char why[512] = "";
			uint64_t t0 = clock_ns();

			n++;
			if (hv->probe()) {
				printf(
				    "ok %u - guest/%s [%s] # SKIP no usable /dev/%s on this host\n",
				    n, t->name, hv->name, hv->name);
				skipped++;
				continue;
			}
			if (run_child(t, hv, dir, tmpdir, why, sizeof(why))) {
				printf("not ok %u - guest/%s [%s]\n# %s\n", n, t->name, hv->name,
				       why);
				failed++;
			} else {
				printf("ok %u - guest/%s [%s] (%.2f s)\n", n, t->name, hv->name,
				       (clock_ns() - t0) / 1e9);
			}
			fflush(stdout);
		}
	}
	if (!failed) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
		if (system(cmd))
			fprintf(stderr, "could not remove %s\n", tmpdir);
	} else {
		printf("# logs of this run are in %s\n", tmpdir);
	}
	(void)skipped;
	return failed ? 1 : 0;
}
