#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The Rust core's KUnit suites: loading hasync_kunit.ko runs them and KUnit
# prints KTAP to the kernel log; each of their cases becomes one case here.
# A kernel without KUnit, a module that does not load or a log without
# results fails, never passes by default.
. "$(dirname "$0")/lib.sh"

ko=${HASYNC_KUNIT_KO:-$(dirname "$HASYNC_KO")/hasync_kunit.ko}
ktap_header
fail_all() {
	ktap_plan 1
	ktap_not_ok "KUnit suites of hasync_kunit.ko ran: $*"
	exit 1
}
[ -e "$ko" ] || fail_all "missing $ko (run 'make module')"
! [ -d /sys/module/hasync_kunit ] || rmmod hasync_kunit
dmesg -C
insmod "$ko" || fail_all "insmod failed"
log=$(dmesg | sed 's/^\[ *[0-9.]*\] //')
rmmod hasync_kunit || fail_all "rmmod failed"
case "$log" in
*"kunit: disabled"*) fail_all "KUnit is disabled in this kernel (kunit.enable=0)" ;;
esac

# Nested KTAP: "# Subtest: SUITE" opens a suite, its cases are indented
# "ok N CASE" / "not ok N CASE"; the failure details come before them.
results=$(printf '%s\n' "$log" | awk '
	/^    # Subtest: / { suite = $3; next }
	/^    (not )?ok [0-9]+ / {
		status = ($1 == "not") ? "not_ok" : "ok"
		name = ($1 == "not") ? $4 : $3
		print status, suite "." name
	}')
n=$(printf '%s\n' "$results" | grep -c .)
[ "$n" -gt 0 ] || { printf '%s\n' "$log" | tail -20 | sed 's/^/# /'; fail_all "no results in the kernel log"; }
ktap_plan "$n"
printf '%s\n' "$results" | {
	while read -r status name; do
		if [ "$status" = ok ]; then
			ktap_ok "$name"
		else
			# What KUnit and the case printed before the verdict.
			printf '%s\n' "$log" | grep -B12 "^    not ok [0-9]* ${name#*.}\$" |
				grep -vE '^    (not )?ok |^    1\.\.' | sed 's/^ */# /' | tail -12
			ktap_not_ok "$name"
		fi
	done
	ktap_finished
}
