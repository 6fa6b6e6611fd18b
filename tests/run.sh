#!/usr/bin/env bash
# Runs every test program of a build and sums their TAP output (tests/tap.awk counts it).
# Usage: tests/run.sh BUILD_DIR.  The last line is "N passed, N failed, N skipped".
# Before the build's programs it runs tests/tap_selftest.sh, which checks this counting
# on sample output; HVMM_TAP_SELFTEST=0 leaves it out (the self-test itself sets it).
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build/release}
pass=0 fail=0 skip=0
skipped_lines=()
failed_lines=()

run_tap() { # name, command...
	local name=$1 out rc kind rest p f s
	shift
	out=$("$@" 2>&1)
	rc=$?
	printf '%s\n' "$out" | sed "s|^|[$name] |"
	while read -r kind rest; do
		case $kind in
		COUNT)
			read -r p f s <<<"$rest"
			pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
			;;
		SKIP) skipped_lines+=("$rest") ;;
		FAIL) failed_lines+=("$rest") ;;
		esac
	done < <(printf '%s\n' "$out" | awk -v name="$name" -v rc="$rc" -f "$here/tap.awk")
}

if [ "${HVMM_TAP_SELFTEST:-1}" = 1 ]; then
	run_tap selftest/tap bash "$here/tap_selftest.sh"
fi
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
