/* SPDX-License-Identifier: MIT */
/* hvmm's entry point: the only place that exits. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "platform/platform.h"

/* Input errors exit 2 (fix the command line or the file); everything else exits 1. */
static int exit_for(int err)
{
	switch (err) {
	case -ENOENT:
	case -EACCES:
	case -EISDIR:
	case -ENOEXEC:
	case -E2BIG:
	case -EINVAL:
	case -ENODEV:
		return VM_EXIT_USAGE;
	default:
		return VM_EXIT_ERROR;
	}
}

int main(int argc, char **argv)
{
	struct vm_config cfg;
	const struct hv_ops *hv;
	struct pc *pc = NULL;
	struct api *api = NULL;
	void *img = NULL;
	size_t img_len = 0;
	char err[512];
	sigset_t sigs;
	int sfd = -1, code = VM_EXIT_ERROR, r;

	if (argc > 1 && !strcmp(argv[1], "remote")) {
		signal(SIGPIPE, SIG_IGN);
		return remote_main(argc - 1, argv + 1);
	}
	if (cli_parse(argc, argv, &cfg, err, sizeof(err))) {
		fprintf(stderr, "hvmm: %s\n", err);
		return VM_EXIT_USAGE;
	}
	if (cfg.help) {
		fputs(cli_usage(), stdout);
		return 0;
	}
	if (cfg.version) {
		printf("hvmm %s\n", HVMM_VERSION);
		return 0;
	}
	log_set_level(cfg.log_level);
	/* A console reader that goes away must not kill the VM with SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);

	/* Read and check the inputs before touching the hypervisor. */
	if (access(cfg.kernel, R_OK) < 0) {
		r = -errno;
		log_err("--kernel %s: %s", cfg.kernel, strerror(errno));
		code = exit_for(r);
		goto out;
	}
	if ((r = boot_read_file(cfg.kernel, &img, &img_len)) ||
	    (r = boot_check_kernel(cfg.kernel, img, img_len))) {
		code = exit_for(r);
		goto out;
	}
	if (cfg.initrd && access(cfg.initrd, R_OK) < 0) {
		r = -errno;
		log_err("--initrd %s: %s", cfg.initrd, strerror(errno));
		code = exit_for(r);
		goto out;
	}
	if (cfg.api_socket && (r = api_open(cfg.api_socket, &api))) {
		code = exit_for(r);
		goto out;
	}
	if ((r = hv_select(cfg.hypervisor, &hv))) {
		code = exit_for(r);
		goto out;
	}

	/* Threads inherit this mask: these signals reach only the event loop, via signalfd. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	sfd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		goto out;
	}

	if ((r = pc_create(&cfg, hv, &pc))) {
		code = r == -EINVAL ? VM_EXIT_USAGE : VM_EXIT_ERROR;
		goto out;
	}
	if ((r = boot_load(pc->vm, &cfg, img, img_len))) {
		code = exit_for(r);
		goto out;
	}
	free(img);
	img = NULL;
	/* The API thread starts with the VM: a request never finds a VM half built. */
	if (api && api_start(api, pc, cfg.sandbox))
		goto out;
	if (vm_run(pc->vm, sfd, &code))
		code = VM_EXIT_ERROR;
	api_close(api);
	api = NULL;
	if (atomic_load(&pc->vm->abandoned)) {
		vm_abandon(pc->vm);
		return code; /* vCPU threads still run: exit without tearing the VM down */
	}
	/*
	 * Everything is printed: the kernel's release of the VM need not delay the exit.  Not
	 * with --seccomp off, which is for running hvmm under tools (valgrind) that cannot follow
	 * the CLONE_VM child that release takes.
	 */
	fflush(NULL);
	if (cfg.sandbox != SANDBOX_OFF)
		vm_detach_teardown(pc->vm);
out:
	api_close(api);
	if (pc)
		vm_destroy(pc->vm);
	free(img);
	if (sfd >= 0)
		close(sfd);
	return code;
}
