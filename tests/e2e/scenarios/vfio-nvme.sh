#!/bin/sh
# e2e-timeout: 480
#
# vfio-nvme: L1 binds the emulated NVMe to vfio-pci and hvmm passes it through to
# L2 (--vfio).  In L2 (tests/e2e/l2/init, mode vfio-nvme) the nvme driver binds
# with MSI-X, reads the signature the host wrote to sector 0, writes a pattern
# naming this run with O_DIRECT and reads it back, and reports how many nvme
# interrupts it took.  hvmm runs with -v so it prints its VFIO counters at exit:
# no trapped access may hit the doorbell page (BAR0+0x1000).  After hvmm exits,
# L1 gives the device back to its nvme driver and reads the same pattern: the
# data really reached the device.
#
# L2 boots with "quiet", and once more if it crashes before its init: see boot.sh and
# tests/e2e/README.md (with VFIO, full-console boots crashed 7 times in 14; quiet, 0 in 6).
#
# scenarios/demo.sh runs this same script with E2E_NVME_MODE=demo: L2 then also says what
# it sees (L2-DEMO lines) and this script tells the story as E2E-SAY lines.
. ${E2E_LIB:-/e2e/lib.sh}
MODE=${E2E_NVME_MODE:-vfio-nvme}
say() { [ "$MODE" = demo ] && e2e_say "$@"; return 0; }

[ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
    || e2e_skip "no hvmm binary in L1 (set HVMM=/path/to/static/hvmm on the host)"
test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
e2e_kvm_hold
# E2E_NVME_PATH (scenarios/vfio-unprobed.sh): another NVMe, by topology path, that L1's
# init gave to vfio-pci before any driver loaded (E2E_NVME_UNPROBED=1).
if [ -n "${E2E_NVME_PATH:-}" ]; then
    dev=$(e2e_pci_path "$E2E_NVME_PATH") || e2e_fail "no device at $E2E_NVME_PATH in L1"
else
    dev=$(e2e_find_nvme) || e2e_fail "no NVMe (1b36:0010) in L1"
fi
bdf=${dev##*/}
W=/tmp/$E2E_NAME
DEADLINE=${E2E_NVME_DEADLINE:-360}
token=$(( $(od -An -N2 -tu2 /dev/urandom) + 1000 ))

if [ "${E2E_NVME_UNPROBED:-0}" = 1 ]; then
    [ "$(e2e_pci_driver "$dev")" = vfio-pci ] \
        || e2e_fail "$bdf is bound to '$(e2e_pci_driver "$dev")', not to vfio-pci since boot"
    ! dmesg | grep -q "nvme.*pci function $bdf" || e2e_fail "L1's nvme driver has probed $bdf"
    e2e_info never-probed "$bdf: bound to vfio-pci before any driver loaded; no nvme probe in dmesg"
else
    e2e_pci_rebind "$dev" vfio-pci || e2e_fail "could not bind $bdf to vfio-pci"
    e2e_wait_for 10 test -e "$dev/driver" || e2e_fail "vfio-pci did not bind $bdf"
fi
group=$(basename "$(readlink "$dev/iommu_group")")
e2e_info device "$bdf group $group driver $(e2e_pci_driver "$dev")"
say "host (L1): Linux $(uname -r) with kvm-amd and an Intel IOMMU; its NVMe $bdf [$(sed 's/^0x//' "$dev/vendor"):$(sed 's/^0x//' "$dev/device")] is bound to vfio-pci, IOMMU group $group"
say "hvmm -v --cpus 2 --memory 512M --kernel vmlinuz --initrd initrd --vfio $bdf"

give_back() { e2e_pci_rebind "$dev" "" 2>/dev/null; }
cleanup_fail() { e2e_l2_abort; give_back; e2e_fail "$1"; }

e2e_l2_boot "$W" "$DEADLINE" "$E2E_HVMM" -v --hypervisor "${E2E_HV:-kvm}" --cpus 2 --memory 512M \
    --kernel ${E2E_L2_DIR:-/l2}/vmlinuz --initrd ${E2E_L2_DIR:-/l2}/initrd.cpio.gz \
    --cmdline "$E2E_L2_CMDLINE quiet e2e.mode=$MODE" --serial stdio --vfio "$bdf" \
    || cleanup_fail "$E2E_L2_WHY"
echo "e2e-ping $token" >&3
e2e_l2_wait_exit "$DEADLINE" || cleanup_fail "$E2E_L2_WHY"
rc=$(cat $W/rc)
sed 's/^/hvmm-err| /' $W/err
val() { e2e_l2_val "$1"; }
l2_has() { e2e_l2_has "$1"; }
[ "$rc" = 0 ] || cleanup_fail "hvmm exited with status $rc"
l2_has L2-NVME-FOUND || cleanup_fail "L2's nvme driver found no controller"
sig=$(val L2-NVME-SIG); irqs=$(val L2-NVME-IRQS); vecs=$(val L2-NVME-MSIX-VECTORS)
e2e_info l2-nvme-signature "$sig"
e2e_info l2-nvme-irqs-during-io "$irqs"
e2e_info l2-nvme-vectors "$vecs"
[ "$sig" = HVMM-E2E-NVME-DISK ] || cleanup_fail "L2 read '$sig' from sector 0, not the host's signature"
[ "$(val L2-NVME-WRITE)" = ok ] || cleanup_fail "L2 could not write to the NVMe"
[ "$(val L2-NVME-READBACK)" = ok ] || cleanup_fail "L2 read back something else than it wrote"
[ -n "$irqs" ] && [ "$irqs" -gt 0 ] || cleanup_fail "no nvme interrupt counted in L2 during the I/O"

# hvmm's counters (printed at exit with -v).
counters=$(grep "$bdf: config reads" $W/err | tail -n1)
e2e_info hvmm-counters "${counters#*: }"
[ -n "$counters" ] || cleanup_fail "hvmm printed no VFIO counters"
case "$counters" in
    *BAR0+0x1000:*) cleanup_fail "trapped accesses on the doorbell page: $counters" ;;
esac
routed=$(echo "$counters" | sed -n 's/.*vectors routed \([0-9]*\).*/\1/p')
[ -n "$routed" ] && [ "$routed" -gt 0 ] || cleanup_fail "no MSI-X vector was routed"

# Give the device back to L1's nvme driver and read what L2 wrote.
give_back
e2e_wait_for 20 sh -c "ls -d $dev/nvme/nvme*/nvme*n1 >/dev/null 2>&1" || e2e_fail "L1's nvme did not bind $bdf"
ns=$(basename "$(ls -d "$dev"/nvme/nvme*/nvme*n1 | head -n1)")
e2e_wait_for 10 test -b /dev/$ns || e2e_fail "/dev/$ns did not appear in L1"
dd if=/dev/$ns of=$W/back bs=4096 skip=256 count=64 2>/dev/null
first=$(head -n1 $W/back | tr -d ' ')
[ "$first" = "hvmm-l2-pattern-$token-0" ] || e2e_fail "L1 reads '$first' where L2 wrote hvmm-l2-pattern-$token-0"
say "hvmm exited with status 0 when the guest powered off; its counters for $bdf:"
say "  ${counters#*: }"
say "  the trapped accesses are the MSI-X table's page, which hvmm emulates; on the doorbell"
say "  page (BAR0+0x1000) none: the guest rings the NVMe's doorbells without leaving the guest"
say "host (L1) took the NVMe back and reads the guest's pattern from it: ok"
e2e_pass "L2 did I/O through the passed-through NVMe ($irqs interrupts, $routed vectors routed, no doorbell trap); L1 reads L2's pattern back${E2E_L2_RETRIED:+ (on the second boot: the first L2 crashed early)}"
