/* SPDX-License-Identifier: MIT */
/*
 * Corpus replayer: a main() for one fuzz target without libFuzzer, built with the normal
 * compiler by `make check`.  It runs every file of the target's corpus (seeds and the inputs
 * of crashes since fixed) through LLVMFuzzerTestOneInput and reports TAP, one test per file,
 * so a fixed crash stays fixed and the targets keep compiling against the product code.
 *
 * Usage: replay_NAME [FILE|DIR...]; without arguments, FUZZ_CORPUS_ROOT/NAME, NAME coming
 * from the program's own name.  Each input runs in a child process, so one crash fails one
 * test; a child's stderr (product log lines, sanitizer reports) is shown only if it failed.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

#ifndef FUZZ_CORPUS_ROOT
#define FUZZ_CORPUS_ROOT "tests/fuzz/corpus"
#endif

static unsigned tests, failures;

static int read_file(const char *path, uint8_t **buf, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t cap = 4096, n = 0;
	uint8_t *b = malloc(cap);

	if (!f || !b) {
		if (f)
			fclose(f);
		free(b);
		return -1;
	}
	for (;;) {
		size_t got;

		if (n == cap) {
			uint8_t *nb = realloc(b, cap * 2);

			if (!nb) {
				free(b);
				fclose(f);
				return -1;
			}
			b = nb;
			cap *= 2;
		}
		got = fread(b + n, 1, cap - n, f);
		if (!got)
			break;
		n += got;
	}
	fclose(f);
	*buf = b;
	*len = n;
	return 0;
}

/* Run one input in a child; its stderr goes to a temporary file shown only on failure. */
static void replay_one(const char *path)
{
	FILE *log = tmpfile();
	int status = 0;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		uint8_t *buf;
		size_t len;

		if (log)
			dup2(fileno(log), STDERR_FILENO);
		if (read_file(path, &buf, &len)) {
			fprintf(stderr, "cannot read %s: %s\n", path, strerror(errno));
			_exit(2);
		}
		LLVMFuzzerTestOneInput(buf, len);
		free(buf);
		fflush(stderr);
		_exit(0);
	}
	tests++;
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status)) {
		char line[512];

		failures++;
		printf("not ok %u - %s", tests, path);
		if (pid > 0 && WIFSIGNALED(status))
			printf(" (signal %d)", WTERMSIG(status));
		else if (pid > 0 && WIFEXITED(status))
			printf(" (exit status %d)", WEXITSTATUS(status));
		printf("\n");
		if (log) {
			rewind(log);
			while (fgets(line, sizeof(line), log))
				printf("# %s", line);
		}
	} else {
		printf("ok %u - %s\n", tests, path);
	}
	if (log)
		fclose(log);
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void replay_path(const char *path)
{
	struct dirent **ents;
	int n = scandir(path, &ents, NULL, by_name);

	if (n < 0) {
		if (errno == ENOTDIR) {
			replay_one(path);
			return;
		}
		tests++;
		failures++;
		printf("not ok %u - %s: %s\n", tests, path, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char file[4096];

		if (ents[i]->d_name[0] != '.') {
			snprintf(file, sizeof(file), "%s/%s", path, ents[i]->d_name);
			replay_one(file);
		}
		free(ents[i]);
	}
	free(ents);
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];
	char dir[4096];

	if (argc > 1) {
		for (int i = 1; i < argc; i++)
			replay_path(argv[i]);
	} else {
		/* replay_NAME replays corpus/NAME. */
		if (!strncmp(self, "replay_", 7))
			self += 7;
		snprintf(dir, sizeof(dir), "%s/%s", FUZZ_CORPUS_ROOT, self);
		replay_path(dir);
	}
	printf("1..%u\n", tests);
	return failures ? 1 : 0;
}
