#!/bin/sh
# e2e-timeout: 420
# e2e-hypervisors: kvm mshv-sim
#
# boot: hvmm boots the Debian kernel as L2 on L1's real KVM, with 2 vCPUs and
# 512 MiB.  L2's init (tests/e2e/l2/init) reports facts as "L2-..." lines on
# its serial console, which hvmm connects to our stdin/stdout:
#   L2-NPROC, L2-MEMTOTAL-KB     -> vCPU count and memory size
#   L2-READY-FOR-INPUT           -> we then send "e2e-ping <n>" on hvmm's stdin
#   L2-SERIAL-PONG <n+1>         -> serial input reached L2 (n+1, so the tty's
#                                   own echo of our line cannot fake it)
#   L2-UPTIME, L2-POWEROFF       -> then L2 runs poweroff -f; hvmm must exit 0.
#
# It runs once per hypervisor (tests/e2e/README.md): on L1's KVM, and through hv-mshv on the
# /dev/mshv simulator (the test build hvmm-sim, --hypervisor mshv-sim), where L2 runs on the
# Hyper-V interface the partition was granted.
#
# L2 boots with "quiet", and once more if it crashes before its init.  Under L1's TCG, an
# L2 that prints its whole boot log (thousands of console port-I/O exits in its first
# seconds) resets at random points of its early boot: hvmm 4 times in 6, and QEMU
# microvm run the same way in L1 4 times in 4 (tests/e2e/README.md).  Quiet, that was
# not seen with either.
. ${E2E_LIB:-/e2e/lib.sh}

[ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
    || e2e_skip "no hvmm binary in L1 for ${E2E_HYPERVISOR:-kvm} (set HVMM=/path/to/static/hvmm, HVMM_SIM=/path/to/static/hvmm-sim on the host)"
[ "${E2E_NO_KVM_CHECK:-0}" = 1 ] || test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
e2e_kvm_hold

# (E2E_L2_DIR and E2E_WORK let tests/e2e/selftest-boot run this script on the
# build host, with QEMU standing in for hvmm.)
L2=${E2E_L2_DIR:-/l2}
W=${E2E_WORK:-/tmp/boot}
# Own deadline below the init's timeout, so a hang is diagnosed, not just killed.
DEADLINE=${E2E_BOOT_DEADLINE:-360}
token=$(( $(od -An -N2 -tu2 /dev/urandom) + 1000 ))

cleanup_fail() { e2e_l2_abort; e2e_fail "$1"; }

# 1. Boot L2 (quiet: see below), wait for it to ask for input (or hvmm to die), then
# type into its serial port.
# shellcheck disable=SC2086
e2e_l2_boot "$W" "$DEADLINE" "$E2E_HVMM" $E2E_HV_ARGS --cpus 2 --memory 512M \
    --kernel $L2/vmlinuz --initrd $L2/initrd.cpio.gz \
    --cmdline "$E2E_L2_CMDLINE quiet e2e.mode=boot" --serial stdio || cleanup_fail "$E2E_L2_WHY"
e2e_info l2-init-reached-after "$(e2e_l2_elapsed)s"
echo "e2e-ping $token" >&3

# 2. Wait for hvmm to exit after L2's poweroff.
e2e_l2_wait_exit "$DEADLINE" || cleanup_fail "$E2E_L2_WHY"
rc=$(cat $W/rc)
e2e_info hvmm-wall-seconds "$(e2e_l2_elapsed)"

# 3. Judge what L2 said.
nproc=$(e2e_l2_val L2-NPROC); mem=$(e2e_l2_val L2-MEMTOTAL-KB)
pong=$(e2e_l2_val L2-SERIAL-PONG); up=$(e2e_l2_val L2-UPTIME)
hv=$(e2e_l2_val L2-HYPERVISOR); cs=$(e2e_l2_val L2-CLOCKSOURCE)
e2e_info l2-hypervisor "$hv"
e2e_info l2-clocksource "$cs"
e2e_info l2-nproc "$nproc"
e2e_info l2-memtotal-kb "$mem"
e2e_info l2-uptime "$up"
[ "$rc" = 0 ] || cleanup_fail "hvmm exited with status $rc"
[ "$nproc" = 2 ] || cleanup_fail "L2 nproc is '$nproc', want 2"
# 512 MiB guest: MemTotal is RAM minus what the kernel reserves for itself.
[ -n "$mem" ] && [ "$mem" -ge $((400 * 1024)) ] && [ "$mem" -le $((512 * 1024)) ] \
    || cleanup_fail "L2 MemTotal ${mem:-?} kB not in 400-512 MiB"
[ "$pong" = $((token + 1)) ] || cleanup_fail "serial input: sent $token, L2 answered '${pong:-nothing}'"
[ -n "$up" ] || cleanup_fail "no L2-UPTIME marker"
# On mshv-sim the guest runs on the Hyper-V interface hv-mshv granted (not KVM's).
if [ "$E2E_HYPERVISOR" = mshv-sim ]; then
    [ "$hv" = Microsoft_Hyper-V ] || cleanup_fail "L2 on mshv-sim found '$hv', not Microsoft Hyper-V"
fi
e2e_l2_has L2-POWEROFF || cleanup_fail "no L2-POWEROFF marker"
e2e_pass "L2 booted${E2E_HYPERVISOR:+ on $E2E_HYPERVISOR} (it sees ${hv:-no hypervisor}, clock $cs): 2 CPUs, MemTotal ${mem} kB, serial in/out ok, L2 uptime ${up}s, hvmm exit 0${E2E_L2_RETRIED:+ (on the second boot: the first L2 crashed early)}"
