#!/bin/sh
# e2e-timeout: 600
# e2e-hypervisors: kvm mshv-sim
#
# hotplug-nvme: the NVMe added to and removed from a running L2 through hvmm's API.
# L2 boots with an empty hot-plug root port (--pcie-root-port hp0 --api-socket) and no
# device; L2's init runs its hotplug-nvme loop (tests/e2e/l2/init), driven over the serial
# port.  Then, with `hvmm remote`:
#   1. add-device: L2's pciehp powers the slot on, nvme binds; L2 writes a pattern A;
#   2. remove-device with L2 idle: the guest releases it (released_by_guest true); L1's own
#      nvme driver takes the device back and reads pattern A; L2 is still alive;
#   3. add-device again: L2 writes pattern B; L2 starts reading in a loop;
#   4. remove-device during that I/O: L2's reads fail, L2 does not crash; L1 reads B;
#   5. add-device a third time: L2's nvme comes up again;
#   6. shutdown: the ACPI power button; L2's init, watching the button's input device, powers
#      off, and hvmm must exit 0.  hvmm -v logs each step (hvmm-err lines).
. ${E2E_LIB:-/e2e/lib.sh}

[ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
    || e2e_skip "no hvmm binary in L1 (set HVMM=/path/to/static/hvmm on the host)"
test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
e2e_kvm_hold
dev=$(e2e_find_nvme) || e2e_fail "no NVMe (1b36:0010) in L1"
bdf=${dev##*/}
W=/tmp/hotplug-nvme
SOCK=/tmp/hvmm-hotplug.sock
DEADLINE=540
R() { "$E2E_HVMM" remote --api-socket "$SOCK" "$@"; }

give_back() { e2e_pci_rebind "$dev" "" 2>/dev/null; }
to_vfio() {
    e2e_pci_rebind "$dev" vfio-pci || return 1
    e2e_wait_for 10 test -e "$dev/driver"
}
cleanup_fail() {
    e2e_log "---- hvmm remote list ----"; R list 2>&1 | head -n 40
    e2e_l2_abort; give_back; e2e_fail "$1"
}
# Send a command to L2's loop and wait (up to $3 s) for its answer "$2 TAG ...", which goes
# to $ans and the log.  (Not in $(...): a failure must end this shell.)
l2_cmd() {
    echo "$1 $tag" >&3
    e2e_wait_for "$3" e2e_l2_has "$2 $tag" || cleanup_fail "no '$2 $tag' from L2 within $3 s"
    ans=$(tr -d '\r' < "$W/out" | grep "$2 $tag" | tail -n1)
    e2e_info l2 "$ans"
}
# L1's nvme driver takes the device back; the first line at 1 MiB must be pattern $1's.
# The namespace is looked up under this device: earlier scenarios may have given L1's
# nvme driver other controllers, whose namespaces come first in /sys/class/nvme.
l1_reads() {
    give_back
    e2e_wait_for 30 sh -c "ls -d $dev/nvme/nvme*/nvme*n1 >/dev/null 2>&1" \
        || cleanup_fail "L1's nvme did not bind the device hvmm gave back"
    ns=$(basename "$(ls -d "$dev"/nvme/nvme*/nvme*n1 | head -n1)")
    e2e_wait_for 10 test -b /dev/$ns || cleanup_fail "/dev/$ns did not appear in L1"
    first=$(dd if=/dev/$ns bs=4096 skip=256 count=1 2>/dev/null | head -n1 | tr -d ' ')
    [ "$first" = "hvmm-l2-hp-$1-0" ] || cleanup_fail "L1 reads '$first' where L2 wrote hvmm-l2-hp-$1-0"
    e2e_info l1-reads-back "$1 ok"
}
add() {
    to_vfio || cleanup_fail "could not bind $bdf to vfio-pci"
    out=$(R add-device "$bdf" hp0 2>&1) || cleanup_fail "add-device: $out"
    e2e_info add-device "$(echo $out)"
}
remove() {
    out=$(R remove-device "$bdf" 2>&1) || cleanup_fail "remove-device: $out"
    e2e_info remove-device "$(echo $out)"
    echo "$out" | grep -q '"released_by_guest": true' \
        || cleanup_fail "the guest did not release the device: $out"
}

e2e_l2_boot "$W" "$DEADLINE" "$E2E_HVMM" $E2E_HV_ARGS -v --cpus 2 --memory 512M \
    --kernel ${E2E_L2_DIR:-/l2}/vmlinuz --initrd ${E2E_L2_DIR:-/l2}/initrd.cpio.gz \
    --cmdline "$E2E_L2_CMDLINE quiet e2e.mode=hotplug-nvme" --serial stdio \
    --pcie-root-port hp0 --api-socket "$SOCK" \
    || cleanup_fail "$E2E_L2_WHY"
echo "e2e-ping 1" >&3
e2e_wait_for 20 test -S "$SOCK" || cleanup_fail "no API socket at $SOCK"
R list | grep -q '"device": null' || cleanup_fail "hp0 is not an empty port: $(R list 2>&1)"

# 1. Added; L2's nvme binds and does I/O.
add
tag=1; l2_cmd wait-nvme L2-HP-NVME-UP 100
tag=A; l2_cmd write L2-HP-WRITE 60
case $ans in *" ok "*) ;; *) cleanup_fail "L2 could not write through the hot-added NVMe: $ans" ;; esac
e2e_info list "$(R list | tr -d ' \n' | head -c 600)"

# 2. Removed while idle; L1 reads what L2 wrote; L2 lives on.
remove
tag=2; l2_cmd wait-gone L2-HP-GONE 70
case $ans in *" yes"*) ;; *) cleanup_fail "L2 still has its nvme controller: $ans" ;; esac
l1_reads A
tag=3; l2_cmd alive L2-HP-ALIVE 20

# 3. Added again; a new pattern; reads keep going.
add
tag=4; l2_cmd wait-nvme L2-HP-NVME-UP 100
tag=B; l2_cmd write L2-HP-WRITE 60
case $ans in *" ok "*) ;; *) cleanup_fail "L2 could not write after the second add: $ans" ;; esac
tag=5; l2_cmd io-start L2-HP-IO-STARTED 20
sleep 2

# 4. Removed during that I/O: L2's reads fail, L2 does not crash; L1 reads B.
remove
tag=6; l2_cmd io-result L2-HP-IO 60
case $ans in *"failed=yes"*) ;; *) cleanup_fail "L2's reads did not stop when the device left: $ans" ;; esac
tag=7; l2_cmd wait-gone L2-HP-GONE 70
case $ans in *" yes"*) ;; *) cleanup_fail "L2 still has its nvme controller: $ans" ;; esac
l1_reads B
tag=8; l2_cmd alive L2-HP-ALIVE 20

# 5. Added a third time.
add
tag=9; l2_cmd wait-nvme L2-HP-NVME-UP 100

# 6. Shut down through the ACPI power button: L2's watcher powers off, hvmm exits 0.
e2e_l2_has L2-HP-BUTTON-WATCH || cleanup_fail "L2 found no power button input device"
out=$(R shutdown 2>&1) || cleanup_fail "shutdown: $out"
e2e_l2_wait_exit "$DEADLINE" || cleanup_fail "$E2E_L2_WHY"
e2e_l2_has L2-POWER-BUTTON || { give_back; e2e_fail "L2 ended without its power button pressed"; }
rc=$(cat $W/rc)
sed 's/^/hvmm-err| /' $W/err
[ "$rc" = 0 ] || { give_back; e2e_fail "hvmm exited with status $rc"; }
give_back
e2e_pass "NVMe hot-added 3 times and removed twice (idle, during I/O) while L2 ran; L2 did I/O each time, L1 read back both patterns; shut down by the power button, hvmm exit 0${E2E_L2_RETRIED:+ (on the second boot: the first L2 crashed early)}"
