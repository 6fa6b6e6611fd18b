#!/bin/sh
# e2e-timeout: 120
#
# l1-platform: proves the rig itself.  L1 must offer everything the other
# scenarios rely on: real KVM on AMD SVM, an enabled IOMMU with interrupt
# remapping, the emulated NVMe working through it, and VFIO able to take the
# NVMe over.  The NVMe is handed back to the nvme driver at the end, so later
# scenarios start from the same state.
. /e2e/lib.sh

# --- KVM -------------------------------------------------------------------
e2e_check "CPU advertises svm" grep -qw svm /proc/cpuinfo
e2e_check "kvm_amd module loaded" test -d /sys/module/kvm_amd
e2e_check "/dev/kvm is a character device" test -c /dev/kvm
e2e_info npt "$(cat /sys/module/kvm_amd/parameters/npt 2>/dev/null)"
e2e_info nested "$(cat /sys/module/kvm_amd/parameters/nested 2>/dev/null)"

# --- IOMMU -----------------------------------------------------------------
e2e_check "an IOMMU is registered (/sys/class/iommu)" sh -c 'ls /sys/class/iommu/* >/dev/null 2>&1'
if dmesg | grep -q 'Enabled IRQ remapping'; then ir=on; else ir=off; fi
e2e_info irq-remapping "$ir"
e2e_info vfio-allow-unsafe-interrupts "$(cat /sys/module/vfio_iommu_type1/parameters/allow_unsafe_interrupts 2>/dev/null)"

# --- the NVMe through the IOMMU, with the nvme driver ----------------------
dev=$(e2e_find_nvme) || e2e_fail "no NVMe 1b36:0010 on the PCI bus"
bdf=${dev##*/}
e2e_log "NVMe at $bdf"
e2e_check "IOMMU group link for $bdf" test -L "$dev/iommu_group"
group=$(basename "$(readlink "$dev/iommu_group")")
e2e_info nvme-bdf "$bdf"
e2e_info iommu-group "$group members=$(ls "$dev/iommu_group/devices" | wc -l)"
e2e_check "nvme driver bound to $bdf" e2e_wait_for 20 sh -c "[ \"\$(basename \"\$(readlink $dev/driver)\")\" = nvme ]"
e2e_check "namespace /dev/nvme0n1 appeared" e2e_wait_for 20 test -b /dev/nvme0n1
# The host wrote a signature in sector 0: reading it back proves DMA through
# the (emulated) IOMMU works.
sig=$(dd if=/dev/nvme0n1 bs=512 count=1 2>/dev/null | head -c 18)
[ "$sig" = HVMM-E2E-NVME-DISK ] || e2e_fail "sector 0 of nvme0n1 reads '$sig', not the host's signature"
e2e_log "ok: read the host's signature from nvme0n1 (DMA through the IOMMU)"

# --- hand it to vfio-pci ----------------------------------------------------
e2e_check "vfio-pci driver registered" test -d /sys/bus/pci/drivers/vfio-pci
e2e_check "/dev/vfio/vfio exists" test -c /dev/vfio/vfio
e2e_pci_rebind "$dev" vfio-pci || e2e_fail "writing driver_override/unbind/drivers_probe failed"
e2e_check "$bdf bound to vfio-pci" e2e_wait_for 10 sh -c "[ \"\$(basename \"\$(readlink $dev/driver)\")\" = vfio-pci ]"
e2e_check "/dev/vfio/$group appeared" e2e_wait_for 10 test -c "/dev/vfio/$group"
e2e_check "nvme0n1 is gone while vfio-pci owns the device" e2e_wait_for 10 sh -c '! test -e /dev/nvme0n1'

# --- and back to nvme ---------------------------------------------------------
e2e_pci_rebind "$dev" "" || e2e_fail "rebinding $bdf to nvme failed"
e2e_check "$bdf back on nvme" e2e_wait_for 20 sh -c "[ \"\$(basename \"\$(readlink $dev/driver)\")\" = nvme ]"
e2e_check "/dev/vfio/$group removed" e2e_wait_for 10 sh -c "! test -e /dev/vfio/$group"
e2e_check "nvme0n1 back" e2e_wait_for 20 test -b /dev/nvme0n1
sig=$(dd if=/dev/nvme0n1 bs=512 count=1 2>/dev/null | head -c 18)
[ "$sig" = HVMM-E2E-NVME-DISK ] || e2e_fail "after rebind, sector 0 reads '$sig'"
e2e_log "ok: signature readable again after the round trip"

e2e_pass "kvm-amd, IOMMU (irq remapping $ir), NVMe group $group bound to vfio-pci and back"
