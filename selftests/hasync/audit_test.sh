#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The periodic audit at work: it is on by default; when the kernel's copy
# of a record differs from what the primary and its standby hold (here the
# test build changes one MTU on its way to the kernel, behind the daemons'
# back: HASYNCD_FAULT=kernel-diverge), the audit finds the section by its
# digest and replays it from the primary, and kernel, primary and standby
# agree again with every confirmed change in place.
. "$(dirname "$0")/lib.sh"
CL_CHANNELS=${CL_CHANNELS:-"1:4 2:8"}
. "$(dirname "$0")/cluster.sh"

# Seconds for a whole audit round in this test (the default is 60).
PERIOD=2

cl_begin 5

default_on() {
	cl_conf 1 both
	out=$("$HASYNCD" --check-config "$CL/n1.toml") || return 1
	echo "$out" | grep '^audit_period'
	echo "$out" | grep -qx 'audit_period = 60'
}
ktap_check_out "the audit is on by default, every channel once a minute" default_on

# with_period N: node N's config audits every channel every $PERIOD s.
with_period() {
	sed -i "1i audit_period = $PERIOD" "$CL/n$1.toml"
}

pair() {
	cl_conf 1 both && with_period 1
	cl_conf 2 both && with_period 2
	cl_start 1 primary kernel-diverge@5
	cl_wait 1 "s['role']=='primary'" 30 || return 1
	cl_start 2 standby
	cl_wait_hot 2 60
}
ktap_check_out "a primary whose 5th kernel update is altered, a hot standby" pair

# digests_equal: the primary's, the standby's and the kernel's per-section
# digests, channel by channel.
digests_equal() {
	p=$(cl_field 1 "sorted((c['id'], c['digests']) for c in s['channels'])") || return 1
	s=$(cl_field 2 "sorted((c['id'], c['digests']) for c in s['channels'])") || return 1
	k=$(hasync -j channel show | python3 -c "
import json, sys
n = dict($p)
out = []
for c in json.load(sys.stdin):
    if c['id'] not in n:
        continue
    kd = {x['index']: x['digest'] for x in c.get('section', [])}
    out.append((c['id'], [kd.get(i, 0) for i in range(len(n.get(c['id'], [])))]))
print(sorted(out))
") || return 1
	[ "$p" = "$s" ] && [ "$p" = "$k" ]
}

diverge_and_repair() {
	in_ns 1 "$HASYNC_LOAD" --channels 1,2 --prefix a --keys 64 --count 40 --window 1 \
		--first-seq 1 --log "$CL/load.log" --quiet || return 1
	grep -m1 'fault injection: the kernel gets another MTU' "$CL/n1.log" | sed 's/^.*WARN *//' ||
		{ echo "# the fault did not fire"; return 1; }
	deadline=$(($(date +%s) + 10 * PERIOD + 10))
	until grep -q 'audit: kernel differs; repairing' "$CL/n1.log"; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "# no audit found the difference"; return 1; }
		sleep 0.5
	done
	grep -m1 'audit: kernel differs' "$CL/n1.log" | sed 's/^.*WARN *//'
	until digests_equal; do
		[ "$(date +%s)" -lt "$deadline" ] || { echo "# the copies still differ"; return 1; }
		sleep 0.5
	done
	cl_check 1
}
ktap_check_out "the audit finds the kernel's different section and repairs it" diverge_and_repair

quiet_after() {
	# A whole round more: the copies agree, so no further repair.
	n=$(grep -c 'audit: kernel differs' "$CL/n1.log")
	sleep $((PERIOD * 2))
	m=$(grep -c 'audit: kernel differs' "$CL/n1.log")
	echo "# audit mismatches: $n, then $m after two more rounds"
	[ "$n" = "$m" ] && digests_equal && cl_alive 1 && cl_alive 2
}
ktap_check_out "once repaired, later rounds find nothing" quiet_after

ktap_finished
