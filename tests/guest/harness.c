/* SPDX-License-Identifier: MIT */
/* Host side of the guest-program rig: run a guest through hvmm's real VM code and collect. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guest.h"

int gt_fail(struct gt_ctx *c, const char *fmt, ...)
{
	va_list ap;

	if (c->fail[0])
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->fail, sizeof(c->fail), fmt, ap);
	va_end(ap);
	return -1;
}

bool gt_report(struct gt_ctx *c, uint64_t key, uint64_t *value)
{
	bool found = false;

	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < c->nr_reports; i++) {
		if (c->reports[i].key == key) {
			*value = c->reports[i].value;
			found = true;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return found;
}

int gt_read_file(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t n = 0;

	if (fd < 0)
		return -errno;
	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, len - 1 - n);

		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = 0;
	close(fd);
	return 0;
}

/* Copy a guest string of at most `max` bytes; the guest may hand any address. */
static void gt_guest_str(struct gt_ctx *c, uint64_t gpa, uint64_t len, char *out, size_t max)
{
	void *p;

	if (len >= max)
		len = max - 1;
	if (mem_ptr(&c->vm->mem, gpa, len, &p)) {
		snprintf(out, max, "<bad guest address %#llx>", (unsigned long long)gpa);
		return;
	}
	memcpy(out, p, len);
	out[len] = 0;
	out[strnlen(out, len)] = 0;
}

static void gt_gcall(void *opaque, uint64_t off, void *data, uint32_t len, bool is_write)
{
	struct gt_ctx *c = opaque;
	struct gcall *g;
	uint32_t gpa = 0;
	char a[256], b[256];

	if (!is_write || off != 0 || len != 4) {
		if (!is_write)
			memset(data, 0, len);
		return;
	}
	memcpy(&gpa, data, 4);
	if (mem_ptr(&c->vm->mem, gpa, sizeof(*g), (void **)&g)) {
		gt_fail(c, "guest call block at bad address %#x", gpa);
		vm_stop(c->vm, VM_EXIT_ERROR);
		return;
	}
	switch (g->cmd) {
	case GCALL_PRINT:
		gt_guest_str(c, g->args[0], g->args[1], a, sizeof(a));
		pthread_mutex_lock(&c->lock);
		c->out_len +=
		    (size_t)snprintf(c->out + c->out_len, sizeof(c->out) - c->out_len, "%s", a);
		if (c->out_len >= sizeof(c->out))
			c->out_len = sizeof(c->out) - 1;
		pthread_mutex_unlock(&c->lock);
		break;
	case GCALL_SYNC:
		g->ret = c->t->on_sync ? c->t->on_sync(c, 0, g->args[0]) : 0;
		break;
	case GCALL_DONE:
		c->done = true;
		c->done_status = g->args[0];
		vm_stop(c->vm, VM_EXIT_POWEROFF);
		break;
	case GCALL_ASSERT:
		gt_guest_str(c, g->args[0], 200, a, sizeof(a));
		gt_guest_str(c, g->args[2], 200, b, sizeof(b));
		c->assert_failed = true;
		gt_fail(c, "guest assertion failed at %s:%llu: %s", a,
		        (unsigned long long)g->args[1], b);
		break;
	case GCALL_REPORT:
		pthread_mutex_lock(&c->lock);
		if (c->nr_reports < GT_MAX_REPORTS)
			c->reports[c->nr_reports++] =
			    (struct gt_report){ 0, g->args[0], g->args[1] };
		pthread_mutex_unlock(&c->lock);
		break;
	default:
		gt_fail(c, "unknown guest call %llu", (unsigned long long)g->cmd);
		vm_stop(c->vm, VM_EXIT_ERROR);
		break;
	}
}

int gt_run(const struct guest_test *t, const struct hv_ops *hv, const char *guest_dir,
           struct gt_ctx *c)
{
	struct vm_config cfg = {
		.hypervisor = hv->name,
		.mem_size = t->mem ? t->mem : MiB(16),
		.nr_cpus = t->cpus ? t->cpus : 1,
		.cmdline = t->cmdline ? t->cmdline : "",
		.serial = SERIAL_FILE,
		.serial_path = c->serial_path,
		.log_level = log_get_level(),
	};
	char path[512];
	void *img = NULL;
	size_t len;
	int code = -1, r;

	c->t = t;
	c->hv = hv;
	pthread_mutex_init(&c->lock, NULL);
	snprintf(path, sizeof(path), "%s/%s.elf", guest_dir, t->guest ? t->guest : t->name);
	cfg.kernel = path;
	if (boot_read_file(path, &img, &len))
		return gt_fail(c, "cannot read guest program %s", path), 1;
	if ((r = pc_create(&cfg, hv, &c->pc))) {
		free(img);
		return gt_fail(c, "pc_create: %s", strerror(-r)), 1;
	}
	c->vm = c->pc->vm;
	r = boot_load(c->vm, &cfg, img, len);
	free(img);
	if (r) {
		gt_fail(c, "boot_load: %s", strerror(-r));
		goto out;
	}
	if ((r = bus_register(&c->vm->pio, GCALL_PORT, 4, gt_gcall, c, "guest call port"))) {
		gt_fail(c, "registering the guest call port: %s", strerror(-r));
		goto out;
	}
	if (t->setup && t->setup(c)) {
		gt_fail(c, "test setup failed");
		goto out;
	}
	if ((r = vm_run(c->vm, -1, &code))) {
		gt_fail(c, "vm_run: %s", strerror(-r));
		goto out;
	}
	if (code != t->expect_exit)
		gt_fail(c, "hvmm exit code %d, expected %d", code, t->expect_exit);
	if (t->expect_done && !c->done)
		gt_fail(c, "the guest never reported done");
	if (t->expect_done && c->done && c->done_status)
		gt_fail(c, "the guest reported failure status %llu",
		        (unsigned long long)c->done_status);
	if (!c->fail[0] && t->check)
		t->check(c);
out:
	/* Teardown happens before the verdict: a leak or crash in it fails the test too. */
	vm_destroy(c->vm);
	c->vm = NULL;
	c->pc = NULL;
	return c->fail[0] ? 1 : 0;
}
