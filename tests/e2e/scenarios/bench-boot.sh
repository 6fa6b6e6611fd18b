#!/bin/sh
# e2e-timeout: 600
# e2e-needs: qemu
#
# bench-boot: how long L2 takes from the VMM's start to its init, under hvmm
# and under QEMU, on L1's real KVM, in the same run (make bench's nested row).
# Both boot the same kernel, initrd and command line with 2 vCPUs and 512 MiB:
#   hvmm --cpus 2 --memory 512M ... --serial stdio
#   qemu-system-x86_64 -accel kvm -M microvm -cpu host -smp 2 -m 512M ...
#       -nodefaults -no-user-config -nographic -serial stdio
# (microvm: QEMU's quickest-booting machine, the one make bench compares with.)
# "init" is L2's init printing L2-READY-FOR-INPUT (tests/e2e/l2/init, after
# it loaded its modules), seen on the VMM's stdout; the VMM is then killed.
# The runs alternate, BENCH_BOOT_RUNS (default 2) of each, and the scenario
# reports every time and the ratio of the best ones:
#   E2E-INFO bench-boot hvmm-l2-init-s <s>...   qemu-l2-init-s <s>...
#   E2E-INFO bench-boot ratio-hvmm-to-qemu <best hvmm / best qemu>
# The rig stages QEMU into L1 only for scenarios that say "e2e-needs: qemu".
. ${E2E_LIB:-/e2e/lib.sh}

[ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
    || e2e_skip "no hvmm binary in L1 (set HVMM=/path/to/static/hvmm on the host)"
command -v qemu-system-x86_64 >/dev/null || e2e_skip "no qemu-system-x86_64 in L1"
test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"

L2=${E2E_L2_DIR:-/l2}
W=${E2E_WORK:-/tmp/bench-boot}; rm -rf "$W"; mkdir -p "$W"
RUNS=${BENCH_BOOT_RUNS:-2}
DEADLINE=120            # seconds one boot may take before the scenario fails
cmdline="$E2E_L2_CMDLINE e2e.mode=bench-boot"

elapsed() { awk -v a="$1" -v b="$(e2e_uptime)" 'BEGIN{printf "%.2f", b-a}'; }

# boot_once NAME CMD...: time from launch to L2-READY-FOR-INPUT, printed in s
# (its diagnostics go to stderr, which reaches the console too).  setsid makes the VMM lead its own group, so killing it takes anything it
# started; stdin is /dev/null (this benchmark types nothing).
boot_once() {
    name=$1; shift
    out=$W/$name.out; : > "$out"
    t0=$(e2e_uptime)
    setsid "$@" < /dev/null > "$out" 2> "$W/$name.err" &
    pid=$!
    while ! grep -q L2-READY-FOR-INPUT "$out"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            e2e_log "$name exited before L2's init; its stderr:" >&2
            sed "s/^/[$E2E_NAME] $name-err: /" "$W/$name.err" | tail -n 20 >&2
            return 1
        fi
        if [ "$(elapsed "$t0" | cut -d. -f1)" -ge "$DEADLINE" ]; then
            kill -9 -- "-$pid" 2>/dev/null
            e2e_log "$name: no L2 init within ${DEADLINE}s; console tail:" >&2
            tr -d '\r' < "$out" | tail -n 20 | sed "s/^/[$E2E_NAME] $name| /" >&2
            return 1
        fi
        sleep 0.05
    done
    t=$(elapsed "$t0")
    kill -9 -- "-$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    echo "$t"
}

hvmm_t= qemu_t=
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    t=$(boot_once hvmm-$i "$E2E_HVMM" --cpus 2 --memory 512M --kernel $L2/vmlinuz \
        --initrd $L2/initrd.cpio.gz --cmdline "$cmdline" --serial stdio) \
        || e2e_fail "hvmm run $i did not reach L2's init"
    e2e_log "hvmm run $i: L2 init after ${t}s"
    hvmm_t="$hvmm_t $t"
    t=$(boot_once qemu-$i qemu-system-x86_64 -L /usr/share/qemu -accel kvm -M microvm \
        -cpu host -smp 2 -m 512M -nodefaults -no-user-config -nographic -serial stdio \
        -kernel $L2/vmlinuz -initrd $L2/initrd.cpio.gz -append "$cmdline") \
        || e2e_fail "QEMU run $i did not reach L2's init"
    e2e_log "qemu run $i: L2 init after ${t}s"
    qemu_t="$qemu_t $t"
done

best() { echo "$*" | tr ' ' '\n' | grep . | sort -n | head -n1; }
hb=$(best $hvmm_t); qb=$(best $qemu_t)
ratio=$(awk -v a="$hb" -v b="$qb" 'BEGIN{printf "%.3f", a/b}')
e2e_info hvmm-l2-init-s $hvmm_t
e2e_info qemu-l2-init-s $qemu_t
e2e_info ratio-hvmm-to-qemu "$ratio"
e2e_pass "L2 init: hvmm best ${hb}s, QEMU best ${qb}s (hvmm/QEMU $ratio), $RUNS runs each"
