#!/bin/sh
# e2e-timeout: 600
# e2e-hypervisors: kvm mshv-sim
#
# vfio-nvme: L1 binds the emulated NVMe to vfio-pci and hvmm passes it through to
# L2 (--vfio).  In L2 (tests/e2e/l2/init, mode vfio-nvme) the nvme driver binds
# with MSI-X, reads the signature the host wrote to sector 0, writes a pattern
# naming this run with O_DIRECT and reads it back, times 256 reads, and reports how
# many nvme interrupts and commands it took.  hvmm runs with -v so it prints its
# VFIO counters at exit.  After hvmm exits, L1 gives the device back to its nvme
# driver and reads the same pattern: the data really reached the device.
#
# The BAR mode is the hypervisor's (docs/vfio.md, docs/mshv.md).  On KVM BARs are mapped:
# no trapped access may hit the doorbell page (BAR0+0x1000).  On mshv-sim, which models a
# mainline mshv_root host, BARs must be trapped -- a mainline kernel would map a BAR from
# vm_pgoff -- and the scenario reports the doorbell traps per NVMe command and what each
# proxied access cost.  Then it shows that the old path fails: hvmm-sim told the kernel maps
# BARs by address (HVMM_MSHV_SIM=legacy-bars) must die of the simulator's rule S1 as soon
# as L2's nvme driver enables the BAR.  E2E_VFIO_BARS=trap (from the host) runs hvmm with
# --vfio-bars trap on every hypervisor, to measure trapping on KVM too.
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
    || e2e_skip "no hvmm binary in L1 for ${E2E_HYPERVISOR:-kvm} (set HVMM=/path/to/static/hvmm, HVMM_SIM=/path/to/static/hvmm-sim on the host)"
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
# A never-probed device stays on vfio-pci when the run fails: if L2 crashed, L1's init runs
# the scenario once more, which needs the device still untouched by nvme.
cleanup_fail() {
    e2e_l2_abort
    [ "${E2E_NVME_UNPROBED:-0}" = 1 ] || give_back
    e2e_fail "$1"
}

VFIO_BARS=${E2E_VFIO_BARS:-auto}
# shellcheck disable=SC2086
e2e_l2_boot "$W" "$DEADLINE" "$E2E_HVMM" $E2E_HV_ARGS -v --vfio-bars $VFIO_BARS --cpus 2 --memory 512M \
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
grep "^hvmm: ${E2E_HYPERVISOR:-kvm}: " $W/err | tail -n1 | sed "s/^/E2E-INFO $E2E_NAME backend-counters /"
case "$counters" in
    *"BARs trapped"*) mode=trapped ;;
    *"BARs mapped"*) mode=mapped ;;
    *) cleanup_fail "hvmm's counters name no BAR mode: $counters" ;;
esac
e2e_info bar-mode "$mode"
want=mapped; [ "$E2E_HYPERVISOR" = mshv-sim ] || [ "$VFIO_BARS" = trap ] && want=trapped
[ "$mode" = "$want" ] || cleanup_fail "BARs $mode on ${E2E_HYPERVISOR:-kvm}; a mainline host needs them $want"
ios=$(val L2-NVME-IOS); us=$(val L2-NVME-READ4K-US)
e2e_info l2-nvme-commands "$ios"
e2e_info l2-read4k-us "$us"
doorbell=$(echo "$counters" | sed -n 's/.*BAR0+0x1000:\([0-9]*\).*/\1/p')
if [ "$mode" = mapped ]; then
    # Mapped: the doorbells are the guest's own stores, no exit at all.
    [ -z "$doorbell" ] || cleanup_fail "trapped accesses on the doorbell page: $counters"
    db_note="no doorbell trap"
else
    # Trapped: every doorbell write exits, is emulated and proxied with pwrite.
    proxy_ns=$(echo "$counters" | sed -n 's/.*(\([0-9]*\) ns each).*/\1/p')
    [ -n "$doorbell" ] && [ "$doorbell" -gt 0 ] || cleanup_fail "BARs trapped but no doorbell trap counted: $counters"
    per_io=$(awk -v d="$doorbell" -v n="$ios" 'BEGIN { printf "%.2f", n ? d / n : 0 }')
    e2e_info doorbell-traps "$doorbell ($per_io per NVMe command; $ios commands)"
    e2e_info proxied-access-ns "$proxy_ns"
    db_note="doorbells trapped: $per_io traps per NVMe command, ${proxy_ns} ns per proxied access, ${us} us per 4K read"
fi
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
retried=$E2E_L2_RETRIED

# The old path on the simulator: BARs handed to MSHV_SET_GUEST_MEMORY must fail by rule S1.
legacy=
if [ "$E2E_HYPERVISOR" = mshv-sim ]; then
    e2e_pci_rebind "$dev" vfio-pci || e2e_fail "could not bind $bdf to vfio-pci again"
    e2e_wait_for 10 test -e "$dev/driver" || e2e_fail "vfio-pci did not bind $bdf again"
    W=/tmp/vfio-nvme-legacy
    # An L2 that crashes before its nvme driver enables the BAR (TCG's random resets, as in
    # e2e_l2_boot) never reaches the fault: once more.  By then the device has been given
    # back to nvme, so a failure here cannot be retried by rerunning the whole scenario.
    for attempt in 1 2; do
        # shellcheck disable=SC2086
        e2e_l2_start "$W" env HVMM_MSHV_SIM=legacy-bars "$E2E_HVMM" $E2E_HV_ARGS --cpus 2 \
            --memory 512M --kernel ${E2E_L2_DIR:-/l2}/vmlinuz --initrd ${E2E_L2_DIR:-/l2}/initrd.cpio.gz \
            --cmdline "$E2E_L2_CMDLINE quiet e2e.mode=legacy-bars" --serial stdio --vfio "$bdf"
        e2e_l2_wait_exit 240 || cleanup_fail "legacy BAR path: $E2E_L2_WHY"
        fault=$(grep -m1 'SIMULATED HOST FAULT (rule S1)' $W/err)
        [ -z "$fault" ] && [ "$attempt" = 1 ] && e2e_l2_crashed "$W" || break
        e2e_info l2-retry "legacy BAR path: L2 crashed before its nvme driver enabled the BAR (hvmm exit $(cat $W/rc)): once more"
    done
    give_back
    rc=$(cat $W/rc)
    e2e_info legacy-bars "hvmm exit $rc: ${fault#*: }"
    [ "$rc" != 0 ] && [ -n "$fault" ] \
        || { sed 's/^/hvmm-err| /' $W/err | tail -n 20; e2e_fail "the old BAR path did not fail by rule S1 (hvmm exit $rc)"; }
    legacy="; the old BAR path fails by the simulator's rule S1"
fi
e2e_pass "L2 did I/O through the passed-through NVMe${E2E_HYPERVISOR:+ on $E2E_HYPERVISOR} ($irqs interrupts, $routed vectors routed, BARs $mode: $db_note); L1 reads L2's pattern back$legacy${retried:+ (on the second boot: the first L2 crashed early)}"
