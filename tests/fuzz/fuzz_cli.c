/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target cli: cli_parse() on an argument vector, and cli_parse_size() on each argument.
 *
 * Input: one byte choosing the size of the error buffer, then the arguments separated by NUL
 * bytes (argv[0] is "hvmm"; at most 64 arguments).
 *
 * Checked: the result is 0 or -EINVAL; a refusal leaves a terminated, non-empty message; an
 * accepted configuration holds only what the options allow (sizes, counts and names in range,
 * every --vfio address valid and its port one of the --pcie-root-port names, a kernel unless
 * --help or --version).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "devices/vfio/vfio.h"
#include "tests/fuzz/fuzz.h"

#define MAX_ARGS 64

static void check_config(const struct vm_config *cfg)
{
	FUZZ_CHECK(cfg->mem_size >= MEM_MIN_SIZE && cfg->mem_size <= MEM_MAX_SIZE &&
	           !(cfg->mem_size & 0xfff));
	FUZZ_CHECK(cfg->nr_cpus >= 1 && cfg->nr_cpus <= VM_MAX_CPUS);
	FUZZ_CHECK(cfg->help || cfg->version || (cfg->kernel && cfg->kernel[0]));
	FUZZ_CHECK(cfg->nr_vfio <= VM_MAX_VFIO && cfg->nr_root_ports <= VM_MAX_ROOT_PORTS);
	FUZZ_CHECK(!strcmp(cfg->hypervisor, "kvm") || !strcmp(cfg->hypervisor, "mshv") ||
	           !strcmp(cfg->hypervisor, "auto"));
	FUZZ_CHECK(cfg->serial != SERIAL_FILE || (cfg->serial_path && cfg->serial_path[0]));
	for (unsigned i = 0; i < cfg->nr_root_ports; i++) {
		size_t n = strlen(cfg->root_ports[i]);

		FUZZ_CHECK(n >= 1 && n <= 31);
		for (unsigned j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(cfg->root_ports[i], cfg->root_ports[j]));
	}
	for (unsigned i = 0; i < cfg->nr_vfio; i++) {
		struct vfio_bdf bdf;
		bool known = !cfg->vfio_port[i][0];

		FUZZ_CHECK(vfio_bdf_parse(cfg->vfio_bdf[i], &bdf) == 0);
		FUZZ_CHECK(fuzz_terminated(cfg->vfio_port[i], sizeof(cfg->vfio_port[i])));
		for (unsigned p = 0; p < cfg->nr_root_ports; p++)
			known |= !strcmp(cfg->vfio_port[i], cfg->root_ports[p]);
		FUZZ_CHECK(known);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t errlens[] = { 1, 8, 64, 512 };
	struct fuzz_in in = { data, size };
	size_t errlen = errlens[fuzz_u8(&in) & 3], len;
	const uint8_t *rest = fuzz_bytes(&in, in.n, &len);
	char *buf = malloc(len + 1), *argv[MAX_ARGS + 1], err[512];
	struct vm_config cfg;
	int argc = 1, r;

	if (!buf)
		fuzz_fail(__FILE__, __LINE__, "out of memory");
	memcpy(buf, rest, len);
	buf[len] = 0;
	argv[0] = "hvmm";
	/* Every NUL ends an argument; a trailing one does not start an empty argument. */
	for (size_t at = 0; at < len && argc < MAX_ARGS; at += strlen(buf + at) + 1)
		argv[argc++] = buf + at;
	argv[argc] = NULL;
	for (int i = 1; i < argc; i++) {
		uint64_t v;

		/* A size is digits first; a lone digit is always one. */
		if (cli_parse_size(argv[i], &v) == 0)
			FUZZ_CHECK(argv[i][0] >= '0' && argv[i][0] <= '9');
		else
			FUZZ_CHECK(argv[i][0] < '0' || argv[i][0] > '9' || argv[i][1]);
	}
	memset(err, 0x55, sizeof(err));
	r = cli_parse(argc, argv, &cfg, err, errlen);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r)
		FUZZ_CHECK(fuzz_terminated(err, errlen) && (errlen == 1 || err[0]));
	else
		check_config(&cfg);
	free(buf);
	return 0;
}
