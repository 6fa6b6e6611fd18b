#!/bin/sh
# e2e-timeout: 420
#
# boot: hvmm boots the Debian kernel as L2 on L1's real KVM, with 2 vCPUs and
# 512 MiB.  L2's init (tests/e2e/l2/init) reports facts as "L2-..." lines on
# its serial console, which hvmm connects to our stdin/stdout:
#   L2-NPROC, L2-MEMTOTAL-KB     -> vCPU count and memory size
#   L2-READY-FOR-INPUT           -> we then send "e2e-ping <n>" on hvmm's stdin
#   L2-SERIAL-PONG <n+1>         -> serial input reached L2 (n+1, so the tty's
#                                   own echo of our line cannot fake it)
#   L2-UPTIME, L2-POWEROFF       -> then L2 runs poweroff -f; hvmm must exit 0.
. ${E2E_LIB:-/e2e/lib.sh}

[ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
    || e2e_skip "no hvmm binary in L1 (set HVMM=/path/to/static/hvmm on the host)"
test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"

# (E2E_L2_DIR and E2E_WORK let tests/e2e/selftest-boot run this script on the
# build host, with QEMU standing in for hvmm.)
L2=${E2E_L2_DIR:-/l2}
W=${E2E_WORK:-/tmp/boot}; rm -rf "$W"; mkdir -p "$W"
# Own deadline below the init's timeout, so a hang is diagnosed, not just killed.
DEADLINE=${E2E_BOOT_DEADLINE:-360}
token=$(( $(od -An -N2 -tu2 /dev/urandom) + 1000 ))
cmdline="$E2E_L2_CMDLINE e2e.mode=boot"

# stdin of hvmm is a FIFO we keep open (fd 3), so we can type into L2's serial
# port once L2 asks, and hvmm never sees EOF while L2 runs.
mkfifo $W/in; : > $W/out
set -- "$E2E_HVMM" --cpus 2 --memory 512M \
    --kernel $L2/vmlinuz --initrd $L2/initrd.cpio.gz \
    --cmdline "$cmdline" --serial stdio
e2e_log "run: $*"
t0=$(e2e_uptime)
# Our copy of L2's console is $W/out; tee mirrors it, prefixed, into L1's
# console (the serial log).  The pipeline ends by itself when hvmm exits.
# setsid: hvmm leads its own process group, so a hang is ended with everything
# it started (children would otherwise keep the pipe, and us, waiting).
(
    setsid "$@" < $W/in 2> $W/err &
    echo $! > $W/pid
    wait $!
    echo $? > $W/rc
) | tee $W/out | sed 's/^/L2| /' &
mirror=$!
exec 3> $W/in

l2_has() { tr -d '\r' < $W/out 2>/dev/null | grep -q "$1"; }
hvmm_done() { test -s $W/rc; }
elapsed() { awk -v a="$t0" -v b="$(e2e_uptime)" 'BEGIN{printf "%d", b-a}'; }

cleanup_fail() {
    hvmm_done || kill -9 -- "-$(cat $W/pid)" 2>/dev/null
    wait $mirror
    e2e_log "---- hvmm stderr ----"; sed 's/^/hvmm-err| /' $W/err
    e2e_dmesg_tail 20
    e2e_fail "$1"
}

# 1. Wait for L2 to ask for input (or hvmm to die).
while ! l2_has L2-READY-FOR-INPUT && ! hvmm_done; do
    [ "$(elapsed)" -ge "$DEADLINE" ] && cleanup_fail "L2 never reached its init (no L2-READY-FOR-INPUT in ${DEADLINE}s)"
    sleep 0.5
done
hvmm_done && ! l2_has L2-READY-FOR-INPUT \
    && cleanup_fail "hvmm exited with status $(cat $W/rc) before L2 reached its init"
e2e_info l2-init-reached-after "$(elapsed)s"
echo "e2e-ping $token" >&3

# 2. Wait for hvmm to exit after L2's poweroff.
while ! hvmm_done; do
    if [ "$(elapsed)" -ge "$DEADLINE" ]; then
        if l2_has L2-POWEROFF; then cleanup_fail "L2 powered off but hvmm did not exit"
        else cleanup_fail "L2 did not finish within ${DEADLINE}s"; fi
    fi
    sleep 0.5
done
exec 3>&-
t1=$(e2e_uptime)
wait $mirror      # tee has written all of L2's output
rc=$(cat $W/rc)
e2e_info hvmm-wall-seconds "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}')"

# 3. Judge what L2 said.
tr -d '\r' < $W/out > $W/clean
val() { sed -n "s/.*$1 \([^ ]*\).*/\1/p" $W/clean | head -n1; }
nproc=$(val L2-NPROC); mem=$(val L2-MEMTOTAL-KB); pong=$(val L2-SERIAL-PONG); up=$(val L2-UPTIME)
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
l2_has L2-POWEROFF || cleanup_fail "no L2-POWEROFF marker"
e2e_pass "L2 booted: 2 CPUs, MemTotal ${mem} kB, serial in/out ok, L2 uptime ${up}s, hvmm exit 0"
