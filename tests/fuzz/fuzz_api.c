/* SPDX-License-Identifier: MIT */
/*
 * Fuzz target api: the API's request path as a client drives it -- bytes on a connection,
 * split into lines (api_conn_feed), each line a request (api_request) against a PC on the
 * fake hypervisor with two empty root ports.
 *
 * Input: one byte giving the size of the pieces the rest arrives in (1-256, as reads of the
 * socket would split it), then the bytes the client sends; then the client closes its side.
 *
 * Checked: every reply is one line of JSON, an object with exactly one of "return" and
 * "error"; an error has a string class and desc; there is at most one reply per line sent
 * (plus one for an oversized line); nothing is answered after the connection is closing; no
 * fd leaks.
 */
#include <jansson.h>
#include <string.h>

#include "platform/platform.h"
#include "tests/fuzz/fuzz.h"
#include "tests/unit/unit.h"

struct sink {
	unsigned replies;
	bool closed_seen;
};

static bool fuzz_api_send(void *opaque, const char *line)
{
	struct sink *s = opaque;
	size_t n = strlen(line);
	json_t *j, *ret, *err;

	FUZZ_CHECK(n >= 2 && line[n - 1] == '\n' && !memchr(line, '\n', n - 1));
	j = json_loadb(line, n - 1, 0, NULL);
	FUZZ_CHECK(json_is_object(j));
	ret = json_object_get(j, "return");
	err = json_object_get(j, "error");
	FUZZ_CHECK(!ret != !err);
	if (err) {
		FUZZ_CHECK(json_is_string(json_object_get(err, "class")));
		FUZZ_CHECK(json_is_string(json_object_get(err, "desc")));
	}
	json_decref(j);
	s->replies++;
	return true;
}

static struct pc *fuzz_api_pc(void)
{
	static struct pc *pc;
	static const char *const ports[] = { "hp0", "hp1" };

	if (!pc) {
		log_set_level(LOG_ERR);
		json_object_seed(1);
		FUZZ_MUST(fake_pc_create_ports(2, MiB(16), ports, 2, false, &pc));
	}
	return pc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct pc *pc = fuzz_api_pc();
	static struct api_conn conn;
	struct sink s = { 0 };
	size_t piece = (size_t)fuzz_u8(&in) + 1, lines = 0;
	int fd0 = fuzz_lowest_free_fd();

	conn = (struct api_conn){ 0 };
	for (size_t i = 0; i < in.n; i++)
		lines += in.p[i] == '\n';
	while (in.n && !conn.closing) {
		size_t got;
		const uint8_t *p = fuzz_bytes(&in, piece, &got);

		api_conn_feed(&conn, pc, (const char *)p, got, fuzz_api_send, &s);
	}
	if (!conn.closing) {
		api_conn_eof(&conn, pc, fuzz_api_send, &s);
		lines++; /* the last line may lack its newline */
	} else {
		FUZZ_CHECK(s.replies >= 1); /* a connection closes only after saying why */
	}
	FUZZ_CHECK(s.replies <= lines + 1);
	/* A closing connection takes nothing more. */
	{
		unsigned before = s.replies;

		FUZZ_CHECK(
		    !api_conn_feed(&conn, pc, "{\"execute\":\"list\"}\n", 19, fuzz_api_send, &s));
		FUZZ_CHECK(s.replies == before);
	}
	FUZZ_CHECK(fuzz_lowest_free_fd() == fd0);
	return 0;
}
