/* SPDX-License-Identifier: MIT */
/* Logging, a rate limit for messages a guest can provoke, and the clock (core/log.c). */
#ifndef HVMM_CORE_LOG_H
#define HVMM_CORE_LOG_H

#include <stdatomic.h>

#include "core/base.h"

enum log_level { LOG_ERR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/*
 * The verbosity is process-wide configuration set once by main() before any thread starts;
 * it is the only writable state outside struct vm, because every layer (backends included)
 * logs and none of them should need a vm pointer to do so.
 */
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* One line to stderr, prefixed "hvmm: " (and "warning: " for LOG_WARN). Thread-safe. */
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...)  log_msg(LOG_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
	do {                                                                                       \
		if (log_get_level() >= LOG_DEBUG)                                                  \
			log_msg(LOG_DEBUG, __VA_ARGS__);                                           \
	} while (0)

/*
 * A token bucket for messages a guest can provoke at will: at most `burst` messages per
 * second.  ratelimit_allow() returns true when a message may be printed; when a new window
 * opens after some were dropped, *suppressed receives how many, so the caller can say so.
 * Lock-free; safe to share between vCPU threads.
 */
struct ratelimit {
	_Atomic uint64_t window_ns;
	_Atomic uint32_t count;
	_Atomic uint32_t dropped;
	uint32_t burst;
};
void ratelimit_init(struct ratelimit *rl, uint32_t burst);
bool ratelimit_allow(struct ratelimit *rl, uint32_t *suppressed);

/* Monotonic clock in nanoseconds. */
uint64_t clock_ns(void);

#endif
