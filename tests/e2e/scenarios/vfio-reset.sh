#!/bin/sh
# e2e-timeout: 420
# e2e-hypervisors: kvm mshv-sim
#
# vfio-reset: the guest resets its NVMe twice through sysfs with the nvme driver bound,
# first a Function Level Reset, then a secondary bus reset of hvmm's root port; after each
# it writes and reads back.  (hvmm quiesces the device before each reset and resets its own
# copy of the function with it.)
. /e2e/lib.sh
e2e_vfio_need
e2e_vfio_nvme
W=/tmp/$E2E_NAME

e2e_vfio_boot "$W" vfio-reset 360 "$bdf" || e2e_vfio_fail "$E2E_L2_WHY"
e2e_vfio_wait_ok 360
nvme=$(e2e_l2_pci 010802)
e2e_io_ok first "$nvme"
for m in flr bus; do
    grep -aq "L2-RESET $nvme $m ok" "$W/clean" || e2e_vfio_fail "L2's $m reset of $nvme failed"
    e2e_io_ok "after-$m" "$nvme"
done
e2e_give_back "$dev"
e2e_pass "L2 reset its NVMe by FLR and by secondary bus reset; I/O and interrupts after each"
