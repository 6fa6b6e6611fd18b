#!/bin/sh
# e2e-timeout: 900
# e2e-needs: qemu
#
# bench-boot: how long L2 takes from the VMM's exec to its init's first line, under
# hvmm and under QEMU, on L1's real KVM, in the same run (make bench-nested; not in
# the default make e2e list).  All boot the same kernel and initrd with 2 vCPUs and
# 512 MiB:
#   hvmm --cpus 2 --memory 512M --kernel K --initrd I --cmdline "C N" --serial stdio
#   qemu-system-x86_64 -accel kvm -M microvm -cpu host -smp 2 -m 512M
#       -nodefaults -no-user-config -nographic -serial stdio -kernel K -initrd I -append C
#   the same with -M microvm,rtc=off and -append "C N"             ("qemu-nortc")
# where N is initcall_blacklist=cmos_init.  (microvm: QEMU's quickest-booting machine,
# and it boots the Debian kernel; its firmware qboot loads the kernel.)  Under microvm,
# with or without its RTC, this kernel registers rtc_cmos for want of ACPI saying there
# is none, and the probe stalls L2 about 9 s before "rtc_cmos: broken or not
# accessible".  hvmm's FADT says "no CMOS RTC", so its kernel never probes, and N
# changes nothing there; for QEMU, N skips the driver.  So "qemu" is microvm as it
# comes, "qemu-nortc" the like-for-like peer without the stall; both are reported.
# C is $E2E_L2_CMDLINE plus $BENCH_BOOT_CMDLINE
# (default "quiet": under nested TCG every console byte costs the guest about a
# millisecond in both VMMs, and the ~22 KB boot log would make this a UART benchmark)
# plus e2e.mode=bench-boot.
#
# /bin/l2stamp (bench/nested/l2stamp.c) forks the VMM and, blocked in poll(2) so it
# takes no CPU from L2, timestamps the arrival of L2-INIT-START -- the first line L2's
# init prints, with L2's own /proc/uptime in it -- then kills the VMM.  The runs
# alternate hvmm, QEMU, QEMU rtc=off, BENCH_BOOT_RUNS (default 5) of each.  Reported,
# one value per run (seconds of L1's clock; L2's uptime in seconds of L2's clock):
#   E2E-INFO bench-boot <vmm>-l2-init-s <s>...    (vmm: hvmm, qemu, qemu-nortc)
#   E2E-INFO bench-boot <vmm>-l2-uptime-s <s>...
#   E2E-INFO bench-boot <vmm>-l2-boot-kvm-exits <exits>/<mmio exits>/<io exits>...
#       (L1 KVM's counters at the marker: L2's exits to L1's KVM, and those that went
#       on to the VMM in userspace for MMIO and for port I/O)
#   E2E-INFO bench-boot ratio-hvmm-to-qemu <best hvmm / best QEMU>
#   E2E-INFO bench-boot ratio-median-hvmm-to-qemu <median hvmm / median QEMU>
#   E2E-INFO bench-boot ratio-median-hvmm-to-qemu-nortc <the same against rtc=off>
# BENCH_BOOT_SHOW_CONSOLE=1 copies the last run's L2 consoles to L1's (prefixed
# "hvmm| " and "qemu| "), to see where a boot spends its time (with BENCH_BOOT_CMDLINE=""
# for the kernel's timestamps).
# The rig stages QEMU into L1 only for scenarios that say "e2e-needs: qemu".
. ${E2E_LIB:-/e2e/lib.sh}

[ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
    || e2e_skip "no hvmm binary in L1 (set HVMM=/path/to/static/hvmm on the host)"
command -v qemu-system-x86_64 >/dev/null || e2e_skip "no qemu-system-x86_64 in L1"
command -v l2stamp >/dev/null \
    || e2e_skip "no l2stamp in L1 (make bench-nested builds it and sets E2E_EXTRA_BINS)"
test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
e2e_kvm_hold            # see lib.sh: no kernel code patching while we start VMs

L2=${E2E_L2_DIR:-/l2}
W=${E2E_WORK:-/tmp/bench-boot}; rm -rf "$W"; mkdir -p "$W"
RUNS=${BENCH_BOOT_RUNS:-5}
DEADLINE=${BENCH_BOOT_DEADLINE:-70}   # seconds one boot may take before the scenario fails
cmdline="$E2E_L2_CMDLINE ${BENCH_BOOT_CMDLINE-quiet} e2e.mode=bench-boot"
nortc="$cmdline initcall_blacklist=cmos_init"
e2e_info l2-cmdline "$nortc"
e2e_info l2-cmdline-qemu "$cmdline"
e2e_info hvmm-version "$($E2E_HVMM --version 2>&1 | head -n1)"
e2e_info qemu-version "$(qemu-system-x86_64 --version | head -n1)"

# L1 KVM's counters of the VM under test, read by l2stamp at the marker (they count only
# live VMs: this one and kvmhold's, which never runs): how often L2 left to L1's KVM while
# booting, and how many of those exits went on to the VMM for MMIO or port I/O.
kd=$(e2e_kvm_debugfs)
kvm_reads=
for f in exits mmio_exits io_exits; do [ -n "$kd" ] && kvm_reads="$kvm_reads -r $kd/$f"; done

# boot_once NAME CMD...: prints "<seconds> <L2 uptime> <exits> <mmio exits> <io exits>"
# of one boot (-1 for counters not read), or fails with the VMM's stderr and console
# tail on L1's console.
boot_once() {
    name=$1; shift
    line=$(l2stamp -t "$DEADLINE" -o "$W/$name.out" -e "$W/$name.err" $kvm_reads \
        L2-INIT-START -- "$@")
    case $line in
        *" secs=-1 "*|"")
            e2e_log "$name: no L2-INIT-START ($line); stderr and console tail:" >&2
            tail -n 20 "$W/$name.err" | sed "s/^/[$E2E_NAME] $name-err: /" >&2
            tr -d '\r' < "$W/$name.out" | tail -n 20 | sed "s/^/[$E2E_NAME] $name| /" >&2
            return 1 ;;
    esac
    kv() { v=$(echo "$line" | sed -n "s/.* $1=\([0-9.-]*\).*/\1/p"); echo "${v:--1}"; }
    echo "$(kv secs) $(kv guest_uptime) $(kv exits) $(kv mmio_exits) $(kv io_exits)"
}

hvmm_t= qemu_t= hvmm_u= qemu_u= nortc_t= nortc_u=
hvmm_x= qemu_x= nortc_x=       # "exits/mmio/io" of each boot
i=0
while [ $i -lt "$RUNS" ]; do
    i=$((i + 1))
    r=$(boot_once hvmm-$i "$E2E_HVMM" --cpus 2 --memory 512M --kernel $L2/vmlinuz \
        --initrd $L2/initrd.cpio.gz --cmdline "$nortc" --serial stdio) \
        || e2e_fail "hvmm run $i did not reach L2's init within ${DEADLINE}s"
    set -- $r; hvmm_t="$hvmm_t $1"; hvmm_u="$hvmm_u $2"; hvmm_x="$hvmm_x $3/$4/$5"
    e2e_log "hvmm run $i: L2 init after ${1}s (L2 uptime $2 s)"
    r=$(boot_once qemu-$i qemu-system-x86_64 -L /usr/share/qemu -accel kvm -M microvm \
        -cpu host -smp 2 -m 512M -nodefaults -no-user-config -nographic -serial stdio \
        -kernel $L2/vmlinuz -initrd $L2/initrd.cpio.gz -append "$cmdline") \
        || e2e_fail "QEMU run $i did not reach L2's init within ${DEADLINE}s"
    set -- $r; qemu_t="$qemu_t $1"; qemu_u="$qemu_u $2"; qemu_x="$qemu_x $3/$4/$5"
    e2e_log "qemu run $i: L2 init after ${1}s (L2 uptime $2 s)"
    r=$(boot_once qemu-nortc-$i qemu-system-x86_64 -L /usr/share/qemu -accel kvm \
        -M microvm,rtc=off -cpu host -smp 2 -m 512M -nodefaults -no-user-config -nographic \
        -serial stdio -kernel $L2/vmlinuz -initrd $L2/initrd.cpio.gz -append "$nortc") \
        || e2e_fail "QEMU rtc=off run $i did not reach L2's init within ${DEADLINE}s"
    set -- $r; nortc_t="$nortc_t $1"; nortc_u="$nortc_u $2"; nortc_x="$nortc_x $3/$4/$5"
    e2e_log "qemu rtc=off run $i: L2 init after ${1}s (L2 uptime $2 s)"
done

# min and median of a list of numbers
best() { echo "$*" | tr ' ' '\n' | grep . | sort -n | head -n1; }
median() {
    echo "$*" | tr ' ' '\n' | grep . | sort -n \
        | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
hb=$(best $hvmm_t); qb=$(best $qemu_t)
hm=$(median $hvmm_t); qm=$(median $qemu_t)
ratio=$(awk -v a="$hb" -v b="$qb" 'BEGIN{printf "%.3f", a/b}')
ratio_m=$(awk -v a="$hm" -v b="$qm" 'BEGIN{printf "%.3f", a/b}')
nm=$(median $nortc_t)
ratio_n=$(awk -v a="$hm" -v b="$nm" 'BEGIN{printf "%.3f", a/b}')
if [ "${BENCH_BOOT_SHOW_CONSOLE:-0}" = 1 ]; then
    tr -d '\r' < "$W/hvmm-$RUNS.out" | sed 's/^/hvmm| /'
    tr -d '\r' < "$W/qemu-$RUNS.out" | sed 's/^/qemu| /'
    tr -d '\r' < "$W/qemu-nortc-$RUNS.out" | sed 's/^/qemu-nortc| /'
fi
e2e_info hvmm-l2-init-s $hvmm_t
e2e_info qemu-l2-init-s $qemu_t
e2e_info hvmm-l2-uptime-s $hvmm_u
e2e_info qemu-l2-uptime-s $qemu_u
e2e_info qemu-nortc-l2-init-s $nortc_t
e2e_info qemu-nortc-l2-uptime-s $nortc_u
e2e_info hvmm-l2-boot-kvm-exits $hvmm_x
e2e_info qemu-l2-boot-kvm-exits $qemu_x
e2e_info qemu-nortc-l2-boot-kvm-exits $nortc_x
e2e_info ratio-hvmm-to-qemu "$ratio"
e2e_info ratio-median-hvmm-to-qemu "$ratio_m"
e2e_info ratio-median-hvmm-to-qemu-nortc "$ratio_n"
e2e_pass "L2 init, medians: hvmm ${hm}s, QEMU ${qm}s, QEMU rtc=off ${nm}s (hvmm/QEMU $ratio_m, rtc=off $ratio_n), $RUNS runs each"
