/* SPDX-License-Identifier: MIT */
/*
 * Shared by the libFuzzer targets (tests/fuzz/fuzz_*.c) and the corpus replayer that runs
 * them in `make check` (replay.c).  Each target defines LLVMFuzzerTestOneInput() and nothing
 * else global, so the same object links against libFuzzer or against the replayer.
 */
#ifndef HVMM_TESTS_FUZZ_H
#define HVMM_TESTS_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The input, consumed front to back.  Reads past the end give zeros, so every byte string is
 * a complete input and the fuzzer never wastes runs on inputs a parser would reject.
 */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

uint8_t fuzz_u8(struct fuzz_in *in);
uint16_t fuzz_u16(struct fuzz_in *in);
uint32_t fuzz_u32(struct fuzz_in *in);
uint64_t fuzz_u64(struct fuzz_in *in);
/* Up to `want` bytes in place; *got says how many there were. */
const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t want, size_t *got);

/*
 * An invariant of the code under test broke: print it and abort, which libFuzzer reports as
 * a crash (with the stack) and the replayer as a failing test.
 */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond);                                      \
	} while (0)
void fuzz_fail(const char *file, int line, const char *what) __attribute__((noreturn));
/* A set-up step of the harness itself that must succeed (0); otherwise a failure as above. */
#define FUZZ_MUST(call) FUZZ_CHECK((call) == 0)

/*
 * The lowest free file descriptor.  Taken before and after one input, the two must match:
 * otherwise the code under test leaked an fd (an eventfd of a vector, a device fd), which
 * leak detection of memory does not see.
 */
int fuzz_lowest_free_fd(void);

/* A string holds a NUL within its `len` bytes (error messages must always be terminated). */
bool fuzz_terminated(const char *s, size_t len);

struct guest_mem;
/*
 * A loader's guest memory on the heap: RAM at 0 of `low` bytes and at MEM_HIGH_BASE of `high`
 * bytes, both filled with a pattern that ref[0] and ref[1] keep a copy of, so a target can
 * check what a refused load left and put the pattern back.  Used by elf and bzimage.
 */
void fuzz_guest_mem(struct guest_mem *mem, uint8_t *ref[2], uint64_t low, uint64_t high);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
