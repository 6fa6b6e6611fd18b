#!/bin/sh
# e2e-timeout: 2400
# e2e-needs: qemu
#
# bench-vfio-start: how long a VMM with an assigned device takes to start as guest RAM
# grows (make bench-nested; not in the default make e2e list).  VFIO pins and maps all of
# guest RAM for the device before the guest runs, so start-up grows with RAM; a RAM
# backing with huge pages has 512 times fewer pages to pin.  hvmm and QEMU, in the same
# L1, alternating, the rig's NVMe passed through, boot L2 (its kernel and initrd, 2 vCPUs,
# quiet) for each size of BENCH_VSTART_SIZES (MiB, default "1024 2048 4096"),
# BENCH_VSTART_RUNS rounds (default 2):
#
#   hvmm --cpus 2 --memory S --memory-backend B --serial stdio --vfio BDF --kernel ...
#   qemu-system-x86_64 -accel kvm -M microvm,pcie=on,rtc=off -cpu host -smp 2 -m S ...
#       -device vfio-pci,host=BDF -kernel ...
#
# and measures, from the VMM's exec:
#   first: the VM's first instruction -- the first entry into the guest (L1 KVM's
#          kvm_entry tracepoint, on CLOCK_MONOTONIC like l2stamp; for QEMU that is its
#          firmware's first instruction): all VM set-up is done -- for QEMU the pinning
#          too, for hvmm not: it pins while the guest boots;
#   dma:   all guest RAM pinned and mapped for DMA: for hvmm its -v line saying so
#          (l2stamp -s), which may come after L2's init; for QEMU, which pins before the
#          guest runs, its first entry (an upper bound);
#   secs:  L2-INIT-START, the first line of L2's init (/bin/l2stamp);
# and the VMM's VmRSS, VmLck (what VFIO's type1 IOMMU charges for pinned RAM) and
# HugetlbPages at that moment.
#
# In each RAM backing of BENCH_VSTART_BACKINGS (default "anon memfd hugetlb"):
#   anon     hvmm's default (private anonymous memory; L1's transparent-huge-page policy,
#            "always", backs it with 2 MiB pages where it can); QEMU's default likewise
#            (it also asks for THP with madvise)
#   memfd    hvmm --memory-backend memfd; QEMU -object memory-backend-memfd: shared
#            memory in 4 KiB pages (L1's shmem THP policy is "never")
#   hugetlb  hvmm --memory-backend hugetlb; QEMU -object memory-backend-memfd,hugetlb=on:
#            2 MiB pages from L1's hugetlb pool, reserved for these runs only (L1 must
#            have the memory: make bench-nested boots it with E2E_L1_MEM, 6G)
#
# Reported, one line per run:
#   E2E-INFO bench-vfio-start linux <vmm> <backing> <MiB> <round> first=S dma=S secs=S
#       rss_kb=... lck_kb=... huge_kb=... (the rest of l2stamp's line)
. ${E2E_LIB:-/e2e/lib.sh}

[ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
    || e2e_skip "no hvmm binary in L1 (set HVMM=/path/to/static/hvmm on the host)"
command -v qemu-system-x86_64 >/dev/null || e2e_skip "no qemu-system-x86_64 in L1"
for t in l2stamp; do
    command -v $t >/dev/null \
        || e2e_skip "no $t in L1 (make bench-nested builds it and sets E2E_EXTRA_BINS)"
done
test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
e2e_kvm_hold
dev=$(e2e_find_nvme) || e2e_fail "no NVMe (1b36:0010) in L1"
bdf=${dev##*/}

SIZES=${BENCH_VSTART_SIZES:-1024 2048 4096}
RUNS=${BENCH_VSTART_RUNS:-2}
BACKINGS=${BENCH_VSTART_BACKINGS:-anon memfd hugetlb}
DEADLINE=${BENCH_VSTART_DEADLINE:-240}
L2=${E2E_L2_DIR:-/l2}
cmdline="$E2E_L2_CMDLINE quiet initcall_blacklist=cmos_init e2e.mode=bench-boot"
W=/tmp/bench-vfio-start; rm -rf "$W"; mkdir -p "$W"
e2e_info device "$bdf"
e2e_info qemu-version "$(qemu-system-x86_64 --version | head -n1)"
e2e_info l1 "MemTotal $(sed -n 's/^MemTotal: *//p' /proc/meminfo), THP $(cat /sys/kernel/mm/transparent_hugepage/enabled), shmem THP $(cat /sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null)"
e2e_info settings "sizes=$SIZES runs=$RUNS backings=$BACKINGS"

e2e_pci_rebind "$dev" vfio-pci || e2e_fail "could not bind $bdf to vfio-pci"
e2e_wait_for 10 test -e "$dev/driver" || e2e_fail "vfio-pci did not bind $bdf"

# huge_reserve PAGES: L1's pool of 2 MiB pages, exactly PAGES (0 gives them back).
huge_reserve() {
    echo "$1" > /proc/sys/vm/nr_hugepages
    got=$(cat /proc/sys/vm/nr_hugepages)
    [ "$got" -ge "$1" ] || { echo 0 > /proc/sys/vm/nr_hugepages; e2e_fail "L1 reserved only $got of $1 huge pages"; }
}

# hvmm_args / qemu_args BACKING MIB: the VMM's command line up to its kernel arguments.
hvmm_args() {
    echo "$E2E_HVMM -v --memory ${2}M --memory-backend $1 --serial stdio --vfio $bdf"
}
qemu_args() {
    m="-m ${2}M"
    case $1 in
        memfd) m="$m -object memory-backend-memfd,id=ram,size=${2}M" ;;
        hugetlb) m="$m -object memory-backend-memfd,id=ram,size=${2}M,hugetlb=on,hugetlbsize=2M" ;;
    esac
    mach=microvm,pcie=on,rtc=off
    [ "$1" = anon ] || mach="$mach,memory-backend=ram"
    echo "qemu-system-x86_64 -L /usr/share/qemu -accel kvm -M $mach -no-reboot -cpu host $m -nodefaults -no-user-config -nographic -serial stdio -device vfio-pci,host=$bdf"
}

# The first entry into a guest, from L1 KVM's kvm_entry tracepoint: the ring buffer keeps
# the oldest events (no overwrite), on the monotonic clock.  kvmhold's VM never runs, so
# every entry is the VM under test's.
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T 2>/dev/null
[ -d $T/events/kvm/kvm_entry ] || e2e_fail "no kvm_entry tracepoint in L1 ($T)"
echo mono > $T/trace_clock
echo 0 > $T/options/overwrite
trace_arm() { echo 0 > $T/tracing_on; echo > $T/trace; echo 1 > $T/events/kvm/kvm_entry/enable; echo 1 > $T/tracing_on; }
# trace_first T0_NS: seconds from T0_NS to the first entry, or -1.
trace_first() {
    echo 0 > $T/tracing_on; echo 0 > $T/events/kvm/kvm_entry/enable
    grep -m1 'kvm_entry:' $T/trace | sed -n 's/.* \([0-9]*\.[0-9]*\): kvm_entry:.*/\1/p' |
        awk -v t0="$1" '{ printf "%.3f\n", $1 - t0 / 1e9; f = 1 } END { if (!f) print -1 }'
}

# run_linux VMM BACKING MIB ROUND: exec to the first entry and to L2's init, memory then.
run_linux() {
    if [ "$1" = hvmm ]; then
        set -- "$@" $(hvmm_args "$2" "$3") --cpus 2 --kernel $L2/vmlinuz \
            --initrd $L2/initrd.cpio.gz --cmdline "$cmdline"
    else
        set -- "$@" $(qemu_args "$2" "$3") -smp 2 -kernel $L2/vmlinuz \
            -initrd $L2/initrd.cpio.gz -append "$cmdline"
    fi
    vmm=$1 backing=$2 mib=$3 round=$4; shift 4
    set -- -t "$DEADLINE" -o "$W/$vmm.out" -e "$W/$vmm.err" L2-INIT-START -- "$@"
    [ "$vmm" = hvmm ] && set -- -s "pinned and mapped for DMA" "$@"
    trace_arm
    line=$(l2stamp "$@")
    first=$(trace_first "$(echo "$line" | sed -n 's/.* t0_ns=\([0-9]*\).*/\1/p')")
    dma=$(echo "$line" | sed -n 's/.* err_secs=\([-0-9.]*\).*/\1/p')
    [ "$vmm" = hvmm ] || dma=$first
    case $line in
        *" secs=-1 "*|"")
            e2e_log "$vmm $backing ${mib}M: no L2-INIT-START ($line); stderr:"
            tail -n 5 "$W/$vmm.err" | sed "s/^/[$E2E_NAME] $vmm-err: /"
            e2e_info linux "$vmm $backing $mib $round first=$first dma=${dma:--1} secs=-1 $line"
            return 1 ;;
    esac
    e2e_info linux "$vmm $backing $mib $round first=$first dma=${dma:--1} $(echo "$line" | sed 's/^L2STAMP marker=[^ ]* //; s/ err_secs=[^ ]*//')"
}

fails=0
for mib in $SIZES; do
    r=0
    while [ $r -lt "$RUNS" ]; do
        r=$((r + 1))
        # Alternate who goes first: a drift in L1's speed then favours neither.
        if [ $((r % 2)) = 1 ]; then order="hvmm qemu"; else order="qemu hvmm"; fi
        for b in $BACKINGS; do
            [ "$b" = hugetlb ] && huge_reserve $((mib / 2))
            for vmm in $order; do
                run_linux $vmm $b $mib $r || fails=$((fails + 1))
            done
            [ "$b" = hugetlb ] && huge_reserve 0
        done
    done
done
e2e_pci_rebind "$dev" "" 2>/dev/null

[ $fails = 0 ] || e2e_fail "$fails runs did not reach the guest (see the E2E-INFO lines)"
e2e_pass "sizes $SIZES MiB, backings $BACKINGS, $RUNS rounds, hvmm and QEMU alternating"
