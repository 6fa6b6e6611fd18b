#!/bin/sh
# e2e-timeout: 300
# e2e-hypervisors: kvm mshv-sim
# e2e-host-file: ivshmem0 1G
# e2e-qemu: -object memory-backend-file,id=e2eshm0,size=1G,mem-path=@file:ivshmem0,share=on
# e2e-qemu: -device ivshmem-plain,memdev=e2eshm0,bus=pcie.0,addr=0x17
# e2e-l1-vfio: 00:17.0
#
# vfio-bar: a BAR larger than hvmm's whole 32-bit window.  QEMU's ivshmem-plain has its
# shared memory as BAR2, here 1 GiB, 64-bit and prefetchable, backed by a file on the
# machine that runs the rig (# e2e-host-file), which wrote a random word at each end of it
# before L1 booted.  L2 must place the BAR, read those two words through it, and write two
# new ones near the ends (a word further in for each hypervisor's run, so that every run
# reads the host's words); after QEMU exits the host finds every run's words in the file.  On KVM accesses go
# straight to the device (hvmm traps none of them); on mshv-sim they are proxied.
. /e2e/lib.sh
e2e_vfio_need
d=$(e2e_pci_path 00:17.0) || e2e_fail "no ivshmem at 00:17.0 in L1"
e2e_vfio_bind "$d" || e2e_fail "could not bind ${d##*/} to vfio-pci"
bdf=${d##*/}
e2e_info device "$bdf [$(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device")] BAR2 $(sed -n 3p "$d/resource")"
e2e_host_file ivshmem0 || e2e_fail "no host file ivshmem0 in /e2e/config"
W=/tmp/$E2E_NAME
word() { od -An -N8 -tx8 /dev/urandom | tr -d ' '; }
head=$(word) tail=$(word)
# Each hypervisor's run writes its words one slot further in from the ends, so the host's
# words stay for every run to read and the host finds every run's words in the file.
case "${E2E_HYPERVISOR:-kvm}" in kvm) slot=1 ;; mshv-sim) slot=2 ;; *) slot=3 ;; esac
E2E_L2_ARGS="e2e.bar-words=0x$head,0x$tail e2e.bar-slot=$slot"

e2e_vfio_boot "$W" vfio-bar 240 "$bdf" || e2e_vfio_fail "$E2E_L2_WHY"
e2e_vfio_wait_ok 240
bar=$(grep -a "L2-BAR [^ ]* 2 " "$W/clean" | head -n1)
wrote=$(grep -a "L2-BAR-WROTE [^ ]* 2 " "$W/clean" | head -n1)
e2e_info l2-bar "${bar#*L2-BAR }"
e2e_info l2-bar-wrote "${wrote#*L2-BAR-WROTE }"
[ -n "$bar" ] || e2e_fail "L2 has no memory BAR above 512 MiB (BAR2 of the ivshmem)"
lc() { echo "$1" | tr 'A-F' 'a-f' | sed 's/^0x//'; }
val() { echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
[ "$(val "$bar" size)" = "$HF_SIZE" ] || e2e_fail "L2's BAR2 is $(val "$bar" size) bytes, not $HF_SIZE"
[ "$(lc "$(val "$bar" head)")" = "$HF_HEAD" ] \
    || e2e_fail "L2 reads $(val "$bar" head) at BAR2's start, where the host wrote 0x$HF_HEAD"
[ "$(lc "$(val "$bar" tail)")" = "$HF_TAIL" ] \
    || e2e_fail "L2 reads $(val "$bar" tail) at BAR2's end, where the host wrote 0x$HF_TAIL"
[ "$(lc "$(val "$wrote" head)")" = "$head" ] && [ "$(lc "$(val "$wrote" tail)")" = "$tail" ] \
    || e2e_fail "L2 read back other words than it wrote: $wrote"
counters=$(e2e_vfio_counters "$bdf")
e2e_info hvmm-counters "${counters#*: }"
# Mapped BARs (KVM) take no exit; where the hypervisor traps device memory (mainline MSHV,
# the simulator's default) every access is proxied through the device fd instead.
case "$counters" in
    *"BARs trapped, 0 accesses"*) e2e_fail "BARs trapped but no access proxied: $counters" ;;
    *"BARs trapped, "*) how="every access proxied through the device fd" ;;
    *BAR2+*|*"more beyond"*) e2e_fail "hvmm trapped accesses to BAR2: $counters" ;;
    *) how="no access trapped" ;;
esac
[ "$(val "$wrote" slot)" = "$slot" ] || e2e_fail "L2 wrote its words at slot $(val "$wrote" slot), not $slot"
e2e_host_file_expect ivshmem0 $((8 * slot)) "$head"
e2e_host_file_expect ivshmem0 $((HF_SIZE - 8 - 8 * slot)) "$tail"
e2e_pass "a 1 GiB BAR at $(val "$bar" start) in L2: the host's words read at both ends, L2's written there (the host checks its file), $how"
