#!/bin/sh
# e2e-timeout: 1800
# e2e-needs: hostfs
#
# host-cmd (by hand, not in the default set): runs E2E_HOST_CMD with sh in the build
# machine's own root inside L1 (l1/lib.sh: e2e_host_chroot), with L1's real /dev/kvm, from
# the repository's directory.  For measuring and debugging on real KVM what has no scenario
# yet, e.g.
#   E2E_COMBOS=6.1/6.1 SCENARIOS=host-cmd E2E_HOST_CMD="build/release/hvmm --version" tests/e2e/run
# Its output is in L1's console; a file it leaves at /tmp/host-cmd.out (in the chroot)
# comes back as $E2E_BUILD_DIR/files/host-cmd.out.
. ${E2E_LIB:-/e2e/lib.sh}

[ -n "$E2E_HOST_CMD" ] || e2e_skip "E2E_HOST_CMD is empty"
e2e_kvm_hold
e2e_host_chroot "$E2E_HOST_CMD"
rc=$?
[ -s /hostroot/tmp/host-cmd.out ] && e2e_file host-cmd.out /hostroot/tmp/host-cmd.out
[ "$rc" = 0 ] || e2e_fail "E2E_HOST_CMD exited with status $rc"
e2e_pass "E2E_HOST_CMD exited with status 0"
