#!/bin/sh
# e2e-timeout: 420
# e2e-hypervisors: kvm mshv-sim
# e2e-qemu: -drive file=@img:nvme1,if=none,id=e2env1,format=raw
# e2e-qemu: -device nvme,drive=e2env1,serial=hvmm-e2e-nvme1,bus=pcie.0,addr=0x10
# e2e-qemu: -drive file=@img:ahci0,if=none,id=e2eahci0,format=raw
# e2e-qemu: -device ahci,id=e2eahci,bus=pcie.0,addr=0x12
# e2e-qemu: -device ide-hd,drive=e2eahci0,bus=e2eahci.0
# e2e-qemu: -netdev user,id=e2enet,restrict=on
# e2e-qemu: -device e1000e,netdev=e2enet,bus=pcie.0,addr=0x13
# e2e-l1-vfio: 00:10.0 00:12.0 00:13.0
# e2e-l2-modules: ahci sd_mod e1000e
#
# vfio-multi: three different devices at once, none of which a driver of L1's touched: an
# NVMe (MSI-X in BAR0), an AHCI controller (one MSI vector, an I/O BAR) and an e1000e NIC
# (MSI-X in its own BAR, an I/O BAR, an expansion ROM).  In L2: a write and read-back through
# the NVMe and the SATA disk, a DHCP lease from QEMU's user network through the NIC (frames
# out and in), the NIC's ROM signature, and interrupts counted on each.
. /e2e/lib.sh
e2e_vfio_need
devs=
for p in 00:10.0 00:12.0 00:13.0; do
    d=$(e2e_pci_path $p) || e2e_fail "no device at $p in L1"
    e2e_vfio_bind "$d" || e2e_fail "could not bind ${d##*/} to vfio-pci"
    e2e_info device "$p ${d##*/} [$(sed 's/^0x//' "$d/vendor"):$(sed 's/^0x//' "$d/device")] group $(basename "$(readlink "$d/iommu_group")")"
    devs="$devs ${d##*/}"
done
W=/tmp/$E2E_NAME

# shellcheck disable=SC2086
e2e_vfio_boot "$W" vfio-multi 360 $devs || e2e_vfio_fail "$E2E_L2_WHY"
e2e_vfio_wait_ok 360
grep -a "L2-PCI " "$W/clean" | sed 's/.*L2-PCI/l2-pci/' | while read -r k v; do e2e_info "$k" "$v"; done
nvme=$(e2e_l2_pci 010802) sata=$(e2e_l2_pci 010601) nic=$(e2e_l2_pci 020000)
[ -n "$nvme" ] && [ -n "$sata" ] && [ -n "$nic" ] \
    || e2e_fail "L2 lacks a device: NVMe '$nvme', SATA '$sata', NIC '$nic'"
e2e_io_ok first "$nvme"
e2e_io_ok first "$sata"
net=$(grep -a "L2-NET $nic " "$W/clean" | head -n1)
e2e_info net "${net#*$nic }"
case "$net" in *" lease=10."*) ;; *) e2e_fail "no DHCP lease through the NIC: $net" ;; esac
case "$net" in *" irqs=0") e2e_fail "no NIC interrupt counted: $net" ;; esac
rom=$(grep -a "L2-ROM $nic " "$W/clean" | sed 's/.*L2-ROM [^ ]* //' | head -n1)
e2e_info nic-rom "$rom"
[ "$rom" = 55aa ] || e2e_fail "the NIC's ROM starts with '$rom', not 55aa"
for b in $devs; do e2e_info hvmm-counters "$(e2e_vfio_counters "$b" | sed 's/^hvmm: //')"; done
e2e_pass "NVMe, AHCI and e1000e in one L2: disk I/O on two, a DHCP lease through the NIC, its ROM, interrupts on all three"
