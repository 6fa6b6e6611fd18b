#!/usr/bin/env bash
# Self-test of tests/run.sh's TAP counting: a fake build directory whose "test programs"
# print sample TAP -- passes, a failure, both forms of skip, a skip without a reason, a
# program that crashes after reporting a pass -- is run through tests/run.sh, and its
# totals and listed lines are checked.  Prints TAP itself.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=$(mktemp -d /tmp/hvmm-tap-selftest-XXXXXX)
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/tests/unit" "$dir/tests/fuzz" "$dir/guest"

prog() { # path, body
	printf '#!/bin/sh\n%s\n' "$2" > "$1"
	chmod +x "$1"
}
# cmocka's TAP: a pass, a failure, a skip with its reason on the line before.
prog "$dir/tests/unit/test_cmocka" 'cat <<T
1..3
ok 1 - test_passes
not ok 2 - test_fails
# skip: no usable /dev/kvm on this host
not ok 3 # SKIP test_needs_kvm
# ok - group
T
exit 1'
# A cmocka skip with no reason before it is a failure.
prog "$dir/tests/unit/test_silent_skip" 'printf "1..2\nok 1 - a\nnot ok 2 # SKIP test_b\n"'
# Two passes, then death by a signal without a failing line: one failure.
prog "$dir/tests/unit/test_crash" 'printf "1..3\nok 1 - a\nok 2 - b\n"; kill -SEGV $$'
# A replay program that passes.
prog "$dir/tests/fuzz/replay_x" 'printf "1..1\nok 1 - replay x\n"'
# The guest runner's form: skips with the reason after the directive, one without.
prog "$dir/tests/guest-runner" 'cat <<T
TAP version 13
1..4
ok 1 - guest/a [kvm] (0.01 s)
ok 2 - guest/a [mshv] # SKIP no /dev/mshv here
ok 3 - guest/b [kvm] # skip lower-case directive, with a reason
ok 4 - guest/b [mshv] # SKIP
T'

out=$(HVMM_TAP_SELFTEST=0 bash "$here/run.sh" "$dir" 2>&1)
rc=$?
n=0 bad=0
check() { # what, command...
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		bad=1
	fi
}
has() { grep -qF -- "$1" <<<"$out"; }
last=$(tail -n1 <<<"$out")
check "totals: 6 passed, 4 failed, 3 skipped (got: $last)" \
	test "$last" = "6 passed, 4 failed, 3 skipped"
check "run.sh exits non-zero when a test failed" test "$rc" -ne 0
check "a cmocka skip is listed with the reason printed before it" \
	has "[unit/test_cmocka] not ok 3 # SKIP test_needs_kvm -- no usable /dev/kvm on this host"
check "a TAP skip is listed with its reason" has "[guest] ok 2 - guest/a [mshv] # SKIP no /dev/mshv here"
check "a skip without a reason is a failure" \
	has "[unit/test_silent_skip] not ok 2 # SKIP test_b -- a skip that gives no reason"
check "a TAP skip without a reason is a failure" \
	has "[guest] ok 4 - guest/b [mshv] # SKIP -- a skip that gives no reason"
check "a program that dies without a failing line is a failure" \
	has "[unit/test_crash] exited with status 139 without a failing test line"
check "a failing line is listed" has "[unit/test_cmocka] not ok 2 - test_fails"
# A program that exits non-zero but has printed a failing line is not counted twice:
# test_cmocka exits 1 with one "not ok" and contributes one failure (in the 4 above).

# All passes and reasoned skips: exit 0.
rm -f "$dir/tests/unit/test_silent_skip" "$dir/tests/unit/test_crash"
prog "$dir/tests/unit/test_cmocka" 'printf "1..2\nok 1 - a\n# skip: reason\nnot ok 2 # SKIP b\n"'
prog "$dir/tests/guest-runner" 'printf "1..1\nok 1 - guest/a [kvm] # SKIP why\n"'
out=$(HVMM_TAP_SELFTEST=0 bash "$here/run.sh" "$dir" 2>&1)
rc=$?
last=$(tail -n1 <<<"$out")
check "only passes and skips: exit 0 (got $rc, $last)" test "$rc" -eq 0
check "only passes and skips: 2 passed, 0 failed, 2 skipped" \
	test "$last" = "2 passed, 0 failed, 2 skipped"
echo "1..$n"
exit $bad
