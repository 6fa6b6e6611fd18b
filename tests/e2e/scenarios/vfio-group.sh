#!/bin/sh
# e2e-timeout: 420
# e2e-hypervisors: kvm mshv-sim
# e2e-qemu: -device pcie-root-port,id=e2erp,bus=pcie.0,addr=0x11,chassis=11
# e2e-qemu: -drive file=@img:nvmefn0,if=none,id=e2efn0,format=raw
# e2e-qemu: -device nvme,drive=e2efn0,serial=hvmm-e2e-fn0,bus=e2erp,addr=00.0,multifunction=on
# e2e-qemu: -drive file=@img:nvmefn1,if=none,id=e2efn1,format=raw
# e2e-qemu: -device nvme,drive=e2efn1,serial=hvmm-e2e-fn1,bus=e2erp,addr=00.1
# e2e-l1-vfio: 00:11.0/00.0 00:11.0/00.1
#
# vfio-group: two functions of one device behind a root port of L1's, hence in one IOMMU
# group -- the case of a GPU and its audio function or a two-port NIC.  (QEMU's functions
# on its root bus each get a group of their own.)  hvmm gets both with two --vfio options:
# the group joins the container once and KVM's VFIO device once, and the guest sees functions
# 0 and 1 of one slot, function 0 saying it is multi-function.  L2 writes and reads back
# through both.
. /e2e/lib.sh
e2e_vfio_need
f0=$(e2e_pci_path 00:11.0/00.0) && f1=$(e2e_pci_path 00:11.0/00.1) \
    || e2e_fail "no two-function device behind L1's root port 00:11.0"
b0=${f0##*/} b1=${f1##*/}
g0=$(basename "$(readlink "$f0/iommu_group")") g1=$(basename "$(readlink "$f1/iommu_group")")
e2e_info group "$g0: $(ls "$f0/iommu_group/devices" | tr '\n' ' ')"
[ "$g0" = "$g1" ] || e2e_fail "the functions are in IOMMU groups $g0 and $g1, not one"
e2e_vfio_bind "$f0" && e2e_vfio_bind "$f1" || e2e_fail "could not bind $b0 and $b1 to vfio-pci"
W=/tmp/$E2E_NAME

e2e_vfio_boot "$W" vfio-group 360 "$b0" "$b1" || e2e_vfio_fail "$E2E_L2_WHY"
e2e_vfio_wait_ok 360
# In L2: two NVMe functions 0 and 1 of one slot, function 0 multi-function.
fns=$(grep -a "L2-PCI .* 010802 " "$W/clean" | sed 's/.*L2-PCI \([^ ]*\) .*/\1/')
e2e_info l2-functions "$(echo $fns)"
s0=$(echo "$fns" | sed -n 1p) s1=$(echo "$fns" | sed -n 2p)
[ "$(echo "$fns" | grep -c .)" = 2 ] && [ "${s0%.*}" = "${s1%.*}" ] && [ "${s0##*.}" = 0 ] \
    && [ "${s1##*.}" = 1 ] || e2e_fail "L2's NVMe functions are '$(echo $fns)', not 0 and 1 of one slot"
grep -aq "L2-PCI $s0 010802 hdr=80" "$W/clean" || e2e_fail "L2's function 0 is not multi-function"
e2e_io_ok first "$s0"
e2e_io_ok first "$s1"
e2e_info hvmm-counters "$(e2e_vfio_counters "$b0" | sed 's/.*: config/config/')"
e2e_pass "one IOMMU group of two functions: both in L2 as functions 0 and 1 of one slot, I/O and interrupts on each"
