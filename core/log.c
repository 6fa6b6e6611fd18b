/* SPDX-License-Identifier: MIT */
/* Logging and rate limiting. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

/* Written once by main() before threads start (see core/log.h); read-only afterwards. */
static _Atomic int log_level = LOG_WARN;

void log_set_level(enum log_level level)
{
	atomic_store(&log_level, (int)level);
}

enum log_level log_get_level(void)
{
	return (enum log_level)atomic_load_explicit(&log_level, memory_order_relaxed);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const prefix[] = { "", "warning: ", "", "debug: " };
	char line[1024];
	va_list ap;
	int n;

	if ((int)level > atomic_load_explicit(&log_level, memory_order_relaxed))
		return;
	n = snprintf(line, sizeof(line), "hvmm: %s", prefix[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* One fputs per line: stdio locks the stream, so lines from vCPU threads never interleave.
	 */
	n = (int)strlen(line);
	line[n] = '\n';
	line[n + 1] = '\0';
	fputs(line, stderr);
}

uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ratelimit_init(struct ratelimit *rl, uint32_t burst)
{
	atomic_init(&rl->window_ns, 0);
	atomic_init(&rl->count, 0);
	atomic_init(&rl->dropped, 0);
	rl->burst = burst;
}

bool ratelimit_allow(struct ratelimit *rl, uint32_t *suppressed)
{
	uint64_t now = clock_ns();
	uint64_t start = atomic_load(&rl->window_ns);

	*suppressed = 0;
	if (now - start >= 1000000000ull &&
	    atomic_compare_exchange_strong(&rl->window_ns, &start, now)) {
		atomic_store(&rl->count, 0);
		*suppressed = atomic_exchange(&rl->dropped, 0);
	}
	if (atomic_fetch_add(&rl->count, 1) < rl->burst)
		return true;
	atomic_fetch_add(&rl->dropped, 1);
	return false;
}
