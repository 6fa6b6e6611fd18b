#!/bin/sh
# e2e-timeout: 420
# e2e-hypervisors: kvm mshv-sim
#
# vfio-d3: the guest puts its NVMe in D3hot through PMCSR (nvme unbound first), reads BAR0
# with devmem -- a function in D3hot answers all-ones, and the VM must stay alive (vfio-pci
# revokes its BAR mmaps in D3hot; a mapping left in the guest made KVM_RUN fail) -- then
# brings it back to D0, binds nvme again, and writes and reads back.
. /e2e/lib.sh
e2e_vfio_need
e2e_vfio_nvme
W=/tmp/$E2E_NAME

e2e_vfio_boot "$W" vfio-d3 360 "$bdf" || e2e_vfio_fail "$E2E_L2_WHY"
e2e_vfio_wait_ok 360
l2=$(grep -a "L2-D3 " "$W/clean" | sed 's/.*L2-D3 [^ ]* //' | head -n1)
nvme=$(e2e_l2_pci 010802)
e2e_info l2-d3 "$l2"
case "$l2" in "pmcsr=3 bar0=0xFFFFFFFF back=0") ;; *) e2e_vfio_fail "D3hot in L2: $l2" ;; esac
e2e_io_ok first "$nvme"
e2e_io_ok after-d3 "$nvme"
e2e_give_back "$dev"
e2e_pass "L2's NVMe in D3hot read all-ones through BAR0 with the VM alive; back in D0 it wrote and read back"
