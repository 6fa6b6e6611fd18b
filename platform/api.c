/* SPDX-License-Identifier: MIT */
/*
 * The API socket: a unix stream socket served by one thread of its own under the SANDBOX_API
 * seccomp filter.  Each connection is greeted with one line, then sends requests, one JSON
 * object a line, and gets one reply line for each, in order (api_cmd.c answers them).
 *
 * A client that misbehaves costs only its own connection: a line longer than API_MAX_REQUEST
 * gets an error and the connection is closed; a client that does not read its replies is
 * dropped once API_MAX_BACKLOG bytes wait for it; past API_MAX_CLIENTS a new connection is
 * told so and closed.  Sockets are non-blocking, so no client can stall the others.
 */
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "platform/internal.h"

struct api_client {
	int fd; /* -1: slot free */
	struct api_conn conn;
	char *out; /* replies not yet taken by the client */
	size_t out_len, out_off;
	bool drop; /* too much unread: close it */
};

struct api {
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	int listen_fd, epfd, wake_fd;
	struct pc *pc;
	enum sandbox_mode mode;
	pthread_t thread;
	bool started;
	struct api_client clients[API_MAX_CLIENTS];
};

/* ---- Framing: lines in, replies out ------------------------------------------------------ */

static bool api_conn_line(struct api_conn *c, struct pc *pc, const char *line, size_t n,
                          bool (*send)(void *opaque, const char *line), void *opaque)
{
	char *reply;
	bool ok;

	(void)c;
	while (n && (line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t'))
		n--;
	if (!n)
		return true; /* blank lines are allowed between requests */
	if (api_request(pc, line, n, &reply)) {
		log_warn("api: out of memory answering a request; closing the connection");
		return false;
	}
	ok = send(opaque, reply);
	free(reply);
	return ok;
}

/* A fixed reply for errors the framing itself finds; one line, never fails to build. */
static bool api_conn_error(bool (*send)(void *opaque, const char *line), void *opaque,
                           const char *cls, const char *desc)
{
	char line[256];

	snprintf(line, sizeof(line), "{\"error\":{\"class\":\"%s\",\"desc\":\"%s\"}}\n", cls, desc);
	return send(opaque, line);
}

bool api_conn_feed(struct api_conn *c, struct pc *pc, const char *data, size_t n,
                   bool (*send)(void *opaque, const char *line), void *opaque)
{
	while (n && !c->closing) {
		size_t room = sizeof(c->buf) - c->len, take = n < room ? n : room;
		char *nl = memchr(data, '\n', take);

		if (nl)
			take = (size_t)(nl - data) + 1;
		memcpy(c->buf + c->len, data, take);
		c->len += take;
		data += take;
		n -= take;
		if (nl) {
			size_t line = c->len - 1;

			c->len = 0;
			if (!api_conn_line(c, pc, c->buf, line, send, opaque))
				c->closing = true;
		} else if (c->len == sizeof(c->buf)) {
			/* The rest of this line cannot be told from the next request: give up. */
			api_conn_error(send, opaque, API_ERR_TOO_LARGE,
			               "a request line is at most 16384 bytes; closing the "
			               "connection");
			c->closing = true;
		}
	}
	return !c->closing;
}

void api_conn_eof(struct api_conn *c, struct pc *pc, bool (*send)(void *opaque, const char *line),
                  void *opaque)
{
	if (!c->closing && c->len)
		api_conn_line(c, pc, c->buf, c->len, send, opaque);
	c->len = 0;
	c->closing = true;
}

/* _Static_assert keeps the message above honest. */
_Static_assert(API_MAX_REQUEST == 16384, "the TooLarge message quotes the limit");

/* ---- Connections ------------------------------------------------------------------------ */

static bool api_client_queue(void *opaque, const char *line)
{
	struct api_client *cl = opaque;
	size_t n = strlen(line);
	char *o;

	if (cl->drop)
		return false;
	if (cl->out_len - cl->out_off + n > API_MAX_BACKLOG) {
		log_warn("api: a client left %zu bytes of replies unread; dropping it",
		         cl->out_len - cl->out_off);
		cl->drop = true;
		return false;
	}
	if (cl->out_off) {
		memmove(cl->out, cl->out + cl->out_off, cl->out_len - cl->out_off);
		cl->out_len -= cl->out_off;
		cl->out_off = 0;
	}
	o = realloc(cl->out, cl->out_len + n);
	if (!o) {
		cl->drop = true;
		return false;
	}
	memcpy(o + cl->out_len, line, n);
	cl->out = o;
	cl->out_len += n;
	return true;
}

static void api_client_close(struct api *api, struct api_client *cl)
{
	if (epoll_ctl(api->epfd, EPOLL_CTL_DEL, cl->fd, NULL))
		log_debug("api: epoll_ctl DEL: %s", strerror(errno));
	close(cl->fd);
	free(cl->out);
	*cl = (struct api_client){ .fd = -1 };
}

/* Send what is queued; wait for the socket to drain (EPOLLOUT) or for requests (EPOLLIN). */
static void api_client_flush(struct api *api, struct api_client *cl)
{
	struct epoll_event ev = { .data.ptr = cl };

	while (cl->out_off < cl->out_len) {
		ssize_t w = send(cl->fd, cl->out + cl->out_off, cl->out_len - cl->out_off,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w <= 0) {
			api_client_close(api, cl); /* the client went away */
			return;
		}
		cl->out_off += (size_t)w;
	}
	if (cl->out_off == cl->out_len)
		cl->out_off = cl->out_len = 0;
	if (cl->drop || (cl->conn.closing && !cl->out_len)) {
		api_client_close(api, cl);
		return;
	}
	/* While replies wait, read no more requests: a client cannot make the queue grow. */
	ev.events = cl->out_len ? EPOLLOUT : EPOLLIN;
	if (epoll_ctl(api->epfd, EPOLL_CTL_MOD, cl->fd, &ev)) {
		log_warn("api: epoll_ctl: %s; closing a connection", strerror(errno));
		api_client_close(api, cl);
	}
}

static void api_client_ready(struct api *api, struct api_client *cl, uint32_t events)
{
	char buf[4096];
	ssize_t n;

	if (events & EPOLLIN) {
		n = recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0)
			api_conn_feed(&cl->conn, api->pc, buf, (size_t)n, api_client_queue, cl);
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			api_conn_eof(&cl->conn, api->pc, api_client_queue, cl);
	} else if (events & (EPOLLERR | EPOLLHUP) && !(events & EPOLLOUT)) {
		api_conn_eof(&cl->conn, api->pc, api_client_queue, cl);
	}
	api_client_flush(api, cl);
}

static void api_accept(struct api *api)
{
	for (;;) {
		int fd = accept4(api->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct api_client *cl = NULL;
		struct epoll_event ev;
		char *hello;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_warn("api: accept: %s", strerror(errno));
			return;
		}
		for (unsigned i = 0; i < API_MAX_CLIENTS && !cl; i++) {
			if (api->clients[i].fd < 0)
				cl = &api->clients[i];
		}
		if (!cl) {
			static const char busy[] = "{\"error\":{\"class\":\"" API_ERR_TOO_MANY
			                           "\",\"desc\":\"8 clients are "
			                           "connected; close one and connect again\"}}\n";

			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				log_debug("api: telling a client to wait: %s", strerror(errno));
			close(fd);
			continue;
		}
		*cl = (struct api_client){ .fd = fd };
		ev = (struct epoll_event){ .events = EPOLLIN, .data.ptr = cl };
		if (epoll_ctl(api->epfd, EPOLL_CTL_ADD, fd, &ev)) {
			log_warn("api: epoll_ctl: %s; refusing a client", strerror(errno));
			close(fd);
			cl->fd = -1;
			continue;
		}
		hello = api_greeting();
		if (!hello || !api_client_queue(cl, hello))
			cl->drop = true;
		free(hello);
		api_client_flush(api, cl);
	}
}
_Static_assert(API_MAX_CLIENTS == 8, "the TooManyClients message quotes the limit");

static void *api_thread(void *arg)
{
	struct api *api = arg;
	struct vm *vm = api->pc->vm;

	if (sandbox_apply(SANDBOX_API, api->mode, vm->sandbox_ioctls, vm->nr_sandbox_ioctls)) {
		vm_stop(vm, VM_EXIT_ERROR);
		return NULL;
	}
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(api->epfd, evs, ARRAY_SIZE(evs), -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("api: epoll_wait: %s; the API socket stops answering",
			        strerror(errno));
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;

			if (p == &api->wake_fd)
				return NULL;
			if (p == &api->listen_fd)
				api_accept(api);
			else if (((struct api_client *)p)->fd >= 0)
				api_client_ready(api, p, evs[i].events);
		}
	}
}

/* ---- Set-up and teardown ---------------------------------------------------------------- */

/* Whether something answers at `addr`: a socket left by a hvmm that died does not. */
static bool api_path_live(const struct sockaddr_un *addr)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return true; /* cannot tell: do not remove it */
	live =
	    connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0 || errno != ECONNREFUSED;
	close(fd);
	return live;
}

static int api_bind(struct api *api, const struct sockaddr_un *addr)
{
	mode_t old = umask(0177); /* the socket file is the owner's alone: 0600 */
	int r = bind(api->listen_fd, (const struct sockaddr *)addr, sizeof(*addr)) ? -errno : 0;

	umask(old);
	return r;
}

int api_open(const char *path, struct api **out)
{
	struct sockaddr_un addr = { .sun_family = AF_UNIX };
	struct epoll_event ev = { .events = EPOLLIN };
	struct api *api;
	struct stat st;
	int r;

	if (!*path || strlen(path) >= sizeof(addr.sun_path)) {
		log_err("--api-socket %s: a socket path is 1 to %zu bytes; use a shorter one", path,
		        sizeof(addr.sun_path) - 1);
		return -EINVAL;
	}
	api = calloc(1, sizeof(*api));
	if (!api)
		return -ENOMEM;
	api->listen_fd = api->epfd = api->wake_fd = -1;
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++)
		api->clients[i].fd = -1;
	memcpy(addr.sun_path, path, strlen(path));
	/* Seed jansson's hash tables now: its first object would read /dev/urandom later. */
	json_object_seed(0);
	api->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (api->listen_fd < 0) {
		r = -errno;
		log_err("--api-socket: socket: %s", strerror(errno));
		goto fail;
	}
	r = api_bind(api, &addr);
	if (r == -EADDRINUSE && !lstat(path, &st) && S_ISSOCK(st.st_mode) &&
	    !api_path_live(&addr)) {
		log_info("--api-socket %s: nobody listens there any more; replacing it", path);
		if (unlink(path) == 0)
			r = api_bind(api, &addr);
	}
	if (r) {
		if (r == -EADDRINUSE)
			log_err("--api-socket %s: in use (another hvmm?); choose another path, or "
			        "remove the file if nothing runs there",
			        path);
		else
			log_err("--api-socket %s: bind: %s", path, strerror(-r));
		goto fail;
	}
	snprintf(api->path, sizeof(api->path), "%s", path);
	if (listen(api->listen_fd, API_MAX_CLIENTS) < 0) {
		r = -errno;
		log_err("--api-socket %s: listen: %s", path, strerror(errno));
		goto fail;
	}
	api->epfd = epoll_create1(EPOLL_CLOEXEC);
	api->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (api->epfd < 0 || api->wake_fd < 0) {
		r = -errno;
		log_err("--api-socket: epoll or eventfd: %s", strerror(errno));
		goto fail;
	}
	ev.data.ptr = &api->listen_fd;
	if (epoll_ctl(api->epfd, EPOLL_CTL_ADD, api->listen_fd, &ev)) {
		r = -errno;
		log_err("--api-socket: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	ev.data.ptr = &api->wake_fd;
	if (epoll_ctl(api->epfd, EPOLL_CTL_ADD, api->wake_fd, &ev)) {
		r = -errno;
		log_err("--api-socket: epoll_ctl: %s", strerror(errno));
		goto fail;
	}
	*out = api;
	return 0;
fail:
	api_close(api);
	return r;
}

int api_start(struct api *api, struct pc *pc, enum sandbox_mode mode)
{
	int r;

	api->pc = pc;
	api->mode = mode;
	r = pthread_create(&api->thread, NULL, api_thread, api);
	if (r) {
		log_err("pthread_create for the API socket: %s", strerror(r));
		return -r;
	}
	api->started = true;
	return 0;
}

void api_close(struct api *api)
{
	uint64_t one = 1;

	if (!api)
		return;
	if (api->started) {
		if (write(api->wake_fd, &one, sizeof(one)) < 0)
			log_debug("api: waking the thread: %s", strerror(errno));
		pthread_join(api->thread, NULL);
	}
	for (unsigned i = 0; i < API_MAX_CLIENTS; i++) {
		if (api->clients[i].fd >= 0)
			api_client_close(api, &api->clients[i]);
	}
	if (api->listen_fd >= 0)
		close(api->listen_fd);
	if (api->epfd >= 0)
		close(api->epfd);
	if (api->wake_fd >= 0)
		close(api->wake_fd);
	if (api->path[0] && unlink(api->path))
		log_debug("api: removing %s: %s", api->path, strerror(errno));
	free(api);
}
