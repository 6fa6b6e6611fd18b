#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a fixed time and tabulates the outcome.
# Usage: tests/fuzz/run.sh BUILD_DIR SECONDS NAME...   (make fuzz FUZZ_SECONDS=N calls it)
#
# Each target starts from a copy of its committed corpus in BUILD_DIR/corpus/NAME (new
# inputs land there, not in the source tree) and writes a crashing input, with its log, to
# BUILD_DIR/crashes/NAME/.  Exit status 1 if any target found something.
set -u
build=$1 secs=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
found=0
rows=()

for name in "$@"; do
	bin=$build/fuzz_$name corpus=$build/corpus/$name crashes=$build/crashes/$name
	log=$build/logs/$name.log
	mkdir -p "$corpus" "$crashes" "$build/logs"
	cp -n "$src/corpus/$name/"* "$corpus/" 2>/dev/null || true
	echo "fuzz: $name for ${secs}s" >&2
	# close_fd_mask=3 drops the product's own log lines; libFuzzer keeps its output and the
	# sanitizers' reports on a copy of stderr.  A 10 s timeout turns a hang into a finding.
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-close_fd_mask=3 -artifact_prefix="$crashes/" "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	stats=$(grep -E '^#[0-9]+' "$log" | tail -n1)
	cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$stats")
	ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$stats")
	corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$stats")
	if [ "$rc" -eq 0 ]; then
		result=ok
	else
		found=1
		artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
		result="FOUND (exit $rc) ${artifact:-see $log}"
		[ -n "$artifact" ] && cp "$log" "$artifact.log"
	fi
	rows+=("$(printf '%-12s %12s %8s %8s %8s  %s' "$name" "${runs:--}" "${cov:--}" \
		"${ft:--}" "${corp:--}" "$result")")
done

echo
printf '%-12s %12s %8s %8s %8s  %s\n' target runs cov ft corpus result
for r in "${rows[@]}"; do
	echo "$r"
done
if [ "$found" -ne 0 ]; then
	echo "fuzz: findings above; tests/fuzz/README.md says how to turn one into a test"
	exit 1
fi
