# Helpers for scenario scripts running inside L1 (busybox sh).  Sourced by
# /init and by every scenario:  . /e2e/lib.sh
#
# A scenario's verdict is its exit status: 0 PASS, 77 SKIP, anything else FAIL
# (the init turns a timeout into FAIL).  The one-line reason goes into
# $E2E_REASON_FILE; e2e_fail/e2e_skip write it and exit.

[ -f /e2e/config ] && . /e2e/config

# Seconds since L1 boot, with centiseconds (busybox date has only whole seconds).
e2e_uptime() { read -r up _ < /proc/uptime; echo "$up"; }

# Human-readable progress, prefixed so it is easy to grep out of the console.
e2e_log() { echo "[$E2E_NAME] $*"; }

# A measured fact for the host log:  E2E-INFO <scenario> <key> <value...>
e2e_info() { k=$1; shift; echo "E2E-INFO $E2E_NAME $k $*"; }

e2e_fail() {
    echo "$*" > "$E2E_REASON_FILE"
    e2e_log "FAIL: $*"
    exit 1
}

e2e_skip() {
    echo "$*" > "$E2E_REASON_FILE"
    e2e_log "SKIP: $*"
    exit 77
}

e2e_pass() {
    [ $# -gt 0 ] && echo "$*" > "$E2E_REASON_FILE"
    exit 0
}

# e2e_check "what" cmd args...: run cmd; on success log it, else FAIL with "what".
e2e_check() {
    what=$1; shift
    if "$@"; then e2e_log "ok: $what"; else e2e_fail "$what"; fi
}

# e2e_wait_for SECONDS cmd args...: poll cmd every 0.2 s until it succeeds.
e2e_wait_for() {
    n=$(($1 * 5)); shift
    while [ "$n" -gt 0 ]; do
        "$@" && return 0
        sleep 0.2
        n=$((n - 1))
    done
    "$@"
}

# Dump the tail of the kernel log, for the serial log of a failing run.
e2e_dmesg_tail() {
    e2e_log "---- dmesg tail ----"
    dmesg | tail -n "${1:-40}" | sed "s/^/[$E2E_NAME] dmesg: /"
}

# The emulated NVMe controller (QEMU's 1b36:0010): prints its sysfs path.
e2e_find_nvme() {
    for d in /sys/bus/pci/devices/*; do
        [ "$(cat "$d/vendor")" = 0x1b36 ] && [ "$(cat "$d/device")" = 0x0010 ] && { echo "$d"; return 0; }
    done
    return 1
}

# Name of the driver bound to PCI device $1 (sysfs path), or empty.
e2e_pci_driver() {
    [ -e "$1/driver" ] && basename "$(readlink "$1/driver")"
}

# Bind PCI device $1 (sysfs path) to driver $2 via driver_override, unbinding
# it from whatever it has now.  $2 empty = clear the override and let the
# default driver (by ID table) take it.
e2e_pci_rebind() {
    dev=$1 drv=$2 bdf=${1##*/}
    echo "$drv" > "$dev/driver_override" || return 1
    if [ -e "$dev/driver" ]; then echo "$bdf" > "$dev/driver/unbind" || return 1; fi
    echo "$bdf" > /sys/bus/pci/drivers_probe
}
