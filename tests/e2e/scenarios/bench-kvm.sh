#!/bin/sh
# e2e-timeout: 3600
# e2e-needs: hostfs
#
# bench-kvm (make bench on a machine without /dev/kvm; not in the default set): the KVM
# part of make bench -- start-up, exit cost, callgrind instructions per exit, RSS, interrupt
# wake-ups, each against QEMU in the same run -- run by bench/run.sh in the build machine's
# own root (e2e_host_chroot), on L1's real kvm-amd.  The table comes back to the host as
# files/bench-results.md, and says where it was measured.
. ${E2E_LIB:-/e2e/lib.sh}

test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
e2e_kvm_hold
# The BENCH_* knobs reach L1 in /e2e/config; bench/run.sh reads them from its environment.
for v in $(sed -n 's/^\(BENCH_[A-Za-z0-9_]*\)=.*/\1/p' /e2e/config); do export "$v"; done
export BENCH_RESULTS=/tmp/bench-results.md
# L1 runs under TCG, which translates code per virtual address: a position-independent VMM
# mapped at new addresses at each exec is translated anew each time (measured: hvmm 111 ms
# to its guest's first instruction with randomization, 55 ms without; QEMU 785 and 449 ms),
# so both VMMs run without address-space randomization here (bench/probe.c -R).
export BENCH_NO_ASLR=${BENCH_NO_ASLR:-1}
export BENCH_WHERE="inside the nested host of make e2e: L1 Linux $(uname -r) with kvm-amd, in QEMU-TCG (2 vCPUs) on a build machine without /dev/kvm; both VMMs run as L1 processes, their guest as L2"
# The 9p mount keeps what it read: without a cache every exec of QEMU reads it and its
# libraries again over 9p, and the figures would be of that (tests/e2e/README.md).
E2E_HOSTFS_CACHE=${E2E_HOSTFS_CACHE:-loose}
e2e_host_chroot "bash bench/run.sh ${BENCH_BUILD:-build/release}"
rc=$?
[ -s /hostroot/tmp/bench-results.md ] || e2e_fail "bench/run.sh wrote no table (status $rc)"
e2e_file bench-results.md /hostroot/tmp/bench-results.md
[ "$rc" = 0 ] || e2e_fail "bench/run.sh exited with status $rc"
e2e_pass "bench/run.sh measured on L1's KVM; the table is in files/bench-results.md"
