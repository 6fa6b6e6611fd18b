/*
 * The include graph of the product is one-way (docs/architecture.md, "Layers"):
 *
 *     platform/  ->  devices/  ->  core/  <-  hv-kvm/, hv-mshv/  ->  emu/
 *
 * platform may use devices, core and each backend's public header; devices use core; the
 * backends use core and the emulator; the emulator uses core at most; core uses only core.
 * A directory's internal.h is for that directory alone, and no directory reaches back to
 * itself through others.  The test reads every #include "..." of the product's sources, as a
 * grep would, from the repository root (make check runs it there).  Tests and tools are not
 * held to it: a test may include what it tests.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

#define MAX_EDGES  2048
#define MAX_FILES  512
#define PATH_LEN   256
#define HEADER_MAX 400 /* lines: a header longer than this wants splitting by concern */
#define NR_USES    6

/* A layer: the files under `dir`, and the only paths they may include (a "dir/" or a file). */
struct layer {
	const char *dir;
	const char *may_use[NR_USES];
};

/* Longest prefix first: a file belongs to the first layer whose directory it is under. */
static const struct layer layers[] = {
	{ "platform/",
	  { "platform/", "devices/", "core/", "hv-kvm/hv_kvm.h", "hv-mshv/hv_mshv.h" } },
	{ "devices/", { "devices/", "core/" } },
	{ "hv-kvm/", { "hv-kvm/", "core/", "emu/emu.h" } },
	{ "hv-mshv/", { "hv-mshv/", "core/", "emu/emu.h" } },
	{ "emu/", { "emu/", "core/" } },
	{ "core/", { "core/" } },
};

struct edge {
	char from[PATH_LEN]; /* the including file */
	char to[PATH_LEN];   /* the included file, from the repository root */
};

static struct edge edges[MAX_EDGES];
static unsigned nr_edges;
static char headers[MAX_FILES][PATH_LEN];
static unsigned header_lines[MAX_FILES];
static unsigned nr_headers;

static bool exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static void dir_of(const char *path, char *out)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash ? (size_t)(slash - path) + 1 : 0;

	memcpy(out, path, n);
	out[n] = 0;
}

/* An include is relative to the including file's directory if such a file exists, else root. */
static void resolve(const char *from, const char *name, char *out)
{
	char dir[PATH_LEN];

	dir_of(from, dir);
	snprintf(out, PATH_LEN, "%s%s", dir, name);
	if (!exists(out))
		snprintf(out, PATH_LEN, "%s", name);
}

static void read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	unsigned lines = 0;

	if (!f)
		fail_msg("cannot read %s", path);
	while (fgets(line, sizeof(line), f)) {
		char *p = line, *q;

		lines++;
		while (*p == ' ' || *p == '\t')
			p++;
		if (strncmp(p, "#include", 8))
			continue;
		p = strchr(p, '"');
		if (!p || !(q = strchr(p + 1, '"')))
			continue; /* <system> headers */
		*q = 0;
		if (nr_edges == MAX_EDGES)
			fail_msg("more than %d includes: raise MAX_EDGES", MAX_EDGES);
		snprintf(edges[nr_edges].from, PATH_LEN, "%s", path);
		resolve(path, p + 1, edges[nr_edges].to);
		nr_edges++;
	}
	fclose(f);
	if (ends_with(path, ".h") && nr_headers < MAX_FILES) {
		snprintf(headers[nr_headers], PATH_LEN, "%s", path);
		header_lines[nr_headers++] = lines;
	}
}

static void walk(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		fail_msg("cannot open %s: run from the repository root", dir);
	while ((e = readdir(d))) {
		char path[PATH_LEN];
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s%s", dir, e->d_name);
		if (stat(path, &st))
			continue;
		if (S_ISDIR(st.st_mode)) {
			strncat(path, "/", sizeof(path) - strlen(path) - 1);
			walk(path);
		} else if (ends_with(path, ".c") || ends_with(path, ".h")) {
			read_file(path);
		}
	}
	closedir(d);
}

static int setup(void **state)
{
	(void)state;
	nr_edges = nr_headers = 0;
	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++)
		walk(layers[i].dir);
	return nr_edges ? 0 : -1;
}

static const struct layer *layer_of(const char *path)
{
	for (size_t i = 0; i < sizeof(layers) / sizeof(layers[0]); i++) {
		if (!strncmp(path, layers[i].dir, strlen(layers[i].dir)))
			return &layers[i];
	}
	return NULL;
}

static bool may_use(const struct layer *l, const char *to)
{
	for (unsigned i = 0; i < NR_USES && l->may_use[i]; i++) {
		const char *u = l->may_use[i];

		if (ends_with(u, "/") ? !strncmp(to, u, strlen(u)) : !strcmp(to, u))
			return true;
	}
	return false;
}

/* Count (and print) the includes `bad` refuses; it returns why, or NULL for a good one. */
static unsigned count_bad(const char *(*bad)(const struct edge *e))
{
	unsigned n = 0;

	for (unsigned i = 0; i < nr_edges; i++) {
		const char *why = bad(&edges[i]);

		if (why) {
			print_error("%s includes %s: %s\n", edges[i].from, edges[i].to, why);
			n++;
		}
	}
	return n;
}

static const char *core_edge_bad(const struct edge *e)
{
	if (!strncmp(e->from, "core/", 5) && strncmp(e->to, "core/", 5))
		return "core/ uses nothing above it";
	return NULL;
}

static const char *layer_edge_bad(const struct edge *e)
{
	const struct layer *l = layer_of(e->from);

	if (l && !may_use(l, e->to))
		return "a back-edge (a layer may use only what its row in layers[] lists)";
	return NULL;
}

static const char *private_edge_bad(const struct edge *e)
{
	char from_dir[PATH_LEN], to_dir[PATH_LEN];

	if (!ends_with(e->to, "/internal.h"))
		return NULL;
	dir_of(e->from, from_dir);
	dir_of(e->to, to_dir);
	return strcmp(from_dir, to_dir) ? "an internal.h is private to its directory" : NULL;
}

static void test_core_includes_only_core(void **state)
{
	(void)state;
	assert_int_equal(count_bad(core_edge_bad), 0);
}

static void test_layers_point_down(void **state)
{
	(void)state;
	assert_int_equal(count_bad(layer_edge_bad), 0);
}

static void test_private_headers_stay_home(void **state)
{
	(void)state;
	assert_int_equal(count_bad(private_edge_bad), 0);
}

/* Directories as nodes, includes between them as arrows: a depth-first search for a loop. */
static char dirs[MAX_FILES][PATH_LEN];
static unsigned nr_dirs;

static unsigned dir_index(const char *path)
{
	char d[PATH_LEN];

	dir_of(path, d);
	for (unsigned i = 0; i < nr_dirs; i++) {
		if (!strcmp(dirs[i], d))
			return i;
	}
	snprintf(dirs[nr_dirs], PATH_LEN, "%s", d);
	return nr_dirs++;
}

static bool dir_edge[MAX_FILES][MAX_FILES];
static int mark[MAX_FILES]; /* 0 unseen, 1 on the path, 2 done */

static bool dir_loop(unsigned n, unsigned *depth, unsigned path[])
{
	path[(*depth)++] = n;
	mark[n] = 1;
	for (unsigned m = 0; m < nr_dirs; m++) {
		if (!dir_edge[n][m])
			continue;
		if (mark[m] == 1) {
			path[(*depth)++] = m;
			return true;
		}
		if (!mark[m] && dir_loop(m, depth, path))
			return true;
	}
	mark[n] = 2;
	(*depth)--;
	return false;
}

static void test_no_directory_loop(void **state)
{
	unsigned path[MAX_FILES + 1], depth = 0;

	(void)state;
	nr_dirs = 0;
	memset(dir_edge, 0, sizeof(dir_edge));
	memset(mark, 0, sizeof(mark));
	for (unsigned i = 0; i < nr_edges; i++) {
		unsigned a = dir_index(edges[i].from), b = dir_index(edges[i].to);

		if (a != b)
			dir_edge[a][b] = true;
	}
	for (unsigned n = 0; n < nr_dirs; n++) {
		if (!mark[n] && dir_loop(n, &depth, path)) {
			for (unsigned i = 0; i < depth; i++)
				print_error("%s%s", i ? " -> " : "directories include each other: ",
				            dirs[path[i]]);
			print_error("\n");
			fail();
		}
	}
}

static void test_headers_stay_short(void **state)
{
	unsigned bad = 0;

	(void)state;
	assert_true(nr_headers > 0);
	for (unsigned i = 0; i < nr_headers; i++) {
		if (header_lines[i] > HEADER_MAX) {
			print_error("%s has %u lines: split it by concern (at most %d)\n",
			            headers[i], header_lines[i], HEADER_MAX);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core_includes_only_core),
		cmocka_unit_test(test_layers_point_down),
		cmocka_unit_test(test_private_headers_stay_home),
		cmocka_unit_test(test_no_directory_loop),
		cmocka_unit_test(test_headers_stay_short),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
