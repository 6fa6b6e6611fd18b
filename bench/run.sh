#!/usr/bin/env bash
# make bench: hvmm measured against QEMU in the same run, on the same guest program.
#
#   bash bench/run.sh BUILD_DIR      (make bench builds what it needs first)
#
# Prints a table and writes it, with the method, to bench/results.md.
#
# Why it is built this way:
# - The build machines are shared and noisy, so every wall-clock figure is paired with QEMU
#   measured in the same run, the two VMMs' runs interleaved, and reported as min, median
#   and a ratio.  Instruction counts come from callgrind, which repeats to a few parts in a
#   million, so those are the figures to compare across commits.
# - Both VMMs run one guest program (bench/guest/bench.c) that talks only through devices
#   both have (COM1, the power-off ports), so neither gets a bench-only shortcut.
# - Nothing is estimated: a figure that could not be measured says so.
#
# Knobs (environment): BENCH_RUNS (start-up runs per VMM, 25), BENCH_EXITS (exits per
# wall-time run, 20000), BENCH_WALL_RUNS (runs per exit kind, 5), BENCH_CG_EXITS (exits per
# callgrind run, 10000), BENCH_IRQS (MSIs, 1000), BENCH_SERIAL (console bytes, 4096),
# BENCH_NO_ASLR (1: VMMs without address-space randomization), BENCH_RESULTS (where the table goes,
# bench/results.md), BENCH_WHERE (a line saying where it was measured, when that is not this
# machine), BENCH_VERSION (hvmm's version, when git cannot tell).
#
#   bash bench/run.sh --install    only installs what it needs (QEMU, valgrind, strace)
#
# make bench on a machine without /dev/kvm runs this script inside the nested host, on L1's
# real KVM, in the build machine's own root (tests/e2e/scenarios/bench-kvm.sh).
set -euo pipefail

install_only=0
if [ "${1:-}" = --install ]; then install_only=1; shift; fi
build=${1:-build/release}
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cd "$root"

runs=${BENCH_RUNS:-25}
exits=${BENCH_EXITS:-20000}
cg_exits=${BENCH_CG_EXITS:-10000}
irqs=${BENCH_IRQS:-1000}
serial_bytes=${BENCH_SERIAL:-4096}
wall_runs=${BENCH_WALL_RUNS:-5}
mem_mib=64
# BENCH_NO_ASLR=1: the VMMs run without address-space randomization (bench/probe.c -R says
# why: the nested host's emulator translates code per virtual address).
probe_aslr=
[ "${BENCH_NO_ASLR:-0}" = 1 ] && probe_aslr=-R

hvmm=$build/hvmm
elf=$build/bench/bench.elf
probe=$build/bench/probe
irqbench=$build/bench/irqbench
pairci=$build/bench/pairci
results=${BENCH_RESULTS:-bench/results.md}
version=${BENCH_VERSION:-$(git -C "$root" describe --always --dirty 2>/dev/null || echo '?')}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# ---- what the benchmark needs: QEMU (the peer), valgrind and strace (counts that repeat) ----
missing=""
for p in qemu-system-x86 valgrind strace; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "bench: installing$missing"
	if [ "$(id -u)" != 0 ]; then
		echo "bench: run as root, or: apt-get install$missing" >&2
		exit 1
	fi
	{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends $missing; } >"$tmp/apt.log" 2>&1 || {
		tail -20 "$tmp/apt.log" >&2
		exit 1
	}
fi
[ "$install_only" = 0 ] || exit 0
for f in "$hvmm" "$elf" "$probe" "$irqbench" "$pairci"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "bench: $f is missing; run make bench" >&2; exit 1; }
done

# ---- the two VMMs, the same guest, the same RAM ------------------------------------------
# QEMU: the command the issue names, plus COM1 on stdout (as hvmm's --serial stdio) and
# isa-debug-exit so the guest can end it.  For exit costs QEMU runs with the split irqchip,
# the configuration hvmm always uses, so its IOAPIC (the MMIO target) is in userspace too.
qemu_cmd=(qemu-system-x86_64 -accel kvm -M microvm -nodefaults -no-user-config -nographic
	-m ${mem_mib}M -serial stdio -device isa-debug-exit,iobase=0x501,iosize=1 -kernel "$elf")
qemu_split=(qemu-system-x86_64 -accel kvm -M microvm,kernel-irqchip=split -nodefaults
	-no-user-config -nographic -m ${mem_mib}M -serial stdio
	-device isa-debug-exit,iobase=0x501,iosize=1 -kernel "$elf")
hvmm_cmd=("$hvmm" --memory ${mem_mib}M --serial stdio --kernel "$elf")
hvmm_ok=0 # exit status of a guest that powered off
qemu_ok=1 # isa-debug-exit: (0 << 1) | 1

# value KEY LINE: the number after KEY= in a probe/irqbench line.
value() { sed -n "s/.*\\b$1=\\(-\\?[0-9]*\\).*/\\1/p" <<<"$2"; }
# min and median of numbers on stdin, one per line.
minmed() { sort -n | awk '{ v[NR] = $1 } END { if (!NR) { print "- -"; exit }
	m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; print v[1], m }'; }
# fmt SCALE VALUE: VALUE / SCALE with 3 significant-ish digits; "-" stays "-".
fmt() { awk -v s="$1" -v v="$2" 'BEGIN { if (v !~ /^-?[0-9.]+$/) { print "-"; exit }
	x = v / s; if (x >= 100) printf "%.0f\n", x; else if (x >= 10) printf "%.1f\n", x;
	else printf "%.2f\n", x }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b == 0) print "-";
	else printf "%.3f\n", a / b }'; }

# run_probe NAME EXPECTED_STATUS [probe options --] COMMAND...: one probe line, checked.
run_probe() {
	local name=$1 want=$2 line st
	shift 2
	line=$("$probe" -e "$tmp/$name.stderr" -m $mem_mib $probe_aslr "$@") || true
	st=$(value status "$line")
	if [ "$st" != "$want" ] && [ "$st" != 143 ]; then
		echo "bench: $name ended with status ${st:-?} (expected $want); stderr:" >&2
		tail -5 "$tmp/$name.stderr" >&2 || true
		return 1
	fi
	printf '%s\n' "$line"
}

declare -A R # results, by name

echo "bench: hvmm $version vs" \
	"$(qemu-system-x86_64 --version | head -1)"
if [ ! -c /dev/kvm ]; then
	echo "bench: no /dev/kvm here: nothing can be measured" >&2
	exit 1
fi

# ---- 1. start-up -----------------------------------------------------------------------
# Runs interleaved, so load that comes and goes hits both VMMs alike.
echo "bench: start-up, $runs runs each"
for f in first exit cpu_us; do : >"$tmp/h.$f"; : >"$tmp/q.$f"; done
for ((i = 0; i < runs; i++)); do
	l=$(run_probe hvmm-boot $hvmm_ok -- "${hvmm_cmd[@]}" --cmdline boot)
	for f in first exit cpu_us; do value $f "$l" >>"$tmp/h.$f"; done
	l=$(run_probe qemu-boot $qemu_ok -- "${qemu_cmd[@]}" -append boot)
	for f in first exit cpu_us; do value $f "$l" >>"$tmp/q.$f"; done
done
for k in h.first h.exit h.cpu_us q.first q.exit q.cpu_us; do
	read -r R[$k.min] R[$k.med] <<<"$(minmed <"$tmp/$k")"
done
# Run i of hvmm and run i of QEMU ran one right after the other: a pair.  The ratio is the
# geometric mean of the pairs' ratios, with its 95% percentile-bootstrap interval.
for f in first exit cpu_us; do
	R[ci.$f]=$(paste -d' ' "$tmp/h.$f" "$tmp/q.$f" | "$pairci" |
		awk '{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
		       printf "%.3f [%.3f, %.3f]\n", v["gmean"], v["lo"], v["hi"] }') || R[ci.$f]="-"
	R[hi.$f]=$(sed -n 's/.*, \([0-9.]*\)\]/\1/p' <<<"${R[ci.$f]}")
done

# System calls of one whole boot run: a count that repeats, unlike the wall times above, and
# shows the kernel work (KVM ioctls) that callgrind cannot see.
strace_calls() { # NAME COMMAND...: total system calls of all threads
	local name=$1
	shift
	strace -f -c -o "$tmp/$name.strace" "$@" </dev/null >/dev/null 2>&1 || true
	awk '$NF == "total" { print $4 }' "$tmp/$name.strace"
}
R[h.sys]=$(strace_calls hvmm-sys "${hvmm_cmd[@]}" --cmdline boot)
R[q.sys]=$(strace_calls qemu-sys "${qemu_cmd[@]}" -append boot)
grep -E 'ioctl|futex|write|total' "$tmp/hvmm-sys.strace" >"$tmp/hvmm-sys.top" || true

# ---- 2. exit cost: wall time ------------------------------------------------------------
# The guest marks the start and end of N exits on the console; (end - begin) / N leaves
# start-up and teardown out.
echo "bench: exit wall time, $wall_runs runs of $exits exits each"
for kind in pio mmio serial; do
	n=$exits
	[ $kind = serial ] && n=$serial_bytes
	: >"$tmp/h.$kind"; : >"$tmp/q.$kind"
	for ((i = 0; i < wall_runs; i++)); do
		l=$(run_probe hvmm-$kind $hvmm_ok -- "${hvmm_cmd[@]}" --cmdline "$kind $n")
		echo $(( ($(value end "$l") - $(value begin "$l")) / n )) >>"$tmp/h.$kind"
		l=$(run_probe qemu-$kind $qemu_ok -- "${qemu_split[@]}" -append "$kind $n")
		echo $(( ($(value end "$l") - $(value begin "$l")) / n )) >>"$tmp/q.$kind"
	done
	read -r R[h.$kind.min] R[h.$kind.med] <<<"$(minmed <"$tmp/h.$kind")"
	read -r R[q.$kind.min] R[q.$kind.med] <<<"$(minmed <"$tmp/q.$kind")"
done

# ---- 2b. exit cost: userspace instructions (callgrind) -----------------------------------
# Whole-process instruction totals of a run with N exits minus a run with none, over N: the
# VMM's userspace work per exit, every thread and library included.  The kernel's share
# (KVM's exit handling) is the same for both VMMs and invisible to callgrind.
cg_total() { # NAME EXPECTED_STATUS COMMAND...: callgrind's instruction total for one run
	local name=$1 want=$2 rc=0
	shift 2
	valgrind --tool=callgrind --callgrind-out-file="$tmp/$name.cg" "$@" \
		</dev/null >"$tmp/$name.cg.out" 2>"$tmp/$name.cg.stderr" || rc=$?
	# A run that did not end the way the guest ends it measured something else: say so.
	if [ "$rc" != "$want" ] || ! grep -q '!' "$tmp/$name.cg.out"; then
		echo "bench: callgrind run $name ended with status $rc (expected $want):" >&2
		grep -v '^==' "$tmp/$name.cg.stderr" | tail -3 >&2
		echo failed
		return
	fi
	sed -n 's/^summary: //p' "$tmp/$name.cg"
}
cg_per() { # TOTAL_N TOTAL_0 N: instructions per exit, or "failed"
	case "$1$2" in *failed*) echo failed; return ;; esac
	awk -v a="$1" -v b="$2" -v n="$3" 'BEGIN { printf "%.0f", (a - b) / n }'
}
# valgrind does not implement seccomp(2), so hvmm runs without its filters here; installing
# them is start-up work, and a filter costs no userspace instruction per exit.
hvmm_cg=("$hvmm" --seccomp off --memory ${mem_mib}M --serial stdio --kernel "$elf")
echo "bench: callgrind, $cg_exits exits per run"
for kind in pio mmio serial; do
	n=$cg_exits
	[ $kind = serial ] && n=$serial_bytes
	h0=$(cg_total h-$kind-0 $hvmm_ok "${hvmm_cg[@]}" --cmdline "$kind 0")
	h1=$(cg_total h-$kind-n $hvmm_ok "${hvmm_cg[@]}" --cmdline "$kind $n")
	q0=$(cg_total q-$kind-0 $qemu_ok "${qemu_split[@]}" -append "$kind 0")
	q1=$(cg_total q-$kind-n $qemu_ok "${qemu_split[@]}" -append "$kind $n")
	R[h.cg.$kind]=$(cg_per "$h1" "$h0" $n)
	R[q.cg.$kind]=$(cg_per "$q1" "$q0" $n)
	[ $kind = pio ] && R[h.cg.base]=$h0 && R[q.cg.base]=$q0
done
# Where hvmm's per-exit instructions go, for the record (top functions of the PIO run).
if command -v callgrind_annotate >/dev/null; then
	callgrind_annotate --auto=no --threshold=95 "$tmp/h-pio-n.cg" 2>/dev/null |
		grep -E '^ *[0-9,]+ .*(PROGRAM TOTALS|:.*\[)' | sed "s|$root/||g" |
		head -14 >"$tmp/h-pio.top" || true
fi

# ---- 3. interrupt path -----------------------------------------------------------------
echo "bench: $irqs MSIs through an irqfd"
for mode in irq irqhlt; do
	R[irq.$mode]=$("$irqbench" "$elf" "$irqs" $mode 2>"$tmp/irq-$mode.stderr") || {
		echo "bench: irqbench $mode failed:" >&2
		tail -5 "$tmp/irq-$mode.stderr" >&2
		R[irq.$mode]=""
	}
done
per_irq() { # MODE FIELD: (irq - base) / N for one irqbench counter
	local l=${R[irq.$1]}
	[ -n "$l" ] || { echo "-"; return; }
	awk -v a="$(value irq_$2 "$l")" -v b="$(value base_$2 "$l")" -v n="$(value n "$l")" \
		'BEGIN { printf "%.3f\n", (a - b) / n }'
}

# ---- 4. memory -----------------------------------------------------------------------------
# The guest holds still after start-up; probe reads /proc/PID/status and smaps then.
echo "bench: memory"
for vmm in h q; do
	if [ $vmm = h ]; then
		l=$(run_probe hvmm-hold 143 -- "${hvmm_cmd[@]}" --cmdline hold)
	else
		l=$(run_probe qemu-hold 0 -- "${qemu_cmd[@]}" -append hold)
	fi
	for k in rss_kb anon_kb file_kb shmem_kb ram_rss_kb; do
		R[$vmm.$k]=$(value $k "$l")
	done
	R[$vmm.beyond]=$(( ${R[$vmm.rss_kb]} - ${R[$vmm.ram_rss_kb]} ))
done

# ---- 5. nested (L2 boot, NVMe passthrough): only inside the e2e rig -------------------------
# A real Linux guest and real VFIO need hardware virtualization and an IOMMU, which only the
# nested QEMU-TCG rig has; a run takes some 10 minutes, so make bench quotes the targets of
# the last make bench-nested (bench/nested/results.md, with its date) instead of starting one.
nested_md=bench/nested/results.md
nested_rows=""
if [ -f "$nested_md" ]; then
	# The targets table of the last make bench-nested: "| L1 | target | result |" rows.
	nested_rows=$(sed -n '/^## Targets/,/^## Measurements/p' "$nested_md" |
		grep -E '^\| (6\.1|7\.3) \| ' |
		awk -F'|' '{ gsub(/^ +| +$/, "", $2); gsub(/^ +| +$/, "", $3); gsub(/^ +| +$/, "", $4)
		             printf "| nested, L1 %s: %s | | | | %s |\n", $2, $3, $4 }') ||
		nested_rows="" # a results.md from before the per-kernel targets table has none
fi

# ---- the table -------------------------------------------------------------------------------
ms() { fmt 1000000 "$1"; }
us() { fmt 1000 "$1"; }
mib() { fmt 1024 "$1"; }
target() { # VALUE OP LIMIT: "met" or "not met"
	awk -v v="$1" -v l="$3" -v op="$2" 'BEGIN { if (v !~ /^-?[0-9.]+$/) { print "?"; exit }
		ok = (op == "<=") ? (v <= l) : (v == l); print ok ? "met" : "NOT met" }'
}
loop_w=$(per_irq irq loop_wake)
ret_w=$(per_irq irq vcpu_returns)
hlt_loop=$(per_irq irqhlt loop_wake)
hlt_ret=$(per_irq irqhlt vcpu_returns)
hlt_vcpu=$(per_irq irqhlt vcpu_wake)

{
	echo "| figure | hvmm | QEMU | hvmm / QEMU (pairs: geometric mean [95% interval]) | target |"
	echo "|---|---|---|---|---|"
	echo "| start-up to first guest instruction, ms (min / median of $runs pairs) |" \
		"$(ms "${R[h.first.min]}") / $(ms "${R[h.first.med]}") |" \
		"$(ms "${R[q.first.min]}") / $(ms "${R[q.first.med]}") | ${R[ci.first]} |" \
		"<= 0.1: $(target "${R[hi.first]}" '<=' 0.1) |"
	echo "| start-up to guest done (process exit), ms (min / median of $runs pairs) |" \
		"$(ms "${R[h.exit.min]}") / $(ms "${R[h.exit.med]}") |" \
		"$(ms "${R[q.exit.min]}") / $(ms "${R[q.exit.med]}") | ${R[ci.exit]} |" \
		"<= 0.05: $(target "${R[hi.exit]}" '<=' 0.05) |"
	echo "| CPU time of the VMM process (user + system), whole boot run, ms (min / median of $runs pairs) |" \
		"$(ms $(( ${R[h.cpu_us.min]} * 1000 ))) / $(ms $(( ${R[h.cpu_us.med]%.*} * 1000 ))) |" \
		"$(ms $(( ${R[q.cpu_us.min]} * 1000 ))) / $(ms $(( ${R[q.cpu_us.med]%.*} * 1000 ))) |" \
		"${R[ci.cpu_us]} | <= 0.05: $(target "${R[hi.cpu_us]}" '<=' 0.05) |"
	echo "| system calls, whole boot run (strace -f -c) | ${R[h.sys]} | ${R[q.sys]} |" \
		"$(ratio "${R[h.sys]}" "${R[q.sys]}") | |"
	for kind in pio mmio serial; do
		case $kind in
		pio) what="port-I/O exit (COM1 scratch read), wall µs" ;;
		mmio) what="MMIO exit (IOAPIC index read), wall µs" ;;
		serial) what="console byte (LSR poll + THR write), wall µs" ;;
		esac
		echo "| $what (min / median of $wall_runs) |" \
			"$(us "${R[h.$kind.min]}") / $(us "${R[h.$kind.med]}") |" \
			"$(us "${R[q.$kind.min]}") / $(us "${R[q.$kind.med]}") |" \
			"$(ratio "${R[h.$kind.med]}" "${R[q.$kind.med]}") | |"
	done
	for kind in pio mmio serial; do
		case $kind in
		pio) what="port-I/O exit" ;;
		mmio) what="MMIO exit" ;;
		serial) what="console byte" ;;
		esac
		echo "| userspace instructions per $what (callgrind) | ${R[h.cg.$kind]} |" \
			"${R[q.cg.$kind]} | $(ratio "${R[h.cg.$kind]}" "${R[q.cg.$kind]}") | |"
	done
	echo "| userspace instructions, whole run of the guest with 0 exits (callgrind) |" \
		"${R[h.cg.base]} | ${R[q.cg.base]} | $(ratio "${R[h.cg.base]}" "${R[q.cg.base]}") | |"
	echo "| wake-ups of hvmm's other threads (event loop, main) per irqfd MSI (guest spinning) | $loop_w |" \
		"not measured | | 0: $(target "$loop_w" == 0) |"
	echo "| returns to hvmm code on the vCPU thread per irqfd MSI (guest spinning) | $ret_w |" \
		"not measured | | 0: $(target "$ret_w" == 0) |"
	echo "| other-thread wake-ups / vCPU returns to hvmm per irqfd MSI (guest in hlt) |" \
		"$hlt_loop / $hlt_ret | not measured | | 0: $(target "$hlt_loop" == 0)," \
		"$(target "$hlt_ret" == 0) |"
	echo "| vCPU thread woken inside KVM_RUN per MSI (guest in hlt; kernel, not hvmm) |" \
		"$hlt_vcpu | not measured | | |"
	echo "| VMM RSS beyond guest RAM, MiB | $(mib "${R[h.beyond]}") |" \
		"$(mib "${R[q.beyond]}") | $(ratio "${R[h.beyond]}" "${R[q.beyond]}") |" \
		"<= 2 MiB: $(target "$(mib "${R[h.beyond]}")" '<=' 2) |"
	echo "| VmRSS (RssAnon + RssFile + RssShmem), guest RAM resident, KiB |" \
		"${R[h.rss_kb]} (${R[h.anon_kb]} + ${R[h.file_kb]} + ${R[h.shmem_kb]}), ${R[h.ram_rss_kb]} |" \
		"${R[q.rss_kb]} (${R[q.anon_kb]} + ${R[q.file_kb]} + ${R[q.shmem_kb]}), ${R[q.ram_rss_kb]} | | |"
	if [ -n "$nested_rows" ]; then
		printf '%s\n' "$nested_rows"
	else
		echo "| nested (L2 boot, NVMe passthrough, VFIO start-up) | not measured: run make bench-nested | | | |"
	fi
} >"$tmp/table.md"

{
	echo "# hvmm benchmarks"
	echo
	echo "Written by \`make bench\` (bench/run.sh); the method is below the table."
	echo
	echo "- when: $(date -u '+%Y-%m-%d %H:%M UTC'); hvmm $version"
	echo "- peer: $(qemu-system-x86_64 --version | head -1)"
	echo "- host: $(nproc) CPUs, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
	[ -z "${BENCH_WHERE:-}" ] || echo "- where: $BENCH_WHERE"
	echo "- guest: bench/guest/bench.c, ${mem_mib} MiB RAM, 1 vCPU, on both VMMs"
	echo
	cat "$tmp/table.md"
	echo
	if [ -s "$tmp/h-pio.top" ]; then
		echo "hvmm's instructions in the callgrind run with $cg_exits port-I/O exits, by function:"
		echo
		echo '```'
		cat "$tmp/h-pio.top"
		echo '```'
		echo
	fi
	echo "irqbench lines (per phase, counts over the whole phase):"
	echo
	echo '```'
	echo "irq:    ${R[irq.irq]}"
	echo "irqhlt: ${R[irq.irqhlt]}"
	echo '```'
	echo
	cat bench/method.md
} >"$results"

echo
cat "$tmp/table.md"
echo
echo "bench: written to $results"
