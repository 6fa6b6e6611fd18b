#!/bin/sh
# e2e-timeout: 480
# e2e-hypervisors: kvm mshv-sim
# e2e-qemu: -drive file=@img:nvme1,if=none,id=e2env1,format=raw
# e2e-qemu: -device nvme,drive=e2env1,serial=hvmm-e2e-nvme1,bus=pcie.0,addr=0x10
# e2e-qemu: -drive file=@img:nvme2,if=none,id=e2env2,format=raw
# e2e-qemu: -device nvme,drive=e2env2,serial=hvmm-e2e-nvme2,bus=pcie.0,addr=0x14
# e2e-l1-vfio: 00:10.0 00:14.0
#
# vfio-unprobed: vfio-nvme on an NVMe that no driver of L1's has ever touched, as on a
# host that binds its devices with vfio-pci.ids= or driverctl at boot: L1's init gives
# 00:10.0 to vfio-pci before any module loads, so L1's nvme never probes it.  A host
# driver leaves state behind in a device (QEMU's NVMe keeps which MSI-X vectors its last
# driver used), which hides what the VMM fails to set up itself.  After hvmm exits, L1's
# nvme driver binds for the first time and reads L2's pattern.  Each hypervisor's run gets
# a device of its own (00:10.0 on kvm, 00:14.0 on mshv-sim): after the first run L1's nvme
# has probed the first.
case ${E2E_HYPERVISOR:-kvm} in
    mshv-sim) E2E_NVME_PATH=00:14.0 ;;
    *) E2E_NVME_PATH=00:10.0 ;;
esac
E2E_NVME_UNPROBED=1
. /e2e/scenarios/vfio-nvme.sh
