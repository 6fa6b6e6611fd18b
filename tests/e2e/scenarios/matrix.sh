#!/bin/sh
# e2e-timeout: 900
# e2e-needs: matrix
#
# matrix: the test matrix on L1's real kvm-amd -- every guest program on every backend
# (guest-runner: kvm, mshv, mshv-sim) and the unit tests that need a real hypervisor
# (test_vfio_pci on KVM and on the MSHV simulator) -- for each build the host staged in
# /e2e/matrix/<label> (make e2e: the release build and the SANITIZE=1 build).
#
# Every cell of the kvm and mshv-sim columns must PASS: a SKIP there means the matrix did
# not run where it was meant to, and fails the scenario.  The mshv column is a real
# /dev/mshv, which no machine here has: it must SKIP, with its reason.
#
# Reports one line per test and build for the host's table:
#   E2E-INFO matrix row <build> <test> <kvm> <mshv> <mshv-sim>
# (PASS, FAIL, SKIP, or "-" where the test has no such column).
. ${E2E_LIB:-/e2e/lib.sh}

M=/e2e/matrix
ls -d $M/*/ >/dev/null 2>&1 \
    || e2e_skip "no test programs in L1 (the host passes them with E2E_MATRIX; make e2e does)"
test -c /dev/kvm || e2e_fail "/dev/kvm missing in L1"
e2e_kvm_hold
W=/tmp/matrix
mkdir -p $W

# TAP of guest-runner ($1) and of test_vfio_pci ($2) -> "row <test> <kvm> <mshv> <sim>" lines.
# cmocka prints each group's results, then "# ok - <group>" (or "# not ok - <group>");
# the group's name tells the column.  A cmocka skip is "not ok N # SKIP <name>".
rows() {
    awk '
        FNR == 1 { file++ }
        function verdict(line) {
            if (toupper(line) ~ /# *SKIP/) return "SKIP"
            return line ~ /^ok/ ? "PASS" : "FAIL"
        }
        file == 1 && /^(not )?ok [0-9]+ - guest\// {
            t = $0; sub(/.* - guest\//, "", t); col = t
            sub(/ .*/, "", t); sub(/^[^[]*\[/, "", col); sub(/\].*/, "", col)
            if (!(t in seen)) { seen[t] = 1; order[++n] = t }
            cell[t, col] = verdict($0)
        }
        file == 2 && /^(not )?ok [0-9]+/ {
            t = $0
            if (toupper(t) ~ /# *SKIP/) sub(/.*# *[Ss][Kk][Ii][Pp] */, "", t)
            else sub(/^(not )?ok [0-9]+ - /, "", t)
            pend[++np] = t; pv[np] = verdict($0)
        }
        file == 2 && /^# (not )?ok - / {
            col = ""; prefix = "vfio_pci."
            if ($0 ~ / on kvm$/) col = "kvm"
            else if ($0 ~ / on mshv-sim$/) col = "mshv-sim"
            # The simulated kernel with the MSHV VFIO bridge: rows of their own.
            else if ($0 ~ / on mshv-sim with the VFIO bridge$/) { col = "mshv-sim"; prefix = "vfio_pci.bridge." }
            for (i = 1; i <= np; i++) if (col != "") {
                t = prefix pend[i]
                if (!(t in seen)) { seen[t] = 1; order[++n] = t }
                cell[t, col] = pv[i]
            }
            np = 0
        }
        END {
            for (i = 1; i <= n; i++) {
                t = order[i]
                k = ((t, "kvm") in cell) ? cell[t, "kvm"] : "-"
                m = ((t, "mshv") in cell) ? cell[t, "mshv"] : "-"
                s = ((t, "mshv-sim") in cell) ? cell[t, "mshv-sim"] : "-"
                print "row", t, k, m, s
            }
        }' "$1" "$2"
}

bad=0 nb=0 ncells=0 summary=
for d in $M/*/; do
    b=$(basename "$d")
    nb=$((nb + 1))
    e2e_log "build $b: guest-runner"
    "$d/guest-runner" "$d/guest" > $W/$b.guest.tap 2>&1
    grc=$?
    e2e_log "build $b: test_vfio_pci"
    CMOCKA_MESSAGE_OUTPUT=TAP "$d/test_vfio_pci" > $W/$b.unit.tap 2>&1
    urc=$?
    sed "s/^/[$b] /" $W/$b.guest.tap $W/$b.unit.tap
    rows $W/$b.guest.tap $W/$b.unit.tap > $W/$b.rows
    nrow=$(wc -l < $W/$b.rows)
    # The guest runner's plan says how many cells it has: all of them must be in the table.
    plan=$(sed -n 's/^1\.\.\([0-9]*\)$/\1/p' $W/$b.guest.tap | head -n1)
    while read -r _ t k m s; do
        echo "E2E-INFO matrix row $b $t $k $m $s"
        for c in "$k" "$s"; do
            ncells=$((ncells + 1))
            [ "$c" = PASS ] || [ "$c" = - ] || { bad=$((bad + 1)); e2e_log "not PASS: $b $t ($k $m $s)"; }
        done
        case $m in SKIP|-) ;; *) bad=$((bad + 1)); e2e_log "real-mshv cell not SKIP: $b $t $m" ;; esac
    done < $W/$b.rows
    # The logs of what failed (guest-runner keeps its directory when a cell fails).
    logs=$(sed -n 's/^# logs of this run are in //p' $W/$b.guest.tap)
    if [ -n "$logs" ] && [ -d "$logs" ]; then
        sed -n 's/^not ok [0-9]* - guest\/\([^ ]*\) \[\([^]]*\)\].*/\1-\2/p' $W/$b.guest.tap |
            while read -r c; do
                e2e_log "---- $b $c failed; its logs:"
                for x in why stderr serial sim; do
                    [ -s "$logs/$c.$x" ] && tail -n 40 "$logs/$c.$x" | sed "s/^/[$b $c.$x] /"
                done
            done
    fi
    cross=$(sed -n 's/^# mshv-sim cross-check against KVM.s emulator: //p' $W/$b.guest.tap)
    e2e_info crosscheck "$b: ${cross:-missing}"
    case $cross in *"; 0 mismatches") ;; *) bad=$((bad + 1)); e2e_log "cross-check: ${cross:-no summary line}" ;; esac
    [ "$grc" = 0 ] || { bad=$((bad + 1)); e2e_log "guest-runner exited with status $grc"; }
    [ "$urc" = 0 ] || { bad=$((bad + 1)); e2e_log "test_vfio_pci exited with status $urc"; }
    guest_rows=$(grep -v '^row vfio_pci\.' $W/$b.rows | grep -c '^row ')
    [ -n "$plan" ] && [ $((guest_rows * 3)) = "$plan" ] \
        || { bad=$((bad + 1)); e2e_log "guest-runner planned ${plan:-?} cells, reported $((guest_rows * 3))"; }
    grep -q '^row vfio_pci\.' $W/$b.rows || { bad=$((bad + 1)); e2e_log "no test_vfio_pci rows"; }
    summary="$summary $b: $nrow tests;"
done
[ "$bad" = 0 ] || e2e_fail "$bad matrix problems (see the rows above);$summary"
e2e_pass "every kvm and mshv-sim cell PASS, real-mshv cells SKIP, 0 cross-check mismatches ($nb builds;$summary $ncells kvm/mshv-sim cells)"
