#!/bin/sh
# e2e-timeout: 3000
# e2e-needs: qemu
#
# bench-nvme: NVMe reads on the rig's NVMe passed through to L2 by hvmm and by QEMU, in
# alternating pairs (make bench-nested; not in the default make e2e list), so that each
# pair gives one hvmm/QEMU ratio per workload measured under the same conditions:
#   hvmm       in L2, the device passed through by hvmm --vfio
#   qemu       in L2, the device passed through by QEMU's -device vfio-pci
#   l1-native  in L1, nvme driver, /dev/nvmeXn1 (once before the pairs and once after:
#              for reference, not compared)
# A pair is one L2 session of each VMM, back to back, hvmm first in odd pairs and QEMU
# first in even ones (a drift of the host's speed then favours neither).  In each session
# L2 runs every workload of BENCH_NVME_WORKLOADS once, for BENCH_NVME_SECS seconds
# (default 10) after a 0.5 s warm-up; a workload is TAG:RANDREAD_OPTIONS (commas for
# spaces), default
#   qd1:-q,1  qd32:-q,32  seq128k:-m,seq,-b,131072,-q,1
# (bench/nested/randread.c: O_DIRECT; 4 KiB random reads at queue depth 1 with pread(2),
# at queue depth 32 through io_uring; 128 KiB sequential reads at queue depth 1), all
# within the first BENCH_NVME_SPAN_MIB MiB (32), pinned to L2's CPU 0.
# BENCH_NVME_PAIRS (default 12) pairs.
#
# Placement (BENCH_NVME_PIN=1, the default): the run-to-run spread of this rig comes
# largely from where L2's vCPUs, the VMM's other threads and the device's host interrupts
# land on L1's two CPUs, which differs from one session to the next.  So in both VMMs'
# sessions alike, once L2 is up: L2's vCPU 0 (where randread and its queue's interrupt
# are) runs on L1's CPU 1, together with the device's MSI-X interrupts in L1; vCPU 1 and
# every other thread of the VMM on L1's CPU 0.  hvmm names its vCPU threads vcpuN; QEMU
# runs with -name ...,debug-threads=on, which names them "CPU N/KVM".
#
# Both L2s get the same kernel, initrd, 2 vCPUs, 512 MiB and command line
# ($E2E_L2_CMDLINE + BENCH_NVME_CMDLINE, default "quiet", + e2e.mode=bench-io);
# QEMU is -M microvm,pcie=on,rtc=off (a PCIe host bridge for vfio-pci; no RTC, and
# initcall_blacklist=cmos_init as in bench-boot).  L2's init takes the workloads one by
# one from L1 over the serial port (tests/e2e/l2/init, mode bench-io).
#
# Around the reads of each session L1 reads hvmm's VFIO counters (SIGUSR1) and L1 KVM's
# counters (debugfs), and L2's nvme interrupt counts; in between L1 only sleeps.
#
# Reported (the host's bench/nested/run.sh turns them into the table):
#   E2E-INFO bench-nvme randread <place> <pair>.<tag> RANDREAD dev=... iops=... ...
#   E2E-INFO bench-nvme pair <pair> <first VMM>
#   E2E-INFO bench-nvme hvmm-counters-before|after|exit <pair> config reads ...
#   E2E-INFO bench-nvme kvm-stats-before|after <vmm> <pair> exits=N mmio_exits=N ...
#   E2E-INFO bench-nvme pinned <vmm> <pair> <what went where>
#   E2E-INFO bench-nvme session-retry <vmm> <pair>: <why the first try broke>
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

PAIRS=${BENCH_NVME_PAIRS:-12}
SECS=${BENCH_NVME_SECS:-10}
SPAN=${BENCH_NVME_SPAN_MIB:-32}
CPU=${BENCH_NVME_CPU:-0}
PIN=${BENCH_NVME_PIN:-1}
WORKLOADS=${BENCH_NVME_WORKLOADS:-qd1:-q,1 qd32:-q,32 seq128k:-m,seq,-b,131072,-q,1}
DEADLINE=150            # seconds an L2 may take to boot, and again to finish
# initcall_blacklist=cmos_init: spares QEMU's L2 a 9 s rtc_cmos stall (see bench-boot.sh).
cmdline="$E2E_L2_CMDLINE ${BENCH_NVME_CMDLINE-quiet} initcall_blacklist=cmos_init e2e.mode=bench-io"
W=/tmp/bench-nvme; rm -rf "$W"; mkdir -p "$W"
e2e_info l2-cmdline "$cmdline"
e2e_info device "$bdf"
e2e_info qemu-version "$(qemu-system-x86_64 --version | head -n1)"
e2e_info workloads "$WORKLOADS"
e2e_info settings "pairs=$PAIRS secs=$SECS span_mib=$SPAN cpu=$CPU pin=$PIN"

# ---- L1 native: the nvme driver, the namespace's block device --------------------------
native() {
    place=l1-native
    bound_to_nvme || e2e_fail "$bdf is not bound to nvme for $place"
    e2e_wait_for 20 sh -c "ls -d $dev/nvme/nvme*/nvme*n1 >/dev/null 2>&1" \
        || e2e_fail "no namespace under $bdf for $place"
    ns=$(basename "$(ls -d "$dev"/nvme/nvme*/nvme*n1 | head -n1)")
    e2e_wait_for 10 test -b "/dev/$ns" || e2e_fail "/dev/$ns did not appear"
    for w in $WORKLOADS; do
        line=$(randread -c "$CPU" -t "$SECS" -s "$SPAN" $(echo "${w#*:}" | tr , ' ') "/dev/$ns") \
            || e2e_fail "randread on /dev/$ns failed"
        e2e_info randread "$place" "$1.${w%%:*}" "$line"
    done
}

# ---- placement ------------------------------------------------------------------------
# pin_session VMM PID: vCPU 0 and the device's interrupts on L1's CPU 1, the rest on CPU 0.
pin_session() {
    [ "$PIN" = 1 ] || return 0
    done_=
    for t in /proc/$2/task/*; do
        tid=${t##*/}
        comm=$(cat "$t/comm" 2>/dev/null) || continue
        case $comm in
            vcpu0|"CPU 0/KVM") c=1 ;;
            *) c=0 ;;
        esac
        taskset -p $((c + 1)) "$tid" >/dev/null 2>&1 && done_="$done_ $(echo "$comm" | tr ' /' '__')=$c"
    done
    for irq in $(grep "vfio-msi.*$bdf" /proc/interrupts | sed 's/^ *\([0-9]*\):.*/\1/'); do
        echo 1 > /proc/irq/$irq/smp_affinity_list 2>/dev/null && done_="$done_ irq$irq=1"
    done
    note pinned "$1 $pair$(echo "$done_" | tr ' ' '\n' | sort | uniq -c | awk '{ printf " %s%s", $2, ($1 > 1 ? " (" $1 " threads)" : "") }')"
}

# ---- one L2 session: boot, handshake, workloads, power-off ------------------------------
# l2_session NAME PAIR CMD...: the VMM's stdin is our FIFO (fd 3, lib.sh's e2e_l2_start).
# Returns 1, with the reason in WHY and the VMM stopped, if the session broke.  Its
# E2E-INFO lines are collected in $W/NAME.info and printed only when it completed, so a
# broken session leaves no half figures (a "before" without its "after").
l2_session() {
    name=$1 pair=$2; shift 2
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
    note l2-msix-vectors "$name $pair $(e2e_l2_val_live L2-NVME-MSIX-VECTORS)"
    pin_session "$name" "$(cat "$W/$name/pid")"
    echo "irqs before" >&3
    if [ "$name" = hvmm ]; then hvmm_counters before || return 1; fi
    kvm_stats before
    for w in $WORKLOADS; do
        tag=${w%%:*}
        echo "rr $tag -c,$CPU,-t,$SECS,-s,$SPAN,${w#*:}" >&3
        # Stay idle while L2 measures: warm-up and reads take SECS + 0.5 s.
        sleep $((SECS + 1))
        t=$(e2e_l2_elapsed)
        while ! e2e_l2_has "L2-RR-DONE $tag"; do
            e2e_l2_done && { broke "the VMM exited (status $(cat "$W/$name/rc")) during L2's reads"; return 1; }
            [ "$(e2e_l2_elapsed)" -lt $((t + 60)) ] || { broke "no L2-RR-DONE $tag"; return 1; }
            sleep 1
        done
    done
    kvm_stats after
    if [ "$name" = hvmm ]; then hvmm_counters after || return 1; fi
    echo "irqs after" >&3
    echo "end" >&3
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
    nw=$(echo $WORKLOADS | wc -w)
    [ "$(grep -c '^RANDREAD ' "$W/$name/clean")" = "$nw" ] \
        || { WHY="$name: not $nw randread results from L2"; return 1; }
    note exit-status "$name $pair $(cat "$W/$name/rc")"
    note l2-irqs "$name $pair $(sed -n 's/^L2-IRQS \(before\|after\) /\1 /p' "$W/$name/clean" | tr '\n' ' ')"
    set -- $WORKLOADS
    while read -r line; do
        note randread "$name" "$pair.${1%%:*}" "$line"
        shift
    done <<EOF
$(grep '^RANDREAD ' "$W/$name/clean")
EOF
    [ "$name" = hvmm ] && note hvmm-counters-exit "$pair $(grep "$bdf: config reads" "$W/hvmm/err" \
        | tail -n1 | sed 's/.*: config reads/config reads/')"
    cat "$info"
}

# note KEY VALUE...: an E2E-INFO line of the current session, printed if it completes.
note() { k=$1; shift; echo "E2E-INFO $E2E_NAME $k $*" >> "$info"; }
# broke REASON: stop the session's VMM (showing its stderr and L1's dmesg) and say why.
broke() { WHY="$name: $1"; e2e_l2_abort; }

# session NAME PAIR CMD...: one L2 session, tried a second time if it broke.  The rig
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
    note hvmm-counters-$1 "$pair $(grep "$bdf: config reads" "$W/hvmm/err" | tail -n1 | sed 's/.*: config reads/config reads/')"
}

# kvm_stats WHEN: L1 KVM's own counters, summed over its VMs (only the one L2 runs now):
# exits of L2 to L1's KVM, those of them that went on to the VMM in userspace for MMIO
# or port I/O, interrupts injected, and halt polling.  Read around the reads, for both
# VMMs alike.
kvm_stats() {
    d=$(e2e_kvm_debugfs) || return 0
    v=
    for f in exits mmio_exits io_exits irq_exits halt_exits irq_injections \
        halt_successful_poll halt_attempted_poll halt_wakeup; do
        v="$v $f=$(cat $d/$f 2>/dev/null)"
    done
    note kvm-stats-$1 "$name $pair$v"
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
        -M microvm,pcie=on,rtc=off -no-reboot -name l2,debug-threads=on \
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

native 0
to_vfio
p=0
while [ $p -lt "$PAIRS" ]; do
    p=$((p + 1))
    if [ $((p % 2)) = 1 ]; then
        e2e_info pair "$p hvmm"
        run_hvmm $p; run_qemu $p
    else
        e2e_info pair "$p qemu"
        run_qemu $p; run_hvmm $p
    fi
done
to_nvme
native $((PAIRS + 1))

e2e_pass "$PAIRS pairs of L2 sessions (hvmm, QEMU), workloads $(for w in $WORKLOADS; do printf '%s ' "${w%%:*}"; done)of ${SECS}s each; L1 native before and after"
