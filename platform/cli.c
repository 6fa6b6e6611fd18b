/* SPDX-License-Identifier: MIT */
/* Command-line parsing: table-driven, no global getopt state, one line per error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/platform.h"
#include "devices/vfio/vfio.h"

static const char usage_text[] =
    "usage: hvmm [options] --kernel FILE\n"
    "\n"
    "Run a virtual machine on KVM or the Microsoft Hypervisor.\n"
    "\n"
    "  --hypervisor kvm|mshv|auto  hypervisor to use (default auto: KVM, then MSHV)\n"
    "  --memory SIZE               guest RAM, with K, M or G suffix (default 256M)\n"
    "  --memory-backend anon|memfd|hugetlb\n"
    "                              what backs guest RAM (default anon; hugetlb: 2 MiB\n"
    "                              pages from the host's pool, quicker to pin for --vfio)\n"
    "  --cpus N                    number of vCPUs, 1 to 255 (default 1)\n"
    "  --kernel FILE               guest kernel: an ELF64 executable or a Linux bzImage\n"
    "  --initrd FILE               initial ramdisk\n"
    "  --cmdline STR               kernel command line\n"
    "  --vfio [PORT:]DDDD:BB:DD.F  assign a host PCI device bound to vfio-pci\n"
    "                              (repeatable; BB:DD.F is accepted too)\n"
    "  --pcie-root-port NAME       create a root port to place a --vfio device behind\n"
    "  --vfio-bars auto|trap       map --vfio BARs into the guest where the hypervisor can\n"
    "                              (auto, the default), or trap and proxy every access\n"
    "  --api-socket PATH           serve the control API on this unix socket\n"
    "                              (hvmm remote, docs/api.md)\n"
    "  --seccomp on|log|off        system-call filter on vCPU, event-loop and API threads\n"
    "                              (default on; log: record violations, do not stop)\n"
    "  --serial stdio|file:PATH|none\n"
    "                              where COM1 goes (default stdio; Ctrl-A x quits)\n"
    "  -v, --verbose               more messages (twice for debug)\n"
    "  -q, --quiet                 errors only\n"
    "  -h, --help                  this text\n"
    "  --version                   print the version\n"
    "\n"
    "\n"
    "       hvmm remote --api-socket PATH COMMAND [ARGS]   (hvmm remote --help)\n"
    "\n"
    "Exit status: 0 guest powered off, 1 error, 2 bad usage or input, 3 guest reset,\n"
    "4 guest crashed (triple fault), 5 an assigned device taken back or failed,\n"
    "6 stopped through the API, 128+N stopped by signal N.\n";

const char *cli_usage(void)
{
	return usage_text;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	unsigned shift = 0;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		shift = 10;
		end++;
		break;
	case 'm':
	case 'M':
		shift = 20;
		end++;
		break;
	case 'g':
	case 'G':
		shift = 30;
		end++;
		break;
	case 't':
	case 'T':
		shift = 40;
		end++;
		break;
	default:
		break;
	}
	/* Accept "512M" and "512MiB"/"512MB" alike; nothing else may follow. */
	if (shift && (*end == 'i' || *end == 'I'))
		end++;
	if (shift && (*end == 'b' || *end == 'B'))
		end++;
	if (*end || (shift && v > (UINT64_MAX >> shift)))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int parse_u32(const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long v;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

enum opt_id {
	OPT_HYPERVISOR,
	OPT_MEMORY,
	OPT_MEMORY_BACKEND,
	OPT_CPUS,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_SERIAL,
	OPT_VFIO,
	OPT_ROOT_PORT,
	OPT_VFIO_BARS,
	OPT_SECCOMP,
	OPT_API_SOCKET,
	OPT_VERBOSE,
	OPT_QUIET,
	OPT_HELP,
	OPT_VERSION,
};

struct opt {
	const char *name;
	char short_name;
	bool has_arg;
	enum opt_id id;
	const char *form; /* the accepted form, quoted in errors */
};

static const struct opt opts[] = {
	{ "hypervisor", 0, true, OPT_HYPERVISOR, "kvm, mshv or auto" },
	{ "memory", 0, true, OPT_MEMORY,
	  "a size from 2M to 1024G with a K, M or G suffix, a multiple of 4K (e.g. 512M)" },
	{ "memory-backend", 0, true, OPT_MEMORY_BACKEND, "anon, memfd or hugetlb" },
	{ "cpus", 0, true, OPT_CPUS, "a number from 1 to 255" },
	{ "kernel", 0, true, OPT_KERNEL, "a path to an ELF64 executable or a Linux bzImage" },
	{ "initrd", 0, true, OPT_INITRD, "a path to an initial ramdisk" },
	{ "cmdline", 0, true, OPT_CMDLINE, "a string" },
	{ "serial", 0, true, OPT_SERIAL, "stdio, file:PATH or none" },
	{ "vfio", 0, true, OPT_VFIO,
	  "[PORT:]DDDD:BB:DD.F or BB:DD.F, a PCI address in hex (e.g. 0000:01:00.0), at most 8" },
	{ "pcie-root-port", 0, true, OPT_ROOT_PORT,
	  "a new name of letters, digits, '-' and '_', at most 31 characters, at most 16 ports" },
	{ "vfio-bars", 0, true, OPT_VFIO_BARS, "auto or trap" },
	{ "seccomp", 0, true, OPT_SECCOMP, "on, log or off" },
	{ "api-socket", 0, true, OPT_API_SOCKET, "a path for a unix socket, 1 to 107 bytes" },
	{ "verbose", 'v', false, OPT_VERBOSE, NULL },
	{ "quiet", 'q', false, OPT_QUIET, NULL },
	{ "help", 'h', false, OPT_HELP, NULL },
	{ "version", 0, false, OPT_VERSION, NULL },
};

static bool cli_port_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 31)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/*
 * Split "PORT:BDF" now that every --pcie-root-port is known: "abcd:01:00.0" is port abcd if
 * such a port was created, else domain 0xabcd.
 */
static int cli_finish_vfio(struct vm_config *cfg, char *err, size_t errlen)
{
	for (unsigned i = 0; i < cfg->nr_vfio; i++) {
		const char *arg = cfg->vfio_bdf[i], *colon = strchr(arg, ':');
		struct vfio_bdf bdf;

		cfg->vfio_port[i][0] = 0;
		for (unsigned p = 0; colon && p < cfg->nr_root_ports; p++) {
			size_t n = strlen(cfg->root_ports[p]);

			if ((size_t)(colon - arg) == n && !strncmp(arg, cfg->root_ports[p], n)) {
				snprintf(cfg->vfio_port[i], sizeof(cfg->vfio_port[i]), "%s",
				         cfg->root_ports[p]);
				cfg->vfio_bdf[i] = colon + 1;
				break;
			}
		}
		if (vfio_bdf_parse(cfg->vfio_bdf[i], &bdf)) {
			if (colon && !cfg->vfio_port[i][0] && vfio_bdf_parse(colon + 1, &bdf) == 0)
				snprintf(err, errlen,
				         "--vfio %s: no root port '%.*s'; create it with "
				         "--pcie-root-port %.*s",
				         arg, (int)(colon - arg), arg, (int)(colon - arg), arg);
			else
				snprintf(err, errlen, "--vfio: invalid value '%s': expected %s",
				         arg, opts[OPT_VFIO].form);
			return -EINVAL;
		}
		for (unsigned j = 0; j < i; j++) {
			struct vfio_bdf o;

			if (vfio_bdf_parse(cfg->vfio_bdf[j], &o) == 0 && o.domain == bdf.domain &&
			    o.bus == bdf.bus && o.dev == bdf.dev && o.fn == bdf.fn) {
				snprintf(err, errlen, "--vfio %s: the device is given twice", arg);
				return -EINVAL;
			}
		}
	}
	return 0;
}

static void cli_defaults(struct vm_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->hypervisor = "auto";
	cfg->mem_size = MiB(256);
	cfg->nr_cpus = 1;
	cfg->cmdline = "";
	cfg->serial = SERIAL_STDIO;
	cfg->log_level = LOG_WARN;
}

static int cli_apply(const struct opt *o, const char *val, struct vm_config *cfg)
{
	uint64_t size;

	switch (o->id) {
	case OPT_HYPERVISOR: {
		/* "auto" or a backend this binary has (a test build has the simulator too). */
		bool known = !strcmp(val, "auto");

		for (size_t i = 0; !known && hv_backends[i]; i++)
			known = !strcmp(val, hv_backends[i]->name);
		if (!known)
			return -EINVAL;
		cfg->hypervisor = val;
		return 0;
	}
	case OPT_MEMORY:
		if (cli_parse_size(val, &size) || size < MEM_MIN_SIZE || size > MEM_MAX_SIZE ||
		    (size & 0xfff))
			return -EINVAL;
		cfg->mem_size = size;
		return 0;
	case OPT_MEMORY_BACKEND:
		return mem_backend_parse(val, &cfg->mem_backend);
	case OPT_CPUS:
		return parse_u32(val, 1, VM_MAX_CPUS, &cfg->nr_cpus);
	case OPT_KERNEL:
	case OPT_INITRD:
		if (!*val)
			return -EINVAL;
		*(o->id == OPT_KERNEL ? &cfg->kernel : &cfg->initrd) = val;
		return 0;
	case OPT_CMDLINE:
		cfg->cmdline = val;
		return 0;
	case OPT_SERIAL:
		if (!strcmp(val, "stdio")) {
			cfg->serial = SERIAL_STDIO;
		} else if (!strcmp(val, "none")) {
			cfg->serial = SERIAL_NONE;
		} else if (!strncmp(val, "file:", 5) && val[5]) {
			cfg->serial = SERIAL_FILE;
			cfg->serial_path = val + 5;
		} else {
			return -EINVAL;
		}
		return 0;
	case OPT_VFIO:
		if (cfg->nr_vfio == VM_MAX_VFIO || !*val)
			return -EINVAL;
		cfg->vfio_bdf[cfg->nr_vfio++] = val; /* split and checked by cli_finish_vfio() */
		return 0;
	case OPT_VFIO_BARS:
		if (!strcmp(val, "auto"))
			cfg->vfio_trap_bars = false;
		else if (!strcmp(val, "trap"))
			cfg->vfio_trap_bars = true;
		else
			return -EINVAL;
		return 0;
	case OPT_SECCOMP:
		if (!strcmp(val, "on"))
			cfg->sandbox = SANDBOX_ON;
		else if (!strcmp(val, "log"))
			cfg->sandbox = SANDBOX_LOG;
		else if (!strcmp(val, "off"))
			cfg->sandbox = SANDBOX_OFF;
		else
			return -EINVAL;
		return 0;
	case OPT_API_SOCKET:
		if (!*val || strlen(val) > 107)
			return -EINVAL;
		cfg->api_socket = val;
		return 0;
	case OPT_ROOT_PORT:
		if (cfg->nr_root_ports == VM_MAX_ROOT_PORTS || !cli_port_name_ok(val))
			return -EINVAL;
		for (unsigned i = 0; i < cfg->nr_root_ports; i++) {
			if (!strcmp(cfg->root_ports[i], val))
				return -EINVAL;
		}
		cfg->root_ports[cfg->nr_root_ports++] = val;
		return 0;
	case OPT_VERBOSE:
		if (cfg->log_level < LOG_DEBUG)
			cfg->log_level = cfg->log_level < LOG_INFO ? LOG_INFO : LOG_DEBUG;
		return 0;
	case OPT_QUIET:
		cfg->log_level = LOG_ERR;
		return 0;
	case OPT_HELP:
		cfg->help = true;
		return 0;
	case OPT_VERSION:
		cfg->version = true;
		return 0;
	}
	return -EINVAL;
}

static const struct opt *cli_find(const char *arg, size_t len, bool is_short)
{
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++) {
		if (is_short ? opts[i].short_name == arg[0]
		             : strlen(opts[i].name) == len && !strncmp(opts[i].name, arg, len))
			return &opts[i];
	}
	return NULL;
}

int cli_parse(int argc, char **argv, struct vm_config *cfg, char *err, size_t errlen)
{
	cli_defaults(cfg);
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i], *val = NULL, *eq;
		const struct opt *o;

		if (arg[0] == '-' && arg[1] == '-' && arg[2]) {
			eq = strchr(arg + 2, '=');
			o = cli_find(arg + 2, eq ? (size_t)(eq - arg - 2) : strlen(arg + 2), false);
			if (eq)
				val = eq + 1;
		} else if (arg[0] == '-' && arg[1] && !arg[2]) {
			o = cli_find(arg + 1, 1, true);
		} else {
			snprintf(err, errlen, "unexpected argument '%s'; see hvmm --help", arg);
			return -EINVAL;
		}
		if (!o) {
			snprintf(err, errlen, "unknown option '%s'; see hvmm --help", arg);
			return -EINVAL;
		}
		if (o->has_arg && !val) {
			if (i + 1 >= argc) {
				snprintf(err, errlen, "--%s needs a value: %s", o->name, o->form);
				return -EINVAL;
			}
			val = argv[++i];
		} else if (!o->has_arg && val) {
			snprintf(err, errlen, "--%s takes no value", o->name);
			return -EINVAL;
		}
		if (cli_apply(o, val, cfg)) {
			snprintf(err, errlen, "--%s: invalid value '%s': expected %s", o->name, val,
			         o->form);
			return -EINVAL;
		}
	}
	if (cli_finish_vfio(cfg, err, errlen))
		return -EINVAL;
	if (!cfg->help && !cfg->version && !cfg->kernel) {
		snprintf(err, errlen, "--kernel is required: %s", opts[OPT_KERNEL].form);
		return -EINVAL;
	}
	return 0;
}
