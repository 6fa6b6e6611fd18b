#!/usr/bin/env bash
# make bench-nested: hvmm against QEMU where only the nested rig can measure -- a real
# Linux L2 and real VFIO passthrough of an NVMe, on L1's real KVM inside QEMU-TCG.
#
#   bash bench/nested/run.sh HVMM_STATIC TOOL...   (make bench-nested builds them)
#
# TOOL...: the static programs L1 and L2 need, randread, l2stamp and kvmhold.
#
# Runs the rig (tests/e2e/run) once with the scenarios bench-boot and bench-nvme, which
# are not in make e2e's default list, then turns their E2E-INFO lines into two tables,
# prints them and writes them with the method to bench/nested/results.md.  The results
# file is written only when both scenarios passed: a broken run leaves the last good one.
#
# Why it is built this way:
# - Everything inside L1 runs under TCG on a shared 2-CPU host, so absolute times are
#   slow and swing between runs; every hvmm figure is paired with QEMU measured in the
#   same L1 boot, runs alternate where they can, and the ratios are what to read.
# - The rig gets its own build directory (build/bench-nested/e2e), so this never clobbers
#   a make e2e running meanwhile; the kernel package is borrowed from build/e2e's cache.
#
# Knobs (environment): BENCH_BOOT_RUNS (boots per VMM, 5), BENCH_BOOT_CMDLINE (extra L2
# kernel arguments, "quiet"), BENCH_NVME_ROUNDS (mirrored rounds of native, hvmm, QEMU,
# 4), BENCH_NVME_RUNS (randread runs per visit, 2),
# BENCH_NVME_SECS (seconds per run, 5), BENCH_NVME_SPAN_MIB (32), E2E_TIMEOUT (limit for
# each L1 run, 1140 s), BENCH_NESTED_DIR (build/bench-nested).
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: bench/nested/run.sh HVMM_STATIC TOOL..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
hvmm=$(realpath "$1"); shift
tools=
for t in "$@"; do tools="$tools $(realpath "$t")"; done
cd "$root"
t_start=$EPOCHREALTIME

export BENCH_BOOT_RUNS=${BENCH_BOOT_RUNS:-5}
export BENCH_NVME_ROUNDS=${BENCH_NVME_ROUNDS:-4}
export BENCH_NVME_RUNS=${BENCH_NVME_RUNS:-2}
export BENCH_NVME_SECS=${BENCH_NVME_SECS:-5}
export BENCH_NVME_SPAN_MIB=${BENCH_NVME_SPAN_MIB:-32}
# The rig's own default limit is the sum of the scenarios' limits (over 26 min); a
# normal run takes about 11, so 19 keeps a hang inside the 20 minutes we allow.
timeout_total=${E2E_TIMEOUT:-1140}
out=${BENCH_NESTED_DIR:-$root/build/bench-nested}
e2e=$out/e2e
results=bench/nested/results.md
mkdir -p "$e2e/dl"

# Borrow the kernel package make e2e already downloaded (a hard link, else a copy).
if ! ls "$e2e"/dl/linux-image-*.deb >/dev/null 2>&1; then
	for deb in "$root"/build/e2e/dl/linux-image-*.deb; do
		[ -f "$deb" ] || continue
		ln -f "$deb" "$e2e/dl/" 2>/dev/null || cp "$deb" "$e2e/dl/"
	done
fi

load_before=$(cut -d' ' -f1-3 /proc/loadavg)
if [ "${BENCH_NESTED_REPORT_ONLY:-0}" = 1 ]; then
	# Only rebuild the tables from the last run's markers (when changing this script).
	rig_rc=0
	load_before="? (report rebuilt from an earlier run)"
else
	# run_rig LIMIT: one rig run with the two scenarios, at most LIMIT seconds of QEMU.
	run_rig() {
		echo "bench-nested: rig run with bench-boot and bench-nvme (about 11 minutes); log in $out/rig.log"
		set +e
		E2E_TIMEOUT=$1 E2E_BUILD_DIR=$e2e HVMM=$hvmm SCENARIOS="bench-boot bench-nvme" E2E_COMBOS=6.1/6.1 \
			E2E_EXTRA_BINS="$tools" "$root/tests/e2e/run" 2>&1 | tee "$out/rig.log" |
			grep -a --line-buffered -E 'E2E-(BEGIN|RESULT|DONE)|ERROR|FAILED|L1 died|L1 once more'
		rig_rc=${PIPESTATUS[0]}
		set -e
	}
	run_rig "$timeout_total"
	# If L1's kernel died under TCG (the rig's fault, not a VMM's), the rig booted L1 once
	# more for the scenarios that had no verdict yet: results.md says so.
	first_attempt=
	if [ -s "$e2e/rerun.txt" ]; then
		first_attempt="L1 died ($(sed -n 1p "$e2e/rerun.txt")) and was booted again for: $(sed -n 2p "$e2e/rerun.txt")"
	fi
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
wall=$(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
markers=$e2e/markers.log
if [ "$rig_rc" != 0 ] || ! grep -q 'E2E-RESULT bench-boot PASS' "$markers" ||
	! grep -q 'E2E-RESULT bench-nvme PASS' "$markers"; then
	echo "bench-nested: the rig run failed (status $rig_rc); $results not written." >&2
	echo "  see $out/rig.log, $e2e/l1-6.1/serial.clean.log and $e2e/results.txt" >&2
	exit 1
fi

# ---- the figures, from the scenarios' E2E-INFO lines ----------------------------------
info() { sed -n "s/.*E2E-INFO $1 $2 //p" "$markers" | tail -n1; }
# "min median max n" of the numbers given as arguments
stats() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%s %s %s %d\n", v[1], m, v[NR], NR }'
}
field() { echo "$1" | cut -d' ' -f"$2"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }

# Boot: seconds of L1's clock from exec to L2-INIT-START, and L2's uptime then.
# QEMU twice: microvm as it comes, and with rtc=off plus initcall_blacklist=cmos_init (no
# CMOS RTC probe, like hvmm; see bench-boot.sh).  The boot target is judged against the
# faster of the two.
hb=$(stats $(info bench-boot hvmm-l2-init-s)); qb=$(stats $(info bench-boot qemu-l2-init-s))
nb=$(stats $(info bench-boot qemu-nortc-l2-init-s))
hu=$(stats $(info bench-boot hvmm-l2-uptime-s)); qu=$(stats $(info bench-boot qemu-l2-uptime-s))
nu=$(stats $(info bench-boot qemu-nortc-l2-uptime-s))
# exits_med VMM N: median over the boots of the N-th of "exits/mmio/io" (L1 KVM's counters).
exits_med() {
	local v
	v=$(info bench-boot "$1-l2-boot-kvm-exits" | tr ' ' '\n' | grep . | cut -d/ -f"$2")
	[ -n "$v" ] && [ "$(echo "$v" | head -n1)" != -1 ] || { echo "-"; return; }
	field "$(stats $v)" 2
}
best_q=$(awk -v a="$(field "$qb" 2)" -v b="$(field "$nb" 2)" 'BEGIN { print (a < b) ? a : b }')

# NVMe: one line per randread run, "randread PLACE VISIT.RUN RANDREAD key=value ...".
rr=$out/randread.txt
sed -n 's/.*E2E-INFO bench-nvme randread //p' "$markers" > "$rr"
# place_stats PLACE -> "iops_min iops_median iops_max runs p50_median p99_median all_ios"
place_stats() {
	awk -v want=" $* " '
		function val(k,   i) { for (i = 4; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
		function median(a, n,   i, j, t) {
			for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
			return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
		index(want, " " $1 " ") {
			# + 0: compare as numbers, not as strings
			n++; iops[n] = val("iops") + 0; p50[n] = val("lat_us_p50") + 0; p99[n] = val("lat_us_p99") + 0
			all += val("all_ios")
			if (n == 1 || iops[n] < lo) lo = iops[n]
			if (n == 1 || iops[n] > hi) hi = iops[n] }
		END { if (!n) { print "- - - 0 - - 0"; exit }
		      printf "%.0f %.0f %.0f %d %.0f %.0f %d\n", lo, median(iops, n), hi, n, median(p50, n), median(p99, n), all }' "$rr"
}
nat=$(place_stats l1-native)
hv=$(place_stats hvmm)
qe=$(place_stats qemu)
hv_vs_nat=$(ratio "$(field "$hv" 2)" "$(field "$nat" 2)")
qe_vs_nat=$(ratio "$(field "$qe" 2)" "$(field "$nat" 2)")
hv_vs_qe=$(ratio "$(field "$hv" 2)" "$(field "$qe" 2)")

# hvmm's trapped BAR accesses by page ("BAR0+0x2000:194 ..."), printed before and after
# the reads of each hvmm visit: the differences, summed, are what it trapped during reads.
pages() { grep -o 'BAR[0-5]+0x[0-9a-f]*:[0-9]*' || true; }
counters() { sed -n "s/.*E2E-INFO bench-nvme hvmm-counters-$1 [0-9]* //p" "$markers"; }
trap_delta=$( { counters before | pages | sed 's/^/- /'; counters after | pages | sed 's/^/+ /'; } |
	awk '{ split($2, p, ":"); d[p[1]] += ($1 == "+" ? p[2] : -p[2]) }
	     END { for (k in d) t += d[k]; printf "%d %d", t, d["BAR0+0x1000"] }')
traps_total=${trap_delta% *} traps_doorbell=${trap_delta#* }
hv_ios=$(field "$hv" 7)
per_io() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.4f", b ? a / b : 0 }'; }
# Doorbell-page traps over the whole of each hvmm run (boot and driver set-up too).
doorbell_exit=$(counters exit | pages | sed -n 's/^BAR0+0x1000://p' | awk '{ s += $1 } END { if (NR) print s }')
c_exit=$(counters exit | tail -n1)

# L1 KVM's counters around the reads, per VMM: "vmm visit exits=N mmio_exits=N ...";
# kvm_per_read VMM STAT -> (sum over visits of after - before) / reads of that VMM.
kvm_per_read() {
	local reads
	reads=$(field "$(place_stats "$1")" 7)
	sed -n "s/.*E2E-INFO bench-nvme kvm-stats-\(before\|after\) $1 /\1 /p" "$markers" |
		awk -v stat="$2" -v reads="$reads" '
			{ for (i = 3; i <= NF; i++) if (index($i, stat "=") == 1) v = substr($i, length(stat) + 2)
			  d += ($1 == "after" ? v : -v); n++ }
			END { if (!n || !reads) print "not measured"; else printf "%.2f\n", d / reads }'
}
nvme_rounds=$(sed -n 's/.*E2E-INFO bench-nvme exit-status hvmm //p' "$markers" | wc -l)
# L2 sessions that broke and were run again (bench-nvme.sh: the rig under TCG, rarely).
retries=$(sed -n 's/.*E2E-INFO bench-nvme session-retry //p' "$markers")

# ---- targets --------------------------------------------------------------------------
met() { awk "BEGIN { exit !($1) }" && echo met || echo "not met"; }
t_boot=$(met "$(field "$hb" 2) <= $best_q")
t_iops_q=$(met "$(field "$hv" 2) >= $(field "$qe" 2)")
t_iops_n=$(met "$(field "$hv" 2) >= 0.9 * $(field "$nat" 2)")
t_door=$( [ "$traps_doorbell" = 0 ] && [ -z "$doorbell_exit" ] && echo met || echo "not met")

# ---- the tables -------------------------------------------------------------------------
cmdline_boot=$(info bench-boot l2-cmdline)
cmdline_boot_q=$(info bench-boot l2-cmdline-qemu)
cmdline_nvme=$(info bench-nvme l2-cmdline)
tables() {
	echo "### L2 boot to init ($(field "$hb" 4) boots per VMM, alternating)"
	echo
	echo "| | hvmm | QEMU microvm, as is | QEMU microvm,rtc=off, no rtc_cmos | hvmm / QEMU as is | hvmm / QEMU no rtc |"
	echo "|---|---|---|---|---|---|"
	local k
	for k in 1:min 2:median; do
		echo "| exec to L2 init's first line, s of L1's clock: ${k#*:} |" \
			"$(field "$hb" "${k%:*}") | $(field "$qb" "${k%:*}") | $(field "$nb" "${k%:*}") |" \
			"$(ratio "$(field "$hb" "${k%:*}")" "$(field "$qb" "${k%:*}")") |" \
			"$(ratio "$(field "$hb" "${k%:*}")" "$(field "$nb" "${k%:*}")") |"
	done
	echo "| L2's own /proc/uptime at init, s: median (min) |" \
		"$(field "$hu" 2) ($(field "$hu" 1)) | $(field "$qu" 2) ($(field "$qu" 1)) |" \
		"$(field "$nu" 2) ($(field "$nu" 1)) | $(ratio "$(field "$hu" 2)" "$(field "$qu" 2)") |" \
		"$(ratio "$(field "$hu" 2)" "$(field "$nu" 2)") |"
	local n label
	for n in 1:"exits of L2 to L1's KVM" 2:"of which MMIO exits to the VMM" 3:"of which port-I/O exits to the VMM"; do
		label=${n#*:}
		echo "| $label, per boot up to the marker (median) | $(exits_med hvmm "${n%%:*}") |" \
			"$(exits_med qemu "${n%%:*}") | $(exits_med qemu-nortc "${n%%:*}") | | |"
	done
	echo
	echo "each run, s: hvmm $(info bench-boot hvmm-l2-init-s); QEMU $(info bench-boot qemu-l2-init-s);" \
		"QEMU no rtc $(info bench-boot qemu-nortc-l2-init-s)"
	echo
	echo "### NVMe 4 KiB random reads, queue depth 1, ${BENCH_NVME_SECS} s per run"
	echo
	echo "| place | runs | IOPS median (min-max) | p50 µs | p99 µs | IOPS vs L1 native |"
	echo "|---|---|---|---|---|---|"
	row() { echo "| $1 | $(field "$2" 4) | $(field "$2" 2) ($(field "$2" 1)-$(field "$2" 3)) | $(field "$2" 5) | $(field "$2" 6) | $3 |"; }
	row "L1 native (nvme driver)" "$nat" "1.00"
	row "L2, hvmm --vfio" "$hv" "$hv_vs_nat"
	row "L2, QEMU microvm,pcie=on,rtc=off -device vfio-pci" "$qe" "$qe_vs_nat"
	echo
	echo "hvmm / QEMU IOPS (medians): $hv_vs_qe.  p50/p99: the median over the runs of each run's percentile."
	echo
	if [ -n "$retries" ]; then
		echo "L2 sessions that broke and were run again: $(echo "$retries" | paste -sd ';' -)."
	else
		echo "No L2 session had to be run again."
	fi
	echo
	echo "hvmm's trapped BAR accesses during the reads of its $nvme_rounds L2 runs ($hv_ios reads, warm-up included):" \
		"doorbell page (BAR0+0x1000) $traps_doorbell, $(per_io "$traps_doorbell" "$hv_ios") per read;" \
		"all pages $traps_total, $(per_io "$traps_total" "$hv_ios") per read." \
		"Whole last hvmm run (boot, driver set-up, reads), at exit: $c_exit"
	echo
	echo "L1 KVM's counters during the reads (debugfs, all VMs; only the one L2 ran), per read:"
	echo
	echo "| per read | hvmm | QEMU |"
	echo "|---|---|---|"
	local st
	for st in exits mmio_exits io_exits irq_exits halt_exits irq_injections; do
		echo "| $st | $(kvm_per_read hvmm $st) | $(kvm_per_read qemu $st) |"
	done
	echo
	echo "### Targets"
	echo
	echo "| target | result |"
	echo "|---|---|"
	echo "| L2 boot-to-init ≤ QEMU's (medians, the faster QEMU) | $t_boot: $(field "$hb" 2) s vs $best_q s |"
	echo "| passthrough IOPS ≥ QEMU vfio-pci's (medians) | $t_iops_q: $(field "$hv" 2) vs $(field "$qe" 2) |"
	echo "| passthrough IOPS ≥ 0.9 × L1 native (medians) | $t_iops_n: $(field "$hv" 2) vs 0.9 × $(field "$nat" 2) |"
	echo "| zero VMM exits per NVMe doorbell write | $t_door: $traps_doorbell doorbell-page traps in $hv_ios reads${doorbell_exit:+, $doorbell_exit in the whole run} |"
}

commit=$(git describe --always --dirty 2>/dev/null || echo '?')
{
	echo "# Nested benchmarks: hvmm vs QEMU in L2, NVMe passthrough vs L1 native"
	echo
	echo "Written by \`make bench-nested\` (bench/nested/run.sh); the method is below the tables."
	echo
	echo "- when: $(date -u '+%Y-%m-%d %H:%M UTC'); hvmm $commit (static build); $(info bench-boot qemu-version)"
	echo "- host: $(nproc) CPUs, $(uname -r), load average $load_before before, $load_after after"
	echo "- L1: Debian $(sed -n 's/.*E2E-L1-INIT uptime=[0-9.]* kernel=//p' "$markers" | head -n1) in QEMU-TCG (EPYC + SVM, 2 vCPUs, 2 GiB, intel-iommu, emulated NVMe 1b36:0010 on a 64 MiB file); L2: the same kernel, 2 vCPUs, 512 MiB"
	echo "- L2 command line, boot: \`$cmdline_boot\` (QEMU as is: \`$cmdline_boot_q\`); NVMe: \`$cmdline_nvme\`"
	echo "- wall time of the rig run (image build, L1 boot, both scenarios): ${wall} s"
	[ -z "${first_attempt:-}" ] ||
		echo "- $first_attempt (wall time above includes both L1 runs)"
	echo
	tables
	echo
	echo "### Every run"
	echo
	echo "NVMe (place, visit.run, IOPS, p50 µs, p99 µs; visits in the order they ran):"
	echo
	echo '```'
	awk '{ for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	       printf "%-10s %-5s %8s %8s %8s\n", $1, $2, v["iops"], v["lat_us_p50"], v["lat_us_p99"] }' "$rr"
	echo '```'
	echo
	sed -n '/^## Method/,$p' "$here/method.md"
} > "$out/results.md"
cp "$out/results.md" "$results"
echo
tables
echo
echo "bench-nested: written to $results (wall time ${wall} s)"
