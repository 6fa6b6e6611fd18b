# Counts one test program's TAP output (tests/run.sh feeds it each program in turn).
#
# Input: the program's stdout+stderr.  Variables: name (shown in front of each listed line),
# rc (the program's exit status).  Output, one record per line:
#   COUNT <passed> <failed> <skipped>
#   SKIP <line with its reason>
#   FAIL <line>
#
# Two forms of skip are counted as skips:
#   ok N - name # SKIP reason          (TAP; the reason follows the directive)
#   not ok N # SKIP test_name          (cmocka 1.1.5, which prints only the test's name)
# cmocka's form carries no reason, so a test that skips prints a TAP comment
# "# skip: <reason>" just before it; the skip is listed with that reason.  A skip with no
# reason at all is counted as a failure: nobody could tell why it did not run.
# A program that exits non-zero without a failing test line counts as one failure
# (it crashed, or died before it reported).

function trim(s) { sub(/^[ \t]+/, "", s); sub(/[ \t]+$/, "", s); return s }

# The text after "# SKIP" (any case), or "" when the line is no skip.
function skip_text(line,    i) {
	i = match(toupper(line), /#[ \t]*SKIP/)
	if (!i) return ""
	return trim(substr(line, i + RLENGTH)) "\001"   # \001 marks "is a skip"
}

{
	line = $0
	sub(/\r$/, "", line)
	if (line ~ /^#[ \t]*skip:/) {
		reason = line
		sub(/^#[ \t]*skip:[ \t]*/, "", reason)
		pending_reason = reason
		next
	}
	if (line ~ /^(not )?ok [0-9]+/) {
		s = skip_text(line)
		if (s != "") {
			s = substr(s, 1, length(s) - 1)
			if (line ~ /^not ok/) {
				# cmocka's form: the name is in s, the reason in the comment before it.
				if (pending_reason != "") {
					skips[++ns] = line " -- " pending_reason
				} else {
					fails[++nf] = line " -- a skip that gives no reason"
				}
			} else if (s != "") {
				skips[++ns] = line
			} else {
				fails[++nf] = line " -- a skip that gives no reason"
			}
		} else if (line ~ /^ok/) {
			np++
		} else {
			fails[++nf] = line
		}
		pending_reason = ""
	}
}

END {
	if (rc != 0 && nf == 0)
		fails[++nf] = "exited with status " rc " without a failing test line"
	printf "COUNT %d %d %d\n", np, nf, ns
	for (i = 1; i <= ns; i++) printf "SKIP [%s] %s\n", name, skips[i]
	for (i = 1; i <= nf; i++) printf "FAIL [%s] %s\n", name, fails[i]
}
