#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run the hasync selftests (inside the test VM, as root) and print KTAP:
# one top-level case per test program, its own cases nested below it.
cd "$(dirname "$0")" || exit 1
progs=${*:-$(sed -n 's/^TEST_PROGS *:= *//p' Makefile)}
# On a kmemleak kernel (the debug variant) a leak check closes the run;
# forget what boot left behind so only the tests' own leaks count.
if [ -w /sys/kernel/debug/kmemleak ]; then
	echo clear >/sys/kernel/debug/kmemleak
	progs="$progs kmemleak_check.sh"
fi
set -- $progs

echo "TAP version 13"
echo "1..$#"
n=0
rc=0
for prog in "$@"; do
	n=$((n + 1))
	echo "# running $prog"
	out=$(mktemp)
	t0=$(date +%s)
	./"$prog" >"$out" 2>&1
	prc=$?
	sed 's/^/    /' "$out"
	rm -f "$out"
	# Each suite's share of make check's time budget.
	echo "# $prog: $(($(date +%s) - t0)) s"
	if [ $prc -eq 0 ]; then
		echo "ok $n $prog"
	else
		echo "not ok $n $prog # exit=$prc"
		rc=1
	fi
done
exit $rc
