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

# A line for a person watching (make demo-vfio shows these as they come).
e2e_say() { echo "E2E-SAY $E2E_NAME $*"; }

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

# The sysfs path of the PCI device at topology path $1: the root-bus slot, then the
# device.function below each bridge, e.g. "00:10.0" or "00:11.0/00.1" (a function behind
# the root port at 00:11.0).  Bus numbers are the firmware's; these paths are not.
e2e_pci_path() {
    _p=/sys/devices/pci0000:00/0000:${1%%/*}
    _rest=${1#*/}; [ "$_rest" = "$1" ] && _rest=
    [ -d "$_p" ] || return 1
    for _c in $(echo "$_rest" | tr / ' '); do
        set -- "$_p"/0000:*:"$_c"
        [ -d "$1" ] || return 1
        _p=$1
    done
    echo "/sys/bus/pci/devices/${_p##*/}"
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

# ---- An hvmm run with L2's serial console on our side (boot, vfio-nvme) ----
#
# e2e_l2_start DIR cmd args...: hvmm's stdin is a FIFO we keep open on fd 3, so we can
# type into L2's serial port and hvmm never sees EOF while L2 runs; its output goes to
# DIR/out and, prefixed "L2| ", to L1's console; its stderr to DIR/err; its exit status
# to DIR/rc.  setsid: hvmm leads its own process group, so a hang is ended with
# everything it started (children would otherwise keep the pipe, and us, waiting).
e2e_l2_start() {
    E2E_L2W=$1; shift
    rm -rf "$E2E_L2W"; mkdir -p "$E2E_L2W"
    # L1's init looks at every hvmm run's status here (a crashed L2 reruns the scenario).
    echo "$E2E_L2W" >> "/tmp/e2e-l2-dirs.$E2E_NAME"
    mkfifo "$E2E_L2W/in"; : > "$E2E_L2W/out"
    e2e_log "run: $*"
    E2E_L2T0=$(e2e_uptime)
    (
        setsid "$@" < "$E2E_L2W/in" 2> "$E2E_L2W/err" &
        echo $! > "$E2E_L2W/pid"
        wait $!
        echo $? > "$E2E_L2W/rc"
    ) | tee "$E2E_L2W/out" | sed 's/^/L2| /' &
    E2E_L2MIRROR=$!
    exec 3> "$E2E_L2W/in"
}

e2e_l2_has() { tr -d '\r' < "$E2E_L2W/out" 2>/dev/null | grep -q "$1"; }
e2e_l2_done() { test -s "$E2E_L2W/rc"; }
e2e_l2_elapsed() { awk -v a="$E2E_L2T0" -v b="$(e2e_uptime)" 'BEGIN{printf "%d", b-a}'; }

# Kill an hvmm that still runs, let the mirror finish, show hvmm's stderr and dmesg.
e2e_l2_abort() {
    e2e_l2_done || {
        e2e_threads "$(cat "$E2E_L2W/pid")"; e2e_guest_rips 2 "$E2E_L2W/l1-loop"
        kill -USR1 "$(cat "$E2E_L2W/pid")" 2>/dev/null && sleep 1   # hvmm's counters
        kill -9 -- "-$(cat "$E2E_L2W/pid")" 2>/dev/null
    }
    wait "$E2E_L2MIRROR"
    e2e_log "---- hvmm stderr ----"; sed 's/^/hvmm-err| /' "$E2E_L2W/err"
    e2e_dmesg_tail 20
}

# e2e_threads PID: where each thread of a process that still runs is (name, state, system
# call, kernel stack), before it is killed: a hung VMM says where it hung.
e2e_threads() {
    [ -d "/proc/$1/task" ] || return 0
    e2e_log "---- threads of process $1 ($(cat "/proc/$1/comm" 2>/dev/null)) ----"
    for t in /proc/$1/task/*; do
        e2e_log "thread ${t##*/} $(cat "$t/comm" 2>/dev/null): state $(sed -n 's/^State:[[:space:]]*//p' "$t/status" 2>/dev/null), syscall $(cut -d' ' -f1-3 "$t/syscall" 2>/dev/null)"
        sed 's/^/    /' "$t/stack" 2>/dev/null | head -n 12
    done
}

# e2e_guest_rips SECS [FILE]: where L2's vCPUs are, from L1 KVM's kvm_exit trace events over
# SECS seconds (an L2 that spins still exits, for its timer at least): the most frequent
# (vCPU, exit reason, guest RIP) triples, to look up in the L2 kernel's System.map.  A vCPU
# thread that took 1000 nested page faults or more at one RIP and one guest-physical address
# and had none of its exits handed to hvmm (kvm_userspace_exit) made no progress in a loop of
# L1's KVM, which hvmm had no part in: FILE (if given) gets a line saying so.
e2e_guest_rips() {
    local t=/sys/kernel/tracing e
    [ -e $t/events ] || mount -t tracefs nodev $t 2>/dev/null || return 0
    [ -w $t/events/kvm/kvm_exit/enable ] || return 0
    : > $t/trace
    for e in kvm_exit kvm_userspace_exit; do echo 1 > $t/events/kvm/$e/enable; done
    sleep "$1"
    for e in kvm_exit kvm_userspace_exit; do echo 0 > $t/events/kvm/$e/enable; done
    e2e_log "---- L2's exits in $1 s, most frequent (count, vCPU, reason, guest RIP, info1, info2: for npf the fault's error code and guest physical address) ----"
    grep -a -o 'vcpu [0-9]* reason [A-Za-z_0-9]* rip 0x[0-9a-f]* info1 0x[0-9a-f]* info2 0x[0-9a-f]*' $t/trace \
        | sed -E '/ reason npf /!s/ info1 .*//' \
        | sort | uniq -c | sort -rn | head -n 16 | sed 's/^/    /'
    awk -v secs="$1" '
        / kvm_userspace_exit: / { u[$1]++ }
        / kvm_exit: .* reason npf / {
            k = $1; sub(/.* rip /, ""); sub(/ info1 0x[0-9a-f]* info2 /, " gpa "); sub(/ intr_info.*/, "")
            if (++n[k, $0] > best[k]) { best[k] = n[k, $0]; at[k] = $0 }
        }
        END { for (k in best) if (best[k] >= 1000 && !(k in u))
                printf "L1 KVM held thread %s in a loop: %d nested page faults at RIP %s in %s s, none handed to hvmm\n", k, best[k], at[k], secs }' \
        $t/trace | tee -a "${2:-/dev/null}" | sed "s/^/[$E2E_NAME] /"
    : > $t/trace
}

# e2e_l2_wait_input DEADLINE: wait for L2-READY-FOR-INPUT.  Returns 1, with the reason in
# E2E_L2_WHY, if hvmm exited first or the deadline passed.  (Not in a subshell: the
# waits below must run in the shell that started hvmm.)
e2e_l2_wait_input() {
    while ! e2e_l2_has L2-READY-FOR-INPUT && ! e2e_l2_done; do
        if [ "$(e2e_l2_elapsed)" -ge "$1" ]; then
            E2E_L2_WHY="L2 never reached its init (no L2-READY-FOR-INPUT in ${1}s)"; return 1
        fi
        sleep 0.5
    done
    if ! e2e_l2_has L2-READY-FOR-INPUT; then
        E2E_L2_WHY="hvmm exited with status $(cat "$E2E_L2W/rc") before L2 reached its init"
        return 1
    fi
}

# e2e_l2_crashed DIR: the L2 of e2e_l2_start DIR crashed -- hvmm exited with status 4
# ("guest crashed": a triple fault), or with 3 (a reset) after L2's kernel panicked, which
# with panic=-1 resets the machine -- or was stopped while L1's KVM held one of its vCPUs
# in a loop of exits it never handed to hvmm (e2e_guest_rips).
e2e_l2_crashed() {
    [ -s "$1/l1-loop" ] && return 0
    case "$(cat "$1/rc" 2>/dev/null)" in
        4) return 0 ;;
        3) grep -a -q 'Kernel panic - not syncing' "$1/out" 2>/dev/null ;;
        *) return 1 ;;
    esac
}

# e2e_l2_boot DIR DEADLINE cmd args...: e2e_l2_start, then e2e_l2_wait_input.  An L2
# that crashes before its init (e2e_l2_crashed) is booted once more, and E2E_L2_RETRIED
# says so: under L1's TCG, L2 kernels reset or panic at random points of their early boot
# (a stale int3 of the kernel's own text patching, seen by L2 7.3) -- QEMU as the VMM in
# L1 does the same (tests/e2e/README.md).  Any other failure, or a second crash, returns 1
# with the reason in E2E_L2_WHY.
e2e_l2_boot() {
    _dir=$1 _deadline=$2; shift 2
    E2E_L2_RETRIED=
    e2e_l2_start "$_dir" "$@"
    e2e_l2_wait_input "$_deadline" && return 0
    e2e_l2_done && e2e_l2_crashed "$_dir" || return 1
    e2e_info l2-retry "L2 crashed before its init (hvmm exit $(cat "$_dir/rc")): booting it once more"
    exec 3>&-
    e2e_l2_abort
    E2E_L2_RETRIED=1
    e2e_l2_start "$_dir" "$@"
    e2e_l2_wait_input "$_deadline"
}

# e2e_l2_wait_exit DEADLINE: wait for hvmm to exit, then for all its output; returns 1,
# with the reason in E2E_L2_WHY, on timeout.
e2e_l2_wait_exit() {
    while ! e2e_l2_done; do
        if [ "$(e2e_l2_elapsed)" -ge "$1" ]; then
            if e2e_l2_has L2-POWEROFF; then E2E_L2_WHY="L2 powered off but hvmm did not exit"
            else E2E_L2_WHY="L2 did not finish within ${1}s"; fi
            return 1
        fi
        sleep 0.5
    done
    exec 3>&-
    wait "$E2E_L2MIRROR"   # tee has written all of L2's output
    tr -d '\r' < "$E2E_L2W/out" > "$E2E_L2W/clean"
}

# The first value L2 reported for marker $1 ("L2-NPROC 2" -> 2).
e2e_l2_val() { sed -n "s/.*$1 \([^ ]*\).*/\1/p" "$E2E_L2W/clean" | head -n1; }

# e2e_kvm_hold: make sure one idle KVM VM stays alive for the rest of the scenario.  L1's
# init holds one for the whole run (E2E_KVMHOLD_GLOBAL); a scenario run another way starts
# its own, killed when the scenario's shell exits.  A scenario that starts and stops many
# VMs otherwise makes KVM flip kernel static keys each time, and L1's TCG has been seen to
# wedge both CPUs on such a live code patch (tests/e2e/tools/kvmhold.c tells the story).
e2e_kvm_hold() {
    if [ -n "${E2E_KVMHOLD_GLOBAL:-}" ] && kill -0 "$E2E_KVMHOLD_GLOBAL" 2>/dev/null; then
        return 0
    fi
    command -v kvmhold >/dev/null || { e2e_info kvmhold no; return 0; }
    kvmhold > /tmp/kvmhold.$$.out 2>&1 &
    E2E_KVMHOLD=$!
    trap 'kill $E2E_KVMHOLD 2>/dev/null' EXIT
    if e2e_wait_for 10 grep -q 'KVMHOLD ready' /tmp/kvmhold.$$.out; then
        e2e_info kvmhold yes
    else
        e2e_info kvmhold "failed: $(cat /tmp/kvmhold.$$.out)"
    fi
}

# e2e_kvm_debugfs: print the directory of KVM's debugfs counters (mounting debugfs if
# needed), or nothing if there is none.  Its top-level files (exits, mmio_exits, io_exits,
# ...) are sums over the VMs alive at the moment they are read.
e2e_kvm_debugfs() {
    [ -d /sys/kernel/debug/kvm ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
    [ -r /sys/kernel/debug/kvm/exits ] && echo /sys/kernel/debug/kvm
}

# e2e_host_chroot CMD: run CMD with sh in the build machine's own root, which L1 mounts
# read-only over virtio-9p (a scenario with "# e2e-needs: hostfs"), in the repository's
# directory there, with L1's /dev (and its /dev/kvm), /proc, /sys and a fresh /tmp.  What it
# writes must go to /tmp; e2e_file shows a file to the host.  E2E_HOSTFS_CACHE (e.g. loose)
# is the 9p cache mode: without one every page of a program is read anew over 9p at each
# exec, which makes a program with many shared libraries (QEMU) start seconds late.
# The root is a tmpfs holding the host's top-level directories, each bound from the 9p
# tree, and L1's own /proc, /sys, /dev and /tmp: mounted onto the 9p tree itself, where the
# host's /proc and /dev are mount points of their own, they were passed by (valgrind found
# no /proc/self/maps, bash no /dev/fd).
e2e_host_chroot() {
    [ "${E2E_HOSTFS:-0}" = 1 ] || { echo "e2e_host_chroot: no host root in this L1" >&2; return 1; }
    if ! grep -q ' /hostroot tmpfs ' /proc/mounts; then
        mkdir -p /host /hostroot
        grep -q ' /host 9p ' /proc/mounts ||
            mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144${E2E_HOSTFS_CACHE:+,cache=$E2E_HOSTFS_CACHE} \
                hostroot /host || return 1
        mount -t tmpfs tmpfs /hostroot || return 1
        for e in /host/*; do
            n=${e##*/}
            case $n in proc|sys|dev|tmp) continue ;; esac
            if [ -L "$e" ]; then
                ln -s "$(readlink "$e")" "/hostroot/$n" || return 1
            elif [ -d "$e" ]; then
                mkdir "/hostroot/$n" && mount --bind "$e" "/hostroot/$n" || return 1
            fi
        done
        mkdir -p /hostroot/proc /hostroot/sys /hostroot/dev /hostroot/tmp
        [ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
        mount -t proc proc /hostroot/proc && mount -t sysfs sysfs /hostroot/sys &&
            mount --bind /dev /hostroot/dev && mount -t tmpfs tmpfs /hostroot/tmp || return 1
    fi
    chroot /hostroot /bin/sh -c "cd '$E2E_HOST_REPO' && $*"
}

# e2e_file NAME PATH: the file at PATH (in L1) to the host, which writes it to
# $E2E_BUILD_DIR/files/NAME (tests/e2e/run: host_files).
e2e_file() {
    echo "E2E-FILE-BEGIN $E2E_NAME $1"
    sed 's/^/E2E-FILE| /' "$2"
    echo "E2E-FILE-END $E2E_NAME $1"
}

# e2e_host_file NAME: the host file of a "# e2e-host-file: NAME SIZE" header, as the rig made
# it for this boot: HF_SIZE (bytes), HF_HEAD and HF_TAIL (the 64-bit words, 16 hex digits,
# at offsets 0 and HF_SIZE - 8).  Returns 1 if this boot has no such file.
e2e_host_file() {
    eval "_hf=\${E2E_HOSTFILE_$1:-}"
    [ -n "$_hf" ] || return 1
    set -- $_hf
    HF_SIZE=$1 HF_HEAD=$2 HF_TAIL=$3
}

# e2e_host_file_expect NAME OFFSET HEX: after QEMU exits, the host must find the 64-bit
# little-endian word HEX at OFFSET of host file NAME, or this scenario FAILs.
e2e_host_file_expect() { echo "E2E-HOSTFILE $E2E_NAME $1 $2 $3"; }

# ---- VFIO scenarios that pass several devices (vfio-group, vfio-multi, vfio-d3, ...) ----

# e2e_vfio_boot W MODE DEADLINE BDF...: hvmm -v with those devices (--vfio, in that order)
# and L2 in e2e.mode=MODE, under the hypervisor L1's init chose (E2E_HVMM, E2E_HV_ARGS);
# types the ping once L2 asks for input.  E2E_L2_ARGS: more words for L2's command line;
# E2E_HVMM_ARGS: more arguments for hvmm, before the devices.  Returns 1 with the reason
# in E2E_L2_WHY.
e2e_vfio_boot() {
    _w=$1 _mode=$2 _deadline=$3; shift 3
    _args=
    for _b in "$@"; do _args="$_args --vfio $_b"; done
    E2E_TOKEN=$(( $(od -An -N2 -tu2 /dev/urandom) + 1000 ))
    # shellcheck disable=SC2086
    e2e_l2_boot "$_w" "$_deadline" "$E2E_HVMM" $E2E_HV_ARGS -v --cpus 2 \
        --memory 512M --kernel "$E2E_L2_DIR/vmlinuz" --initrd "$E2E_L2_DIR/initrd.cpio.gz" \
        --cmdline "$E2E_L2_CMDLINE quiet e2e.mode=$_mode${E2E_L2_ARGS:+ $E2E_L2_ARGS}" \
        --serial stdio ${E2E_HVMM_ARGS:-} $_args || return 1
    echo "e2e-ping $E2E_TOKEN" >&3
}

# e2e_vfio_need: skip without hvmm, fail without /dev/kvm; keep an idle VM alive.
e2e_vfio_need() {
    [ -n "$E2E_HVMM" ] && [ -x "$E2E_HVMM" ] \
        || e2e_skip "no hvmm binary in L1 (set HVMM=/path/to/static/hvmm on the host)"
    test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
    e2e_kvm_hold
}

# e2e_vfio_bind DEV: PCI device DEV (sysfs path) on vfio-pci, bound now if it is not yet.
e2e_vfio_bind() {
    [ "$(e2e_pci_driver "$1")" = vfio-pci ] && return 0
    e2e_pci_rebind "$1" vfio-pci || return 1
    e2e_wait_for 10 sh -c "[ \"\$(basename \"\$(readlink $1/driver)\")\" = vfio-pci ]"
}

# e2e_vfio_nvme: the first NVMe (1b36:0010) on vfio-pci; sets dev and bdf, and has failures
# give it back to nvme.
e2e_vfio_nvme() {
    dev=$(e2e_find_nvme) || e2e_fail "no NVMe (1b36:0010) in L1"
    bdf=${dev##*/}
    e2e_vfio_bind "$dev" || e2e_fail "could not bind $bdf to vfio-pci"
    E2E_GIVE_BACK=$dev
}

# Devices (sysfs paths) back to their own drivers: driver_override cleared, probed.
e2e_give_back() { for _d in "$@"; do e2e_pci_rebind "$_d" "" 2>/dev/null; done; }

# Fail a VFIO scenario: hvmm killed if it still runs, the devices in E2E_GIVE_BACK given
# back, then FAIL with the reason.
e2e_vfio_fail() {
    [ -n "${E2E_L2MIRROR:-}" ] && e2e_l2_abort
    # shellcheck disable=SC2086
    e2e_give_back ${E2E_GIVE_BACK:-}
    e2e_fail "$1"
}

# e2e_vfio_wait_ok DEADLINE: wait for hvmm's exit and show its stderr; FAIL unless it exited 0.
e2e_vfio_wait_ok() {
    e2e_l2_wait_exit "$1" || e2e_vfio_fail "$E2E_L2_WHY"
    sed 's/^/hvmm-err| /' "$E2E_L2W/err"
    _rc=$(cat "$E2E_L2W/rc")
    [ "$_rc" = 0 ] || e2e_vfio_fail "hvmm exited with status $_rc: $(grep -m1 'hvmm: ' "$E2E_L2W/err")"
}

# L2's address of its first device of class $1 (hex, a prefix: 010802 NVMe), from L2-PCI lines.
e2e_l2_pci() { grep -a "L2-PCI [^ ]* $1" "$E2E_L2W/clean" | sed 's/.*L2-PCI \([^ ]*\) .*/\1/' | head -n1; }

# e2e_io_ok TAG BDF: L2's "L2-IO TAG BDF ..." line says the signature, write and read-back
# were right and interrupts counted; else FAIL naming what was wrong.
e2e_io_ok() {
    _l=$(grep -a "L2-IO $1 $2 " "$E2E_L2W/clean" | head -n1)
    [ -n "$_l" ] || e2e_io_fail "L2 reported no I/O '$1' on $2"
    e2e_info "io-$1-$2" "${_l#*$2 }"
    case "$_l" in *" sig=HVMM-E2E-NVME-DISK "*) ;; *) e2e_io_fail "$2 ($1): wrong signature: $_l" ;; esac
    case "$_l" in *" write=ok readback=ok "*) ;; *) e2e_io_fail "$2 ($1): write or read-back failed: $_l" ;; esac
    _irqs=${_l##*irqs=}
    [ "${_irqs:-0}" -gt 0 ] || e2e_io_fail "$2 ($1): no interrupt during the I/O: $_l"
}
e2e_io_fail() { e2e_vfio_fail "$1"; }

# hvmm's VFIO counters for BDF from its -v output at exit.
e2e_vfio_counters() { grep "$1: config reads" "$E2E_L2W/err" | tail -n1; }
