#!/bin/sh
# e2e-timeout: 300
# e2e-hypervisors: kvm mshv-sim
#
# vfio-unbind: while L2 runs with the NVMe, L1 unbinds vfio-pci from it.  The unbind waits
# until the device is released, and vfio-pci asks hvmm for it through the request
# interrupt: hvmm does not take it from the guest unasked, so it stops the VM (exit status 5)
# saying why, and the unbind completes.
. /e2e/lib.sh
e2e_vfio_need
e2e_vfio_nvme
W=/tmp/$E2E_NAME

e2e_vfio_boot "$W" vfio-unbind 200 "$bdf" || e2e_vfio_fail "$E2E_L2_WHY"
while ! e2e_l2_has L2-HOLDING && ! e2e_l2_done; do
    [ "$(e2e_l2_elapsed)" -lt 200 ] || e2e_vfio_fail "L2 did not get to its I/O within 200 s"
    sleep 0.5
done
e2e_l2_done && e2e_vfio_fail "hvmm exited with status $(cat "$W/rc") before the unbind"
t0=$(e2e_uptime)
(echo "$bdf" > /sys/bus/pci/drivers/vfio-pci/unbind && e2e_uptime > "$W/unbound") &
e2e_l2_wait_exit 260 || e2e_vfio_fail "hvmm did not stop after the unbind: $E2E_L2_WHY"
rc=$(cat "$W/rc")
sed 's/^/hvmm-err| /' "$W/err"
e2e_wait_for 30 test -s "$W/unbound" || e2e_vfio_fail "the unbind did not complete after hvmm exited"
secs=$(awk -v a="$t0" -v b="$(cat "$W/unbound")" 'BEGIN{printf "%.1f", b-a}')
e2e_info unbind-seconds "$secs"
e2e_info hvmm-said "$(grep -m1 'asks for the device back' "$W/err")"
[ "$rc" = 5 ] || e2e_vfio_fail "hvmm exited with status $rc, not 5 (an assigned device taken back)"
grep -q "$bdf: the host asks for the device back" "$W/err" || e2e_vfio_fail "hvmm did not say why it stopped"
e2e_l2_has L2-NOT-STOPPED && e2e_vfio_fail "L2 was still running 120 s after the unbind"
nvme=$(e2e_l2_pci 010802)
e2e_io_ok first "$nvme"
[ -e "$dev/driver" ] && e2e_vfio_fail "$bdf is still bound to $(e2e_pci_driver "$dev")"
e2e_give_back "$dev"
e2e_pass "the host's unbind stopped the VM in ${secs}s with exit status 5 and a message; the unbind completed"
