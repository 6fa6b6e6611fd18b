/* SPDX-License-Identifier: MIT */
/* The epoll event loop that serves file descriptors on the main thread. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "core/log.h"
#include "core/loop.h"

int loop_init(struct loop *loop)
{
	memset(loop, 0, sizeof(*loop));
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		int r = -errno;

		log_err("epoll_create1: %s", strerror(errno));
		return r;
	}
	pthread_mutex_init(&loop->lock, NULL);
	return 0;
}

void loop_destroy(struct loop *loop)
{
	if (loop->epfd >= 0)
		close(loop->epfd);
	loop->epfd = -1;
	free(loop->entries);
	loop->entries = NULL;
	loop->nr = loop->cap = 0;
	pthread_mutex_destroy(&loop->lock);
}

int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn, void *opaque)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };
	int r = 0;

	pthread_mutex_lock(&loop->lock);
	if (loop->nr == loop->cap) {
		size_t cap = loop->cap ? loop->cap * 2 : 8;
		struct loop_entry *n = realloc(loop->entries, cap * sizeof(*n));

		if (!n) {
			r = -ENOMEM;
			log_err("event loop: out of memory adding fd %d", fd);
			goto out;
		}
		loop->entries = n;
		loop->cap = cap;
	}
	if (epoll_ctl(loop->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		r = -errno;
		if (r == -EPERM)
			goto out; /* the caller decides what an unpollable fd means */
		log_err("epoll_ctl ADD fd %d: %s", fd, strerror(errno));
		goto out;
	}
	loop->entries[loop->nr++] = (struct loop_entry){ fd, fn, opaque };
out:
	pthread_mutex_unlock(&loop->lock);
	return r;
}

int loop_del(struct loop *loop, int fd)
{
	int r = -ENOENT;

	pthread_mutex_lock(&loop->lock);
	for (size_t i = 0; i < loop->nr; i++) {
		if (loop->entries[i].fd != fd)
			continue;
		epoll_ctl(loop->epfd, EPOLL_CTL_DEL, fd, NULL);
		loop->entries[i] = loop->entries[--loop->nr];
		r = 0;
		break;
	}
	pthread_mutex_unlock(&loop->lock);
	return r;
}

int loop_poll(struct loop *loop, int timeout_ms)
{
	struct epoll_event evs[16];
	int n = epoll_wait(loop->epfd, evs, ARRAY_SIZE(evs), timeout_ms);

	if (n < 0) {
		if (errno == EINTR)
			return 0;
		int r = -errno;

		log_err("epoll_wait: %s", strerror(errno));
		return r;
	}
	for (int i = 0; i < n; i++) {
		struct loop_entry e = { .fd = -1 };

		pthread_mutex_lock(&loop->lock);
		for (size_t j = 0; j < loop->nr; j++) {
			if (loop->entries[j].fd == evs[i].data.fd) {
				e = loop->entries[j];
				break;
			}
		}
		pthread_mutex_unlock(&loop->lock);
		/* A callback earlier in this batch may have removed this fd. */
		if (e.fd >= 0)
			e.fn(e.opaque, evs[i].events);
	}
	return 0;
}
