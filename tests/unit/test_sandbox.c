/* The seccomp allow-lists: a forbidden system call is stopped, an allowed one is not. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <errno.h>
#include <linux/kvm.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/vm.h"

/* The ioctl requests the test filters let through: one KVM request, one made up. */
#define TEST_IOCTL_OTHER 0x4008aeffu
static const uint32_t test_ioctls[] = { KVM_RUN, TEST_IOCTL_OTHER };

/* Run fn in a child under the filter of `role` and `mode`; returns its wait status. */
static int in_child(enum sandbox_role role, enum sandbox_mode mode, int (*fn)(void))
{
	int status = 0;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		if (sandbox_apply(role, mode, test_ioctls, ARRAY_SIZE(test_ioctls)))
			_exit(99);
		_exit(fn());
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static int make_socket(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	return fd >= 0 ? 0 : 3;
}

static int epfd = -1;
static int api_lfd;

/* Opening a file: no filtered thread may (but a sanitizer's runtime, in those builds). */
static __attribute__((unused)) int open_file(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	return fd >= 0 ? 0 : 3;
}

static int accept_one(void)
{
	accept4(api_lfd, NULL, NULL, SOCK_NONBLOCK);
	return 0;
}
/* made before the filter, as hvmm's loop makes its epoll fd */

static int wait_epoll(void)
{
	struct epoll_event ev;

	return epoll_wait(epfd, &ev, 1, 0) == 0 ? 0 : 4;
}

/* What a vCPU thread does after set-up: eventfds, reads and writes, memory, clocks. */
static int allowed_work(void)
{
	uint64_t one = 1;
	int efd = eventfd(0, EFD_CLOEXEC);
	void *p = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (efd < 0 || p == MAP_FAILED)
		return 6;
	if (write(efd, &one, 8) != 8 || read(efd, &one, 8) != 8)
		return 7;
	munmap(p, 8192);
	close(efd);
	return clock_ns() ? 0 : 8;
}

/* An allowed request reaches the kernel (a bad fd gets EBADF); the high word is ignored. */
static int allowed_ioctl(void)
{
	if (ioctl(-1, KVM_RUN, 0) != -1 || errno != EBADF)
		return 10;
	if (syscall(SYS_ioctl, -1, (unsigned long)TEST_IOCTL_OTHER | (1ul << 32), 0) != -1 ||
	    errno != EBADF)
		return 11;
	return 0;
}

/* A terminal request is not on the list. */
static int forbidden_ioctl(void)
{
	struct winsize ws;

	ioctl(-1, TIOCGWINSZ, &ws);
	return 12;
}

/* A request one off an allowed one is not allowed either. */
static int neighbour_ioctl(void)
{
	ioctl(-1, KVM_RUN + 1, 0);
	return 13;
}

static void test_ioctl_requests(void **state)
{
	int st;

	(void)state;
	st = in_child(SANDBOX_VCPU, SANDBOX_ON, allowed_ioctl);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_child(SANDBOX_LOOP, SANDBOX_ON, forbidden_ioctl);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_child(SANDBOX_VCPU, SANDBOX_ON, neighbour_ioctl);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	/* Too many requests for one filter: refused before anything is installed. */
	{
		static uint32_t many[200];

		assert_int_equal(sandbox_apply(SANDBOX_VCPU, SANDBOX_ON, many, ARRAY_SIZE(many)),
		                 -E2BIG);
	}
}

static void test_forbidden_call_kills(void **state)
{
	int st;

	(void)state;
	st = in_child(SANDBOX_VCPU, SANDBOX_ON, make_socket);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	st = in_child(SANDBOX_VCPU, SANDBOX_ON, allowed_work);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_log_mode_lets_it_run(void **state)
{
	int st;

	(void)state;
	st = in_child(SANDBOX_VCPU, SANDBOX_LOG, make_socket);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_child(SANDBOX_VCPU, SANDBOX_OFF, make_socket);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
}

static void test_roles_differ(void **state)
{
	int st;

	(void)state;
	/* The event loop may wait in epoll; a vCPU thread may not. */
	epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(epfd >= 0);
	st = in_child(SANDBOX_LOOP, SANDBOX_ON, wait_epoll);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	st = in_child(SANDBOX_VCPU, SANDBOX_ON, wait_epoll);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	close(epfd);
}

/* api_lfd: a listening unix socket made before the filter, as hvmm's is. */

/* What the API thread does: accept a client, read its request, write the reply. */
static int api_work(void)
{
	struct epoll_event ev;
	char buf[16];
	int c;

	if (epoll_wait(epfd, &ev, 1, 1000) != 1)
		return 20;
	c = accept4(api_lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (c < 0)
		return 21;
	if (recv(c, buf, sizeof(buf), 0) != 4 || send(c, "ok\n", 3, MSG_NOSIGNAL) != 3)
		return 22;
	shutdown(c, SHUT_RDWR);
	close(c);
	return 0;
}

/* The API thread serves clients; it may not open a socket of its own, nor a file. */
static void test_api_role(void **state)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	char buf[4];
	int st, cl;

	(void)state;
	snprintf(addr.sun_path, sizeof(addr.sun_path), "/tmp/hvmm-sandbox-%d.sock", getpid());
	unlink(addr.sun_path);
	api_lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(api_lfd >= 0);
	assert_int_equal(bind(api_lfd, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(listen(api_lfd, 1), 0);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	assert_true(epfd >= 0);
	assert_int_equal(epoll_ctl(epfd, EPOLL_CTL_ADD, api_lfd, &ev), 0);
	cl = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(connect(cl, (struct sockaddr *)&addr, sizeof(addr)), 0);
	assert_int_equal(send(cl, "req\n", 4, 0), 4);
	st = in_child(SANDBOX_API, SANDBOX_ON, api_work);
	assert_true(WIFEXITED(st));
	assert_int_equal(WEXITSTATUS(st), 0);
	assert_int_equal(recv(cl, buf, sizeof(buf), 0), 3);
	close(cl);
	st = in_child(SANDBOX_API, SANDBOX_ON, make_socket);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
#ifndef __SANITIZE_ADDRESS__ /* the sanitizers' runtime opens files: their builds allow it */
	st = in_child(SANDBOX_API, SANDBOX_ON, open_file);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
#endif
	/* Neither a vCPU nor the event loop may accept a connection. */
	st = in_child(SANDBOX_LOOP, SANDBOX_ON, accept_one);
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGSYS);
	close(epfd);
	close(api_lfd);
	unlink(addr.sun_path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_forbidden_call_kills),
		cmocka_unit_test(test_log_mode_lets_it_run),
		cmocka_unit_test(test_roles_differ),
		cmocka_unit_test(test_ioctl_requests),
		cmocka_unit_test(test_api_role),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
