#!/usr/bin/env bash
# make bench-nested: hvmm against QEMU where only the nested rig can measure -- a real
# Linux L2 and real VFIO passthrough of an NVMe, on L1's real KVM inside QEMU-TCG.
#
#   bash bench/nested/run.sh HVMM_STATIC PAIRCI TOOL...   (make bench-nested builds them)
#
# PAIRCI: bench/pairci (the intervals, run here on the host).  TOOL...: the static programs
# L1 and L2 need: randread, l2stamp and kvmhold.
#
# For each L1 kernel of BENCH_NESTED_KERNELS (default "6.1 7.3"; L2 runs Debian 12's 6.1
# under both) it runs the rig (tests/e2e/run) once with the scenarios of
# BENCH_NESTED_SCENARIOS (default "bench-boot bench-nvme bench-vfio-start", none of them in
# make e2e's default list), then turns their E2E-INFO lines into one section per kernel
# and scenario.  bench/nested/results.md holds the sections of every kernel and scenario:
# a run replaces the sections it measured (when the scenario passed) and keeps the others,
# each with its own date, so the kernels can be measured in separate runs.
#
# Why it is built this way:
# - Everything inside L1 runs under TCG on a shared 2-CPU host, so absolute times are slow
#   and swing between runs; hvmm and QEMU are measured in the same L1 boot, in alternating
#   pairs, and each figure is a ratio with a 95% interval over the pairs (bench/stats.h).
# - The rig gets its own build directory (build/bench-nested/e2e), so this never clobbers
#   a make e2e running meanwhile; kernel packages are borrowed from build/e2e's cache.
#
# Knobs (environment): BENCH_NESTED_KERNELS, BENCH_NESTED_SCENARIOS, E2E_L1_MEM (L1's
# memory, 6G: the 4 GiB guests of bench-vfio-start), E2E_TIMEOUT (limit of each L1 run,
# 3600 s: the budget is an hour of rig per L1 kernel), BENCH_NESTED_DIR
# (build/bench-nested), BENCH_NESTED_REPORT_ONLY=1 (rebuild the sections from the last
# run's markers), and the scenarios' own BENCH_* knobs (see each scenario's header).
set -euo pipefail

[ $# -ge 3 ] || { echo "usage: bench/nested/run.sh HVMM_STATIC PAIRCI TOOL..." >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
hvmm=$(realpath "$1")
pairci=$(realpath "$2")
shift 2
tools=
for t in "$@"; do tools="$tools $(realpath "$t")"; done
cd "$root"

kernels=${BENCH_NESTED_KERNELS:-6.1 7.3}
scenarios=${BENCH_NESTED_SCENARIOS:-bench-boot bench-nvme bench-vfio-start}
export E2E_L1_MEM=${E2E_L1_MEM:-6G}
timeout_total=${E2E_TIMEOUT:-3600}
out=${BENCH_NESTED_DIR:-$root/build/bench-nested}
e2e=$out/e2e
results=bench/nested/results.md
mkdir -p "$e2e/dl"

# Borrow the kernel packages make e2e already downloaded (hard links, else copies).
for deb in "$root"/build/e2e/dl/*.deb "$root"/build/e2e/dl/*/*.deb; do
	[ -f "$deb" ] || continue
	sub=${deb#"$root"/build/e2e/dl/}
	[ -e "$e2e/dl/$sub" ] && continue
	mkdir -p "$(dirname "$e2e/dl/$sub")"
	ln -f "$deb" "$e2e/dl/$sub" 2>/dev/null || cp "$deb" "$e2e/dl/$sub"
done

commit=$(git describe --always --dirty 2>/dev/null || echo '?')

# ---- helpers over one kernel's markers ------------------------------------------------------
# scen NAME: the marker lines of the last run of scenario NAME (a second L1 boot may have
# run it again: only its lines count), without the timestamps.
scen() {
	awk -v n="$1" '{ sub(/^[0-9.]+ /, "") }
		$0 ~ "E2E-BEGIN " n "$" { buf = ""; on = 1; next }
		on { buf = buf $0 "\n" }
		$0 ~ "E2E-RESULT " n " " { on = 0; last = buf }
		END { printf "%s", last }' "$markers"
}
# info SCEN KEY: the values of scenario SCEN's last "E2E-INFO SCEN KEY" line.
info() { scen "$1" | sed -n "s/.*E2E-INFO $1 $2 //p" | tail -n1; }
# stats N...: "min median max n" of the numbers.
stats() {
	printf '%s\n' "$@" | grep . | sort -g | awk '{ v[NR] = $1 }
		END { if (!NR) { print "- - - 0"; exit }
		      m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		      printf "%s %s %s %d\n", v[1], m, v[NR], NR }'
}
field() { echo "$1" | cut -d' ' -f"$2"; }
# ci < "a b" pairs: "gmean lo hi n" of a/b, or "- - - 0".
ci() {
	local l
	l=$("$pairci") || { echo "- - - 0"; return; }
	awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	       printf "%s %s %s %s\n", v["gmean"], v["lo"], v["hi"], v["n"] }' <<<"$l"
}
fmt_ci() { # "gmean lo hi n" -> "1.02 [0.97, 1.08]"
	awk -v g="$(field "$1" 1)" -v l="$(field "$1" 2)" -v h="$(field "$1" 3)" 'BEGIN {
		if (g == "-") print "-"; else printf "%.3f [%.3f, %.3f]\n", g, l, h }'
}
# verdict_ge CI: QD targets: the interval reaches 1.0 and its lower end is at least 0.95.
verdict_ge() {
	awk -v l="$(field "$1" 2)" -v h="$(field "$1" 3)" 'BEGIN {
		if (l == "-") print "not measured"
		else if (h >= 1.0 && l >= 0.95) print "met"
		else if (h < 1.0) print "NOT met"
		else print "undecided" }'
}
median_of() { field "$(stats "$@")" 2; }
fmt1() { awk -v v="$1" 'BEGIN { if (v !~ /^-?[0-9.]+$/) print "-"; else if (v >= 100) printf "%.0f\n", v; else printf "%.2f\n", v }'; }

# ---- bench-boot ---------------------------------------------------------------------------------
section_boot() {
	local h q n hb qb nb
	h=$(info bench-boot hvmm-l2-init-s); q=$(info bench-boot qemu-l2-init-s)
	n=$(info bench-boot qemu-nortc-l2-init-s)
	hb=$(stats $h); qb=$(stats $q); nb=$(stats $n)
	# Runs went hvmm, QEMU, QEMU no rtc, hvmm, ...: the i-th of each is a triple.
	local cq cn
	cq=$(paste -d' ' <(tr ' ' '\n' <<<"$h" | grep .) <(tr ' ' '\n' <<<"$q" | grep .) | ci)
	cn=$(paste -d' ' <(tr ' ' '\n' <<<"$h" | grep .) <(tr ' ' '\n' <<<"$n" | grep .) | ci)
	echo "#### L2 boot to init ($(field "$hb" 4) boots per VMM, alternating)"
	echo
	echo "| exec to L2 init's first line, s of L1's clock | hvmm | QEMU microvm, as is | QEMU microvm,rtc=off, no rtc_cmos |"
	echo "|---|---|---|---|"
	echo "| median (min-max) | $(field "$hb" 2) ($(field "$hb" 1)-$(field "$hb" 3)) |" \
		"$(field "$qb" 2) ($(field "$qb" 1)-$(field "$qb" 3)) | $(field "$nb" 2) ($(field "$nb" 1)-$(field "$nb" 3)) |"
	echo "| hvmm / QEMU, geometric mean of the runs' ratios [95% interval] | | $(fmt_ci "$cq") | $(fmt_ci "$cn") |"
	echo
	echo "each run, s: hvmm $h; QEMU $q; QEMU no rtc $n"
	echo
	local best
	best=$(awk -v a="$(field "$cq" 3)" -v b="$(field "$cn" 3)" 'BEGIN { print (a > b) ? "as is" : "no rtc" }')
	local c=$cn
	[ "$best" = "as is" ] && c=$cq
	t_rows+=("| $k | L2 boot-to-init ≤ QEMU's (the faster QEMU, QEMU $best) | $(awk -v h="$(field "$c" 3)" 'BEGIN { print (h == "-") ? "not measured" : (h <= 1.0) ? "met" : "NOT met" }'): $(fmt_ci "$c"), $(field "$c" 4) runs |")
}

# ---- bench-nvme -----------------------------------------------------------------------------------
section_nvme() {
	local rr=$out/randread-$k.txt
	scen bench-nvme | sed -n 's/.*E2E-INFO bench-nvme randread //p' >"$rr"
	# val PLACE PAIR.TAG KEY
	val() { awk -v p="$1" -v r="$2" -v k="$3" '$1 == p && $2 == r {
		for (i = 4; i <= NF; i++) if (index($i, k "=") == 1) print substr($i, length(k) + 2) }' "$rr"; }
	local pairs tags w
	pairs=$(awk '{ split($2, a, "."); print a[1] }' "$rr" | sort -n | uniq)
	tags=
	for w in $(info bench-nvme workloads); do tags="$tags ${w%%:*}"; done
	echo "#### NVMe reads passed through to L2: hvmm vs QEMU vfio-pci in alternating pairs"
	echo
	echo "Settings: $(info bench-nvme settings); workloads \`$(info bench-nvme workloads)\`."
	echo
	echo "| workload | hvmm, median (min-max) | QEMU, median (min-max) | hvmm / QEMU [95% interval] | pairs | pair ratios min-max | L1 native, median |"
	echo "|---|---|---|---|---|---|---|"
	local tag
	for tag in $tags; do
		local key=iops unit=IOPS hv= qe= nat= pairsfile=$out/pairs-$k-$tag.txt
		case $tag in seq*) key=mbps unit="MB/s" ;; esac
		: >"$pairsfile"
		for p in $pairs; do
			local a b
			a=$(val hvmm "$p.$tag" $key); b=$(val qemu "$p.$tag" $key)
			[ -n "$a" ] && hv="$hv $a"
			[ -n "$b" ] && qe="$qe $b"
			[ -n "$a" ] && [ -n "$b" ] && echo "$a $b" >>"$pairsfile"
			nat="$nat $(val l1-native "$p.$tag" $key)"
		done
		local hs qs c pr
		hs=$(stats $hv); qs=$(stats $qe); c=$(ci <"$pairsfile")
		pr=$(awk '{ print $1 / $2 }' "$pairsfile" | sort -g | sed -n '1p;$p' | tr '\n' ' ')
		local what=$tag
		case $tag in
			qd1) what="4 KiB random, QD1, IOPS" ;;
			qd32) what="4 KiB random, QD32, IOPS" ;;
			seq128k) what="128 KiB sequential, QD1, MB/s" ;;
		esac
		echo "| $what | $(fmt1 "$(field "$hs" 2)") ($(fmt1 "$(field "$hs" 1)")-$(fmt1 "$(field "$hs" 3)")) |" \
			"$(fmt1 "$(field "$qs" 2)") ($(fmt1 "$(field "$qs" 1)")-$(fmt1 "$(field "$qs" 3)")) |" \
			"$(fmt_ci "$c") | $(field "$c" 4) | $(awk -v a="${pr% *}" 'BEGIN { split(a, x, " "); if (x[1] == "") print "-"; else printf "%.2f-%.2f\n", x[1], x[2] }') |" \
			"$(fmt1 "$(median_of $nat)") |"
		case $tag in
			qd1 | qd32) t_rows+=("| $k | NVMe $what ≥ QEMU's (interval's upper end ≥ 1.0, lower end ≥ 0.95) | $(verdict_ge "$c"): $(fmt_ci "$c"), $(field "$c" 4) pairs |") ;;
		esac
	done
	echo
	echo "The ratio is the geometric mean of the pairs' hvmm/QEMU ratios; the interval is a" \
		"percentile bootstrap over the pairs (10000 resamples). Each pair is one L2 session" \
		"of each VMM back to back, every workload run once in each session."
	local retries
	retries=$(scen bench-nvme | sed -n 's/.*E2E-INFO bench-nvme session-retry //p')
	if [ -n "$retries" ]; then
		echo "L2 sessions that broke and were run again: $(echo "$retries" | paste -sd ';' -)."
	else
		echo "No L2 session had to be run again."
	fi
	echo
	# L1 KVM's counters around the workloads of each session, per I/O of all its workloads.
	echo "L1 KVM's counters during the reads (debugfs, summed over the sessions), per I/O:"
	echo
	echo "| per I/O | hvmm | QEMU |"
	echo "|---|---|---|"
	local st
	for st in exits mmio_exits io_exits irq_exits halt_exits irq_injections halt_successful_poll halt_attempted_poll halt_wakeup; do
		echo "| $st | $(kvm_per_io hvmm $st "$rr") | $(kvm_per_io qemu $st "$rr") |"
	done
	echo
	local pins
	pins=$(scen bench-nvme | sed -n 's/.*E2E-INFO bench-nvme pinned \(hvmm\|qemu\) 1 /\1: /p' | paste -sd ';' -)
	[ -z "$pins" ] || echo "Placement in the first pair (thread or interrupt=L1 CPU): $pins."
	echo
	# Doorbell traps: hvmm's counters before and after the reads of each session.
	local pages_before pages_after d
	counters() { scen bench-nvme | sed -n "s/.*E2E-INFO bench-nvme hvmm-counters-$1 [0-9]* //p"; }
	pgs() { grep -o 'BAR[0-5]+0x[0-9a-f]*:[0-9]*' || true; }
	d=$({ counters before | pgs | sed 's/^/- /'; counters after | pgs | sed 's/^/+ /'; } |
		awk '{ split($2, p, ":"); d[p[1]] += ($1 == "+" ? p[2] : -p[2]) }
		     END { for (x in d) t += d[x]; printf "%d %d", t, d["BAR0+0x1000"] }')
	local hv_ios
	hv_ios=$(awk '$1 == "hvmm" { for (i = 4; i <= NF; i++) if (index($i, "all_ios=") == 1) s += substr($i, 9) } END { print s + 0 }' "$rr")
	echo "hvmm's trapped BAR accesses during the reads ($hv_ios I/Os, warm-up included): doorbell page" \
		"(BAR0+0x1000) ${d#* }, all pages ${d% *}. Last hvmm session at exit: $(counters exit | tail -n1)"
	t_rows+=("| $k | zero VMM exits per NVMe doorbell write | $([ "${d#* }" = 0 ] && echo met || echo "NOT met"): ${d#* } doorbell-page traps in $hv_ios I/Os |")
	echo
	echo "Every run (place, pair.workload, IOPS, MB/s, p50 µs, p99 µs):"
	echo
	echo '```'
	awk '{ for (i = 4; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
	       printf "%-10s %-10s %9s %8s %8s %8s\n", $1, $2, v["iops"], v["mbps"], v["lat_us_p50"], v["lat_us_p99"] }' "$rr"
	echo '```'
	echo
}
# kvm_per_io VMM STAT RR: (sum over sessions of after - before) / the VMM's I/Os.
kvm_per_io() {
	local ios
	ios=$(awk -v p="$1" '$1 == p { for (i = 4; i <= NF; i++) if (index($i, "all_ios=") == 1) s += substr($i, 9) } END { print s + 0 }' "$3")
	scen bench-nvme | sed -n "s/.*E2E-INFO bench-nvme kvm-stats-\(before\|after\) $1 /\1 /p" |
		awk -v stat="$2" -v ios="$ios" '
			{ v = ""; for (i = 3; i <= NF; i++) if (index($i, stat "=") == 1) v = substr($i, length(stat) + 2)
			  if (v == "") bad = 1; d += ($1 == "after" ? v : -v) }
			END { if (!NR || !ios || bad) print "not measured"; else printf "%.3f\n", d / ios }'
}

# ---- bench-vfio-start ----------------------------------------------------------------------------
section_vstart() {
	local vs=$out/vstart-$k.txt
	scen bench-vfio-start | sed -n 's/.*E2E-INFO bench-vfio-start linux //p' >"$vs"
	# col VMM BACKING MIB KEY: the values of KEY over the rounds (failed runs left out)
	col() { awk -v v="$1" -v b="$2" -v m="$3" -v key="$4" '$1 == v && $2 == b && $3 == m {
		for (i = 5; i <= NF; i++) if (index($i, key "=") == 1) { x = substr($i, length(key) + 2); if (x !~ /^-/) print x } }' "$vs"; }
	local sizes backings
	sizes=$(awk '{ print $3 }' "$vs" | sort -n | uniq)
	backings=$(awk '{ print $2 }' "$vs" | awk '!s[$0]++')
	echo "#### VFIO start-up at scale: Linux in L2 with the NVMe assigned, from the VMM's exec"
	echo
	echo "Settings: $(info bench-vfio-start settings). L1: $(info bench-vfio-start l1)."
	echo
	echo "Seconds of L1's clock, median of the rounds (min-max). *First entry*: the VM's first instruction (L1 KVM's first kvm_entry; QEMU's is its firmware's), when its set-up is done: QEMU's pinning included, hvmm's not (hvmm pins while the guest boots). *RAM mapped*: all guest RAM pinned and mapped for DMA (hvmm: its -v line saying so; QEMU: its first entry, an upper bound). *L2 init*: the first line of L2's init. Memory of the VMM at L2 init, MiB (median): VmRSS / VmLck / HugetlbPages."
	echo
	echo "| guest RAM | backing | first entry: hvmm | QEMU | hvmm / QEMU | RAM mapped: hvmm | QEMU | hvmm / QEMU | L2 init: hvmm | QEMU | hvmm / QEMU | hvmm memory | QEMU memory |"
	echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	local mib b
	for mib in $sizes; do
		for b in $backings; do
			local hf qf hd qd hl ql
			hf=$(stats $(col hvmm "$b" "$mib" first)); qf=$(stats $(col qemu "$b" "$mib" first))
			hd=$(stats $(col hvmm "$b" "$mib" dma)); qd=$(stats $(col qemu "$b" "$mib" dma))
			hl=$(stats $(col hvmm "$b" "$mib" secs)); ql=$(stats $(col qemu "$b" "$mib" secs))
			cell() { [ "$(field "$1" 4)" = 0 ] && { echo "-"; return; }; echo "$(field "$1" 2) ($(field "$1" 1)-$(field "$1" 3))"; }
			rat() { awk -v a="$(field "$1" 2)" -v b="$(field "$2" 2)" 'BEGIN { if (a == "-" || b == "-" || !b) print "-"; else printf "%.2f\n", a / b }'; }
			mem() { # VMM
				local r l h
				r=$(median_of $(col "$1" "$b" "$mib" rss_kb)); l=$(median_of $(col "$1" "$b" "$mib" lck_kb))
				h=$(median_of $(col "$1" "$b" "$mib" huge_kb))
				awk -v r="$r" -v l="$l" -v h="$h" 'BEGIN { if (r == "-") { print "-"; exit }
					printf "%.0f / %.0f / %.0f\n", r / 1024, l / 1024, (h < 0 ? 0 : h / 1024) }'
			}
			echo "| $((mib / 1024)) GiB | $b | $(cell "$hf") | $(cell "$qf") | $(rat "$hf" "$qf") | $(cell "$hd") | $(cell "$qd") | $(rat "$hd" "$qd") | $(cell "$hl") | $(cell "$ql") | $(rat "$hl" "$ql") | $(mem hvmm) | $(mem qemu) |"
			V["$mib.$b.hf"]=$(field "$hf" 2); V["$mib.$b.qf"]=$(field "$qf" 2)
			V["$mib.$b.hd"]=$(field "$hd" 2); V["$mib.$b.qd"]=$(field "$qd" 2)
			V["$mib.$b.hl"]=$(field "$hl" 2); V["$mib.$b.ql"]=$(field "$ql" 2)
		done
	done
	echo
	local big
	big=$(echo "$sizes" | tail -n1)
	le() { awk -v a="$1" -v b="$2" -v f="${3:-1}" 'BEGIN { if (a == "" || b == "" || a == "-" || b == "-") print "not measured"; else print (a <= f * b) ? "met" : "NOT met" }'; }
	t_rows+=("| $k | VFIO start-up with $((big / 1024)) GiB ≤ QEMU's (default backings, medians) | first entry $(le "${V[$big.anon.hf]:-}" "${V[$big.anon.qf]:-}"): ${V[$big.anon.hf]:--} s vs ${V[$big.anon.qf]:--} s; L2 init $(le "${V[$big.anon.hl]:-}" "${V[$big.anon.ql]:-}"): ${V[$big.anon.hl]:--} s vs ${V[$big.anon.ql]:--} s; RAM mapped $(le "${V[$big.anon.hd]:-}" "${V[$big.anon.qd]:-}"): ${V[$big.anon.hd]:--} s vs ${V[$big.anon.qd]:--} s |")
	t_rows+=("| $k | hvmm start-up with $((big / 1024)) GiB in huge pages ≤ half of 4 KiB pages (hugetlb vs memfd, RAM mapped, medians) | $(le "${V[$big.hugetlb.hd]:-}" "${V[$big.memfd.hd]:-}" 0.5): ${V[$big.hugetlb.hd]:--} s vs ${V[$big.memfd.hd]:--} s (anon with L1's THP: ${V[$big.anon.hd]:--} s) |")
	echo "Every run (VMM, backing, MiB, round, then the first entry and l2stamp's line):"
	echo
	echo '```'
	cat "$vs"
	echo '```'
	echo
}

# ---- run the rig for each kernel, then write the sections ------------------------------------------
declare -A V
for k in $kernels; do
	combo=$k/6.1
	markers=$out/markers-$k.log
	load_before=$(cut -d' ' -f1-3 /proc/loadavg)
	t_start=$EPOCHREALTIME
	rig_rc=0
	if [ "${BENCH_NESTED_REPORT_ONLY:-0}" != 1 ]; then
		echo "bench-nested: L1 $k: rig run with $scenarios; log in $out/rig-$k.log"
		set +e
		E2E_TIMEOUT=$timeout_total E2E_BUILD_DIR=$e2e HVMM=$hvmm SCENARIOS="$scenarios" \
			E2E_COMBOS=$combo E2E_EXTRA_BINS="$tools" "$root/tests/e2e/run" 2>&1 |
			tee "$out/rig-$k.log" |
			grep -a --line-buffered -E 'E2E-(BEGIN|RESULT|DONE)|ERROR|FAILED|L1 died|L1 once more'
		rig_rc=${PIPESTATUS[0]}
		set -e
		cp "$e2e/markers.log" "$markers"
		cp "$e2e/rerun.txt" "$out/rerun-$k.txt" 2>/dev/null || : >"$out/rerun-$k.txt"
	fi
	[ -f "$markers" ] || { echo "bench-nested: no markers for L1 $k" >&2; continue; }
	wall=$(awk -v a="$t_start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }')
	load_after=$(cut -d' ' -f1-3 /proc/loadavg)
	l1=$(sed -n 's/.*E2E-L1-INIT uptime=[0-9.]* kernel=//p' "$markers" | head -n1)
	for s in $scenarios; do
		sec=$out/section-$k-$s.md
		if ! grep -q "E2E-RESULT $s PASS" "$markers"; then
			echo "bench-nested: L1 $k: $s did not pass (rig status $rig_rc); its section is not rewritten" >&2
			rm -f "$sec"
			continue
		fi
		t_rows=()
		{
			echo "- when: $(date -u '+%Y-%m-%d %H:%M UTC'); hvmm $commit (static build); $(info "$s" qemu-version)"
			echo "- L1: Debian $l1 in QEMU-TCG (EPYC + SVM, 2 vCPUs, $E2E_L1_MEM, intel-iommu, emulated NVMe 1b36:0010 on a 64 MiB file); L2: Debian 6.1"
			echo "- host: $(nproc) CPUs, $(uname -r), load average $load_before before the rig run, $load_after after; rig run ${wall} s for: $scenarios"
			[ ! -s "$out/rerun-$k.txt" ] || echo "- L1 died ($(sed -n 1p "$out/rerun-$k.txt")) and was booted again for: $(sed -n 2p "$out/rerun-$k.txt")"
			echo
			case $s in
				bench-boot) section_boot ;;
				bench-nvme) section_nvme ;;
				bench-vfio-start) section_vstart ;;
			esac
			echo "Targets judged in this section:"
			echo
			echo "| L1 | target | result |"
			echo "|---|---|---|"
			printf '%s\n' "${t_rows[@]}"
		} >"$sec.body"
		{
			echo "<!-- section $k $s -->"
			echo "### $s, L1 $k"
			echo
			cat "$sec.body"
			echo
			echo "<!-- end $k $s -->"
		} >"$sec"
		rm -f "$sec.body"
	done
done

# ---- results.md: the sections measured now replace their old selves ------------------------------
new=$out/results.md
old_sections=$out/old-sections.md
[ -f "$results" ] && cp "$results" "$old_sections" || : >"$old_sections"
section_of() { # KERNEL SCENARIO: the fresh section, else the one in the old results.md
	local f=$out/section-$1-$2.md
	if [ -s "$f" ] && [ "${fresh[$1]:-0}" = 1 ]; then cat "$f"; return; fi
	awk -v b="<!-- section $1 $2 -->" -v e="<!-- end $1 $2 -->" '$0 == b { on = 1 } on { print } $0 == e { on = 0 }' "$old_sections"
}
declare -A fresh
for k in $kernels; do fresh[$k]=1; done
body=$out/sections.md
: >"$body"
for k in 6.1 7.3; do
	for s in bench-boot bench-nvme bench-vfio-start; do
		section_of "$k" "$s" >>"$body"
	done
done
{
	echo "# Nested benchmarks: hvmm vs QEMU in L2, with VFIO passthrough of an NVMe"
	echo
	echo "Written by \`make bench-nested\` (bench/nested/run.sh); the method is below the tables."
	echo "Each section says when and on which L1 kernel it was measured."
	echo
	echo "## Targets"
	echo
	echo "| L1 | target | result |"
	echo "|---|---|---|"
	grep -E '^\| (6\.1|7\.3) \| ' "$body" || true
	echo
	echo "## Measurements"
	echo
	cat "$body"
	sed -n '/^## Method/,$p' "$here/method.md"
} >"$new"
cp "$new" "$results"
echo
sed -n '/^## Targets/,/^## Measurements/p' "$results" | sed '$d'
echo "bench-nested: written to $results"
