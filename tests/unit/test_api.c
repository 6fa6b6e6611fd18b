/*
 * The API socket as a client sees it: a VM on the fake hypervisor, the server thread under its
 * seccomp filter, clients over a real unix socket; every request and every refusal, and
 * `hvmm remote` against the same server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>

#include "platform/internal.h"
#include "tests/unit/unit.h"

static struct pc *pc;
static struct api *api;
static char path[108];

static int setup(void **state)
{
	static const char *const ports[] = { "hp0", "hp1" };

	(void)state;
	fake_hv_reset();
	log_set_level(LOG_ERR);
	snprintf(path, sizeof(path), "/tmp/hvmm-api-%d.sock", getpid());
	unlink(path);
	if (api_open(path, &api))
		return -1;
	if (fake_pc_create_ports(2, MiB(16), ports, 2, false, &pc))
		return -1;
	return api_start(api, pc, SANDBOX_ON);
}

static int teardown(void **state)
{
	(void)state;
	api_close(api);
	vm_destroy(pc->vm);
	return 0;
}

static int cl_open(void)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 10 };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	memcpy(addr.sun_path, path, strlen(path));
	assert_int_equal(connect(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	return fd;
}

/* One line from the server, parsed; NULL at end of stream. */
static json_t *cl_read(int fd)
{
	char buf[65536];
	size_t n = 0;

	while (n < sizeof(buf) - 1) {
		ssize_t r = recv(fd, buf + n, 1, 0);

		if (r <= 0) {
			assert_int_equal(n, 0); /* never half a line */
			return NULL;
		}
		if (buf[n++] == '\n')
			break;
	}
	buf[n] = 0;
	json_t *j = json_loads(buf, 0, NULL);

	assert_non_null(j);
	return j;
}

/* A client past the greeting, which names this API. */
static int cl_connect(void)
{
	int fd = cl_open();
	json_t *g = cl_read(fd);

	assert_non_null(g);
	assert_int_equal(
	    json_integer_value(json_object_get(json_object_get(g, "hvmm"), "protocol")),
	    API_PROTOCOL);
	json_decref(g);
	return fd;
}

static json_t *cl_req(int fd, const char *line)
{
	assert_int_equal(send(fd, line, strlen(line), MSG_NOSIGNAL), (ssize_t)strlen(line));
	return cl_read(fd);
}

/* The error class of a reply (which must be an error). */
static const char *err_class(json_t *rep)
{
	json_t *e = json_object_get(rep, "error");

	assert_non_null(e);
	assert_null(json_object_get(rep, "return"));
	assert_non_null(json_string_value(json_object_get(e, "desc")));
	return json_string_value(json_object_get(e, "class"));
}

static void expect_error(int fd, const char *line, const char *cls)
{
	json_t *rep = cl_req(fd, line);

	assert_non_null(rep);
	assert_string_equal(err_class(rep), cls);
	json_decref(rep);
}

static void test_list(void **state)
{
	int fd = cl_connect();
	json_t *rep, *ret, *ports;

	(void)state;
	rep = cl_req(fd, "{\"execute\": \"list\", \"id\": 7}\n");
	ret = json_object_get(rep, "return");
	assert_non_null(ret);
	assert_int_equal(json_integer_value(json_object_get(rep, "id")), 7);
	assert_int_equal(json_array_size(json_object_get(ret, "vcpus")), 2);
	assert_int_equal(json_integer_value(json_object_get(
	                     json_array_get(json_object_get(ret, "vcpus"), 1), "index")),
	                 1);
	assert_non_null(json_object_get(json_object_get(ret, "counters"), "unclaimed_mmio"));
	ports = json_object_get(ret, "ports");
	assert_int_equal(json_array_size(ports), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(ports, 0), "name")),
	                    "hp0");
	assert_true(json_is_null(json_object_get(json_array_get(ports, 1), "device")));
	json_decref(rep);
	/* Counters move: an unclaimed access shows in the next list. */
	{
		uint8_t v;

		bus_access(&pc->vm->pio, 0x7777, &v, 1, false);
		rep = cl_req(fd, "{\"execute\":\"list\"}\n");
		ret = json_object_get(json_object_get(rep, "return"), "counters");
		assert_true(json_integer_value(json_object_get(ret, "unclaimed_pio")) >= 1);
		assert_null(json_object_get(rep, "id"));
		json_decref(rep);
	}
	close(fd);
}

/* Every malformed request gets its error, and the connection and the VM go on. */
static void test_refusals(void **state)
{
	int fd = cl_connect();
	json_t *rep;

	(void)state;
	expect_error(fd, "{\"execute\": \"list\"\n", API_ERR_BAD_JSON);
	expect_error(fd, "\x01\xff garbage\n", API_ERR_BAD_JSON);
	expect_error(fd, "[1, 2]\n", API_ERR_BAD_REQUEST);
	expect_error(fd, "{}\n", API_ERR_BAD_REQUEST);
	expect_error(fd, "{\"execute\": 3}\n", API_ERR_BAD_REQUEST);
	expect_error(fd, "{\"execute\": \"list\", \"arguments\": []}\n", API_ERR_BAD_REQUEST);
	expect_error(fd, "{\"execute\": \"list\", \"extra\": 1}\n", API_ERR_BAD_REQUEST);
	expect_error(fd, "{\"execute\": \"list\", \"arguments\": {\"x\": \"y\"}}\n",
	             API_ERR_BAD_REQUEST);
	expect_error(fd, "{\"execute\": \"list\", \"execute\": \"stop\"}\n", API_ERR_BAD_JSON);
	expect_error(fd, "{\"execute\": \"reboot\"}\n", API_ERR_UNKNOWN_COMMAND);
	/* An error keeps the request's id. */
	rep = cl_req(fd, "{\"execute\": \"nope\", \"id\": \"abc\"}\n");
	assert_string_equal(json_string_value(json_object_get(rep, "id")), "abc");
	json_decref(rep);
	/* Blank lines are skipped; CRLF is fine. */
	rep = cl_req(fd, "\n\r\n{\"execute\": \"list\"}\r\n");
	assert_non_null(json_object_get(rep, "return"));
	json_decref(rep);
	assert_int_equal(atomic_load(&pc->vm->stopping), 0);
	close(fd);
}

/* A line longer than API_MAX_REQUEST: TooLarge, then the connection ends; others go on. */
static void test_oversized(void **state)
{
	int fd = cl_connect(), other = cl_connect();
	char *big = malloc(API_MAX_REQUEST + 100);
	json_t *rep;

	(void)state;
	memset(big, ' ', API_MAX_REQUEST + 100);
	memcpy(big, "{\"execute\": \"list\"", 18);
	/* The server may close before taking it all: a broken pipe is fine here. */
	send(fd, big, API_MAX_REQUEST + 100, MSG_NOSIGNAL);
	rep = cl_read(fd);
	assert_string_equal(err_class(rep), API_ERR_TOO_LARGE);
	json_decref(rep);
	assert_null(cl_read(fd));
	close(fd);
	free(big);
	rep = cl_req(other, "{\"execute\": \"list\"}\n");
	assert_non_null(json_object_get(rep, "return"));
	json_decref(rep);
	close(other);
	assert_int_equal(atomic_load(&pc->vm->stopping), 0);
}

/* Two clients at once, requests interleaved and split across writes; the ninth is refused. */
static void test_clients(void **state)
{
	int a = cl_connect(), b = cl_connect(), more[API_MAX_CLIENTS], extra;
	const char *half = "{\"execute\": \"li", *rest = "st\", \"id\": 1}\n";
	json_t *rep;

	(void)state;
	assert_int_equal(send(a, half, strlen(half), 0), (ssize_t)strlen(half));
	rep = cl_req(b, "{\"execute\": \"list\", \"id\": 2}\n");
	assert_int_equal(json_integer_value(json_object_get(rep, "id")), 2);
	json_decref(rep);
	rep = cl_req(a, rest);
	assert_int_equal(json_integer_value(json_object_get(rep, "id")), 1);
	json_decref(rep);
	/* Two requests in one write: two replies, in order. */
	assert_int_equal(
	    send(b, "{\"execute\":\"list\",\"id\":3}\n{\"execute\":\"x\",\"id\":4}\n", 50, 0), 50);
	rep = cl_read(b);
	assert_int_equal(json_integer_value(json_object_get(rep, "id")), 3);
	json_decref(rep);
	rep = cl_read(b);
	assert_int_equal(json_integer_value(json_object_get(rep, "id")), 4);
	json_decref(rep);
	for (unsigned i = 0; i < API_MAX_CLIENTS - 2; i++)
		more[i] = cl_connect();
	extra = cl_open();
	rep = cl_read(extra);
	assert_string_equal(err_class(rep), API_ERR_TOO_MANY);
	json_decref(rep);
	assert_null(cl_read(extra));
	close(extra);
	/* A slot freed is a slot taken again. */
	close(a);
	for (int tries = 0;; tries++) {
		extra = cl_open();
		rep = cl_read(extra);
		if (json_object_get(rep, "hvmm")) {
			json_decref(rep);
			break;
		}
		json_decref(rep);
		close(extra);
		assert_true(tries < 100); /* the server may not have seen a's close yet */
		usleep(10000);
	}
	close(extra);
	for (unsigned i = 0; i < API_MAX_CLIENTS - 2; i++)
		close(more[i]);
	close(b);
}

/* A last request without its newline is answered when the client shuts its side. */
static void test_eof_request(void **state)
{
	int fd = cl_connect();
	json_t *rep;

	(void)state;
	assert_int_equal(send(fd, "{\"execute\": \"list\"}", 19, 0), 19);
	shutdown(fd, SHUT_WR);
	rep = cl_read(fd);
	assert_non_null(json_object_get(rep, "return"));
	json_decref(rep);
	assert_null(cl_read(fd));
	close(fd);
}

static void test_stop(void **state)
{
	int fd = cl_connect();
	json_t *rep;

	(void)state;
	rep = cl_req(fd, "{\"execute\": \"stop\"}\n");
	assert_non_null(json_object_get(rep, "return"));
	json_decref(rep);
	assert_int_equal(atomic_load(&pc->vm->stopping), 1);
	assert_int_equal(atomic_load(&pc->vm->exit_code), VM_EXIT_STOPPED);
	close(fd);
}

/* shutdown presses the power button: the event waits for the guest; the VM keeps running. */
static void test_shutdown(void **state)
{
	int fd = cl_connect();
	uint32_t ev = 0;
	json_t *rep;

	(void)state;
	rep = cl_req(fd, "{\"execute\": \"shutdown\", \"id\": 1}\n");
	assert_non_null(json_object_get(rep, "return"));
	json_decref(rep);
	bus_access(&pc->vm->pio, GED_PORT, &ev, 4, false);
	assert_int_equal(ev, GED_EV_POWER_BUTTON);
	assert_int_equal(atomic_load(&pc->vm->stopping), 0);
	expect_error(fd, "{\"execute\": \"shutdown\", \"arguments\": {\"force\": \"yes\"}}\n",
	             API_ERR_BAD_REQUEST);
	close(fd);
}

/* A socket file left by a hvmm that died is replaced; a live one is not. */
static void test_socket_path(void **state)
{
	char stale[108];
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct api *other;
	struct stat st;
	int fd;

	(void)state;
	capture_begin();
	assert_int_equal(api_open(path, &other), -EADDRINUSE);
	assert_non_null(strstr(capture_end(), "in use"));
	snprintf(stale, sizeof(stale), "/tmp/hvmm-api-stale-%d.sock", getpid());
	unlink(stale);
	memcpy(addr.sun_path, stale, strlen(stale));
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	close(fd); /* bound, never listening: what a killed hvmm leaves */
	assert_int_equal(api_open(stale, &other), 0);
	assert_int_equal(stat(stale, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	api_close(other);
	assert_int_equal(stat(stale, &st), -1); /* removed at close */
	capture_begin();
	assert_int_equal(api_open("", &other), -EINVAL);
	capture_end();
}

/* `hvmm remote` against the same server. */
static int remote(const char *const *args)
{
	char *argv[8];
	int argc = 0;

	argv[argc++] = "remote";
	argv[argc++] = "--api-socket";
	argv[argc++] = path;
	for (; *args; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	return remote_main(argc, argv);
}

static void test_remote(void **state)
{
	char *bad[] = { "remote", "list", NULL };
	char *nosock[] = { "remote", "--api-socket", "/nonexistent/hvmm.sock", "list", NULL };
	int out = dup(1), devnull = open("/dev/null", O_WRONLY);

	(void)state;
	dup2(devnull, 1); /* the replies' JSON */
	capture_begin();
	assert_int_equal(remote((const char *[]){ "list", NULL }), 0);
	assert_int_equal(remote((const char *[]){ "shutdown", NULL }), 0);
	assert_int_equal(remote((const char *[]){ "send", "{\"execute\":\"list\"}", NULL }), 0);
	assert_int_equal(remote((const char *[]){ "send", "{\"execute\":\"nope\"}", NULL }), 1);
	assert_int_equal(remote((const char *[]){ "frobnicate", NULL }), VM_EXIT_USAGE);
	assert_int_equal(remote((const char *[]){ "list", "extra", NULL }), VM_EXIT_USAGE);
	assert_int_equal(remote_main(2, bad), VM_EXIT_USAGE);
	assert_int_equal(remote_main(4, nosock), 1);
	assert_int_equal(atomic_load(&pc->vm->stopping), 0);
	assert_int_equal(remote((const char *[]){ "stop", NULL }), 0);
	assert_non_null(strstr(capture_end(), "UnknownCommand"));
	fflush(stdout);
	dup2(out, 1);
	close(out);
	close(devnull);
	assert_int_equal(atomic_load(&pc->vm->exit_code), VM_EXIT_STOPPED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eof_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_shutdown, setup, teardown),
		cmocka_unit_test_setup_teardown(test_socket_path, setup, teardown),
		cmocka_unit_test_setup_teardown(test_remote, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
