/* SPDX-License-Identifier: MIT */
/* The event loop: an epoll set served by one thread while the VM runs (core/loop.c). */
#ifndef HVMM_CORE_LOOP_H
#define HVMM_CORE_LOOP_H

#include <pthread.h>

#include "core/base.h"

typedef void (*loop_fn)(void *opaque, uint32_t events);

struct loop_entry {
	int fd;
	loop_fn fn;
	void *opaque;
};

struct loop {
	int epfd;
	struct loop_entry *entries;
	size_t nr, cap;
	pthread_mutex_t lock;
};

int loop_init(struct loop *loop) WUR;
void loop_destroy(struct loop *loop);
/*
 * Watch fd for `events` (EPOLLIN...); fn runs on the loop's thread.  -EPERM, not logged, if fd
 * cannot be polled (a regular file, /dev/null).
 */
int loop_add(struct loop *loop, int fd, uint32_t events, loop_fn fn, void *opaque) WUR;
int loop_del(struct loop *loop, int fd) WUR;
/* Wait up to timeout_ms (-1: forever) and dispatch what is ready.  -EINTR is not an error. */
int loop_poll(struct loop *loop, int timeout_ms) WUR;

#endif
