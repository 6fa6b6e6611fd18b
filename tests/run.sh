#!/usr/bin/env bash
# Runs every test program of a build and sums their TAP output.
# Usage: tests/run.sh BUILD_DIR.  The last line is "N passed, N failed, N skipped".
set -u
build=${1:-build/release}
pass=0 fail=0 skip=0
skipped_lines=()
failed_lines=()

run_tap() { # name, command...
	local name=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s|^|[$name] |"
	local p f s
	p=$(grep -Ec '^ok [0-9]+' <<<"$out" || true)
	s=$(grep -Eic '^ok [0-9]+.*# skip' <<<"$out" || true)
	f=$(grep -Ec '^not ok [0-9]+' <<<"$out" || true)
	p=$((p - s))
	while IFS= read -r l; do [ -n "$l" ] && skipped_lines+=("[$name] $l"); done \
		< <(grep -Ei '^ok [0-9]+.*# skip' <<<"$out" || true)
	while IFS= read -r l; do [ -n "$l" ] && failed_lines+=("[$name] $l"); done \
		< <(grep -E '^not ok [0-9]+' <<<"$out" || true)
	# A program that died without reporting every test counts as one failure.
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		failed_lines+=("[$name] exited with status $rc without a failing test line")
	fi
	pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
}

export CMOCKA_MESSAGE_OUTPUT=TAP
for t in "$build"/tests/unit/test_*; do
	[ -x "$t" ] || continue
	run_tap "unit/$(basename "$t")" "$t"
done
# Fuzz targets replaying their committed corpora (tests/fuzz/README.md).
for t in "$build"/tests/fuzz/replay_*; do
	[ -x "$t" ] || continue
	run_tap "fuzz/$(basename "$t")" "$t"
done
run_tap guest "$build/tests/guest-runner" "$build/guest"

echo
if [ ${#skipped_lines[@]} -gt 0 ]; then
	echo "skipped:"
	printf '  %s\n' "${skipped_lines[@]}"
fi
if [ ${#failed_lines[@]} -gt 0 ]; then
	echo "failed:"
	printf '  %s\n' "${failed_lines[@]}"
fi
echo "$pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ]
