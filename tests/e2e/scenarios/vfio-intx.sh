#!/bin/sh
# e2e-timeout: 420
# e2e-hypervisors: kvm mshv-sim
# e2e-qemu: -drive file=@img:ahci0,if=none,id=e2eahci0,format=raw
# e2e-qemu: -device ahci,id=e2eahci,bus=pcie.0,addr=0x12
# e2e-qemu: -device ide-hd,drive=e2eahci0,bus=e2eahci.0
# e2e-qemu: -netdev user,id=e2enet,restrict=on
# e2e-qemu: -device e1000e,netdev=e2enet,bus=pcie.0,addr=0x13
# e2e-qemu: -netdev user,id=e2enetx,restrict=on
# e2e-qemu: -device e1000,netdev=e2enetx,bus=pcie.0,addr=0x15
# e2e-qemu: -device edu,bus=pcie.0,addr=0x16
# e2e-l1-vfio: 00:12.0 00:13.0 00:15.0 00:16.0
# e2e-l2-modules: ahci sd_mod e1000 e1000e uio_pci_generic
#
# vfio-intx: devices driven through their INTx line, none of which a driver of L1's touched.
# An e1000 (82540EM: no MSI at all; Linux's e1000 driver uses the legacy line) and QEMU's edu
# device under uio_pci_generic (which takes only INTx, and masks it in its handler with the
# INTx-disable bit, which its user clears) share one line: the e1000 behind the root port at
# device 1, the edu behind the one at device 9, both INTA, both GSI 17.  The e1000 gets a
# DHCP lease; the edu's interrupt is raised, taken and acknowledged five times.  Fallback
# both ways, on an MSI-capable device whose guest driver gives MSI up and takes it again:
# the e1000e (MSI-X) and the AHCI controller (MSI) are bound again with MSI disallowed for
# their next driver (sysfs msi_bus 0: INTx), then allowed (MSI-X, MSI), with a lease or disk
# I/O each time; and the e1000e driver asked for MSI (IntMode=1) enables it, fails its own
# interrupt test (QEMU's e1000e takes no RXSEQ interrupt) and falls back to INTx -- a device
# whose MSI set-up fails, which then has the legacy line to fall back to.
. /e2e/lib.sh
e2e_vfio_need
for p in 00:15.0 00:13.0 00:12.0 00:16.0; do
    d=$(e2e_pci_path $p) || e2e_fail "no device at $p in L1"
    e2e_vfio_bind "$d" || e2e_fail "could not bind ${d##*/} to vfio-pci"
    e2e_info device "$p ${d##*/} [$(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device")] pin $(od -An -tu1 -j 61 -N1 "$d/config" | tr -d ' ') irq $(cat "$d/irq")"
done
e1000=$(e2e_pci_path 00:15.0) e1000e=$(e2e_pci_path 00:13.0) ahci=$(e2e_pci_path 00:12.0)
edu=$(e2e_pci_path 00:16.0)
W=/tmp/$E2E_NAME
# Nine root ports: the e1000 behind p1 (device 1), the e1000e behind p2, the AHCI behind p3,
# the edu behind p9.
E2E_HVMM_ARGS=
for i in 1 2 3 4 5 6 7 8 9; do E2E_HVMM_ARGS="$E2E_HVMM_ARGS --pcie-root-port p$i"; done

e2e_vfio_boot "$W" vfio-intx 360 "p1:${e1000##*/}" "p2:${e1000e##*/}" "p3:${ahci##*/}" \
    "p9:${edu##*/}" || e2e_vfio_fail "$E2E_L2_WHY"
e2e_vfio_wait_ok 360
grep -a "L2-PCI " "$W/clean" | sed 's/.*L2-PCI/l2-pci/' | while read -r k v; do e2e_info "$k" "$v"; done
grep -a -E "L2-(NET|INTX|UIO|IO|E1000E)" "$W/clean" | sed 's/.*\(L2-[A-Z-]*\) /\1 /' | while read -r k v; do e2e_info "$k" "$v"; done
val() { echo "$1" | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }

# The e1000: INTA on GSI 17, a lease through its legacy line.
intx=$(grep -a "L2-INTX " "$W/clean" | head -n1)
net=$(grep -a "L2-NET [^ ]* nic=" "$W/clean" | head -n1)
[ -n "$intx" ] || e2e_fail "L2 has no e1000"
[ "$(val "$intx" pin)" = 1 ] || e2e_fail "L2's e1000 reads interrupt pin '$(val "$intx" pin)', not 1 (INTA)"
# (IR-IO-APIC where the guest remaps interrupts: Linux under Hyper-V's CPUID, on mshv-sim.)
case "$(val "$intx" line)" in IO-APIC-17-fasteoi|IR-IO-APIC-17-fasteoi) ;; *) e2e_fail "the e1000's interrupt is not IOAPIC pin 17, level: $intx" ;; esac
case "$net" in *" lease=10."*" kind=intx "*) ;; *) e2e_fail "no DHCP lease through the e1000's INTx: $net" ;; esac
[ "$(val "$net" irqs)" -gt 0 ] 2>/dev/null || e2e_fail "no e1000 interrupt counted: $net"

# The edu: five interrupts through uio_pci_generic, on the e1000's line.
uio=$(grep -a "L2-UIO " "$W/clean" | head -n1)
[ -n "$uio" ] || e2e_fail "L2 has no edu device"
[ "$(val "$uio" rounds)" = 5 ] && [ "$(val "$uio" events)" -ge 5 ] 2>/dev/null \
    || e2e_fail "the edu's interrupts did not all arrive through uio: $uio"
[ "$(val "$uio" kind)" = intx ] || e2e_fail "the edu interrupted by $(val "$uio" kind), not INTx"
[ "$(val "$uio" irq)" = "$(val "$intx" irq)" ] \
    || e2e_fail "the edu (IRQ $(val "$uio" irq)) and the e1000 (IRQ $(val "$intx" irq)) do not share their line"

# The e1000e: MSI-X as it booted, INTx, MSI-X again, and INTx after its MSI set-up failed.
for r in boot:msix no-msi:intx msi-allowed:msix intmode-msi:intx; do
    m=$(grep -a "L2-NET-MODE [^ ]* ${r%:*} " "$W/clean" | head -n1)
    case "$m" in *" lease=10."*" kind=${r#*:} irqs="*) ;; *) e2e_fail "e1000e (${r%:*}, ${r#*:}): $m" ;; esac
    [ "$(val "$m" irqs)" -gt 0 ] 2>/dev/null || e2e_fail "e1000e (${r%:*}): no interrupt: $m"
done
grep -a -q "L2-E1000E-MSI-TEST-FAILED [^ ]* [1-9]" "$W/clean" \
    || e2e_fail "the e1000e driver did not go from MSI to INTx by its own test"
# The AHCI: MSI, INTx, MSI again, disk I/O each time.
sata=$(e2e_l2_pci 010601)
[ -n "$sata" ] || e2e_fail "L2 has no AHCI controller"
for r in first:msi no-msi:intx msi-allowed:msi; do
    e2e_io_ok "${r%:*}" "$sata"
    grep -a -q "L2-IO ${r%:*} $sata .* kind=${r#*:} " "$W/clean" \
        || e2e_fail "the AHCI's ${r%:*} I/O did not interrupt by ${r#*:}: $(grep -a "L2-IO ${r%:*} $sata" "$W/clean")"
done

for d in "$e1000" "$e1000e" "$ahci" "$edu"; do
    c=$(e2e_vfio_counters "${d##*/}")
    e2e_info hvmm-counters "${c#*: }"
    case "$c" in *"INTx on GSI "*) ;; *) e2e_fail "hvmm wired no INTx for ${d##*/}: $c" ;; esac
done
case "$(e2e_vfio_counters "${e1000##*/}")" in
    *"INTx on GSI 17 unmasked 0 times"*) e2e_fail "hvmm never unmasked the e1000's line after an EOI" ;;
esac
e2e_give_back "$e1000" "$e1000e" "$ahci" "$edu"
e2e_pass "e1000 (no MSI) and edu (uio_pci_generic) share GSI 17 and work through INTx; e1000e MSI-X, INTx, MSI-X, INTx after a failed MSI set-up; AHCI MSI, INTx, MSI"
