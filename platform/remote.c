/* SPDX-License-Identifier: MIT */
/*
 * `hvmm remote`: the API's client.  It connects to a running hvmm's --api-socket, reads the
 * greeting, sends one request built from its arguments and prints the reply's "return" value
 * (or the error, on stderr).  Nothing here exits: remote_main() returns the status.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/internal.h"

static const char remote_usage_text[] =
    "usage: hvmm remote --api-socket PATH [--timeout SECONDS] COMMAND [ARGS]\n"
    "\n"
    "Send one request to a running hvmm and print its reply.\n"
    "\n"
    "  list                       vCPUs, root ports, devices and their counters (JSON)\n"
    "  add-device BDF [PORT]      assign host device BDF (bound to vfio-pci) behind PORT,\n"
    "                             an empty root port (default: the first empty one)\n"
    "  remove-device BDF          ask the guest to release the device (attention button,\n"
    "                             up to 20 s), then take it back for the host\n"
    "  shutdown                   press the guest's ACPI power button (hvmm exits 0 once\n"
    "                             the guest has powered off)\n"
    "  stop                       stop the VM at once (hvmm exits 6)\n"
    "  send JSON                  send JSON as the request line as it is\n"
    "\n"
    "Exit status: 0 done, 1 refused or hvmm not reachable, 2 bad usage.\n";

const char *remote_usage(void)
{
	return remote_usage_text;
}

/* One line from fd into *line (malloc'd, without the newline): 0, or -errno / -EPROTO. */
static int remote_read_line(int fd, char **line)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;
		char *nl;

		if (len == cap) {
			char *b = cap >= API_MAX_BACKLOG ? NULL : realloc(buf, cap * 2);

			if (!b) {
				free(buf);
				return -EPROTO;
			}
			buf = b;
			cap *= 2;
		}
		/* Peek, then take exactly the line: the next one stays for the next call. */
		n = recv(fd, buf + len, cap - len, MSG_PEEK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int r = n == 0 ? -EPIPE : -errno;

			free(buf);
			return r;
		}
		nl = memchr(buf + len, '\n', (size_t)n);
		if (nl)
			n = nl - (buf + len) + 1;
		if (recv(fd, buf + len, (size_t)n, 0) != n) {
			free(buf);
			return -EIO;
		}
		len += (size_t)n;
		if (nl) {
			buf[len - 1] = 0;
			*line = buf;
			return 0;
		}
	}
}

static int remote_connect(const char *path, unsigned timeout_s, int *out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_s };
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path)) {
		fprintf(stderr, "hvmm remote: --api-socket %s: the path is too long\n", path);
		return -EINVAL;
	}
	memcpy(addr.sun_path, path, strlen(path));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		fprintf(stderr, "hvmm remote: socket: %s\n", strerror(errno));
		return -errno;
	}
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int r = -errno;

		fprintf(stderr,
		        "hvmm remote: cannot connect to %s: %s (is hvmm running with "
		        "--api-socket %s?)\n",
		        path, strerror(errno), path);
		close(fd);
		return r;
	}
	if (timeout_s && (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	                  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))))
		fprintf(stderr, "hvmm remote: cannot set a timeout: %s\n", strerror(errno));
	*out = fd;
	return 0;
}

/* The request line for the command in argv[0..argc); NULL and a message on bad usage. */
static char *remote_build(int argc, char **argv)
{
	const char *cmd = argv[0];
	json_t *req = NULL;
	char *line = NULL;

	if (!strcmp(cmd, "send") && argc == 2) {
		line = malloc(strlen(argv[1]) + 2);
		if (line)
			sprintf(line, "%s\n", argv[1]);
		return line;
	}
	if ((!strcmp(cmd, "list") || !strcmp(cmd, "shutdown") || !strcmp(cmd, "stop")) && argc == 1)
		req = json_pack("{s:s}", "execute", cmd);
	else if (!strcmp(cmd, "add-device") && (argc == 2 || argc == 3))
		req = argc == 3 ? json_pack("{s:s, s:{s:s, s:s}}", "execute", cmd, "arguments",
		                            "bdf", argv[1], "port", argv[2])
		                : json_pack("{s:s, s:{s:s}}", "execute", cmd, "arguments", "bdf",
		                            argv[1]);
	else if (!strcmp(cmd, "remove-device") && argc == 2)
		req = json_pack("{s:s, s:{s:s}}", "execute", cmd, "arguments", "bdf", argv[1]);
	if (!req) {
		fprintf(stderr, "hvmm remote: %s: unknown command or wrong arguments\n\n%s", cmd,
		        remote_usage_text);
		return NULL;
	}
	line = api_dump_line(req);
	json_decref(req);
	return line;
}

/* Print the reply; 0 for a "return", 1 for an "error" or a reply that is neither. */
static int remote_print(const char *line)
{
	json_t *rep = json_loads(line, 0, NULL), *ret, *err;
	int status = 1;

	ret = json_object_get(rep, "return");
	err = json_object_get(rep, "error");
	if (ret) {
		if (json_is_object(ret) && !json_object_size(ret))
			status = 0; /* nothing to show */
		else if (json_dumpf(ret, stdout, JSON_INDENT(2)) == 0 && puts("") >= 0)
			status = 0;
	} else if (err) {
		fprintf(stderr, "hvmm remote: %s: %s\n",
		        json_string_value(json_object_get(err, "class")) ?: "?",
		        json_string_value(json_object_get(err, "desc")) ?: "?");
	} else {
		fprintf(stderr, "hvmm remote: not a reply: %.200s\n", line);
	}
	json_decref(rep);
	return status;
}

int remote_main(int argc, char **argv)
{
	const char *path = NULL;
	unsigned timeout_s = 60;
	char *req = NULL, *line = NULL;
	int i = 1, fd = -1, status = 1, r;

	/* argv[0] is "remote"; options come before the command. */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(remote_usage_text, stdout);
			return 0;
		}
		if (!strcmp(argv[i], "--api-socket") && i + 1 < argc) {
			path = argv[++i];
		} else if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
			char *end;
			unsigned long t = strtoul(argv[++i], &end, 10);

			if (*end || !*argv[i] || t > 86400) {
				fprintf(stderr, "hvmm remote: --timeout: seconds, 0 to 86400\n");
				return VM_EXIT_USAGE;
			}
			timeout_s = (unsigned)t;
		} else {
			fprintf(stderr, "hvmm remote: unknown option '%s'\n\n%s", argv[i],
			        remote_usage_text);
			return VM_EXIT_USAGE;
		}
	}
	if (!path || i == argc) {
		fprintf(stderr, "hvmm remote: %s\n\n%s",
		        path ? "a command is required" : "--api-socket PATH is required",
		        remote_usage_text);
		return VM_EXIT_USAGE;
	}
	req = remote_build(argc - i, argv + i);
	if (!req)
		return VM_EXIT_USAGE;
	if (remote_connect(path, timeout_s, &fd))
		goto out;
	/* The greeting first: it says this is hvmm's API. */
	if ((r = remote_read_line(fd, &line))) {
		fprintf(stderr, "hvmm remote: %s: no greeting: %s\n", path, strerror(-r));
		goto out;
	}
	free(line);
	line = NULL;
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
		fprintf(stderr, "hvmm remote: sending the request: %s\n", strerror(errno));
		goto out;
	}
	if ((r = remote_read_line(fd, &line))) {
		fprintf(stderr, "hvmm remote: no reply: %s\n",
		        r == -EAGAIN ? "timed out (see --timeout)" : strerror(-r));
		goto out;
	}
	status = remote_print(line);
out:
	if (fd >= 0)
		close(fd);
	free(req);
	free(line);
	return status;
}
