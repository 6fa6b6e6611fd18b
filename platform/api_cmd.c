/* SPDX-License-Identifier: MIT */
/*
 * The API's requests: one JSON object a line in, one JSON object a line out, in the manner of
 * QEMU's QMP ({"execute": ..., "arguments": {...}, "id": ...} answered by {"return": ...} or
 * {"error": {"class": ..., "desc": ...}}).  JSON is read and written with jansson only; nothing
 * here touches a socket, so the fuzz target drives it as the server does.
 */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "platform/internal.h"
#include "devices/pci/pci.h"
#include "devices/vfio/vfio.h"

/* The reply being built for one request. */
struct api_req {
	struct pc *pc;
	const char *cls; /* error class, NULL while the request succeeds */
	char desc[256];
};

static int api_fail(struct api_req *rq, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int api_fail(struct api_req *rq, const char *cls, const char *fmt, ...)
{
	va_list ap;

	rq->cls = cls;
	va_start(ap, fmt);
	vsnprintf(rq->desc, sizeof(rq->desc), fmt, ap);
	va_end(ap);
	/* A client's bytes quoted here may be cut inside a character: keep the reply ASCII. */
	for (char *p = rq->desc; *p; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			*p = '?';
	}
	return -1;
}

/*
 * The arguments `args` may hold: each of `keys` (NULL-terminated) with a string value.  A key
 * not listed, or a value not a string, is refused naming it.
 */
static int api_args(struct api_req *rq, json_t *args, const char *const *keys)
{
	const char *k;
	json_t *v;

	json_object_foreach(args, k, v)
	{
		bool known = false;

		for (const char *const *p = keys; *p; p++)
			known |= !strcmp(*p, k);
		if (!known)
			return api_fail(rq, API_ERR_BAD_REQUEST, "unknown argument \"%.64s\"", k);
		if (!json_is_string(v))
			return api_fail(rq, API_ERR_BAD_REQUEST,
			                "argument \"%.64s\" must be a string", k);
	}
	return 0;
}

/* json_pack with a check: a NULL (out of memory) fails the request. */
static int api_set(struct api_req *rq, json_t *obj, const char *key, json_t *v)
{
	if (!v || json_object_set_new(obj, key, v))
		return api_fail(rq, API_ERR_FAILED, "out of memory building the reply");
	return 0;
}

/* Append o (which may be NULL: out of memory) to the array a. */
static int api_append(struct api_req *rq, json_t *a, json_t *o)
{
	if (!o || json_array_append_new(a, o))
		return api_fail(rq, API_ERR_FAILED, "out of memory building the reply");
	return 0;
}

static int api_list_vcpus(struct api_req *rq, json_t *ret)
{
	struct vm *vm = rq->pc->vm;
	json_t *a = json_array();

	if (api_set(rq, ret, "vcpus", a))
		return -1;
	for (uint32_t i = 0; i < vm->nr_vcpus; i++) {
		struct vcpu *v = &vm->vcpus[i];
		json_t *o = json_pack(
		    "{s:I, s:b, s:I, s:I, s:I, s:I}", "index", (json_int_t)i, "running",
		    atomic_load(&v->running), "runs",
		    (json_int_t)atomic_load_explicit(&v->stats.runs, memory_order_relaxed), "pio",
		    (json_int_t)atomic_load_explicit(&v->stats.pio, memory_order_relaxed), "mmio",
		    (json_int_t)atomic_load_explicit(&v->stats.mmio, memory_order_relaxed), "eois",
		    (json_int_t)atomic_load_explicit(&v->stats.eois, memory_order_relaxed));

		if (api_append(rq, a, o))
			return -1;
	}
	return 0;
}

static int api_list_ports(struct api_req *rq, json_t *ret)
{
	struct pci_port_info info[PCI_MAX_ROOT_PORTS];
	unsigned n = pci_root_ports(rq->pc->pci, info, ARRAY_SIZE(info));
	json_t *a = json_array();

	if (api_set(rq, ret, "ports", a))
		return -1;
	for (unsigned i = 0; i < n && i < ARRAY_SIZE(info); i++) {
		char addr[16];
		json_t *o;

		snprintf(addr, sizeof(addr), "00:%02x.%x", info[i].devfn >> 3, info[i].devfn & 7);
		o = json_pack("{s:s, s:s, s:I, s:b, s:o}", "name", info[i].name, "address", addr,
		              "secondary_bus", (json_int_t)info[i].sec_bus, "powered",
		              info[i].powered, "device",
		              info[i].occupied ? json_string(info[i].dev_name) : json_null());
		if (api_append(rq, a, o))
			return -1;
	}
	return 0;
}

static int api_list_devices(struct api_req *rq, json_t *ret)
{
	struct vfio_info info[VM_MAX_VFIO];
	unsigned n = vfio_list(rq->pc->vfio, info, ARRAY_SIZE(info));
	json_t *a = json_array();

	if (api_set(rq, ret, "devices", a))
		return -1;
	for (unsigned i = 0; i < n && i < ARRAY_SIZE(info); i++) {
		json_t *o = json_pack("{s:s, s:s, s:s, s:{s:I, s:I, s:I, s:I, s:I}}", "bdf",
		                      info[i].bdf, "kind", "vfio", "port", info[i].port, "counters",
		                      "config_reads", (json_int_t)info[i].cfg_reads,
		                      "config_writes", (json_int_t)info[i].cfg_writes,
		                      "msi_updates", (json_int_t)info[i].msi_updates,
		                      "vectors_routed", (json_int_t)info[i].vectors_routed,
		                      "trapped_bar_accesses", (json_int_t)info[i].bar_trapped);

		if (!o || json_array_append_new(a, o))
			return api_fail(rq, API_ERR_FAILED, "out of memory building the reply");
	}
	return 0;
}

/* What SIGUSR1 prints, as JSON: the board's counters, the vCPUs', the ports and devices. */
static int api_cmd_list(struct api_req *rq, json_t *args, json_t **ret)
{
	struct pc *pc = rq->pc;
	struct ioapic_stats st = { 0 };
	json_t *r;

	if (api_args(rq, args, (const char *const[]){ NULL }))
		return -1;
	if (pc->ioapic)
		ioapic_stats(pc->ioapic, &st);
	r = json_object();
	*ret = r;
	if (!r)
		return api_fail(rq, API_ERR_FAILED, "out of memory building the reply");
	if (api_set(rq, r, "counters",
	            json_pack("{s:I, s:I, s:I, s:I}", "unclaimed_pio",
	                      (json_int_t)atomic_load(&pc->vm->pio.unclaimed), "unclaimed_mmio",
	                      (json_int_t)atomic_load(&pc->vm->mmio.unclaimed), "ioapic_interrupts",
	                      (json_int_t)st.delivered, "ioapic_eois", (json_int_t)st.eois)) ||
	    api_list_vcpus(rq, r) || api_list_ports(rq, r) || api_list_devices(rq, r))
		return -1;
	return 0;
}

static const char *api_arg_str(json_t *args, const char *key)
{
	return json_string_value(json_object_get(args, key));
}

/* A hot-plug step for the unfiltered thread, its arguments checked already. */
struct api_hp_job {
	struct pc *pc;
	struct vfio_bdf bdf;
	struct pci_port *port;
	bool add, released;
};

static int api_hp_run(void *opaque)
{
	struct api_hp_job *j = opaque;

	if (j->add)
		return vfio_hotplug_add(j->pc->vfio, &j->bdf, j->port);
	return vfio_hotplug_remove(j->pc->vfio, &j->bdf, VFIO_HOTPLUG_RELEASE_MS, &j->released);
}

/* The "bdf" argument, and the VM's ability to take devices at all. */
static int api_hp_args(struct api_req *rq, json_t *args, const char *const *keys,
                       struct api_hp_job *j)
{
	const char *bdf;

	if (api_args(rq, args, keys))
		return -1;
	bdf = api_arg_str(args, "bdf");
	if (!bdf)
		return api_fail(rq, API_ERR_BAD_REQUEST,
		                "\"bdf\" is required: a host PCI address, DDDD:BB:DD.F");
	if (vfio_bdf_parse(bdf, &j->bdf))
		return api_fail(rq, API_ERR_BAD_REQUEST,
		                "\"bdf\": '%.32s' is not a PCI address; use DDDD:BB:DD.F (hex)",
		                bdf);
	if (!rq->pc->vfio)
		return api_fail(rq, API_ERR_FAILED, "this VM was built without device hot-plug");
	j->pc = rq->pc;
	return 0;
}

/* Why a hot-plug step failed, for the client; hvmm's log has the details and the fix. */
static int api_hp_fail(struct api_req *rq, int r, const char *bdf)
{
	switch (r) {
	case -EEXIST:
		return api_fail(rq, API_ERR_BUSY, "%s is already assigned to this VM", bdf);
	case -ENOSPC:
		return api_fail(rq, API_ERR_BUSY,
		                "no room for %s: no empty root port, or 8 devices assigned", bdf);
	case -EBUSY:
		return api_fail(rq, API_ERR_BUSY,
		                "%s is in use on the host (bound to another driver, or its IOMMU "
		                "group used elsewhere); hvmm's log says how to free it",
		                bdf);
	case -ENODEV:
	case -ENOENT:
		return api_fail(
		    rq, API_ERR_NOT_FOUND,
		    "%s: no such device on this host, or not assignable (no IOMMU group "
		    "or VFIO); hvmm's log says why",
		    bdf);
	case -ECANCELED:
		return api_fail(rq, API_ERR_FAILED, "the VM is stopping");
	default:
		return api_fail(rq, API_ERR_FAILED, "%s: %s; hvmm's log says more", bdf,
		                strerror(-r));
	}
}

static int api_cmd_add_device(struct api_req *rq, json_t *args, json_t **ret)
{
	struct api_hp_job j = { .add = true };
	const char *port;
	char bdf[16];
	int r;

	if (api_hp_args(rq, args, (const char *const[]){ "bdf", "port", NULL }, &j))
		return -1;
	vfio_bdf_format(&j.bdf, bdf, sizeof(bdf));
	port = api_arg_str(args, "port");
	if (port) {
		struct pci_port_info info[PCI_MAX_ROOT_PORTS];
		unsigned n = pci_root_ports(rq->pc->pci, info, ARRAY_SIZE(info));

		if (pci_root_port_find(rq->pc->pci, port, &j.port))
			return api_fail(rq, API_ERR_NOT_FOUND,
			                "no root port \"%.32s\"; start hvmm with --pcie-root-port "
			                "%.32s",
			                port, port);
		for (unsigned i = 0; i < n && i < ARRAY_SIZE(info); i++) {
			if (!strcmp(info[i].name, port) && info[i].occupied)
				return api_fail(
				    rq, API_ERR_BUSY,
				    "root port %.32s holds %s; remove it first, or choose "
				    "an empty port",
				    port, info[i].dev_name);
		}
	}
	log_info("api: adding %s", bdf);
	if ((r = vm_run_privileged(rq->pc->vm, api_hp_run, &j)))
		return api_hp_fail(rq, r, bdf);
	*ret = json_pack("{s:s, s:s}", "bdf", bdf, "port", port ? port : "");
	if (!port && *ret) {
		struct vfio_info info[VM_MAX_VFIO];
		unsigned n = vfio_list(rq->pc->vfio, info, ARRAY_SIZE(info));

		for (unsigned i = 0; i < n && i < ARRAY_SIZE(info); i++) {
			if (!strcmp(info[i].bdf, bdf))
				json_object_set_new(*ret, "port", json_string(info[i].port));
		}
	}
	return 0;
}

static int api_cmd_remove_device(struct api_req *rq, json_t *args, json_t **ret)
{
	struct api_hp_job j = { .add = false };
	char bdf[16];
	int r;

	if (api_hp_args(rq, args, (const char *const[]){ "bdf", NULL }, &j))
		return -1;
	vfio_bdf_format(&j.bdf, bdf, sizeof(bdf));
	log_info("api: removing %s", bdf);
	r = vm_run_privileged(rq->pc->vm, api_hp_run, &j);
	if (r == -ENOENT)
		return api_fail(rq, API_ERR_NOT_FOUND, "%s is not assigned to this VM", bdf);
	if (r)
		return api_hp_fail(rq, r, bdf);
	*ret = json_pack("{s:s, s:b}", "bdf", bdf, "released_by_guest", j.released);
	return 0;
}

static int api_cmd_stop(struct api_req *rq, json_t *args, json_t **ret)
{
	if (api_args(rq, args, (const char *const[]){ NULL }))
		return -1;
	log_info("api: stop requested");
	vm_stop(rq->pc->vm, VM_EXIT_STOPPED);
	*ret = json_object();
	return 0;
}

/* The ACPI power button: the guest decides; hvmm exits 0 when it has powered off. */
static int api_cmd_shutdown(struct api_req *rq, json_t *args, json_t **ret)
{
	if (api_args(rq, args, (const char *const[]){ NULL }))
		return -1;
	log_info("api: pressing the power button");
	ged_event(rq->pc->ged, GED_EV_POWER_BUTTON);
	*ret = json_object();
	return 0;
}

static const struct api_cmd {
	const char *name;
	int (*fn)(struct api_req *rq, json_t *args, json_t **ret);
} api_cmds[] = {
	{ "add-device", api_cmd_add_device },
	{ "list", api_cmd_list },
	{ "remove-device", api_cmd_remove_device },
	{ "shutdown", api_cmd_shutdown },
	{ "stop", api_cmd_stop },
};

char *api_greeting(void)
{
	json_t *cmds = json_array(), *g;
	char *s = NULL;

	for (size_t i = 0; cmds && i < ARRAY_SIZE(api_cmds); i++)
		json_array_append_new(cmds, json_string(api_cmds[i].name));
	g = json_pack("{s:{s:s, s:i, s:o}}", "hvmm", "version", HVMM_VERSION, "protocol",
	              API_PROTOCOL, "commands", cmds);
	if (g)
		s = api_dump_line(g);
	json_decref(g);
	return s;
}

char *api_dump_line(json_t *obj)
{
	char *s = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII), *line;
	size_t n;

	if (!s)
		return NULL;
	n = strlen(s);
	line = realloc(s, n + 2);
	if (!line) {
		free(s);
		return NULL;
	}
	line[n] = '\n';
	line[n + 1] = 0;
	return line;
}

/* Parse and check the envelope; run the command.  The id, if any, goes back to the caller. */
static json_t *api_run(struct api_req *rq, const char *line, size_t len, json_t **id)
{
	json_error_t jerr;
	json_t *req, *exec, *args, *ret = NULL;
	const char *k, *name;
	json_t *v;

	req = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!req) {
		api_fail(rq, API_ERR_BAD_JSON, "not JSON: %s at column %d", jerr.text, jerr.column);
		return NULL;
	}
	if (!json_is_object(req)) {
		api_fail(
		    rq, API_ERR_BAD_REQUEST,
		    "a request is an object: {\"execute\": \"COMMAND\", \"arguments\": {...}}");
		goto out;
	}
	*id = json_incref(json_object_get(req, "id"));
	json_object_foreach(req, k, v)
	{
		if (strcmp(k, "execute") && strcmp(k, "arguments") && strcmp(k, "id")) {
			api_fail(
			    rq, API_ERR_BAD_REQUEST,
			    "unknown member \"%.64s\": a request has execute, arguments and id", k);
			goto out;
		}
	}
	exec = json_object_get(req, "execute");
	name = json_string_value(exec);
	if (!name) {
		api_fail(rq, API_ERR_BAD_REQUEST, "\"execute\" must name a command");
		goto out;
	}
	args = json_object_get(req, "arguments");
	if (args && !json_is_object(args)) {
		api_fail(rq, API_ERR_BAD_REQUEST, "\"arguments\" must be an object");
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(api_cmds); i++) {
		if (strcmp(api_cmds[i].name, name))
			continue;
		if (!args)
			args = json_object();
		else
			json_incref(args);
		if (!args)
			api_fail(rq, API_ERR_FAILED, "out of memory");
		else if (api_cmds[i].fn(rq, args, &ret) == 0 && !ret)
			api_fail(rq, API_ERR_FAILED, "out of memory building the reply");
		json_decref(args);
		goto out;
	}
	api_fail(rq, API_ERR_UNKNOWN_COMMAND, "no command \"%.64s\"; the greeting lists them",
	         name);
out:
	json_decref(req);
	if (rq->cls) {
		json_decref(ret);
		return NULL;
	}
	return ret;
}

int api_request(struct pc *pc, const char *line, size_t len, char **reply)
{
	struct api_req rq = { .pc = pc };
	json_t *id = NULL, *ret, *out;

	ret = api_run(&rq, line, len, &id);
	if (rq.cls) {
		log_debug("api: refused (%s): %s", rq.cls, rq.desc);
		out = json_pack("{s:{s:s, s:s}}", "error", "class", rq.cls, "desc", rq.desc);
	} else {
		out = json_pack("{s:o}", "return", ret);
	}
	if (out && id && json_object_set_new(out, "id", id)) {
		json_decref(out);
		return -ENOMEM;
	}
	if (!out) {
		json_decref(id);
		return -ENOMEM;
	}
	*reply = api_dump_line(out);
	json_decref(out);
	return *reply ? 0 : -ENOMEM;
}
