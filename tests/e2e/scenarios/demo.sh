#!/bin/sh
# e2e-timeout: 480
#
# demo (make demo-vfio, and make demo on a machine without /dev/kvm): the vfio-nvme
# scenario told for a person.  L1 hands its NVMe to vfio-pci, hvmm passes it to a Linux
# L2, and L2 says what it sees: the PCI tree with the NVMe behind its root port, the
# controller, its MSI-X vectors counting, a 256 KiB write and read-back with O_DIRECT.
# Then hvmm's counters (no trap on the doorbell page) and L1 reading the pattern back.
E2E_NVME_MODE=demo
. /e2e/scenarios/vfio-nvme.sh
