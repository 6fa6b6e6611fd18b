#!/bin/sh
# e2e-timeout: 720
# e2e-needs: qemu
#
# bench-nvme: 4 KiB random reads at queue depth 1 on the rig's NVMe, measured in the
# same run (make bench-nested; not in the default make e2e list) in three places:
#   l1-native  in L1, nvme driver, /dev/nvmeXn1
#   hvmm       in L2, the device passed through by hvmm --vfio
#   qemu       in L2, the device passed through by QEMU's -device vfio-pci
# The host under L1 is shared and its speed drifts, so the places are visited in
# BENCH_NVME_ROUNDS (default 4) rounds of alternating order -- native, hvmm, qemu, native,
# qemu, hvmm, native, ... -- which cancels a steady drift between hvmm and QEMU.
# Each visit runs /bin/randread (bench/nested/randread.c: O_DIRECT, pread at random
# 4 KiB-aligned offsets within the first BENCH_NVME_SPAN_MIB MiB, default 32, fixed seed)
# BENCH_NVME_RUNS times (default 2) for BENCH_NVME_SECS seconds (default 5) each, pinned
# to CPU BENCH_NVME_CPU (default 0) of L1 or L2, so the submission queue and its
# completion interrupt do not move between CPUs from run to run.
# Both L2s get the same kernel, initrd, 2 vCPUs, 512 MiB and command line
# ($E2E_L2_CMDLINE + BENCH_NVME_CMDLINE, default "quiet", + e2e.mode=bench-nvme and
# randread's options); QEMU is -M microvm,pcie=on,rtc=off (a PCIe host bridge for
# vfio-pci; no RTC, and initcall_blacklist=cmos_init as in bench-boot).
#
# hvmm runs with -v.  L2 waits for a line from L1 before and after its reads
# (tests/e2e/l2/init, mode bench-nvme); in between L1 sends hvmm SIGUSR1, which prints
# its VFIO counters, so the difference of the two prints is what hvmm trapped during
# exactly the reads.  While L2 reads, L1 only sleeps.
#
# Reported (the host's bench/nested/run.sh turns them into the table):
#   E2E-INFO bench-nvme randread <place> <visit>.<run> RANDREAD dev=... iops=... ...
#   E2E-INFO bench-nvme hvmm-counters-before|after|exit <visit> config reads ...
#   E2E-INFO bench-nvme kvm-stats-before|after <vmm> <visit> exits=N mmio_exits=N ...
#   E2E-INFO bench-nvme session-retry <vmm> <visit>: <why the first try broke>
. ${E2E_LIB:-/e2e/lib.sh}

[ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
    || e2e_skip "no hvmm binary in L1 (set HVMM=/path/to/static/hvmm on the host)"
command -v qemu-system-x86_64 >/dev/null || e2e_skip "no qemu-system-x86_64 in L1"
command -v randread >/dev/null \
    || e2e_skip "no randread in L1 (make bench-nested builds it and sets E2E_EXTRA_BINS)"
test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
e2e_kvm_hold            # see lib.sh: no kernel code patching while we start VMs
dev=$(e2e_find_nvme) || e2e_fail "no NVMe (1b36:0010) in L1"
bdf=${dev##*/}

RUNS=${BENCH_NVME_RUNS:-2}
ROUNDS=${BENCH_NVME_ROUNDS:-4}
SECS=${BENCH_NVME_SECS:-5}
SPAN=${BENCH_NVME_SPAN_MIB:-32}
CPU=${BENCH_NVME_CPU:-0}
DEADLINE=150            # seconds an L2 may take to boot, and again to finish
# initcall_blacklist=cmos_init: spares QEMU's L2 a 9 s rtc_cmos stall (see bench-boot.sh).
cmdline="$E2E_L2_CMDLINE ${BENCH_NVME_CMDLINE-quiet} initcall_blacklist=cmos_init e2e.mode=bench-nvme"
cmdline="$cmdline e2e.randread=-c,$CPU,-t,$SECS,-s,$SPAN e2e.runs=$RUNS"
W=/tmp/bench-nvme; rm -rf "$W"; mkdir -p "$W"
e2e_info l2-cmdline "$cmdline"
e2e_info device "$bdf"

# ---- L1 native: the nvme driver, the namespace's block device --------------------------
native() {
    place=l1-native nvisit=$((nvisit + 1))
    bound_to_nvme || e2e_fail "$bdf is not bound to nvme for $place"
    e2e_wait_for 20 sh -c "ls -d $dev/nvme/nvme*/nvme*n1 >/dev/null 2>&1" \
        || e2e_fail "no namespace under $bdf for $place"
    ns=$(basename "$(ls -d "$dev"/nvme/nvme*/nvme*n1 | head -n1)")
    e2e_wait_for 10 test -b "/dev/$ns" || e2e_fail "/dev/$ns did not appear"
    r=0
    while [ $r -lt "$RUNS" ]; do
        r=$((r + 1))
        line=$(randread -c "$CPU" -t "$SECS" -s "$SPAN" "/dev/$ns") \
            || e2e_fail "randread on /dev/$ns failed"
        e2e_info randread "$place" "$nvisit.$r" "$line"
    done
}
nvisit=0

# ---- one L2 session: boot, handshake, reads, power-off ---------------------------------
# l2_session NAME VISIT CMD...: the VMM's stdin is our FIFO (fd 3, lib.sh's e2e_l2_start).
# Returns 1, with the reason in WHY and the VMM stopped, if the session broke.  Its
# E2E-INFO lines are collected in $W/NAME.info and printed only when it completed, so a
# broken session leaves no half figures (a "before" without its "after").
l2_session() {
    name=$1 visit=$2; shift 2
    info=$W/$name.info; : > "$info"
    e2e_l2_start "$W/$name" "$@"
    e2e_l2_wait_input "$DEADLINE" || { broke "$E2E_L2_WHY"; return 1; }
    echo "e2e-ping 1" >&3
    while ! e2e_l2_has L2-BENCH-READY; do
        e2e_l2_has L2-NVME-MISSING && { broke "L2 found no NVMe"; return 1; }
        e2e_l2_done && { broke "the VMM exited (status $(cat "$W/$name/rc")) before L2's reads"; return 1; }
        [ "$(e2e_l2_elapsed)" -lt "$DEADLINE" ] || { broke "no L2-BENCH-READY in ${DEADLINE}s"; return 1; }
        sleep 0.5
    done
    note l2-msix-vectors "$name $visit $(e2e_l2_val_live L2-NVME-MSIX-VECTORS)"
    if [ "$name" = hvmm ]; then hvmm_counters before || return 1; fi
    kvm_stats before
    echo go >&3
    # Stay idle while L2 measures: the warm-up and reads take about RUNS * (SECS + 0.5).
    sleep $((RUNS * SECS + RUNS / 2))
    t=$(e2e_l2_elapsed)
    while ! e2e_l2_has L2-BENCH-DONE; do
        e2e_l2_done && { broke "the VMM exited (status $(cat "$W/$name/rc")) during L2's reads"; return 1; }
        [ "$(e2e_l2_elapsed)" -lt $((t + 60)) ] || { broke "no L2-BENCH-DONE"; return 1; }
        sleep 0.5
    done
    kvm_stats after
    if [ "$name" = hvmm ]; then hvmm_counters after || return 1; fi
    echo finished >&3
    # hvmm exits when L2 powers off.  Should QEMU's microvm not turn L2's poweroff -f
    # into an exit, we end it 20 s after L2 said so: the numbers are in already.
    t=$(e2e_l2_elapsed)
    while ! e2e_l2_done; do
        if [ "$(e2e_l2_elapsed)" -ge $((t + 60)) ] \
            || { [ "$name" = qemu ] && e2e_l2_has L2-POWEROFF && [ "$(e2e_l2_elapsed)" -ge $((t + 20)) ]; }; then
            e2e_log "$name did not exit after L2's power-off; killing it"
            kill -9 -- "-$(cat "$W/$name/pid")" 2>/dev/null
            break
        fi
        sleep 0.5
    done
    e2e_l2_wait_exit 600 || { broke "$E2E_L2_WHY"; return 1; }
    grep -q L2-RANDREAD-FAILED "$W/$name/clean" && { WHY="$name: randread failed in L2"; return 1; }
    [ "$(grep -c '^RANDREAD ' "$W/$name/clean")" = "$RUNS" ] \
        || { WHY="$name: not $RUNS randread results from L2"; return 1; }
    note exit-status "$name $visit $(cat "$W/$name/rc")"
    r=0
    while read -r line; do
        r=$((r + 1))
        note randread "$name" "$visit.$r" "$line"
    done <<EOF
$(grep '^RANDREAD ' "$W/$name/clean")
EOF
    [ "$name" = hvmm ] && note hvmm-counters-exit "$visit $(grep "$bdf: config reads" "$W/hvmm/err" \
        | tail -n1 | sed 's/.*: config reads/config reads/')"
    cat "$info"
}

# note KEY VALUE...: an E2E-INFO line of the current session, printed if it completes.
note() { k=$1; shift; echo "E2E-INFO $E2E_NAME $k $*" >> "$info"; }
# broke REASON: stop the session's VMM (showing its stderr and L1's dmesg) and say why.
broke() { WHY="$name: $1"; e2e_l2_abort; }

# session NAME VISIT CMD...: one L2 session, tried a second time if it broke.  The rig
# runs under TCG, and an L2 has been seen to reset in the middle of its reads (under
# QEMU, once in some 20 sessions); a retry is reported, never hidden.
session() {
    l2_session "$@" && return 0
    e2e_info session-retry "$1 $2: $WHY"
    l2_session "$@" || { give_back; e2e_fail "$WHY (and again on a retry)"; }
}

# The value of marker $1 in the (still growing) output of the running L2.
e2e_l2_val_live() { tr -d '\r' < "$E2E_L2W/out" | sed -n "s/.*$1 \([^ ]*\).*/\1/p" | head -n1; }

# hvmm_counters WHEN: SIGUSR1 makes hvmm print its VFIO counters on stderr; wait for
# the new line and report it.
hvmm_counters() {
    n0=$(grep -c "$bdf: config reads" "$W/hvmm/err")
    kill -USR1 "$(cat "$W/hvmm/pid")"
    e2e_wait_for 10 sh -c "[ \$(grep -c '$bdf: config reads' '$W/hvmm/err') -gt $n0 ]" \
        || { broke "hvmm printed no counters on SIGUSR1"; return 1; }
    note hvmm-counters-$1 "$visit $(grep "$bdf: config reads" "$W/hvmm/err" | tail -n1 | sed 's/.*: config reads/config reads/')"
}

# kvm_stats WHEN: L1 KVM's own counters, summed over its VMs (only the one L2 runs now):
# exits of L2 to L1's KVM, those of them that went on to the VMM in userspace for MMIO
# or port I/O, and interrupts injected.  Read around the reads, for both VMMs alike.
kvm_stats() {
    d=$(e2e_kvm_debugfs) || return 0
    v=
    for f in exits mmio_exits io_exits irq_exits halt_exits irq_injections; do
        v="$v $f=$(cat $d/$f 2>/dev/null)"
    done
    note kvm-stats-$1 "$name $visit$v"
}

give_back() { e2e_pci_rebind "$dev" "" 2>/dev/null; }
bound_to_nvme() { [ "$(e2e_pci_driver "$dev")" = nvme ]; }

run_hvmm() {
    session hvmm "$1" "$E2E_HVMM" -v --cpus 2 --memory 512M \
        --kernel ${E2E_L2_DIR:-/l2}/vmlinuz --initrd ${E2E_L2_DIR:-/l2}/initrd.cpio.gz \
        --cmdline "$cmdline" --serial stdio --vfio "$bdf"
}
# -no-reboot: an L2 that resets ends QEMU, as it ends hvmm, instead of booting again.
run_qemu() {
    session qemu "$1" qemu-system-x86_64 -L /usr/share/qemu -accel kvm \
        -M microvm,pcie=on,rtc=off -no-reboot \
        -cpu host -smp 2 -m 512M -nodefaults -no-user-config -nographic -serial stdio \
        -kernel ${E2E_L2_DIR:-/l2}/vmlinuz -initrd ${E2E_L2_DIR:-/l2}/initrd.cpio.gz -append "$cmdline" \
        -device vfio-pci,host="$bdf"
}
to_vfio() {
    e2e_pci_rebind "$dev" vfio-pci || e2e_fail "could not bind $bdf to vfio-pci"
    e2e_wait_for 10 test -e "$dev/driver" || e2e_fail "vfio-pci did not bind $bdf"
}
to_nvme() {
    give_back
    e2e_wait_for 20 bound_to_nvme || e2e_fail "L1's nvme did not take $bdf back"
}

native
round=0
while [ $round -lt "$ROUNDS" ]; do
    round=$((round + 1))
    to_vfio
    if [ $((round % 2)) = 1 ]; then run_hvmm $round; run_qemu $round
    else run_qemu $round; run_hvmm $round; fi
    to_nvme
    native
done

e2e_pass "randread in L1 ($nvisit visits), in L2 under hvmm and under QEMU ($ROUNDS each): $RUNS x ${SECS}s per visit"
