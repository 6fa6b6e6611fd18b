#!/bin/sh
# e2e-timeout: 300
# e2e-hypervisors: kvm mshv-sim
#
# vfio-unbind: while L2 runs with the NVMe, L1 unbinds vfio-pci from it.  The unbind waits
# until the device is released, and vfio-pci asks hvmm for it through the request
# interrupt: hvmm does not take it from the guest unasked, so it stops the VM (exit status 5)
# saying why, and the unbind completes.
#
# Before that, the user's own stop at the worst moment: SIGTERM 0.8 s after hvmm started
# with 1 GiB, while it pins guest RAM for the device in the background (which takes longer
# under L1's TCG).  hvmm must exit within 10 s with status 143 and no error, and the device
# must serve the VM that follows; a mapping the stop cut short is no failure to report.
. /e2e/lib.sh
e2e_vfio_need
e2e_vfio_nvme
W=/tmp/$E2E_NAME

# shellcheck disable=SC2086
e2e_l2_start "$W-term" "$E2E_HVMM" $E2E_HV_ARGS -v --cpus 2 --memory 1G \
    --kernel "$E2E_L2_DIR/vmlinuz" --initrd "$E2E_L2_DIR/initrd.cpio.gz" \
    --cmdline "$E2E_L2_CMDLINE quiet e2e.mode=vfio-unbind" --serial stdio --vfio "$bdf"
sleep 0.8
kill -TERM "$(cat "$W-term/pid")" 2>/dev/null
e2e_l2_wait_exit 10 || e2e_vfio_fail "SIGTERM while pinning: hvmm did not exit within 10 s"
sed 's/^/hvmm-term-err| /' "$W-term/err"
rc=$(cat "$W-term/rc")
[ "$rc" = 143 ] || e2e_vfio_fail "SIGTERM while pinning: hvmm exited with status $rc, not 143"
grep -q 'VFIO_IOMMU_MAP_DMA\|could not be mapped' "$W-term/err" &&
    e2e_vfio_fail "SIGTERM while pinning: hvmm called the stopped mapping a failure"
if grep -q 'pinned and mapped for DMA' "$W-term/err"; then pinned=done; else pinned=stopped; fi
e2e_info sigterm-while-pinning "exit 143 after $(e2e_l2_elapsed) s; pinning $pinned"

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
e2e_pass "SIGTERM while pinning: exit 143 (pinning $pinned); the host's unbind stopped the VM in ${secs}s with exit status 5 and a message; the unbind completed"
