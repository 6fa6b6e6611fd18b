/* SPDX-License-Identifier: MIT */
/* Capturing stderr so tests can check what was logged. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/unit/unit.h"

static int saved_fd = -1;
static FILE *tmp;
static char captured[16384];

void capture_begin(void)
{
	fflush(stderr);
	tmp = tmpfile();
	if (!tmp)
		abort();
	saved_fd = dup(STDERR_FILENO);
	dup2(fileno(tmp), STDERR_FILENO);
}

const char *capture_end(void)
{
	size_t n;

	fflush(stderr);
	dup2(saved_fd, STDERR_FILENO);
	close(saved_fd);
	rewind(tmp);
	n = fread(captured, 1, sizeof(captured) - 1, tmp);
	captured[n] = 0;
	fclose(tmp);
	return captured;
}
