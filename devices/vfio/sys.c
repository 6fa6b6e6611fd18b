/* SPDX-License-Identifier: MIT */
/* The host's real calls behind struct vfio_sys: each returns -errno instead of -1. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "devices/vfio/internal.h"

static int host_open(void *ctx, const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC);

	(void)ctx;
	return fd < 0 ? -errno : fd;
}

static int host_close(void *ctx, int fd)
{
	(void)ctx;
	return close(fd) < 0 ? -errno : 0;
}

static int host_ioctl(void *ctx, int fd, unsigned long req, void *arg)
{
	int r = ioctl(fd, req, arg);

	(void)ctx;
	return r < 0 ? -errno : r;
}

static ssize_t host_pread(void *ctx, int fd, void *buf, size_t len, off_t off)
{
	ssize_t r = pread(fd, buf, len, off);

	(void)ctx;
	return r < 0 ? -errno : r;
}

static ssize_t host_pwrite(void *ctx, int fd, const void *buf, size_t len, off_t off)
{
	ssize_t r = pwrite(fd, buf, len, off);

	(void)ctx;
	return r < 0 ? -errno : r;
}

static void *host_mmap(void *ctx, size_t len, int prot, int flags, int fd, off_t off, int *err)
{
	void *p = mmap(NULL, len, prot, flags, fd, off);

	(void)ctx;
	*err = p == MAP_FAILED ? -errno : 0;
	return p;
}

static int host_munmap(void *ctx, void *addr, size_t len)
{
	(void)ctx;
	return munmap(addr, len) < 0 ? -errno : 0;
}

static int host_readlink(void *ctx, const char *path, char *buf, size_t len)
{
	ssize_t n = readlink(path, buf, len - 1);

	(void)ctx;
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

static int host_read_text(void *ctx, const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	(void)ctx;
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

static int host_list_dir(void *ctx, const char *path, void (*fn)(void *, const char *), void *arg)
{
	DIR *d = opendir(path);
	struct dirent *e;

	(void)ctx;
	if (!d)
		return -errno;
	while ((e = readdir(d))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			fn(arg, e->d_name);
	}
	closedir(d);
	return 0;
}

static bool host_exists(void *ctx, const char *path)
{
	(void)ctx;
	return access(path, F_OK) == 0;
}

/* CAP_IPC_LOCK lets the type1 IOMMU pin memory past RLIMIT_MEMLOCK. */
static bool host_can_ipc_lock(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/status", "re");
	bool cap = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long eff;

		if (sscanf(line, "CapEff: %llx", &eff) == 1) {
			cap = eff & (1ull << 14);
			break;
		}
	}
	fclose(f);
	return cap;
}

static int host_memlock_limit(void *ctx, uint64_t *out)
{
	struct rlimit rl;

	(void)ctx;
	if (host_can_ipc_lock()) {
		*out = UINT64_MAX;
		return 0;
	}
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		return -errno;
	*out = rl.rlim_cur == RLIM_INFINITY ? UINT64_MAX : (uint64_t)rl.rlim_cur;
	return 0;
}

const struct vfio_sys vfio_sys_host = {
	.open = host_open,
	.close = host_close,
	.ioctl = host_ioctl,
	.pread = host_pread,
	.pwrite = host_pwrite,
	.mmap = host_mmap,
	.munmap = host_munmap,
	.readlink = host_readlink,
	.read_text = host_read_text,
	.list_dir = host_list_dir,
	.exists = host_exists,
	.memlock_limit = host_memlock_limit,
};
