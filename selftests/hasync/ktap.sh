# SPDX-License-Identifier: GPL-2.0
# Minimal KTAP output for the hasync shell selftests, after the kernel's
# tools/testing/selftests/kselftest/ktap_helpers.sh.  Source it, call
# ktap_plan N, then one ktap_ok/ktap_not_ok/ktap_skip per case, then
# ktap_finished (exits non-zero if any case failed).

KTAP_N=0
KTAP_PASS=0
KTAP_FAIL=0
KTAP_SKIP=0

ktap_header() { echo "TAP version 13"; }
ktap_plan() { echo "1..$1"; }
ktap_diag() { echo "# $*"; }
ktap_ok() { KTAP_N=$((KTAP_N + 1)); KTAP_PASS=$((KTAP_PASS + 1)); echo "ok $KTAP_N $*"; }
ktap_not_ok() { KTAP_N=$((KTAP_N + 1)); KTAP_FAIL=$((KTAP_FAIL + 1)); echo "not ok $KTAP_N $*"; }
ktap_skip() { KTAP_N=$((KTAP_N + 1)); KTAP_SKIP=$((KTAP_SKIP + 1)); echo "ok $KTAP_N $1 # SKIP ${2:-}"; }

# ktap_check NAME COMMAND...: one case that passes when COMMAND succeeds; its
# output is shown as diagnostics when it does not.
ktap_check() {
	_name=$1
	shift
	if _out=$("$@" 2>&1); then
		ktap_ok "$_name"
	else
		printf '%s\n' "$_out" | sed 's/^/# /'
		ktap_not_ok "$_name"
	fi
}

ktap_finished() {
	ktap_diag "totals: pass:$KTAP_PASS fail:$KTAP_FAIL skip:$KTAP_SKIP"
	[ "$KTAP_FAIL" -eq 0 ]
}
