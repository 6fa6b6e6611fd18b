/* Serial output reaches the host. */
#include <string.h>

#include "guest.h"

static int serial_check(struct gt_ctx *c)
{
	char buf[4096];

	if (gt_read_file(c->serial_path, buf, sizeof(buf)))
		return gt_fail(c, "no serial output file %s", c->serial_path);
	if (!strstr(buf, "hello from the guest over COM1\r\n"))
		return gt_fail(c, "serial output was '%s'", buf);
	return 0;
}

GUEST_TEST(gt_serial) = {
	.name = "serial",
	.expect_done = true,
	.check = serial_check,
};
