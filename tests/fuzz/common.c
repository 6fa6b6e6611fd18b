/* SPDX-License-Identifier: MIT */
/* Input decoding and checks shared by the fuzz targets. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "platform/platform.h"
#include "tests/fuzz/fuzz.h"

static uint64_t fuzz_le(struct fuzz_in *in, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && in->n; i++, in->p++, in->n--)
		v |= (uint64_t)in->p[0] << (8 * i);
	return v;
}

uint8_t fuzz_u8(struct fuzz_in *in)
{
	return (uint8_t)fuzz_le(in, 1);
}

uint16_t fuzz_u16(struct fuzz_in *in)
{
	return (uint16_t)fuzz_le(in, 2);
}

uint32_t fuzz_u32(struct fuzz_in *in)
{
	return (uint32_t)fuzz_le(in, 4);
}

uint64_t fuzz_u64(struct fuzz_in *in)
{
	return fuzz_le(in, 8);
}

const uint8_t *fuzz_bytes(struct fuzz_in *in, size_t want, size_t *got)
{
	const uint8_t *p = in->p;

	*got = want < in->n ? want : in->n;
	in->p += *got;
	in->n -= *got;
	return p;
}

void fuzz_fail(const char *file, int line, const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	fflush(stderr);
	abort();
}

int fuzz_lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		fuzz_fail(__FILE__, __LINE__, "open(/dev/null)");
	close(fd);
	return fd;
}

bool fuzz_terminated(const char *s, size_t len)
{
	return memchr(s, 0, len) != NULL;
}

void fuzz_guest_mem(struct guest_mem *mem, uint8_t *ref[2], uint64_t low, uint64_t high)
{
	const uint64_t sizes[2] = { low, high };

	mem->ram[0].gpa = 0;
	mem->ram[1].gpa = MEM_HIGH_BASE;
	for (unsigned i = 0; i < 2; i++) {
		mem->ram[i].size = sizes[i];
		mem->ram[i].hva = malloc(sizes[i]);
		ref[i] = malloc(sizes[i]);
		if (!mem->ram[i].hva || !ref[i])
			fuzz_fail(__FILE__, __LINE__, "out of memory");
		for (uint64_t k = 0; k < sizes[i]; k++)
			ref[i][k] = (uint8_t)(k * 13 + i);
		memcpy(mem->ram[i].hva, ref[i], sizes[i]);
	}
}
